/* A registered model's form, V7's way: the kind first, then only that kind's fields; "Fetch classes" and
   "Test connection" run with the form's values and show their result here (a detector's boxes drawn
   on the test image). */
(function () {
  "use strict";

  // Which auth method each credential field belongs to.
  var AUTH_FIELDS = { auth_username: ["basic"], auth_header_name: ["header"], auth_secret: ["basic", "header"] };

  function row(name) {
    return document.querySelector(".form-row.field-" + name) || document.querySelector(".field-" + name);
  }

  function show(node, visible) {
    if (node) node.classList.toggle("hub-hidden", !visible);
  }

  // Only the chosen kind's fields (kinds: per kind, its fields and whether it has classes to fetch, from
  // registry/admin/model.py kinds_on_page), and of the credential fields only the auth method's.
  function applyKind(kinds, kind, method) {
    var chosen = kinds[kind] || { fields: [], classes: false };
    document.querySelectorAll("fieldset[class*='hub-kind-']").forEach(function (fieldset) {
      show(fieldset, fieldset.classList.contains("hub-kind-" + kind));
    });
    Object.keys(kinds).forEach(function (other) {
      kinds[other].fields.forEach(function (name) {
        var used = chosen.fields.indexOf(name) >= 0;
        show(row(name), used && (!AUTH_FIELDS[name] || AUTH_FIELDS[name].indexOf(method) >= 0));
      });
    });
    show(document.querySelector("[data-hub-tool='fetch-classes']"), chosen.classes);
    show(document.getElementById("classes-group"), chosen.classes);
  }

  function drawTest(canvas, details) {
    var image = new Image();
    image.onload = function () {
      var scale = canvas.width / image.width;
      var context = canvas.getContext("2d");
      context.imageSmoothingEnabled = false;
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      context.lineWidth = 2;
      context.font = "12px sans-serif";
      (details.boxes || []).forEach(function (box) {
        context.strokeStyle = "#ba2121";
        context.strokeRect(box.x * scale, box.y * scale, box.w * scale, box.h * scale);
        var label = box.label + (typeof box.confidence === "number" ? " " + box.confidence.toFixed(2) : "");
        context.fillStyle = "#ba2121";
        context.fillRect(box.x * scale, Math.max(0, box.y * scale - 16), context.measureText(label).width + 6, 16);
        context.fillStyle = "#ffffff";
        context.fillText(label, box.x * scale + 3, Math.max(12, box.y * scale - 4));
      });
      canvas.setAttribute("aria-label", "The test image with " + (details.boxes || []).length + " box(es): " +
        (details.boxes || []).map(function (b) { return b.label; }).join(", "));
      show(canvas, true);
    };
    image.src = details.image;
  }

  function showClasses(table, classes) {
    var body = table.querySelector("tbody");
    body.textContent = "";
    classes.forEach(function (item) {
      var tr = document.createElement("tr");
      [item.name, item.type].forEach(function (text) {
        var td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    show(table, classes.length > 0);
  }

  function runTool(tools, form, tool, button) {
    var result = document.getElementById("hub-tool-result");
    var canvas = document.getElementById("hub-test-image");
    var table = document.getElementById("hub-tool-classes");
    var data = new FormData(form);
    data.set("_hub_object_id", tools.getAttribute("data-hub-object-id"));
    result.className = "hub-result";
    result.textContent = (tool === "fetch-classes" ? "Fetching classes" : "Testing") + "…";
    button.disabled = true;
    fetch(tools.getAttribute("data-hub-tools-url").replace("TOOL", tool), {
      method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json();
    }).then(function (body) {
      if (body.error) {
        var fields = body.fields ? Object.keys(body.fields).map(function (name) {
          return name + ": " + body.fields[name].join(" ");
        }).join("; ") : "";
        result.className = "hub-result hub-fail";
        result.textContent = body.error + (fields ? " " + fields : "");
        return;
      }
      result.className = "hub-result " + (body.ok ? "hub-ok" : "hub-fail");
      result.textContent = body.message;
      if (tool === "fetch-classes") {
        showClasses(table, body.classes || []);
        var flag = form.querySelector("[name='fetch_classes_on_save']");
        if (flag && body.ok && !tools.getAttribute("data-hub-object-id")) flag.value = "True";
      } else if (body.details && body.details.image) {
        drawTest(canvas, body.details);
      } else {
        show(canvas, false);
      }
    }).catch(function (error) {
      result.className = "hub-result hub-fail";
      result.textContent = "The Hub did not answer: " + error;
    }).finally(function () {
      button.disabled = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var tools = document.getElementById("hub-tools");
    if (!tools) return;
    var form = tools.closest("form");
    var kind = document.getElementById("id_kind");
    var auth = document.getElementById("id_auth_method");
    var kinds = JSON.parse((document.getElementById("hub-kinds") || {}).textContent || "{}");
    var refresh = function () { applyKind(kinds, kind ? kind.value : "", auth ? auth.value : "none"); };
    if (kind) {
      refresh();
      kind.addEventListener("change", refresh);
      if (auth) auth.addEventListener("change", refresh);
    }
    var slug = document.getElementById("id_slug");
    var base = tools.getAttribute("data-hub-url-base");
    if (slug && base) {
      var preview = document.createElement("div");
      preview.className = "help hub-quiet";
      preview.id = "hub-url-preview";
      preview.setAttribute("aria-live", "polite");
      var update = function () { preview.textContent = "Label Studio URL: " + base + "/ml/" + (slug.value || "<slug>"); };
      slug.insertAdjacentElement("afterend", preview);
      slug.addEventListener("input", update);
      update();
    }
    tools.querySelectorAll("[data-hub-tool]").forEach(function (button) {
      button.addEventListener("click", function () { runTool(tools, form, button.getAttribute("data-hub-tool"), button); });
    });
  });
})();
