"""Two parts of a run's outputs at once: one in a forked child process, one here.

Writing outputs is mostly Python that holds the GIL: matplotlib's artists, and pyogrio's
and rasterio's writes hold it too. In two threads, the figures and the GeoPackage and
GeoTIFFs of the embedded city took as long as one after the other (2.1-2.2 s). A child
forked from this process shares the run's arrays (copy on write: nothing is pickled or
copied up front) and runs on another core.

:func:`run_alongside` is the only entry point. Where ``fork`` is not safe or not there
(Windows; macOS, whose system libraries do not support forking a process with threads),
or with ``TWIN_OUTPUT_FORK=0``, the child's part runs here after this process's part,
with the same results.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TypeVar

from twin.errors import OutputError

__all__ = ["fork_available", "run_alongside"]

T = TypeVar("T")


def fork_available() -> bool:
    """Whether :func:`run_alongside` forks (Linux and the like, unless
    ``TWIN_OUTPUT_FORK=0``)."""
    if os.environ.get("TWIN_OUTPUT_FORK", "1").strip() == "0":
        return False
    if sys.platform in ("win32", "darwin"):
        return False
    return "fork" in multiprocessing.get_all_start_methods()


def _child_main(work: Callable[[], None], conn: Connection) -> None:
    """Run ``work``; send ``("ok", None)`` or ``("error", text)``; leave at once.

    ``os._exit``: the child runs none of the parent's exit handlers or finalizers (a
    temporary folder, a dask cluster, the progress bar), which belong to the parent.
    """
    code = 0
    try:
        work()
        message: tuple[str, str | None] = ("ok", None)
    except BaseException as exc:  # reported to the parent, which raises
        message = ("error", f"{type(exc).__name__}: {exc}")
        code = 1
    try:
        conn.send(message)
        conn.close()
    finally:
        os._exit(code)


def run_alongside(child: Callable[[], None], here: Callable[[], T], *, what: str) -> T:
    """Run ``child`` in a forked process while ``here`` runs in this one.

    Parameters
    ----------
    child
        Work whose only effects are files (its return value and changes to objects are
        lost with the child process).
    here
        Work of this process; its result is returned.
    what
        What ``child`` writes, for the error message.

    Raises
    ------
    OutputError
        When ``child`` raised (its exception's type and message) or its process died
        (its exit code). What ``here`` raises is raised as it is, once the child has been
        stopped.
    """
    if not fork_available():
        result = here()
        child()
        return result
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(child, send), name=f"twin: {what}", daemon=True)
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a process with threads may deadlock the child.
        # The threads here (numba's pool, idle between kernels; the progress bar's
        # monitor) hold no lock that the child's work takes: it only draws and writes
        # files, and logging's locks are reset in a forked child.
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    send.close()
    try:
        result = here()
    except BaseException:
        proc.terminate()
        proc.join()
        receive.close()
        raise
    try:
        status, text = receive.recv()
    except EOFError:  # died before a word (killed, out of memory)
        status, text = "died", None
    finally:
        receive.close()
    proc.join()
    if status != "ok" or proc.exitcode != 0:
        detail = text or f"its process ended with exit code {proc.exitcode}"
        raise OutputError(f"writing {what} failed: {detail}")
    return result
