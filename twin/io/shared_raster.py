"""The visibility raster shared through memory-mapped files by processes of one machine.

Dask workers on the machine of the client (``twin run --workers N``, or ``dask worker``
processes started on it) need not each receive a copy of the raster (about 5 bytes per
m² of city, 56 MB for 10 km²): :func:`shared_raster_dir` makes a temporary folder in
``/dev/shm`` (memory, not disk) or the system's temporary folder, :func:`share_raster`
writes the raster's arrays there once, and the :class:`MappedRaster` it returns pickles
as the folder's path. A worker that unpickles it maps the same files, so every worker
reads the same pages of memory: sending it costs nothing, and the workers share the
processor's cache as threads of one process would. :func:`folder_visible` tells a
worker that sees the folder (same machine) from one that does not.

The arrays are mapped copy-on-write (``mode="c"``): a process that wrote to them would
change its own copy of a page, never the file or the other processes' view.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from twin.visibility.fast import FastRaster

#: name of the file whose random content identifies a shared folder
_TOKEN = "token"
#: prefix of the shared folders' names
PREFIX = "twin-shared-"


@dataclass(frozen=True, eq=False)
class MappedRaster(FastRaster):
    """A :class:`FastRaster` whose arrays are mapped from the files of ``folder``; it
    pickles as the folder's path and its small fields (:func:`share_raster`)."""

    folder: str = ""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        small = {
            f.name: getattr(self, f.name)
            for f in fields(FastRaster)
            if not isinstance(getattr(self, f.name), np.ndarray)
        }
        return (open_raster, (self.folder, small))


def open_raster(folder: str, small: dict[str, Any]) -> MappedRaster:
    """The raster written by :func:`share_raster` in ``folder``, its arrays mapped.

    Raises
    ------
    FileNotFoundError
        The folder is not on this machine (a worker that joined the cluster from another
        machine after the run checked its workers), or the run that made it has ended.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"shared visibility raster {folder} is not on this machine: a dask worker that "
            "joined after the run checked its workers, on another machine, cannot map it; "
            "run again (each worker on another machine then gets a copy)"
        )
    arrays: dict[str, Any] = {
        name: np.asarray(np.load(os.path.join(folder, f"{name}.npy"), mmap_mode="c"))
        for name in (f.name for f in fields(FastRaster) if f.name not in small)
    }
    return MappedRaster(**small, **arrays, folder=folder)


def share_raster(raster: FastRaster, folder: Path) -> MappedRaster:
    """Write the arrays of ``raster`` into ``folder`` (one ``.npy`` file each) and return
    the raster mapped from them."""
    small: dict[str, Any] = {}
    for f in fields(FastRaster):
        value = getattr(raster, f.name)
        if isinstance(value, np.ndarray):
            np.save(folder / f"{f.name}.npy", np.ascontiguousarray(value))
        else:
            small[f.name] = value
    return open_raster(str(folder), small)


def _base_dir(need_bytes: int) -> str:
    """/dev/shm when it exists and has room for twice ``need_bytes``, else the system's
    temporary folder."""
    shm = "/dev/shm"
    try:
        if os.path.isdir(shm) and shutil.disk_usage(shm).free > 2 * need_bytes:
            return shm
    except OSError:
        pass
    return tempfile.gettempdir()


@contextmanager
def shared_raster_dir(need_bytes: int) -> Iterator[tuple[Path, str]]:
    """A new private folder for a shared raster of about ``need_bytes`` and its token
    (random text also written in the folder); the folder is removed on exit. Processes
    that mapped its files keep their mapping after the removal."""
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=_base_dir(need_bytes)))
    token = secrets.token_hex(16)
    try:
        (folder / _TOKEN).write_text(token)
        yield folder, token
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def folder_visible(folder: str, token: str) -> bool:
    """Whether this process sees the shared ``folder`` with its ``token`` (run on a
    worker: True on the machine that made it)."""
    try:
        return Path(folder, _TOKEN).read_text() == token
    except OSError:
        return False


def raster_nbytes(raster: FastRaster) -> int:
    """Bytes of the raster's arrays."""
    return sum(
        int(getattr(raster, f.name).nbytes)
        for f in fields(FastRaster)
        if isinstance(getattr(raster, f.name), np.ndarray)
    )
