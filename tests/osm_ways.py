"""The street ways of a real extract read with pyosmium alone, split into those under
cover and those under open sky, and those on bridges: the reference that the tests of the street receivers,
the street sites and the street graph check the twin against."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer

from twin.city.model import DRIVE_HIGHWAYS

#: osmnx's highway values that are no street
NOT_STREETS = {"abandoned", "construction", "no", "planned", "platform", "proposed",
               "raceway", "razed"}  # fmt: skip


def covered(tags: dict[str, str]) -> bool:
    """A tunnel (``yes``, ``building_passage``...), a covered way or an indoor one."""
    return any(tags.get(k, "no") != "no" for k in ("tunnel", "covered", "indoor"))


def bridge(tags: dict[str, str]) -> bool:
    """A way on a bridge: ``bridge`` set to anything but ``no``."""
    return tags.get("bridge", "no") != "no"


@dataclass
class StreetWays:
    """Street ways (every node in the extract) by id, and their lines in ``crs``."""

    covered_ids: set[int] = field(default_factory=set)
    open_ids: set[int] = field(default_factory=set)
    drive_ids: set[int] = field(default_factory=set)
    bridge_ids: set[int] = field(default_factory=set)
    lines: dict[int, shapely.LineString] = field(default_factory=dict)
    nodes: dict[int, list[int]] = field(default_factory=dict)

    def drive_lines(self, *, under_cover: bool) -> np.ndarray:
        ids = (self.covered_ids if under_cover else self.open_ids) & self.drive_ids
        return np.array([self.lines[i] for i in sorted(ids)], dtype=object)


def street_ways(path: Path, crs: CRS) -> StreetWays:
    import osmium

    to_crs = Transformer.from_crs(4326, crs, always_xy=True)
    xy: dict[int, tuple[float, float]] = {}
    out = StreetWays()
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
        if isinstance(obj, osmium.osm.Node):
            xy[obj.id] = (obj.location.lon, obj.location.lat)
            continue
        tags = dict(obj.tags)
        hw = tags.get("highway")
        if not hw or hw in NOT_STREETS or tags.get("area") == "yes":
            continue
        refs = [n.ref for n in obj.nodes]
        if not all(r in xy for r in refs) or len(refs) < 2:
            continue
        (out.covered_ids if covered(tags) else out.open_ids).add(obj.id)
        if hw in DRIVE_HIGHWAYS:
            out.drive_ids.add(obj.id)
        if bridge(tags):
            out.bridge_ids.add(obj.id)
        lon, lat = np.array([xy[r] for r in refs]).T
        out.lines[obj.id] = shapely.LineString(np.column_stack(to_crs.transform(lon, lat)))
        out.nodes[obj.id] = refs
    return out
