"""Outputs written by two processes: this one and a forked child taking shared tasks."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio

from twin.errors import OutputError
from twin.io.forked import fork_available, share_work
from twin.io.outputs import write_run

needs_fork = pytest.mark.skipif(not fork_available(), reason="no fork on this platform")


def _task(tmp_path: Path, k: int, seen: list[int], sleep_s: float = 0.0) -> Callable[[], None]:
    def run() -> None:
        time.sleep(sleep_s)
        seen.append(k)  # seen here only when this process ran it
        with open(tmp_path / f"task{k}.txt", "x") as f:  # "x": a second run would fail
            f.write(str(os.getpid()))

    return run


@needs_fork
def test_each_task_runs_once_in_either_process(tmp_path: Path) -> None:
    seen: list[int] = []
    tasks = [_task(tmp_path, k, seen, sleep_s=0.2) for k in range(6)]
    result = share_work(tasks, lambda: "here", what="test files")
    assert result == "here"
    pids = {k: int((tmp_path / f"task{k}.txt").read_text()) for k in range(6)}
    here = {k for k, pid in pids.items() if pid == os.getpid()}
    assert set(seen) == here  # what the child did left only its file
    assert 0 < len(here) < 6  # both processes took tasks
    assert len(set(pids.values())) == 2


def test_without_fork_everything_runs_here_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWIN_OUTPUT_FORK", "0")
    assert not fork_available()
    seen: list[int] = []
    result = share_work([_task(tmp_path, k, seen) for k in range(3)],
                        lambda: seen.append(-1) or 7, what="test files")  # fmt: skip
    assert result == 7
    assert seen == [-1, 0, 1, 2]


def _share_in_daemon(folder: str) -> None:
    import sys

    seen: list[int] = []
    share_work([_task(Path(folder), k, seen) for k in range(3)], lambda: None, what="test files")
    sys.exit(0 if seen == [0, 1, 2] else 3)  # all three here: a daemon may not fork


@needs_fork
def test_a_daemonic_process_writes_everything_itself(tmp_path: Path) -> None:
    """A worker of a process pool (daemonic) may not have children: no fork there."""
    import multiprocessing

    proc = multiprocessing.get_context("fork").Process(
        target=_share_in_daemon, args=(str(tmp_path),), daemon=True
    )
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    assert sorted(p.name for p in tmp_path.glob("task*.txt")) == [
        "task0.txt",
        "task1.txt",
        "task2.txt",
    ]


def _in_child(parent: int, action: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        if os.getpid() != parent:
            action()

    return run


@needs_fork
def test_an_error_in_the_child_names_the_output_and_the_cause() -> None:
    def fail() -> None:
        raise ValueError("no ink left")

    with pytest.raises(OutputError, match=r"writing the test figures failed: ValueError: no ink"):
        share_work([_in_child(os.getpid(), fail)], lambda: time.sleep(1.0), what="the test figures")


@needs_fork
def test_a_child_that_dies_gives_its_exit_code() -> None:
    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(OutputError, match=r"exit code -9"):
        share_work([_in_child(os.getpid(), die)], lambda: time.sleep(1.0), what="the test figures")


@needs_fork
def test_an_error_here_stops_the_child(tmp_path: Path) -> None:
    def late() -> None:
        time.sleep(30)
        (tmp_path / "late.txt").write_text("too late")

    def first() -> None:
        time.sleep(0.5)  # the child has taken the task
        raise KeyError("disk full")

    t0 = time.perf_counter()
    with pytest.raises(KeyError, match="disk full"):
        share_work([late], first, what="the test figures")
    assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "late.txt").exists()


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.png"))
    }


@needs_fork
def test_write_run_gives_the_same_figures_with_and_without_fork(
    helsinki_study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    write_run(helsinki_study, tmp_path / "forked", overwrite=False)
    monkeypatch.setenv("TWIN_OUTPUT_FORK", "0")
    write_run(helsinki_study, tmp_path / "here", overwrite=False)
    forked, here = _digests(tmp_path / "forked"), _digests(tmp_path / "here")
    assert set(forked) >= {
        "los_vs_distance.png",
        "plots/capacity_3p5.png",
        "plots/sinr_cdf.png",
        "plots/capacity_by_user_type.png",
    }
    assert forked == here
    names = {p.relative_to(tmp_path / "forked") for p in (tmp_path / "forked").rglob("*")}
    assert names == {p.relative_to(tmp_path / "here") for p in (tmp_path / "here").rglob("*")}
    # the rasters written by the child hold the same pixels (their tags carry the date)
    tifs = sorted(p.relative_to(tmp_path / "here") for p in (tmp_path / "here").rglob("*.tif"))
    assert len(tifs) == 1 + 4 * len(helsinki_study.bands)
    for rel in tifs:
        with (
            rasterio.open(tmp_path / "forked" / rel) as a,
            rasterio.open(tmp_path / "here" / rel) as b,
        ):
            assert np.array_equal(a.read(), b.read(), equal_nan=True), rel


def test_the_map_reads_the_grid_layers_points_and_metric(helsinki_study, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The web map's points are the ``grid`` layer's, reprojected by geopandas to lon/lat
    (reprojected here by chunks of 1000 points), with its indoor flag and metric."""
    import shapely

    from twin.io.outputs import grid_frame, map_points

    monkeypatch.setattr("twin.io.outputs.MAP_CHUNK", 1000)
    layer = grid_frame(helsinki_study)
    layer = layer[layer["kind"] == "grid"].reset_index(drop=True)
    lonlat = layer.geometry.to_crs(4326)
    for metric in ("capacity_mbps", "sinr_db", "rsrp_dbm"):
        drawn = map_points(helsinki_study, metric)  # no limit: every grid point
        assert drawn.step == 1 and drawn.note is None
        assert drawn.cell_size_m == helsinki_study.scenario.grid.spacing_m
        got = drawn.points
        names = [f"{metric}_{b}" for b in helsinki_study.bands]
        assert list(got.columns) == names and len(got) == len(layer) > 1000
        for name in names:
            assert got.columns[name].dtype == layer[name].dtype
            assert np.array_equal(got.columns[name], layer[name].to_numpy(), equal_nan=True)
        assert np.array_equal(got.indoor, layer["indoor"].to_numpy(dtype=bool))
        assert np.array_equal(got.lon, shapely.get_x(lonlat.values))
        assert np.array_equal(got.lat, shapely.get_y(lonlat.values))


@pytest.mark.parametrize("max_points", [1, 250, 1001, 4000])
def test_a_large_grid_is_drawn_by_a_regular_sample_of_its_points(  # type: ignore[no-untyped-def]
    helsinki_study, max_points: int, monkeypatch
) -> None:
    """Past ``max_points`` the map draws the point in the middle of every k x k block,
    k the smallest that fits, with the values of the ``grid`` layer at those points
    (read by spans of 1000 receivers here)."""
    import shapely

    from twin.io.outputs import grid_frame, map_points

    monkeypatch.setattr("twin.io.outputs.MAP_CHUNK", 1000)

    layer = grid_frame(helsinki_study)
    layer = layer[layer["kind"] == "grid"].reset_index(drop=True)
    rows, cols = helsinki_study.grid.spec.shape
    drawn = map_points(helsinki_study, "sinr_db", max_points)
    k = drawn.step
    assert 1 < k and len(drawn.points) <= max_points

    def sample(step: int) -> np.ndarray:
        """The points at the middle of each block (of all, if the block holds all)."""
        r, c = layer["row"].to_numpy(), layer["col"].to_numpy()
        r0, c0 = min(step // 2, (rows - 1) // 2), min(step // 2, (cols - 1) // 2)
        return np.flatnonzero(
            (r >= r0) & ((r - r0) % step == 0) & (c >= c0) & ((c - c0) % step == 0)
        )

    assert sample(k - 1).size > max_points  # the smallest step that fits
    at = sample(k)
    assert at.size == len(drawn.points) >= 1
    lonlat = layer.geometry.iloc[at].to_crs(4326)
    assert np.array_equal(drawn.points.lon, shapely.get_x(lonlat.values))
    assert np.array_equal(drawn.points.lat, shapely.get_y(lonlat.values))
    for b in helsinki_study.bands:
        want = layer[f"sinr_db_{b}"].to_numpy()[at]
        assert np.array_equal(drawn.points.columns[f"sinr_db_{b}"], want, equal_nan=True)
    assert np.array_equal(drawn.points.indoor, layer["indoor"].to_numpy(dtype=bool)[at])
    spacing = helsinki_study.scenario.grid.spacing_m
    assert drawn.cell_size_m == k * spacing
    assert drawn.note is not None
    # of the grid's points: the raster's cells less those on water
    built = int(helsinki_study.grid.is_grid.sum())
    assert f"{at.size:,} of {built:,} points" in drawn.note
    assert f"{k * spacing:g} m square" in drawn.note
