"""Every module of the domain package logs under the `halo_c1` logger, so configuring `halo_c1`
configures all of them."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import halo_c1


def test_every_module_logger_is_under_halo_c1():
    names = [m.name for m in pkgutil.walk_packages(halo_c1.__path__, "halo_c1.") if ".pb." not in m.name]
    loggers = {}
    for name in names:
        module = importlib.import_module(name)
        log = getattr(module, "log", None)
        if isinstance(log, logging.Logger):
            loggers[name] = log.name
    assert len(loggers) > 20
    outside = {module: name for module, name in loggers.items() if not name.startswith("halo_c1.")}
    assert outside == {}
