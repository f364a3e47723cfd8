"""A fake ConductorOne for tests: gRPC BatonService over TLS + HTTPS token endpoint, on 127.0.0.1.

    with running_fake_c1(tmp_path) as c1:
        task_id = c1.enqueue_grant("team:3:member", principal_id="12")
        ...run the connector (dag.test, or halo_c1.c1 directly) with c1.connection() / c1.settings()...
        finish = c1.finished(task_id)                  # the FinishTask request C1 received
        c1.grant_response(task_id).grants[0].id        # success.response unpacked
        c1.annotation_names(task_id)                   # e.g. ["GrantAlreadyExists"]

Fixtures (tests/fake_c1/fixtures.py, loaded by tests/conftest.py): `fake_c1` (fresh per test) and
`fake_c1_env` (also sets AIRFLOW_CONN_CONDUCTORONE_DEFAULT for Airflow runs).

Both servers use one throw-away CA (`c1.ca_file`), made with `cryptography`; the client trusts it
through the connection's `ca_bundle` extra, exactly as production trusts a private CA. Switches:
`c1.tokens.fail_status`, `.expires_in`, `.empty_token`, `.expire_tokens()`; `c1.baton.get_task_errors`,
`.drop_uploads`, `.cancel_after_beats[task_id]`, `.next_poll_s`, `.next_heartbeat_s`.
"""

from tests.fake_c1.fake import FakeC1, running_fake_c1

__all__ = ["FakeC1", "running_fake_c1"]
