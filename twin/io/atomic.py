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

Putting an output in place (the renames, and an old folder's removal) is one step for a
Ctrl-C: in the main thread a SIGINT is held back from the first rename until the hook of
:func:`on_commit` has noted the output, and raised then, so
a command interrupted there says what it wrote instead of "nothing was written" (and
leaves no hidden trash folder). Only the outermost output is noted: a file written
inside a folder that is still being built is not an output yet.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any, Literal, overload

from twin.errors import OutputError

__all__ = [
    "atomic_output_dir",
    "atomic_path",
    "atomic_write",
    "check_not_inside",
    "check_output_dir",
    "is_mount_point",
    "on_commit",
    "output_target",
    "write_bytes_atomic",
    "write_text_atomic",
]


#: how many atomic outputs of this context are being built around the current one
_depth: ContextVar[int] = ContextVar("twin_atomic_depth", default=0)
#: called with each outermost output once it is in place (:func:`on_commit`)
_commit_hook: ContextVar[Callable[[Path], None] | None] = ContextVar(
    "twin_atomic_commit_hook", default=None
)


@contextlib.contextmanager
def on_commit(hook: Callable[[Path], None]) -> Iterator[None]:
    """Call ``hook(path)`` each time an outermost output (a folder of
    :func:`atomic_output_dir`, a file of :func:`atomic_path` not inside one being built)
    is put in place, while a Ctrl-C is still held back (see the module notes)."""
    token = _commit_hook.set(hook)
    try:
        yield
    finally:
        _commit_hook.reset(token)


@contextlib.contextmanager
def _building() -> Iterator[None]:
    token = _depth.set(_depth.get() + 1)
    try:
        yield
    finally:
        _depth.reset(token)


@contextlib.contextmanager
def _committing(final: Path) -> Iterator[None]:
    """Put ``final`` in place in the block, a Ctrl-C held back until the block and the
    :func:`on_commit` hook (for an outermost output) are done: in the main thread the
    SIGINT handler is swapped for one that only notes the signal, which is raised again
    (:func:`signal.raise_signal`, to the handler of before) at the end. (Python runs
    signal handlers in the main thread whichever thread the signal reached, so this holds
    with other threads running, where an OS signal mask of the main thread would not.)"""
    hook = _commit_hook.get() if _depth.get() == 0 else None
    if (
        threading.current_thread() is not threading.main_thread()
        # a handler set outside Python (None) could not be put back
        or signal.getsignal(signal.SIGINT) is None
    ):
        yield
        if hook is not None:
            hook(final)
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
        if hook is not None:
            hook(final)
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)


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


def _mount_points() -> set[str]:
    """Mount points of this process (``/proc/self/mountinfo``; empty where there is none)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return set()
    points = set()
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            # octal escapes of blanks and backslashes: \040, \011, \012, \134
            points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4]))
    return points


def is_mount_point(path: str | os.PathLike[str]) -> bool:
    """Whether the folder ``path`` (symlinks followed) is a mount point.

    :func:`os.path.ismount` misses a bind mount of a folder of the same file system (a
    Docker volume), so the mount table of Linux is read too.
    """
    real = Path(path).resolve()
    return os.path.ismount(real) or str(real) in _mount_points()


def output_target(path: str | os.PathLike[str]) -> Path:
    """The folder an output path names: absolute, symlinks followed to their target.

    ``--out link`` with ``link -> target`` writes the run at ``target`` (atomically there)
    and leaves the link a link; a link to a missing folder creates the folder it names.
    """
    return Path(path).resolve()


def check_output_dir(path: str | os.PathLike[str], *, overwrite: bool) -> None:
    """Fail when ``path`` cannot become an output folder.

    Call it before a long computation so that a run stops at once rather than after
    hours; :func:`atomic_output_dir` checks again when it starts. A symlink is followed:
    its target is checked (see :func:`output_target`).

    Raises
    ------
    OutputError
        When ``path`` exists and is a file, or a mount point (a folder that cannot be
        replaced by a rename: give a folder inside it), or a non-empty folder and
        ``overwrite`` is false.
    """
    p = Path(path)
    real = output_target(p)
    shown = repr(str(p)) if real == p.absolute() else f"{str(p)!r} (-> {str(real)!r})"
    if real.exists():
        if not real.is_dir():
            raise OutputError(f"output folder {shown} exists and is not a folder")
        if is_mount_point(real):
            raise OutputError(
                f"output folder {shown} is a mount point: give a folder inside it (e.g. "
                f"{str(p / 'run')!r}); an output folder is written beside its final name "
                "and renamed into place, which a mount point does not allow"
            )
        if not overwrite and any(real.iterdir()):
            raise OutputError(
                f"output folder {shown} exists and is not empty; "
                "choose another folder or pass --overwrite to replace it"
            )


def check_not_inside(
    out: str | os.PathLike[str], inputs: Mapping[str, str | os.PathLike[str]]
) -> None:
    """Fail when the output folder ``out`` is, contains or lies inside one of ``inputs``.

    ``inputs`` maps a name for the message (``"run A"``) to a path. Writing there would
    replace (with ``--overwrite``) or change an input.

    Raises
    ------
    OutputError
        Naming the output folder and the input it overlaps.
    """
    o = output_target(out)
    for what, path in inputs.items():
        i = output_target(path)
        if o == i or i in o.parents or o in i.parents:
            how = "is" if o == i else ("lies inside" if i in o.parents else "contains")
            raise OutputError(
                f"output folder {str(out)!r} {how} {what} {str(path)!r}: writing there would "
                "replace or change an input; give an output folder outside the inputs"
            )


@contextlib.contextmanager
def atomic_output_dir(
    path: str | os.PathLike[str],
    *,
    overwrite: bool,
    before_commit: Callable[[], None] | None = None,
) -> Iterator[Path]:
    """Build an output folder in a temporary sibling and move it into place on success.

    Parameters
    ----------
    path
        The final folder. Its parent is created when missing. A symlink is followed:
        the output is built beside its target and renamed onto it, and the link stays.
    overwrite
        Replace an existing non-empty folder. The old folder is renamed to a hidden trash
        sibling, the new one renamed into place, and only then is the trash deleted, so at
        every moment ``path`` is either the complete old or the complete new output.
    before_commit
        Called once everything is written, before ``path`` is touched; what it raises
        removes the temporary folder and leaves ``path`` as it was (``twin`` commands
        raise there on a Ctrl-C that Python swallowed).

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
    final = output_target(path)
    check_output_dir(path, overwrite=overwrite)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = _sibling(final, "tmp")
        tmp.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot create output folder {str(final)!r}: {exc}") from exc
    try:
        with _building():
            yield tmp
        if before_commit is not None:
            before_commit()
        # re-check: the folder may have appeared while we computed
        check_output_dir(path, overwrite=overwrite)
        _fsync_dir(tmp)
        try:
            with _committing(final):
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
        except OSError as exc:
            raise OutputError(f"cannot move the output into {str(final)!r}: {exc}") from exc
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
        with _building():
            yield tmp
        if not tmp.is_file():
            raise OutputError(f"writing {str(final)!r} produced no file")
        _fsync_file(tmp)
        with _committing(final):
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
