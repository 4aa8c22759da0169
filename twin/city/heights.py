"""Building heights from OSM tags (pure).

Order of precedence (``height_source`` records which one applied):

1. ``height`` / ``building:height``: a length, parsed by :func:`parse_length_m`;
2. ``building:levels`` x storey height (+ ``roof:levels`` x storey height);
3. a default per building type (:data:`TYPE_DEFAULT_HEIGHT_M`);
4. a global default.

The bottom of the prism comes from ``min_height`` or ``building:min_level`` x storey height.
A structure with open sides (``building=roof``, ``carport``: a roof on pillars, OSM's
building wiki) that has neither is the slab of its roof alone, its top
:data:`OPEN_SIDED_SLAB_M` deep: under it is outdoors and a ray passes beneath it.
"""

from __future__ import annotations

import math
import re
from typing import Any

FEET_TO_M = 0.3048
INCH_TO_M = 0.0254

#: Building types that are a roof without walls (OSM: "a structure that consists of a
#: roof with open sides"); pillars are not modelled.
OPEN_SIDED_KINDS: tuple[str, ...] = ("roof", "carport")
#: Depth of such a roof's slab when no ``min_height`` / ``building:min_level`` gives its
#: underside, m: an assumption (a canopy's deck and beams), not from the data.
OPEN_SIDED_SLAB_M = 1.0

#: Heights used when a building has neither a height nor levels, by its ``building`` tag.
#: Typical storey counts x 3 m; a documented assumption, editable per run.
TYPE_DEFAULT_HEIGHT_M: dict[str, float] = {
    "house": 6.0,
    "detached": 6.0,
    "semidetached_house": 6.0,
    "terrace": 9.0,
    "bungalow": 4.0,
    "cabin": 3.0,
    "hut": 3.0,
    "shed": 3.0,
    "garage": 3.0,
    "garages": 3.0,
    "carport": 3.0,
    "roof": 4.0,
    "kiosk": 3.0,
    "toilets": 3.0,
    "service": 4.0,
    "transformer_tower": 6.0,
    "apartments": 15.0,
    "residential": 12.0,
    "dormitory": 15.0,
    "hotel": 18.0,
    "commercial": 12.0,
    "office": 18.0,
    "retail": 6.0,
    "supermarket": 6.0,
    "industrial": 9.0,
    "warehouse": 9.0,
    "school": 12.0,
    "university": 15.0,
    "college": 12.0,
    "hospital": 18.0,
    "public": 12.0,
    "civic": 12.0,
    "government": 15.0,
    "church": 18.0,
    "cathedral": 30.0,
    "chapel": 8.0,
    "mosque": 15.0,
    "train_station": 12.0,
    "stadium": 20.0,
    "parking": 9.0,
}

_LENGTH_RE = re.compile(
    r"^\s*(?P<num>[-+]?\d+(?:[.,]\d+)?)\s*(?P<unit>m|meters?|metres?|ft|feet|foot|'|’)?\s*"
    r"(?:(?P<inch>\d+(?:[.,]\d+)?)\s*(?:\"|in|”|''))?\s*$",
    re.IGNORECASE,
)


def parse_length_m(value: Any) -> float | None:
    """Parse an OSM length tag to metres; ``None`` when missing or unparsable.

    Accepts ``12``, ``12 m``, ``12.5m``, ``12,5``, ``40 ft``, ``40'``, ``40'6"``; a list
    separated by ``;`` takes the largest value.
    """
    if value is None:
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if math.isfinite(f) else None
    text = str(value).strip()
    if not text:
        return None
    if ";" in text:
        parts = [parse_length_m(p) for p in text.split(";")]
        good = [p for p in parts if p is not None]
        return max(good) if good else None
    m = _LENGTH_RE.match(text)
    if not m:
        return None
    num = float(m.group("num").replace(",", "."))
    unit = (m.group("unit") or "m").lower()
    if unit in ("ft", "feet", "foot", "'", "’"):
        metres = num * FEET_TO_M
        if m.group("inch"):
            metres += float(m.group("inch").replace(",", ".")) * INCH_TO_M
        return metres
    if m.group("inch"):
        return None
    return num


def parse_levels(value: Any) -> float | None:
    """Parse ``building:levels``-like tags (``3``, ``3.5``, ``3;4`` -> 4); ``None`` if unusable."""
    if value is None:
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if math.isfinite(f) and f >= 0 else None
    text = str(value).strip().replace(",", ".")
    if ";" in text:
        vals = [parse_levels(p) for p in text.split(";")]
        good = [v for v in vals if v is not None]
        return max(good) if good else None
    try:
        f = float(text)
    except ValueError:
        return None
    return f if math.isfinite(f) and f >= 0 else None


def building_height(
    tags: dict[str, Any],
    *,
    storey_height_m: float = 3.0,
    default_height_m: float = 10.0,
    type_defaults_m: dict[str, float] | None = None,
) -> tuple[float, float, str]:
    """Height, min height (m) and ``height_source`` of one building from its tags.

    ``height_source`` is one of ``height``, ``levels``, ``type_default``, ``default``.
    A min height not below the height is ignored (set to 0); an open-sided structure
    (:data:`OPEN_SIDED_KINDS`) without one is its top :data:`OPEN_SIDED_SLAB_M`.
    """
    defaults = TYPE_DEFAULT_HEIGHT_M if type_defaults_m is None else type_defaults_m
    height: float | None = None
    source = "default"
    for key in ("height", "building:height"):
        h = parse_length_m(tags.get(key))
        if h is not None and h > 0:
            height, source = h, "height"
            break
    if height is None:
        levels = parse_levels(tags.get("building:levels"))
        if levels is not None and levels > 0:
            roof = parse_levels(tags.get("roof:levels")) or 0.0
            height, source = (levels + roof) * storey_height_m, "levels"
    if height is None:
        kind = str(tags.get("building") or "")
        if kind in defaults:
            height, source = defaults[kind], "type_default"
    if height is None:
        height = default_height_m
    min_height = parse_length_m(tags.get("min_height"))
    if min_height is None:
        min_level = parse_levels(tags.get("building:min_level"))
        if min_level is not None:
            min_height = min_level * storey_height_m
        elif str(tags.get("building") or "") in OPEN_SIDED_KINDS:
            min_height = max(0.0, height - OPEN_SIDED_SLAB_M)  # the roof's slab alone
        else:
            min_height = 0.0
    if not (0.0 <= min_height < height):
        min_height = 0.0
    return float(height), float(min_height), source
