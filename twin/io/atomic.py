"""Atomic writes: an output that exists is complete.

Every writer of :mod:`twin.io` writes into a temporary sibling of its target and moves it
into place only once everything is written and flushed, so an interrupted run (crash,
Ctrl-C, full disk) never leaves a half-written file or output folder that looks complete.

- :func:`atomic_output_dir` for a whole output folder (a run's outputs);
- :func:`atomic_path` for libraries that write by file name (GDAL, pyogrio, rasterio);
- :func:`atomic_write`, :func:`write_text_atomic`, :func:`write_bytes_atomic` for files
  written from Python.

Temporary names start with a dot and contain ``.tmp-`` (``.<name>.tmp-<random>``), so
they are easy to recognise and to clean up after a power cut.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

from twin.errors import OutputError

__all__ = [
    "atomic_output_dir",
    "atomic_path",
    "atomic_write",
    "check_output_dir",
    "write_bytes_atomic",
    "write_text_atomic",
]


def _sibling(path: Path, tag: str, *, keep_suffix: bool = False) -> Path:
    """A fresh hidden name beside ``path``: ``.<name>.<tag>-<random>[<suffix>]``."""
    suffix = path.suffix if keep_suffix else ""
    return path.with_name(f".{path.name}.{tag}-{secrets.token_hex(4)}{suffix}")


def _fsync_dir(path: Path) -> None:
    """Flush a directory entry (renames) to disk where the OS allows it (not on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def check_output_dir(path: str | os.PathLike[str], *, overwrite: bool) -> None:
    """Fail when ``path`` cannot become an output folder.

    Call it before a long computation so that a run stops at once rather than after
    hours; :func:`atomic_output_dir` checks again when it starts.

    Raises
    ------
    OutputError
        When ``path`` exists and is a file, or a non-empty folder and ``overwrite`` is false,
        or its parent cannot be created.
    """
    p = Path(path)
    if p.exists() or p.is_symlink():
        if not p.is_dir():
            raise OutputError(f"output folder {str(p)!r} exists and is not a folder")
        if not overwrite and any(p.iterdir()):
            raise OutputError(
                f"output folder {str(p)!r} exists and is not empty; "
                "choose another folder or pass --overwrite to replace it"
            )


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Build an output folder in a temporary sibling and move it into place on success.

    Parameters
    ----------
    path
        The final folder. Its parent is created when missing.
    overwrite
        Replace an existing non-empty folder. The old folder is renamed to a hidden trash
        sibling, the new one renamed into place, and only then is the trash deleted, so at
        every moment ``path`` is either the complete old or the complete new output.

    Yields
    ------
    Path
        The temporary folder (``.<name>.tmp-<random>`` beside ``path``) to write into.
        When the ``with`` block raises, it is removed and ``path`` is left untouched.

    Raises
    ------
    OutputError
        When ``path`` exists and is not empty and ``overwrite`` is false, when it is a
        file, or when the parent folder cannot be written.
    """
    final = Path(path).absolute()
    check_output_dir(final, overwrite=overwrite)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = _sibling(final, "tmp")
        tmp.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot create output folder {str(final)!r}: {exc}") from exc
    try:
        yield tmp
        # re-check: the folder may have appeared while we computed
        check_output_dir(final, overwrite=overwrite)
        _fsync_dir(tmp)
        if final.exists():
            trash = _sibling(final, "trash")
            os.replace(final, trash)
            try:
                os.replace(tmp, final)
            except OSError:
                os.replace(trash, final)  # put the old output back
                raise
            _fsync_dir(final.parent)
            _remove(trash)
        else:
            os.replace(tmp, final)
            _fsync_dir(final.parent)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary file name beside ``path`` that replaces ``path`` on success.

    For writers that take a file name (GDAL drivers through pyogrio or rasterio). The
    temporary name keeps the suffix (``.<name>.tmp-<random>.tif``) so that drivers which
    look at it are satisfied. On success the file is fsynced and moved over ``path`` with
    :func:`os.replace`; on error it (and any ``-wal``/``-shm``/``.aux.xml`` side file) is
    removed.

    Raises
    ------
    OutputError
        When the folder of ``path`` does not exist or the writer produced no file.
    """
    final = Path(path).absolute()
    if not final.parent.is_dir():
        raise OutputError(f"cannot write {str(final)!r}: folder {str(final.parent)!r} is missing")
    tmp = _sibling(final, "tmp", keep_suffix=True)
    side = [tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal", ".aux.xml")]
    try:
        yield tmp
        if not tmp.is_file():
            raise OutputError(f"writing {str(final)!r} produced no file")
        _fsync_file(tmp)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        for p in (tmp, *side):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


@overload
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["w"] = "w", *, encoding: str = "utf-8"
) -> contextlib.AbstractContextManager[IO[str]]: ...


@overload
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["wb"], *, encoding: str = "utf-8"
) -> contextlib.AbstractContextManager[IO[bytes]]: ...


def atomic_write(
    path: str | os.PathLike[str], mode: Literal["w", "wb"] = "w", *, encoding: str = "utf-8"
) -> contextlib.AbstractContextManager[IO[str]] | contextlib.AbstractContextManager[IO[bytes]]:
    """Open a temporary file beside ``path`` that replaces ``path`` when the block ends.

    Parameters
    ----------
    path
        The final file.
    mode : {"w", "wb"}
        Text (``encoding``, ``\\n`` line ends on every OS) or binary.
    encoding
        Text encoding for ``mode="w"``.

    Examples
    --------
    >>> with atomic_write(tmp_path / "summary.json") as f:  # doctest: +SKIP
    ...     json.dump(summary, f)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', not {mode!r}")
    return _atomic_write(Path(path), mode, encoding)


@contextlib.contextmanager
def _atomic_write(path: Path, mode: str, encoding: str) -> Iterator[Any]:
    with atomic_path(path) as tmp:
        if mode == "w":
            with open(tmp, "w", encoding=encoding, newline="\n") as text:
                yield text
                text.flush()
                os.fsync(text.fileno())
        else:
            with open(tmp, "wb") as binary:
                yield binary
                binary.flush()
                os.fsync(binary.fileno())


def write_text_atomic(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as f:
        f.write(data)
