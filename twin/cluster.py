"""Where the tiles of a study run: in this process or on a dask cluster.

:func:`open_runner` gives a :class:`TileRunner`:

* no option: :class:`LocalRunner`, the tiles one after the other in this process (the
  compiled LoS kernel uses every core);
* ``workers=N``: a ``dask.distributed.LocalCluster`` of N worker processes with one
  thread each, started for the run and closed after it, each pinned to its own core
  when N is at most the number of cores (:func:`pin_local_workers`);
* ``scheduler="tcp://HOST:PORT"``: an existing dask cluster (``dask scheduler`` and
  ``dask worker`` processes, with `twin` installed on the workers).

On dask, each tile is one task that traces the tile's LoS and then does its radio work
(one pass over the tiles); a task runs the LoS kernel on one thread, so that a worker's
threads are its tasks. The shared part of the work (:class:`twin.tiles.TileContext`:
prisms, the visibility raster, sites, bands) reaches workers on this machine through
shared files (:mod:`twin.io.shared_raster`: the context is read once per worker, the
raster mapped, not copied), and is scattered once to every worker of a cluster on other
machines. The results do not depend on where the tiles ran.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from twin.errors import ClusterError, InputError
from twin.tiles import TileContext, TileOutput, TileTask, TileTasks, compute_tile

log = logging.getLogger(__name__)

#: seconds to wait for a scheduler to answer, and for its first worker
CONNECT_TIMEOUT_S = 10.0

_ADDRESS = re.compile(r"^(tcp://)?(?P<host>[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")


class TileRunner(Protocol):
    """Runs the tiles of a study and yields their outputs as they finish."""

    description: str
    #: how many tiles run at once
    slots: int
    #: True: a study runs each tile's LoS and radio work in one task (the workers hold
    #: the visibility raster in their own memory); False: two passes over the tiles, so
    #: that this process never holds the raster and the radio results together
    fuse_passes: bool

    def run(self, ctx: TileContext, tasks: Sequence[TileTask]) -> Iterator[TileOutput]:
        """Outputs of ``compute_tile(ctx, task)`` for every task, in any order."""
        ...


class LocalRunner:
    """The tiles in this process, in order: one after the other, each one's compiled
    kernels on every numba thread; but tiles with no LoS to trace (the radio pass: every
    site's LoS is known) one per thread at once, each on one thread, so that one tile's
    Python work overlaps the others' compiled kernel (one after the other, a third of
    the radio pass ran on one core)."""

    description = "in process"
    slots = 1
    fuse_passes = False

    def run(self, ctx: TileContext, tasks: Sequence[TileTask]) -> Iterator[TileOutput]:
        """See :class:`TileRunner`."""
        import numba

        threads = int(numba.get_num_threads())
        if threads > 1 and len(tasks) > 1 and _radio_only(ctx):
            yield from _overlapped(ctx, tasks, threads)
            return
        for task in tasks:
            yield compute_tile(ctx, task)


def _radio_only(ctx: TileContext) -> bool:
    """Whether a tile of ``ctx`` traces no LoS (every site's LoS is known): its compiled
    work is then the radio kernel alone, which may run on several threads at once."""
    return ctx.known_sites is not None and len(ctx.known_sites) == len(ctx.sites)


def _radio_tile_on_one_thread(ctx: TileContext, task: TileTask) -> TileOutput:
    import numba

    numba.set_num_threads(1)  # this thread's kernels (numba's setting is per thread)
    return compute_tile(ctx, task)


def _overlapped(ctx: TileContext, tasks: Sequence[TileTask], threads: int) -> Iterator[TileOutput]:
    """``compute_tile`` of each task, ``threads`` at once, yielded in the tasks' order
    (at most ``2 * threads`` outputs waiting)."""
    from collections import deque

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="twin-tile") as pool:
        waiting: deque[Any] = deque()
        for task in tasks:
            waiting.append(pool.submit(_radio_tile_on_one_thread, ctx, task))
            if len(waiting) >= 2 * threads:
                yield waiting.popleft().result()
        while waiting:
            yield waiting.popleft().result()


#: glibc's mallopt parameters (malloc.h) and the values a worker sets
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
WORKER_MMAP_THRESHOLD_B = 32 << 20
WORKER_TRIM_THRESHOLD_B = 128 << 20


def _keep_temporaries_on_the_heap() -> bool:
    """Fix glibc's thresholds in this process so that the radio work's numpy temporaries
    (about 256 kB each) come from the heap, not from a new memory map each.

    glibc maps every allocation above its mmap threshold (128 kB at start) and raises
    the threshold only when such a block is freed, so a fresh worker maps, faults in and
    unmaps each temporary until its first large block is freed (in a trial where the
    results stayed on the workers, none was, and their radio work took 1.5x as long).
    The threshold is set to 32 MiB, and the heap is trimmed once 128 MiB are free at its
    top. Linux with glibc only; elsewhere nothing is done. Returns whether both were set.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD_B)
    ok_trim = mallopt(_M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD_B)
    return bool(ok_mmap and ok_trim)


def _warm_worker() -> bool:
    """Run on every worker when a runner opens: one thread for the compiled kernels, the
    modules of a tile imported and the kernels loaded (from numba's cache) by a tiny LoS
    query and a tiny radio query, so that the first tile of each worker does not pay
    for them."""
    import numba

    numba.set_num_threads(1)
    _keep_temporaries_on_the_heap()
    import twin.tiles  # noqa: F401  (the radio pass's modules: about 0.4 s)
    from twin.radio.compiled import warm_up as warm_up_radio
    from twin.visibility.fast import warm_up

    warm_up()
    warm_up_radio()
    return True


def _compute_tile_on_worker(ctx: Any, task: Any, results: Any = None) -> Any:
    """A dask task: one tile (a :class:`TileTask`, or a :class:`twin.io.shared_raster.
    MappedTask` read here) with the run's context (a :class:`TileContext`, or a
    :class:`twin.io.shared_raster.SharedContext` read here), the compiled kernels on
    this task's thread only. Its :class:`TileOutput`, or, with ``results`` (a
    :class:`twin.io.shared_raster.SharedResults`, given with a MappedTask), its per-band
    results written there and the rest sent back (a ``SharedTileOutput``)."""
    import numba

    from twin.io.shared_raster import MappedTask, SharedContext

    numba.set_num_threads(1)
    if isinstance(ctx, SharedContext):
        ctx = ctx.open()
    out = compute_tile(ctx, task.open() if isinstance(task, MappedTask) else task)
    return out if results is None else results.write(out)


class DaskRunner:
    """The tiles as tasks of a dask cluster (a ``distributed.Client``).

    Parameters
    ----------
    client
        The client of the cluster.
    description
        How the cluster is named in messages.
    no_worker_timeout_s
        A run fails when the cluster has had no worker for this long (its workers died
        or left), instead of waiting for ever.
    share_raster
        Workers on this machine map the visibility raster and the grid's receivers from
        shared files instead of receiving copies, and write the tiles' results there
        instead of sending them back (:mod:`twin.io.shared_raster`); False: everything
        is sent.
    local
        Every worker is a process of this machine (a ``LocalCluster`` made for the run):
        the workers are not asked on each run whether they see the shared folder (a
        round trip of 30-40 ms through the scheduler before the first tile on the 2-core
        VM). False: asked on each run (workers on other machines get copies).
    """

    fuse_passes = True

    def __init__(
        self,
        client: Any,
        description: str,
        *,
        no_worker_timeout_s: float = CONNECT_TIMEOUT_S,
        share_raster: bool = True,
        local: bool = False,
    ) -> None:
        self.client = client
        self.share_raster = share_raster
        self.local = local
        self.description = description
        self.no_worker_timeout_s = no_worker_timeout_s
        self._no_worker_since: float | None = None
        self._cleanup: threading.Thread | None = None
        workers = client.scheduler_info().get("workers", {})
        self.slots = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
        try:
            client.run(_warm_worker)
        except Exception as exc:  # e.g. twin missing on a worker: run() says it clearly
            log.warning("could not warm the dask workers (the run will say why): %s", exc)

    def _n_workers(self) -> int:
        # a lambda travels by value: the scheduler need not have twin installed
        return int(self.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.workers)))

    def run(self, ctx: TileContext, tasks: Sequence[TileTask]) -> Iterator[TileOutput]:
        """See :class:`TileRunner`."""
        if not tasks:
            return
        self.finish()  # the files of the run before go before this run's are made
        stack = ExitStack()
        try:
            yield from self._run(*self._same_machine(ctx, tasks, stack))
        except BaseException:
            stack.close()
            raise
        # Every result is in: the workers drop the run's files, and the folder goes, on a
        # thread while the study goes on (0.02-0.03 s of every run on the 2-core VM, a
        # round trip to the workers among them). The next run, or closing the runner,
        # waits for it (:meth:`finish`).
        self._cleanup = threading.Thread(target=stack.close, name="twin-shared-cleanup")
        self._cleanup.start()

    def finish(self) -> None:
        """Wait until the files shared for the last run are dropped by the workers and
        removed (:meth:`run` does that on a thread once its last result is in)."""
        if self._cleanup is not None:
            self._cleanup.join()
            self._cleanup = None

    def _same_machine(
        self, ctx: TileContext, tasks: Sequence[TileTask], stack: ExitStack
    ) -> tuple[Any, Sequence[Any], Any]:
        """The context and tasks to send, and where the tiles' results go.

        When every worker sees a folder of this machine (:mod:`twin.io.shared_raster`;
        asked on each run, except on a ``local`` runner's workers):
        the context written there (a :class:`SharedContext`, its raster mapped from
        files there), the tasks as their receivers' indices into the grid written there,
        and the :class:`SharedResults` the tiles write into; else ``ctx``, ``tasks`` and
        None (everything sent; the context scattered to the workers first). The files go
        when ``stack`` closes.
        """
        if not self.share_raster:
            return ctx, tasks, None
        from twin.io.shared_raster import (
            SharedContext,
            folder_visible,
            forget_worker_maps,
            raster_nbytes,
            share_raster,
            shared_bytes,
            shared_raster_dir,
        )

        grid = tasks.grid if isinstance(tasks, TileTasks) else None
        need = 0 if ctx.raster is None else raster_nbytes(ctx.raster)
        if grid is not None:
            need += shared_bytes(
                len(grid), len(ctx.bands), indoor_distance=grid.indoor_distance_m is not None
            )
        try:
            folder, token = stack.enter_context(shared_raster_dir(need))
            # the files are written on two threads (the writes and numpy's copies let go
            # of the GIL) while the workers say whether they see the folder: written one
            # after the other, with every worker waiting, they took 0.07-0.09 s of the
            # 10 km² synthetic city's tile pass (BENCHMARKS.md)
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="twin-share") as pool:
                raster_job = (
                    pool.submit(share_raster, ctx.raster, folder)
                    if ctx.raster is not None
                    else None
                )
                rx_job = (
                    pool.submit(_share_receivers_and_results, tasks, folder, list(ctx.bands))
                    if isinstance(tasks, TileTasks)
                    else None
                )
                seen = None if self.local else self.client.run(folder_visible, str(folder), token)
                mapped = raster_job.result() if raster_job is not None else None
                shared_rx = rx_job.result() if rx_job is not None else None
            if not self.local and (not seen or not all(seen.values())):
                log.info("some dask workers run on another machine; each worker gets copies")
                return ctx, tasks, None
            # when the run ends, the workers drop their maps and files of it (before its removal)
            stack.callback(self._forget_maps, forget_worker_maps)
            if mapped is not None:
                ctx = replace(ctx, raster=mapped)
            results = None
            sent: Sequence[Any] = tasks
            if shared_rx is not None:
                # the receivers in the tiles' order; the results too (none without bands)
                sent, results = shared_rx
                stack.callback(results.close)
            shared_ctx = SharedContext.write(ctx, folder)
        except Exception as exc:  # no room; a worker without twin (the run says it clearly)
            log.info("nothing shared through files (%s); each worker gets copies", exc)
            return ctx, tasks, None
        log.info("context, raster, receivers and results shared through %s", folder)
        return shared_ctx, sent, results

    def _result(self, future: Any, left: int) -> Any:
        """The result of a finished task. A result held by a worker that died since is
        computed again by another worker; with no worker left the wait ends with
        :meth:`_check_workers`'s error instead of lasting for ever."""
        while True:
            try:
                return future.result(timeout=_POLL_S)
            except TimeoutError:  # (a task's own error is raised at once)
                self._check_workers(left)

    def _check_workers(self, left: int) -> None:
        """Raise ClusterError once the cluster has had no worker for
        ``no_worker_timeout_s`` (``left`` tiles still to do)."""
        now = time.monotonic()
        if self._n_workers() > 0:
            self._no_worker_since = None
            return
        self._no_worker_since = self._no_worker_since or now
        if now - self._no_worker_since > self.no_worker_timeout_s:
            raise ClusterError(
                f"{self.description}: no worker left for {self.no_worker_timeout_s:g} s "
                f"with {left} tiles to do; the workers died or left"
            )

    def _forget_maps(self, forget: Any) -> None:
        try:
            self.client.run(forget)
        except Exception as exc:  # a worker gone: nothing of it to free
            log.debug("workers could not drop their maps and files of the shared folder: %s", exc)

    def _run(self, ctx: Any, tasks: Sequence[Any], results: Any = None) -> Iterator[TileOutput]:
        from distributed import KilledWorker, as_completed

        from twin.io.shared_raster import SharedContext

        try:
            # a context in the shared folder travels as its path with each task
            shared = (
                ctx
                if isinstance(ctx, SharedContext)
                else self.client.scatter(ctx, broadcast=True, hash=False)
            )
            # one message to the scheduler for all the tiles (a submit each sent one per
            # tile, with its own round of scheduler work: BENCHMARKS.md)
            n = len(tasks)
            futures = self.client.map(
                _compute_tile_on_worker, [shared] * n, list(tasks), [results] * n, pure=False
            )
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"{self.description}: could not send the work ({exc})") from exc
        ready = as_completed(futures, loop=self.client.loop)
        left = len(futures)
        checked = time.monotonic()
        self._no_worker_since = None
        try:
            while left:
                done = ready.next_batch(block=False)
                for future in done:
                    out = self._result(future, left)
                    future.release()
                    left -= 1
                    yield out if results is None else results.read(out)
                if done:
                    self._no_worker_since = None
                    continue
                _wait_for_one(ready, _POLL_S)
                now = time.monotonic()
                if now - checked < _POLL_S:
                    continue
                checked = now
                self._check_workers(left)
        except ImportError as exc:  # twin, or one of its dependencies, missing on a worker
            raise ClusterError(
                f"{self.description}: a worker could not run a tile ({exc}); the workers "
                "need the same `twin` installed as this machine"
            ) from exc
        except (KilledWorker, CancelledError, OSError, TimeoutError) as exc:
            # a worker died (with the shared data), the scheduler went away, a link dropped
            raise ClusterError(
                f"{self.description}: the cluster failed during the run, a worker or the "
                f"scheduler was lost ({type(exc).__name__}: {exc})"
            ) from exc
        finally:
            for future in futures:
                future.release()
            del shared


def _share_receivers_and_results(
    tasks: TileTasks, folder: Path, labels: list[str]
) -> tuple[list[Any], Any]:
    """The tasks' receivers written into ``folder`` and the (empty) result files made
    there: the tasks to send and the :class:`twin.io.shared_raster.SharedResults`."""
    from twin.io.shared_raster import SharedResults, share_receivers

    sent, order = share_receivers(tasks, folder)
    return sent, SharedResults.create(folder, labels, order)


def _wait_for_one(ready: Any, timeout_s: float) -> None:
    """Wait until ``ready`` (a ``distributed.as_completed``) has a finished future, or
    ``timeout_s``: woken by the future itself, not by polling (a poll every 20 ms
    delayed each result by 10 ms on average, the last tile's too). Without the
    condition ``as_completed`` notifies (another version of distributed), a short
    sleep."""
    cond = getattr(ready, "thread_condition", None)
    if cond is None:  # pragma: no cover - depends on distributed's version
        time.sleep(0.02)
        return
    with cond:  # a future finishing now notifies only once this waits: none is missed
        if not ready.has_ready():
            cond.wait(timeout=timeout_s)


#: dask settings of a local cluster: its scheduler, nannies and workers share the
#: machine's cores with the tiles, so their periodic work is made rarer (by default the
#: event loop's tick every 20 ms, the nannies' memory checks every 100 ms and the
#: workers' profiler every 10 ms cost about a tenth of a core while the tiles run)
QUIET_CONFIG: dict[str, Any] = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing-interval": "1s",
}

#: seconds between checks that the cluster still has workers
_POLL_S = 1.0


def pin_local_workers(client: Any) -> bool:
    """Pin each worker process of a local cluster to its own core, when there are no
    more workers than cores this process may use (Linux; elsewhere nothing is done).
    Returns whether they were pinned.

    The client and the scheduler run in this process, on the same cores as the workers.
    Left free, the kernel's scheduler moves a worker to the other core when this
    process's threads wake, and the two workers then share one core for a while. On the
    2-core VM, two pinned workers took 2.04-2.17 s for the 10 km² synthetic tile pass
    against 2.21-2.41 s free (4 runs each, taking turns); one worker, pinned or not,
    3.1-3.6 s either way (BENCHMARKS.md).
    """
    if not (hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")):
        return False
    cpus = sorted(os.sched_getaffinity(0))
    # worker address -> pid; the order of the addresses gives each worker its core
    pids = [pid for _, pid in sorted(client.run(os.getpid).items())]
    if not pids or len(pids) > len(cpus):
        return False
    try:
        for pid, cpu in zip(pids, cpus, strict=False):
            os.sched_setaffinity(pid, {cpu})
    except OSError as exc:  # not allowed here (a container's policy): leave them free
        log.info("could not pin the local dask workers to cores: %s", exc)
        return False
    return True


def check_scheduler_address(address: str) -> str:
    """``tcp://HOST:PORT`` from ``tcp://HOST:PORT`` or ``HOST:PORT``, else InputError."""
    m = _ADDRESS.match(address.strip())
    if m is None or not (0 < int(m["port"]) < 65536):
        raise InputError(
            f"--scheduler: {address!r} is not a dask scheduler address; give tcp://HOST:PORT "
            "(e.g. tcp://127.0.0.1:8786)"
        )
    return f"tcp://{m['host']}:{int(m['port'])}"


def connect(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address`` with at least one worker.

    Raises
    ------
    ClusterError
        When the scheduler does not answer, or has no worker, within ``timeout_s``.
    """
    from distributed import Client

    addr = check_scheduler_address(address)
    try:
        client = Client(addr, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"dask scheduler {addr} did not answer within {timeout_s:g} s; is `dask scheduler` "
            f"running there and reachable? ({exc})"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except (OSError, TimeoutError):
        client.close()
        raise ClusterError(
            f"dask scheduler {addr} has no worker after {timeout_s:g} s; start some with "
            f"`dask worker {addr}`"
        ) from None
    return client


@contextmanager
def open_runner(
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    timeout_s: float = CONNECT_TIMEOUT_S,
) -> Iterator[TileRunner]:
    """The runner for the options (see the module notes); dask resources are closed after.

    Raises
    ------
    InputError
        Both ``scheduler`` and ``workers``, or ``workers < 1``.
    ClusterError
        A scheduler that does not answer, or a local cluster that does not start.
    """
    if scheduler is not None and workers is not None:
        raise InputError(
            "give --scheduler (an existing dask cluster) or --workers (a local one), not both"
        )
    if workers is not None and workers < 1:
        raise InputError(f"--workers: {workers} is not allowed; give 1 or more worker processes")
    if scheduler is None and workers is None:
        yield LocalRunner()
        return
    if scheduler is not None:
        client = connect(scheduler, timeout_s=timeout_s)
        n = len(client.scheduler_info().get("workers", {}))
        runner: DaskRunner | None = None
        try:
            runner = DaskRunner(
                client,
                f"dask cluster {client.scheduler.address} ({n} workers)",
                no_worker_timeout_s=timeout_s,
            )
            yield runner
        finally:
            if runner is not None:
                runner.finish()
            client.close()
        return
    import dask
    from distributed import Client, LocalCluster

    assert workers is not None
    # dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which freezes glibc's
    # mmap threshold: every large numpy temporary is then mapped and unmapped, and the
    # radio pass runs 2-3x slower. The workers here keep glibc's defaults.
    environ = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    environ = {k: v for k, v in environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ, **QUIET_CONFIG}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
    except Exception as exc:
        raise ClusterError(
            f"could not start a local dask cluster of {workers} workers: {exc}"
        ) from exc
    try:
        client = Client(cluster, set_as_default=False)
        try:
            client.wait_for_workers(workers, timeout=60)
            pinned = pin_local_workers(client)
            local = DaskRunner(
                client,
                f"local dask cluster ({workers} worker processes"
                + (", one core each)" if pinned else ")"),
                local=True,
            )
            try:
                yield local
            finally:
                local.finish()
        finally:
            client.close()
    finally:
        cluster.close()
