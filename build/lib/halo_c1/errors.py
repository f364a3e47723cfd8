"""The one split every stage needs: a failure that retrying cannot fix, and everything else.

Bad raw data, a failed quality gate, a blocked deletion guard, c1z limits, a stale snapshot, bad
configuration and bad credentials all subclass `PermanentError`; the DAG fails those on the first try
and retries anything else (I/O, network, a HaloITSM outage).
"""

from __future__ import annotations


class PermanentError(Exception):
    """A deterministic failure: the same input fails the same way on every retry."""
