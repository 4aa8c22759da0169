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

The same folder carries the receivers of the tiles and their results: the grid's arrays
are written once (:func:`share_receivers`) and a task travels as its receivers' indices
(:class:`MappedTask`); each tile writes its rows of the per-band results into files
that this process made (:class:`SharedResults`) and sends back only its LoS. So the
80 MB of receivers and results of a 10 km² city do not pass through the sockets of the
client and the scheduler (this process), which shares the cores with the workers.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from twin.radio.network import Serving
from twin.tiles import TileOutput, TileTask, TileTasks
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


# --------------------------------------------------------------------------------------
# the receivers of the tiles and their results, shared the same way
# --------------------------------------------------------------------------------------

#: the receiver arrays of a run's grid that its tiles read (``grid_<name>.npy``)
RECEIVER_FIELDS = ("x_m", "y_m", "rx_height_m", "indoor", "building_id")
#: the per-band results a tile writes (``<band>_<name>.npy``) and their types
SERVING_FIELDS: dict[str, Any] = {
    "cell": np.int32,
    "rsrp_dbm": np.float64,
    "path_loss_db": np.float64,
    "d2d_m": np.float64,
    "los": np.bool_,
    "interference_mw": np.float64,
}


def shared_bytes(n_receivers: int, n_bands: int) -> int:
    """Bytes of the receiver and result files of a run (:func:`share_receivers`,
    :meth:`SharedResults.create`)."""
    per_rx = 8 + 8 + 8 + 1 + 8  # x, y, height, indoor, building id
    per_band = sum(np.dtype(t).itemsize for t in SERVING_FIELDS.values())
    return n_receivers * (per_rx + n_bands * per_band)


def share_receivers(tasks: TileTasks, folder: Path) -> list[MappedTask]:
    """Write the grid's receiver arrays into ``folder`` once and return the tasks as
    :class:`MappedTask`: each pickles as the folder, its receivers' indices (int32) and
    its known LoS, a tenth of the bytes of a :class:`TileTask` to send."""
    grid = tasks.grid
    for name in RECEIVER_FIELDS:
        np.save(folder / f"grid_{name}.npy", np.ascontiguousarray(getattr(grid, name)))
    out = []
    for i in range(len(tasks)):
        index = tasks.receivers(i)
        out.append(MappedTask(str(folder), index.astype(np.int32), tasks.known_rows(index)))
    return out


@dataclass(frozen=True, eq=False)
class MappedTask:
    """A tile's task whose receivers are read from the files of ``folder`` by the worker
    (:meth:`open`; :func:`share_receivers`). It pickles as it is: dask's scheduler
    unpickles every task's arguments, and must not read the receivers itself."""

    folder: str
    index: np.ndarray
    known_los: np.ndarray | None

    def open(self) -> TileTask:
        """The :class:`TileTask` of these receivers of the grid shared in ``folder``."""
        idx = np.asarray(self.index, dtype=np.int64)
        arrays = {
            name: worker_map(self.folder, f"grid_{name}", "r")[idx] for name in RECEIVER_FIELDS
        }
        return TileTask(index=idx, known_los=self.known_los, **arrays)


class SharedResults:
    """The per-band results of a run in files of ``folder`` that each tile writes its rows
    into (:meth:`write`, on the worker) and this process reads back (:meth:`read`): the
    results do not travel through the scheduler's and client's sockets. It pickles as
    the folder, the band labels and the number of receivers; each process maps the files
    once."""

    def __init__(self, folder: str, labels: Sequence[str], n: int) -> None:
        self.folder = folder
        self.labels = tuple(labels)
        self.n = n
        self._mapped: dict[tuple[str, str, str], np.ndarray] = {}

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (SharedResults, (self.folder, self.labels, self.n))

    @classmethod
    def create(cls, folder: Path, labels: Sequence[str], n: int) -> SharedResults:
        """Make the (empty) result files of ``n`` receivers for the bands ``labels``."""
        for label in labels:
            for name, dtype in SERVING_FIELDS.items():
                np.lib.format.open_memmap(
                    folder / f"{label}_{name}.npy", mode="w+", dtype=dtype, shape=(n,)
                ).flush()
        return cls(str(folder), labels, n)

    def _array(self, label: str, name: str, mode: Literal["r", "r+"]) -> np.ndarray:
        key = (label, name, mode)
        if key not in self._mapped:
            self._mapped[key] = _map_file(self.folder, f"{label}_{name}", mode)
        return self._mapped[key]

    def write(self, out: TileOutput) -> TileOutput:
        """Write a tile's results into the files (on a worker; :func:`worker_map`);
        ``out`` without them (to send back)."""
        for label, serving in out.serving.items():
            for name in SERVING_FIELDS:
                worker_map(self.folder, f"{label}_{name}", "r+")[out.index] = getattr(serving, name)
        return replace(out, serving={})

    def read(self, out: TileOutput) -> TileOutput:
        """``out`` with its results read back from the files (after :meth:`write`)."""
        serving = {
            label: Serving(
                **{name: self._array(label, name, "r")[out.index] for name in SERVING_FIELDS}
            )
            for label in self.labels
        }
        return replace(out, serving=serving)


#: this process's maps of the files of one shared folder (a worker's, for its tiles)
_WORKER_MAPS: dict[tuple[str, str, str], np.ndarray] = {}


def worker_map(folder: str, name: str, mode: Literal["r", "r+"]) -> np.ndarray:
    """The array ``name`` of the shared ``folder`` mapped in this process, once per run:
    a worker runs many tiles of a run, and mapping 20 files for each cost 5-10 ms. The
    maps of an earlier folder (an earlier run) are dropped when a new one is asked for."""
    key = (folder, name, mode)
    arr = _WORKER_MAPS.get(key)
    if arr is None:
        if any(k[0] != folder for k in _WORKER_MAPS):
            _WORKER_MAPS.clear()
        arr = _map_file(folder, name, mode)
        _WORKER_MAPS[key] = arr
    return arr


def forget_worker_maps() -> int:
    """Drop this process's maps of shared folders (run on the workers when a run ends,
    so that an idle worker does not keep the run's files in memory); how many it had."""
    n = len(_WORKER_MAPS)
    _WORKER_MAPS.clear()
    return n


def _map_file(folder: str, name: str, mode: Literal["r", "r+"]) -> np.ndarray:
    """The array ``name`` of the shared ``folder`` as a plain array over its mapping (a
    memmap's indexing is slower)."""
    _check_folder(folder)
    return np.asarray(np.load(os.path.join(folder, f"{name}.npy"), mmap_mode=mode))


def _check_folder(folder: str) -> None:
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"shared folder {folder} of a run is not on this machine: a dask worker that "
            "joined after the run checked its workers, on another machine, cannot map it; "
            "run again (each worker on another machine then gets copies)"
        )
