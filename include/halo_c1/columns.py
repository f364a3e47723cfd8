"""Arrow column helpers the transform and the quality gate share (one definition each)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def true_mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean column as a numpy mask, null read as false."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def join_ids(*parts: Any) -> pa.ChunkedArray:
    """Id columns joined with ':' row by row, as the model joins ids (`model.entitlement_id`, ...)."""
    return pc.binary_join_element_wise(*parts, ":")
