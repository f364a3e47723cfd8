"""HaloITSM API paths: every id that goes into a URL path goes through `api_path`.

An id from HaloITSM or from C1 is data, never path syntax: `../Team/1`, `x?y=1`, `g#frag` or `g/`
must not reach another endpoint. `api_path` percent-encodes each segment whole (`/` becomes `%2F`,
`?` `%3F`, `#` `%23`) and refuses the segments no encoding makes safe (empty, `.` and `..`, which
URL normalisation removes). The client checks every path it is given with `check_path`, so a path
built by hand with an f-string cannot slip a query, a fragment or a dot segment through.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote, unquote

API_PREFIX: Final = "/api/"
_DOT_SEGMENTS: Final = frozenset({"", ".", ".."})


class UnsafePathError(ValueError):
    """A value cannot be one HaloITSM URL path segment, or a path is not a plain API path."""


def api_path(resource: str, *ids: str | int) -> str:
    """`/api/<resource>[/<id>...]`, each part quoted as one segment; raises `UnsafePathError` naming it."""
    segments = [resource, *(str(i) for i in ids)]
    for segment in segments:
        if segment in _DOT_SEGMENTS:
            raise UnsafePathError(f"{segment!r} cannot be a HaloITSM URL path segment")
    return API_PREFIX + "/".join(quote(segment, safe="") for segment in segments)


def check_path(path: str) -> str:
    """`path` if it is a plain `/api/...` path: no query, fragment, empty or dot segment (decoded or not)."""
    if not path.startswith(API_PREFIX) or "?" in path or "#" in path:
        raise UnsafePathError(f"{path!r} is not a plain HaloITSM API path")
    for segment in path.removeprefix(API_PREFIX).split("/"):
        if segment in _DOT_SEGMENTS or unquote(segment) in _DOT_SEGMENTS:
            raise UnsafePathError(f"{path!r} holds an empty or dot segment")
    return path
