"""The DAG file imports cleanly, follows the project's policies and parses without heavy imports."""

import copy
import itertools
import subprocess

import pytest

from tests.conftest import PROJECT
from tests.dags.conftest import heavy_modules_loaded_by_parsing, in_fresh_interpreter

DAG_ID = "haloitsm_to_c1"


def test_dag_folder_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert DAG_ID in dagbag.dag_ids


def test_every_dag_has_tags_and_retries_and_one_active_run(dagbag):
    for dag in dagbag.dags.values():
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.default_args.get("retries", 0) >= 2, (
            f"{dag.dag_id} retries transient failures too few times"
        )
        assert dag.max_active_runs == 1
        assert dag.catchup is False


def test_halo_requests_go_through_the_halo_api_pool(dagbag):
    dag = dagbag.get_dag(DAG_ID)
    assert dag.get_task("extract").pool == "halo_api"
    others = {t.task_id: t.pool for t in dag.tasks if t.task_id != "extract"}
    assert "halo_api" not in others.values()


def test_every_stage_retries_transient_failures_with_backoff(dagbag):
    """Bad data and safety gates fail at once (AirflowFailException); I/O hiccups get retries."""
    for task in dagbag.get_dag(DAG_ID).tasks:
        if task.task_id == "report":
            assert task.retries == 0
            continue
        assert task.retries >= 2, task.task_id
        assert task.retry_exponential_backoff, task.task_id


def test_stages_run_in_order(dagbag):
    dag = dagbag.get_dag(DAG_ID)
    chain = ["plan", "extract", "transform", "validate", "guard", "package", "deliver", "report"]
    for upstream, downstream in itertools.pairwise(chain):
        assert downstream in dag.get_task(upstream).downstream_task_ids, f"{upstream} -> {downstream}"


def test_the_graph_is_the_pipeline_one_edge_from_each_stage_to_the_next(dagbag):
    dag = dagbag.get_dag(DAG_ID)
    chain = ["plan", "extract", "transform", "validate", "guard", "package", "deliver", "report"]
    for upstream, downstream in itertools.pairwise(chain):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}, downstream


def test_manual_trigger_params_are_typed_and_defaulted(dagbag):
    params = dagbag.get_dag(DAG_ID).params
    assert params["dry_run"] is False
    assert params["allow_mass_deletion"] is False
    assert params["include_end_users"] is None
    # The trigger form shows a drop-down whose empty choice is "the connection's setting" (a boolean
    # would render as a toggle that shows "off" for empty and sends false once touched).
    end_users = params.get_param("include_end_users").schema
    assert end_users["type"] == ["null", "string"]
    assert end_users["enum"] == [None, "include", "exclude"]
    assert end_users["values_display"]["null"] == "The connection's setting"
    assert params.get_param("snapshot_id").schema["pattern"]


def test_dag_file_parses_without_heavy_imports():
    heavy = ["pandas", "pyarrow", "great_expectations", "halo_c1.transform", "halo_c1.halo"]
    assert heavy_modules_loaded_by_parsing(DAG_ID + ".py", heavy) == []


@pytest.mark.parametrize(
    "conf",
    [
        {"max_drop_ratio": 1.5},
        {"snapshot_id": "yesterday"},
        {"dry_run": "yes"},
        {"include_end_users": 1},
        {"include_end_users": False},
        {"include_end_users": "no"},
    ],
)
def test_invalid_manual_trigger_params_are_rejected(dagbag, conf):
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(dagbag.get_dag(DAG_ID).params)
    with pytest.raises(ParamValidationError):
        params.update(conf)
        params.validate()


def test_valid_manual_trigger_params_pass(dagbag):
    params = copy.deepcopy(dagbag.get_dag(DAG_ID).params)
    params.update({"max_drop_ratio": 0.3, "snapshot_id": "20261120T000000Z", "dry_run": True})
    assert params.validate()["max_drop_ratio"] == pytest.approx(0.3)


def _parsed_dagrun_timeout(**env: str) -> subprocess.CompletedProcess:
    """Parse the DAG file in a fresh interpreter with `env` and print its dagrun_timeout in seconds."""
    return in_fresh_interpreter(
        "from airflow.dag_processing.dagbag import DagBag;"
        f"bag = DagBag(dag_folder={str(PROJECT / 'dags' / (DAG_ID + '.py'))!r});"
        "print(bag.import_errors) if bag.import_errors else None;"
        f"print(int(bag.dags[{DAG_ID!r}].dagrun_timeout.total_seconds()))",
        **env,
    )


def test_the_run_timeout_comes_from_the_environment_at_parse_time():
    default = _parsed_dagrun_timeout()
    assert default.returncode == 0, default.stderr
    assert int(default.stdout.strip().splitlines()[-1]) == 2 * 3600
    raised = _parsed_dagrun_timeout(HALO_C1_DAGRUN_TIMEOUT_HOURS="8")
    assert raised.returncode == 0, raised.stderr
    assert int(raised.stdout.strip().splitlines()[-1]) == 8 * 3600
    bad = _parsed_dagrun_timeout(HALO_C1_DAGRUN_TIMEOUT_HOURS="eight")
    assert bad.returncode != 0  # the DAG is not loaded, and the import error says why
    assert "HALO_C1_DAGRUN_TIMEOUT_HOURS must be a positive number of hours" in bad.stdout + bad.stderr
