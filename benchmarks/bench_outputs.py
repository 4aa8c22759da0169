"""Benchmark of writing a run's outputs (``twin.io.outputs.write_run``).

Not a test: it prints timings. It runs one study (the embedded city, or a synthetic city
of the scaling benchmark: UMa rooftop sites every 500 m, three bands, 5 m grid, a fixed
site radius), then writes its outputs ``--repeat`` times each way, taking turns: with the
work shared by this process and a forked child (``twin.io.forked``, the default) and by
this process alone (``TWIN_OUTPUT_FORK=0``). It prints the wall time of each write, the
peak resident memory of this process (``VmHWM``) and of the largest child
(``RUSAGE_CHILDREN``: a forked child's peak counts the pages it shares with its parent),
and this process's peak of anonymous memory (``RssAnon``, sampled every 5 ms) during the
writes of each way. With ``--scratch DIR`` the study keeps its city-sized arrays in files
of ``DIR`` (``twin run --scratch``); with ``--budget``, in memory up to the default
memory budget of ``twin run`` and in files past it (:class:`twin.io.scratch.MemoryBudget`).

Usage::

    .venv/bin/python benchmarks/bench_outputs.py [--city embedded | --area-km2 10]
        [--radius 1000] [--repeat 3] [--scratch /var/tmp] [--budget] [--ways shared,alone]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from twin.benchmark import positive_float


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", choices=["embedded", "synthetic"], default="synthetic")
    ap.add_argument("--area-km2", type=positive_float, default=10.0, help="synthetic city area")
    ap.add_argument("--radius", type=positive_float, default=1000.0, help="site radius, m")
    ap.add_argument("--repeat", type=int, choices=range(1, 21), default=3, metavar="N")
    ap.add_argument("--scratch", type=Path, help="keep the study's arrays in files here")
    ap.add_argument(
        "--budget",
        action="store_true",
        help="the study's arrays as twin run keeps them: in memory up to its default "
        "budget, past it in files (of --scratch, else the default folder)",
    )
    ap.add_argument(
        "--ways",
        default="shared,alone",
        help="which ways to write the outputs, in turn: shared, alone (comma-separated)",
    )
    args = ap.parse_args()

    from twin.benchmark import StatusPeak, _peak_mb, status_mib, synthetic_scenario
    from twin.io.outputs import write_run
    from twin.io.scratch import MemoryBudget, ScratchFolder
    from twin.study import StudyOptions, run_study

    if args.budget:
        options = StudyOptions(scratch=MemoryBudget(None, args.scratch))
    else:
        options = StudyOptions(scratch=ScratchFolder(args.scratch) if args.scratch else None)

    if args.city == "embedded":
        from twin.cli.options import default_scenario_path
        from twin.sources.scenario_file import read_scenario

        result = run_study(read_scenario(default_scenario_path()), options=options)
        what = "embedded city (scenarios/default.toml)"
    else:
        from twin.city.synthetic import synthetic_city

        city = synthetic_city(args.area_km2, seed=1)
        result = run_study(synthetic_scenario(args.radius), city=city, options=options)
        what = f"synthetic {args.area_km2:g} km2, radius {args.radius:g} m"
    if isinstance(options.scratch, MemoryBudget):
        budget = options.scratch
        what += (
            f", memory budget {(budget.budget_bytes or 0) / 2**20:.0f} MiB "
            f"({budget.bytes_in_files / 2**20:.0f} MiB made in files)"
        )
    elif args.scratch:
        what += f", --scratch {args.scratch}"
    print(
        f"{what}: {len(result.grid)} receivers, {len(result.sites)} sites; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{os.cpu_count()} CPUs; study peak {_peak_mb():.0f} MiB, anonymous now "
        f"{status_mib():.0f} MiB"
    )
    ways = args.ways.split(",")
    if not set(ways) <= {"shared", "alone"}:
        raise SystemExit(f"--ways {args.ways}: give shared, alone or both")
    times: dict[str, list[float]] = {way: [] for way in ways}
    anon: dict[str, list[float]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            for way in ways:
                os.environ["TWIN_OUTPUT_FORK"] = "1" if way == "shared" else "0"
                out = Path(tmp) / f"{way}{k}"
                t0 = time.perf_counter()
                with StatusPeak() as peak:
                    write_run(result, out, overwrite=False)
                times[way].append(time.perf_counter() - t0)
                anon[way].append(peak.peak_mib)
                shutil.rmtree(out)
    for way, ts in times.items():
        print(
            f"  write_run, {way:6s}: median {np.median(ts):.2f} s, all {[round(t, 2) for t in ts]};"
            f" anonymous peak of this process {[round(a) for a in anon[way]]} MiB"
        )
    child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"  peak: this process {_peak_mb():.0f} MiB, largest child {child_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
