"""The one split every stage needs: a failure that retrying cannot fix, and everything else.

    PermanentError                 deterministic: the same input fails the same way on every retry
    ├── ConfigurationError         a connection, variable, param or delivery URL is missing or invalid
    │   (also a ValueError)        (bad credentials are `halo.errors.HaloAuthError`, a PermanentError too)
    └── ... each stage's own: RawSnapshotError, QualityGateError, MassDeletionError, C1zError,
        StaleSnapshotError, DeliveryRecordError, HaloConfigError, HaloAuthError, HaloResponseError
    StageSkipped                   not a failure: this run has nothing to do in the stage

The DAG maps a `PermanentError` to a failure without retry and `StageSkipped` to a skip, in one place
(`halo_c1_airflow.stage.run_stage`); anything else (I/O, network, a HaloITSM outage) is retried.
"""

from __future__ import annotations


class PermanentError(Exception):
    """A deterministic failure: the same input fails the same way on every retry."""


class ConfigurationError(PermanentError, ValueError):
    """A required Airflow connection, variable, run param or target setting is missing or invalid."""


class StageSkipped(Exception):
    """The stage has nothing to do for this run (e.g. no delivery in a dry run); the message says why."""
