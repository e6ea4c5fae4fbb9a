/* A registered model's form, V7's way: the kind first, then only that kind's fields; "Fetch classes" and
   "Test connection" run with the form's values and show their result here (a detector's boxes drawn
   on the test image). */
(function () {
  "use strict";

  // Fields of the "Model server" fieldset that only external (V7) model servers use.
  var HTTP_ONLY = ["classes_url", "image_transport", "threshold", "request_extra"];

  function row(name) {
    return document.querySelector(".form-row.field-" + name) || document.querySelector(".field-" + name);
  }

  function show(node, visible) {
    if (node) node.classList.toggle("hub-hidden", !visible);
  }

  function applyKind(kind) {
    document.querySelectorAll("fieldset[class*='hub-kind-']").forEach(function (fieldset) {
      show(fieldset, fieldset.classList.contains("hub-kind-" + kind));
    });
    HTTP_ONLY.forEach(function (name) { show(row(name), kind === "http"); });
    show(document.querySelector("[data-hub-tool='fetch-classes']"), kind === "http");
    var classes = document.getElementById("classes-group");
    show(classes, kind === "http");
  }

  function applyAuth(method) {
    show(row("auth_username"), method === "basic");
    show(row("auth_header_name"), method === "header");
    show(row("auth_secret"), method === "basic" || method === "header");
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
    if (kind) {
      applyKind(kind.value);
      kind.addEventListener("change", function () { applyKind(kind.value); });
    }
    if (auth) {
      applyAuth(auth.value);
      auth.addEventListener("change", function () { applyAuth(auth.value); });
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
