"""The ground under the twin's points when the city stands on terrain.

Without a terrain file the ground is flat at 0 m and every height of the twin is a height
above it. With one (``city.terrain``, :func:`twin.sources.terrain.read_terrain`), the
twin keeps those heights above the local ground (what OSM's ``height``, a scenario's
``height_m`` and the 38.901 formulas' h_BS and h_UT mean) and adds the ground under
each point to place it in space:

* a building stands on its **ground** (:func:`twin.city.terrain.building_ground_m`: the
  lowest terrain along its outline, where OSM measures ``height`` from; overlapping
  footprints, the stacked parts of one building, share the lowest of theirs); its roof
  is at ground + ``height_m``, its indoor receivers at ground + their height;
* an outdoor receiver stands on the terrain at its point (bilinear surface);
* a site on a building (its ``building_id``), or whose point lies on a footprint (edge
  included), stands on that building's ground (the lowest, if on several), as its
  ``height_m`` is checked against the roof;
  any other site on the terrain at its point.

Building prisms keep their base at the lowest point of the model (:attr:`CityGround.datum_m`)
unless they float (``min_height_m`` > 0, a bridge or an overhang): under a building, the
terrain is at or above its ground, so a ray there is blocked by the terrain anyway, and the
LoS engines see ordinary prisms standing on one plane. Terrain blocks a ray on its own
(exact for the bilinear surface: :func:`twin.visibility.ground.terrain_blocks_before_own`,
which, as for the buildings, stops at an indoor receiver's own building). See
``docs/terrain.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely

from twin.city.terrain import Terrain, building_ground_m

if TYPE_CHECKING:
    import geopandas as gpd

    from twin.city.model import CityModel
    from twin.sites import Site

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class CityGround:
    """The terrain of a city and the ground of each of its buildings.

    Attributes
    ----------
    terrain
        The ground elevation surface (metres above the DEM's datum, the city CRS).
    building_ground_m
        (B,) ground of each building (index ``building_id``), metres on that datum.
    """

    terrain: Terrain
    building_ground_m: FloatArray

    @property
    def datum_m(self) -> float:
        """The plane the LoS engines stand their prisms on: 0 m, or the lowest node of the
        terrain rounded down where it is below 0 m (a coast, a polder)."""
        low = float(np.min(self.terrain.elevation_m)) if self.terrain.elevation_m.size else 0.0
        return min(0.0, math.floor(low))

    def receivers_m(
        self, x_m: npt.ArrayLike, y_m: npt.ArrayLike, building_id: npt.ArrayLike
    ) -> FloatArray:
        """Ground under receivers: their building's ground indoors (``building_id`` >= 0),
        the terrain at their point outdoors (-1)."""
        bid = np.asarray(building_id, dtype=np.int64)
        out = np.empty(bid.shape, dtype=np.float64)
        inside = bid >= 0
        out[inside] = self.building_ground_m[bid[inside]]
        outside = ~inside
        if outside.any():
            x = np.asarray(x_m, dtype=np.float64)
            y = np.asarray(y_m, dtype=np.float64)
            out[outside] = self.terrain.ground_m(x[outside], y[outside])
        return out

    def sites_m(self, sites: Sequence[Site], buildings: gpd.GeoDataFrame) -> FloatArray:
        """Ground under each site: the ground of the building it stands on
        (``building_id``), else the lowest ground of the footprints its point lies on
        (edge included), else the terrain at its point."""
        x = np.array([s.x_m for s in sites], dtype=np.float64)
        y = np.array([s.y_m for s in sites], dtype=np.float64)
        out = np.full(x.size, np.inf)
        if x.size and len(buildings):
            points = shapely.points(x, y)
            k, b = buildings.sindex.query(points, predicate="intersects")
            if k.size:
                np.minimum.at(out, k, self.building_ground_m[b])
        on = np.array([s.building_id for s in sites], dtype=np.int64)
        known = (on >= 0) & (on < self.building_ground_m.size)
        out[known] = self.building_ground_m[on[known]]
        free = np.isinf(out)
        if free.any():
            out[free] = self.terrain.ground_m(x[free], y[free])
        return out

    def prisms_heights_m(
        self, height_m: npt.ArrayLike, min_height_m: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """Tops and bases of the buildings' prisms above :attr:`datum_m`: the top at ground
        + ``height_m``; the base at the datum (0), or at ground + ``min_height_m`` for a
        floating part."""
        datum = self.datum_m
        h = np.asarray(height_m, dtype=np.float64)
        low = np.asarray(min_height_m, dtype=np.float64)
        g = self.building_ground_m
        return g + h - datum, np.where(low > 0, g + low - datum, 0.0)


def shared_ground_m(geometries: gpd.GeoSeries, ground_m: npt.ArrayLike) -> FloatArray:
    """``ground_m`` made one per group of overlapping footprints (the lowest of the
    group): the stacked ``building:part``s of one building (a podium and its tower) share
    the building's ground, as OSM's Simple 3D Buildings measures every part's heights
    from it; footprints that only touch (a row of houses up a slope) keep their own."""
    g = np.array(ground_m, dtype=np.float64)
    geoms = np.asarray(geometries.values, dtype=object)
    n = g.size
    if n < 2:
        return g
    a, b = geometries.sindex.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if a.size:
        area = shapely.area(shapely.intersection(geoms[a], geoms[b]))
        real = area > 1e-6 * np.minimum(shapely.area(geoms[a]), shapely.area(geoms[b]))
        a, b = a[real], b[real]
    if not a.size:
        return g
    # the groups: each footprint labelled by the smallest index it is linked to, spread
    # along the overlaps until nothing changes
    label = np.arange(n)
    while True:
        before = label.copy()
        low_ab = np.minimum(label[a], label[b])
        np.minimum.at(label, a, low_ab)
        np.minimum.at(label, b, low_ab)
        label = label[label]
        if np.array_equal(label, before):
            break
    low = np.full(n, np.inf)
    np.minimum.at(low, label, g)
    return low[label]


def on_terrain(city: CityModel, terrain: Terrain) -> CityModel:
    """``city`` standing on ``terrain``: its buildings with their ``ground_m`` (the
    lowest terrain along each outline, :func:`twin.city.terrain.building_ground_m`, one
    per group of overlapping footprints, :func:`shared_ground_m`) and its ``terrain``
    set."""
    buildings = city.buildings.copy()
    own = building_ground_m(terrain, buildings.geometry)
    buildings["ground_m"] = shared_ground_m(buildings.geometry, own)
    return replace(city, buildings=buildings, terrain=terrain)


def city_ground(city: CityModel) -> CityGround | None:
    """The city's :class:`CityGround`, or None on flat ground."""
    if city.terrain is None:
        return None
    ground = np.asarray(city.buildings["ground_m"], dtype=np.float64)
    return CityGround(city.terrain, ground)


def sites_on_ground(sites: Sequence[Site], city: CityModel) -> list[Site]:
    """``sites`` with their ``ground_m`` (:meth:`CityGround.sites_m`; 0 on flat ground)."""
    ground = city_ground(city)
    if ground is None:
        return [s if s.ground_m == 0.0 else replace(s, ground_m=0.0) for s in sites]
    g = ground.sites_m(sites, city.buildings)
    return [replace(s, ground_m=float(v)) for s, v in zip(sites, g, strict=True)]
