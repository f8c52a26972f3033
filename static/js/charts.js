// Charts drawn by the vendored Chart.js from data the page already holds: each
// <canvas data-chart="bar" data-source="ID"> reads the JSON in <script id="ID">
// ({"labels": [...], "series": [{"label": ..., "values": [...]}]}). The table next to
// each chart stays on the page, so nothing depends on JavaScript or on seeing the chart.
(function () {
  "use strict";
  var peso = new Intl.NumberFormat("en-PH", { style: "currency", currency: "PHP", maximumFractionDigits: 0 });
  var compact = new Intl.NumberFormat("en-PH", { notation: "compact", maximumFractionDigits: 1 });

  function draw(canvas) {
    if (canvas.dataset.drawn || !window.Chart) { return; }
    var source = document.getElementById(canvas.dataset.source);
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    canvas.dataset.drawn = "1";
    new window.Chart(canvas, {
      type: canvas.dataset.chart || "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series) {
          return { label: series.label, data: series.values.map(Number), backgroundColor: "#2f6fb0" };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: data.series.length > 1 },
          tooltip: { callbacks: { label: function (item) { return item.dataset.label + ": " + peso.format(item.raw); } } },
        },
        scales: { y: { beginAtZero: true, ticks: { callback: function (value) { return compact.format(value); } } } },
      },
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
})();
