"""Benchmark of the reach check of a fixed site radius: by blocks against every pair.

Not a test: it prints timings. On the synthetic cities of the scaling benchmark (UMa
rooftop sites every 500 m, 5 m grid) with a fixed radius, it times
:func:`twin.tiles.unreached_receivers` (receivers by blocks: the work grows with the
receivers) and the test of every (receiver, site) distance by chunks that the study ran
before 2026-12-03 (the work grows with receivers x sites, i.e. with the square of the
area), checks that both find the same receivers, and prints the best of three of each.

Usage::

    .venv/bin/python benchmarks/bench_reach.py [--areas 2.5 10 40] [--radius 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import date
from functools import partial

import numpy as np

from twin.benchmark import synthetic_scenario
from twin.city.synthetic import synthetic_city
from twin.grid import ReceiverGrid
from twin.study import scenario_sites, study_bounds, study_grid
from twin.tiles import unreached_receivers


def every_pair(
    grid: ReceiverGrid, sx: np.ndarray, sy: np.ndarray, radius: np.ndarray, chunk: int = 1 << 18
) -> np.ndarray:
    """Receivers no site reaches, every distance tested (by chunks of receivers)."""
    step = max(1, chunk // sx.size)
    out = []
    for lo in range(0, len(grid), step):
        d = np.hypot(grid.x_m[lo : lo + step, None] - sx, grid.y_m[lo : lo + step, None] - sy)
        out.append(lo + np.flatnonzero(~(d <= radius).any(axis=1)))
    return np.concatenate(out)


def best_of(fn: Callable[[], np.ndarray], repeat: int = 3) -> tuple[float, np.ndarray]:
    """Shortest wall time of ``repeat`` calls, and the last answer."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--areas", type=float, nargs="+", default=[2.5, 10.0, 40.0])
    ap.add_argument("--radius", type=float, default=1000.0, help="site radius, m")
    args = ap.parse_args()
    if not args.radius > 0:
        ap.error(f"--radius: {args.radius} m must be > 0")
    if any(not 0.01 <= a <= 1000 for a in args.areas):
        ap.error(f"--areas: {args.areas} km2 must each be in [0.01, 1000]")
    print(
        f"# bench_reach {date.today()}, {platform.node()}, {os.cpu_count()} cores, "
        f"radius {args.radius:g} m"
    )
    for area in args.areas:
        sc = synthetic_scenario(args.radius)
        city = synthetic_city(area, seed=1)
        bounds = study_bounds(city, sc)
        grid = study_grid(city, bounds, sc)
        sites = scenario_sites(sc, city, bounds)
        sx = np.array([s.x_m for s in sites])
        sy = np.array([s.y_m for s in sites])
        radius = np.full(sx.size, args.radius)
        t_blocks, a = best_of(partial(unreached_receivers, grid, sx, sy, radius))
        t_pairs, b = best_of(partial(every_pair, grid, sx, sy, radius))
        assert np.array_equal(a, b), "the two tests disagree"
        print(
            f"{area:g} km2: {len(grid)} receivers x {sx.size} sites, {a.size} unreached: "
            f"by blocks {t_blocks:.3f} s, every pair {t_pairs:.3f} s"
        )


if __name__ == "__main__":
    main()
