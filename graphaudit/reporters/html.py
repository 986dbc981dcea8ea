"""``--format html``: one self-contained page per run: each artifact's findings beside its graph, drawn by scope."""

# The page loads nothing: styles and script are inline, and a Content-Security-Policy allows only
# those two blocks (by hash), so nothing in the page can fetch a URL or run injected script. Text
# from the artifact reaches the page in two ways only, both through reporters/escaping.py:
# `html_text` for the findings' markup, and `script_json` for the drawing's data, which the script
# puts on screen with `textContent` only.

from __future__ import annotations

import base64
import hashlib
from typing import IO, Any

from graphaudit.findings import ArtifactResult, Finding, Report
from graphaudit.reporters.base import TOOL, Reporter, docs_url
from graphaudit.reporters.escaping import html_lines, html_text, script_json


def view_keys(findings) -> list[str]:
    """How a drawing names the findings it marks: a baseline may hide some after it is drawn."""
    return [f.fingerprint_material() + "\x1f" + f.message for f in findings]


def build_view(artifact, facts, findings) -> dict:
    """The engine's ``view`` hook: the drawing of one artifact with its findings marked."""
    from graphaudit.reporters.graphview import build_view as draw

    view = draw(artifact, facts, findings)
    view["keys"] = view_keys(findings)
    return view


class HtmlReporter(Reporter):
    def __init__(self, stream: IO[str], *, title: str = "graphaudit report", **kw: Any) -> None:
        super().__init__(stream, **kw)
        self.title = title
        self.sections: list[str] = []
        self.views: list[str] = []

    def handle(self, result: ArtifactResult) -> None:
        k = len(self.sections)
        self.sections.append(artifact_section(k, result))
        view = _remap(result)
        if view is not None:
            self.views.append(f'<script type="application/json" id="view-{k}">{script_json(view)}</script>')

    def stop(self, report: Report) -> None:
        self.stream.write(page(self.title, summary_line(report), self.sections, self.views))


def _remap(result: ArtifactResult) -> dict | None:
    """The result's drawing, its marks renumbered to the findings the result still shows."""
    view = result.view
    if not isinstance(view, dict) or "graphs" not in view:
        return None
    keys = view.get("keys")
    if keys is None:
        return view
    position = {key: k for k, key in enumerate(keys)}
    now = [position.get(key, -1) for key in view_keys(result.findings)]
    if now == list(range(len(keys))):
        return view
    new_of = {old: new for new, old in enumerate(now) if old >= 0}
    graphs = []
    for g in view["graphs"]:
        layouts = {}
        for sid, lay in g["layouts"].items():
            items = [dict(it, f=[new_of[f] for f in it["f"] if f in new_of]) for it in lay["items"]]
            layouts[sid] = dict(lay, items=items)
        homes = [g["homes"][old] if old >= 0 else 0 for old in now]
        counts = [g["highlighted"][old] if old >= 0 else 0 for old in now]
        graphs.append(dict(g, layouts=layouts, homes=homes, highlighted=counts))
    return dict(view, graphs=graphs)


def summary_line(report: Report) -> str:
    counts = report.counts()
    total = sum(counts.values())
    n = len(report.artifacts)
    parts = [f"{n} artifact{'s' if n != 1 else ''} checked"]
    if total:
        parts.append(f"{total} finding{'s' if total != 1 else ''} ("
                     + ", ".join(f"{c} {sev}" for sev, c in counts.items() if c) + ")")
    else:
        parts.append("no findings")
    if report.errors:
        parts.append(f"{len(report.errors)} unreadable")
    for declaration, c in report.silenced:
        parts.append(f"{c} silenced by {declaration}")
    if report.baseline_hidden:
        parts.append(f"{report.baseline_hidden} hidden by the baseline")
    return html_text(", ".join(parts))


def ticks(text: str) -> str:
    """Escaped text with `identifiers` set in ``<code>``, as the console shows them in bold."""
    parts = html_text(text).split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: show them as they are
        return html_text(text)
    return "".join(f"<code>{p}</code>" if k % 2 else p for k, p in enumerate(parts))


def finding_item(k: int, f: Finding) -> str:
    loc = f.location
    where = " ".join(p for p in ((f"in `{loc.graph}`" if loc.graph not in ("", "graph") else ""),
                                 (f"`{loc.scope}`" if loc.scope else "")) if p)
    evidence = "".join(f"<li>{ticks(e)}</li>" for e in f.evidence)
    fix = ""
    if f.fixup.title:
        fix = f'<p class="fix"><b>fix:</b> {ticks(f.fixup.title)}</p>'
        if f.fixup.detail:
            fix += f"<p>{ticks(f.fixup.detail)}</p>"
        if f.fixup.code:
            fix += f"<details><summary>fix-up code</summary><pre>{html_lines(f.fixup.code.rstrip())}</pre></details>"
    named = ""
    if loc.variables or loc.nodes:
        shown = [*loc.nodes[:6], *loc.variables[:6]]
        more = len(loc.nodes) + len(loc.variables) - len(shown)
        named = ('<p class="names">at ' + ", ".join(f"<code>{html_text(x)}</code>" for x in shown)
                 + (f" and {more:,} more" if more > 0 else "") + "</p>")
    return (f'<li class="finding sev-{f.severity.value}" data-f="{k}" tabindex="0">'
            f'<div class="head"><a class="code" href="{html_text(docs_url(f.code))}">{html_text(f.code)}</a> '
            f'<span class="sev">{f.severity.value}</span> <span class="conf">{f.confidence.value} confidence</span> '
            f'<span class="rule">{html_text(f.name)}</span> <span class="where">{ticks(where)}</span></div>'
            f'<p class="msg">{ticks(f.message)}</p>'
            f'<div class="evidence"><span class="marked"></span>{named}'
            f'<h4>evidence</h4><ul>{evidence}</ul>{fix}</div></li>')


def artifact_section(k: int, result: ArtifactResult, extra: str = "") -> str:
    s = result.stats
    head = (f'<h2>{html_text(result.path)}</h2><p class="meta">{html_text(result.format or "unknown format")}, '
            f"{s.nodes:,} nodes, {s.variables:,} variables"
            + (f", {result.hidden} hidden by the baseline" if result.hidden else "") + "</p>")
    notes = ""
    if result.error:
        notes += f'<p class="error"><b>error:</b> {ticks(result.error)}</p>'
    if result.warning:
        notes += f'<p class="warning"><b>warning:</b> {ticks(result.warning)}</p>'
    notes += "".join(f'<p class="note"><b>note:</b> {ticks(n)}</p>' for n in result.notes)
    if result.findings:
        listing = '<ol class="findings">' + "".join(finding_item(j, f) for j, f in enumerate(result.findings)) + "</ol>"
    elif result.error or result.warning:
        listing = ""
    else:
        listing = '<p class="clean">no findings</p>'
    view = result.view
    if isinstance(view, dict) and "graphs" in view and view["graphs"]:
        graph = (f'<div class="graph" data-view="view-{k}"><div class="bar"><span class="tabs"></span>'
                 '<nav class="crumbs"></nav><span class="tools"><button type="button" class="fit">fit</button>'
                 '</span></div><svg class="canvas" role="img" aria-label="graph by scope"></svg>'
                 '<p class="legend"><span class="k live">live path</span> <span class="k dead">reached by no root</span>'
                 ' <span class="k hl">selected finding</span> <span class="k other">other findings</span>'
                 ' <span class="k box">scope: click to open</span></p><p class="cap"></p>'
                 '<div class="details"></div></div>')
    elif isinstance(view, dict) and view.get("error"):
        graph = f'<div class="graph"><p class="cap">{html_text(view["error"])}</p></div>'
    else:
        graph = ""
    return (f'<section class="artifact" id="artifact-{k}">{head}{notes}'
            f'<div class="split"><div class="side">{extra}{listing}</div>{graph}</div></section>')


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page(title: str, summary: str, sections: list[str], views: list[str]) -> str:
    csp = (f"default-src 'none'; style-src {_hash(CSS)}; script-src {_hash(SCRIPT)}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html_text(title)}</title><style>{CSS}</style></head><body>"
            f'<header><h1>{html_text(title)}</h1><p class="summary">{summary}</p>'
            f'<p class="tool">{html_text(TOOL["name"])} {html_text(TOOL["version"])}</p></header><main>'
            + "".join(sections) + "</main>" + "".join(views) + f"<script>{SCRIPT}</script></body></html>\n")


def _squeeze(text: str) -> str:
    """Leading indentation and blank lines out: the page is a few kB smaller and reads the same."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


CSS = _squeeze("""
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --live: #1a7f37; --dead: #8c959f;
  --hl: #cf222e; --other: #bf8700; --bg: #ffffff; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 10px 18px; border-bottom: 1px solid var(--line); display: flex; gap: 18px; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 18px; margin: 0; }
header .summary { margin: 0; font-weight: 600; }
header .tool { margin: 0 0 0 auto; color: var(--muted); font-size: 12px; }
main { padding: 0 18px 24px; }
section.artifact { border-bottom: 1px solid var(--line); padding: 8px 0 16px; }
h2 { font-size: 15px; margin: 6px 0 0; word-break: break-all; }
h4 { margin: 6px 0 2px; font-size: 12px; text-transform: uppercase; color: var(--muted); }
.meta { margin: 0 0 6px; color: var(--muted); }
.error { color: var(--hl); } .warning { color: var(--other); } .note { color: var(--muted); margin: 2px 0; }
.clean { color: var(--live); font-weight: 600; }
.split { display: flex; gap: 14px; align-items: flex-start; }
.side { flex: 0 0 34%; max-width: 34%; max-height: 640px; overflow: auto; }
ol.findings { list-style: none; padding: 0; margin: 0; }
.finding { border: 1px solid var(--line); border-left: 4px solid var(--other); border-radius: 6px; padding: 6px 8px; margin: 0 0 8px; cursor: pointer; background: var(--bg); }
.finding.sev-error { border-left-color: var(--hl); } .finding.sev-info { border-left-color: var(--muted); }
.finding.selected { background: var(--panel); box-shadow: 0 0 0 2px var(--hl) inset; }
.finding .head { font-size: 12px; display: flex; gap: 6px; flex-wrap: wrap; align-items: baseline; }
.finding .code { font-weight: 700; color: var(--fg); }
.finding .sev { font-weight: 600; } .sev-error .sev { color: var(--hl); } .sev-warning .sev { color: var(--other); }
.finding .conf, .finding .rule, .finding .where { color: var(--muted); }
.finding .msg { margin: 4px 0 0; }
.finding .evidence { display: none; font-size: 13px; }
.finding.selected .evidence { display: block; }
.evidence ul { margin: 0; padding-left: 18px; } .evidence .marked { color: var(--muted); font-size: 12px; }
.names { margin: 4px 0; font-size: 12px; word-break: break-all; }
.fix { margin: 6px 0 0; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--panel); padding: 0 3px; border-radius: 3px; }
pre { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--panel); padding: 6px; overflow: auto; }
.graph { flex: 1 1 auto; min-width: 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px; }
.bar { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; font-size: 13px; }
.tabs button.on { font-weight: 700; }
.crumbs button { border: 0; background: none; color: #0969da; cursor: pointer; padding: 0 2px; font: inherit; }
.crumbs span { color: var(--muted); }
.tools { margin-left: auto; }
svg.canvas { display: block; width: 100%; height: max(420px, calc(100vh - 230px)); background: #fbfcfd; cursor: grab; user-select: none; }
svg.canvas .item { cursor: pointer; }
svg.canvas .item rect { fill: #ffffff; stroke: var(--dead); stroke-width: 1.2; stroke-dasharray: 4 3; }
svg.canvas .item.live rect { stroke: var(--live); stroke-dasharray: none; stroke-width: 1.6; }
svg.canvas .item.scope rect { fill: #eef2f6; }
svg.canvas .item.more rect { fill: #f6f8fa; stroke-dasharray: 1 3; }
svg.canvas .item.other rect { fill: #fff8c5; stroke: var(--other); }
svg.canvas .item.hl rect { fill: #ffebe9; stroke: var(--hl); stroke-width: 2.4; stroke-dasharray: none; }
svg.canvas .item.picked rect { stroke: #0969da; stroke-width: 3; }
svg.canvas text { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; fill: var(--fg); pointer-events: none; }
svg.canvas text.sub { fill: var(--muted); font-size: 10.5px; }
svg.canvas .edge { fill: none; stroke: #afb8c1; stroke-width: 1; }
svg.canvas .edge.live { stroke: var(--live); stroke-width: 1.8; }
svg.canvas marker path { fill: #8c959f; }
.legend { margin: 4px 0 0; font-size: 12px; color: var(--muted); display: flex; gap: 12px; flex-wrap: wrap; }
.legend .k::before { content: ""; display: inline-block; width: 14px; height: 9px; margin-right: 4px; border: 1.5px solid; vertical-align: -1px; }
.legend .live::before { border-color: var(--live); } .legend .dead::before { border-color: var(--dead); border-style: dashed; }
.legend .hl::before { border-color: var(--hl); background: #ffebe9; } .legend .other::before { border-color: var(--other); background: #fff8c5; }
.legend .box::before { border-color: var(--dead); background: #eef2f6; }
.cap { margin: 2px 0 0; font-size: 12px; color: var(--muted); }
.details { font-size: 13px; margin-top: 4px; min-height: 1.5em; word-break: break-all; }
.details dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 10px; margin: 0; }
.details dt, dl.inspect dt { color: var(--muted); } .details dd, dl.inspect dd { margin: 0; }
dl.inspect { display: grid; grid-template-columns: max-content 1fr; gap: 0 10px; margin: 0 0 8px; word-break: break-all; }
@media (max-width: 900px) { .split { flex-direction: column; } .side { max-width: none; } }
""")

SCRIPT = _squeeze(r"""
(function () {
"use strict";
var NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, parent) {
  var e = document.createElementNS(NS, tag);
  for (var k in attrs) { e.setAttribute(k, attrs[k]); }
  if (parent) { parent.appendChild(e); }
  return e;
}
function html(tag, text, parent, cls) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) { e.textContent = text; }
  if (cls) { e.className = cls; }
  if (parent) { parent.appendChild(e); }
  return e;
}
function fmt(n) { return Number(n).toLocaleString("en-US"); }
var serial = 0;
function setup(box) {
  var data = JSON.parse(document.getElementById(box.getAttribute("data-view")).textContent);
  var section = box.closest("section");
  var cards = section.querySelectorAll("li.finding");
  var canvas = box.querySelector("svg.canvas"), crumbs = box.querySelector(".crumbs");
  var details = box.querySelector(".details"), cap = box.querySelector(".cap"), tabs = box.querySelector(".tabs");
  var marker = "arrow-" + (serial++);
  var st = { g: 0, scope: "0", f: cards.length ? 0 : -1, vb: null };
  function graph() { return data.graphs[st.g]; }
  function setView(vb) {
    st.vb = vb;
    canvas.setAttribute("viewBox", vb.join(" "));
  }
  function fit() {
    var lay = graph().layouts[st.scope];
    setView([-16, -16, Math.max(lay.w + 32, 240), Math.max(lay.h + 32, 120)]);
  }
  function classes(it) {
    var c = ["item", it.k === "s" ? "scope" : (it.k === "m" ? "more" : "op")];
    if (it.v === 1) { c.push("live"); }
    if (it.f.length) { c.push(it.f.indexOf(st.f) >= 0 ? "hl" : "other"); }
    return c.join(" ");
  }
  function draw(scope) {
    var g = graph();
    if (!g.layouts[scope]) { scope = String(g.root); }
    st.scope = scope;
    var lay = g.layouts[scope];
    while (canvas.firstChild) { canvas.removeChild(canvas.firstChild); }
    var defs = svg("defs", {}, canvas);
    var m = svg("marker", { id: marker, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7",
      markerHeight: "7", orient: "auto-start-reverse" }, defs);
    svg("path", { d: "M0,0 L10,5 L0,10 z" }, m);
    lay.edges.forEach(function (e) {
      var p = e[4], d = "M" + p[0] + "," + p[1];
      for (var i = 2; i < p.length; i += 2) { d += " L" + p[i] + "," + p[i + 1]; }
      var path = svg("path", { d: d, "class": "edge" + (e[3] ? " live" : ""), "marker-end": "url(#" + marker + ")" }, canvas);
      if (e[2] > 1) { path.setAttribute("stroke-width", String(Math.min(1 + Math.log2(e[2]), 6))); }
      svg("title", {}, path).textContent = fmt(e[2]) + " edge" + (e[2] > 1 ? "s" : "");
    });
    lay.items.forEach(function (it, i) {
      var gr = svg("g", { "class": classes(it), transform: "translate(" + it.x + "," + it.y + ")", "data-i": String(i),
        "data-name": it.p, tabindex: "0" }, canvas);
      svg("rect", { width: String(it.w), height: String(it.h), rx: it.k === "n" ? "12" : "4" }, gr);
      svg("text", { x: "9", y: "15" }, gr).textContent = it.l;
      svg("text", { x: "9", y: it.k === "n" ? "28" : "31", "class": "sub" }, gr).textContent =
        it.t + (it.k === "s" ? (it.d ? "  \u25b8" : "  (not drawn)") : "");
      svg("title", {}, gr).textContent = it.p + (it.var ? "\n" + it.var : "");
      gr.addEventListener("click", function (ev) { ev.stopPropagation(); pick(it, gr); });
      gr.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { pick(it, gr); } });
    });
    fit();
    crumbsFor(g, scope);
    var folded = lay.folded ? ", " + fmt(lay.folded) + " folded into \u201cmore\u201d" : "";
    cap.textContent = "this scope draws " + fmt(lay.items.length) + " boxes" + folded + ". " + summary(g);
  }
  function summary(g) {
    var s = "Graph `" + g.name + "`: " + fmt(g.nodes) + " nodes in " + fmt(g.scopes) + " scopes; " +
      fmt(Math.max(g.drawn_scopes - 1, 0)) + " can be opened";
    if (g.collapsed_scopes) { s += ", " + fmt(g.collapsed_scopes) + " stay collapsed (report cap)"; }
    if (g.folded_ops) { s += ", " + fmt(g.folded_ops) + " ops folded into \u201cmore\u201d boxes"; }
    s += ". Data edges only; edges between scopes are bundled.";
    if (!g.live_known) { s += " The live path is not known for this artifact."; }
    if (data.graphs_left_out) { s += " " + fmt(data.graphs_left_out) + " more graphs are not drawn."; }
    return s;
  }
  function crumbsFor(g, scope) {
    while (crumbs.firstChild) { crumbs.removeChild(crumbs.firstChild); }
    var chain = [], k = Number(scope);
    while (k >= 0) { chain.unshift(k); k = g.layouts[String(k)] ? g.layouts[String(k)].up : -1; }
    chain.forEach(function (k, i) {
      if (i) { html("span", " / ", crumbs); }
      var lay = g.layouts[String(k)];
      var b = html("button", k === g.root ? "(top)" : lay.path.split("/").pop(), crumbs);
      b.type = "button";
      b.addEventListener("click", function () { draw(String(k)); });
    });
  }
  function pick(it, gr) {
    canvas.querySelectorAll(".picked").forEach(function (e) { e.classList.remove("picked"); });
    gr.classList.add("picked");
    if (it.k === "s" && it.d) { draw(String(it.r)); }
    while (details.firstChild) { details.removeChild(details.firstChild); }
    var dl = html("dl", null, details);
    function row(k, v) { html("dt", k, dl); html("dd", v, dl); }
    row(it.k === "n" ? "op" : "scope", it.p);
    row(it.k === "n" ? "type" : "holds", it.t);
    if (it.var) { row("variable", it.var); }
    if (it.v !== null) { row("live", it.v ? "on the path from the roots" : "no root reaches it"); }
    if (it.k === "s" && !it.d) { row("not drawn", "the report's cap on boxes was reached; audit a narrower --output or read the JSON"); }
    if (it.k === "m") { row("folded", "this scope has more members than one drawing shows; those with findings and on the live path are drawn first"); }
    it.f.forEach(function (f) {
      var card = cards[f];
      if (card) { row("finding", card.querySelector(".code").textContent + " " + card.querySelector(".msg").textContent); }
    });
  }
  function select(f) {
    st.f = f;
    cards.forEach(function (c, i) { c.classList.toggle("selected", i === f); });
    var g = graph();
    if (f >= 0 && g.homes[f] !== undefined) { draw(String(g.homes[f])); } else { draw(st.scope); }
    if (f >= 0) {
      var mark = cards[f].querySelector(".marked");
      mark.textContent = g.highlighted[f] ? "marked in red on the graph: " + fmt(g.highlighted[f]) + " nodes" +
        " (" + canvas.querySelectorAll(".item.hl").length + " boxes in this scope)" : "nothing of this finding is in graph `" + g.name + "`";
    }
  }
  cards.forEach(function (c, i) {
    c.addEventListener("click", function (ev) { if (ev.target.closest("a, details")) { return; } select(i); });
    c.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { select(i); } });
  });
  if (data.graphs.length > 1) {
    data.graphs.forEach(function (g, i) {
      var b = html("button", g.name, tabs);
      b.type = "button";
      if (i === 0) { b.className = "on"; }
      b.addEventListener("click", function () {
        st.g = i;
        tabs.querySelectorAll("button").forEach(function (x, j) { x.className = j === i ? "on" : ""; });
        select(st.f);
      });
    });
  }
  box.querySelector("button.fit").addEventListener("click", fit);
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = canvas.getBoundingClientRect(), vb = st.vb.slice(), z = ev.deltaY > 0 ? 1.2 : 1 / 1.2;
    var s = Math.max(vb[2] / r.width, vb[3] / r.height);
    var px = vb[0] + (ev.clientX - r.left - (r.width - vb[2] / s) / 2) * s;
    var py = vb[1] + (ev.clientY - r.top - (r.height - vb[3] / s) / 2) * s;
    setView([px - (px - vb[0]) * z, py - (py - vb[1]) * z, vb[2] * z, vb[3] * z]);
  }, { passive: false });
  var drag = null;
  canvas.addEventListener("mousedown", function (ev) { drag = [ev.clientX, ev.clientY, st.vb.slice()]; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) { return; }
    var r = canvas.getBoundingClientRect(), vb = drag[2];
    var s = Math.max(vb[2] / r.width, vb[3] / r.height);
    setView([vb[0] - (ev.clientX - drag[0]) * s, vb[1] - (ev.clientY - drag[1]) * s, vb[2], vb[3]]);
  });
  select(st.f);
}
document.querySelectorAll("div.graph[data-view]").forEach(setup);
document.querySelectorAll("section.artifact").forEach(function (sec) {
  if (sec.querySelector("div.graph[data-view]")) { return; }
  sec.querySelectorAll("li.finding").forEach(function (c) {
    c.addEventListener("click", function () { c.classList.toggle("selected"); });
  });
});
}());
""")


def inspect_page(info: dict, view: dict | None) -> str:
    """``inspect --format html``: the artifact's summary and its drawing, without findings."""
    import json

    rows = []
    for key, value in info.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            rows.append(f"<dt>{html_text(str(key))}</dt><dd>{html_text(str(value))}</dd>")
    extra = (f'<dl class="inspect">{"".join(rows)}</dl><details><summary>everything `inspect --format json` '
             f"says</summary><pre>{html_lines(json.dumps(info, indent=1, ensure_ascii=False, default=str))}</pre>"
             "</details>")
    from graphaudit.findings import ArtifactStats

    graphs = info.get("graphs") if isinstance(info.get("graphs"), dict) else {}
    variables = info.get("variables") if isinstance(info.get("variables"), dict) else {}
    stats = ArtifactStats(graphs=len(graphs), nodes=sum(v for v in graphs.values() if isinstance(v, int)),
                          functions=int(info.get("functions") or 0), variables=int(variables.get("count") or 0))
    result = ArtifactResult(path=str(info.get("path", "")), format=str(info.get("format", "")), stats=stats,
                            view=view)
    section = artifact_section(0, result, extra)
    section = section.replace('<p class="clean">no findings</p>', "")
    views = [f'<script type="application/json" id="view-0">{script_json(view)}</script>'] if view else []
    return page("graphaudit inspect", html_text(str(info.get("path", ""))), [section], views)
