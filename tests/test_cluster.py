"""Tiles on dask: a real `dask scheduler` and two `dask worker` processes on 127.0.0.1,
a local cluster, and the errors of an address that does not answer (twin.cluster)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from tests.scale_inputs import write_footprint_scenario
from twin.cli.main import cli
from twin.cluster import (
    DaskRunner,
    check_scheduler_address,
    connect,
    open_runner,
    pin_local_workers,
)
from twin.errors import ClusterError, InputError
from twin.io.shared_raster import PREFIX, forget_worker_maps, shared_base_dir
from twin.sources.scenario_file import read_scenario
from twin.study import StudyOptions, run_study

DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT_S = 60.0

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Workers first, then the scheduler, each waited for (killed after 15 s)."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=15)


def _spawn(
    args: list[str], log_path: Path, prefix: list[str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``dask ARGS`` (after the command ``prefix``) with its output in ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [*(prefix or []), str(DASK), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
        )


#: runs a command in a mount namespace of its own whose /dev/shm is a new, empty file
#: system: a process there does not see the folders that runs share there, as a worker
#: on another machine would not (Linux, as root; /tmp stays: the checkout may be there)
_OWN_SHM = [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    'mount -t tmpfs none /dev/shm && exec "$0" "$@"',
]


def _own_shm_allowed() -> bool:
    try:
        done = subprocess.run([*_OWN_SHM, "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _start_scheduler(folder: Path, procs: list[subprocess.Popen[bytes]]) -> str:
    """Start `dask scheduler` on a free port of 127.0.0.1; return its address."""
    sched_file = folder / "scheduler.json"
    args = ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    procs.append(_spawn([*args, "--scheduler-file", str(sched_file)], folder / "scheduler.log"))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if procs[-1].poll() is not None:
            raise RuntimeError(f"dask scheduler exited: {(folder / 'scheduler.log').read_text()}")
        try:
            return str(json.loads(sched_file.read_text())["address"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            time.sleep(0.2)
    raise RuntimeError("dask scheduler did not start in time")


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two single-thread workers, always torn down."""
    folder = tmp_path_factory.mktemp("dask")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        address = _start_scheduler(folder, procs)
        for i in range(2):
            args = ["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
            args += ["--host", "127.0.0.1", "--name", f"w{i}"]
            args += ["--local-directory", str(folder / f"w{i}")]
            procs.append(_spawn(args, folder / f"worker{i}.log"))
        client = connect(address, timeout_s=START_TIMEOUT_S)
        try:
            client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        finally:
            client.close()
        yield address
    finally:
        _stop(procs)


@pytest.fixture(scope="module")
def scenario_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_footprint_scenario(tmp_path_factory.mktemp("inputs"))


def _assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert np.array_equal(a.los, b.los)
    for label in a.bands:
        for name in ("serving_cell", "rsrp_dbm", "sinr_db", "capacity_mbps", "user_type"):
            x, y = getattr(a.bands[label], name), getattr(b.bands[label], name)
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), (label, name)


def test_tiles_on_a_real_dask_cluster_give_the_single_process_result(
    dask_cluster: str, scenario_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sc = read_scenario(scenario_path)
    local = run_study(sc, options=StudyOptions(tile_cells=8))
    with caplog.at_level(logging.INFO, logger="twin.cluster"):
        with open_runner(scheduler=dask_cluster) as runner:
            assert "2 workers" in runner.description
            # an existing cluster's workers may be on other machines: asked on each run
            assert isinstance(runner, DaskRunner) and not runner.local
            remote = run_study(sc, options=StudyOptions(tile_cells=8, runner=runner))
            # the workers mapped the run's files once each, and drop them at its end, on
            # a thread of this process that finish() waits for; then the folder is gone
            runner.finish()
            held = runner.client.run(forget_worker_maps)
            assert not list(Path("/dev/shm").glob(f"{PREFIX}*"))
            # a second run on the same runner gives the same results again
            again = run_study(sc, options=StudyOptions(tile_cells=8, runner=runner))
    assert held and all(n == 0 for n in held.values())
    _assert_same(local, again)
    assert remote.timings_s["tiles"] > 0
    _assert_same(local, remote)
    # the workers run on this machine: they mapped the raster and receivers from shared
    # files and wrote the results there
    assert "context, raster, receivers and results shared through" in caplog.text
    assert not list(Path(tempfile.gettempdir()).glob(f"{PREFIX}*"))
    assert not list(Path("/dev/shm").glob(f"{PREFIX}*"))


def test_the_frequency_sweep_on_a_real_dask_cluster_gives_the_local_sweep(
    dask_cluster: str, scenario_path: Path
) -> None:
    """city_sweep's radio pass on the cluster's workers (the shadow field included)
    gives the values of the sweep in this process, one frequency per group."""
    from twin.scenario import Scenario
    from twin.study import city_sweep

    data = read_scenario(scenario_path).model_dump(mode="python")
    data["radio"]["sweep_ghz"] = (0.7, 28.7, 7.0)
    data["radio"]["shadowing"] = "field"
    result = run_study(Scenario.model_validate(data))
    local = city_sweep(result, group_bytes=1)
    with open_runner(scheduler=dask_cluster) as runner:
        remote = city_sweep(result, runner=runner)
    assert local is not None and remote is not None
    assert local.freq_ghz.size == 5 and local.points.sum() == 5 * len(result.grid)
    for name in ("points", "mean_mbps", "median_mbps", "all_mean_mbps"):
        assert np.array_equal(getattr(local, name), getattr(remote, name), equal_nan=True), name


def test_workers_given_a_copy_of_the_raster_give_the_same_result(
    dask_cluster: str, scenario_path: Path
) -> None:
    """The path of workers on other machines: the raster is sent to each of them."""
    sc = read_scenario(scenario_path)
    local = run_study(sc, options=StudyOptions(tile_cells=8))
    _assert_same(local, _run_with_copies(dask_cluster, sc))


def _run_with_copies(address: str, sc: Any) -> Any:
    """``sc`` run on the cluster at ``address`` as on workers of other machines: nothing
    shared through files, every task and the raster sent as copies."""
    client = connect(address)
    try:
        runner = DaskRunner(client, "test cluster", share_raster=False)
        return run_study(sc, options=StudyOptions(tile_cells=8, runner=runner))
    finally:
        client.close()


def test_remote_workers_get_the_receivers_indoor_distances(
    dask_cluster: str, scenario_path: Path
) -> None:
    """With radio.indoor_distance = "wall" the tasks carry each receiver's distance to
    its facade: workers on other machines (copies, nothing shared) give the local run."""
    from twin.scenario import Scenario

    data = read_scenario(scenario_path).model_dump()
    data["radio"]["indoor_distance"] = "wall"
    sc = Scenario.model_validate(data)
    local = run_study(sc, options=StudyOptions(tile_cells=8))
    assert local.grid.indoor_distance_m is not None
    remote = _run_with_copies(dask_cluster, sc)
    _assert_same(local, remote)
    window = run_study(read_scenario(scenario_path), options=StudyOptions(tile_cells=8))
    assert not np.array_equal(window.bands["28"].rsrp_dbm, remote.bands["28"].rsrp_dbm)


def test_a_worker_that_does_not_see_the_shared_folder_gets_copies(
    scenario_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A real worker that cannot see /dev/shm of this machine (its own mount namespace:
    as on another machine) next to one that can: nothing is shared through files, every
    worker gets copies, the results are the same, and the folder written while the
    workers were asked is gone."""
    if not _own_shm_allowed():
        pytest.skip("no mount namespace here (needs Linux and root) for the other worker")
    if shared_base_dir(10**8) != "/dev/shm":
        pytest.skip("runs share their folders outside /dev/shm here")
    sc = read_scenario(scenario_path)
    local = run_study(sc, options=StudyOptions(tile_cells=8))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        address = _start_scheduler(tmp_path, procs)
        for i, prefix in enumerate(([], _OWN_SHM)):
            args = ["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
            args += ["--host", "127.0.0.1", "--name", f"w{i}"]
            args += ["--local-directory", str(tmp_path / f"w{i}")]
            procs.append(_spawn(args, tmp_path / f"worker{i}.log", prefix))
        with caplog.at_level(logging.INFO, logger="twin.cluster"):
            with open_runner(scheduler=address, timeout_s=START_TIMEOUT_S) as runner:
                runner.client.wait_for_workers(2, timeout=START_TIMEOUT_S)
                remote = run_study(sc, options=StudyOptions(tile_cells=8, runner=runner))
                runner.finish()
                assert not list(Path("/dev/shm").glob(f"{PREFIX}*"))
                assert not list(Path(tempfile.gettempdir()).glob(f"{PREFIX}*"))
    finally:
        _stop(procs)
    assert "some dask workers run on another machine" in caplog.text
    assert "shared through" not in caplog.text
    _assert_same(local, remote)


def test_twin_run_on_the_cluster_writes_the_same_outputs(
    dask_cluster: str, scenario_path: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {"TWIN_CACHE_DIR": str(tmp_path / "cache")}
    base = ["-q", "run", str(scenario_path), "--no-progress", "--tile", "16"]
    one = runner.invoke(cli, [*base, "--out", str(tmp_path / "one")], env=env)
    assert one.exit_code == 0, one.output
    two = runner.invoke(
        cli, [*base, "--out", str(tmp_path / "two"), "--scheduler", dask_cluster], env=env
    )
    assert two.exit_code == 0, two.output
    for name in ("sinr_db_3p5.tif", "capacity_mbps_28.tif", "los_28.tif"):
        with rasterio.open(tmp_path / "one" / "rasters" / name) as a:
            with rasterio.open(tmp_path / "two" / "rasters" / name) as b:
                assert np.array_equal(a.read(1), b.read(1)), name
    s1 = json.loads((tmp_path / "one" / "summary.json").read_text())
    s2 = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert s1["bands"] == s2["bands"]


def test_a_local_cluster_of_two_workers(
    scenario_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sc = read_scenario(scenario_path)
    local = run_study(sc, options=StudyOptions(tile_cells=8))
    cpus = sorted(os.sched_getaffinity(0))
    with open_runner(workers=2) as runner:
        assert "2 worker processes" in runner.description
        # its workers are this machine's processes: they share the run's files without
        # being asked whether they see the folder
        assert isinstance(runner, DaskRunner) and runner.local
        # each worker on a core of its own (the machines here have 2 cores or more)
        assert len(cpus) >= 2 and "one core each" in runner.description
        held = runner.client.run(os.sched_getaffinity, 0)
        assert sorted(held.values(), key=min) == [{cpus[0]}, {cpus[1]}]
        with caplog.at_level(logging.INFO, logger="twin.cluster"):
            remote = run_study(sc, options=StudyOptions(tile_cells=8, runner=runner))
        assert "shared through" in caplog.text
        # more workers than cores: left free
        os.sched_setaffinity(0, {cpus[0]})
        try:
            assert not pin_local_workers(runner.client)
        finally:
            os.sched_setaffinity(0, set(cpus))
    _assert_same(local, remote)


def test_an_address_that_does_not_answer_fails_fast_and_clearly(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match="did not answer within 2 s") as info:
        with open_runner(scheduler=address, timeout_s=2.0):
            pass
    assert isinstance(info.value, ConnectionError)
    assert time.monotonic() - t0 < 20
    scenario = write_footprint_scenario(tmp_path / "in")
    t0 = time.monotonic()
    res = CliRunner().invoke(
        cli,
        ["run", str(scenario), "--out", str(tmp_path / "out"), "--no-progress",
         "--scheduler", address, "--connect-timeout", "2"],
    )  # fmt: skip
    assert res.exit_code != 0
    assert "did not answer" in res.output and address in res.output
    assert time.monotonic() - t0 < 20
    assert not (tmp_path / "out").exists()


def test_a_scheduler_without_workers_is_an_error_not_a_hang(tmp_path: Path) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        address = _start_scheduler(tmp_path, procs)
        t0 = time.monotonic()
        with pytest.raises(ClusterError, match="has no worker"):
            connect(address, timeout_s=2.0)
        assert time.monotonic() - t0 < 20
    finally:
        _stop(procs)


def test_losing_every_worker_fails_the_run_instead_of_hanging(tmp_path: Path) -> None:
    from tests.test_tiles import synthetic_scenario
    from twin.city.synthetic import synthetic_city

    procs: list[subprocess.Popen[bytes]] = []
    try:
        address = _start_scheduler(tmp_path, procs)
        args = ["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
        worker = _spawn([*args, "--host", "127.0.0.1"], tmp_path / "worker.log")
        procs.append(worker)
        city = synthetic_city(1.0, seed=2)
        sc = synthetic_scenario()
        with open_runner(scheduler=address, timeout_s=2.0) as runner:
            # kill the only worker once a few tiles are done
            def kill_when_under_way() -> None:
                most = 0
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    n = runner.client.run_on_scheduler(
                        lambda dask_scheduler: len(dask_scheduler.tasks)
                    )
                    most = max(most, n)
                    if most > 10 and n <= most - 3:  # tiles submitted, three of them done
                        break
                    time.sleep(0.02)
                worker.kill()

            threading.Thread(target=kill_when_under_way, daemon=True).start()
            t0 = time.monotonic()
            with pytest.raises(
                ClusterError, match=r"no worker left|a worker or the scheduler was lost"
            ):
                run_study(sc, city=city, options=StudyOptions(tile_cells=4, runner=runner))
            assert time.monotonic() - t0 < 30
    finally:
        _stop(procs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers: 0 is not allowed"),
        (["--workers", "-2"], "--workers: -2 is not allowed"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "not both"),
        (["--scheduler", "no-port-here"], "not a dask scheduler address"),
    ],
)
def test_bad_cluster_options(tmp_path: Path, args: list[str], message: str) -> None:
    scenario = write_footprint_scenario(tmp_path / "in")
    res = CliRunner().invoke(
        cli, ["run", str(scenario), "--out", str(tmp_path / "out"), "--no-progress", *args]
    )
    assert res.exit_code != 0
    assert message in res.output
    assert not (tmp_path / "out").exists()


def test_scheduler_addresses() -> None:
    assert check_scheduler_address("127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert check_scheduler_address("tcp://sched.example:9000") == "tcp://sched.example:9000"
    for bad in ("", "tcp://host", "host:99999", "http://h:1"):
        with pytest.raises(InputError):
            check_scheduler_address(bad)
    with pytest.raises(InputError):
        with open_runner(workers=0):
            pass


def test_workers_keep_numpy_temporaries_on_the_heap() -> None:
    """After the worker set-up, a 1 MiB array comes from the heap and a 64 MiB one is
    still mapped (glibc's threshold is 32 MiB); in a process without it, both are
    mapped. Counted with glibc's mallinfo2 (mapped blocks). The process without it does
    not import twin: glibc raises its threshold whenever a mapped block is freed, which
    importing many modules may do (once seen in a full run of the suite)."""
    code = (
        "import ctypes, ctypes.util, sys\n"
        "import numpy as np\n"
        "class Info(ctypes.Structure):\n"
        "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks',\n"
        "        'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "libc.mallinfo2.restype = Info\n"
        "if sys.argv[1] == 'set':\n"
        "    from twin.cluster import _keep_temporaries_on_the_heap\n"
        "    assert _keep_temporaries_on_the_heap()\n"
        "h0 = libc.mallinfo2().hblks; small = np.ones(1 << 17); h1 = libc.mallinfo2().hblks\n"
        "big = np.ones(1 << 23); h2 = libc.mallinfo2().hblks\n"
        "print(h1 - h0, h2 - h1)\n"
    )
    counts = {}
    for mode in ("set", "default"):
        out = subprocess.run(
            [sys.executable, "-c", code, mode], capture_output=True, text=True, check=True
        )
        counts[mode] = tuple(int(v) for v in out.stdout.split())
    assert counts["set"] == (0, 1)
    assert counts["default"] == (1, 1)


def test_the_wait_for_a_tile_is_woken_by_the_tile(dask_cluster: str) -> None:
    """The run waits on as_completed's condition, not in polling steps: a task finishing
    after 0.3 s ends a wait of up to 30 s at once, its result then ready; with nothing
    left to finish the wait lasts its timeout."""
    from distributed import as_completed

    from twin.cluster import _wait_for_one

    with connect(dask_cluster, timeout_s=START_TIMEOUT_S) as client:
        future = client.submit(time.sleep, 0.3, pure=False)
        ready = as_completed([future], loop=client.loop)
        t0 = time.monotonic()
        _wait_for_one(ready, 30.0)
        assert ready.has_ready()
        assert time.monotonic() - t0 < 15.0  # not the 30 s timeout
        ready.next_batch(block=False)
        t0 = time.monotonic()
        _wait_for_one(ready, 0.2)  # nothing more to come: the timeout
        assert time.monotonic() - t0 >= 0.19
        future.release()
