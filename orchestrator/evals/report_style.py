"""The stylesheet and the small script inlined into ``report.html`` (no file, font or CDN fetched).

The script only adds conveniences — a playhead that follows the recording, click-to-seek on a
timeline, a "failures only" filter — and the report reads completely without it.
"""

from __future__ import annotations

__all__ = ["CSS", "SCRIPT"]

CSS = """
:root {
  --ink: #1f2328; --muted: #59636e; --faint: #818b98; --line: #d1d9e0; --panel: #ffffff;
  --page: #f6f8fa; --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9;
  --skip: #9a6700; --skip-bg: #fff8c5; --user: #0969da; --agent: #8250df; --tool: #bc4c00;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--page); color: var(--ink);
  font: 15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
    sans-serif;
}
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 64px; }
h1 { font-size: 26px; margin: 0; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 36px 0 12px; }
h3 { font-size: 16px; margin: 0; }
a { color: var(--user); text-decoration: none; }
a:hover { text-decoration: underline; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 13px; }
header.top { display: flex; align-items: center; gap: 18px; flex-wrap: wrap; }
header.top .meta { color: var(--muted); font-size: 13px; }
.verdict {
  font-weight: 700; font-size: 14px; padding: 6px 14px; border-radius: 999px; color: #fff;
}
.verdict.pass { background: var(--pass); } .verdict.fail { background: var(--fail); }
.verdict.skip { background: var(--skip); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px;
  margin-top: 20px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 12px 16px; }
.card .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: 0.04em; }
.card .value.pass { color: var(--pass); } .card .value.fail { color: var(--fail); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 18px; }
table.results { width: 100%; border-collapse: collapse; background: var(--panel);
  border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
table.results th { text-align: left; font-size: 12px; text-transform: uppercase;
  letter-spacing: 0.04em; color: var(--muted); background: #f6f8fa; padding: 10px 14px;
  border-bottom: 1px solid var(--line); }
table.results td { padding: 10px 14px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
table.results tr:last-child td { border-bottom: 0; }
table.results tr.fail td:first-child { box-shadow: inset 4px 0 0 var(--fail); }
table.results tr.pass td:first-child { box-shadow: inset 4px 0 0 var(--pass); }
table.results tr.skip td:first-child { box-shadow: inset 4px 0 0 var(--skip); }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.pill { display: inline-block; font-weight: 700; font-size: 12px; letter-spacing: 0.03em;
  padding: 2px 10px; border-radius: 999px; }
.pill.pass { color: var(--pass); background: var(--pass-bg); }
.pill.fail { color: var(--fail); background: var(--fail-bg); }
.pill.skip { color: var(--skip); background: var(--skip-bg); }
.pill.uncertain, .pill.error { color: var(--fail); background: var(--skip-bg); }
.rate { display: flex; align-items: center; gap: 8px; }
.rate .bar { width: 70px; height: 6px; border-radius: 3px; background: var(--fail-bg); }
.rate .bar span { display: block; height: 100%; border-radius: 3px; background: var(--pass); }
.kinds { margin: 0; padding: 0; list-style: none; font-size: 13px; }
.kinds li { color: var(--fail); } .kinds li.skipped { color: var(--skip); }
.desc { color: var(--muted); font-size: 13px; }
.chart { width: 100%; height: auto; display: block; }
.chart text { font-size: 12px; fill: var(--muted); }
.histogram .grid { stroke: #eaeef2; }
.histogram .bar { fill: #54aeff; } .histogram .bar:hover { fill: var(--user); }
.histogram .axis-label { fill: var(--faint); }
.histogram g line { stroke-width: 2; stroke-dasharray: 5 4; }
.mark-p50 line { stroke: var(--pass); } .mark-p50 text { fill: var(--pass); font-weight: 600; }
.mark-p95 line { stroke: var(--agent); } .mark-p95 text { fill: var(--agent); font-weight: 600; }
.mark-budget line { stroke: var(--fail); } .mark-budget text { fill: var(--fail); }
section.scenario { margin-top: 28px; }
section.scenario > header { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap;
  margin-bottom: 10px; }
details.run { background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  margin-bottom: 12px; }
details.run.fail { border-color: #ffcecb; }
details.run > summary { cursor: pointer; padding: 12px 16px; display: flex; gap: 12px;
  align-items: center; list-style: none; flex-wrap: wrap; }
details.run > summary::-webkit-details-marker { display: none; }
details.run > summary::before { content: "▸"; color: var(--faint); }
details.run[open] > summary::before { content: "▾"; }
details.run > summary .facts { color: var(--muted); font-size: 13px; }
.run-body { padding: 0 16px 16px; }
.timeline .lane { fill: #f6f8fa; }
.timeline .wave { fill: none; stroke-linecap: butt; }
.timeline .wave-user { stroke: var(--user); } .timeline .wave-agent { stroke: var(--agent); }
.timeline .lane-label { font-size: 11px; font-weight: 600; fill: var(--faint);
  text-transform: uppercase; paint-order: stroke; stroke: #fff; stroke-width: 3px;
  stroke-linejoin: round; pointer-events: none; }
.timeline .turn rect { fill: rgba(9, 105, 218, 0.07); }
.timeline .turn text { font-size: 11px; font-weight: 700; fill: var(--user); }
.timeline .latency line { stroke: var(--pass); stroke-width: 1.5; }
.timeline .ev line { stroke-width: 1.2; stroke-dasharray: 3 2; }
.timeline .ev-user line { stroke: var(--user); } .timeline .ev-agent line { stroke: var(--agent); }
.timeline .ev-interrupt line { stroke: var(--fail); stroke-width: 2; stroke-dasharray: none; }
.timeline .ev-interrupt path { fill: var(--fail); }
.timeline .ev-error circle { fill: var(--fail); }
.timeline .ev-tool path { stroke: #fff; stroke-width: 1.5; }
.timeline .ev-tool.ok path { fill: var(--tool); }
.timeline .ev-tool.failed path { fill: var(--fail); }
.timeline .ev:hover line { stroke-width: 3; } .timeline .ev-tool:hover path { stroke: var(--ink); }
.timeline .axis { stroke: var(--line); }
.timeline .playhead { stroke: var(--ink); stroke-width: 1.5; }
.timeline .empty { font-size: 14px; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; font-size: 12px; color: var(--muted);
  margin: 6px 0 10px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
audio { width: 100%; height: 36px; margin-top: 8px; }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 18px;
  margin-top: 14px; }
@media (max-width: 860px) { .grid2 { grid-template-columns: minmax(0, 1fr); } }
ul.checks { list-style: none; margin: 0; padding: 0; }
ul.checks li { padding: 6px 0; border-bottom: 1px solid #eaeef2; font-size: 13px; }
ul.checks li:last-child { border-bottom: 0; }
ul.checks .name { font-weight: 600; }
ul.checks .detail { color: var(--muted); display: block; overflow-wrap: anywhere; }
.transcript { display: flex; flex-direction: column; gap: 8px; }
.msg { max-width: 88%; padding: 8px 12px; border-radius: 12px; font-size: 14px;
  overflow-wrap: anywhere; }
.msg .who { font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em;
  display: block; margin-bottom: 2px; }
.msg.user { align-self: flex-start; background: #ddf4ff; }
.msg.user .who { color: var(--user); }
.msg.agent { align-self: flex-end; background: #fbefff; }
.msg.agent .who { color: var(--agent); }
.msg .heard { display: block; color: var(--muted); font-size: 12px; margin-top: 2px; }
.msg.tool { align-self: flex-end; background: #fff1e5; font-size: 13px; }
.msg.tool .who { color: var(--tool); }
.msg.tool.failed { background: var(--fail-bg); } .msg.tool.failed .who { color: var(--fail); }
.msg.wait { align-self: center; background: transparent; color: var(--faint); font-size: 12px; }
.chip { display: inline-block; font-size: 11px; color: var(--muted); border: 1px solid var(--line);
  border-radius: 999px; padding: 0 7px; margin-left: 6px; font-weight: 500; }
.error-box { background: var(--fail-bg); color: var(--fail); border-radius: 8px; padding: 8px 12px;
  font-size: 13px; margin-top: 10px; }
.toolbar { display: flex; justify-content: flex-end; gap: 8px; }
.toolbar label { font-size: 13px; color: var(--muted); cursor: pointer; }
body.failures-only details.run.pass, body.failures-only section.scenario.pass,
body.failures-only table.results tr.pass { display: none; }
footer { margin-top: 40px; color: var(--faint); font-size: 12px; text-align: center; }
"""

SCRIPT = """
(function () {
  document.querySelectorAll("details.run").forEach(function (run) {
    var audio = run.querySelector("audio");
    var svg = run.querySelector("svg.timeline");
    if (!audio || !svg) return;
    var head = svg.querySelector(".playhead");
    var total = parseFloat(svg.getAttribute("data-duration-ms")) / 1000;
    var width = svg.viewBox.baseVal.width;
    audio.addEventListener("timeupdate", function () {
      var x = Math.min(width, audio.currentTime / total * width);
      head.setAttribute("x1", x); head.setAttribute("x2", x);
      head.setAttribute("visibility", "visible");
    });
    svg.addEventListener("click", function (event) {
      var box = svg.getBoundingClientRect();
      audio.currentTime = (event.clientX - box.left) / box.width * total;
      audio.play();
    });
    svg.style.cursor = "pointer";
  });
  var toggle = document.getElementById("failures-only");
  if (toggle) toggle.addEventListener("change", function () {
    document.body.classList.toggle("failures-only", toggle.checked);
  });
  document.body.setAttribute("data-ready", "1");
})();
"""
