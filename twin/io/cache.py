"""On-disk cache of what a what-if re-run does not change: city, grid, visibility raster
and the LoS of each site.

Entries are pickles in ``.twin-cache/`` of the working directory (or ``$TWIN_CACHE_DIR``),
one file per entry, named by the kind and a hash of its key. The large arrays of an entry
(numpy arrays of :data:`OUT_OF_BAND_BYTES` or more: a grid's coordinates, a raster's
cells) are written after the pickle, out of band (pickle protocol 5), and a hit maps them
from the file copy-on-write instead of reading them: a hit costs no copy and no memory of
the process's own until an array is written to, and the kernel can drop its pages when
memory runs short (a cached grid and raster are out of core, as with ``--scratch``).

A key is a JSON-able mapping (for a city: the input file's sha256 and path and the
city-building options; for a grid: the city's key, the area and the grid settings). Each
file also holds a format stamp and a fingerprint of the source code that builds the cached
objects, so an entry written by another format or by other code is ignored (and
replaced), never used. Files are written to a temporary name and renamed, so a reader
never sees half an entry, and a file mapped by a run stays as it was when a later run
replaces it.

A pickle runs code when loaded: keep the cache folder private (it is created ``0700``),
as any other file that the twin reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import pickle
import struct
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

#: format of the cache files; bump when the layout of an entry changes
CACHE_FORMAT = 2
#: first bytes of a cache file: then the pickle's length and the number of out-of-band
#: buffers (uint64 little-endian), each buffer's offset and length, the pickle, the buffers
MAGIC = b"twin-cache\x00\x02"
#: buffers of at least this many bytes are written out of band and mapped on a hit
OUT_OF_BAND_BYTES = 1 << 16
#: out-of-band buffers start at multiples of this (numpy's widest alignment)
_ALIGN = 64
#: environment variable naming the cache folder
CACHE_ENV = "TWIN_CACHE_DIR"
DEFAULT_DIR = ".twin-cache"
#: the code whose output is cached (its bytes are part of every entry's fingerprint)
_FINGERPRINT_PATHS = ("city", "sources", "visibility", "grid.py", "__init__.py")


@cache
def code_fingerprint() -> str:
    """sha256 of the modules that build cached objects (city, sources, grid, visibility)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(f"format {CACHE_FORMAT}".encode())
    for name in _FINGERPRINT_PATHS:
        p = root / name
        files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        for f in files:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$TWIN_CACHE_DIR`` if set, else ``.twin-cache`` in the working directory."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.cwd() / DEFAULT_DIR


class StudyCache:
    """A folder of cache entries (see the module notes).

    Parameters
    ----------
    root
        The folder; created on the first write. None: :func:`default_cache_dir`.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.hits: list[str] = []

    def path(self, kind: str, key: dict[str, Any]) -> Path:
        """The file of the entry ``kind`` / ``key``."""
        digest = hashlib.sha256(_canonical(key).encode()).hexdigest()[:32]
        return self.root / f"{kind}-{digest}.pkl"

    def get(self, kind: str, key: dict[str, Any], *, quiet: bool = False) -> Any | None:
        """The cached value, or None when absent, stale or unreadable (``quiet``: a hit is
        neither logged nor added to :attr:`hits`, for entries read by the hundred)."""
        p = self.path(kind, key)
        try:
            entry = read_entry(p)
        except FileNotFoundError:
            return None
        except Exception as exc:  # truncated, foreign or unreadable file: treat as absent
            log.info("cache: ignoring unreadable %s (%s)", p, exc)
            return None
        if not (
            isinstance(entry, dict)
            and entry.get("format") == CACHE_FORMAT
            and entry.get("code") == code_fingerprint()
            and entry.get("kind") == kind
            and entry.get("key") == _canonical(key)
        ):
            log.info("cache: ignoring stale %s (other format or code)", p)
            return None
        if not quiet:
            log.info("cache hit: %s from %s", kind, p)
            self.hits.append(kind)
        return entry["value"]

    def put(
        self, kind: str, key: dict[str, Any], value: Any, *, quiet: bool = False
    ) -> Path | None:
        """Store ``value`` atomically; returns the file, or None when it cannot be written
        (``quiet``: not logged)."""
        p = self.path(kind, key)
        entry = {
            "format": CACHE_FORMAT,
            "code": code_fingerprint(),
            "kind": kind,
            "key": _canonical(key),
            "value": value,
        }
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=self.root)
            try:
                with os.fdopen(fd, "wb") as fh:
                    write_entry(fh, entry)
                os.replace(tmp, p)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("cache: could not write %s (%s); going on without it", p, exc)
            return None
        if not quiet:
            log.info("cache: stored %s in %s", kind, p)
        return p


def write_entry(fh: BinaryIO, entry: Any) -> None:
    """Write ``entry`` to the binary file ``fh`` in the cache's format (module notes):
    buffers of :data:`OUT_OF_BAND_BYTES` or more are written from where they are, not
    copied into the pickle."""
    buffers: list[memoryview] = []

    def out_of_band(buf: pickle.PickleBuffer) -> bool:
        try:
            raw = buf.raw()
        except BufferError:  # not contiguous: in the pickle
            return True
        if raw.nbytes < OUT_OF_BAND_BYTES:
            return True
        buffers.append(raw)
        return False

    data = pickle.dumps(entry, protocol=5, buffer_callback=out_of_band)
    header = len(MAGIC) + 16 + 16 * len(buffers)
    at = _aligned(header + len(data))
    table = []
    for raw in buffers:
        table.append((at, raw.nbytes))
        at = _aligned(at + raw.nbytes)
    fh.write(MAGIC + struct.pack("<QQ", len(data), len(buffers)))
    for offset, size in table:
        fh.write(struct.pack("<QQ", offset, size))
    fh.write(data)
    pos = header + len(data)
    for (offset, _), raw in zip(table, buffers, strict=True):
        fh.write(b"\x00" * (offset - pos))
        fh.write(raw)
        pos = offset + raw.nbytes


def read_entry(path: str | Path) -> Any:
    """The entry in the cache file ``path``, its out-of-band buffers mapped copy-on-write
    from the file (writable; a write makes a private copy of the page, the file is never
    changed). ``ValueError`` when the file is not in the cache's format."""
    with open(path, "rb") as fh:
        head = fh.read(len(MAGIC) + 16)
        if len(head) < len(MAGIC) + 16 or head[: len(MAGIC)] != MAGIC:
            raise ValueError("not a twin cache file of this format")
        n_data, n_buffers = struct.unpack("<QQ", head[len(MAGIC) :])
        table = [struct.unpack("<QQ", fh.read(16)) for _ in range(n_buffers)]
        data = fh.read(n_data)
        if len(data) != n_data:
            raise ValueError("truncated")
        views: list[memoryview] = []
        if table:
            size = os.fstat(fh.fileno()).st_size
            if any(offset + length > size for offset, length in table):
                raise ValueError("truncated")
            mapped = memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY))
            views = [mapped[offset : offset + length] for offset, length in table]
    return pickle.loads(data, buffers=views)


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _canonical(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
