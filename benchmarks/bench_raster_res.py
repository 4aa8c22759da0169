"""Benchmark of the fast LoS engine's cell size: build time, memory and walk time.

Not a test: it prints timings. The fast engine's raster (:func:`twin.visibility.fast.
build_fast_raster`) only saves work; the answer is the exact one at any cell size (the
cells a ring crosses are decided by exact clipping). Its cell size trades the walk's
steps (smaller cells: more of them) against the cells that need the exact re-check
(larger cells: more are crossed by a ring, and each holds more buildings), and sets
the raster's memory (5 bytes a cell). For each city (every real extract in ``data/``
and ``tests/data/``, and a synthetic city of ``--synthetic-km2``) it builds the
study's receivers (5 m grid + street points, indoor and outdoor) and sites (rooftop
UMa and street UMi, as in ``benchmarks/bench_visibility.py``; the synthetic city's
are those of the scaling benchmark) and, for each cell size, the raster (best of 3),
its size, and the LoS of every (receiver, site) pair (``los_fast`` on both numba
threads), the cell sizes taking turns, best of the turns. It checks that every cell
size gives the same LoS bit for bit.

Usage::

    .venv/bin/python benchmarks/bench_raster_res.py [--res 1 1.5 2 3 4] [--turns 3]
        [--synthetic-km2 10] [--cities helsinki monaco ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from twin.benchmark import synthetic_scenario
from twin.city import load_city
from twin.city.model import CityModel
from twin.city.synthetic import synthetic_city
from twin.grid import build_grid
from twin.sites import Site, rooftop_sites, street_sites
from twin.study import scenario_sites, study_bounds, study_grid
from twin.visibility import BuildingPrisms
from twin.visibility.fast import FastRaster, build_fast_raster, los_fast

ROOT = Path(__file__).resolve().parent.parent
REAL = {
    "helsinki": ROOT / "data" / "helsinki.osm.pbf",
    "monaco": ROOT / "tests" / "data" / "monaco.osm.gz",
    "moscow": ROOT / "tests" / "data" / "moscow.osm.gz",
    "west-oakland": ROOT / "tests" / "data" / "west-oakland.osm.bz2",
}


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Shortest wall time of ``repeat`` calls, and the last answer."""
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def raster_mb(r: FastRaster) -> float:
    """The raster's arrays, MiB."""
    arrays = (r.code, r.hint, r.mixed_start, r.mixed_ids, r.tile_top_m)
    return sum(a.nbytes for a in arrays) / 2**20


def real_case(path: Path) -> tuple[CityModel, np.ndarray, np.ndarray, np.ndarray]:
    """A real extract: its receivers (x, y, z), their building ids, its sites."""
    city = load_city(str(path))
    grid = build_grid(city.buildings, city.bounds, city.crs, spacing_m=5.0, streets=city.streets)
    sites = rooftop_sites(city.buildings, city.bounds) + street_sites(
        city.streets, city.buildings, city.bounds
    )
    return city, *_arrays(grid, sites)


def synthetic_case(area_km2: float) -> tuple[CityModel, np.ndarray, np.ndarray, np.ndarray]:
    """The scaling benchmark's synthetic city, receivers and sites."""
    city = synthetic_city(area_km2, seed=1)
    sc = synthetic_scenario(None)
    bounds = study_bounds(city, sc)
    grid = study_grid(city, bounds, sc)
    return city, *_arrays(grid, scenario_sites(sc, city, bounds))


def _arrays(grid: Any, sites: list[Site]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rx = np.c_[grid.x_m, grid.y_m, grid.rx_height_m]
    tx = np.array([[s.x_m, s.y_m, s.height_m] for s in sites])
    return rx, np.asarray(grid.building_id), tx


def measure(
    name: str,
    city: CityModel,
    rx: np.ndarray,
    bid: np.ndarray,
    tx: np.ndarray,
    res: list[float],
    turns: int,
) -> None:
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    los_fast(prisms, rx[:10], bid[:10], tx[:1], raster=build_fast_raster(prisms))  # compile
    rasters: dict[float, FastRaster] = {}
    build_s: dict[float, float] = {}
    for r in res:
        build_s[r], rasters[r] = best_of(partial(build_fast_raster, prisms, res_m=r))
    walk_s = dict.fromkeys(res, np.inf)
    answers: dict[float, np.ndarray] = {}
    for turn in range(turns):
        order = res if turn % 2 == 0 else res[::-1]
        for r in order:
            t, out = best_of(partial(los_fast, prisms, rx, bid, tx, raster=rasters[r]), repeat=1)
            walk_s[r] = min(walk_s[r], t)
            answers[r] = out
    ref = answers[res[0]]
    pairs = rx.shape[0] * tx.shape[0]
    print(
        f"\n{name}: {len(city.buildings)} buildings, {rx.shape[0]} receivers "
        f"({int((bid >= 0).sum())} indoor), {tx.shape[0]} sites, {pairs} pairs, "
        f"LoS {ref.mean() * 100:.1f} %"
    )
    print(
        "  cell m | raster build s | raster MiB | mixed cells | LoS of every pair s "
        "| ns/pair | same LoS as first"
    )
    for r in res:
        same = bool(np.array_equal(answers[r], ref))
        print(
            f"  {r:6g} | {build_s[r]:14.3f} | {raster_mb(rasters[r]):10.1f} | "
            f"{rasters[r].n_mixed:11d} | {walk_s[r]:19.3f} | "
            f"{walk_s[r] / pairs * 1e9:7.1f} | {same}"
        )
        if not same:
            raise SystemExit(f"{name}: cell size {r} m changed {(answers[r] != ref).sum()} pairs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0, 4.0])
    ap.add_argument("--turns", type=int, default=3, help="turns over the cell sizes")
    ap.add_argument("--synthetic-km2", type=float, default=10.0)
    ap.add_argument(
        "--cities", nargs="+", default=[*REAL, "synthetic"], choices=[*REAL, "synthetic"]
    )
    args = ap.parse_args()
    if any(r <= 0 for r in args.res):
        ap.error("--res: cell sizes must be > 0 m")
    if args.turns < 1:
        ap.error("--turns: must be at least 1")
    if args.synthetic_km2 <= 0:
        ap.error("--synthetic-km2: must be > 0")
    print(
        f"# {date.today()}  {platform.node()}  {os.cpu_count()} cores  "
        f"{platform.processor() or platform.machine()}"
    )
    for name in args.cities:
        if name == "synthetic":
            case = synthetic_case(args.synthetic_km2)
            label = f"synthetic {args.synthetic_km2:g} km2"
        else:
            case = real_case(REAL[name])
            label = name
        measure(label, *case, res=args.res, turns=args.turns)


if __name__ == "__main__":
    main()
