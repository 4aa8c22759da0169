"""The city's water: water areas and the sea drawn by the coastline (pure).

OSM maps lakes, ponds, rivers and basins as areas, and the sea by its edge alone: the
``natural=coastline`` ways, land on the left of each way's direction and water on its
right, closed rings (islands) drawn counter-clockwise. :func:`sea_from_coastline` turns
the coastline into the sea within the city's extent (the buildings' bounds enlarged by
:data:`EXTENT_MARGIN_M`):

- the ways are merged into lines (each kept in its direction);
- the lines that cross the extent completely (both ends outside it) split it all at
  once, and each piece is sea or land by the side of the lines it borders (water on
  their right): a bay, a peninsula or a headland whose tip lies outside the extent (two
  lines, land between them), several capes; a piece that no line's side claims, or that
  the lines claim both ways, is ambiguous: land, with a warning;
- a closed ring is an island: land;
- a line that ends inside the extent but within :data:`COAST_JOIN_M` of its edge (Monaco's
  stops at the French border, 12 m inside the buildings' bounds) is joined to the nearest
  edge by a segment square to it, with a warning that the sea's edge over that stretch is a
  guess (counted, ``coastline_ends_joined``);
- a line that ends further inside (an extract that clips the coastline) cannot tell sea
  from land: the sea stays unknown (no sea at all), and the line is named in a warning
  and counted (``coastline_incomplete``), as are coastline ways dropped because their
  nodes are missing from the extract.

:func:`build_water` puts the sea and the water areas together in the city CRS, less the
piers (:func:`pier_polygons`: ``man_made=pier`` areas, and lines buffered by their
``width``), which are land: people stand on them, and the hexagonal layouts may put a
mast there.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from twin.city.heights import parse_length_m
from twin.errors import InputError

log = logging.getLogger(__name__)

__all__ = [
    "COAST_JOIN_M",
    "EXTENT_MARGIN_M",
    "PIER_DEFAULT_WIDTH_M",
    "WATER_KINDS",
    "build_water",
    "empty_piers",
    "empty_water",
    "pier_polygons",
    "sea_from_coastline",
    "water_area_m2",
    "water_extent",
    "water_union",
]

#: the extent the coastline is read in: the buildings' bounds enlarged by this (m)
EXTENT_MARGIN_M = 100.0


def water_extent(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The extent :func:`build_water` builds the sea and cuts the water areas in: the
    rectangle ``bounds`` (the buildings', metres) enlarged by :data:`EXTENT_MARGIN_M` on
    each side."""
    m = EXTENT_MARGIN_M
    return (bounds[0] - m, bounds[1] - m, bounds[2] + m, bounds[3] + m)


#: a coastline that ends inside the extent this close to its edge is joined straight to
#: the edge (m); one that ends further in leaves the sea unknown
COAST_JOIN_M = 250.0

#: values of the water frame's ``kind``
WATER_KINDS = ("sea", "water")

#: the width (m) of a pier drawn as a line whose ``width`` tag is absent or cannot be
#: read as a length: a choice (a footway's or a small jetty's width; the OSM wiki gives
#: no default), not a value from the data
PIER_DEFAULT_WIDTH_M = 3.0

#: values of the pier frame's ``drawn``: a closed way or a multipolygon, an open way
PIER_DRAWN = ("area", "line")


def empty_water(crs: CRS | str | None) -> gpd.GeoDataFrame:
    """A water frame with no row (``kind``, ``osm_id``, ``geometry``) in ``crs``."""
    return gpd.GeoDataFrame({"kind": [], "osm_id": []}, geometry=[], crs=crs)


def empty_piers(crs: CRS | str | None) -> gpd.GeoDataFrame:
    """A pier frame with no row (``osm_id``, ``drawn``, ``width_m``, ``geometry``)."""
    return gpd.GeoDataFrame(
        {"osm_id": [], "drawn": [], "width_m": np.zeros(0)}, geometry=[], crs=crs
    )


def pier_polygons(
    piers: gpd.GeoDataFrame | None,
    crs: CRS,
    *,
    default_width_m: float = PIER_DEFAULT_WIDTH_M,
    name: str = "city",
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The piers as polygons in ``crs``: the areas as drawn (repaired), the lines
    buffered by half their width on each side, flat at their ends (the pier ends where
    its line does).

    ``piers`` holds polygons and lines in any CRS with ``osm_id`` and ``width`` (the
    ``width`` tag as it stands: ``3``, ``3 m``, ``10'``, read by
    :func:`twin.city.heights.parse_length_m`; an empty string when absent). A line whose
    width is absent, or cannot be read as a length over 0 m, is ``default_width_m``
    wide; the unreadable ones are counted and named in a warning. A line of no length
    (its nodes at one point) is no land: neither kept nor counted.

    Returns the frame (``osm_id``; ``drawn`` in :data:`PIER_DRAWN`; ``width_m``, the width
    a line was buffered by, NaN for an area; ``geometry``) and counts: ``pier_areas``,
    ``pier_lines``, ``pier_widths_unreadable``.

    Raises
    ------
    InputError
        When ``default_width_m`` is not a finite number of metres over 0.
    """
    if not (np.isfinite(default_width_m) and default_width_m > 0):
        raise InputError(
            f"default_width_m: {default_width_m} m is not allowed; give a pier width > 0 m"
        )
    counts = {"pier_areas": 0, "pier_lines": 0, "pier_widths_unreadable": 0}
    if piers is None or len(piers) == 0:
        return empty_piers(crs), counts
    projected = piers.to_crs(crs)
    widths = projected["width"] if "width" in projected.columns else [""] * len(projected)
    ids: list[str] = []
    drawn: list[str] = []
    width_m: list[float] = []
    geoms: list[Any] = []
    unreadable: list[str] = []
    for osm_id, tag, g in zip(projected["osm_id"], widths, projected.geometry, strict=True):
        if g is None or g.is_empty:
            continue
        if g.geom_type in ("Polygon", "MultiPolygon"):
            poly = _polygonal(shapely.make_valid(g))
            if poly is None:
                continue
            ids.append(str(osm_id))
            drawn.append("area")
            width_m.append(float("nan"))
            geoms.append(poly)
            counts["pier_areas"] += 1
            continue
        if g.geom_type not in ("LineString", "MultiLineString"):
            continue
        text = "" if tag is None or tag != tag else str(tag).strip()
        w = parse_length_m(text) if text else None
        if w is None or not (np.isfinite(w) and w > 0):
            if text:
                unreadable.append(f"{osm_id} (width={text!r})")
            w = default_width_m
        deck = shapely.buffer(g, w / 2, cap_style="flat", join_style="round")
        if deck.is_empty:  # a line of no length (its nodes at one point): no land
            continue
        ids.append(str(osm_id))
        drawn.append("line")
        width_m.append(float(w))
        geoms.append(deck)
        counts["pier_lines"] += 1
    counts["pier_widths_unreadable"] = len(unreadable)
    if unreadable:
        log.warning(
            "%s: %d piers drawn as lines have a width tag that is no length over 0 m: %s%s; "
            "they are "
            "%g m wide (the default)",
            name, len(unreadable), ", ".join(unreadable[:5]),
            " ..." if len(unreadable) > 5 else "", default_width_m,
        )  # fmt: skip
    if not geoms:
        return empty_piers(crs), counts
    frame = gpd.GeoDataFrame(
        {"osm_id": ids, "drawn": drawn, "width_m": np.asarray(width_m, dtype=float)},
        geometry=shapely.normalize(np.array(geoms)),
        crs=crs,
    )
    return frame, counts


def sea_from_coastline(
    lines: Any,
    osm_ids: list[str],
    extent: tuple[float, float, float, float],
    *,
    name: str = "city",
    join_m: float = COAST_JOIN_M,
) -> tuple[Any, dict[str, int]]:
    """The sea within ``extent`` (a rectangle of the lines' CRS, metres) drawn by the
    coastline ways ``lines`` (LineStrings in their ways' directions, ``osm_ids`` theirs).

    Returns the sea (a Polygon or MultiPolygon, or None: no sea, or unknown) and counts:
    ``coastline_lines`` (merged lines crossing the extent), ``coastline_islands`` (rings
    touching it), ``coastline_incomplete`` (lines ending inside it).
    """
    counts = {
        "coastline_lines": 0,
        "coastline_islands": 0,
        "coastline_incomplete": 0,
        "coastline_ends_joined": 0,
    }
    geoms = [g for g in np.asarray(lines, dtype=object) if g is not None and not g.is_empty]
    if not geoms:
        return None, counts
    box = shapely.box(*extent)
    merged = shapely.line_merge(shapely.union_all(geoms), directed=True)
    parts = list(getattr(merged, "geoms", [merged]))
    crossing = []
    islands = []
    incomplete = []
    joins = []
    for line in parts:
        if not line.intersects(box):
            continue
        if line.is_ring:
            islands.append(line)
            continue
        joined = _join_to_edge(line, extent, join_m)
        if joined is None:
            incomplete.append(line)
        else:
            if joined is not line:
                joins.append(line)
            crossing.append(joined)
    counts["coastline_lines"] = len(crossing)
    counts["coastline_islands"] = len(islands)
    counts["coastline_incomplete"] = len(incomplete)
    counts["coastline_ends_joined"] = len(joins)
    tree = shapely.STRtree(geoms)

    def named(line: Any) -> str:
        ways = sorted(osm_ids[i] for i in tree.query(line, predicate="covers"))
        return ", ".join(ways[:5]) + (" ..." if len(ways) > 5 else "")

    def ends_inside(line: Any) -> str:
        inside = [c for c in (line.coords[0], line.coords[-1]) if box.intersects(shapely.Point(c))]
        return " and ".join(f"({x:.0f}, {y:.0f})" for x, y in inside)

    for line in joins:
        log.warning(
            "%s: the coastline (%s) ends within %g m of the city's extent's edge, at %s: "
            "joined straight to the edge (the sea's edge over that stretch is a guess)",
            name, named(line), join_m, ends_inside(line),
        )  # fmt: skip
    if incomplete:
        for line in incomplete:
            log.warning(
                "%s: the coastline (%s) ends inside the city's extent, at %s, more than %g m "
                "from its edge (the extract clips it): the sea cannot be told from the land, "
                "and the city has no sea; the water areas stand",
                name, named(line), ends_inside(line), join_m,
            )  # fmt: skip
        return None, counts
    sea = _sea_pieces(box, crossing, name=name)
    if sea is not None and islands:
        sea = shapely.difference(sea, shapely.union_all([shapely.Polygon(r) for r in islands]))
    return _polygonal(sea), counts


def _join_to_edge(line: Any, extent: tuple[float, float, float, float], join_m: float) -> Any:
    """``line`` itself when both its ends lie outside ``extent``; else, when each end
    inside lies within ``join_m`` of the extent's edge, the line joined from that end to
    the nearest edge by a segment square to it (ending a metre past it); None when an
    end lies further in, or the join would cross the line."""
    minx, miny, maxx, maxy = extent
    coords = [tuple(c) for c in line.coords]
    out: list[tuple[float, float] | None] = []
    for x, y in (coords[0], coords[-1]):
        gaps = (x - minx, maxx - x, y - miny, maxy - y)
        k = int(np.argmin(gaps))
        if gaps[k] <= 0:
            out.append(None)
            continue
        if gaps[k] > join_m:
            return None
        out.append(((minx - 1, y), (maxx + 1, y), (x, miny - 1), (x, maxy + 1))[k])
    if out == [None, None]:
        return line
    head = [out[0]] if out[0] is not None else []
    tail = [out[1]] if out[1] is not None else []
    joined = shapely.LineString(head + coords + tail)
    return joined if joined.is_simple else None


def _sea_pieces(box: Any, lines: list[Any], *, name: str = "city") -> Any:
    """The pieces of ``box`` on the water side of the ``lines`` (each crossing it
    completely), or None.

    The box is split by all the lines at once (its outline and the lines noded together,
    then polygonised): a bay (one line), a peninsula or a headland whose tip lies outside
    the box (two lines, the land between them), several capes. Each piece votes by the
    length of the lines' segments it borders on their right (water) or on their left
    (land), tested a centimetre off each segment's middle: the pieces where water wins
    are sea. Every piece borders a line (the lines alone divide the box), and its
    neighbours lie across a line, on its other side: a piece has no neighbour to take the
    side of. A piece with no vote (the test sees none of its lines: a sliver under a
    centimetre, segments under 5 cm) is ambiguous, and so is one whose smaller side holds
    more than :data:`_VOTE_DOUBT` of its votes (lines drawn in opposite directions around
    it): left land, with a warning.
    """
    if not lines:
        return box
    noded = shapely.union_all([box.exterior, *lines])
    polys = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    # the lines may loop outside the box and close pieces there: only the box's count
    pieces = [p for p in polys if box.contains(shapely.point_on_surface(p))]
    mid, right, length = _segments(shapely.intersection(shapely.MultiLineString(lines), box))
    sea = []
    for piece in pieces:
        water = float(length[shapely.contains_xy(piece, *(mid + right).T)].sum())
        land = float(length[shapely.contains_xy(piece, *(mid - right).T)].sum())
        if water + land == 0:
            log.warning(
                "%s: a piece of the city's extent of %.0f m^2 around (%.0f, %.0f) borders "
                "no coastline that tells its side: left land",
                name, piece.area, *_xy(piece),
            )  # fmt: skip
        elif min(water, land) > _VOTE_DOUBT * (water + land):
            log.warning(
                "%s: the coastline around a piece of the city's extent of %.0f m^2 at "
                "(%.0f, %.0f) is drawn both ways (%.0f m with water on its right, %.0f m "
                "with land on its left): it cannot tell sea from land there, left land",
                name, piece.area, *_xy(piece), water, land,
            )  # fmt: skip
        elif water > land:
            sea.append(piece)
    return shapely.union_all(sea) if sea else None


#: the share of a piece's votes the smaller side may hold (the rest: the test off sharp
#: corners) before the piece is ambiguous: the coastline around it drawn both ways
_VOTE_DOUBT = 0.1


def _xy(piece: Any) -> tuple[float, float]:
    """A point inside ``piece``, to name it in a message."""
    p = shapely.point_on_surface(piece)
    return float(p.x), float(p.y)


def _segments(lines: Any) -> tuple[Any, Any, Any]:
    """The segments of ``lines`` (a line or lines) longer than 5 cm: their middles, a
    centimetre to their right (x, y offsets), their lengths."""
    segs = []
    for part in shapely.get_parts(lines):
        if part.geom_type != "LineString":
            continue
        c = np.asarray(part.coords)
        if c.shape[0] >= 2:
            segs.append(np.stack([c[:-1], c[1:]], axis=1))
    if not segs:
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0)
    s = np.concatenate(segs)
    d = s[:, 1] - s[:, 0]
    length = np.hypot(d[:, 0], d[:, 1])
    ok = length > 0.05
    s, d, length = s[ok], d[ok], length[ok]
    right = np.column_stack([d[:, 1], -d[:, 0]]) / length[:, None] * 0.01
    return s.mean(axis=1), right, length


def _polygonal(geom: Any) -> Any:
    """The polygonal part of ``geom``, None when there is none."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polys = [
        g
        for g in getattr(geom, "geoms", [])
        if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty
    ]
    return shapely.union_all(polys) if polys else None


def build_water(
    areas: gpd.GeoDataFrame | None,
    coastline: gpd.GeoDataFrame | None,
    crs: CRS,
    bounds: tuple[float, float, float, float],
    *,
    name: str = "city",
    land: Any = None,
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The city's water in ``crs``: the sea (:func:`sea_from_coastline` within ``bounds``,
    the buildings' bounds, enlarged by :data:`EXTENT_MARGIN_M`: :func:`water_extent`) and
    the water areas ``areas`` (polygons in any CRS with ``osm_id``), cut to that extent,
    repaired, less ``land`` (a shapely geometry in ``crs``, or None: the piers,
    :func:`pier_polygons`).

    Returns the frame (``kind`` in :data:`WATER_KINDS`, ``osm_id``: the area's, empty for
    the sea; ``geometry``), and counts: ``water_areas`` (those left), ``sea_polygons`` and
    those of :func:`sea_from_coastline`.
    """
    if land is not None and shapely.is_empty(land):
        land = None
    extent = water_extent(bounds)
    box = shapely.box(*extent)
    kinds: list[str] = []
    ids: list[str] = []
    geoms: list[Any] = []
    counts: dict[str, int] = {"water_areas": 0, "sea_polygons": 0}
    if coastline is not None and len(coastline):
        lines = coastline.to_crs(crs).geometry.to_numpy()
        sea, sea_counts = sea_from_coastline(lines, list(coastline["osm_id"]), extent, name=name)
        counts.update(sea_counts)
        if sea is not None and land is not None:
            sea = _polygonal(shapely.difference(sea, land))
        if sea is not None:
            for g in getattr(sea, "geoms", [sea]):
                kinds.append("sea")
                ids.append("")
                geoms.append(g)
            counts["sea_polygons"] = len(geoms)
    if areas is not None and len(areas):
        projected = areas.to_crs(crs)
        shapes = shapely.make_valid(projected.geometry.to_numpy())
        shapes = shapely.intersection(shapes, box)
        if land is not None:
            shapes = shapely.difference(shapes, land)
        for osm_id, g in zip(projected["osm_id"], shapes, strict=True):
            g = _polygonal(g)
            if g is None:
                continue
            kinds.append("water")
            ids.append(str(osm_id))
            geoms.append(g)
            counts["water_areas"] += 1
    if not geoms:
        return empty_water(crs), counts
    frame = gpd.GeoDataFrame(
        {"kind": kinds, "osm_id": ids}, geometry=shapely.normalize(np.array(geoms)), crs=crs
    )
    return frame, counts


def water_union(water: gpd.GeoDataFrame | None) -> Any:
    """All the water as one geometry (None when there is none)."""
    if water is None or len(water) == 0:
        return None
    return shapely.union_all(water.geometry.to_numpy())


def water_area_m2(
    water: gpd.GeoDataFrame | None, bounds: tuple[float, float, float, float]
) -> float:
    """The area (m^2) of the water within the rectangle ``bounds``."""
    union = water_union(water)
    if union is None:
        return 0.0
    return float(shapely.area(shapely.intersection(union, shapely.box(*bounds))))
