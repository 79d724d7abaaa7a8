// Sensor chart with uPlot (served from node_modules): zoom from an hour to a year; the server picks
// raw readings or 1-minute / 1-hour rollups for the span.
(function () {
  var el = document.getElementById("chart");
  if (!el || typeof uPlot === "undefined") { return; }
  var sensor = el.dataset.sensor, unit = el.dataset.unit, zone = el.dataset.zone;
  var info = document.getElementById("chart-info");
  var plot = null, current = "1d";
  function width() { return Math.max(280, el.clientWidth - 4); }
  function tz(ts) { return uPlot.tzDate(new Date(ts * 1000), zone); }
  function draw(data) {
    var xs = data.ts.map(function (t) { return t / 1000; });
    var series = [{}, { label: unit || "value", stroke: "#0b6bcb", width: 2, spanGaps: false }];
    var rows = [xs, data.avg];
    if (data.resolution !== "raw") {
      series.push({ label: "min", stroke: "#9ab", width: 1 });
      series.push({ label: "max", stroke: "#d77", width: 1 });
      rows.push(data.min, data.max);
    }
    var span = xs.length ? xs[xs.length - 1] - xs[0] : 0;
    var fmt = uPlot.fmtDate(span > 2 * 86400 ? "{DD}/{MM}" : "{HH}:{mm}");  // 24-hour clock, day/month
    var axes = [{ values: function (u, splits) { return splits.map(function (v) { return fmt(tz(v)); }); } }, {}];
    var opts = { width: width(), height: 320, tzDate: tz, series: series, axes: axes, scales: { x: { time: true } } };
    if (plot) { plot.destroy(); }
    el.innerHTML = "";
    plot = new uPlot(opts, rows, el);
    info.textContent = data.ts.length + " points · " + (data.resolution === "raw" ? "raw readings" :
      data.resolution === "1m" ? "1-minute averages" : "1-hour averages");
  }
  function load(since) {
    current = since;
    document.querySelectorAll(".spans button").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.since === since ? "true" : "false");
    });
    fetch("/api/v1/sensors/" + encodeURIComponent(sensor) + "/readings?since=" + since, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) { if (d.error) { info.textContent = d.error.message; } else { draw(d); } });
  }
  document.querySelectorAll(".spans button").forEach(function (b) {
    b.addEventListener("click", function () { load(b.dataset.since); });
  });
  document.body.addEventListener("htmx:sseMessage", function (e) {
    if (e.detail && e.detail.type === "readings" && (current === "1h" || current === "6h")) { load(current); }
  });
  window.addEventListener("resize", function () { if (plot) { plot.setSize({ width: width(), height: 320 }); } });
  load(current);
})();
