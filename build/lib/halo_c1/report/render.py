"""The one Jinja2 environment of the reports: templates from this package, autoescape always on."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("halo_c1.report", "templates"),
        autoescape=True,  # every template, whatever its name: HaloITSM values reach these pages
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> str:
    """The named template rendered with `context`."""
    return _environment().get_template(template).render(**context)
