"""Candidate site positions for the placement optimiser (pure).

Two classes, as a planner would look for them:

- ``rooftops`` (UMa): the ``max_roofs`` tallest buildings with a candidate inside the
  bounds (the area of interest) whose antenna (roof + ``mast_m``) stands between
  ``min_height_m`` and ``max_height_m`` (the range of :func:`twin.sites.rooftop_sites`).
  Each gives its roof point (``roof``) and up to four roof corners (``corner``): the
  corners of the footprint's minimum rotated rectangle, snapped to the footprint and
  moved ``corner_inset_m`` inwards. A corner antenna sees
  down the streets that a roof-centre antenna cannot (the roof edge hides them).
- ``streets`` (UMi): poles of ``street_height_m`` at street intersections (three or more
  drivable streets, one at least under open sky, :func:`twin.sites.intersections`) and
  at the street furniture that OSM maps (:mod:`twin.sources.osm_furniture`: lamps,
  utility poles, advertising columns; masts and towers keep their ``height`` tag).
  Candidates closer than ``min_spacing_m`` to one already kept are dropped, in the
  order intersections, masts and towers, columns, poles, lamps.

Every candidate is omnidirectional, radiates on every band, lies inside the area, and
records its class in ``placed_by`` (``candidate-roof``, ``candidate-street_lamp``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from shapely.ops import nearest_points

from twin.city.model import CityModel
from twin.errors import InputError
from twin.sites import Site, antennas_inside_buildings, intersections

__all__ = [
    "CANDIDATE_CLASSES",
    "candidate_sites",
    "rooftop_candidates",
    "street_candidates",
]

CandidateClass = Literal["rooftops", "streets", "both"]
#: What ``--candidates`` accepts.
CANDIDATE_CLASSES: tuple[str, ...] = ("rooftops", "streets", "both")

#: Street candidates are kept in this order of preference when they crowd each other.
_STREET_PRIORITY = (
    "intersection",
    "mast",
    "tower",
    "advertising_column",
    "utility_pole",
    "street_lamp",
)


def _in_bounds(x: float, y: float, bounds: tuple[float, float, float, float]) -> bool:
    return bounds[0] <= x <= bounds[2] and bounds[1] <= y <= bounds[3]


def _largest_polygon(geom: shapely.Geometry) -> shapely.Polygon:
    if isinstance(geom, shapely.MultiPolygon):
        return max(geom.geoms, key=lambda g: g.area)
    if not isinstance(geom, shapely.Polygon):
        return shapely.Polygon()
    return geom


def rooftop_candidates(
    buildings: gpd.GeoDataFrame,
    bounds: tuple[float, float, float, float],
    *,
    max_roofs: int = 60,
    mast_m: float = 3.0,
    min_height_m: float = 15.0,
    max_height_m: float = 100.0,
    corners: bool = True,
    corner_inset_m: float = 1.5,
    power_dbm: float = 46.0,
    gain_dbi: float = 15.0,
) -> list[Site]:
    """Roof points and roof corners of the tallest buildings (UMa, ``mast_m`` above the roof).

    Ids: ``R<building_id>`` for the roof point, ``R<building_id>c<k>`` for its corners.

    Raises
    ------
    InputError
        When ``max_roofs`` is less than 1 (there is no "no limit" value).
    """
    if max_roofs < 1:
        raise InputError(f"max_roofs: {max_roofs} is not allowed; give 1 or more roofs")
    heights = buildings["height_m"].to_numpy(dtype=float)
    ids = buildings.index.to_numpy()
    geoms = buildings.geometry.to_numpy()
    antenna = heights + mast_m
    ok = (antenna >= min_height_m) & (antenna <= max_height_m)
    order = [int(i) for i in np.argsort(-heights, kind="stable") if ok[i]]
    out: list[Site] = []
    roofs = 0  # buildings that gave a candidate inside the bounds
    for i in order:
        if roofs == max_roofs:
            break
        before = len(out)
        _roof_candidates(out, i, ids, geoms, antenna, bounds, corners, corner_inset_m,
                         power_dbm, gain_dbi)  # fmt: skip
        # a spot under a taller building part stacked over this roof is no candidate
        new = out[before:]
        if new:
            xyh = np.array([(c.x_m, c.y_m, c.height_m) for c in new])
            inside = antennas_inside_buildings(xyh[:, 0], xyh[:, 1], xyh[:, 2], buildings)
            out[before:] = [c for c, bad in zip(new, inside, strict=True) if not bad]
        roofs += len(out) > before
    return out


def _roof_candidates(
    out: list[Site],
    i: int,
    ids: npt.NDArray[Any],
    geoms: npt.NDArray[Any],
    antenna: npt.NDArray[np.float64],
    bounds: tuple[float, float, float, float],
    corners: bool,
    corner_inset_m: float,
    power_dbm: float,
    gain_dbi: float,
) -> None:
    """Append building ``i``'s roof point and corners that lie inside ``bounds`` to ``out``
    (the cut to the tallest roofs counts buildings after this: a roof outside the area
    of interest does not take the place of one inside it)."""
    poly = _largest_polygon(geoms[i])
    if poly.is_empty:
        return
    spot = shapely.point_on_surface(poly)
    roof = Site(
        site_id=f"R{ids[i]}",
        x_m=float(spot.x),
        y_m=float(spot.y),
        height_m=float(antenna[i]),
        model="uma",
        power_dbm=power_dbm,
        gain_dbi=gain_dbi,
        placed_by="candidate-roof",
        building_id=int(ids[i]),
    )
    if _in_bounds(spot.x, spot.y, bounds):
        out.append(roof)
    if not corners:
        return
    centre = poly.centroid
    kept: list[tuple[float, float]] = []
    rect = shapely.oriented_envelope(poly)
    if not isinstance(rect, shapely.Polygon):
        return
    for cx, cy in list(rect.exterior.coords)[:-1]:
        p = nearest_points(poly.exterior, shapely.Point(cx, cy))[0]
        dx, dy = centre.x - p.x, centre.y - p.y
        d = math.hypot(dx, dy)
        if d <= corner_inset_m:
            continue
        q = shapely.Point(p.x + dx / d * corner_inset_m, p.y + dy / d * corner_inset_m)
        if not poly.contains(q) or not _in_bounds(q.x, q.y, bounds):
            continue
        if any(math.hypot(q.x - a, q.y - b) < 5.0 for a, b in kept):
            continue
        kept.append((q.x, q.y))
        sid = f"R{ids[i]}c{len(kept)}"
        out.append(
            replace(roof, site_id=sid, x_m=float(q.x), y_m=float(q.y), placed_by="candidate-corner")
        )


def street_candidates(
    city: CityModel,
    bounds: tuple[float, float, float, float],
    *,
    furniture: gpd.GeoDataFrame | None = None,
    street_height_m: float = 10.0,
    mast_height_m: float = 25.0,
    min_spacing_m: float = 25.0,
    power_dbm: float = 33.0,
    gain_dbi: float = 8.0,
) -> list[Site]:
    """Poles at street intersections and at OSM street furniture (UMi, omni).

    Parameters
    ----------
    furniture
        :func:`twin.sources.osm_furniture.read_street_furniture` (any CRS), or None.
    street_height_m
        Antenna height on intersections, lamps, poles and columns.
    mast_height_m
        Antenna height on masts and towers without a ``height`` tag (UMa when >= 15 m).
    min_spacing_m
        Candidates closer than this to a kept one are dropped.

    Ids: ``X001``... (intersections) and ``F001``... (furniture).
    """
    footprints = shapely.STRtree(city.buildings.geometry.to_numpy())
    pts: list[tuple[float, float, str, float]] = []  # x, y, kind, height
    for x, y in intersections(city.streets):
        pts.append((float(x), float(y), "intersection", street_height_m))
    if furniture is not None and len(furniture):
        f = furniture.to_crs(city.crs)
        for geom, kind, h in zip(f.geometry, f["kind"], f["height_m"], strict=True):
            if kind in ("mast", "tower"):
                height = float(h) if h is not None and np.isfinite(h) and h > 0 else mast_height_m
            else:
                height = street_height_m
            pts.append((float(geom.x), float(geom.y), str(kind), height))
    pts = [p for p in pts if _in_bounds(p[0], p[1], bounds)]
    if pts:
        inside, _ = footprints.query(
            shapely.points([(p[0], p[1]) for p in pts]), predicate="within"
        )
        drop = set(inside.tolist())
        pts = [p for i, p in enumerate(pts) if i not in drop]
    rank = {k: i for i, k in enumerate(_STREET_PRIORITY)}
    pts.sort(key=lambda p: rank.get(p[2], len(rank)))
    kept: list[tuple[float, float, str, float]] = []
    xy = np.empty((0, 2))
    for p in pts:
        if xy.size and np.min(np.hypot(xy[:, 0] - p[0], xy[:, 1] - p[1])) < min_spacing_m:
            continue
        kept.append(p)
        xy = np.vstack([xy, [p[0], p[1]]])
    out: list[Site] = []
    n_x = n_f = 0
    for x, y, kind, height in kept:
        if kind == "intersection":
            n_x += 1
            sid = f"X{n_x:03d}"
        else:
            n_f += 1
            sid = f"F{n_f:03d}"
        model = "uma" if kind in ("mast", "tower") and height >= 15.0 else "umi"
        out.append(
            Site(
                site_id=sid,
                x_m=x,
                y_m=y,
                height_m=height,
                model=model,
                power_dbm=power_dbm,
                gain_dbi=gain_dbi,
                placed_by=f"candidate-{kind}",
            )
        )
    return out


def candidate_sites(
    city: CityModel,
    bounds: tuple[float, float, float, float],
    *,
    which: str = "both",
    furniture: gpd.GeoDataFrame | None = None,
    max_roofs: int = 60,
    rooftop_power_dbm: float = 46.0,
    rooftop_gain_dbi: float = 15.0,
    street_power_dbm: float = 33.0,
    street_gain_dbi: float = 8.0,
    min_spacing_m: float = 25.0,
    exclude: Sequence[Site] = (),
) -> list[Site]:
    """Candidates of the class ``which`` (``rooftops``, ``streets`` or ``both``).

    ``exclude``: existing sites; candidates within 10 m of one are dropped.

    Raises
    ------
    InputError
        For an unknown class, or when the city offers no candidate in the area.
    """
    if which not in CANDIDATE_CLASSES:
        raise InputError(f"candidates: {which!r} is not one of {', '.join(CANDIDATE_CLASSES)}")
    out: list[Site] = []
    if which in ("rooftops", "both"):
        out += rooftop_candidates(
            city.buildings,
            bounds,
            max_roofs=max_roofs,
            power_dbm=rooftop_power_dbm,
            gain_dbi=rooftop_gain_dbi,
        )
    if which in ("streets", "both"):
        out += street_candidates(
            city,
            bounds,
            furniture=furniture,
            min_spacing_m=min_spacing_m,
            power_dbm=street_power_dbm,
            gain_dbi=street_gain_dbi,
        )
    if exclude:
        ex = np.array([(s.x_m, s.y_m) for s in exclude])
        out = [s for s in out if np.min(np.hypot(ex[:, 0] - s.x_m, ex[:, 1] - s.y_m)) >= 10.0]
    if not out:
        raise InputError(f"candidates: the city offers no {which} candidate inside the area")
    return out
