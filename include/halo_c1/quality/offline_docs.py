"""GX Data Docs that work offline, run no script, and tell warnings from errors.

GX 1.x pages load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and a logo from CDNs
(`great_expectations/render/view/templates/js_script_imports.j2`, `page.j2`, `index_page.j2`,
`top_navbar.j2`) and draw their index tables with inline scripts (`bootstrap_table.j2`); without the
internet the index page is blank. `make_offline` rewrites the built site before it is copied to the
lake: every external `<script>`/`<link>` is removed, the logo and favicon are inlined (`data:` URIs),
each `$(...).bootstrapTable({columns, data})` call is drawn here as a plain HTML table, and then every
script and inline event handler is removed. The pages need no script, so the report viewer serves
them with a policy that runs none (a file planted among them cannot run script on Airflow's origin).
What scripts did beyond the tables (sorting, filters, the "show failed only" toggle) is not there.

GX marks a table "Failed" when any expectation fails; it knows nothing of halo-c1's severities. The
pages get a banner with halo-c1's verdict per table, and a table whose only failures are warnings
says "Passed with N warning(s)" where GX said "Failed", in the per-table pages and in the index.
"""

from __future__ import annotations

import ast
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
# GX's bootstrap_table.j2: the columns, rows and options are Python literals rendered into the script.
_TABLE_CALL: Final = re.compile(
    r"\$\('#(?P<id>[\w-]+)'\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*"
    r"columns: (?P<columns>.*?),\s*data: (?P<data>.*?),\s*toolbar: '[^']*'\s*\}",
    re.S,
)
_SCRIPT: Final = re.compile(r"<script\b[^>]*>.*?</script>", re.I | re.S)
_EVENT_HANDLER: Final = re.compile(r"\son[a-z]+=(\"[^\"]*\"|'[^']*')", re.I)
_ROW_TABLE: Final = re.compile(r"curated[_-](\w+?)(?:\.html|[\"\s\\])")

_SHIM_STYLE: Final = """<style id="halo-c1-offline">
body{font-family:system-ui,sans-serif;margin:0;color:#1f2328}
.container-fluid{padding:12px 24px}.row{display:flex;flex-wrap:wrap}.col-md-2{flex:0 0 16%;max-width:16%}
.col-md-10{flex:1 1 80%}.d-none,.modal,.ge-walkthrough-modal,.fa,.fas{display:none}
.ge-success-icon::before,.fa-check-circle::before{content:"passed";color:#1a7f37;font-style:normal}
table{border-collapse:collapse;margin:6px 0}th,td{border-bottom:1px solid #eaeef2;padding:3px 8px;text-align:left;vertical-align:top}
.text-danger{color:#cf222e}.text-success{color:#1a7f37}.card{border:1px solid #d0d7de;border-radius:6px;margin:8px 0;padding:6px}
.cooltip .top{display:none}footer{display:none!important}.halo-c1-banner{background:#fff8c5;border:1px solid #d4a72c;padding:8px 14px;margin:8px 24px;border-radius:6px}
.halo-c1-banner .error{color:#cf222e;font-weight:600}.halo-c1-banner .warning{color:#9a6700;font-weight:600}
[id$="-toolbar"]{display:none}
</style>"""


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


def _table_html(columns: list[dict[str, Any]], data: list[dict[str, Any]], status: dict[str, str]) -> str:
    """What bootstrap-table would draw for these columns and rows, as plain HTML: the header from each
    column's title, the cells as GX rendered them (HTML), the first cell linked to the row's page, and
    halo-c1's verdict in the status column of a validation row."""
    head = "".join(f"<th>{escape(str(c.get('title') or c.get('field', '')))}</th>" for c in columns)
    body = []
    for row in data:
        found = _ROW_TABLE.search(json.dumps(row))
        verdict = status.get(found.group(1)) if found else None
        cells = []
        for i, column in enumerate(columns):
            field = column.get("field")
            value = "" if row.get(field) is None else str(row[field])
            if field == "validation_success" and verdict:
                value = str(escape(verdict))
            if i == 0 and row.get("_table_row_link_path"):
                value = f'<a href="{escape(row["_table_row_link_path"])}">{value or "open"}</a>'
            cells.append(f"<td>{value}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"


def _draw_tables(text: str, status: dict[str, str]) -> str:
    """Fill each table a GX script would have drawn; a call that cannot be read leaves its table empty."""
    for call in _TABLE_CALL.finditer(text):
        try:
            columns, data = ast.literal_eval(call["columns"]), ast.literal_eval(call["data"])
        except (ValueError, TypeError, SyntaxError):
            continue
        table = re.compile(rf'(<table\b[^>]*\bid="{re.escape(call["id"])}"[^>]*>)\s*(</table>)')
        rendered = _table_html(columns, data, status)
        text = table.sub(lambda m, r=rendered: m.group(1) + r + m.group(2), text, count=1)
    return text


def _data_uri(path: Path, media_type: str) -> str:
    """The file as a `data:` URI (empty if GX did not ship it: the page then shows no image)."""
    return f"data:{media_type};base64,{base64.b64encode(path.read_bytes()).decode()}" if path.exists() else ""


def make_offline(docs_dir: Path, rows: list[dict[str, Any]]) -> int:
    """Rewrite every page of the site under `docs_dir` in place; return how many pages were rewritten."""
    verdicts = table_verdicts(rows)
    status_by_table = {t: _verdict_text(c) for t, c in verdicts.items()}
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
        text = _draw_tables(text, status_by_table)
        text = _EVENT_HANDLER.sub("", _SCRIPT.sub("", text))
        text = text.replace("<head>", "<head>" + _SHIM_STYLE, 1)
        banner = _banner(verdicts, table)
        text = re.sub(r"(<body[^>]*>)", lambda m, b=banner: m.group(1) + b, text, count=1)
        page.write_text(text, encoding="utf-8")
    return len(pages)
