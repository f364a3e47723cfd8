"""GX Data Docs that work offline and tell warnings from errors.

GX 1.x pages load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and a logo from CDNs
(`great_expectations/render/view/templates/js_script_imports.j2`, `page.j2`, `index_page.j2`,
`top_navbar.j2`); without the internet the index page is blank, because its tables are drawn by
bootstrap-table. `make_offline` rewrites the built site before it is copied to the lake: every
external `<script>`/`<link>` is removed, the logo and favicon are inlined (`data:` URIs: the pages are
served sandboxed, in an origin of their own that sends no login with its image requests), and a small
inline stylesheet and script stand in for what the pages use (`$(...).bootstrapTable` draws the tables
as plain HTML, the rest are no-ops).

GX marks a table "Failed" when any expectation fails; it knows nothing of halo-c1's severities. The
pages get a banner with halo-c1's verdict per table, and a table whose only failures are warnings
says "Passed with N warning(s)" where GX said "Failed", in the per-table pages and in the index.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any, Final

from markupsafe import escape

_EXTERNAL_SCRIPT: Final = re.compile(r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>", re.I)
_EXTERNAL_LINK: Final = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>", re.I)
_REMOTE_LOGO: Final = re.compile(r"https://great-expectations-web-assets\.s3[^\"']*?/([\w.-]+\.png)[^\"']*")
_FAVICON: Final = re.compile(r"href=\"(?:\./|(?:\.\./)*)static/images/favicon\.ico\"")
_FAILED_STATUS: Final = re.compile(r"<i class=\"fas fa-times text-danger\" aria-hidden=\"true\"></i> Failed")
_VALIDATION_TABLE: Final = re.compile(r"validations/curated_(\w+)/")

_SHIM_STYLE: Final = """<style id="halo-c1-offline">
body{font-family:system-ui,sans-serif;margin:0;color:#1f2328}
.container-fluid{padding:12px 24px}.row{display:flex;flex-wrap:wrap}.col-md-2{flex:0 0 16%;max-width:16%}
.col-md-10{flex:1 1 80%}.d-none,.modal,.ge-walkthrough-modal,.fa,.fas{display:none}
.ge-success-icon::before,.fa-check-circle::before{content:"passed";color:#1a7f37;font-style:normal}
table{border-collapse:collapse;margin:6px 0}th,td{border-bottom:1px solid #eaeef2;padding:3px 8px;text-align:left;vertical-align:top}
.text-danger{color:#cf222e}.text-success{color:#1a7f37}.card{border:1px solid #d0d7de;border-radius:6px;margin:8px 0;padding:6px}
.cooltip .top{display:none}footer{display:none!important}.halo-c1-banner{background:#fff8c5;border:1px solid #d4a72c;padding:8px 14px;margin:8px 24px;border-radius:6px}
.halo-c1-banner .error{color:#cf222e;font-weight:600}.halo-c1-banner .warning{color:#9a6700;font-weight:600}
</style>"""

_SHIM_SCRIPT: Final = """<script id="halo-c1-offline-js">
(function () {
  "use strict";
  function Q(target) {
    if (typeof target === "string") { this.els = Array.prototype.slice.call(document.querySelectorAll(target)); }
    else if (target && (target.nodeType || target === window)) { this.els = [target]; }
    else { this.els = []; }
  }
  var chain = function () { return this; };
  ["on", "modal", "tooltip", "popover", "collapse", "tab"].forEach(function (m) { Q.prototype[m] = chain; });
  Q.prototype.ready = function (f) {
    if (document.readyState !== "loading") { f(); } else { document.addEventListener("DOMContentLoaded", f); }
    return this;
  };
  Q.prototype.parent = function () {
    var q = new Q(null); q.els = this.els.map(function (e) { return e.parentNode; }).filter(Boolean); return q;
  };
  Q.prototype.fadeIn = function () { this.els.forEach(function (e) { e.style.display = ""; }); return this; };
  Q.prototype.fadeOut = function () { this.els.forEach(function (e) { e.style.display = "none"; }); return this; };
  Q.prototype.removeClass = function (c) { this.els.forEach(function (e) { e.classList.remove(c); }); return this; };
  Q.prototype.addClass = function (c) { this.els.forEach(function (e) { e.classList.add(c); }); return this; };
  Q.prototype.prepend = function (html) {
    this.els.forEach(function (e) { e.insertAdjacentHTML("afterbegin", html); }); return this;
  };
  var verdicts = window.HALO_C1_TABLE_VERDICTS || {};
  function verdictFor(row) {
    var text = JSON.stringify(row), found = text.match(/curated[_-](\\w+?)(?:\\.html|["\\s\\\\])/);
    return found ? verdicts[found[1]] : undefined;
  }
  Q.prototype.bootstrapTable = function (options) {
    if (typeof options !== "object") { return this; }
    var columns = options.columns || [], data = options.data || [];
    this.els.forEach(function (table) {
      var head = "<thead><tr>" + columns.map(function (c) {
        return "<th>" + (c.title || c.field) + "</th>";
      }).join("") + "</tr></thead>";
      var body = data.map(function (row) {
        var verdict = verdictFor(row);
        var cells = columns.map(function (c, i) {
          var value = row[c.field] === undefined ? "" : row[c.field];
          if (c.field === "validation_success" && verdict) { value = verdict; }
          if (i === 0 && row._table_row_link_path) {
            value = '<a href="' + row._table_row_link_path + '">' + (value || "open") + "</a>";
          }
          return "<td>" + value + "</td>";
        }).join("");
        return "<tr>" + cells + "</tr>";
      }).join("");
      table.innerHTML = head + "<tbody>" + body + "</tbody>";
    });
    return this;
  };
  window.$ = window.jQuery = function (target) {
    if (typeof target === "function") { return new Q(document).ready(target); }
    return new Q(target);
  };
})();
</script>"""


def table_verdicts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Failed errors and warnings per table, from the gate's per-expectation rows."""
    verdicts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = verdicts.setdefault(row["table"], {"error": 0, "warning": 0, "evaluated": 0})
        counts["evaluated"] += 1
        if not row["success"]:
            counts[row["severity"]] += 1
    return verdicts


def _verdict_text(counts: dict[str, int]) -> str:
    if counts["error"]:
        return f"Failed: {counts['error']} error(s), {counts['warning']} warning(s)"
    if counts["warning"]:
        return f"Passed with {counts['warning']} warning(s)"
    return "Passed"


def _banner(verdicts: dict[str, dict[str, int]], table: str | None) -> str:
    tables = [table] if table and table in verdicts else sorted(verdicts)
    items = []
    for name in tables:
        counts = verdicts[name]
        css = "error" if counts["error"] else ("warning" if counts["warning"] else "")
        items.append(
            f'<li><b>{escape(name)}</b>: <span class="{css}">{escape(_verdict_text(counts))}</span></li>'
        )
    return (
        '<div class="halo-c1-banner"><b>halo-c1 gate verdict</b> (GX shows "Failed" for any failed '
        "expectation; halo-c1 fails a table only on <b>error</b>-severity checks, each check's severity is "
        "in its meta; GX percentages count every row of the table, the halo-c1 report counts the right "
        f"population):<ul>{''.join(items)}</ul></div>"
    )


def _data_uri(path: Path, media_type: str) -> str:
    """The file as a `data:` URI (empty if GX did not ship it: the page then shows no image)."""
    return f"data:{media_type};base64,{base64.b64encode(path.read_bytes()).decode()}" if path.exists() else ""


def make_offline(docs_dir: Path, rows: list[dict[str, Any]]) -> int:
    """Rewrite every page of the site under `docs_dir` in place; return how many pages were rewritten."""
    verdicts = table_verdicts(rows)
    status_by_table = {t: _verdict_text(c) for t, c in verdicts.items()}
    verdict_script = (
        "<script>window.HALO_C1_TABLE_VERDICTS = "
        + json.dumps(status_by_table).replace("<", "\\u003c")
        + ";</script>"
    )
    images = docs_dir / "static" / "images"
    logo, favicon = (
        _data_uri(images / "logo-long.png", "image/png"),
        _data_uri(images / "favicon.ico", "image/x-icon"),
    )
    pages = sorted(docs_dir.rglob("*.html"))
    for page in pages:
        text = page.read_text(encoding="utf-8")
        text = _EXTERNAL_SCRIPT.sub("", text)
        text = _EXTERNAL_LINK.sub("", text)
        text = _REMOTE_LOGO.sub(logo, text)
        text = _FAVICON.sub(f'href="{favicon}"', text)
        found = _VALIDATION_TABLE.search(page.relative_to(docs_dir).as_posix())
        table = found.group(1) if found else None
        if table in verdicts and not verdicts[table]["error"]:
            text = _FAILED_STATUS.sub(escape(status_by_table[table]), text)
        text = text.replace("<head>", "<head>" + _SHIM_STYLE + verdict_script + _SHIM_SCRIPT, 1)
        banner = _banner(verdicts, table)
        text = re.sub(r"(<body[^>]*>)", lambda m, b=banner: m.group(1) + b, text, count=1)
        page.write_text(text, encoding="utf-8")
    return len(pages)
