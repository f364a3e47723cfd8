"""Every module of the domain package and of its Airflow glue logs under the `halo_c1` logger, so
configuring `halo_c1` configures all of them."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import halo_c1
import halo_c1_airflow


def test_every_module_logger_is_under_halo_c1():
    names = [
        m.name
        for package in (halo_c1, halo_c1_airflow)
        for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        # pb: generated code; __main__ runs its command when imported, it is not a module that logs.
        if ".pb." not in m.name and not m.name.endswith(".__main__")
    ]
    loggers = {}
    for name in names:
        module = importlib.import_module(name)
        log = getattr(module, "log", None)
        if isinstance(log, logging.Logger):
            loggers[name] = log.name
    assert len(loggers) > 20
    assert {name for name in loggers if name.startswith("halo_c1_airflow.")} >= {
        "halo_c1_airflow.alerts",
        "halo_c1_airflow.stage",
    }
    outside = {module: name for module, name in loggers.items() if not name.startswith("halo_c1.")}
    assert outside == {}
