/* Copy buttons and the traffic / version charts of the Hub's admin pages (Chart.js, served locally). */
(function () {
  "use strict";

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-hub-copy"));
    if (!target) return;
    var text = target.textContent.trim();
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { select(target); });
    } else {
      select(target);
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected to copy by hand */ }
    }
  }

  function select(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function timeLabel(iso) {
    var date = new Date(iso);
    return ("0" + date.getHours()).slice(-2) + ":" + ("0" + date.getMinutes()).slice(-2);
  }

  var common = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { display: true, labels: { boxWidth: 10, font: { size: 10 } } } },
    scales: { x: { ticks: { maxTicksLimit: 4, font: { size: 10 } } }, y: { beginAtZero: true, ticks: { font: { size: 10 } } } }
  };

  function trafficChart(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels.map(timeLabel),
        datasets: [
          { label: "requests", data: data.requests, backgroundColor: "#417690" },
          { label: "errors", data: data.errors, backgroundColor: "#ba2121" },
          { label: "failed tasks", data: data.task_errors, backgroundColor: "#e0a030" }
        ]
      },
      options: Object.assign({}, common, {
        // Counts: whole numbers on the axis, never "0.5 requests".
        scales: { x: common.scales.x, y: { beginAtZero: true, ticks: { precision: 0, font: { size: 10 } } } }
      })
    });
  }

  function latencyChart(canvas, data) {
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels.map(timeLabel),
        datasets: [
          { label: "p50 ms", data: data.p50, borderColor: "#417690", pointRadius: 2, spanGaps: true },
          { label: "p99 ms", data: data.p99, borderColor: "#ba2121", pointRadius: 2, spanGaps: true }
        ]
      },
      options: common
    });
  }

  function versionsChart(canvas, data) {
    var palette = ["#417690", "#ba2121", "#1a7f37", "#e0a030", "#7b3fa0", "#555555"];
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series, index) {
          // Ratios (every value within 0..1, e.g. accuracy) get their own axis beside counts and losses.
          var ratio = series.values.every(function (v) { return v === null || (v >= 0 && v <= 1); });
          return {
            label: series.name, data: series.values, borderColor: palette[index % palette.length],
            spanGaps: true, yAxisID: ratio ? "ratio" : "y"
          };
        })
      },
      options: Object.assign({}, common, {
        scales: {
          y: { beginAtZero: false, position: "left" },
          ratio: { min: 0, max: 1, position: "right", grid: { drawOnChartArea: false } }
        }
      })
    });
  }

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-hub-copy]").forEach(function (button) {
      button.addEventListener("click", function () { copy(button); });
    });
    if (typeof Chart === "undefined") return;
    var charts = readJson("hub-chart-data") || {};
    document.querySelectorAll("canvas[data-hub-chart]").forEach(function (canvas) {
      var kind = canvas.getAttribute("data-hub-chart");
      if (kind === "versions") {
        var versions = readJson("hub-version-data");
        if (versions && versions.labels.length) versionsChart(canvas, versions);
        return;
      }
      var data = charts[canvas.getAttribute("data-hub-model")];
      if (!data) return;
      (kind === "traffic" ? trafficChart : latencyChart)(canvas, data);
    });
  });
})();
