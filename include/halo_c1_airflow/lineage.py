"""OpenLineage for the ETL's stage tasks, through Airflow's OpenLineage provider.

Each stage task is a `StageOperator` (the TaskFlow `@task` operator plus the provider's
`get_openlineage_facets_on_complete`/`_on_failure` methods), declared with `@stage_task(...)`. When
the provider is configured (its own `[openlineage]` settings, e.g. `AIRFLOW__OPENLINEAGE__TRANSPORT`;
off otherwise, and then nothing here runs), every stage's START/COMPLETE/FAIL event carries the
datasets it read and wrote, named by their lake locations:

    extract    HaloITSM API                          -> raw/entity=<entity>        (schema, rows)
    transform  raw/entity=<entity>                   -> curated/<table>            (schema, rows)
    validate   curated/<table> (+ data-quality facet) -> reports/dq_history, curated/access_changes
    guard      curated/resources, curated/grants     -> (a gate: its report is no table)
    package    curated/<table>                       -> c1z                        (bytes)
    deliver    c1z                                   -> the delivery target        (bytes)

A dataset is the table (the Hive folder), so each run adds a version of the same node in a lineage
graph; the version is the snapshot id (`datasetVersion` facet), which names the partition
(`snapshot=<id>/`). The gate's result is the inputs' `dataQualityAssertions` facet (one assertion per
expectation, with severity and unexpected count), also when the gate fails the task.
Namespaces follow OpenLineage's naming: `file` for a local lake, `s3://<bucket>`,
`abfss://<container>@<account>.dfs.core.windows.net`; URLs never carry credentials.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
from airflow.sdk.bases.decorator import task_decorator_factory

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk.bases.decorator import TaskDecorator
    from upath import UPath

    from halo_c1.lake import Lake

# Under `halo_c1` like the domain's loggers, so configuring `halo_c1` reaches these too.
log = logging.getLogger(__name__.replace("halo_c1_airflow", "halo_c1.airflow"))

CURATED_INPUTS = ("resource_types", "resources", "entitlements", "grants")


def location(url: str | UPath) -> tuple[str, str]:
    """(namespace, name) of a lake path or URL, by OpenLineage's naming; connection ids and
    credentials in the URL are dropped."""
    from halo_c1.lake import is_local

    if not isinstance(url, str) and is_local(url):
        return "file", url.path
    parts = urlsplit(str(url))
    host = parts.netloc.rpartition("@")[2]
    path = parts.path.lstrip("/")
    if parts.scheme in ("", "file", "local"):
        return "file", parts.path
    if parts.scheme in ("s3", "s3a", "gs", "gcs"):
        return f"{'gs' if parts.scheme == 'gcs' else parts.scheme.replace('s3a', 's3')}://{host}", path
    if parts.scheme in ("abfs", "abfss", "az", "adl"):
        account = (
            getattr(url, "storage_options", {}).get("account_name") if not isinstance(url, str) else None
        )
        if account:
            return f"abfss://{host}@{account}.dfs.core.windows.net", path
        return f"abfss://{host}", path
    return f"{parts.scheme}://{host}", path or "/"


def _schema_facet(schema: pa.Schema) -> Any:
    from openlineage.client.facet_v2 import schema_dataset

    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name=f.name, type=str(f.type), ordinal_position=i + 1)
            for i, f in enumerate(schema)
        ]
    )


class _Datasets:
    """Builds one run's datasets: tables of the lake at the run's snapshot."""

    def __init__(self, lake: Lake, snapshot_id: str) -> None:
        self.lake = lake
        self.snapshot_id = snapshot_id

    def _facets(self, schema: pa.Schema | None) -> dict[str, Any]:
        from openlineage.client.facet_v2 import dataset_version_dataset

        facets: dict[str, Any] = {
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=self.snapshot_id)
        }
        if schema is not None:
            facets["schema"] = _schema_facet(schema)
        return facets

    def table(
        self,
        folder: UPath,
        schema: pa.Schema | None,
        *,
        output: bool,
        rows: int | None = None,
        size: int | None = None,
        input_facets: dict[str, Any] | None = None,
    ) -> Any:
        """The table at `folder` (a Hive folder of snapshot partitions), as this run's input or output."""
        from openlineage.client.event_v2 import InputDataset, OutputDataset
        from openlineage.client.facet_v2 import (
            input_statistics_input_dataset,
            output_statistics_output_dataset,
        )

        namespace, name = location(folder)
        facets = self._facets(schema)
        if output:
            statistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=rows, size=size
            )
            return OutputDataset(
                namespace, name, facets=facets, outputFacets={"outputStatistics": statistics}
            )
        extra = dict(input_facets or {})
        if rows is not None or size is not None:
            extra["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                rowCount=rows, size=size
            )
        return InputDataset(namespace, name, facets=facets, inputFacets=extra)

    def raw(self, entity: str, *, output: bool, rows: int | None = None) -> Any:
        from halo_c1 import model

        folder = self.lake.raw_file(entity, self.snapshot_id).parent.parent
        return self.table(folder, model.RAW_ENTITIES.get(entity), output=output, rows=rows)

    def curated(self, table: str, *, output: bool, rows: int | None = None, **kwargs: Any) -> Any:
        from halo_c1 import model

        schema = model.CURATED_TABLES.get(table) or (
            model.ACCESS_CHANGES if table == "access_changes" else None
        )
        folder = self.lake.curated_file(table, self.snapshot_id).parent.parent
        return self.table(folder, schema, output=output, rows=rows, **kwargs)

    def c1z(self, *, output: bool, size: int | None = None) -> Any:
        folder = self.lake.c1z_file(self.snapshot_id).parent.parent
        return self.table(folder, None, output=output, size=size)


def _quality_facets(lake: Lake, snapshot_id: str) -> dict[str, dict[str, Any]]:
    """Per curated table, the gate's assertions (one per expectation) as OpenLineage facets."""
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dq

    from halo_c1.lake import read_parquet

    path = lake.dq_history_file(snapshot_id)
    if not path.exists():
        return {}
    assertions: dict[str, list[Any]] = {}
    for row in read_parquet(path).to_pylist():
        assertions.setdefault(row["table"], []).append(
            dq.Assertion(
                assertion=row["expectation"],
                success=row["success"],
                severity=row["severity"],
                description=row["description"],
                actual=None if row["unexpected_count"] is None else str(row["unexpected_count"]),
            )
        )
    return {
        table: {"dataQualityAssertions": dq.DataQualityAssertionsDatasetFacet(assertions=rows)}
        for table, rows in assertions.items()
    }


def stage_lineage(
    stage: str, lake: Lake, snapshot_id: str, result: dict[str, Any] | None
) -> tuple[list, list]:
    """The (inputs, outputs) of one stage for its snapshot; `result` is the stage's XCom result (None
    when the stage failed: then only what the lake already holds is described)."""
    from halo_c1 import model
    from halo_c1.lake import read_json

    data = _Datasets(lake, snapshot_id)
    result = result or {}
    if stage == "extract":
        manifest = read_json(lake.raw_manifest(snapshot_id)) if lake.has_raw(snapshot_id) else {}
        counts = manifest.get("counts", {})
        inputs = []
        if manifest.get("halo_base_url") and not result.get("reused"):
            from openlineage.client.event_v2 import InputDataset

            namespace, _ = location(manifest["halo_base_url"])
            inputs.append(InputDataset(namespace, "api"))
        return inputs, [data.raw(entity, output=True, rows=rows) for entity, rows in sorted(counts.items())]
    if stage == "transform":
        manifest = read_json(lake.raw_manifest(snapshot_id)) if lake.has_raw(snapshot_id) else {}
        entities = sorted(e for e in manifest.get("counts", {}) if e != "request_log")
        rows = result.get("rows", {})
        outputs = [data.curated(t, output=True, rows=rows.get(t)) for t in model.CURATED_TABLES]
        return [data.raw(e, output=False) for e in entities], outputs
    if stage == "validate":
        quality = _quality_facets(lake, snapshot_id)
        tables = [t for t in model.CURATED_TABLES if t in quality] or list(model.CURATED_TABLES)
        inputs = [data.curated(t, output=False, input_facets=quality.get(t)) for t in tables]
        history = lake.dq_history_file(snapshot_id).parent.parent
        outputs = [data.table(history, model.DQ_HISTORY, output=True, rows=result.get("evaluated"))]
        if lake.curated_file("access_changes", snapshot_id).exists():
            outputs.append(data.curated("access_changes", output=True))
        return inputs, outputs
    if stage == "guard":
        return [data.curated(t, output=False) for t in ("resources", "grants")], []
    if stage == "package":
        inputs = [data.curated(t, output=False) for t in CURATED_INPUTS]
        return inputs, [data.c1z(output=True, size=result.get("size_bytes"))]
    if stage == "deliver":
        from openlineage.client.event_v2 import OutputDataset
        from openlineage.client.facet_v2 import output_statistics_output_dataset

        outputs = []
        if result.get("target"):
            namespace, name = location(result["target"].split(" ", 1)[0])
            statistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                size=result.get("size_bytes")
            )
            outputs.append(OutputDataset(namespace, name, outputFacets={"outputStatistics": statistics}))
        return [data.c1z(output=False, size=result.get("size_bytes"))], outputs
    raise ValueError(f"no lineage is defined for the task {stage!r}")


def openlineage_enabled() -> bool:
    """Whether the OpenLineage provider is installed and configured (its own rule: a transport,
    config file or URL is set and `[openlineage] disabled` is not)."""
    try:
        from airflow.providers.openlineage.conf import is_disabled
    except ImportError:
        return False
    return not is_disabled()


class StageOperator(_PythonDecoratedOperator):
    """A TaskFlow task running one halo-c1 stage; tells OpenLineage what the stage read and wrote.

    The lineage is worked out in the task itself, right after the stage (or its failure), with the
    task's own lake and settings; the provider's listener, which may run in a forked process with a
    time limit, only picks it up through `get_openlineage_facets_on_complete`/`_on_failure`. The
    plan (the task's first argument) gives the snapshot. A lineage problem is logged, never fails
    the task.
    """

    def execute(self, context: Any) -> Any:
        plan = self.op_args[0] if self.op_args else self.op_kwargs.get("plan")
        self._halo_lineage = None
        try:
            result = super().execute(context)
        except BaseException:
            self._halo_lineage = self._describe(plan, None)
            raise
        self._halo_lineage = self._describe(plan, result)
        return result

    def _describe(self, plan: Any, result: dict[str, Any] | None) -> Any:
        if not openlineage_enabled() or not isinstance(plan, dict) or "snapshot_id" not in plan:
            return None
        try:
            from airflow.providers.openlineage.extractors import OperatorLineage

            from halo_c1_airflow.settings import lake

            inputs, outputs = stage_lineage(self.task_id, lake(), plan["snapshot_id"], result)
            return OperatorLineage(inputs=inputs, outputs=outputs)
        except Exception as error:
            log.warning("no OpenLineage datasets for %s: %s", self.task_id, error, exc_info=True)
            return None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return getattr(self, "_halo_lineage", None)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return getattr(self, "_halo_lineage", None)


def stage_task(**kwargs: Any) -> TaskDecorator:
    """`@task(...)` for a stage task: the same TaskFlow task, as a `StageOperator`."""
    return task_decorator_factory(decorated_operator_class=StageOperator, **kwargs)
