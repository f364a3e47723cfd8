"""Checks computed in Arrow (gate and transform) agree with what Python (`re`, `str.strip`, GX) decides."""

from __future__ import annotations

import re
import sys

import pyarrow as pa
import pytest

from halo_c1 import model
from halo_c1.columns import blank, full_match
from halo_c1.quality.checks import _duplicates


def test_full_match_reads_whitespace_as_python_does_on_every_code_point():
    characters = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    values = pa.chunked_array([pa.array([f"a{c}b" for c in characters])])
    arrow = full_match(values, model.ID_REGEX)
    python = [re.fullmatch(model.ID_REGEX, f"a{c}b") is not None for c in characters]
    assert arrow.tolist() == python
    assert not all(python)  # whitespace and ':' are refused, so the comparison can fail


@pytest.mark.parametrize(
    "value",
    [
        "team:3:member:agent:12",
        "role:9f0c-ab:assigned:agent:1",
        "team:3:member:agent:12\n",
        "team:3:member:user:12",
        "team:3:owner:agent:12",
        "team::member:agent:12",
        "team:3 :member:agent:12",
        "team:3:member:agent:1\u00a02",
        "xteam:3:member:agent:12",
        "",
    ],
)
def test_full_match_of_grant_ids_is_re_fullmatch(value):
    regex = model.grant_id_regex()
    assert full_match(pa.chunked_array([[value]]), regex).tolist() == [re.fullmatch(regex, value) is not None]


def test_full_match_leaves_nulls_to_the_not_null_check():
    assert full_match(pa.chunked_array([[None, "a b"]], pa.string()), model.ID_REGEX).tolist() == [
        True,
        False,
    ]


def test_duplicates_names_every_repeated_value_and_nothing_else():
    values = pa.chunked_array([["a", "b", None], ["a", None, "c", "b", "d"]])
    assert _duplicates(values).to_pylist() == ["a", "b", None, "a", None, None, "b", None]


def test_blank_is_python_strip_on_every_code_point():
    characters = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    values = pa.array([f"{c}{c}" for c in characters] + [None, ""])
    assert blank(values).tolist() == [not f"{c}{c}".strip() for c in characters] + [True, True]
