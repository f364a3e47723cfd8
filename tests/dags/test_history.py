"""`halo-c1 history` after two real DAG runs with the simulator's tenant changed in between.

The DAG runs twice with `dag.test()` against the HaloITSM simulator (a real HTTP server); between the
runs the test changes the simulator's tenant (an agent disabled, one removed, one added, a grant
removed, a role given, a grant's origin changed). What each question must answer comes from the
simulator's own account of the tenant at each time (`Tenant.memberships()` and its agent rows), never
from the pipeline's tables. Every question is asked of the local lake and of the same lake copied to
an S3 server (moto on 127.0.0.1); changes, evidence and the snapshot in effect also of a copy on Azure
Blob (Azurite). All through the command line's own entry point.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from halo_c1.cli import main
from halo_c1.lake import snapshot_time
from halo_c1.tenancy import TenantIdentity, tenant_folder
from tests.conftest import PROJECT
from tests.integration.conftest import UNTHROTTLED, airflow_halo_connection

if TYPE_CHECKING:
    from tests.integration.azurite_server import AzureBlobServer
    from tests.integration.s3_server import S3Server

pytest_plugins = ["tests.integration.s3_server", "tests.integration.azurite_server"]
pytestmark = pytest.mark.dag

DEV_ID, DEV_SECRET = "halo-c1-dev", "halo-c1-dev-secret"
SLUG = {"team": "member", "department": "member", "role": "assigned"}


@dataclass(frozen=True)
class Truth:
    """The tenant as the simulator holds it: grants (id -> (direct, via role ids)) and accounts
    (`agent:<id>` -> (name, status))."""

    grants: dict[str, tuple[bool, tuple[str, ...]]]
    accounts: dict[str, tuple[str, str]]

    def holders(self, entitlement: str) -> dict[str, tuple[bool, tuple[str, ...]]]:
        prefix = f"{entitlement}:"
        return {g.removeprefix(prefix): v for g, v in self.grants.items() if g.startswith(prefix)}

    def access(self, account: str) -> dict[str, tuple[bool, tuple[str, ...]]]:
        suffix = f":{account}"
        return {g.removesuffix(suffix): v for g, v in self.grants.items() if g.endswith(suffix)}


def truth_of(tenant: Any) -> Truth:
    grants = {
        f"{m.resource_type}:{m.resource_id}:{SLUG[m.resource_type]}:agent:{m.agent_id}": (
            m.direct,
            m.via_roles,
        )
        for m in tenant.memberships()
        if m.agent_id != tenant.unassigned_agent_id
    }
    accounts = {
        f"agent:{int(a['id'])}": (a["name"].strip(), "DISABLED" if a["isdisabled"] else "ENABLED")
        for a in tenant.agents
        if int(a["id"]) != tenant.unassigned_agent_id
    }
    return Truth(grants, accounts)


def change_tenant(tenant: Any) -> dict[str, str]:
    """Change the running simulator's tenant in every way `history changes` reports; the accounts used."""
    pool = [a for a in tenant.non_system_agents() if not a["isdisabled"] and not a["isapiagent"]]
    template = copy.deepcopy(next(a for a in pool if a["teams"]))

    def pick(wanted: Any) -> dict[str, Any]:
        agent = next(a for a in pool if wanted(a))
        pool.remove(agent)
        return agent

    disabled, removed = pick(lambda a: True), pick(lambda a: True)
    gainer = pick(lambda a: len(a["roles"]) < len(tenant.roles))
    loser = pick(lambda a: a["teams"])
    shifted = pick(lambda a: any(row.get("role_id") in (None, "") for row in a["teams"]))
    disabled["isdisabled"] = True
    tenant.agents.remove(removed)
    role = next(r for r in tenant.roles if all(str(r["id"]) != str(x["id"]) for x in gainer["roles"]))
    gainer["roles"].append({"id": role["id"], "name": role["name"], "id_int": role["id_int"]})
    loser["teams"].pop()
    direct = next(row for row in shifted["teams"] if row.get("role_id") in (None, ""))
    direct["role_id"], direct["role_name"] = role["id"], role["name"]  # now only inherited, via `role`
    newcomer = template
    new_id = max(int(a["id"]) for a in tenant.agents) + 1
    newcomer.update({"id": new_id, "name": "Nadia Newcomer", "email": "nadia.newcomer@acme.example"})
    newcomer["departments"], newcomer["roles"] = [], []
    newcomer["teams"] = [{**newcomer["teams"][0], "agent_id": new_id, "role_id": None}]
    tenant.agents.append(newcomer)
    return {
        "disabled": f"agent:{disabled['id']}",
        "removed": f"agent:{removed['id']}",
        "added": f"agent:{new_id}",
        "gainer": f"agent:{gainer['id']}",
        "role": f"role:{role['id']}:assigned",
    }


@dataclass
class World:
    """Two runs' lake and what the simulator held at each."""

    lake_base: Path
    tenant_lake: Path
    first: str
    second: str
    between: datetime
    before: Truth
    after: Truth
    changed: dict[str, str]


@pytest.fixture(scope="module")
def world(dagbag, tmp_path_factory) -> Iterator[World]:
    from dev.halo_simulator import SimulatorConfig, TenantSpec, running_simulator

    tmp = tmp_path_factory.mktemp("history")
    spec = TenantSpec(seed=23, agents=30, users=40, teams=5, roles=4, departments=3)
    config = SimulatorConfig(tenant=spec, client_id=DEV_ID, client_secret=DEV_SECRET)
    with running_simulator(config) as sim, pytest.MonkeyPatch.context() as env:
        base, delivered = tmp / "lake", tmp / "c1" / "sync.c1z"
        env.setenv(
            "AIRFLOW_CONN_HALOITSM_DEFAULT", airflow_halo_connection(sim, tenant="demo", **UNTHROTTLED)
        )
        env.setenv("AIRFLOW_VAR_HALO_C1_LAKE_URL", f"file://{base}")
        env.setenv("AIRFLOW_VAR_HALO_C1_DELIVERY_URL", f"file://{delivered}")
        dag = dagbag.get_dag("haloitsm_to_c1")

        def run(logical_date: datetime) -> str:
            dag_run = dag.test(logical_date=logical_date, run_conf={})
            assert str(dag_run.state) == "success", {t.task_id: t.state for t in dag_run.get_task_instances()}
            return dag_run.get_task_instance("plan").xcom_pull(task_ids="plan")["snapshot_id"]

        first = run(datetime(2026, 11, 20, 8, tzinfo=UTC))
        before = truth_of(sim.tenant)
        time.sleep(1.1)  # snapshot ids are to the second: the moment between is after the first one
        between = datetime.now(UTC)
        time.sleep(1.1)  # and the second run's snapshot, named to the second, is a later second than it
        changed = change_tenant(sim.tenant)
        after = truth_of(sim.tenant)
        second = run(datetime(2026, 11, 20, 9, tzinfo=UTC))
        folder = tenant_folder(TenantIdentity.from_connection(sim.base_url, "demo"))
        yield World(base, base / folder, first, second, between, before, after, changed)


@pytest.fixture(scope="module")
def s3_lake(world: World, s3_server: S3Server) -> str:
    """The same lake, copied object by object to the S3 server (a bucket of its own)."""
    bucket = s3_server.create_bucket("history-lake")
    client = s3_server.client()
    for path in world.lake_base.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), bucket, f"halo/{path.relative_to(world.lake_base)}")
    return f"s3://{bucket}/halo"


@pytest.fixture(scope="module")
def azure_lake(world: World, azurite: AzureBlobServer) -> str:
    """The same lake, copied blob by blob to Azurite (a container of its own)."""
    container = azurite.service().get_container_client(azurite.create_container("history-lake"))
    for path in world.lake_base.rglob("*"):
        if path.is_file():
            container.upload_blob(f"halo/{path.relative_to(world.lake_base)}", path.read_bytes())
    return "abfs://history-lake/halo"


EVERY_LAKE = ["file", "s3", "azure"]


@pytest.fixture(params=["file", "s3"])
def lake_url(request, world: World, monkeypatch) -> str:
    """The lake base URL the CLI is given: the local lake, its S3 copy (credentials from AWS_*) or its
    Azure Blob copy (AZURE_STORAGE_CONNECTION_STRING)."""
    if request.param == "file":
        return str(world.lake_base)
    if request.param == "azure":
        server: AzureBlobServer = request.getfixturevalue("azurite")
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", server.connection_string)
        return request.getfixturevalue("azure_lake")
    s3: S3Server = request.getfixturevalue("s3_server")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return request.getfixturevalue("s3_lake")


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["history", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ask(capsys, *args: str) -> dict[str, Any]:
    code, out, err = cli(capsys, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def _as_grants(rows: list[dict[str, Any]], key: str) -> dict[str, tuple[bool, tuple[str, ...]]]:
    return {row[key]: (row["direct"], tuple(row["via_role_ids"])) for row in rows}


def test_holders_of_every_entitlement_at_both_times(world: World, lake_url: str, capsys):
    entitlements = {g.rsplit(":agent:", 1)[0] for g in world.before.grants | world.after.grants}
    for at, truth, snapshot in (
        (world.between, world.before, world.first),
        (None, world.after, world.second),
    ):
        for entitlement in sorted(entitlements):
            expected = truth.holders(entitlement)
            at_args = ["--at", at.isoformat()] if at else []
            code, out, err = cli(
                capsys, "holders", entitlement, "--lake", lake_url, *at_args, "--format", "json"
            )
            if not expected:  # an entitlement held by no one may not exist then
                assert code == 0 or "does not exist" in err
                continue
            answer = json.loads(out)
            assert answer["snapshots"]["in effect"]["snapshot_id"] == snapshot
            assert _as_grants(answer["rows"], "account") == expected, (entitlement, snapshot)
            for row in answer["rows"]:
                assert (row["account_name"], row["status"]) == truth.accounts[row["account"]]
                assert len(row["via_role_names"]) == len(row["via_role_ids"])
            assert answer["subject"]["entitlement_name"]


def test_access_of_every_account_at_both_times(world: World, lake_url: str, capsys):
    for at, truth, snapshot in (
        (world.between, world.before, world.first),
        (None, world.after, world.second),
    ):
        for account, (name, status) in truth.accounts.items():
            at_args = ["--at", at.isoformat()] if at else []
            answer = ask(capsys, "access", account, "--lake", lake_url, *at_args)
            assert answer["snapshots"]["in effect"]["snapshot_id"] == snapshot
            assert (answer["subject"]["account_name"], answer["subject"]["status"]) == (name, status)
            assert _as_grants(answer["rows"], "entitlement_id") == truth.access(account), account
            for row in answer["rows"]:
                assert row["entitlement_name"] and row["resource_name"]


@pytest.mark.parametrize("lake_url", EVERY_LAKE, indirect=True)
def test_changes_between_the_runs_are_what_the_test_changed(world: World, lake_url: str, capsys):
    answer = ask(capsys, "changes", "--from", world.first, "--to", world.second, "--lake", lake_url)
    assert answer["snapshots"]["from"]["snapshot_id"] == world.first
    assert answer["snapshots"]["to"]["snapshot_id"] == world.second
    got: dict[str, set[str]] = {}
    for row in answer["rows"]:
        key = f"{row['entitlement_id']}:{row['account']}" if row["entitlement_id"] else row["account"]
        got.setdefault(row["change"], set()).add(key)
        assert row["account_name"]
    before, after = world.before, world.after
    expected = {
        "grant_added": set(after.grants) - set(before.grants),
        "grant_removed": set(before.grants) - set(after.grants),
        "grant_origin_changed": {
            g for g in set(before.grants) & set(after.grants) if before.grants[g] != after.grants[g]
        },
        "account_added": set(after.accounts) - set(before.accounts),
        "account_removed": set(before.accounts) - set(after.accounts),
        "account_disabled": {
            a
            for a in set(before.accounts) & set(after.accounts)
            if before.accounts[a][1] != after.accounts[a][1]
        },
    }
    assert got == {change: ids for change, ids in expected.items() if ids}
    assert expected["account_disabled"] == {world.changed["disabled"]}
    assert expected["account_removed"] == {world.changed["removed"]}
    assert expected["account_added"] == {world.changed["added"]}
    assert f"{world.changed['role']}:{world.changed['gainer']}" in expected["grant_added"]
    assert expected["grant_origin_changed"]


@pytest.mark.parametrize("lake_url", EVERY_LAKE, indirect=True)
def test_evidence_pack_matches_the_tenant_and_verifies(world: World, lake_url: str, capsys, tmp_path):
    out = tmp_path / "pack"
    manifest = ask(
        capsys, "evidence", "--at", world.between.isoformat(), "--out", str(out), "--lake", lake_url
    )

    assert manifest["snapshot_id"] == world.first
    assert manifest["taken_at"] == snapshot_time(world.first).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert manifest["tenant"]["folder"] == world.tenant_lake.name
    assert manifest["tenant"]["tenant"] == "demo"
    with (out / "grants.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    grants = {
        f"{r['entitlement_id']}:{r['account']}": (
            r["direct"] == "true",
            tuple(filter(None, r["via_role_ids"].split(";"))),
        )
        for r in rows
    }
    assert grants == world.before.grants
    assert all(r["account_name"] == world.before.accounts[r["account"]][0] for r in rows)
    assert manifest["files"]["grants.csv"]["rows"] == len(rows)
    with (out / "accounts.csv").open() as handle:
        agents = {
            r["account"]: (r["account_name"], r["status"])
            for r in csv.DictReader(handle)
            if r["account"].startswith("agent:")
        }
    assert agents == world.before.accounts

    assert cli(capsys, "verify", str(out))[0] == 0
    assert subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=out, check=False).returncode == 0
    with (out / "grants.csv").open("a") as handle:
        handle.write("role:x:assigned,Forged,,,agent:999,,,,true,,\n")
    code, _, err = cli(capsys, "verify", str(out))
    assert code == 1 and "grants.csv: SHA-256 differs" in err
    assert (
        subprocess.run(
            ["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=out, check=False, capture_output=True
        ).returncode
        != 0
    )
    code, _, err = cli(capsys, "evidence", "--out", str(out), "--lake", lake_url)
    assert code == 1 and "not empty" in err


@pytest.mark.parametrize("lake_url", EVERY_LAKE, indirect=True)
def test_the_snapshot_in_effect_is_the_newest_at_or_before_the_time(world: World, lake_url: str, capsys):
    account = world.changed["gainer"]
    early = snapshot_time(world.first) - timedelta(seconds=1)
    code, _, err = cli(capsys, "access", account, "--lake", lake_url, "--at", early.isoformat())
    assert code == 1
    assert "no snapshot that passed the quality gate was taken at or before" in err
    assert f"the earliest is {world.first}" in err
    assert (
        ask(capsys, "access", account, "--lake", lake_url, "--at", world.first)["snapshots"]["in effect"][
            "snapshot_id"
        ]
        == world.first
    )
    code, out, _ = cli(capsys, "access", account, "--lake", lake_url)
    assert code == 0
    assert out.splitlines()[1].startswith(f"in effect: snapshot {world.second} (taken ")
    assert "quality gate passed; delivered to C1" in out.splitlines()[1]
    code, _, err = cli(capsys, "access", world.changed["removed"], "--lake", lake_url)
    assert (
        code == 1 and f"account {world.changed['removed']!r} does not exist in snapshot {world.second}" in err
    )


def test_csv_output_names_the_snapshot_on_every_row(world: World, capsys):
    code, out, err = cli(
        capsys, "holders", world.changed["role"], "--lake", str(world.lake_base), "--format", "csv"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["in_effect_snapshot_id"] for r in rows} == {world.second}
    assert {r["account"] for r in rows} == set(world.after.holders(world.changed["role"]))
    assert f"in effect: snapshot {world.second}" in err


def test_the_command_runs_from_a_clone_on_the_s3_lake(world: World, s3_server: S3Server, s3_lake: str):
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": f"{PROJECT / 'include'}",
        "AWS_ACCESS_KEY_ID": s3_server.key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret,
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "HALO_C1_LAKE_URL": s3_lake,
    }
    account = world.changed["added"]
    result = subprocess.run(
        [sys.executable, "-m", "halo_c1", "history", "access", account],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"access of {account} (Nadia Newcomer, ENABLED)" in result.stdout
    assert f"in effect: snapshot {world.second}" in result.stdout
    for entitlement in world.after.access(account):
        assert entitlement in result.stdout
