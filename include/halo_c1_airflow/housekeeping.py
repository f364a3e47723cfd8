"""The housekeeping DAG's task: retention (from the variable `halo_c1_retention`) and stale temporary
files, on this tenant's lake."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from halo_c1_airflow.settings import lake, variable
from halo_c1_airflow.stage import airflow_verdicts

if TYPE_CHECKING:
    from halo_c1.retention import RetentionPolicy

RETENTION_VARIABLE = "halo_c1_retention"


def retention_policy() -> RetentionPolicy:
    """Retention from the JSON variable `halo_c1_retention`; unset = the defaults (30/90/90 days)."""
    from halo_c1.retention import RetentionConfigError, RetentionPolicy

    value = variable(RETENTION_VARIABLE, default=None)
    if value in (None, ""):
        return RetentionPolicy()
    try:
        settings = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as error:
        raise RetentionConfigError(f"variable {RETENTION_VARIABLE!r} is not JSON: {error.msg}") from None
    if not isinstance(settings, dict):
        raise RetentionConfigError(
            f'variable {RETENTION_VARIABLE!r} must be a JSON object like {{"raw_days": 30}}, got {settings!r}'
        )
    return RetentionPolicy.from_mapping(settings)


def housekeeping(dry_run: bool) -> dict[str, Any]:
    """The housekeeping task: retention on this tenant's lake, and stale temporary files a killed run
    left there. A `PermanentError` (bad settings, another tenant's folder) fails at once; I/O errors
    are retried."""
    from halo_c1.leftovers import sweep_lake
    from halo_c1.retention import apply_retention

    with airflow_verdicts():
        the_lake = lake()
        result = apply_retention(the_lake, retention_policy(), dry_run=dry_run).to_dict()
        if not dry_run:
            result["stale_temporaries_removed"] = len(sweep_lake(the_lake.base))
        return result
