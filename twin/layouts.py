"""Generated site layouts of a scenario on a city (pure).

:func:`generate_layout` turns one ``[[sites.generate]]`` entry (or a variant's
``add_layouts`` entry) into sites:

- ``hex-rooftop`` and ``hex-street``: the hexagonal layouts of :mod:`twin.sites`;
- ``cluster``: :func:`cluster_sites`, a temporary cluster of sites around a building
  found by its name in the city's data, or around a point.

Default id prefixes: ``U`` (rooftop), ``S`` (street), ``E`` (cluster); the k-th layout
of a list (k > 0) gets ``U{k}_`` etc., so ids stay unique.
"""

from __future__ import annotations

import difflib
import logging
import math
from dataclasses import replace

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.ops import nearest_points

from twin.city.model import CityModel
from twin.city.water import water_union
from twin.errors import InputError
from twin.scenario import ClusterLayout, SiteLayout
from twin.sites import (
    ROOF_ANTENNA_MAX_M,
    ROOF_ANTENNA_MIN_M,
    Site,
    grid_north_deg,
    rooftop_sites,
    street_sites,
    true_to_grid_deg,
    with_defaults,
)

__all__ = ["DEFAULT_PREFIX", "cluster_sites", "find_buildings", "generate_layout"]

log = logging.getLogger(__name__)

#: Id prefix of each layout when the scenario gives none.
DEFAULT_PREFIX = {"hex-rooftop": "U", "hex-street": "S", "cluster": "E"}


def _prefix(layout: SiteLayout | ClusterLayout, index: int) -> str:
    if layout.prefix:
        return layout.prefix
    base = DEFAULT_PREFIX[layout.layout]
    return base if index == 0 else f"{base}{index}_"


def generate_layout(
    layout: SiteLayout | ClusterLayout,
    city: CityModel,
    bounds: tuple[float, float, float, float],
    *,
    index: int = 0,
) -> list[Site]:
    """The sites of one generated layout on ``city`` inside ``bounds``.

    Parameters
    ----------
    layout
        A scenario layout (``hex-rooftop``, ``hex-street`` or ``cluster``).
    city
        The city model (buildings, streets, CRS).
    bounds
        Analysis area (minx, miny, maxx, maxy) in the city CRS.
    index
        Position of the layout in its list; chooses the default id prefix.

    Returns
    -------
    list of Site
        The layout's sites inside ``bounds`` (a street site snapped to an intersection
        beyond the edge of the area is left out, as a run accepts no site outside it).
    """
    prefix = _prefix(layout, index)
    if isinstance(layout, ClusterLayout):
        return cluster_sites(
            city.buildings,
            bounds,
            city.crs,
            around=layout.around,
            count=layout.count,
            distance_m=layout.distance_m,
            start_deg=layout.start_deg,
            height_m=layout.height_m,
            model=layout.model,
            face=layout.face,
            prefix=prefix,
            power_dbm=layout.power_dbm,
            gain_dbi=layout.gain_dbi,
            bands_ghz=tuple(layout.bands_ghz),
        )
    common = {
        "power_dbm": layout.power_dbm,
        "gain_dbi": layout.gain_dbi,
        "azimuths_deg": tuple(layout.azimuths_deg),
        "bands_ghz": tuple(layout.bands_ghz),
    }
    generated: list[Site]
    water = water_union(city.water)
    on_water: list[tuple[float, float]] = []
    if layout.layout == "hex-rooftop":
        generated = rooftop_sites(
            city.buildings,
            bounds,
            isd_m=layout.isd_m,
            mast_m=layout.mast_m,
            prefix=prefix,
            streets=city.streets,
            water=water,
            on_water=on_water,
        )
        masts = [s for s in generated if s.placed_by == "hex-mast"]
        if masts:
            default = city.height_source_counts().get("default", 0)
            names = ", ".join(s.site_id for s in masts[:10]) + (" ..." if len(masts) > 10 else "")
            log.warning(
                "hex-rooftop layout: %d of %d sites are %g m ground masts (%s): no roof "
                "within %.0f m of their lattice point is high enough for an antenna %g m "
                "above it to stand between %g and %g m%s",
                len(masts),
                len(generated),
                masts[0].height_m,
                names,
                layout.isd_m / 4,
                layout.mast_m,
                ROOF_ANTENNA_MIN_M,
                ROOF_ANTENNA_MAX_M,
                f"; {default} of {len(city.buildings)} buildings stand at the default "
                "height (no height in the data)"
                if default
                else "",
            )
    else:
        generated = street_sites(
            city.streets,
            city.buildings,
            bounds,
            isd_m=layout.isd_m,
            street_height_m=layout.street_height_m,
            prefix=prefix,
            water=water,
            on_water=on_water,
        )
    minx, miny, maxx, maxy = bounds
    skipped = [(x, y) for x, y in on_water if minx <= x <= maxx and miny <= y <= maxy]
    if skipped:
        log.warning(
            "%s layout: %d lattice points take no %s: it would stand on water (the city's "
            "sea, lakes or rivers) at %s",
            layout.layout,
            len(skipped),
            "ground mast" if layout.layout == "hex-rooftop" else "street pole",
            ", ".join(f"({x:.0f}, {y:.0f})" for x, y in skipped[:10])
            + (" ..." if len(skipped) > 10 else ""),
        )
    inside = [s for s in generated if minx <= s.x_m <= maxx and miny <= s.y_m <= maxy]
    # the layout's azimuths are bearings from true north: each site's from its grid north
    return [
        replace(s, azimuths_deg=true_to_grid_deg(layout.azimuths_deg, s.x_m, s.y_m, city.crs))
        for s in with_defaults(inside, **common)
    ]


def find_buildings(buildings: gpd.GeoDataFrame, name: str) -> np.ndarray:
    """Ids of the buildings whose ``name`` is ``name`` (case and outer spaces ignored).

    Raises
    ------
    InputError
        When no building has that name; the message lists close names of the city.
    """
    names = buildings["name"].fillna("").astype(str)
    key = name.strip().casefold()
    hit = names.str.strip().str.casefold() == key
    if hit.any():
        return np.asarray(buildings.index[hit.to_numpy()], dtype=np.int64)
    known = sorted({n for n in names if n})
    close = [n for n in known if key and key in n.casefold()]
    close += [n for n in difflib.get_close_matches(name, known, n=5, cutoff=0.6) if n not in close]
    hint = f"close names: {', '.join(repr(n) for n in close[:5])}" if close else (
        f"the city has {len(known)} named buildings, e.g. "
        + ", ".join(repr(n) for n in known[:5])
    )  # fmt: skip
    raise InputError(f"around: no building is named {name!r}; {hint}")


def _free_spot(
    p: shapely.Point,
    geoms: np.ndarray,
    tree: shapely.STRtree,
    bounds: tuple[float, float, float, float],
    clearance_m: float,
) -> shapely.Point:
    """``p`` moved into ``bounds`` and then to the nearest point outside every footprint
    (at least ``clearance_m`` from walls when it had to move)."""
    minx, miny, maxx, maxy = bounds
    p = shapely.Point(min(max(p.x, minx), maxx), min(max(p.y, miny), maxy))
    if not tree.query(p, predicate="within").size:
        return p
    for reach in (100.0, 300.0, 1000.0):
        near = tree.query(p.buffer(reach))
        blob = shapely.union_all(geoms[near]).buffer(clearance_m)
        area = shapely.box(*bounds)
        free = area.difference(blob)
        if not free.is_empty and free.distance(p) < reach:
            q = nearest_points(free, p)[0]
            return shapely.Point(q.x, q.y)
    raise InputError(
        f"no free spot outside the buildings near ({p.x:.1f}, {p.y:.1f}) inside the area"
    )


def cluster_sites(
    buildings: gpd.GeoDataFrame,
    bounds: tuple[float, float, float, float],
    crs: CRS,
    *,
    around: str | tuple[float, float],
    count: int = 4,
    distance_m: float = 30.0,
    start_deg: float = 45.0,
    height_m: float = 15.0,
    model: str = "umi",
    face: bool = True,
    prefix: str = "E",
    clearance_m: float = 2.0,
    **site_kwargs: object,
) -> list[Site]:
    """A cluster of ``count`` sites on a ring around a building (by name) or a point.

    For site k the bearing from the centre (the footprint's centroid, or the point) is
    ``start_deg + k * 360 / count`` (clockwise from true north). Along that bearing the site
    stands ``distance_m`` beyond the farthest crossing of the building's outline; a spot
    inside a footprint (a neighbour) or outside ``bounds`` is moved to the nearest free
    point at least ``clearance_m`` from walls. With ``face`` each site gets one sector
    whose azimuth points at the centre (a grid bearing, as ``Site.azimuths_deg`` are).

    Parameters
    ----------
    buildings
        The city's buildings (index ``building_id``, columns ``geometry``, ``name``).
    bounds
        Analysis area in the city CRS; every site lies inside it.
    crs
        The city CRS (to project a ``(lon, lat)`` centre).
    around
        Building name (see :func:`find_buildings`) or ``(lon, lat)`` in degrees.
    site_kwargs
        Further :class:`~twin.sites.Site` fields (``power_dbm``, ``gain_dbi``, ``bands_ghz``).

    Returns
    -------
    list of Site
        ``{prefix}01`` ... with ``placed_by="cluster"``.
    """
    if count < 1:
        raise InputError(f"count: {count} is not allowed; give 1 or more sites")
    geoms = buildings.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    if isinstance(around, str):
        ids = find_buildings(buildings, around)
        pos = np.flatnonzero(np.isin(buildings.index.to_numpy(), ids))
        shape = shapely.union_all(geoms[pos])
        centre = shape.centroid
        what = around
    else:
        x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(*around)
        centre = shapely.Point(float(x), float(y))
        shape = centre
        what = f"({around[0]:g}, {around[1]:g})"
    minx, miny, maxx, maxy = bounds
    if not (minx <= centre.x <= maxx and miny <= centre.y <= maxy):
        raise InputError(f"around: {what} lies outside the study area; choose one inside it")
    reach = 10_000.0
    # start_deg is a bearing from true north; the ring is laid out in the grid
    north_deg = float(grid_north_deg(centre.x, centre.y, crs))
    sites: list[Site] = []
    for k in range(count):
        bearing = math.radians(start_deg + north_deg + k * 360.0 / count)
        ux, uy = math.sin(bearing), math.cos(bearing)
        far = (centre.x + reach * ux, centre.y + reach * uy)
        ray = shapely.LineString([(centre.x, centre.y), far])
        crossing = ray.intersection(shape)
        edge_m = 0.0
        if not crossing.is_empty:
            xy = shapely.get_coordinates(crossing)
            edge_m = float(np.max((xy[:, 0] - centre.x) * ux + (xy[:, 1] - centre.y) * uy))
        d = edge_m + distance_m
        spot = _free_spot(
            shapely.Point(centre.x + d * ux, centre.y + d * uy), geoms, tree, bounds, clearance_m
        )
        azimuths: tuple[float, ...] = ()
        if face:
            az = math.degrees(math.atan2(centre.x - spot.x, centre.y - spot.y)) % 360.0
            azimuths = (round(az, 3),)
        sites.append(
            Site(
                site_id=f"{prefix}{k + 1:02d}",
                x_m=float(spot.x),
                y_m=float(spot.y),
                height_m=float(height_m),
                model=model,
                azimuths_deg=azimuths,
                placed_by="cluster",
                **site_kwargs,  # type: ignore[arg-type]
            )
        )
    return sites
