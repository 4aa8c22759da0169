"""A deterministic synthetic city for benchmarks and scaling tests (pure).

A square of ``area_km2`` is cut by a regular street grid into blocks. Each block is, by a
seeded draw, a perimeter block with an open courtyard (a footprint with a hole), a group
of detached buildings, a single tower, or a park. Heights are whole storeys of 3 m. The
same ``(area_km2, seed)`` always gives the same city, so runs of different sizes can be
compared; a block's content depends only on the seed and its position, so the city of
4 km^2 contains the one of 1 km^2 in its south-west corner.
"""

from __future__ import annotations

import hashlib
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from twin.city.model import CityModel, SourceInfo
from twin.errors import InputError

#: UTM zone 35N (Helsinki's), and the south-west corner of the synthetic city in it
SYNTHETIC_CRS = CRS.from_epsg(32635)
ORIGIN_M = (380_000.0, 6_660_000.0)


def _block_buildings(
    rng: np.random.Generator, x0: float, y0: float, size_m: float
) -> list[tuple[shapely.Polygon, float, str]]:
    """(footprint, height, kind) of one block whose south-west corner is (x0, y0)."""
    u = rng.random()
    storeys = int(rng.integers(3, 9))
    if u < 0.55:  # perimeter block with a courtyard
        depth = float(rng.uniform(12.0, 18.0))
        outer = shapely.box(x0, y0, x0 + size_m, y0 + size_m)
        inner = shapely.box(x0 + depth, y0 + depth, x0 + size_m - depth, y0 + size_m - depth)
        return [(shapely.Polygon(outer.exterior, [inner.exterior]), 3.0 * storeys, "apartments")]
    if u < 0.85:  # detached buildings, 2 x 2 or 3 x 3 with gaps
        k = int(rng.integers(2, 4))
        gap = 8.0
        side = (size_m - (k - 1) * gap) / k
        out = []
        for i in range(k):
            for j in range(k):
                if rng.random() < 0.15:
                    continue
                bx = x0 + i * (side + gap)
                by = y0 + j * (side + gap)
                h = 3.0 * int(rng.integers(2, 7))
                out.append((shapely.box(bx, by, bx + side, by + side), h, "house"))
        return out
    if u < 0.93:  # a tower on a plaza
        w = float(rng.uniform(25.0, 40.0))
        cx = x0 + size_m / 2
        cy = y0 + size_m / 2
        h = 3.0 * int(rng.integers(12, 25))
        return [(shapely.box(cx - w / 2, cy - w / 2, cx + w / 2, cy + w / 2), h, "office")]
    return []  # park


def synthetic_city(
    area_km2: float, *, seed: int = 1, block_m: float = 110.0, street_m: float = 20.0
) -> CityModel:
    """A square synthetic city of about ``area_km2`` (see the module notes).

    Parameters
    ----------
    area_km2
        Area of the square, km^2 (0.01 to 1000).
    seed
        Seed of the block draws.
    block_m
        Side of a block, metres.
    street_m
        Width of the streets between blocks, metres (street receivers and street sites
        use the centre lines).

    Returns
    -------
    CityModel
        Buildings and streets (a table of edges, no networkx graph) in UTM 35N;
        ``source.format`` is ``"synthetic"``.
    """
    if not (0.01 <= area_km2 <= 1000.0):
        raise InputError(f"area_km2: {area_km2} km^2 must be in [0.01, 1000]")
    if block_m <= 0 or street_m <= 0:
        raise InputError("block_m and street_m must be > 0 m")
    pitch = block_m + street_m
    n = max(1, round(math.sqrt(area_km2) * 1000.0 / pitch))
    ox, oy = ORIGIN_M
    geoms: list[shapely.Polygon] = []
    heights: list[float] = []
    kinds: list[str] = []
    for i in range(n):
        for j in range(n):
            rng = np.random.default_rng([seed, i, j])
            x0 = ox + i * pitch + street_m / 2
            y0 = oy + j * pitch + street_m / 2
            for geom, h, kind in _block_buildings(rng, x0, y0, block_m):
                geoms.append(geom)
                heights.append(h)
                kinds.append(kind)
    buildings = gpd.GeoDataFrame(
        {
            "height_m": np.array(heights, dtype=float),
            "min_height_m": np.zeros(len(geoms)),
            "height_source": ["height"] * len(geoms),
            "name": [""] * len(geoms),
            "kind": kinds,
            "osm_id": [""] * len(geoms),
        },
        geometry=shapely.normalize(np.array(geoms, dtype=object)),
        crs=SYNTHETIC_CRS,
    )
    buildings.index = pd.RangeIndex(len(buildings), name="building_id")

    # street centre lines between the blocks, one edge per block side, from node u to v
    # (the street layouts need only this table: no networkx graph is built, which at
    # 160 km^2 would hold 23 MiB of Python objects for the whole study)
    node: dict[tuple[int, int], int] = {}
    xy: dict[int, tuple[float, float]] = {}
    for a in range(n + 1):
        for b in range(n + 1):
            node[(a, b)] = a * (n + 1) + b
            xy[node[(a, b)]] = (ox + a * pitch, oy + b * pitch)
    rows: list[dict[str, object]] = []
    edge_geoms: list[shapely.LineString] = []
    for a in range(n + 1):
        for b in range(n + 1):
            for da, db in ((1, 0), (0, 1)):
                if a + da > n or b + db > n:
                    continue
                u, v = node[(a, b)], node[(a + da, b + db)]
                rows.append({"u": u, "v": v, "highway": "residential", "name": "",
                             "length_m": pitch, "drive": True, "under_cover": False,
                             "on_bridge": False})  # fmt: skip
                edge_geoms.append(shapely.LineString([xy[u], xy[v]]))
    streets = gpd.GeoDataFrame(rows, geometry=edge_geoms, crs=SYNTHETIC_CRS)
    tag = f"synthetic:{area_km2:g}km2:seed{seed}:block{block_m:g}:street{street_m:g}"
    return CityModel(
        name=f"Synthetic {area_km2:g} km2 (seed {seed})",
        crs=SYNTHETIC_CRS,
        buildings=buildings,
        streets=streets,
        street_graph=None,
        source=SourceInfo(
            path=tag, sha256=hashlib.sha256(tag.encode()).hexdigest(), format="synthetic"
        ),
        counts={
            "buildings": len(buildings),
            "street_edges": len(streets),
            "street_edges_under_cover": 0,
            "street_edges_on_bridges": 0,
        },
    )
