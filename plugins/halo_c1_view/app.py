"""The halo-c1 view's FastAPI app: snapshot list, a run's report, and the report files from the lake.

Routes (under the plugin's `/halo-c1` prefix):

    /                                  → the snapshot list
    /lake/reports/index.html           the snapshot list, rendered live from the lake
    /lake/reports/<path>               a report file (report.html, changes.html, Data Docs, JSON)
    /runs/<dag_id>/<run_id>            → that run's report (the DAG run tab)

Every route needs a logged-in Airflow user (the UI's `_token` cookie or a bearer token) who may read
the halo-c1 DAG (and, for a run, that DAG's runs): identity data is personal data. The lake is the
pipeline's own (`halo_c1_lake_url`, file:// or s3:// …), read through the same ObjectStoragePath.
Only regular files inside the tenant's reports folder are served (no symlink out of it), and no page
runs script on the Airflow origin: Data Docs with scripts (built by older versions) run sandboxed
(docs/security.md).
"""

import logging
import mimetypes
import os
import stat
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response

log = logging.getLogger("halo_c1.plugin")

DAG_ID = os.environ.get("HALO_C1_DAG_ID", "haloitsm_to_c1")
PLAN_TASK = "plan"
# halo-c1's pages (index, report, change log, message) carry no script, so no script runs on them: a
# file planted in the lake (HTML, SVG) cannot run script on the Airflow origin.
CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
# GX Data Docs built before the gate drew their tables itself still need their inline scripts: such a
# page runs sandboxed, in an origin of its own that can read neither Airflow's cookies nor its API.
DATA_DOCS_CSP = f"sandbox allow-scripts; script-src 'unsafe-inline'; {CSP}"
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _authorized(user: Any, dag_id: str, *, runs: bool = False) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return get_auth_manager().is_authorized_dag(
        method="GET",
        access_entity=DagAccessEntity.RUN if runs else None,
        details=DagDetails(id=dag_id),
        user=user,
    )


def _lake() -> Any:
    from halo_c1.errors import ConfigurationError, PermanentError
    from halo_c1_airflow.settings import lake

    try:
        return lake()
    except (ConfigurationError, PermanentError, ValueError) as error:  # incl. another tenant's lake
        raise HTTPException(status_code=503, detail=str(error)) from None


def _report_file(reports: Any, parts: list[str]) -> bytes | None:
    """The bytes of the regular file `reports/<parts>`, or None when there is none.

    On a local lake the file's resolved path must stay inside the tenant's reports folder, so a
    symlink (or a symlinked folder) planted under `reports/` never serves another file the API
    server can read (airflow.cfg, its JWT secret). Object stores have no links.
    """
    from halo_c1.lake import is_local

    target = reports.joinpath(*parts)
    if not is_local(target):
        return target.read_bytes() if target.is_file() else None
    root = os.path.join(os.path.realpath(reports.parent.path), reports.name)
    resolved = os.path.realpath(target.path)
    if os.path.commonpath([root, resolved]) != root:
        log.warning("Refused report file %s: it resolves outside the reports folder", "/".join(parts))
        return None
    try:  # no FIFO or device blocks or leaks; a link swapped in after the check is not followed
        descriptor = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read() if stat.S_ISREG(os.fstat(descriptor).st_mode) else None


def _html(page: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)


def _message(title: str, text: str, status: int) -> HTMLResponse:
    from halo_c1.report.render import render

    return _html(render("message.html.j2", title=title, text=text), status)


def _snapshot_of_run(dag_id: str, run_id: str) -> str | None:
    """The snapshot id the run's `plan` task decided (its XCom), or None before it ran."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=run_id, dag_ids=dag_id, task_ids=PLAN_TASK, key="return_value")
        row = session.scalars(query).first()
        value = XComModel.deserialize_value(row) if row is not None else None
    return value.get("snapshot_id") if isinstance(value, dict) else None


def _safe_parts(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") or p.startswith(".") or "\\" in p for p in parts):
        raise HTTPException(status_code=404, detail="no such report file")
    return parts


def create_app() -> FastAPI:
    """The app the plugin mounts at `/halo-c1` (built on the first request)."""
    from airflow.api_fastapi.core_api.security import get_user

    user_dep = Annotated[Any, Depends(get_user)]

    def dag_reader(user: user_dep) -> Any:
        """Only users who may read the halo-c1 DAG see its reports (401 without a login)."""
        if not _authorized(user, DAG_ID):
            raise HTTPException(status_code=403, detail=f"you may not read the DAG {DAG_ID!r}")
        return user

    reader_dep = Annotated[Any, Depends(dag_reader)]
    app = FastAPI(title="halo-c1 reports", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", include_in_schema=False)
    def home(_user: reader_dep) -> Response:
        return RedirectResponse("lake/reports/index.html", status_code=303)

    @app.get("/lake/reports/index.html", include_in_schema=False)
    def snapshot_list(_user: reader_dep) -> Response:
        from datetime import UTC, datetime

        from halo_c1.report.index import snapshot_entries
        from halo_c1.report.page import CHANGES_FILE, DOCS_INDEX, GATE_RESULT_FILE, REPORT_FILE
        from halo_c1.report.render import render

        page = render(
            "index.html.j2",
            entries=snapshot_entries(_lake()),
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            report_file=REPORT_FILE,
            changes_file=CHANGES_FILE,
            docs_index=DOCS_INDEX,
            gate_file=GATE_RESULT_FILE,
        )
        return _html(page)

    @app.get("/lake/reports/{path:path}", include_in_schema=False)
    def report_file(path: str, _user: reader_dep) -> Response:
        from halo_c1.report.page import DOCS_INDEX

        parts = _safe_parts(path)
        content = _report_file(_lake().base / "reports", parts)
        if content is None:
            return _message("Not found", f"No report file {path} in the lake.", 404)
        media_type = mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
        headers = dict(SECURITY_HEADERS)
        in_docs = len(parts) > 2 and parts[1] == DOCS_INDEX.partition("/")[0]  # snapshot=<id>/data_docs/
        if in_docs and b"<script" in content.lower():
            headers["Content-Security-Policy"] = DATA_DOCS_CSP
        return Response(content, media_type=media_type, headers=headers)

    @app.get("/runs/{dag_id}/{run_id}", include_in_schema=False)
    def run_report(dag_id: str, run_id: str, user: user_dep) -> Response:
        if not _authorized(user, dag_id, runs=True):
            raise HTTPException(status_code=403, detail=f"you may not read runs of the DAG {dag_id!r}")
        if dag_id != DAG_ID:
            return _message("Not a halo-c1 run", f"The halo-c1 report belongs to runs of {DAG_ID}.", 404)
        snapshot_id = _snapshot_of_run(dag_id, run_id)
        if snapshot_id is None:
            return _message("No snapshot yet", f"Run {run_id} has not planned its snapshot yet.", 404)
        from halo_c1.report.page import REPORT_FILE

        report = _lake().report_dir(snapshot_id) / REPORT_FILE
        if not report.exists():
            return _message(
                f"No report for snapshot {snapshot_id} yet",
                f"Run {run_id} works on snapshot {snapshot_id}; its report is written once the quality "
                "gate has run (see the validate task).",
                404,
            )
        return RedirectResponse(f"../../lake/reports/snapshot={snapshot_id}/{REPORT_FILE}", status_code=303)

    return app
