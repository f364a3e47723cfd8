"""The quality gate: run the checks with Great Expectations 1.x, write the reports, return the verdict.

`run_quality_gate` never raises for failed expectations: it writes Data Docs, the gate result JSON,
dq_history and the reports index, then returns a dict. The DAG calls `raise_for_errors(result)`
afterwards, so a failed gate still leaves its report behind. Warnings never fail the gate.
GX is imported inside the function (a 4 s import) with analytics and progress bars off.
"""

from __future__ import annotations

import html
import logging
import tempfile
from collections.abc import Generator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from halo_c1.errors import PermanentError
from halo_c1.lake import Lake, write_json
from halo_c1.quality.checks import ERROR, WARNING, Check, TableFrame, build_gate_input
from halo_c1.quality.offline_docs import make_offline
from halo_c1.quality.reports import DOCS_FOLDER, GATE_RESULT_FILE, copy_tree, write_dq_history
from halo_c1.report.index import write_reports_index

log = logging.getLogger(__name__)

SITE_NAME: Final = "halo_c1"
EXAMPLES_SHOWN: Final = 3
AGGREGATE_EXPECTATIONS: Final = frozenset(
    {
        "ExpectTableRowCountToBeBetween",
        "ExpectColumnDistinctValuesToEqualSet",
        "ExpectColumnDistinctValuesToContainSet",
    }
)
RESULT_FORMAT: Final = {"result_format": "BASIC", "partial_unexpected_count": EXAMPLES_SHOWN}


class QualityGateError(PermanentError):
    """Error-severity expectations failed; the message names each one with its unexpected count."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        failed = [f for f in result["failed"] if f["severity"] == ERROR]
        lines = [
            f"{f['table']}.{f['name']}: {f['unexpected_count']} unexpected ({f['description']})"
            for f in failed
        ]
        super().__init__(
            f"quality gate failed for snapshot {result['snapshot_id']}: {len(failed)} error expectation(s) "
            f"failed: " + "; ".join(lines) + f". Report: {_report_location(result)}"
        )


def _report_location(result: dict[str, Any]) -> str:
    """The snapshot's report page: a plain path for a local lake, a secret-free URL otherwise."""
    from halo_c1.report.publish import location

    return location(result["gate_result"]).removesuffix(GATE_RESULT_FILE) + "report.html"


def raise_for_errors(result: dict[str, Any]) -> None:
    """Raise `QualityGateError` when the gate result has failed error-severity expectations."""
    if not result["passed"]:
        raise QualityGateError(result)


def _unexpected_count(result: dict[str, Any]) -> int:
    """Offending rows; for "distinct values contain a set" expectations, the values missing."""
    if result.get("unexpected_count") is not None:
        return int(result["unexpected_count"])
    return int(result.get("missing_count") or 0)


def _examples(result: dict[str, Any]) -> list[str]:
    """A few offending values (SUMMARY format lists at most `EXAMPLES_SHOWN`)."""
    for key in ("partial_unexpected_list", "partial_missing_list"):
        if key in result:
            return [str(v) for v in result[key][:EXAMPLES_SHOWN]]
    observed = result.get("observed_value")
    return [] if observed is None else [str(observed)]


def _raised(exception_info: dict[str, Any] | None) -> str | None:
    """GX reports a failing metric (e.g. a missing column) as exception info, not as an exception."""
    infos = [exception_info or {}]
    infos += [v for v in (exception_info or {}).values() if isinstance(v, dict)]
    messages = [str(i.get("exception_message")) for i in infos if i.get("raised_exception")]
    return "; ".join(messages) or None


def _validate(
    frames: dict[str, TableFrame], checks: list[Check], snapshot_id: str, docs_dir: Path | None
) -> list[dict[str, Any]]:
    """Run one GX suite per table, build Data Docs into `docs_dir` (if given), return one row per
    expectation."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    # Analytics off and no progress bars through the context's own config: no process-wide env write.
    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name=SITE_NAME,
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
            },
        )
    run_id = RunIdentifier(run_name=f"snapshot={snapshot_id}", run_time=datetime.now(UTC))
    by_key = {(c.table, c.name): c for c in checks}
    rows = []
    for table, frame in frames.items():
        table_checks = [c for c in checks if c.table == table]
        if not table_checks:
            continue
        with _no_batch_fingerprints():
            outcome = _validate_by_columns(context, table, frame, table_checks, run_id)
        for result in outcome.results:
            meta = result.expectation_config.meta or {}
            check = by_key[table, meta["check"]]
            detail = result.result or {}
            error = _raised(result.exception_info)
            if error:
                raise RuntimeError(
                    f"quality gate: expectation {table}.{check.name} could not run in GX: {error}"
                )
            success = bool(result.success)
            label, size = check.population or (f"{table} rows", len(frame))
            examples = [] if success or check.personal_values else _examples(detail)
            count = _unexpected_count(detail)
            rows.append(
                {
                    "table": table,
                    "name": check.name,
                    "expectation": check.expectation,
                    "description": check.description,
                    "severity": check.severity,
                    "success": success,
                    # Aggregate expectations (row counts, distinct sets) report no unexpected rows.
                    "unexpected_count": count if success else max(count, len(examples), 1),
                    "examples": examples,
                    # Table-level expectations (row counts, distinct sets) have no population.
                    "population": None if check.expectation in AGGREGATE_EXPECTATIONS else label,
                    "population_count": None if check.expectation in AGGREGATE_EXPECTATIONS else size,
                }
            )
    if docs_dir is not None:
        _escape_stored_results(context)
        context.build_data_docs(site_names=[SITE_NAME])
    return rows


@contextmanager
def _no_batch_fingerprints() -> Generator[None, None, None]:
    """GX fingerprints every pandas batch under 1 GB with `pd.util.hash_pandas_object`, which copies
    each string column into Python objects: on the largest tenant's 3.4M grant ids that alone took
    the gate past 2 GiB, and ~20 % of its time. The fingerprint is only a batch marker, which
    nothing here reads, so the threshold is 0 while the gate validates."""
    from great_expectations.execution_engine import pandas_execution_engine

    threshold = pandas_execution_engine.HASH_THRESHOLD
    pandas_execution_engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        pandas_execution_engine.HASH_THRESHOLD = threshold


def _columns(check: Check) -> tuple[str, ...]:
    """The frame columns an expectation reads (none for a table-level one such as a row count)."""
    kwargs = check.kwargs
    named = [kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs]
    return tuple(sorted({*named, *kwargs.get("column_list", ())}))


def _validate_by_columns(
    context: Any,
    table: str,
    frame: TableFrame,
    table_checks: list[Check],
    run_id: Any,
) -> Any:
    """Validate the table's expectations one column set at a time, each on a frame of only those
    columns, and store them as the single result of suite `curated_<table>` (Data Docs: one page per
    table). GX copies the frame it is given for every column-map expectation (dropping null rows), so
    giving it the whole table made the gate's peak memory grow with the table's width (issue 15).
    Each column set gets a data source of its own, deleted after its run: GX's execution engine
    caches the batches and metrics it computed (row-length masks) for as long as it lives."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    def expectations(group: list[Check]) -> list[Any]:
        return [
            getattr(gxe, check.expectation)(
                **check.kwargs,
                description=check.description,
                meta={"severity": check.severity, "check": check.name, **check.meta},
            )
            for check in group
        ]

    groups: dict[tuple[str, ...], list[Check]] = {}
    for check in table_checks:
        groups.setdefault(_columns(check), []).append(check)
    store = context.validation_results_store
    results: dict[str, Any] = {}
    outcome = batch_id = None
    for index, (columns, group) in enumerate(groups.items()):
        name = f"curated_{table}__{index}"
        source = context.data_sources.add_pandas(name)
        batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(name)
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations(group)))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}_{run_id.run_name}", data=batch, suite=suite)
        )
        narrow = frame.columns(columns)  # a table-level expectation gets the rows without columns
        outcome = definition.run(
            batch_parameters={"dataframe": narrow}, result_format=RESULT_FORMAT, run_id=run_id
        )
        del narrow
        for result in outcome.results:
            results[(result.expectation_config.meta or {})["check"]] = result
        for key in store.list_keys():
            if key.expectation_suite_identifier.name == name:
                batch_id = key.batch_identifier
                store.remove_key(key)
        context.validation_definitions.delete(definition.name)
        context.suites.delete(name)
        context.data_sources.delete(name)
    suite_name = f"curated_{table}"
    context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations(table_checks)))
    ordered = [results[check.name] for check in table_checks]
    passed = sum(bool(result.success) for result in ordered)
    outcome.results = ordered
    outcome.suite_name = suite_name
    outcome.success = passed == len(ordered)
    outcome.statistics = {
        "evaluated_expectations": len(ordered),
        "successful_expectations": passed,
        "unsuccessful_expectations": len(ordered) - passed,
        "success_percent": 100.0 * passed / len(ordered),
    }
    suite_id = ExpectationSuiteIdentifier(name=suite_name)
    store.store_validation_results(
        suite_validation_result=outcome,
        suite_validation_result_identifier=ValidationResultIdentifier(
            batch_identifier=batch_id, expectation_suite_identifier=suite_id, run_id=run_id
        ),
        expectation_suite_identifier=suite_id,
    )
    return outcome


def html_escaped(value: Any) -> Any:
    """Every string in a JSON-like value (keys too) HTML-escaped; other values as they are."""
    if isinstance(value, str):
        return html.escape(value, quote=True)
    if isinstance(value, dict):
        return {html_escaped(key): html_escaped(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [html_escaped(item) for item in value]
    return value


def _escape_stored_results(context: Any) -> None:
    """Escape what HaloITSM wrote before GX renders it: its Data Docs put sampled values (an end
    user's email, a name, an id) into the HTML verbatim, so markup in HaloITSM would run in the
    reader's browser. Results are escaped in the store only, after the gate has read them."""
    store = context.validation_results_store
    for key in store.list_keys():
        suite_result = store.get(key)
        for result in suite_result.results:
            result.result = html_escaped(result.result or {})
            config = result.expectation_config
            config.kwargs = html_escaped(dict(config.kwargs))
            config.meta = html_escaped(dict(config.meta or {}))
        store.set(key, suite_result)


def run_quality_gate(
    lake: Lake, snapshot_id: str, previous_snapshot_id: str | None = None, *, data_docs: bool = True
) -> dict[str, Any]:
    """Validate the snapshot's curated tables and write its reports; return the verdict (never raises
    for failed expectations: call `raise_for_errors`). `previous_snapshot_id` enables the volume
    checks against that snapshot's row counts. `data_docs=False` skips the GX HTML site (about 1 s
    and 4 MB per snapshot); the gate JSON, dq_history and the index are always written."""
    gate_input = build_gate_input(lake, snapshot_id, previous_snapshot_id)
    validated_at = datetime.now(UTC)
    report_dir = lake.report_dir(snapshot_id)
    if data_docs:
        with tempfile.TemporaryDirectory(prefix="halo_c1_docs_") as tmp:
            rows = _validate(gate_input.frames, gate_input.checks, snapshot_id, Path(tmp))
            make_offline(Path(tmp), rows)
            copy_tree(Path(tmp), report_dir / DOCS_FOLDER)
    else:
        rows = _validate(gate_input.frames, gate_input.checks, snapshot_id, None)
    failed = [r for r in rows if not r["success"]]
    failed_errors = sum(r["severity"] == ERROR for r in failed)
    result = {
        "snapshot_id": snapshot_id,
        "previous_snapshot_id": previous_snapshot_id,
        "passed": failed_errors == 0,
        "validated_at": validated_at.isoformat(),
        "evaluated": len(rows),
        "failed_errors": failed_errors,
        "failed_warnings": sum(r["severity"] == WARNING for r in failed),
        "failed": failed,
        "docs_index": str(report_dir / DOCS_FOLDER / "index.html") if data_docs else None,
        "gate_result": str(report_dir / GATE_RESULT_FILE),
        "dq_history": str(lake.dq_history_file(snapshot_id)),
        "report_index": str(lake.reports_index()),
    }
    write_dq_history(lake.dq_history_file(snapshot_id), snapshot_id, validated_at, rows)
    write_json(report_dir / GATE_RESULT_FILE, result)
    write_reports_index(lake)
    level = logging.INFO if result["passed"] else logging.ERROR
    log.log(
        level,
        "quality gate %s: %s errors, %s warnings failed of %s",
        snapshot_id,
        failed_errors,
        result["failed_warnings"],
        len(rows),
    )
    return result
