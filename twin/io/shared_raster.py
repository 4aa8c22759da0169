"""The visibility raster shared through memory-mapped files by processes of one machine.

Dask workers on the machine of the client (``twin run --workers N``, or ``dask worker``
processes started on it) need not each receive a copy of the raster (5 bytes per cell,
15 MB for the 10 km² synthetic city with 2 m cells): :func:`shared_raster_dir` makes a
temporary folder in ``/dev/shm`` (memory, not disk) or the system's temporary folder,
:func:`share_raster` writes the raster's arrays there once, and the
:class:`MappedRaster` it returns pickles as the folder's path. A worker that unpickles
it maps the same files, so every worker reads the same pages of memory: sending it costs
nothing, and the workers share the processor's cache as threads of one process would.
:func:`folder_visible` tells a worker that sees the folder (same machine) from one that
does not.

The arrays are mapped copy-on-write (``mode="c"``): a process that wrote to them would
change its own copy of a page, never the file or the other processes' view.

The same folder carries the receivers of the tiles and their results: the grid's arrays
are written once, in the order of the tiles (:func:`share_receivers`), and a task
travels as its rows of those files (:class:`MappedTask`); each tile writes its block of
rows of the per-band results into files that this process made
(:class:`SharedResults`) and sends back only its LoS. So the
80 MB of receivers and results of a 10 km² city do not pass through the sockets of the
client and the scheduler (this process), which shares the cores with the workers. The
run's tile context is pickled there once as well (:class:`SharedContext`) and read by
each worker on its first tile, instead of being scattered to the workers first.
"""

from __future__ import annotations

import os
import pickle
import secrets
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from twin.radio.network import SERVING_STORE_DTYPES, Serving
from twin.tiles import IntArray, TileContext, TileOutput, TileTask, TileTasks
from twin.visibility.fast import FastRaster

#: name of the file whose random content identifies a shared folder
_TOKEN = "token"
#: name of the file of a run's pickled tile context (:class:`SharedContext`)
_CONTEXT = "context.pickle"
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


def shared_base_dir(need_bytes: int) -> str:
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
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=shared_base_dir(need_bytes)))
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
#: the grid's optional array of each indoor receiver's d_2D-in, shared when it has one
INDOOR_DISTANCE_FIELD = "indoor_distance_m"
#: the per-band results a tile writes (``<band>_<name>.npy``) and their types: those of
#: the study's whole-city store (float32 measurements)
SERVING_FIELDS: dict[str, Any] = SERVING_STORE_DTYPES


def shared_bytes(n_receivers: int, n_bands: int, *, indoor_distance: bool = False) -> int:
    """Bytes of the receiver and result files of a run (:func:`share_receivers`,
    :meth:`SharedResults.create`); ``indoor_distance``: the grid has its receivers'
    distances to the facade."""
    per_rx = 8 + 8 + 8 + 1 + 8  # x, y, height, indoor, building id
    if indoor_distance:
        per_rx += 8
    per_band = sum(np.dtype(t).itemsize for t in SERVING_FIELDS.values())
    return n_receivers * (per_rx + n_bands * per_band)


def share_receivers(tasks: TileTasks, folder: Path) -> tuple[list[MappedTask], IntArray]:
    """Write the grid's receiver arrays into ``folder`` once, in the order of the tiles
    (tile 0's receivers, then tile 1's, ...), and return the tasks as
    :class:`MappedTask` with that order (the grid index of each row of the files).

    A task pickles as the folder, its rows ``start:stop`` and its known LoS (a few dozen
    bytes, not the 41 per receiver of a :class:`TileTask`); a worker reads its receivers
    as one contiguous block of each file and writes its results the same way
    (:class:`SharedResults`), so the workers read and write disjoint blocks of memory.
    """
    grid = tasks.grid
    parts = [tasks.receivers(i) for i in range(len(tasks))]
    order = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)
    for name in RECEIVER_FIELDS:
        np.save(folder / f"grid_{name}.npy", getattr(grid, name)[order])
    if grid.indoor_distance_m is not None:
        np.save(folder / f"grid_{INDOOR_DISTANCE_FIELD}.npy", grid.indoor_distance_m[order])
    out = []
    start = 0
    for index in parts:
        stop = start + index.size
        out.append(MappedTask(str(folder), start, stop, tasks.known_rows(index)))
        start = stop
    return out, order


@dataclass(frozen=True, eq=False)
class MappedTask:
    """A tile's task whose receivers are the rows ``start:stop`` of the files of
    ``folder``, read by the worker (:meth:`open`; :func:`share_receivers`). It pickles
    as it is: dask's scheduler unpickles every task's arguments, and must not read the
    receivers itself."""

    folder: str
    start: int
    stop: int
    known_los: np.ndarray | None

    def open(self) -> TileTask:
        """The :class:`TileTask` of these receivers of the grid shared in ``folder``;
        its ``index`` is their rows of the files (:meth:`SharedResults.read` gives their
        grid indices back)."""
        arrays = {
            name: worker_file(self.folder, f"grid_{name}").read(self.start, self.stop)
            for name in RECEIVER_FIELDS
        }
        if (Path(self.folder) / f"grid_{INDOOR_DISTANCE_FIELD}.npy").exists():
            arrays[INDOOR_DISTANCE_FIELD] = worker_file(
                self.folder, f"grid_{INDOOR_DISTANCE_FIELD}"
            ).read(self.start, self.stop)
        index = np.arange(self.start, self.stop, dtype=np.int64)
        return TileTask(index=index, known_los=self.known_los, **arrays)


@dataclass(frozen=True, eq=False)
class SharedTileOutput:
    """What a tile sends back when its results are in the shared files: its rows of the
    files, its LoS and its timings (:meth:`SharedResults.write`)."""

    start: int
    stop: int
    site_cols: IntArray
    los_bits: npt.NDArray[np.uint8]
    visibility_s: float
    radio_s: float
    pairs: int


class SharedResults:
    """The per-band results of a run in files of ``folder`` that each tile writes its rows
    into (:meth:`write`, on the worker) and this process reads back (:meth:`read`): the
    results do not travel through the scheduler's and client's sockets. Their rows are
    in the order of the shared receivers (:func:`share_receivers`), so a tile writes one
    contiguous block of each file. It pickles as the folder, the band labels and the
    number of rows; each process maps the files once; ``order`` (the grid index of each
    row) stays in this process."""

    def __init__(
        self, folder: str, labels: Sequence[str], n: int, order: IntArray | None = None
    ) -> None:
        self.folder = folder
        self.labels = tuple(labels)
        self.n = n
        self.order = order
        self._files: dict[str, RowFile] = {}

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (SharedResults, (self.folder, self.labels, self.n))

    @classmethod
    def create(cls, folder: Path, labels: Sequence[str], order: IntArray) -> SharedResults:
        """Make the (empty) result files for the bands ``labels`` of the receivers
        ``order`` (the grid index of each row: :func:`share_receivers`)."""
        n = len(order)
        for label in labels:
            for name, dtype in SERVING_FIELDS.items():
                path = folder / f"{label}_{name}.npy"
                np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n,)).flush()
                _allocate(path)
        return cls(str(folder), labels, n, order)

    def close(self) -> None:
        """Close the files this process opened to read the results back."""
        for f in self._files.values():
            f.close()
        self._files.clear()

    def _file(self, label: str, name: str) -> RowFile:
        key = f"{label}_{name}"
        if key not in self._files:
            self._files[key] = RowFile(self.folder, key)
        return self._files[key]

    def write(self, out: TileOutput) -> SharedTileOutput:
        """Write a tile's results (of a :class:`MappedTask`: its ``index`` is its rows)
        into the files (on a worker; :func:`worker_file`); what is left to send back."""
        start = int(out.index[0]) if out.index.size else 0
        if out.index.size and int(out.index[-1]) - start + 1 != out.index.size:
            raise ValueError(
                f"{self.folder}: a tile's results go to a block of rows (a MappedTask's); "
                f"got receivers {start}..{int(out.index[-1])} for {out.index.size} rows"
            )
        for label, serving in out.serving.items():
            for name in SERVING_FIELDS:
                worker_file(self.folder, f"{label}_{name}", writable=True).write(
                    start, getattr(serving, name)
                )
        return SharedTileOutput(
            start=start,
            stop=start + out.index.size,
            site_cols=out.site_cols,
            los_bits=out.los_bits,
            visibility_s=out.visibility_s,
            radio_s=out.radio_s,
            pairs=out.pairs,
        )

    def read(self, sent: SharedTileOutput) -> TileOutput:
        """The tile's output, its receivers' grid indices and results read back (after
        :meth:`write`)."""
        if self.order is None:
            raise ValueError(f"{self.folder}: results read back where they were not made")
        a, b = sent.start, sent.stop
        serving = {
            label: Serving(**{name: self._file(label, name).read(a, b) for name in SERVING_FIELDS})
            for label in self.labels
        }
        return TileOutput(
            index=self.order[a:b],
            site_cols=sent.site_cols,
            los_bits=sent.los_bits,
            serving=serving,
            visibility_s=sent.visibility_s,
            radio_s=sent.radio_s,
            pairs=sent.pairs,
        )


def _allocate(path: Path) -> None:
    """Give the (sparse) file its memory now, in one call: on /dev/shm the pages are
    otherwise allocated and zeroed one by one as the workers first write each, a page
    fault each (0.03-0.16 s per worker and run on the 10 km² synthetic city, measured
    inside the tasks). Where the file system cannot, nothing is done."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except (OSError, AttributeError):  # not supported there (or not on this platform)
        pass
    finally:
        os.close(fd)


#: this process's maps of the files of one shared folder (a worker's, for its tiles),
#: and the run's context read from it
_WORKER_MAPS: dict[tuple[str, str, str], Any] = {}
_WORKER_LOCK = threading.Lock()


def _worker_cached(folder: str, name: str, mode: str, load: Callable[[], Any]) -> Any:
    """``load()`` once per run and process (a worker's threads share it); what an
    earlier folder (an earlier run) gave is dropped when a new one is asked for."""
    key = (folder, name, mode)
    with _WORKER_LOCK:
        value = _WORKER_MAPS.get(key)
        if value is None:
            if any(k[0] != folder for k in _WORKER_MAPS):
                _drop_worker_cache()
            value = load()
            _WORKER_MAPS[key] = value
        return value


def _drop_worker_cache() -> int:
    """Empty the cache (its lock held); how many entries it had. Its files close once no
    tile still running holds them (:class:`RowFile`), as its maps are unmapped."""
    n = len(_WORKER_MAPS)
    _WORKER_MAPS.clear()
    return n


class RowFile:
    """A 1-D ``.npy`` file of a shared folder, read and written by blocks of rows with
    ``pread``/``pwrite``: a copy through the kernel into this process's own memory. A
    mapping would cost a page fault for each 4 KiB page a process first touches, and
    two workers faulting pages of the same files at once took 2-3x as long as one (on
    the 2-core VM: 0.08-0.09 s per worker and run to write the results of the 10 km²
    synthetic city, 0.03 s for a lone worker). Safe for the threads of one process (no
    shared file position)."""

    def __init__(self, folder: str, name: str, *, writable: bool = False) -> None:
        _check_folder(folder)
        path = os.path.join(folder, f"{name}.npy")
        self._file = open(path, "r+b" if writable else "rb", buffering=0)
        try:
            version = np.lib.format.read_magic(self._file)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(self._file)
            else:
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(self._file)
            if len(shape) != 1 or dtype.hasobject:
                raise ValueError(f"{path}: not a 1-D array of plain values")
        except BaseException:
            self._file.close()
            raise
        # closed when this object goes (a worker's cache drops it at the run's end while
        # a tile of the run may still hold it), without the warning of an unclosed file
        self._finalizer = weakref.finalize(self, self._file.close)
        self.dtype = np.dtype(dtype)
        self.n = int(shape[0])
        self._offset = self._file.tell()
        self._lock = threading.Lock()

    def _at(self, start: int, count: int) -> int:
        if not 0 <= start <= start + count <= self.n:
            raise IndexError(
                f"{self._file.name}: rows {start}:{start + count} outside its rows 0:{self.n}"
            )
        return self._offset + start * self.dtype.itemsize

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (a new array)."""
        out = np.empty(stop - start, dtype=self.dtype)
        _transfer(self._file, out.data.cast("B"), self._at(start, out.size), self._lock)
        return out

    def write(self, start: int, values: np.ndarray) -> None:
        """Write ``values`` at rows ``start:``."""
        arr = np.ascontiguousarray(values, dtype=self.dtype)
        _transfer(
            self._file, arr.data.cast("B"), self._at(start, arr.size), self._lock,
            write=True,
        )  # fmt: skip

    def close(self) -> None:
        """Close the file now (else when this object goes)."""
        self._finalizer()


def _transfer(
    file: Any, buf: memoryview, offset: int, lock: threading.Lock, *, write: bool = False
) -> None:
    """Read (or write) all of ``buf`` at ``offset`` of ``file``."""
    done = 0
    fd = file.fileno()
    while done < len(buf):
        part = buf[done:]
        if hasattr(os, "preadv"):  # positional: no lock
            n = (
                os.pwritev(fd, [part], offset + done)
                if write
                else os.preadv(fd, [part], offset + done)
            )
        else:  # pragma: no cover - platforms without pread (Windows)
            with lock:
                file.seek(offset + done)
                n = file.write(part) if write else file.readinto(part)
        if not n:
            raise OSError(
                f"{file.name}: short {'write' if write else 'read'} at byte {offset + done}"
            )
        done += n


def worker_file(folder: str, name: str, *, writable: bool = False) -> RowFile:
    """The file ``name`` of the shared ``folder`` opened in this process, once per run:
    a worker runs many tiles of a run. What an earlier folder (an earlier run) opened is
    dropped when a new one is asked for."""
    mode = "r+" if writable else "r"
    rows: RowFile = _worker_cached(
        folder, name, mode, lambda: RowFile(folder, name, writable=writable)
    )
    return rows


@dataclass(frozen=True)
class SharedContext:
    """A run's :class:`twin.tiles.TileContext` written once into the shared ``folder``
    (:meth:`write`): each task carries this handle (the folder's path), and a worker
    reads the context on its first tile of the run (:meth:`open`), instead of dask
    scattering the context to every worker before the first task (0.04-0.06 s of each
    run on the 2-core VM, with every worker waiting)."""

    folder: str

    @classmethod
    def write(cls, ctx: TileContext, folder: Path) -> SharedContext:
        """Pickle ``ctx`` (its raster already shared: :func:`share_raster`) into
        ``folder``."""
        with open(folder / _CONTEXT, "wb") as f:
            pickle.dump(ctx, f, protocol=pickle.HIGHEST_PROTOCOL)
        return cls(str(folder))

    def open(self) -> TileContext:
        """The context, read once per run and process."""

        def load() -> TileContext:
            _check_folder(self.folder)
            with open(os.path.join(self.folder, _CONTEXT), "rb") as f:
                ctx = pickle.load(f)
            if not isinstance(ctx, TileContext):
                raise TypeError(f"{self.folder}/{_CONTEXT} does not hold a tile context")
            return ctx

        ctx: TileContext = _worker_cached(self.folder, _CONTEXT, "pickle", load)
        return ctx


def forget_worker_maps() -> int:
    """Drop this process's maps and open files of shared folders and the context read
    from them (run on the workers when a run ends, so that an idle worker does not keep
    the run's files in memory); how many it had."""
    with _WORKER_LOCK:
        return _drop_worker_cache()


def _check_folder(folder: str) -> None:
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"shared folder {folder} of a run is not on this machine: a dask worker that "
            "joined after the run checked its workers, on another machine, cannot map it; "
            "run again (each worker on another machine then gets copies)"
        )
