"""The halo-c1 view inside the Airflow 3 UI: snapshot reports and access change logs from the lake.

Registers, under `/halo-c1`, a FastAPI app (served by the api-server, behind Airflow's own login and
DAG permissions) and two UI entry points: a navigation item listing the snapshots and a tab on every
DAG run page showing that run's report. The app itself lives in `halo_c1_view/` (ignored by the
plugin loader through `.airflowignore`) and is imported on the first request only, so loading this
plugin costs the scheduler, the DAG processor and the api-server nothing; if the app cannot be built
the view answers 503 with the reason and the rest of the UI is untouched.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger("halo_c1.plugin")

URL_PREFIX = "/halo-c1"


class LazyApp:
    """An ASGI app that builds the real one on first use, and answers 503 if that fails."""

    def __init__(self) -> None:
        self._app: Any = None
        self._error: str | None = None

    def _build(self) -> Any:
        if self._app is None and self._error is None:
            try:
                from halo_c1_view.app import create_app

                self._app = create_app()
            except Exception as error:  # a broken view must never take the UI down
                log.exception("halo-c1 view could not start")
                self._error = f"{type(error).__name__}: {error}"
        return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        app = self._build()
        if app is not None:
            await app(scope, receive, send)
            return
        body = f"halo-c1 view unavailable: {self._error}".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class HaloC1ReportsPlugin(AirflowPlugin):
    """halo-c1 reports: a nav item listing snapshots and a tab on each DAG run."""

    name = "halo_c1_reports"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "halo-c1 reports"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "halo-c1 reports",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "halo-c1-reports",
        },
        {
            "name": "halo-c1 report",
            "href": f"{URL_PREFIX}/runs/{{DAG_ID}}/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "halo-c1-run-report",
        },
    ]
