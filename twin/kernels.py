"""The compiled kernels: compiled in helper processes while the city loads (orchestration).

numba compiles the visibility and radio kernels on their first call and caches them on
disk (next to the modules, or in ``$NUMBA_CACHE_DIR`` / the user cache folder). On a new
machine, or after an upgrade, that first call costs about 19 s of one core on the 2-core
VM, which a run used to spend after loading the city, on the same core.
:func:`start_warm_up` starts two helper processes, one per :data:`PARTS` (the LoS walk;
the raster and radio kernels: 9-10 s each there), that compile them into the cache
(:func:`warm_up`) while this process parses the city; the study then waits for them
(:meth:`WarmUp.wait`) before its first compiled call and loads the kernels from the
cache.

Nothing is started when the cache already holds the kernels (the usual case), and the
helpers change no result: a run whose helper failed or was slow compiles what is missing
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


#: the kernels in two groups of about equal compile time, one helper process each: the
#: LoS walks (:func:`twin.visibility.fast.compile_walk`, compiled without running it, and
#: the terrain's, :func:`twin.visibility.ground.warm_up`) and the rest (the raster of
#: :func:`twin.visibility.fast.build_fast_raster`, the radio)
PARTS = ("walk", "raster-radio")


def warm_up(part: str | None = None) -> None:
    """Compile (or load) every kernel a study calls, or those of one of :data:`PARTS`:
    tiny queries of each engine, and the walk by its argument types."""
    if part is not None and part not in PARTS:
        raise ValueError(f"part: {part!r} is not one of {', '.join(PARTS)}")
    from twin.propagation.shadowing import warm_up as warm_up_field
    from twin.radio.compiled import warm_up as warm_up_radio
    from twin.visibility.fast import compile_walk, warm_up_raster
    from twin.visibility.ground import warm_up as warm_up_terrain

    if part in (None, "walk"):
        compile_walk()
        warm_up_terrain()
    if part in (None, "raster-radio"):
        warm_up_raster()
        warm_up_radio()
        warm_up_field()


def _dispatchers() -> list[Any]:
    """The largest kernels of each compiled module: a cache without them is cold."""
    from twin.radio.compiled import _serve_kernel
    from twin.visibility.fast import _fast_kernel
    from twin.visibility.ground import _before_own_kernel

    return [_fast_kernel, _serve_kernel, _before_own_kernel]


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
    """Helper processes compiling the kernels (:func:`start_warm_up`)."""

    processes: list[subprocess.Popen[bytes]]
    started_s: float

    def wait(self, timeout_s: float = WAIT_LIMIT_S) -> bool:
        """Wait until the helpers have ended (at most ``timeout_s`` in all); True when
        they all compiled their kernels. Helpers still running after the limit are
        stopped."""
        deadline = time.perf_counter() + timeout_s
        ok = True
        for process in self.processes:
            try:
                code = process.wait(timeout=max(deadline - time.perf_counter(), 0.0))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                log.warning("kernel compilation helper took over %g s; compiling here", timeout_s)
                ok = False
                continue
            if code != 0:
                log.warning("kernel compilation helper failed (exit %s); compiling here", code)
                ok = False
        if ok:
            waited = time.perf_counter() - self.started_s
            log.info("kernels compiled by the helper processes (%.1f s after they started)", waited)
        return ok


def start_warm_up() -> WarmUp | None:
    """Start compiling the kernels in helper processes (one per :data:`PARTS`) when
    numba's cache lacks them; None when it has them (or no helper can start)."""
    if kernels_cached():
        return None
    processes: list[subprocess.Popen[bytes]] = []
    for part in PARTS:
        try:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", f"from twin.kernels import warm_up; warm_up({part!r})"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        except OSError as exc:
            log.info("no kernel compilation helper for %s (%s); the run compiles it", part, exc)
    if not processes:
        return None
    log.info("compiling the kernels in %d helper processes while the city loads", len(processes))
    return WarmUp(processes=processes, started_s=time.perf_counter())
