"""Benchmark of a study's results kept in files (``--scratch``) against in memory.

Not a test: it prints what it measured. It runs the same study (a synthetic city of the
scaling benchmark: UMa rooftop sites every 500 m, three bands, 5 m grid, a fixed site
radius) in a fresh process per turn, its city-sized arrays in memory ("memory"), in
files of a scratch folder ("files", :class:`twin.io.scratch.ScratchFolder`), or in
memory up to the default budget of ``twin run`` and in the folder's files past it
("budget", :class:`twin.io.scratch.MemoryBudget`: a share of the memory available,
``--share``), taking turns. With
``--limit-mib`` each process runs in a memory cgroup of that limit (needs root and the
cgroup memory controller, v1 or v2): a process that needs more is killed by the kernel,
while the pages of the results' files are written to the disk and dropped when memory
runs short. It prints, for each run, whether it finished, the study's seconds, its
peak of anonymous memory (``RssAnon``, sampled every 5 ms in the process), its peak
resident size (``VmHWM``) and the cgroup's peak usage.

With ``--cached`` a first run (not reported) fills a cache (:class:`twin.io.cache.StudyCache`
in the scratch folder) and the runs measured are re-runs from it: the grid, raster and
LoS from the cache.

Usage::

    .venv/bin/python benchmarks/bench_scratch.py --area-km2 160 --limit-mib 900
        [--radius 1000] [--scratch /var/tmp] [--repeat 1] [--cached]
        [--modes memory,files,budget] [--share 0.25]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHILD = r"""
import json, sys, time
spec = json.loads(sys.argv[1])

from twin.benchmark import StatusPeak, synthetic_scenario
from twin.city.synthetic import synthetic_city
from twin.io.cache import StudyCache
from twin.io.scratch import MemoryBudget, ScratchFolder
from twin.study import StudyOptions, run_study

city = synthetic_city(spec["area_km2"], seed=1)
if spec.get("budget"):  # what twin run does by default, spilling into the folder
    scratch = MemoryBudget(None, spec["scratch"], share=spec["share"])
else:
    scratch = ScratchFolder(spec["scratch"]) if spec["scratch"] else None
cache = StudyCache(spec["cache"]) if spec["cache"] else None
with StatusPeak() as peak:  # RssAnon, every 5 ms
    t = time.perf_counter()
    r = run_study(synthetic_scenario(spec["radius_m"]), city=city,
                  options=StudyOptions(scratch=scratch, cache=cache))
    study_s = time.perf_counter() - t
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"study_s": round(study_s, 2), "receivers": len(r.grid),
                  "cache_hits": cache.hits if cache else None,
                  **({"budget_mib": round(scratch.budget_bytes / 2**20, 1),
                      "in_memory_mib": round(scratch.bytes_in_memory / 2**20, 1),
                      "in_files_mib": round(scratch.bytes_in_files / 2**20, 1)}
                     if spec.get("budget") else {}),
                  "peak_anon_mib": round(peak.peak_mib, 1),
                  "vmhwm_mib": round(int(hwm.split()[1]) / 1024, 1)}))
"""


class MemoryCgroup:
    """A memory cgroup of ``limit_mib`` (v1 or v2), removed by :meth:`close`."""

    def __init__(self, limit_mib: int) -> None:
        v2 = Path("/sys/fs/cgroup")
        v1 = Path("/sys/fs/cgroup/memory")
        name = f"twin-bench-{os.getpid()}"
        limit = str(limit_mib << 20)
        controllers = v2 / "cgroup.controllers"
        if controllers.exists() and "memory" in controllers.read_text().split():
            self.path = v2 / name
            self.path.mkdir()
            (self.path / "memory.max").write_text(limit)
            self.v2 = True
        elif (v1 / "memory.limit_in_bytes").exists():
            self.path = v1 / name
            self.path.mkdir()
            (self.path / "memory.limit_in_bytes").write_text(limit)
            self.v2 = False
        else:
            raise SystemExit("no cgroup memory controller here: run without --limit-mib")

    def enter(self) -> None:
        """Put the calling process in the group (from a child before its exec)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak_mib(self) -> float | None:
        f = self.path / ("memory.peak" if self.v2 else "memory.max_usage_in_bytes")
        return int(f.read_text()) / 2**20 if f.exists() else None

    def close(self) -> None:
        self.path.rmdir()


def run_once(spec: dict[str, Any], limit_mib: int | None) -> dict[str, Any]:
    group = MemoryCgroup(limit_mib) if limit_mib else None
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(spec)],
            capture_output=True,
            text=True,
            preexec_fn=group.enter if group else None,
            timeout=3600,
        )
        out: dict[str, Any] = {"exit_code": proc.returncode}
        if proc.returncode == 0:
            out.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        else:
            out["stderr_tail"] = proc.stderr.strip().splitlines()[-1:] or ["(killed)"]
        if group is not None:
            peak = group.peak_mib()
            out["cgroup_peak_mib"] = round(peak, 1) if peak is not None else None
        return out
    finally:
        if group is not None:
            group.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--area-km2", type=float, default=40.0)
    ap.add_argument("--radius", type=float, default=1000.0, help="site radius, m")
    ap.add_argument("--limit-mib", type=int, help="memory cgroup limit of each run (root)")
    ap.add_argument("--scratch", type=Path, help="scratch folder (default: a new one in /var/tmp)")
    ap.add_argument("--repeat", type=int, default=1)
    from twin.io.scratch import DEFAULT_BUDGET_SHARE

    ap.add_argument(
        "--share",
        type=float,
        default=DEFAULT_BUDGET_SHARE,
        help="share of the available memory the budget runs keep arrays in "
        "(default: that of twin run)",
    )
    ap.add_argument(
        "--modes",
        default="memory,files,budget",
        help="which runs, in turn: memory, files, budget (comma-separated)",
    )
    ap.add_argument(
        "--cached",
        action="store_true",
        help="measure re-runs from a cache (filled by a first run, not reported)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.scratch or "/var/tmp") as folder:
        print(
            f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
            f"{os.cpu_count()} cores; {args.area_km2:g} km², radius {args.radius:g} m, "
            f"limit {args.limit_mib or 'none'} MiB, scratch {folder}"
            + (", re-runs from a cache" if args.cached else "")
        )
        cache = str(Path(folder) / "cache") if args.cached else None
        base = {
            "area_km2": args.area_km2,
            "radius_m": args.radius,
            "cache": cache,
            "share": args.share,
        }
        if cache:
            run_once({**base, "scratch": None}, None)  # fills the cache
        for turn in range(args.repeat):
            for where in args.modes.split(","):
                spec = {
                    **base,
                    "scratch": folder if where != "memory" else None,
                    "budget": where == "budget",
                }
                print(turn, where, json.dumps(run_once(spec, args.limit_mib)), flush=True)


if __name__ == "__main__":
    main()
