"""On-disk cache of what a what-if re-run does not change: city, grid, visibility raster
and the LoS of each site.

Entries are pickles in ``.twin-cache/`` of the working directory (or ``$TWIN_CACHE_DIR``),
one file per entry, named by the kind and a hash of its key. A key is a JSON-able mapping
(for a city: the input file's sha256 and path and the city-building options; for a grid:
the city's key, the area and the grid settings). Each file also holds a format stamp and a
fingerprint of the source code that builds the cached objects, so an entry written by
another format or by other code is ignored (and replaced), never used. Files are written
to a temporary name and renamed, so a reader never sees half an entry.

A pickle runs code when loaded: keep the cache folder private (it is created ``0700``),
as any other file that the twin reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: format of the cache files; bump when the layout of an entry changes
CACHE_FORMAT = 1
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
            with open(p, "rb") as fh:
                entry = pickle.load(fh)
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
                    pickle.dump(entry, fh, protocol=pickle.HIGHEST_PROTOCOL)
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


def _canonical(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
