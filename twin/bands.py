"""Frequency bands: parsing and the labels used in output names.

A band label is the frequency in GHz with ``p`` for the decimal point and no trailing
zeros: 0.7 GHz -> ``0p7``, 3.5 GHz -> ``3p5``, 28 GHz -> ``28``.
"""

from __future__ import annotations

from collections.abc import Iterable

from twin.errors import InputError

#: Frequencies any model of the twin accepts (TR 38.901 covers 0.5-100 GHz; Hata goes lower).
MIN_FREQ_GHZ = 0.15
MAX_FREQ_GHZ = 100.0


def band_label(freq_ghz: float) -> str:
    """Label of a band, e.g. ``3.5 -> "3p5"``, ``28 -> "28"``, ``0.7 -> "0p7"``."""
    text = f"{float(freq_ghz):.6f}".rstrip("0").rstrip(".")
    return text.replace(".", "p")


def parse_bands(value: str | Iterable[float], *, name: str = "--bands") -> tuple[float, ...]:
    """Parse a comma-separated list (``"0.7,3.5,28"``) or a sequence into sorted unique GHz.

    Raises
    ------
    InputError
        When an entry is not a number or lies outside ``MIN_FREQ_GHZ``-``MAX_FREQ_GHZ``.
    """
    items: list[object]
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    else:
        items = list(value)
    if not items:
        raise InputError(f"{name}: no band given; give frequencies in GHz, e.g. 0.7,3.5,28")
    out: list[float] = []
    for item in items:
        try:
            f = float(item)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(
                f"{name}: {item!r} is not a frequency; give numbers in GHz, e.g. 0.7,3.5,28"
            ) from None
        if not (MIN_FREQ_GHZ <= f <= MAX_FREQ_GHZ):
            raise InputError(
                f"{name}: {f:g} GHz is outside the allowed range "
                f"{MIN_FREQ_GHZ:g}-{MAX_FREQ_GHZ:g} GHz"
            )
        out.append(f)
    return tuple(sorted(set(out)))
