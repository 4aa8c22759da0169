"""Building prisms as flat arrays.

A building is a footprint (Polygon or MultiPolygon, holes are open courtyards) extruded
from ``min_height_m`` to ``height_m`` above flat ground. :class:`BuildingPrisms` keeps the
footprints split into polygon *parts* (one per Polygon of a MultiPolygon), sorted by
building, and every ring edge of every part as flat float64 arrays, so that compiled
kernels (:mod:`twin.visibility.exact`, :mod:`twin.visibility.fast`) can work without
touching Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from twin.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd

    from twin.city.model import CityModel

__all__ = ["BuildingPrisms", "city_prisms"]


@dataclass(frozen=True, eq=False)
class BuildingPrisms:
    """Footprints extruded between a bottom and a top height, as flat arrays.

    Parts are sorted by building, so the parts of building ``b`` are
    ``part_start[b]:part_start[b + 1]``; the ring edges of part ``p`` (exterior and holes
    alike, in no particular order) are ``edge_start[p]:edge_start[p + 1]``.

    Attributes
    ----------
    height_m, min_height_m
        Top and bottom of each building's prism above ground, metres, shape (B,).
    part_geoms
        One shapely Polygon per part, shape (P,).
    part_building
        Building id of each part, shape (P,), non-decreasing.
    part_start
        Offsets of each building's parts, shape (B + 1,).
    part_bounds_m
        ``minx, miny, maxx, maxy`` of each part, shape (P, 4).
    edge_x0_m, edge_y0_m, edge_x1_m, edge_y1_m
        End points of every ring edge, shape (E,).
    edge_start
        Offsets of each part's edges, shape (P + 1,).
    """

    height_m: np.ndarray
    min_height_m: np.ndarray
    part_geoms: np.ndarray
    part_building: np.ndarray
    part_start: np.ndarray
    part_bounds_m: np.ndarray
    edge_x0_m: np.ndarray
    edge_y0_m: np.ndarray
    edge_x1_m: np.ndarray
    edge_y1_m: np.ndarray
    edge_start: np.ndarray

    @classmethod
    def from_geodataframe(cls, buildings: gpd.GeoDataFrame) -> BuildingPrisms:
        """Build prisms from a buildings GeoDataFrame (the ``CityModel.buildings`` contract).

        Parameters
        ----------
        buildings
            GeoDataFrame in a metric CRS whose index is ``building_id`` 0..n-1, with
            columns ``geometry`` (Polygon or MultiPolygon, holes allowed), ``height_m``
            and ``min_height_m`` (metres above ground). Empty geometries give buildings
            without parts (they never block).

        Raises
        ------
        InputError
            If the index is not 0..n-1, a column is missing, a height is not finite or
            negative, or the CRS is geographic.
        """
        for column in ("geometry", "height_m", "min_height_m"):
            if column not in buildings.columns:
                raise InputError(f"buildings: column {column!r} is missing")
        crs = buildings.crs
        if crs is not None and crs.is_geographic:
            raise InputError(
                f"buildings: CRS {crs.to_string()} is geographic; project it to metres"
            )
        index = np.asarray(buildings.index)
        if not np.array_equal(index, np.arange(len(buildings))):
            raise InputError("buildings: the index must be building_id 0..n-1 in order")
        return cls.from_arrays(
            np.asarray(buildings.geometry.values, dtype=object),
            np.asarray(buildings["height_m"], dtype=np.float64),
            np.asarray(buildings["min_height_m"], dtype=np.float64),
        )

    @classmethod
    def from_arrays(
        cls, geometries: np.ndarray, height_m: np.ndarray, min_height_m: np.ndarray
    ) -> BuildingPrisms:
        """Build prisms from parallel arrays; building ``b`` is element ``b`` of each.

        Parameters
        ----------
        geometries
            shapely Polygons or MultiPolygons (None or empty allowed), shape (B,).
        height_m, min_height_m
            Top and bottom of each prism above ground, metres, shape (B,).
        """
        geoms = np.asarray(geometries, dtype=object)
        top = np.asarray(height_m, dtype=np.float64).reshape(-1)
        bottom = np.asarray(min_height_m, dtype=np.float64).reshape(-1)
        if not (len(geoms) == len(top) == len(bottom)):
            raise InputError("buildings: geometry, height_m and min_height_m differ in length")
        if not (np.all(np.isfinite(top)) and np.all(np.isfinite(bottom))):
            bad = int(np.flatnonzero(~(np.isfinite(top) & np.isfinite(bottom)))[0])
            raise InputError(f"buildings: building {bad} has a height that is not finite")
        if np.any(top < 0) or np.any(bottom < 0):
            bad = int(np.flatnonzero((top < 0) | (bottom < 0))[0])
            raise InputError(f"buildings: building {bad} has a negative height")
        kinds = shapely.get_type_id(geoms)
        allowed = (kinds == -1) | (kinds == 3) | (kinds == 6) | shapely.is_empty(geoms)
        if not np.all(allowed):
            bad = int(np.flatnonzero(~allowed)[0])
            raise InputError(
                f"buildings: building {bad} is a {shapely.get_type_id(geoms[bad])!r} geometry; "
                "only Polygon and MultiPolygon are allowed"
            )
        parts, part_building = shapely.get_parts(geoms, return_index=True)
        keep = ~shapely.is_empty(parts)
        parts = parts[keep]
        part_building = part_building[keep].astype(np.int64)
        order = np.argsort(part_building, kind="stable")
        parts, part_building = parts[order], part_building[order]
        part_start = np.searchsorted(part_building, np.arange(len(geoms) + 1)).astype(np.int64)

        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
        same_ring = coord_ring[:-1] == coord_ring[1:]
        x0, y0 = coords[:-1, 0][same_ring], coords[:-1, 1][same_ring]
        x1, y1 = coords[1:, 0][same_ring], coords[1:, 1][same_ring]
        edge_part = ring_part[coord_ring[:-1][same_ring]]
        nonzero = (x0 != x1) | (y0 != y1)
        x0, y0, x1, y1, edge_part = (a[nonzero] for a in (x0, y0, x1, y1, edge_part))
        # rings of a part are contiguous and parts are in order, so edges are sorted by part
        edge_start = np.searchsorted(edge_part, np.arange(len(parts) + 1)).astype(np.int64)
        bounds = shapely.bounds(parts).reshape(-1, 4)
        return cls(
            height_m=top,
            min_height_m=bottom,
            part_geoms=parts,
            part_building=part_building,
            part_start=part_start,
            part_bounds_m=bounds,
            edge_x0_m=np.ascontiguousarray(x0, dtype=np.float64),
            edge_y0_m=np.ascontiguousarray(y0, dtype=np.float64),
            edge_x1_m=np.ascontiguousarray(x1, dtype=np.float64),
            edge_y1_m=np.ascontiguousarray(y1, dtype=np.float64),
            edge_start=edge_start,
        )

    def __len__(self) -> int:
        return len(self.height_m)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle the footprints with one vectorised WKB conversion of all parts, not one
        shapely ``__reduce__`` per part: the tile context of a dask run carries the
        prisms, pickled before its first tile can start (on the 2-core VM, 1366 parts
        of the 10 km² synthetic city: see BENCHMARKS.md). The same WKB shapely pickles
        each geometry as, so nothing changes on the way; the STRtree (:attr:`tree`) is
        not pickled, but rebuilt where it is asked for."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["part_geoms"] = shapely.to_wkb(self.part_geoms, include_srid=True)
        return (_prisms_from_state, (state,))

    @property
    def n_parts(self) -> int:
        """Number of polygon parts."""
        return len(self.part_geoms)

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        """``minx, miny, maxx, maxy`` of all footprints (zeros when there are none)."""
        if self.n_parts == 0:
            return (0.0, 0.0, 0.0, 0.0)
        b = self.part_bounds_m
        return (
            float(b[:, 0].min()),
            float(b[:, 1].min()),
            float(b[:, 2].max()),
            float(b[:, 3].max()),
        )

    @cached_property
    def tree(self) -> shapely.STRtree:
        """An STRtree over the parts (indices are part indices)."""
        return shapely.STRtree(self.part_geoms)


def city_prisms(city: CityModel) -> BuildingPrisms:
    """The prisms of a city's buildings: above flat ground, or, when the city stands on
    terrain, above its datum (:meth:`twin.city.ground.CityGround.prisms_heights_m`: each
    top at the building's ground + ``height_m``)."""
    from twin.city.ground import city_ground

    ground = city_ground(city)
    if ground is None:
        return BuildingPrisms.from_geodataframe(city.buildings)
    b = city.buildings
    top_m, base_m = ground.prisms_heights_m(b["height_m"], b["min_height_m"])
    return BuildingPrisms.from_arrays(np.asarray(b.geometry.values, dtype=object), top_m, base_m)


def _prisms_from_state(state: dict[str, Any]) -> BuildingPrisms:
    """The prisms pickled by :meth:`BuildingPrisms.__reduce__`."""
    values = dict(state)
    values["part_geoms"] = np.asarray(shapely.from_wkb(values["part_geoms"]), dtype=object)
    return BuildingPrisms(**values)
