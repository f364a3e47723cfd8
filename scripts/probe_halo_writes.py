"""Learn once how a real HaloITSM tenant treats written team/role lists, before enabling provisioning.

Run it on a DISPOSABLE agent (a test agent nobody uses; it changes the agent's teams and roles and
restores them at the end), with two teams the agent is not in and, if you can, a role that brings a
team with it:

    AIRFLOW_CONN_HALOITSM_DEFAULT='{"conn_type":"http","host":"https://acme.haloitsm.com",...}' \\
    python -m scripts.probe_halo_writes --agent 123 --team 7 --team 9 --role <role guid> \\
        --i-understand-agent-123-will-be-changed

It answers the open questions of c1-service-mode.md §6 [O] with what the tenant did:

- `add`: posting `teams` = the direct rows + one new row adds it (and keeps the others)?
- `remove`: posting `teams` without a row removes it (replace), or not (merge / dropped removal)?
- `empty`: posting `teams: []` removes the last row, or is the empty list ignored?
- `inherited`: posting only the direct rows keeps the role-inherited rows (HaloITSM recomputes
  them), or drops them? (Needs `--role`.)
- `roles`: the same add/remove for `roles`, and which team rows the role brought.

and prints the list semantic it saw (`replace` is what provisioning needs for revokes; with any
other, grants still work and revokes end in a clear INTERNAL error instead of a silent wrong
state). The report is JSON on stdout; exit status 0 when the tenant behaves as `replace`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from halo_c1.halo.client import HaloClient
from halo_c1.halo.settings import HaloSettings
from halo_c1.provision.access import AgentAccess, describe, diff

log = logging.getLogger("halo_c1.probe")


class Probe:
    def __init__(self, client: HaloClient, agent_id: int) -> None:
        self.client = client
        self.agent_id = agent_id
        self.steps: list[dict[str, Any]] = []

    def read(self) -> AgentAccess:
        payload = self.client.get_json(f"/api/Agent/{self.agent_id}", {"includedetails": "true"})
        return AgentAccess.from_payload(payload, self.agent_id)

    def post(self, step: str, key: str, rows: list[dict[str, Any]], question: str) -> dict[str, Any]:
        before = self.read()
        self.client.post_json("/api/Agent", [{"id": self.agent_id, key: rows}])
        after = self.read()
        change = diff(before.facts(), after.facts())
        result = {"step": step, "question": question, "posted": len(rows), "change": describe(change)}
        result["facts_after"] = sorted(after.facts())
        self.steps.append(result)
        log.info("%s: %s -> %s", step, question, result["change"])
        return result


def direct_rows(access: AgentAccess, without: str | None = None) -> list[dict[str, Any]]:
    return [r for r in access.direct_team_rows() if without is None or access.team_of(r) != without]


def run_probe(client: HaloClient, agent_id: int, teams: list[str], role: str | None) -> dict[str, Any]:
    probe = Probe(client, agent_id)
    original = probe.read()
    team_a, team_b = teams
    held = {original.team_of(r) for r in original.direct_team_rows()}
    if held & {team_a, team_b}:
        raise SystemExit(f"agent {agent_id} is already a direct member of team {held & {team_a, team_b}}")
    verdict: dict[str, Any] = {"agent": agent_id, "original": sorted(original.facts())}
    try:
        added = probe.post(
            "add",
            "teams",
            [*direct_rows(original), {"team_id": int(team_a), "agent_id": agent_id}],
            "add team A",
        )
        both = probe.read()
        probe.post(
            "add_second",
            "teams",
            [*direct_rows(both), {"team_id": int(team_b), "agent_id": agent_id}],
            "add B",
        )
        removed = probe.post(
            "remove", "teams", direct_rows(probe.read(), without=team_a), "post the list without A"
        )
        verdict["teams_add_works"] = f"+team:{team_a}" in added["change"]
        verdict["teams_remove_works"] = f"-team:{team_a}" in removed["change"]
        if not direct_rows(original):
            empty = probe.post("empty", "teams", [], "post an empty teams list (the last row)")
            verdict["teams_empty_list_works"] = f"-team:{team_b}" in empty["change"]
        else:
            verdict["teams_empty_list_works"] = None  # untested: the agent had direct teams of its own
        if role:
            now = probe.read()
            granted = probe.post("role_add", "roles", [*now.roles, {"id": role}], "add the role")
            verdict["roles_add_works"] = f"+role:{role.lower()}" in granted["change"]
            verdict["role_brings"] = [
                c for c in granted["change"].split(", ") if f"<-role:{role.lower()}" in c
            ]
            kept = probe.post(
                "inherited", "teams", direct_rows(probe.read()), "post direct rows only (inherited omitted)"
            )
            verdict["inherited_rows_survive_a_teams_write"] = kept["change"] == "no change"
            now = probe.read()
            dropped = probe.post(
                "role_remove",
                "roles",
                [r for r in now.roles if now.role_of(r) != role.lower()],
                "post the roles without the role",
            )
            verdict["roles_remove_works"] = f"-role:{role.lower()}" in dropped["change"]
    finally:
        restore(probe, original)
        verdict["restored"] = probe.read().facts() == original.facts()
    verdict["semantics"] = semantics_of(verdict)
    verdict["steps"] = probe.steps
    return verdict


def restore(probe: Probe, original: AgentAccess) -> None:
    """Post the original direct teams and roles back (best effort; the report says if it worked)."""
    for key, rows in (("roles", list(original.roles)), ("teams", direct_rows(original))):
        try:
            probe.client.post_json("/api/Agent", [{"id": probe.agent_id, key: rows}])
        except Exception as exc:
            log.error("could not restore %s of agent %s: %s", key, probe.agent_id, exc)


def semantics_of(verdict: dict[str, Any]) -> str:
    if not verdict.get("teams_add_works"):
        return "unknown (adding a team did not work: check the API application's permissions)"
    if not verdict.get("teams_remove_works"):
        return "merge or drop_removal (removals are not applied: revokes will fail with INTERNAL)"
    if verdict.get("teams_empty_list_works") is False:
        return "ignore_empty (the last team cannot be revoked: such revokes fail with INTERNAL)"
    return "replace"


def settings_from_env() -> HaloSettings:
    raw = os.environ.get("AIRFLOW_CONN_HALOITSM_DEFAULT")
    if not raw:
        raise SystemExit("set AIRFLOW_CONN_HALOITSM_DEFAULT (the connection JSON halo-c1 uses)")
    conn = json.loads(raw)
    return HaloSettings.from_connection_fields(
        conn.get("host"), conn.get("login"), conn.get("password"), conn.get("extra")
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    p = argparse.ArgumentParser(
        prog="python -m scripts.probe_halo_writes", description=__doc__.split("\n")[0]
    )
    p.add_argument("--agent", type=int, required=True, help="a disposable test agent's id")
    p.add_argument("--team", action="append", required=True, help="a team the agent is not in (twice)")
    p.add_argument("--role", help="a role the agent does not hold, ideally one that brings a team")
    args, rest = p.parse_known_args(argv)
    if rest != [f"--i-understand-agent-{args.agent}-will-be-changed"]:
        p.error(
            f"pass --i-understand-agent-{args.agent}-will-be-changed (this changes the agent, then restores it)"
        )
    if len(args.team) != 2:
        p.error("give exactly two --team ids")
    with HaloClient(settings_from_env()) as client:
        verdict = run_probe(client, args.agent, [str(int(t)) for t in args.team], args.role)
    print(json.dumps(verdict, indent=2))
    return 0 if verdict["semantics"] == "replace" and verdict["restored"] else 1


if __name__ == "__main__":
    sys.exit(main())
