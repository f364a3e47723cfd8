"""Run the ETL pipeline now, for a sync_full whose last delivered snapshot is too old.

The same stage functions as the `haloitsm_to_c1` DAG (`halo_c1.stages`), in the same order, so the
run goes through the same gate and guard and is recorded the same way; only the sequencing lives
here. A failure becomes `PipelineFailed(stage, reason)`, which the task handler sends to C1.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from halo_c1.c1.snapshots import Checkpoint, PipelineFailed

if TYPE_CHECKING:
    from halo_c1.stages import Environment

log = logging.getLogger(__name__)

STAGES = ("extract", "transform", "validate", "guard", "package", "deliver")


def run_pipeline(env: Environment, checkpoint: Checkpoint, *, now: datetime | None = None) -> str:
    """Plan a live run at `now`, run every stage, and return the delivered snapshot id."""
    from halo_c1 import stages
    from halo_c1.errors import PermanentError, StageSkipped

    def attempt(name: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (PermanentError, StageSkipped) as error:
            raise PipelineFailed(name, str(error), permanent=True) from error
        except Exception as error:
            raise PipelineFailed(name, f"{type(error).__name__}: {error}", permanent=False) from error

    moment = now or datetime.now(UTC)
    run = attempt(
        "plan",
        lambda: stages.plan(
            env,
            run_id=f"c1_sync_full__{moment.isoformat()}",  # its own record: the snapshot is taken now
            run_type="manual",
            params={},
            interval=None,
            now=moment,
        ),
    )
    log.info("Running the ETL pipeline for snapshot %s on C1's request", run.snapshot_id)
    for name in STAGES:
        checkpoint()
        attempt(name, lambda name=name: getattr(stages, name)(run, env))
        log.info("Stage %s done for snapshot %s", name, run.snapshot_id)
    return run.snapshot_id
