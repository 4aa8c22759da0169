"""The compiled kernels: compiled in a helper process while the city loads (orchestration).

numba compiles the visibility and radio kernels on their first call and caches them on
disk (next to the modules, or in ``$NUMBA_CACHE_DIR`` / the user cache folder). On a new
machine, or after an upgrade, that first call costs about 20 s of one core, which a run
used to spend after loading the city, on the same core. :func:`start_warm_up` starts a
helper process that compiles them into the cache (:func:`warm_up`) while this process
parses the city on the other core; the study then waits for it (:meth:`WarmUp.wait`)
before its first compiled call and loads the kernels from the cache.

Nothing is started when the cache already holds the kernels (the usual case), and the
helper changes no result: a run whose helper failed or was slow compiles the kernels
itself, as before.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: the longest a run waits for the helper before it compiles the kernels itself, seconds
WAIT_LIMIT_S = 180.0


def warm_up() -> None:
    """Compile (or load) every kernel a study calls, with tiny queries of each engine."""
    from twin.radio.compiled import warm_up as warm_up_radio
    from twin.visibility.fast import warm_up as warm_up_visibility

    warm_up_visibility()
    warm_up_radio()


def _dispatchers() -> list[Any]:
    """The largest kernels of each compiled module: a cache without them is cold."""
    from twin.radio.compiled import _serve_kernel
    from twin.visibility.fast import _fast_kernel

    return [_fast_kernel, _serve_kernel]


def kernels_cached() -> bool:
    """Whether numba's cache holds the kernels for this code and machine.

    Reads each dispatcher's cache index (which numba empties when the module's source
    changed); when that cannot be read (another numba), says True, so that nothing is
    started.
    """
    try:
        return all(bool(d._cache._cache_file._load_index()) for d in _dispatchers())
    except Exception:  # an internal of numba that moved: assume warm, start nothing
        return True


@dataclass
class WarmUp:
    """A helper process compiling the kernels (:func:`start_warm_up`)."""

    process: subprocess.Popen[bytes]
    started_s: float

    def wait(self, timeout_s: float = WAIT_LIMIT_S) -> bool:
        """Wait until the helper has ended (at most ``timeout_s``); True when it
        compiled the kernels. A helper still running after the limit is stopped."""
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            log.warning("kernel compilation helper took over %g s; compiling here", timeout_s)
            return False
        waited = time.perf_counter() - self.started_s
        if code != 0:
            log.warning("kernel compilation helper failed (exit %s); compiling here", code)
            return False
        log.info("kernels compiled by the helper process (%.1f s after it started)", waited)
        return True


def start_warm_up() -> WarmUp | None:
    """Start compiling the kernels in a helper process when numba's cache lacks them;
    None when it has them (or the helper cannot start)."""
    if kernels_cached():
        return None
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", "from twin.kernels import warm_up; warm_up()"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        log.info("no kernel compilation helper (%s); the run compiles them itself", exc)
        return None
    log.info("compiling the kernels in a helper process while the city loads")
    return WarmUp(process=process, started_s=time.perf_counter())
