/* Parley reports page: a period and filters, figures loaded only on request (GET /api/v1/reports/...),
 * a table whose headers show each metric's definition on hover, a chart drawn with the vendored uPlot
 * (lines over days or weeks, bars per agent, team or intent) and, for live chat, the busiest-hours heat
 * map. Text always goes in as text nodes.
 */
(function () {
  "use strict";

  var GROUPS = {
    agents: ["agent", "team", "day", "week"],
    live: ["team", "inbox", "channel", "day", "week", "intent"],
    bot: ["intent", "team", "inbox", "channel", "day", "week"]
  };
  var DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var A = window.ParleyAdmin, api = A.api, el = A.el;  // admin_common.js
  var last = null;
  var plot = null;

  function $(id) { return document.getElementById(id); }
  function isoDay(d) { return d.toISOString().slice(0, 10); }

  function fillGroups() {
    var sel = $("report-group");
    sel.textContent = "";
    GROUPS[$("report-name").value].forEach(function (g) { sel.appendChild(el("option", { value: g }, g)); });
  }

  function params() {
    var form = new FormData($("report-form"));
    var q = new URLSearchParams();
    form.forEach(function (v, k) { if (k !== "report" && v !== "") q.set(k, v); });
    return q;
  }

  function flat(row) {
    var out = {};
    Object.keys(row).forEach(function (k) {
      var v = row[k];
      if (v && typeof v === "object") Object.keys(v).forEach(function (s) { out[k + "." + s] = v[s]; });
      else out[k] = v;
    });
    return out;
  }

  function columns(report) {
    var cols = [];
    report.rows.concat([report.totals]).forEach(function (r) {
      Object.keys(flat(r)).forEach(function (c) { if (c !== "key" && c !== "label" && cols.indexOf(c) < 0) cols.push(c); });
    });
    return cols;
  }

  function definition(report, col) {
    return report.definitions[col] || report.definitions[col.split(".")[0]] || "";
  }

  function drawTable(report, cols) {
    var table = $("report-table");
    table.textContent = "";
    var head = el("tr");
    head.appendChild(el("th", null, report.group_by));
    cols.forEach(function (c) { head.appendChild(el("th", { title: definition(report, c) }, c)); });
    table.appendChild(head);
    report.rows.concat([Object.assign({ label: "total" }, report.totals)]).forEach(function (r) {
      var f = flat(r), tr = el("tr");
      tr.appendChild(el("td", null, f.label));
      cols.forEach(function (c) { tr.appendChild(el("td", null, f[c] === null || f[c] === undefined ? "" : f[c])); });
      table.appendChild(tr);
    });
  }

  function drawChart() {
    var report = last;
    var box = $("report-plot");
    if (plot) { plot.destroy(); plot = null; }
    box.textContent = "";
    var metric = $("report-metric").value;
    if (!report || !metric || typeof window.uPlot !== "function" || !report.rows.length) return;
    var rows = report.rows;
    var ys = rows.map(function (r) { var v = flat(r)[metric]; return typeof v === "number" ? v : null; });
    var byTime = report.group_by === "day" || report.group_by === "week";
    var xs = byTime ? rows.map(function (r) { return Date.parse(r.key + "T00:00:00Z") / 1000; })
                    : rows.map(function (_, i) { return i; });
    var opts = {
      width: Math.min(900, box.clientWidth || 900), height: 280, title: metric,
      scales: { x: { time: byTime } },
      axes: [byTime ? {} : { values: function (_, ticks) { return ticks.map(function (t) { return rows[t] ? rows[t].label : ""; }); } }, {}],
      series: [{}, { label: metric, stroke: "#3b6fd8", fill: byTime ? "rgba(59,111,216,0.08)" : "rgba(59,111,216,0.6)",
                     paths: byTime ? undefined : window.uPlot.paths.bars({ size: [0.6, 60] }), points: { show: byTime } }]
    };
    plot = new window.uPlot(opts, [xs, ys], box);
  }

  function drawHeat(report) {
    var box = $("report-heat");
    box.textContent = "";
    var heat = report.busiest_hours;
    box.hidden = !heat;
    if (!heat) return;
    var max = 1;
    heat.counts.forEach(function (row) { row.forEach(function (n) { max = Math.max(max, n); }); });
    var table = el("table", { title: report.definitions.busiest_hours });
    var head = el("tr");
    head.appendChild(el("th", null, ""));
    for (var hr = 0; hr < 24; hr++) head.appendChild(el("th", null, hr));
    table.appendChild(head);
    heat.counts.forEach(function (row, d) {
      var tr = el("tr");
      tr.appendChild(el("th", null, DAYS[d]));
      row.forEach(function (n, hour) {
        var td = el("td", { title: DAYS[d] + " " + hour + ":00 — " + n }, n || "");
        td.style.background = "rgba(59,111,216," + (n / max).toFixed(2) + ")";
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    box.appendChild(el("h3", null, "Busiest hours (" + report.timezone + ")"));
    box.appendChild(table);
  }

  function show(report) {
    last = report;
    var cols = columns(report);
    drawTable(report, cols);
    // The chart starts on the report's main metric; a column picked for this same report stays picked.
    var sel = $("report-metric"), keep = sel.getAttribute("data-report") === report.report ? sel.value : "";
    sel.textContent = "";
    cols.forEach(function (c) { sel.appendChild(el("option", { value: c, title: definition(report, c) }, c)); });
    if (cols.indexOf(keep) >= 0) sel.value = keep;
    else if (cols.indexOf(report.main_metric) >= 0) sel.value = report.main_metric;
    sel.setAttribute("data-report", report.report);
    drawChart();
    drawHeat(report);
    $("report-meta").textContent = "From " + report.from + " to " + report.to + " (" + report.timezone + "), by " + report.group_by + ".";
    $("report-notes").textContent = (report.notes || []).join(" ");
  }

  function load(ev) {
    if (ev) ev.preventDefault();
    var name = $("report-name").value, q = params();
    $("report-csv").href = "/api/v1/reports/" + name + "?" + q.toString() + "&format=csv";
    $("report-meta").textContent = "Loading…";
    api("GET", "/reports/" + name + "?" + q.toString())
      .then(show, function (err) { $("report-meta").textContent = err.message || "Could not load the report."; })
      .catch(function () { $("report-meta").textContent = "Could not load the report."; });
  }

  function start() {
    var today = new Date();
    $("report-to").value = isoDay(today);
    $("report-from").value = isoDay(new Date(today.getTime() - 29 * 86400000));
    fillGroups();
    $("report-name").addEventListener("change", fillGroups);
    $("report-form").addEventListener("submit", load);
    $("report-metric").addEventListener("change", drawChart);
    api("GET", "/teams").then(function (body) {
      body.teams.forEach(function (t) { $("report-team").appendChild(el("option", { value: t.id }, t.name)); });
    }, function () {});  // no teams to pick: the report still loads for all
  }

  document.addEventListener("DOMContentLoaded", start);
})();
