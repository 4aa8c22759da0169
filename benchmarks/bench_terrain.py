"""What terrain costs: Monaco (``scenarios/monaco-terrain.toml``) on its SRTM3 tile against
the same study on flat ground.

Not a test: it prints, for a grid spacing, the DEM's read, the terrain test alone
(:func:`twin.city.terrain.terrain_blocks` on every (receiver, site) pair: pairs per
second), and the whole study's
stages on terrain and on flat ground (the city built once, the kernels loaded: best of
``--repeat``), with the share of pairs whose LoS the terrain changes.

Usage::

    .venv/bin/python benchmarks/bench_terrain.py [--spacing 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from twin.city.ground import city_ground
from twin.city.terrain import terrain_blocks
from twin.sources.scenario_file import read_scenario
from twin.sources.terrain import read_terrain
from twin.study import load_scenario_city, run_study

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacing", type=float, default=5.0, help="grid spacing, m")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {platform.node()}  {os.cpu_count()} cores  "
        f"{platform.processor() or platform.machine()}"
    )
    sc = read_scenario(ROOT / "scenarios" / "monaco-terrain.toml")
    sc = sc.model_copy(update={"grid": sc.grid.model_copy(update={"spacing_m": args.spacing})})
    flat_sc = sc.model_copy(update={"city": sc.city.model_copy(update={"terrain": None})})
    city = load_scenario_city(sc)
    flat_city = load_scenario_city(flat_sc)
    assert sc.city.terrain is not None
    best = np.inf
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        terrain = read_terrain(sc.city.terrain, crs=city.crs.to_string(), bounds_m=city.bounds)
        best = min(best, time.perf_counter() - t0)
    print(f"read_terrain: {best:.3f} s ({terrain.shape[0]} x {terrain.shape[1]} nodes)")

    runs = {}
    for name, s, c in (("terrain", sc, city), ("flat", flat_sc, flat_city)):
        run_study(s, city=c)  # kernels loaded, first-call costs paid
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = run_study(s, city=c, sites=runs["terrain"].sites if name == "flat" else None)
            times.append(time.perf_counter() - t0)
        runs[name] = result
        t = result.timings_s
        print(
            f"{name}: {len(result.grid)} receivers, {len(result.sites)} sites; study best "
            f"{min(times):.2f} s (median {np.median(times):.2f}); visibility "
            f"{t['visibility']:.2f} s, radio {t['radio']:.2f} s"
        )
    a = runs["terrain"].los_bits.unpack()
    b = runs["flat"].los_bits.unpack()
    print(
        f"LoS of {a.size} pairs: terrain {a.mean():.3f}, flat {b.mean():.3f}; the terrain "
        f"hides {(b & ~a).mean():.3f} and opens {(a & ~b).mean():.3f} of them"
    )

    # the terrain test alone, on every pair of the study (the study tests only those the
    # buildings leave in line of sight)
    ground = city_ground(city)
    assert ground is not None
    g = runs["terrain"].grid
    rx = np.column_stack(
        [g.x_m, g.y_m, g.rx_height_m + ground.receivers_m(g.x_m, g.y_m, g.building_id)]
    )
    tx = np.array([(s.x_m, s.y_m, s.ground_m + s.height_m) for s in runs["terrain"].sites])
    best = np.inf
    tested = 0
    for _ in range(args.repeat):
        los = np.ones((len(g), len(tx)), dtype=np.bool_)
        tested = los.size
        t0 = time.perf_counter()
        terrain_blocks(city.terrain, rx, tx, los)  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - t0)
    print(
        f"terrain_blocks on all {tested} pairs: {best:.3f} s, {tested / best / 1e6:.2f} M pairs/s "
        f"({(~los).mean():.3f} blocked by the terrain alone)"
    )


if __name__ == "__main__":
    main()
