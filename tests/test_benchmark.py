"""twin bench: its cases run in their own process and report what BENCHMARKS.md records."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from twin.benchmark import (
    TARGETS,
    _child,
    _interleaved,
    bench_embedded_run,
    check_targets,
    format_report,
    machine,
    run_benchmark,
    run_sampling_anon,
)
from twin.cli.main import cli


def test_a_study_case_runs_in_its_own_process_and_reports() -> None:
    r = _child("study", {"city": "synthetic", "area_km2": 1.0, "radius_m": 400.0})
    assert r["receivers"] > 10000 and r["sites"] >= 2
    # with a 400 m radius not every (receiver, site) pair is evaluated
    assert 0 < r["pairs"] < r["all_pairs"]
    assert 0 < r["ray_km"] * 1000 / r["pairs"] < 400  # each ray within the radius
    assert r["pairs_per_s"] > 0
    assert r["site_radius_km"] == [0.4, 0.4]
    assert r["peak_mb"] > r["result_mb"] > 0
    assert r["wall_s"] >= r["study_s"] > 0
    assert set(r["timings_s"]) >= {
        "city", "grid", "sites", "visibility", "radio", "tiles", "tile_work"
    }  # fmt: skip
    assert len(r["load_before"]) in (0, 3)
    assert "warm_study_s" not in r  # only when asked for


def test_a_study_case_runs_again_in_its_process_when_asked() -> None:
    r = _child("study", {"city": "synthetic", "area_km2": 0.3, "radius_m": 600.0, "warm": True})
    # both studies ran in the case's process, one after the other
    assert r["warm_study_s"] > 0
    assert r["wall_s"] >= r["study_s"] + r["warm_study_s"]
    assert set(r["warm_timings_s"]) == set(r["timings_s"])


@pytest.mark.slow
def test_the_first_run_reads_the_kernels_the_cold_run_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the installation's numba cache empty, as on a fresh install: the first run and the
    # re-run must still find the kernels, in the cache the cold run filled
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    said: list[str] = []
    r = bench_embedded_run(said.append)
    assert [r[k]["ok"] for k in ("cold", "first", "rerun")] == [True, True, True]
    # a run waits for compiling helpers ("kernels") only when the cache lacks the kernels
    assert "kernels" not in r["first"]["stages_s"]
    assert "kernels" not in r["rerun"]["stages_s"]
    assert r["rerun"]["stages_s"]["city"] < r["first"]["stages_s"]["city"]  # from twin's cache
    assert not any(tmp_path.iterdir())  # the installation's cache was not written to
    assert len(said) == 3


def test_compared_cases_take_turns_and_the_fastest_run_of_each_counts() -> None:
    said: list[str] = []
    small = {"city": "synthetic", "area_km2": 0.05, "radius_m": 600.0}
    cases = [("A", small), ("B", {**small, "area_km2": 0.2})]
    a, b = _interleaved(said.append, cases, 2, by="tiles")
    # A and B alternate, so that a slow spell of the machine falls on both
    assert said == ["A (1/2)", "B (1/2)", "A (2/2)", "B (2/2)"]
    assert a["spec"]["area_km2"] == 0.05 and b["spec"]["area_km2"] == 0.2
    for r in (a, b):
        assert len(r["repeats_tiles_s"]) == 2
        assert r["timings_s"]["tiles"] == min(r["repeats_tiles_s"])
    assert b["receivers"] > 2 * a["receivers"]


def test_the_anonymous_memory_of_a_case_is_read_while_it_runs() -> None:
    """A real process that holds 200 MiB of its own pages for a moment, then frees them:
    the samples see the 200 MiB while they are held, and the exit code and error."""
    code = (
        "import sys, time, numpy as np; a = np.ones(200 * 2**20 // 8); time.sleep(0.4); "
        "del a; time.sleep(0.4); sys.stderr.write('done'); sys.exit(3)"
    )
    rc, err, samples = run_sampling_anon([sys.executable, "-c", code], timeout_s=60)
    assert rc == 3 and err == "done"
    if not Path("/proc/self/status").is_file():
        assert samples == []
        return
    mib = [m for _, m in samples]
    assert max(mib) > 200
    assert mib[-1] < max(mib) - 150  # freed before the end
    times = [t for t, _ in samples]
    assert times == sorted(times) and len(times) > 20


def test_a_case_that_runs_too_long_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(30)"
    with pytest.raises(subprocess.TimeoutExpired):
        run_sampling_anon([sys.executable, "-c", code], timeout_s=1.0)
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped, not left running


def test_targets_and_text_report() -> None:
    run = {"spec": {"area_km2": 1.0, "workers": 1}, "receivers": 10, "sites": 2, "pairs": 20,
           "pairs_per_s": 1000.0, "study_s": 2.0, "peak_mb": 300.0, "result_mb": 1.0,
           "timings_s": {"grid": 0.1, "visibility": 1.0, "radio": 0.5, "tiles": 1.5},
           "repeats_warm_study_s": [1.5, 1.6]}  # fmt: skip
    big = {**run, "study_s": 8.4, "peak_mb": 420.0, "spec": {"area_km2": 4.0, "workers": 2},
           "timings_s": {**run["timings_s"], "tiles": 0.8},
           "repeats_warm_study_s": [6.9, 7.68]}  # fmt: skip
    report = {
        "machine": machine(),
        "load_at_start": [0.1, 0.2, 0.3],
        "load_at_end": [0.1, 0.2, 0.3],
        "scaling": {
            "fixed_radius": {
                "runs": [run, big],
                "time_ratio": 4.2,
                "cpu_ratio": 4.1,
                "peak_ratio": 1.4,
                "peak_anon_ratio": 1.6,
                "turn_time_ratios": [4.2, 3.9],
                "warm_time_ratio": 4.7,
                "warm_turn_time_ratios": [4.6, 4.8],
                "work_ratios": {"receivers": 4.2, "sites": 4.51, "pairs": 5.04, "ray_km": 5.3},
            },
            "fixed_radius_scratch": {
                "runs": [
                    {**run, "spec": {"area_km2": 1.0, "scratch": True}},
                    {**big, "spec": {"area_km2": 4.0, "scratch": True}},
                ],
                "time_ratio": 4.3,
                "cpu_ratio": 4.2,
                "peak_ratio": 1.35,
                "peak_anon_ratio": 1.104,
            },
            "dask": {
                "auto_radius": {
                    "runs": [run, big],
                    "tiles_speedup": 1.875,
                    "study_speedup": 1.1,
                    "turn_tiles_speedups": [1.9, 1.6, 1.75],
                    "turn_tile_work_ratios": [1.01, 1.2, 1.06],
                },
                "fixed_radius": {"runs": [run, big], "tiles_speedup": 1.5, "study_speedup": 1.0},
            },
        },
    }
    site = {
        "site": "U01",
        "model": "uma",
        "study_receivers": 100,
        "fast_study_s": 0.010,
        "fast_study_cpu_s": 0.018,
        "fast_vs_exact": 1.0,
        "exact_sample_s": 1.0,
        "twin_viewshed_s": 0.012,
        "twin_viewshed_vs_exact": 0.98,
        "gdal_compute_s": 0.015,
    }
    report["viewshed"] = {"dsm": "2 x 2 cells of 1 m", "sample_cells": 4, "study_receivers": 100,
                          "numba_threads": 2, "gdal_viewshed": None, "turn_ratios": [1.2, 0.9],
                          "sites": [site, {**site, "site": "U02", "fast_study_s": 0.02}]}  # fmt: skip
    t = check_targets(report)
    # median wall 15 ms against GDAL's 15 ms: holds; per CPU second 15 / 18
    vis = t["visibility_vs_gdal_per_site"]
    assert vis["holds"] and vis["value"] == 1.0 and vis["cpu_value"] == 0.83
    site["fast_vs_exact"] = 0.99
    assert not check_targets(report)["visibility_vs_gdal_per_site"]["holds"]
    site["fast_vs_exact"] = 1.0
    # the target is on the studies as run (a fresh process each); run again beside it
    assert t["4x_area_time_fixed_radius"] == {"value": 4.2, "holds": True, "warm_value": 4.7}
    assert not t["4x_area_peak_memory_fixed_radius"]["holds"]
    # the dask target is checked on the default study (automatic radius)
    # the median of the paired turns; the fastest of each beside it; a report without
    # turns (fixed radius here) falls back on the fastest of each
    assert t["2_vs_1_dask_workers"] == {
        "value": 1.75, "holds": True, "best_of_each": 1.88, "fixed_radius_value": 1.5
    }  # fmt: skip
    report["scaling"]["dask"]["auto_radius"]["turn_tiles_speedups"] = [1.9, 1.6, 1.65]
    assert not check_targets(report)["2_vs_1_dask_workers"]["holds"]  # median 1.65
    report["targets"] = t
    text = format_report(report)
    assert (
        "4x area: time x4.20 (CPU time x4.10), peak memory x1.40 (anonymous memory x1.60)" in text
    )
    assert (
        "4x_area_peak_memory_fixed_radius: 1.4 (anonymous memory, the libraries' files "
        "left out: 1.6) (anonymous memory with --scratch: 1.1) -> does NOT hold"
    ) in text
    assert (
        "4x area: time x4.30 (CPU time x4.20), peak memory x1.35 (anonymous memory x1.10)" in text
    )
    assert "fixed_radius_scratch 4 km2" in text
    assert "4x area, time in each turn: x4.20, x3.90" in text
    assert (
        "4x area holds: x4.20 the receivers, x4.51 the sites, x5.04 the pairs, "
        "x5.30 the rays' length" in text
    )
    assert (
        "4x area, each study run again in its process (no first-call costs): fastest "
        "1.50 s -> 6.90 s; time in each turn: x4.60, x4.80 (median x4.70)"
    ) in text
    assert "4x_area_time_fixed_radius: 4.2 (run again in its process: 4.7) -> holds" in text
    assert "does NOT hold" in text
    assert "2 vs 1 workers (fixed_radius): tile pass x1.50, study x1.00" in text
    assert "2_vs_1_dask_workers: 1.75 (fastest of each: 1.88) (fixed radius: 1.5) -> holds" in text
    assert "in each turn: x1.90, x1.60, x1.65 (median x1.65; the target's value)" in text
    assert "the tiles' own work, 2 vs 1 workers in each turn: x1.01, x1.20, x1.06" in text
    assert "U02 (uma): fast 20.0 ms wall, 18.0 ms CPU (100.00 % = exact)" in text
    assert "visibility_vs_gdal_per_site: 1.0 (per CPU second: 0.83) -> holds" in text
    assert "GDAL compute / fast wall, median over the sites, in each turn: 1.20, 0.90" in text
    assert machine()["cpu_count"] >= 1


def test_the_report_names_the_code_it_measured() -> None:
    """The version, and in a git checkout the commit and whether tracked files changed."""
    import shutil

    import twin
    from twin.benchmark import source_revision

    root = Path(twin.__file__).resolve().parent.parent
    rev = source_revision()
    assert rev["twin"] == twin.__version__
    if not (root / ".git").exists() or shutil.which("git") is None:
        assert rev["commit"] is None
        return
    head = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    changed = (
        subprocess.run(["git", "-C", str(root), "diff", "HEAD", "--quiet"], check=False).returncode
        != 0
    )
    assert rev["commit"] == head and len(head) == 40
    assert rev["dirty"] is changed
    text = format_report(run_benchmark(embedded=False, viewshed=False, scaling=False))
    assert f"twin {twin.__version__} at {head[:12]}" in text.splitlines()[0]


@pytest.mark.slow
def test_twin_bench_json_on_a_small_synthetic_city() -> None:
    res = CliRunner().invoke(
        cli,
        ["bench", "--json", "--no-embedded", "--no-viewshed", "--synthetic-km2", "0.3",
         "--radius", "600", "--repeat", "1"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    sc = report["scaling"]
    assert [r["spec"]["area_km2"] for r in sc["fixed_radius"]["runs"]] == [0.3, 1.2]
    a, b = sc["fixed_radius"]["runs"]
    assert sc["fixed_radius"]["turn_time_ratios"] == [round(b["study_s"] / a["study_s"], 3)]
    # each in-process study also ran again in its process; the dask ones did not
    (wa,), (wb,) = a["repeats_warm_study_s"], b["repeats_warm_study_s"]
    assert sc["fixed_radius"]["warm_time_ratio"] == wb / wa  # the median of one turn
    assert sc["fixed_radius"]["warm_best_of_each_ratio"] == wb / wa
    assert sc["fixed_radius"]["warm_turn_time_ratios"] == [round(wb / wa, 3)]
    assert sc["fixed_radius"]["work_ratios"] == {
        k: round(b[k] / a[k], 3) for k in ("receivers", "sites", "pairs", "ray_km")
    }
    assert b["receivers"] > 3 * a["receivers"] and b["pairs"] > 3 * a["pairs"]
    assert "warm_value" in report["targets"]["4x_area_time_auto_radius"]
    assert all("warm_study_s" not in r for r in sc["dask"]["auto_radius"]["runs"])
    for label in ("auto_radius", "fixed_radius"):
        d = sc["dask"][label]
        assert [r["spec"]["workers"] for r in d["runs"]] == [1, 2]
        # the same receivers and sites on 1 and 2 workers: the tiles' own work is of the
        # same size, and its ratio is how much slower each tile ran with both cores busy
        # (a time of the machine, 0.07-0.12 s of tiles here: not bounded)
        one, two = d["runs"]
        assert one["pairs"] == two["pairs"] > 0
        (work,) = d["turn_tile_work_ratios"]
        assert work == round(two["timings_s"]["tile_work"] / one["timings_s"]["tile_work"], 3)
        for r in d["runs"]:
            t = r["timings_s"]
            assert 0 < t["tile_work"] <= t["visibility"] + t["radio"] + 1e-3
    assert "2_vs_1_dask_workers" in report["targets"]
    assert report["machine"]["cpu_count"] >= 1
    # the anonymous memory, read from this process while each case ran: part of the peak
    for r in (a, b):
        assert 0 < r["peak_anon_mb"] < r["peak_mb"]
    mem = report["targets"]["4x_area_peak_memory_fixed_radius"]
    assert mem["anon_value"] == round(b["peak_anon_mb"] / a["peak_anon_mb"], 2)
    # the fixed radius again with the grid, raster and results in files (--scratch):
    # the same studies, less of the larger one allocated
    x = sc["fixed_radius_scratch"]
    sa, sb = x["runs"]
    assert "warm_time_ratio" in x  # the same figures as the other pairs
    assert [r["spec"]["scratch"] for r in (sa, sb)] == [True, True]
    assert (sa["receivers"], sb["pairs"]) == (a["receivers"], b["pairs"])
    assert mem["scratch_anon_value"] == round(sb["peak_anon_mb"] / sa["peak_anon_mb"], 2)
    assert sb["peak_anon_mb"] < b["peak_anon_mb"]


@pytest.mark.slow
def test_the_visibility_engines_take_turns_on_the_embedded_city() -> None:
    """The fast engine and GDAL are timed in turns; each site keeps its best time of
    each, and the engines agree with the exact LoS on the sample."""
    import shutil

    from twin.benchmark import bench_viewshed

    said: list[str] = []
    v = bench_viewshed(said.append, max_sites=2, sample=300, turns=2)
    assert v["turns"] == 2
    assert sum("turn" in m for m in said) == 2
    assert len({s["site"] for s in v["sites"]}) == 2
    for site in v["sites"]:
        assert site["fast_vs_exact"] == 1.0
        assert 0 < site["fast_study_s"] <= site["fast_study_cpu_s"] * 1.5 + 0.01
    if shutil.which("gdal_viewshed") and "gdal_compute_s" in v["sites"][0]:
        assert len(v["turn_ratios"]) == 2
        for site in v["sites"]:
            assert site["twin_vs_gdal_all_cells"] > 0.99
    else:
        assert v["turn_ratios"] == []


def _cgroup_memory() -> bool:
    """Whether this process may make memory cgroups (root, the v1 or v2 controller)."""
    import os

    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    v1 = Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    has = v1.exists() or (v2.exists() and "memory" in v2.read_text().split())
    return os.geteuid() == 0 and has


@pytest.mark.parametrize("limit", [False, True], ids=["no-limit", "cgroup"])
def test_the_scratch_benchmark_runs_each_study_in_its_process(tmp_path: Path, limit: bool) -> None:
    """``benchmarks/bench_scratch.py`` runs the study in memory and in files, each in a
    fresh process (re-runs from the cache it filled with ``--cached``), and reports what
    each did; under ``--limit-mib`` in a memory cgroup (root only), its peak too."""
    if limit and not _cgroup_memory():
        pytest.skip("no memory cgroup can be made here (root and the memory controller)")
    args = ["--area-km2", "1", "--radius", "1000", "--scratch", str(tmp_path), "--cached"]
    if limit:
        args += ["--limit-mib", "3000"]
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_scratch.py", *args],
        capture_output=True, text=True, check=True, timeout=600,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("# ") and "re-runs from a cache" in lines[0]
    runs = {line.split()[1]: json.loads(line.split(" ", 2)[2]) for line in lines[1:]}
    assert set(runs) == {"memory", "files", "budget"}
    budget = runs["budget"]
    assert budget["in_memory_mib"] + budget["in_files_mib"] > 0
    if limit:  # a quarter of the room left under 3000 MiB at the study's first array
        assert 0 < budget["budget_mib"] < 750
        assert budget["in_files_mib"] == 0  # a 1 km2 city fits it
    for r in runs.values():
        assert r["exit_code"] == 0 and r["cache_hits"] == ["grid", "raster", "los"]
        assert 0 < r["peak_anon_mib"] <= r["vmhwm_mib"] and r["study_s"] > 0
        if limit:
            assert 0 < r["cgroup_peak_mib"] <= 3000
    assert runs["memory"]["receivers"] == runs["files"]["receivers"] > 10_000
    assert list(tmp_path.iterdir()) == []  # the folder it made in --scratch is gone


def test_the_outputs_benchmark_runs_with_the_memory_budget(tmp_path: Path) -> None:
    """``benchmarks/bench_outputs.py --budget`` runs the study under ``twin run``'s
    default memory budget, reports it, and writes the outputs the ways it is given."""
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_outputs.py", "--area-km2", "0.5", "--repeat", "1",
         "--budget", "--scratch", str(tmp_path), "--ways", "alone"],
        capture_output=True, text=True, check=True, timeout=600,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    lines = out.stdout.strip().splitlines()
    assert "memory budget" in lines[0] and "(0 MiB made in files)" in lines[0]
    assert [line.split(",")[1].split(":")[0].strip() for line in lines[1:-1]] == ["alone"]
    assert lines[-1].startswith("  peak: this process")
    assert list(tmp_path.iterdir()) == []


def test_status_peak_sees_an_allocation_inside_the_block() -> None:
    """``StatusPeak`` reads this process's ``RssAnon`` (and ``VmRSS``) from
    ``/proc/self/status`` and keeps the largest seen: 64 MiB written and freed inside
    the block show in the peak, not after it."""
    import numpy as np

    from twin.benchmark import StatusPeak, status_mib

    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc here")
    with StatusPeak() as anon, StatusPeak("VmRSS", every_s=0.001) as rss:
        a = np.ones(64 << 17)  # 64 MiB, every page written
        time.sleep(0.05)
        del a
        time.sleep(0.05)
    assert anon.peak_mib - anon.base_mib >= 60
    assert rss.peak_mib - rss.base_mib >= 60
    assert status_mib() < anon.peak_mib - 50  # freed: the block's peak stays
    assert status_mib("NoSuchField") != status_mib("NoSuchField")  # NaN


def test_the_benchmark_scripts_take_positive_numbers_and_name_a_bad_one() -> None:
    """``positive_float``, the argparse type of the scripts' areas, radii and timeouts."""
    import argparse

    from twin.benchmark import positive_float

    assert positive_float("2.5") == 2.5
    for bad, message in (("0", "must be > 0, got 0"), ("-1", "must be > 0, got -1"),
                         ("ten", "must be a number > 0, got 'ten'")):  # fmt: skip
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            positive_float(bad)
    out = subprocess.run(
        [sys.executable, "benchmarks/bench_outputs.py", "--area-km2", "ten"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert out.returncode == 2
    assert "argument --area-km2: must be a number > 0, got 'ten'" in out.stderr


def test_the_pairs_and_their_rays_are_counted_within_each_sites_radius() -> None:
    """``_pairs``: the pairs within each site's radius (inf: every receiver) and the
    summed length of their rays, on points whose distances are whole metres."""
    from types import SimpleNamespace

    from twin.benchmark import _pairs

    class Grid(SimpleNamespace):
        def __len__(self) -> int:
            return len(self.x_m)

    grid = Grid(x_m=np.array([0.0, 3.0, 6.0, 30.0]), y_m=np.array([0.0, 4.0, 8.0, 40.0]))
    sites = [SimpleNamespace(x_m=0.0, y_m=0.0), SimpleNamespace(x_m=3.0, y_m=4.0)]
    result = SimpleNamespace(grid=grid, sites=sites, site_radius_m=[10.0, np.inf])
    # site 1: 0, 5 and 10 m within its 10 m (not 50 m); site 2: 5, 0, 5 and 45 m
    assert _pairs(result) == (7, pytest.approx(0.070, abs=1e-12))


def _targets_over_runs() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "targets_over_runs.py"
    spec = importlib.util.spec_from_file_location("targets_over_runs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_targets_over_the_saved_runs_count_what_each_run_decided() -> None:
    """``benchmarks/targets_over_runs.py`` on the project's saved reports: for each
    target's own reading, the runs it counts as holding are those whose report said so
    when it was measured (``check_targets``), and the latest value is the newest
    report's."""
    digest = _targets_over_runs()
    files = sorted(digest.RESULTS_DIR.glob("*.json"))
    assert len(files) >= 9
    reports = digest.load_reports([digest.RESULTS_DIR])
    dates = [r["machine"]["date"] for r in reports]
    assert dates == sorted(dates) and len(reports) == len(files)
    by_reading = {(row["reading"].key, row["reading"].field): row for row in digest.rows(reports)}
    own = {
        "visibility_vs_gdal_per_site": "value",
        "cold_first_run_under_30_s": "value_s",
        "first_run_under_30_s": "value_s",
        "cached_rerun_few_s": "value_s",
        "4x_area_time_fixed_radius": "value",
        "4x_area_time_auto_radius": "value",
        "4x_area_peak_memory_fixed_radius": "value",
        "4x_area_peak_memory_auto_radius": "value",
        "2_vs_1_dask_workers": "value",
    }
    for key, field in own.items():
        row = by_reading[(key, field)]
        assert row["held"] == sum(bool(r["targets"][key]["holds"]) for r in reports), key
        assert row["latest"] == reports[-1]["targets"][key][field]
        assert row["low"] <= row["median"] <= row["high"]
    # the stricter readings are counted against the same thresholds
    warm = by_reading[("4x_area_time_auto_radius", "warm_value")]
    assert warm["held"] == sum(
        r["targets"]["4x_area_time_auto_radius"]["warm_value"] <= TARGETS["area_time_ratio"]
        for r in reports
    )
    out = subprocess.run(
        [sys.executable, str(Path(digest.__file__)), *map(str, files[:2])],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.startswith(f"2 runs of `twin bench --json`, {dates[0]} to {dates[1]}")
    assert "| 2 dask workers >= 1.7x one worker | automatic radius, median of paired turns |" in out


def test_targets_over_runs_refuses_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"machine": {}}', encoding="utf-8")
    digest = _targets_over_runs()
    with pytest.raises(SystemExit, match=r"notes\.json: not a `twin bench --json` report"):
        digest.load_reports([bad])
    # a real report whose cases were all skipped: nothing to count
    empty = tmp_path / "nothing.json"
    res = CliRunner().invoke(
        cli, ["bench", "--no-embedded", "--no-viewshed", "--no-scaling", "--save", str(empty)]
    )
    assert res.exit_code == 0, res.output
    with pytest.raises(SystemExit, match=r"nothing\.json: a report of no target"):
        digest.load_reports([empty])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no report found"):
        digest.load_reports([tmp_path / "empty"])
    with pytest.raises(SystemExit, match=r"gone\.json: no such file or folder"):
        digest.load_reports([tmp_path / "gone.json"])


def test_bench_saves_its_report_whole_into_a_file_or_a_folder(tmp_path: Path) -> None:
    quick = ["bench", "--json", "--no-embedded", "--no-viewshed", "--no-scaling"]
    res = CliRunner().invoke(cli, [*quick, "--save", str(tmp_path)])
    assert res.exit_code == 0, res.output
    saved = list(tmp_path.glob("*.json"))
    assert len(saved) == 1
    report = json.loads(saved[0].read_text(encoding="utf-8"))
    date = report["machine"]["date"]  # 2026-12-06 08:20 UTC
    assert saved[0].name == date.removesuffix(" UTC").replace(" ", "T").replace(":", "") + ".json"
    assert json.loads(res.stdout) == report
    assert f"report saved to {saved[0]}" in res.stderr
    # a second report of the same minute does not replace the first
    again = CliRunner().invoke(cli, [*quick, "--save", str(tmp_path)])
    assert again.exit_code == 0
    assert len(list(tmp_path.glob("*.json"))) == 2
    assert saved[0].read_text(encoding="utf-8") == json.dumps(report, indent=2) + "\n"
    named = tmp_path / "mine.json"
    assert CliRunner().invoke(cli, ["bench", *quick[2:], "--save", str(named)]).exit_code == 0
    assert json.loads(named.read_text(encoding="utf-8"))["targets"] == {}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("mine.json", "the file exists; give a new .json file or a folder"),
        ("report.txt", "not a folder, and not a .json file name"),
        ("missing/report.json", "does not exist"),
    ],
)
def test_bench_refuses_a_save_path_before_measuring(
    tmp_path: Path, name: str, problem: str
) -> None:
    (tmp_path / "mine.json").write_text("{}", encoding="utf-8")
    started = time.monotonic()
    res = CliRunner().invoke(cli, ["bench", "--save", str(tmp_path / name)])
    assert res.exit_code == 2
    assert f"--save {tmp_path / name}: " in res.output and problem in res.output
    assert time.monotonic() - started < 5  # refused at once, nothing measured
    assert (tmp_path / "mine.json").read_text(encoding="utf-8") == "{}"
