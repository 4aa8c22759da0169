"""Base-station sites: the Site record, hexagonal layouts snapped to rooftops or streets,
and sites built from a table (pure).

Placement rules (each site records them in ``placed_by``):

- ``hex-rooftop`` (UMa): the hexagonal lattice point is moved to the tallest building
  that reaches within ``search_radius_m`` (default ISD/4) of it; the antenna stands
  ``mast_m`` (default 3 m) above that roof, at a point of the roof within that radius.
  With no usable roof in reach: ``hex-mast``, a ground mast of ``fallback_height_m`` (25 m,
  the UMa nominal) at the point (on the roof of a lower building when the point lies in
  one: its ``building_id``); none where no building and no street lies within ISD/2 of
  the point (water, open land, beyond the extract's data: nobody there to serve).
- ``hex-street`` (UMi): the lattice point is moved to the nearest street intersection (a
  node of three or more drivable streets, one of them at least under open sky, not under
  a building) within
  ``search_radius_m`` (default ISD/2); the pole stands ``street_offset_m`` from the node
  toward the nearest building (the kerb), ``street_height_m`` (10 m) above ground.
  ``hex-street-side``: no free intersection in reach, so the nearest point of a drivable
  street under open sky (not in a tunnel, a building passage or under a cover) outside
  every footprint.
- ``file``: read from a sites file; ``scenario``: listed inline in a scenario;
  ``optimizer``: chosen by the placement optimiser.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer
from shapely.ops import nearest_points

from twin.city.model import open_sky_drive
from twin.errors import InputError
from twin.scenario import SiteEntry

MODELS = ("uma", "umi", "rma")

#: heights (m above ground) between which a rooftop site's antenna may stand; towers
#: and spires above are outside the macro-cell models, roofs below give a ground mast
ROOF_ANTENNA_MIN_M = 15.0
ROOF_ANTENNA_MAX_M = 100.0


@dataclass(frozen=True)
class Site:
    """One base-station site.

    ``height_m`` is the antenna height above ground (``ground_m``, 0 m on flat ground);
    ``azimuths_deg`` empty means one
    omnidirectional cell, otherwise one sector per azimuth (clause 7.3 element pattern),
    degrees clockwise from the city CRS's grid north (what the geometry of the study
    uses; the inputs and outputs give bearings from true north: :func:`true_to_grid_deg`,
    :func:`grid_to_true_deg`); ``bands_ghz`` empty means every band of the study.
    """

    site_id: str
    x_m: float
    y_m: float
    height_m: float
    model: str = "uma"
    power_dbm: float = 46.0
    gain_dbi: float = 15.0
    azimuths_deg: tuple[float, ...] = ()
    bands_ghz: tuple[float, ...] = ()
    placed_by: str = "file"
    building_id: int = -1
    #: the ground under the site (metres on the terrain's datum; 0 on flat ground): the
    #: study sets it (:func:`twin.city.ground.sites_on_ground`); ``height_m`` stays above it
    ground_m: float = 0.0
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InputError(f"site {self.site_id}: model {self.model!r} not in {MODELS}")
        if not (math.isfinite(self.height_m) and self.height_m > 0):
            raise InputError(f"site {self.site_id}: height_m {self.height_m} must be > 0 m")
        if not math.isfinite(self.power_dbm):
            raise InputError(f"site {self.site_id}: power_dbm {self.power_dbm} is not a number")

    def serves(self, freq_ghz: float) -> bool:
        """True when the site radiates on ``freq_ghz`` (every band when ``bands_ghz`` is empty)."""
        return not self.bands_ghz or any(abs(b - freq_ghz) < 1e-9 for b in self.bands_ghz)


def grid_north_deg(x_m: ArrayLike, y_m: ArrayLike, crs: CRS) -> np.ndarray:
    """Grid bearing of true north at points of ``crs`` (degrees clockwise from grid north;
    the meridian convergence: in the northern hemisphere positive west of a UTM zone's
    central meridian, in the southern positive east of it): the
    direction in the plane from each point to the point 1e-5 degrees of latitude north."""

    to_wgs = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    to_city = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    lon, lat = to_wgs.transform(x, y)
    xn, yn = to_city.transform(lon, np.asarray(lat) + 1e-5)
    return np.degrees(np.arctan2(np.asarray(xn) - x, np.asarray(yn) - y))


def _bearings(values: Sequence[float], shift_deg: float, decimals: int | None) -> tuple[float, ...]:
    # in [0, 360); rounded where written (a bearing of 0 converted there and back stays
    # 0, not 359.99999999999994)
    out = ((float(a) + shift_deg) % 360.0 for a in values)
    if decimals is None:
        return tuple(out)
    return tuple(round(a, decimals) % 360.0 for a in out)


#: decimals of the true-north bearings written out (1e-6 degree: a sector's direction to
#: 0.1 mm a kilometre away, and a bearing given to 6 decimals reads back the same)
TRUE_BEARING_DECIMALS = 6


def true_to_grid_deg(
    azimuths_deg: Sequence[float], x_m: float, y_m: float, crs: CRS
) -> tuple[float, ...]:
    """Bearings from true north (inputs: sites files, scenarios, variants) as bearings
    from the grid north of ``crs`` at the point (``Site.azimuths_deg``)."""
    if not azimuths_deg:
        return ()
    return _bearings(azimuths_deg, float(grid_north_deg(x_m, y_m, crs)), None)


def grid_to_true_deg(
    azimuths_deg: Sequence[float], x_m: float, y_m: float, crs: CRS
) -> tuple[float, ...]:
    """The inverse of :func:`true_to_grid_deg` (outputs), to ``TRUE_BEARING_DECIMALS``."""
    if not azimuths_deg:
        return ()
    return _bearings(azimuths_deg, -float(grid_north_deg(x_m, y_m, crs)), TRUE_BEARING_DECIMALS)


def hex_lattice(bounds: tuple[float, float, float, float], isd_m: float) -> np.ndarray:
    """Points of a hexagonal lattice with spacing ``isd_m`` covering ``bounds``, centred on it.

    Returns an (K, 2) array. Rows are ``isd_m * sqrt(3)/2`` apart, every other row shifted by
    half a spacing.
    """
    if not (math.isfinite(isd_m) and isd_m > 0):
        raise InputError(f"isd: {isd_m} m is not allowed; give an inter-site distance > 0 m")
    minx, miny, maxx, maxy = bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    dy = isd_m * math.sqrt(3) / 2
    ny = math.ceil((maxy - miny) / 2 / dy) + 1
    nx_ = math.ceil((maxx - minx) / 2 / isd_m) + 1
    pts = []
    for j in range(-ny, ny + 1):
        y = cy + j * dy
        shift = isd_m / 2 if j % 2 else 0.0
        for i in range(-nx_, nx_ + 1):
            x = cx + i * isd_m + shift
            if minx - isd_m / 4 <= x <= maxx + isd_m / 4 and miny - dy / 4 <= y <= maxy + dy / 4:
                pts.append((x, y))
    return np.array(pts, dtype=float).reshape(-1, 2)


def rooftop_sites(
    buildings: gpd.GeoDataFrame,
    bounds: tuple[float, float, float, float],
    *,
    isd_m: float = 500.0,
    mast_m: float = 3.0,
    search_radius_m: float | None = None,
    fallback_height_m: float = 25.0,
    min_height_m: float = ROOF_ANTENNA_MIN_M,
    max_height_m: float = ROOF_ANTENNA_MAX_M,
    prefix: str = "U",
    streets: gpd.GeoDataFrame | None = None,
    water: Any = None,
    on_water: list[tuple[float, float]] | None = None,
    **site_kwargs: object,
) -> list[Site]:
    """UMa sites on a hexagonal lattice, each moved onto the tallest roof nearby.

    A roof whose antenna would stand lower than ``min_height_m`` or higher than
    ``max_height_m`` (towers, spires: outside the macro-cell models) is not used: the site
    becomes a ground mast of ``fallback_height_m`` at the lattice point (``hex-mast``;
    its ``building_id`` that of a lower building whose footprint holds the point, if
    any). A roof whose antenna would stand inside a taller building part over it gives
    way to the next tallest. Lattice points outside ``bounds`` with no usable roof are
    left out, and so are those whose mast would stand inside a building taller than it,
    and those with no building (and no street of ``streets``, when given) within
    ``isd_m / 2``: the sea, fields or ground beyond the extract's data, and those whose
    mast would stand on ``water`` (a shapely geometry, the city's water: sea, lakes,
    rivers), each appended to ``on_water`` when given.
    """
    radius = isd_m / 4 if search_radius_m is None else search_radius_m
    geoms = buildings.geometry.to_numpy()
    heights = buildings["height_m"].to_numpy()
    ids = buildings.index.to_numpy()
    tree = shapely.STRtree(geoms)
    street_tree = (
        shapely.STRtree(streets.geometry.to_numpy())
        if streets is not None and len(streets)
        else None
    )
    sites: list[Site] = []
    used: set[int] = set()
    for k, (x, y) in enumerate(hex_lattice(bounds, isd_m)):
        reach = shapely.Point(x, y).buffer(radius)
        cand = tree.query(reach, predicate="intersects")
        cand = np.array(
            [
                c
                for c in cand
                if int(ids[c]) not in used and min_height_m <= heights[c] + mast_m <= max_height_m
            ],
            dtype=int,
        )
        placed = False
        # the tallest roof first; one whose antenna would stand inside a taller building
        # part stacked over it (a tower on a podium) gives way to the next
        for best in cand[np.argsort(-heights[cand], kind="stable")]:
            # the antenna stands on the part of the roof within the search radius: a large
            # roof's own inner point may lie far from the lattice point
            part = shapely.intersection(geoms[best], reach)
            spot = shapely.point_on_surface(geoms[best] if part.is_empty else part)
            antenna_m = float(heights[best] + mast_m)
            if antennas_inside_buildings(spot.x, spot.y, antenna_m, buildings)[0]:
                continue
            used.add(int(ids[best]))
            sites.append(
                Site(
                    site_id=f"{prefix}{k + 1:02d}",
                    x_m=float(spot.x),
                    y_m=float(spot.y),
                    height_m=antenna_m,
                    model="uma",
                    placed_by="hex-rooftop",
                    building_id=int(ids[best]),
                    **site_kwargs,  # type: ignore[arg-type]
                )
            )
            placed = True
            break
        inside_area = bounds[0] <= x <= bounds[2] and bounds[1] <= y <= bounds[3]
        if not placed and inside_area:
            if antennas_inside_buildings(x, y, fallback_height_m, buildings)[0]:
                continue  # a mast inside a building taller than the mast: no site here
            point = shapely.Point(x, y)
            if tree.query(point, predicate="dwithin", distance=isd_m / 2).size == 0 and (
                street_tree is None
                or street_tree.query(point, predicate="dwithin", distance=isd_m / 2).size == 0
            ):
                continue  # no city around the point: nobody there to serve
            if water is not None and shapely.intersects_xy(water, x, y):
                if on_water is not None:
                    on_water.append((float(x), float(y)))
                continue  # no mast in the water
            under = tree.query(point, predicate="intersects")
            sites.append(
                Site(
                    site_id=f"{prefix}{k + 1:02d}",
                    x_m=float(x),
                    y_m=float(y),
                    height_m=fallback_height_m,
                    model="uma",
                    placed_by="hex-mast",
                    building_id=int(ids[under[np.argmax(heights[under])]]) if under.size else -1,
                    **site_kwargs,  # type: ignore[arg-type]
                )
            )
    return sites


def intersections(streets: gpd.GeoDataFrame) -> np.ndarray:
    """(K, 2) coordinates of nodes where three or more drivable street edges meet, one
    of them at least under open sky (:func:`twin.city.model.open_sky_drive`): a junction
    inside a tunnel is no place for a pole, the one at its mouth is.

    From the streets table alone (one row per street, ``u`` and ``v`` its end nodes, its
    line drawn from ``u`` to ``v``): a node's position is the end of a line that meets it,
    so no graph is needed (``CityModel.street_graph`` may be None).
    """
    if len(streets) == 0 or "u" not in streets.columns:
        return np.empty((0, 2))
    is_drive = streets["drive"].to_numpy(dtype=bool)
    drive = streets[is_drive]
    keep_edge = drive["u"].to_numpy() != drive["v"].to_numpy()  # loops meet no other street
    open_edge = open_sky_drive(streets)[is_drive][keep_edge]
    lines = drive.geometry.to_numpy()[keep_edge]
    # the edges' ends in the table's order (u, v of the first edge, then of the next...),
    # each with its position: the first point of its line for u, the last for v
    ends = np.column_stack([drive["u"].to_numpy()[keep_edge], drive["v"].to_numpy()[keep_edge]])
    xy = np.stack(
        [
            shapely.get_coordinates(shapely.get_point(lines, 0)),
            shapely.get_coordinates(shapely.get_point(lines, -1)),
        ],
        axis=1,
    )
    _, first, inverse, degree = np.unique(
        ends.ravel(), return_index=True, return_inverse=True, return_counts=True
    )
    # how many of each node's edges are under open sky (both ends of an edge are its)
    n_open = np.bincount(inverse.ravel(), weights=np.repeat(open_edge, 2), minlength=first.size)
    # the nodes in the order they first appear (the order of the sites and candidates)
    at = np.sort(first[(degree >= 3) & (n_open > 0)])
    return xy.reshape(-1, 2)[at].reshape(-1, 2)


def street_sites(
    streets: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    bounds: tuple[float, float, float, float],
    *,
    isd_m: float = 200.0,
    street_height_m: float = 10.0,
    street_offset_m: float = 4.0,
    search_radius_m: float | None = None,
    prefix: str = "S",
    water: Any = None,
    on_water: list[tuple[float, float]] | None = None,
    **site_kwargs: object,
) -> list[Site]:
    """UMi sites on a hexagonal lattice, each moved to the nearest street intersection
    (or the nearest point of a drivable street under open sky), then off the street's
    side; a lattice point whose pole would stand on ``water`` (a shapely geometry, the
    city's water) takes none, and its pole's spot is appended to ``on_water`` when
    given."""
    radius = isd_m / 2 if search_radius_m is None else search_radius_m
    nodes = intersections(streets)
    drive = streets.geometry[open_sky_drive(streets)].to_numpy()
    if nodes.size == 0 and drive.size == 0:
        raise InputError(
            "street sites need drivable streets under open sky; this city has none "
            "(tunnels, building passages and covered ways take no pole)"
        )
    footprints = shapely.STRtree(buildings.geometry.to_numpy())
    if nodes.size:  # intersections under buildings (passages) cannot take a pole
        inside, _ = footprints.query(shapely.points(nodes), predicate="within")
        nodes = np.delete(nodes, np.unique(inside), axis=0)
    sites: list[Site] = []
    taken: list[tuple[float, float]] = []
    for _k, (x, y) in enumerate(hex_lattice(bounds, isd_m)):
        spot: tuple[float, float] | None = None
        how = "hex-street"
        if nodes.size:
            d = np.hypot(nodes[:, 0] - x, nodes[:, 1] - y)
            for i in np.argsort(d):
                if d[i] > radius:
                    break
                cand = (float(nodes[i, 0]), float(nodes[i, 1]))
                if all(math.hypot(cand[0] - a, cand[1] - b) > isd_m / 3 for a, b in taken):
                    spot = cand
                    break
        if spot is None and drive.size:
            p = shapely.Point(x, y)
            dist = shapely.distance(drive, p)
            for j in np.argsort(dist):
                if dist[j] > radius:
                    break
                q = shapely.line_interpolate_point(drive[j], shapely.line_locate_point(drive[j], p))
                if not footprints.query(q, predicate="within").size:
                    spot, how = (float(q.x), float(q.y)), "hex-street-side"
                    break
        if spot is None:
            continue
        sx, sy = _street_side(spot, footprints, street_offset_m)
        if water is not None and shapely.intersects_xy(water, sx, sy):
            if on_water is not None:
                on_water.append((sx, sy))
            continue  # no pole in the water
        taken.append(spot)
        sites.append(
            Site(
                site_id=f"{prefix}{len(sites) + 1:02d}",
                x_m=sx,
                y_m=sy,
                height_m=street_height_m,
                model="umi",
                placed_by=how,
                **site_kwargs,  # type: ignore[arg-type]
            )
        )
    return sites


def _street_side(
    spot: tuple[float, float], footprints: shapely.STRtree, offset_m: float
) -> tuple[float, float]:
    """Move ``spot`` by ``offset_m`` toward the nearest building (the pole stands at the kerb),
    unless that lands inside a footprint."""
    p = shapely.Point(spot)
    geoms = footprints.geometries
    near = footprints.nearest(p)  # index of the nearest footprint
    if near is None:
        return spot
    target = nearest_points(p, geoms[int(near)])[1]
    d = p.distance(target)
    if d <= offset_m + 1.0:
        return spot
    ux, uy = (target.x - p.x) / d, (target.y - p.y) / d
    moved = (spot[0] + ux * offset_m, spot[1] + uy * offset_m)
    if footprints.query(shapely.Point(moved), predicate="within").size:
        return spot
    return moved


def check_sites_in_area(
    sites: Sequence[Site],
    bounds: tuple[float, float, float, float],
    *,
    where: str = "sites",
    crs: CRS | None = None,
) -> None:
    """Raise :class:`InputError` naming the first site that lies outside ``bounds``.

    With the area's ``crs`` the message gives the site and the area in lon/lat, as a
    sites file does, and says so when the site's lon and lat, swapped, lie inside (a
    table written lat, lon).
    """
    minx, miny, maxx, maxy = bounds

    def inside(x: float, y: float) -> bool:
        return minx <= x <= maxx and miny <= y <= maxy

    for s in sites:
        if inside(s.x_m, s.y_m):
            continue
        if crs is None:
            raise InputError(
                f"{where}: site {s.site_id} at ({s.x_m:.1f}, {s.y_m:.1f}) lies outside the "
                f"area ({minx:.1f}, {miny:.1f}) - ({maxx:.1f}, {maxy:.1f}); sites must be inside it"
            )

        to_lonlat = Transformer.from_crs(crs, 4326, always_xy=True)
        lon, lat = to_lonlat.transform(s.x_m, s.y_m)
        west, south, east, north = to_lonlat.transform_bounds(minx, miny, maxx, maxy)
        hint = ""
        if -90.0 <= lon <= 90.0:
            sx, sy = Transformer.from_crs(4326, crs, always_xy=True).transform(lat, lon)
            if inside(sx, sy):
                hint = f"; its lon and lat look swapped: lon {lat:.6f}, lat {lon:.6f} is inside"
        raise InputError(
            f"{where}: site {s.site_id} at lon {lon:.6f}, lat {lat:.6f} lies outside the area "
            f"(lon {west:.6f} to {east:.6f}, lat {south:.6f} to {north:.6f}); sites must be "
            f"inside it{hint}"
        )


def _footprints_hit(
    x_m: np.ndarray, y_m: np.ndarray, buildings: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(point index, building row) of every footprint a point lies in (its edge excluded,
    as the placements' ``within``)."""
    if not len(x_m) or buildings.empty:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    points = shapely.points(np.column_stack([x_m, y_m]))
    point_k, bld_k = buildings.sindex.query(points, predicate="within")
    return np.asarray(point_k, dtype=np.int64), np.asarray(bld_k, dtype=np.int64)


def _buried(
    x_m: np.ndarray, y_m: np.ndarray, height_m: np.ndarray, buildings: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(point index, building row) of every building an antenna is inside: its point in
    the footprint and its height at least the part's base (``min_height_m``: under an
    overhang or a bridge it is outside) and below the roof (at the roof it stands on it)."""
    point_k, bld_k = _footprints_hit(x_m, y_m, buildings)
    h = np.asarray(height_m, dtype=float)[point_k]
    base = buildings["min_height_m"].to_numpy(dtype=float)[bld_k]
    roof = buildings["height_m"].to_numpy(dtype=float)[bld_k]
    inside = (base <= h) & (h < roof)
    return point_k[inside], bld_k[inside]


def antennas_inside_buildings(
    x_m: np.ndarray | float,
    y_m: np.ndarray | float,
    height_m: np.ndarray | float,
    buildings: gpd.GeoDataFrame,
) -> np.ndarray:
    """Boolean per antenna (``height_m`` above ground at ``(x_m, y_m)``): inside a building,
    below its roof (see :func:`check_sites_above_roofs`). The layouts and the optimiser's
    candidates leave such spots out."""
    x = np.atleast_1d(np.asarray(x_m, dtype=float))
    y = np.atleast_1d(np.asarray(y_m, dtype=float))
    h = np.broadcast_to(np.asarray(height_m, dtype=float), x.shape)
    point_k, _ = _buried(x, y, h, buildings)
    out = np.zeros(x.shape, dtype=bool)
    out[point_k] = True
    return out


_HEIGHT_FROM = {
    "height": "from its OSM height tag",
    "levels": "estimated from its OSM building:levels",
    "type_default": "a default for its building type: OSM has no height or levels",
    "default": "a default: OSM has no height or levels",
}


def _xyh(sites: Sequence[Site]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.array([(s.x_m, s.y_m, s.height_m) for s in sites], dtype=float).reshape(-1, 3)
    return a[:, 0], a[:, 1], a[:, 2]


def roofs_under(sites: Sequence[Site], buildings: gpd.GeoDataFrame) -> np.ndarray:
    """For each site the ``building_id`` of the roof it stands on: of the footprints its
    point lies in, the tallest whose roof is at or below the antenna; -1 for none."""
    out = np.full(len(sites), -1, dtype=np.int64)
    x, y, h = _xyh(sites)
    point_k, bld_k = _footprints_hit(x, y, buildings)
    roof = buildings["height_m"].to_numpy(dtype=float)
    below = roof[bld_k] <= h[point_k]
    point_k, bld_k = point_k[below], bld_k[below]
    ids = buildings.index.to_numpy()
    for k in np.unique(point_k):
        here = bld_k[point_k == k]
        out[k] = int(ids[here[np.argmax(roof[here])]])
    return out


#: what :func:`twin.study.given_sites_on_roofs` records in a lifted site's ``extra``
LIFT_KEYS = ("lifted_from_m", "roof_height_source")


def without_lift(extra: dict[str, str]) -> dict[str, str]:
    """``extra`` without the record of a lift (a site moved or given a new height)."""
    return {k: v for k, v in extra.items() if k not in LIFT_KEYS}


def unlifted_height_m(site: Site) -> float:
    """The antenna height the site was given: before a lift onto a roof, if any."""
    given = site.extra.get("lifted_from_m")
    return float(given) if given is not None else site.height_m


@dataclass(frozen=True)
class Lift:
    """A site :func:`lift_onto_roofs` raised onto a roof (``index``: its place in the
    list given)."""

    index: int
    site_id: str
    from_m: float
    to_m: float
    building_id: int
    roof_m: float
    height_source: str


def lift_onto_roofs(
    sites: Sequence[Site], buildings: gpd.GeoDataFrame, *, mast_m: float = 3.0
) -> tuple[list[Site], list[Lift]]:
    """``sites`` with each antenna that is inside a building, below its roof
    (:func:`check_sites_above_roofs`), raised onto the top of what stands at its point:
    the tallest roof of the footprints it lies in (a tower on a podium: the tower's) plus
    ``mast_m``, ``building_id`` that roof's. Returns the sites (the others unchanged, in
    order) and what was lifted. Pure; for site data known to be right where OSM's roof
    heights are estimated (``sites.inside_building = "lift"``)."""
    if mast_m < 0:
        raise InputError(f"sites.lift_mast_m: {mast_m:g} m must be >= 0")
    out = list(sites)
    x, y, h = _xyh(out)
    buried = np.unique(_buried(x, y, h, buildings)[0])
    point_k, bld_k = _footprints_hit(x[buried], y[buried], buildings)
    roof = buildings["height_m"].to_numpy(dtype=float)
    source = (
        buildings["height_source"].fillna("").astype(str).to_numpy()
        if "height_source" in buildings
        else np.full(len(buildings), "", dtype=object)
    )
    ids = buildings.index.to_numpy()
    lifts = []
    for j, k in enumerate(buried):
        here = bld_k[point_k == j]
        top = here[np.argmax(roof[here])]
        s = out[int(k)]
        to_m = float(roof[top] + mast_m)
        lifts.append(
            Lift(
                index=int(k),
                site_id=s.site_id,
                from_m=s.height_m,
                to_m=to_m,
                building_id=int(ids[top]),
                roof_m=float(roof[top]),
                height_source=str(source[top]),
            )
        )
        out[int(k)] = replace(s, height_m=to_m, building_id=int(ids[top]))
    return out, lifts


def check_sites_above_roofs(
    sites: Sequence[Site], buildings: gpd.GeoDataFrame, *, where: str = "sites"
) -> None:
    """Raise :class:`InputError` naming the first site whose antenna is inside a building.

    A site stands inside a footprint when its point lies in it (its edge excluded); its
    antenna (``height_m`` above ground) is inside the building when it is at least the
    building's ``min_height_m`` (the part's base: a site under an overhang or a bridge is
    outside it) and below its roof. An antenna at the roof's height or above stands on it.
    The message says where the roof's height comes from (``height_source``: a tag, the
    levels, or a default when OSM has neither).
    """
    x, y, h = _xyh(sites)
    point_k, bld_k = _buried(x, y, h, buildings)
    if not point_k.size:
        return
    first = int(np.argmin(point_k))
    s, b = sites[int(point_k[first])], int(bld_k[first])
    roof_m = float(buildings["height_m"].iloc[b])
    source = str(buildings["height_source"].iloc[b]) if "height_source" in buildings else ""
    how = f", {_HEIGHT_FROM[source]}" if source in _HEIGHT_FROM else ""
    raise InputError(
        f"{where}: site {s.site_id} at {_lon_lat(s, buildings.crs)} stands inside "
        f"{building_label(buildings, buildings.index[b])} (roof {roof_m:g} m above ground"
        f"{how}) with its antenna at {s.height_m:g} m; give it a height_m of at least "
        f"{roof_m:g} m (on the roof) or move it outside the footprint"
    )


def height_from(source: str) -> str:
    """Where a roof's height comes from, for a message (``height_source`` of the
    buildings: ``"from its OSM height tag"``, ...)."""
    return _HEIGHT_FROM.get(source, "a height of unknown source")


def building_label(buildings: gpd.GeoDataFrame, building_id: Any) -> str:
    """``building 5 "Marski by Scandic" (OSM relation/5608)``: its id in the city model
    with its OSM name and id where the buildings have them."""
    row = buildings.loc[building_id]
    name = str(row["name"]) if "name" in buildings and isinstance(row["name"], str) else ""
    osm = str(row["osm_id"]) if "osm_id" in buildings and isinstance(row["osm_id"], str) else ""
    return (
        f"building {building_id}"
        + (f" {json.dumps(name, ensure_ascii=False)}" if name else "")
        + (f" (OSM {osm})" if osm else "")
    )


def _lon_lat(site: Site, crs: CRS | None) -> str:
    """A site's point as the user gives it (lon, lat to 1e-7 degree, about 1 cm), or
    in the city CRS when there is none."""
    if crs is None:
        return f"({site.x_m:.1f}, {site.y_m:.1f})"
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(site.x_m, site.y_m)
    return f"lon {_deg(lon)}, lat {_deg(lat)}"


def _deg(value: float) -> str:
    return f"{value:.7f}".rstrip("0").rstrip(".")


def sites_to_geodataframe(
    sites: Sequence[Site], crs: CRS, *, ground: bool = False
) -> gpd.GeoDataFrame:
    """Sites as points with their attributes (lists joined by ``;``; azimuths from true
    north, as the inputs give them): the ``sites`` layer. Where a :class:`Site` holds a
    placeholder the layer holds a null, so that a GIS's ``IS NULL`` finds it and a sites
    file reads it back as blank: ``azimuths_deg`` None for one omnidirectional cell,
    ``bands_ghz`` None for every band, ``building_id`` (nullable integers) NA for a site
    on no building. With ``ground`` (a city on terrain) the ground under each site,
    ``ground_m``, follows ``height_m`` (a sites file reading the layer back ignores it:
    the study finds it again)."""
    building_id = [s.building_id if s.building_id >= 0 else None for s in sites]
    under = {"ground_m": [s.ground_m for s in sites]} if ground else {}
    return gpd.GeoDataFrame(
        {
            "site_id": [s.site_id for s in sites],
            "height_m": [s.height_m for s in sites],
            **under,
            "model": [s.model for s in sites],
            "placed_by": [s.placed_by for s in sites],
            "power_dbm": [s.power_dbm for s in sites],
            "gain_dbi": [s.gain_dbi for s in sites],
            "azimuths_deg": [
                ";".join(f"{a:.9g}" for a in grid_to_true_deg(s.azimuths_deg, s.x_m, s.y_m, crs))
                if s.azimuths_deg
                else None
                for s in sites
            ],
            "bands_ghz": [";".join(f"{b:g}" for b in s.bands_ghz) or None for s in sites],
            "building_id": pd.array(building_id, dtype="Int64"),
        },
        geometry=[shapely.Point(s.x_m, s.y_m) for s in sites],
        crs=crs,
    )


def with_defaults(sites: Sequence[Site], **changes: object) -> list[Site]:
    """Copies of ``sites`` with some fields changed (e.g. ``bands_ghz``)."""
    return [replace(s, **changes) for s in sites]  # type: ignore[arg-type]


def sites_from_entries(
    entries: Sequence[SiteEntry], crs: CRS, *, placed_by: str = "file"
) -> list[Site]:
    """Sites from lon/lat entries (:class:`twin.scenario.SiteEntry`), projected to ``crs``
    (their azimuths, from true north, turned to grid bearings)."""

    to_city = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    out = []
    for e in entries:
        x, y = to_city.transform(e.lon, e.lat)
        out.append(
            Site(
                site_id=e.site_id,
                x_m=float(x),
                y_m=float(y),
                height_m=float(e.height_m),
                model=e.model,
                power_dbm=float(e.power_dbm),
                gain_dbi=float(e.gain_dbi),
                azimuths_deg=true_to_grid_deg(e.azimuths_deg, float(x), float(y), crs),
                bands_ghz=tuple(e.bands_ghz),
                placed_by=placed_by,
            )
        )
    return out
