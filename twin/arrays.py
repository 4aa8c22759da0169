"""Where a study's city-sized arrays are made (pure).

An :data:`ArrayAlloc` makes a new (n,) array of a dtype set to a value. By default the
arrays are made in memory (:func:`full`); :class:`twin.io.scratch.ScratchFolder` makes
them in files instead (out of core). The computation takes the allocator as an
argument and does no I/O itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

#: ``alloc(n, dtype, fill)``: a new (n,) array of ``dtype`` set to ``fill``
ArrayAlloc = Callable[[int, npt.DTypeLike, Any], np.ndarray]


def full(n: int, dtype: npt.DTypeLike, fill: Any) -> np.ndarray:
    """A new (n,) array in memory (the default :data:`ArrayAlloc`)."""
    return np.full(n, fill, dtype=dtype)


def moved(a: np.ndarray, alloc: ArrayAlloc) -> np.ndarray:
    """A copy of the 1-D array ``a`` made by ``alloc``."""
    if a.ndim != 1:
        raise ValueError(f"moved: a 1-D array is needed, got shape {a.shape}")
    out = alloc(a.size, a.dtype, 0)
    out[:] = a
    return out
