"""What the LoS walk does as the synthetic city grows: pairs, free and blocked, and time.

Not a test: it prints, for each area, the (receiver, site) pairs within the radius that
the study traces, how many are free (line of sight) and the summed length of their rays,
and the best time of the compiled walk (:func:`twin.visibility.fast.los_fast`, the raster
built once) on one and on every numba thread. A free ray is walked to its end, a blocked
one mostly ends at its first probes, so the walk's time follows the free rays' length more
than the pairs.

Usage::

    .venv/bin/python benchmarks/bench_los_work.py [--areas 2.5,10] [--radius 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
from datetime import UTC, datetime

import numba
import numpy as np

from twin.benchmark import synthetic_scenario
from twin.city.synthetic import synthetic_city
from twin.study import run_study
from twin.visibility import BuildingPrisms
from twin.visibility.fast import build_fast_raster, los_fast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--areas", default="2.5,10", help="synthetic city areas, km²")
    parser.add_argument("--radius", type=float, default=1000.0, help="site radius, m")
    parser.add_argument("--repeat", type=int, default=5, help="timed walks per case")
    args = parser.parse_args()
    areas = [float(a) for a in args.areas.split(",")]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# {stamp}  {platform.node()}  {os.cpu_count()} cores  radius {args.radius:g} m")
    threads = numba.get_num_threads()
    rows = []
    for area in areas:
        city = synthetic_city(area, seed=1)
        result = run_study(synthetic_scenario(args.radius), city=city)
        g = result.grid
        rx = np.c_[g.x_m, g.y_m, g.rx_height_m]
        bid = np.asarray(g.building_id)
        tx = np.array([[s.x_m, s.y_m, s.height_m] for s in result.sites])
        prisms = BuildingPrisms.from_geodataframe(city.buildings)
        raster = build_fast_raster(prisms)
        best = {}
        los = np.empty(0)
        for n_threads in sorted({1, threads}):
            numba.set_num_threads(n_threads)
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                los = los_fast(prisms, rx, bid, tx, max_distance_m=args.radius, raster=raster)
                times.append(time.perf_counter() - t0)
            best[n_threads] = min(times)
        numba.set_num_threads(threads)
        pairs = free = 0
        ray_km = free_km = 0.0
        for j in range(len(tx)):  # site by site: no (receivers x sites) distances
            d_m = np.hypot(rx[:, 0] - tx[j, 0], rx[:, 1] - tx[j, 1])
            within = d_m <= args.radius
            pairs += int(within.sum())
            ray_km += float(d_m[within].sum()) / 1000.0
            free += int((within & los[:, j]).sum())
            free_km += float(d_m[within & los[:, j]].sum()) / 1000.0
        row = {
            "area_km2": area,
            "pairs": pairs,
            "ray_km": ray_km,
            "free": free,
            "free_km": free_km,
            **{f"walk_s_{k}": v for k, v in best.items()},
        }
        rows.append(row)
        walks = ", ".join(f"{v:.3f} s on {k} thread(s)" for k, v in best.items())
        print(
            f"{area:g} km²: {len(rx)} receivers x {len(tx)} sites, {pairs} pairs "
            f"({ray_km:.0f} ray-km), {free} free ({free_km:.0f} ray-km); walk {walks}"
        )
    for a, b in itertools.pairwise(rows):
        ratios = ", ".join(
            f"{k} {b[k] / a[k]:.2f}x" for k in b if k != "area_km2" and a[k] and b[k]
        )
        print(f"{a['area_km2']:g} -> {b['area_km2']:g} km²: {ratios}")


if __name__ == "__main__":
    main()
