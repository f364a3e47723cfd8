"""`[core] hostname_callable` for the distributed test: both Celery workers run on one machine, so
each names itself from `HALO_C1_TEST_WORKER`; that name lands in each task instance's `hostname`."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    worker = os.environ.get("HALO_C1_TEST_WORKER")
    return f"{worker}.{socket.getfqdn()}" if worker else socket.getfqdn()
