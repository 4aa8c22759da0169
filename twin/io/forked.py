"""Parts of a run's outputs written by two processes: this one and a forked child.

Writing outputs is mostly Python that holds the GIL: matplotlib's artists, and pyogrio's
and rasterio's writes hold it too. In two threads, the figures and the GeoPackage and
GeoTIFFs of the embedded city took as long as one after the other (2.1-2.2 s). A child
forked from this process shares the run's arrays (copy on write: nothing is pickled or
copied up front) and runs on another core.

:func:`share_work` is the only entry point: this process first does its own part, the
child starts on the shared tasks at once, and each process takes the next shared task
when it is free (a counter in shared memory), so the two finish close together whether
the figures (on a small city) or the tables (on a large one) take longer. Where ``fork``
is not safe or not there (Windows; macOS, whose system libraries do not support forking
a process with threads), or with ``TWIN_OUTPUT_FORK=0``, this process does everything,
its own part first and then the shared tasks in order, with the same results.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from twin.errors import OutputError

__all__ = ["fork_available", "share_work"]

T = TypeVar("T")


def fork_available() -> bool:
    """Whether :func:`share_work` forks (Linux and the like, unless
    ``TWIN_OUTPUT_FORK=0``, and not from a daemonic process such as a worker of a
    process pool or of dask's nanny, which may not have children)."""
    if os.environ.get("TWIN_OUTPUT_FORK", "1").strip() == "0":
        return False
    if sys.platform in ("win32", "darwin"):
        return False
    if multiprocessing.current_process().daemon:
        return False
    return "fork" in multiprocessing.get_all_start_methods()


def _take_tasks(tasks: Sequence[Callable[[], object]], counter: Any) -> None:
    """Run the next task nobody took until none is left."""
    while True:
        with counter.get_lock():
            k = int(counter.value)
            counter.value = k + 1
        if k >= len(tasks):
            return
        tasks[k]()


def _child_main(tasks: Sequence[Callable[[], object]], counter: Any, conn: Connection) -> None:
    """Take tasks; send ``("ok", None)`` or ``("error", text)``; leave at once.

    ``os._exit``: the child runs none of the parent's exit handlers or finalizers (a
    temporary folder, a dask cluster, the progress bar), which belong to the parent.
    """
    code = 0
    try:
        _take_tasks(tasks, counter)
        message: tuple[str, str | None] = ("ok", None)
    except BaseException as exc:  # reported to the parent, which raises
        message = ("error", f"{type(exc).__name__}: {exc}")
        code = 1
    try:
        conn.send(message)
        conn.close()
    finally:
        os._exit(code)


def share_work(tasks: Sequence[Callable[[], object]], first: Callable[[], T], *, what: str) -> T:
    """Run ``first`` here, and ``tasks`` in whichever of this process and a forked child
    is free first; return what ``first`` returns once every task is done.

    Parameters
    ----------
    tasks
        Work whose only effects are files: one run in the child loses its return value
        and its changes to objects. Each runs exactly once.
    first
        Work of this process, before it takes shared tasks.
    what
        What ``tasks`` write, for the error message.

    Raises
    ------
    OutputError
        When a task in the child raised (its exception's type and message) or the child
        died (its exit code). What ``first`` or a task here raises is raised as it is,
        once the child has been stopped.
    """
    if not fork_available():
        result = first()
        for task in tasks:
            task()
        return result
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)  # the next task to take, shared with the child
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child_main, args=(tasks, counter, send), name=f"twin: {what}", daemon=True
    )
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a process with threads may deadlock the child.
        # The threads here (numba's pool, idle between kernels; the progress bar's
        # monitor) hold no lock that the child's work takes: it only draws and writes
        # files, and logging's locks are reset in a forked child.
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    send.close()
    try:
        result = first()
        _take_tasks(tasks, counter)
    except BaseException:
        proc.terminate()
        proc.join()
        receive.close()
        raise
    try:
        status, text = receive.recv()
    except EOFError:  # died before a word (killed, out of memory)
        status, text = "died", None
    except BaseException:  # Ctrl-C while waiting: the child writes no more
        proc.terminate()
        proc.join()
        raise
    finally:
        receive.close()
    proc.join()
    if status != "ok" or proc.exitcode != 0:
        detail = text or f"its process ended with exit code {proc.exitcode}"
        raise OutputError(f"writing {what} failed: {detail}")
    return result
