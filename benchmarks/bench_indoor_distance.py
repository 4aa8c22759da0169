"""Time of the indoor receivers' distance to their facade (``radio.indoor_distance =
"wall"``, :func:`twin.grid.indoor_distance_m`) on the embedded city and the synthetic city.

Not a test: it prints, for each city at a 5 m grid, the receivers, the indoor ones, the
best of ``--repeat`` times and the median, 95th percentile and largest distance.

Usage::

    .venv/bin/python benchmarks/bench_indoor_distance.py [--area 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from twin.city import load_city
from twin.city.synthetic import synthetic_city
from twin.grid import build_grid, indoor_distance_m

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--area", type=float, default=10.0, help="synthetic city, km²")
    parser.add_argument("--spacing", type=float, default=5.0, help="grid spacing, m")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {platform.node()}  {os.cpu_count()} cores  "
        f"{platform.processor() or platform.machine()}"
    )
    cities = {
        "embedded city": load_city(str(ROOT / "data" / "helsinki.osm.pbf")),
        f"synthetic {args.area:g} km²": synthetic_city(args.area, seed=1),
    }
    for name, city in cities.items():
        grid = build_grid(
            city.buildings,
            city.default_area(),
            city.crs,
            spacing_m=args.spacing,
            streets=city.streets,
        )
        best = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            d = indoor_distance_m(grid, city.buildings)
            best = min(best, time.perf_counter() - t0)
        inside = d[grid.indoor]
        p50, p95 = np.percentile(inside, [50, 95])
        print(
            f"{name}: {len(grid)} receivers, {inside.size} indoor, {len(city.buildings)} "
            f"buildings: {best:.3f} s (best of {args.repeat}); distance median {p50:.1f} m, "
            f"95th percentile {p95:.1f} m, max {inside.max():.1f} m"
        )


if __name__ == "__main__":
    main()
