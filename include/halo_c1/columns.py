"""Arrow column helpers the transform and the quality gate share (one definition each)."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def true_mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean column as a numpy mask, null read as false."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def join_ids(*parts: Any) -> pa.ChunkedArray:
    """Id columns joined with ':' row by row, as the model joins ids (`model.entitlement_id`, ...)."""
    return pc.binary_join_element_wise(*parts, ":")


# What Python's `\s` (and `str.isspace`) matches, spelled for RE2, Arrow's regex engine, where `\s`
# is ASCII whitespace only; the tests compare both on every code point.
RE2_WHITESPACE: Final = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)


def full_match(values: pa.ChunkedArray | pa.Array, regex: str) -> np.ndarray:
    """True where the whole value matches `regex` as `re.fullmatch` would (`\\s` only inside a
    [class]); true for nulls, which are the not-null check's business."""
    pattern = f"^(?:{regex.replace(chr(92) + 's', RE2_WHITESPACE)})$"
    return true_mask(pc.fill_null(pc.match_substring_regex(values, pattern), True))


def blank(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True where the value is null or only whitespace (`not value.strip()` in Python)."""
    return true_mask(pc.fill_null(pc.match_substring_regex(values, f"^[{RE2_WHITESPACE}]*$"), True))
