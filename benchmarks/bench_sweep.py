"""Benchmark of the frequency sweep (``radio.sweep_ghz``, ``twin.study.city_sweep``).

Not a test: it prints timings. It runs one study (the embedded city, or a synthetic city
of the scaling benchmark: UMa rooftop sites every 500 m, three bands, 5 m grid, a fixed
or the automatic site radius), then runs its frequency sweep ``--repeat`` times. It
prints the wall time of each sweep and the memory the sweep adds to the process: its
resident size (``/proc/self/statm``, sampled every 5 ms) at most during the sweep, less
that before it.

Usage::

    .venv/bin/python benchmarks/bench_sweep.py [--city embedded | --area-km2 2.5]
        [--radius 1000 | --radius auto] [--sweep 0.5,40,0.5] [--shadowing margin]
        [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime

import numpy as np

from twin.benchmark import positive_float


def _radius(text: str) -> float | None:
    if text == "auto":
        return None
    try:
        return positive_float(text)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise argparse.ArgumentTypeError(
            f"must be 'auto' or a distance > 0 m, got {text!r}"
        ) from exc


def _sweep(text: str) -> tuple[float, float, float]:
    parts = text.split(",")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"must be START,STOP,STEP in GHz, got {text!r}")
    start, stop, step = (float(p) for p in parts)
    return start, stop, step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", choices=["embedded", "synthetic"], default="synthetic")
    ap.add_argument("--area-km2", type=positive_float, default=2.5, help="synthetic city area")
    ap.add_argument("--radius", type=_radius, default=1000.0, help="site radius, m, or 'auto'")
    ap.add_argument("--sweep", type=_sweep, default=(0.5, 40.0, 0.5), help="START,STOP,STEP GHz")
    ap.add_argument("--shadowing", choices=["off", "margin", "field"], default="margin")
    ap.add_argument("--repeat", type=int, choices=range(1, 21), default=3, metavar="N")
    args = ap.parse_args()

    from twin.benchmark import StatusPeak, synthetic_scenario
    from twin.scenario import Scenario
    from twin.study import city_sweep, run_study

    if args.city == "embedded":
        from twin.cli.options import default_scenario_path
        from twin.sources.scenario_file import read_scenario

        sc = read_scenario(default_scenario_path())
        city = None
        what = "embedded city (scenarios/default.toml)"
    else:
        from twin.city.synthetic import synthetic_city

        sc = synthetic_scenario(args.radius)
        city = synthetic_city(args.area_km2, seed=1)
        what = f"synthetic {args.area_km2:g} km2"
    data = sc.model_dump(mode="python")
    data["radio"]["sweep_ghz"] = args.sweep
    data["radio"]["shadowing"] = args.shadowing
    if args.city == "embedded":
        data["radio"]["max_site_distance_m"] = args.radius
    sc = Scenario.model_validate(data)
    result = run_study(sc, city=city)
    radius = "automatic" if args.radius is None else f"{args.radius:g} m"
    print(
        f"{what}, radius {radius}, shadowing {args.shadowing}, sweep {args.sweep} GHz: "
        f"{len(result.grid)} receivers, {len(result.sites)} sites; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs"
    )
    times = []
    for _ in range(args.repeat):
        with StatusPeak("VmRSS") as mem:
            t0 = time.perf_counter()
            sweep = city_sweep(result)
            times.append(time.perf_counter() - t0)
        assert sweep is not None
        print(
            f"  sweep of {sweep.freq_ghz.size} frequencies: {times[-1]:.2f} s, "
            f"memory +{mem.peak_mib - mem.base_mib:.0f} MiB (from {mem.base_mib:.0f} MiB)"
        )
    print(
        f"  median {np.median(times):.2f} s; mean capacity at the first frequency "
        f"{sweep.all_mean_mbps[0]:.6f} Mbit/s, at the last {sweep.all_mean_mbps[-1]:.6f}"
    )


if __name__ == "__main__":
    main()
