"""Arrays kept in files instead of in memory (out of core), for a city's grid, raster
and results.

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
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from twin.errors import InputError

log = logging.getLogger(__name__)

#: what ``--scratch`` is for, in the errors
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

    Raises
    ------
    InputError
        When ``folder`` is not an existing, writable folder.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        path = Path(folder)
        if not path.is_dir():
            raise InputError(f"--scratch {folder}: not a folder; give {_USE}")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"--scratch {folder}: not writable; give {_USE}")
        self.folder = path
        #: bytes of the arrays made so far
        self.bytes_made = 0
        kind = filesystem_type(path)
        if kind in MEMORY_FILESYSTEMS:
            log.warning(
                "--scratch %s is on %s, whose files are memory: the arrays take as much "
                "memory as without it; give a folder on a disk (for example /var/tmp)",
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
                    f"--scratch {self.folder}: cannot reserve {size / 2**20:.1f} MiB for a "
                    f"result array ({exc.strerror}); free some space or give another folder"
                ) from exc
            buffer = mmap.mmap(fh.fileno(), size)  # shared: the pages go to the file
        out = np.frombuffer(buffer, dtype=dt, count=n)
        if np.any(np.asarray(fill, dtype=dt) != 0):  # a new file reads as zeros
            out.fill(fill)
        self.bytes_made += size
        return out
