// Charts drawn by the vendored Chart.js from data the page already holds: each
// <canvas data-chart="bar" data-source="ID"> reads the JSON in <script id="ID">
// ({"labels": [...], "series": [{"label": ..., "values": [...]}], "format": "peso" | "percent"
// | "count" | "seconds"}). The table next to
// each chart stays on the page, so nothing depends on JavaScript or on seeing the chart.
(function () {
  "use strict";
  var peso = new Intl.NumberFormat("en-PH", { style: "currency", currency: "PHP", maximumFractionDigits: 0 });
  var compact = new Intl.NumberFormat("en-PH", { notation: "compact", maximumFractionDigits: 1 });
  var percent = new Intl.NumberFormat("en-PH", { style: "percent", maximumFractionDigits: 1 });
  var count = new Intl.NumberFormat("en-PH");
  var COLOURS = ["#2f6fb0", "#c0392b", "#7f8c8d", "#e67e22", "#8e44ad"];
  var FORMATS = {
    peso: { tooltip: function (v) { return peso.format(v); }, axis: function (v) { return compact.format(v); } },
    percent: { tooltip: function (v) { return percent.format(v); }, axis: function (v) { return percent.format(v); } },
    count: { tooltip: function (v) { return count.format(v); }, axis: function (v) { return compact.format(v); } },
    seconds: { tooltip: function (v) { return count.format(v) + " s"; }, axis: function (v) { return compact.format(v) + " s"; } },
  };

  function draw(canvas) {
    if (canvas.dataset.drawn || !window.Chart) { return; }
    var source = document.getElementById(canvas.dataset.source);
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var format = FORMATS[data.format] || FORMATS.peso;
    canvas.dataset.drawn = "1";
    new window.Chart(canvas, {
      type: canvas.dataset.chart || "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series, i) {
          return { label: series.label, data: series.values.map(Number), backgroundColor: COLOURS[i % COLOURS.length] };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: data.series.length > 1 },
          tooltip: { callbacks: { label: function (item) { return item.dataset.label + ": " + format.tooltip(item.raw); } } },
        },
        scales: { y: { beginAtZero: true, ticks: { callback: format.axis } } },
      },
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
})();
