"""Arrays kept in files instead of in memory (out of core), for a city's grid, raster
and results.

A :class:`MemoryBudget` (what ``twin run`` uses) keeps them in memory while they fit a
budget (by default a quarter of the memory available: :func:`available_memory_bytes`) and in
files of a :class:`ScratchFolder` past it.

A :class:`ScratchFolder` makes each array as a shared memory map of a file of its own in
the folder, deleted as soon as made: the array lives as long as the map does, nothing
is left in the folder (even if the run is killed), and the kernel writes its pages to
the disk and drops them from memory whenever memory runs short, as it does with any
file it caches. An array in memory has no such way out without swap.

The file's blocks are reserved when the array is made (``posix_fallocate``, Linux and
the BSDs), so a full disk is a clear error then, not a crash (``SIGBUS``) when a page is
written later.
The folder must be on a disk: on a memory file system (``tmpfs``, ``/dev/shm``) the
files are memory themselves and nothing is saved; on Linux a :class:`ScratchFolder` on
one says so in a warning (:func:`filesystem_type`).
"""

from __future__ import annotations

import logging
import mmap
import os
import re
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from twin.errors import InputError

log = logging.getLogger(__name__)

#: what a scratch folder must be, in the errors
_USE = "an existing, writable folder on a disk"
#: file systems whose files are memory
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "hugetlbfs"})
_MOUNTINFO = Path("/proc/self/mountinfo")


def filesystem_type(path: str | os.PathLike[str], mountinfo: Path = _MOUNTINFO) -> str | None:
    """The type of the file system holding ``path`` (``ext4``, ``tmpfs`` ...), from the
    longest mount point above it in ``mountinfo`` (Linux's ``/proc/self/mountinfo``);
    None where there is no such file."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, kind = "", None
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        # field 5 is the mount point (octal escapes for spaces), the type follows "-"
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[fields.index("-") + 1]
    return kind


def _reserve(fd: int, size: int) -> None:
    """Give the file ``size`` bytes, its blocks reserved where the system can
    (``posix_fallocate``; elsewhere, macOS and Windows, only its length is set)."""
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
    else:
        os.ftruncate(fd, size)


class ScratchFolder:
    """Makes arrays backed by files in ``folder`` (:meth:`array`).

    ``name`` is what the errors and warnings call the folder: the option it came from
    (``--scratch``, the default) or, for the folder a :class:`MemoryBudget` picked
    itself, where it found it.

    Raises
    ------
    InputError
        When ``folder`` is not an existing, writable folder.
    """

    #: a cache hit's arrays are copied into the folder
    moves_cache_hits = True

    def __init__(self, folder: str | os.PathLike[str], *, name: str = "--scratch") -> None:
        path = Path(folder)
        self.name = name
        if not path.is_dir():
            raise InputError(f"{name} {folder}: not a folder; give {_USE}")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"{name} {folder}: not writable; give {_USE}")
        self.folder = path
        #: bytes of the arrays made so far
        self.bytes_made = 0
        kind = filesystem_type(path)
        if kind in MEMORY_FILESYSTEMS:
            log.warning(
                "%s %s is on %s, whose files are memory: the arrays take as much "
                "memory as without it; give a folder on a disk (for example /var/tmp)",
                name,
                folder,
                kind,
            )

    def array(self, n: int, dtype: npt.DTypeLike, fill: Any) -> np.ndarray:
        """A new (n,) array of ``dtype`` set to ``fill``, backed by a file of the folder.

        Raises
        ------
        InputError
            When the file's blocks cannot be reserved (a full disk, a file size limit).
        """
        dt = np.dtype(dtype)
        size = int(n) * dt.itemsize
        if size == 0:
            return np.full(n, fill, dtype=dt)
        # a file with no name in the folder (POSIX), or deleted once closed (Windows):
        # the map keeps it, the folder does not
        with tempfile.TemporaryFile(prefix=".twin-scratch-", dir=self.folder) as fh:
            try:
                _reserve(fh.fileno(), size)
            except OSError as exc:
                raise InputError(
                    f"{self.name} {self.folder}: cannot reserve {size / 2**20:.1f} MiB for "
                    f"a result array ({exc.strerror}); free some space or give another "
                    "folder (--scratch)"
                ) from exc
            buffer = mmap.mmap(fh.fileno(), size)  # shared: the pages go to the file
        out = np.frombuffer(buffer, dtype=dt, count=n)
        if np.any(np.asarray(fill, dtype=dt) != 0):  # a new file reads as zeros
            out.fill(fill)
        self.bytes_made += size
        return out


#: share of the memory available when a study makes its first city-sized array that
#: :class:`MemoryBudget` keeps in memory by default (the rest of it is left to the city
#: model, the tiles' working sets and the outputs)
DEFAULT_BUDGET_SHARE = 0.25
_MEMINFO = Path("/proc/meminfo")
_SELF_CGROUP = Path("/proc/self/cgroup")
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def _stat_value(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == key and fields[1].isdigit():
                return int(fields[1])
    except OSError:
        return None
    return None


def _cgroup_available(self_cgroup: Path, root: Path) -> int | None:
    """Bytes the process's memory cgroup (v2, or v1's ``memory`` controller) can still
    take before its tightest limit: the limit less the usage, with the inactive page
    cache counted as free (the kernel takes it back first); None without a limit."""
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        return None
    best: int | None = None
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, rel = fields
        rel = rel.lstrip("/")
        if controllers == "":  # v2: the limits of the group and of every group above it
            group = root / rel
            while True:
                limit = _read_int(group / "memory.max")
                used = _read_int(group / "memory.current")
                if limit is not None and used is not None:
                    free = _stat_value(group / "memory.stat", "inactive_file") or 0
                    left = limit - used + free
                    best = left if best is None else min(best, left)
                if group == root or root not in group.parents:
                    break
                group = group.parent
        elif "memory" in controllers.split(","):  # v1: the hierarchy's limit in its stat
            group = root / "memory" / rel
            stat = group / "memory.stat"
            limit = _stat_value(stat, "hierarchical_memory_limit")
            used = _read_int(group / "memory.usage_in_bytes")
            if limit is not None and used is not None and limit < 1 << 60:
                left = limit - used + (_stat_value(stat, "total_inactive_file") or 0)
                best = left if best is None else min(best, left)
    return best


def available_memory_bytes(
    meminfo: Path = _MEMINFO, self_cgroup: Path = _SELF_CGROUP, cgroup_root: Path = _CGROUP_ROOT
) -> int | None:
    """Bytes of memory this process can still use without swapping: the system's
    ``MemAvailable`` (Linux's ``/proc/meminfo``), or less where the process's memory
    cgroup limits it (a container, a systemd slice, a batch job); None where neither
    can be read (not Linux)."""
    system = _stat_value(meminfo, "MemAvailable:")
    system = system * 1024 if system is not None else None  # kB
    group = _cgroup_available(self_cgroup, cgroup_root)
    known = [max(0, v) for v in (system, group) if v is not None]
    return min(known) if known else None


def default_scratch_dir() -> Path | None:
    """Where arrays go that do not fit a :class:`MemoryBudget` when no folder is given:
    ``$TWIN_SCRATCH_DIR``, else ``/var/tmp`` (on a disk on Debian and most Linux
    systems, where ``/tmp`` may be ``tmpfs``), else the temporary folder; the first that
    is a writable folder not in memory (None: none is)."""
    candidates = [os.environ.get("TWIN_SCRATCH_DIR"), "/var/tmp", tempfile.gettempdir()]
    for c in candidates:
        if c and os.path.isdir(c) and os.access(c, os.W_OK | os.X_OK):
            if filesystem_type(c) not in MEMORY_FILESYSTEMS:
                return Path(c)
    return None


def _mib_text(n_bytes: int) -> str:
    mib = n_bytes / 2**20
    return f"{mib:.0f} MiB" if mib >= 10 else f"{mib:.3g} MiB"


class MemoryBudget:
    """Makes a study's city-sized arrays in memory while they fit ``budget_bytes``, and
    in files of a :class:`ScratchFolder` past it (:meth:`array`): a city too large for
    the memory runs out of core instead of being killed, and one that fits runs as
    before.

    The budget counts the arrays it made in memory that are still alive (an array's
    bytes come back when it is freed). ``budget_bytes`` None: ``share`` (a quarter) of
    the memory available (:func:`available_memory_bytes`) when the first array is made,
    after the city is loaded; the rest is left to the tiles' working sets, the outputs
    and the page cache, which the arrays in files need to be fast (under a 600 MiB
    cgroup, a 160 km² study took 128 s with half as its budget, 53 s with a quarter).
    ``folder`` None: :func:`default_scratch_dir`, made only when an array does not
    fit; where there is none, the arrays stay in memory (a warning says so).

    Raises
    ------
    InputError
        When ``budget_bytes`` is negative or ``folder`` is not a writable folder.
    """

    #: a cache hit's arrays (mapped from the cache's file) are kept as they are
    moves_cache_hits = False

    def __init__(
        self,
        budget_bytes: int | None = None,
        folder: str | os.PathLike[str] | None = None,
        *,
        share: float = DEFAULT_BUDGET_SHARE,
    ) -> None:
        if budget_bytes is not None and budget_bytes < 0:
            raise InputError(
                f"--memory-budget: {budget_bytes / 2**20:g} MiB is not allowed; give 0 MiB "
                "(everything in files) or more"
            )
        self.budget_bytes = budget_bytes
        self.share = share
        self._folder: ScratchFolder | None = ScratchFolder(folder) if folder is not None else None
        self._no_folder = False
        # reentrant: an array freed by the garbage collector while the lock is held
        # gives its bytes back from the same thread
        self._lock = threading.RLock()
        #: bytes of the arrays made in memory and still alive, and their most
        self.live_bytes = 0
        self.peak_live_bytes = 0
        #: bytes of the arrays made in memory so far, and in files
        self.bytes_in_memory = 0
        self.bytes_in_files = 0

    @property
    def folder(self) -> ScratchFolder | None:
        """Where the arrays past the budget went (None: none has yet)."""
        return self._folder

    def _budget(self) -> int:
        if self.budget_bytes is None:
            free = available_memory_bytes()
            self.budget_bytes = int(free * self.share) if free is not None else 1 << 62
            log.info(
                "city-sized arrays in memory up to %s (%.0f%% of the %s), then in files",
                _mib_text(self.budget_bytes),
                100 * self.share,
                "memory available" if free is not None else "unknown memory: no limit",
            )
        return self.budget_bytes

    def _spill_folder(self) -> ScratchFolder | None:
        if self._folder is None and not self._no_folder:
            where = default_scratch_dir()
            if where is None:
                self._no_folder = True
                log.warning(
                    "city-sized arrays past the memory budget stay in memory: no writable "
                    "folder on a disk ($TWIN_SCRATCH_DIR, /var/tmp, %s); give --scratch",
                    tempfile.gettempdir(),
                )
            else:
                # named in errors by where it came from, not by an option not given
                env = os.environ.get("TWIN_SCRATCH_DIR")
                origin = "$TWIN_SCRATCH_DIR" if env and Path(env) == where else "default"
                self._folder = ScratchFolder(where, name=f"the memory budget's folder ({origin})")
        if self._folder is not None and self.bytes_in_files == 0:
            log.info(
                "city-sized arrays past the memory budget (%s) go to files in %s",
                _mib_text(self.budget_bytes or 0),
                self._folder.folder,
            )
        return self._folder

    def _take(self, size: int) -> None:
        self.live_bytes += size
        self.peak_live_bytes = max(self.peak_live_bytes, self.live_bytes)
        self.bytes_in_memory += size

    def _release(self, size: int) -> None:
        with self._lock:
            self.live_bytes -= size

    def array(self, n: int, dtype: npt.DTypeLike, fill: Any) -> np.ndarray:
        """A new (n,) array of ``dtype`` set to ``fill``: in memory if it fits the
        budget, else in a file (:meth:`ScratchFolder.array`)."""
        size = int(n) * np.dtype(dtype).itemsize
        with self._lock:
            fits = self.live_bytes + size <= self._budget()
            if fits:
                self._take(size)
        if not fits:
            folder = self._spill_folder()
            if folder is not None:
                out = folder.array(n, dtype, fill)
                with self._lock:
                    self.bytes_in_files += size
                return out
            with self._lock:
                self._take(size)
        try:
            out = np.full(n, fill, dtype=dtype)
        except BaseException:
            self._release(size)
            raise
        weakref.finalize(out, self._release, size)
        return out
