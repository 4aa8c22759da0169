"""Atomic output folders and files: a crash never leaves a complete-looking output."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.errors import OutputError, TwinError
from twin.io.atomic import (
    atomic_output_dir,
    atomic_path,
    atomic_write,
    check_output_dir,
    write_bytes_atomic,
    write_text_atomic,
)


class Boom(Exception):
    pass


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".trash-" in p.name)


def test_output_dir_appears_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with atomic_output_dir(out, overwrite=False) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".run.tmp-")
        (tmp / "a.txt").write_text("a")
        assert not out.exists()
    assert (out / "a.txt").read_text() == "a"
    assert _leftovers(tmp_path) == []


def test_output_dir_creates_missing_parents(tmp_path: Path) -> None:
    out = tmp_path / "x" / "y" / "run"
    with atomic_output_dir(out, overwrite=False) as tmp:
        (tmp / "f").write_text("1")
    assert (out / "f").exists()


def test_exception_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(Boom), atomic_output_dir(out, overwrite=False) as tmp:
        (tmp / "half.txt").write_text("half")
        raise Boom
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_refuses_non_empty_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(OutputError, match="--overwrite") as info:
        with atomic_output_dir(out, overwrite=False):
            pass  # pragma: no cover
    assert str(out) in str(info.value)
    assert isinstance(info.value, OSError) and isinstance(info.value, TwinError)
    assert (out / "old.txt").read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_check_output_dir(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "missing", overwrite=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    check_output_dir(empty, overwrite=False)
    (empty / "f").write_text("x")
    with pytest.raises(OutputError, match="not empty"):
        check_output_dir(empty, overwrite=False)
    check_output_dir(empty, overwrite=True)
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_output_dir(afile, overwrite=True)


def test_empty_existing_dir_is_used(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    with atomic_output_dir(out, overwrite=False) as tmp:
        (tmp / "n.txt").write_text("new")
    assert (out / "n.txt").read_text() == "new"


def test_overwrite_replaces_whole_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (out / "sub").mkdir()
    (out / "sub" / "deep.txt").write_text("deep")
    with atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        # the old output stays complete while the new one is written
        assert (out / "old.txt").read_text() == "old"
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert _leftovers(tmp_path) == []


def test_overwrite_failure_keeps_old_output(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(Boom), atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
        raise Boom
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert _leftovers(tmp_path) == []


def test_folder_appearing_during_the_run_is_not_clobbered(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(OutputError), atomic_output_dir(out, overwrite=False) as tmp:
        (tmp / "new.txt").write_text("new")
        out.mkdir()
        (out / "theirs.txt").write_text("theirs")
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert _leftovers(tmp_path) == []


def test_output_path_is_a_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.write_text("not a folder")
    with pytest.raises(OutputError, match="not a folder"):
        with atomic_output_dir(out, overwrite=True):
            pass  # pragma: no cover


def test_write_text_and_bytes(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    write_text_atomic(p, "héllo\n")
    assert p.read_bytes() == "héllo\n".encode()
    write_text_atomic(p, "second")
    assert p.read_text(encoding="utf-8") == "second"
    q = tmp_path / "b.bin"
    write_bytes_atomic(q, b"\x00\x01")
    assert q.read_bytes() == b"\x00\x01"
    assert _leftovers(tmp_path) == []


def test_atomic_write_failure_keeps_old_file(tmp_path: Path) -> None:
    p = tmp_path / "summary.json"
    p.write_text("old")
    with pytest.raises(Boom), atomic_write(p) as f:
        f.write("half of the new")
        raise Boom
    assert p.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_atomic_write_binary_mode(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    with atomic_write(p, "wb") as f:
        f.write(b"abc")
    assert p.read_bytes() == b"abc"
    with pytest.raises(ValueError, match="mode"):
        atomic_write(p, "a")  # type: ignore[call-overload]


def test_atomic_path_keeps_suffix_and_requires_a_file(tmp_path: Path) -> None:
    final = tmp_path / "r.tif"
    with atomic_path(final) as tmp:
        assert tmp.suffix == ".tif" and tmp.parent == tmp_path and tmp.name.startswith(".r.tif")
        tmp.write_bytes(b"x")
    assert final.read_bytes() == b"x"
    with pytest.raises(OutputError, match="produced no file"), atomic_path(tmp_path / "none.tif"):
        pass
    with pytest.raises(OutputError, match="missing"), atomic_path(tmp_path / "no" / "f.tif"):
        pass  # pragma: no cover
    assert _leftovers(tmp_path) == []


def test_a_mount_point_is_refused_before_anything_is_written(mount_point: Path) -> None:
    """An empty mount point cannot be renamed over (EBUSY after the whole computation):
    refused up front, with the way out; a folder inside it is fine."""
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="is a mount point: give a folder inside it"):
            check_output_dir(mount_point, overwrite=overwrite)
        with pytest.raises(OutputError, match="is a mount point"):
            with atomic_output_dir(mount_point, overwrite=overwrite):
                pass  # pragma: no cover
    assert list(mount_point.iterdir()) == []
    assert list(mount_point.parent.iterdir()) == [mount_point]
    with atomic_output_dir(mount_point / "run", overwrite=False) as tmp:
        (tmp / "a.txt").write_text("a")
    assert (mount_point / "run" / "a.txt").read_text() == "a"


def test_a_symlinked_output_folder_is_written_at_its_target(tmp_path: Path) -> None:
    """``--out link`` with ``link -> target``: the output lands in ``target`` (built beside
    it, renamed onto it) and the link stays a link, also with overwrite."""
    target = tmp_path / "realtarget"
    target.mkdir()
    link = tmp_path / "linkout"
    link.symlink_to("realtarget")
    with atomic_output_dir(link, overwrite=False) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".realtarget.tmp-")
        (tmp / "a.txt").write_text("a")
    assert link.is_symlink() and (target / "a.txt").read_text() == "a"
    with pytest.raises(OutputError, match=r"'.*linkout' \(-> '.*realtarget'\) exists and is not"):
        check_output_dir(link, overwrite=False)
    with atomic_output_dir(link, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("b")
    assert link.is_symlink() and sorted(p.name for p in target.iterdir()) == ["b.txt"]
    # a link to a missing folder: the folder it names is made
    dangling = tmp_path / "dangling"
    dangling.symlink_to("later")
    with atomic_output_dir(dangling, overwrite=False) as tmp:
        (tmp / "c.txt").write_text("c")
    assert dangling.is_symlink() and (tmp_path / "later" / "c.txt").exists()
    assert _leftovers(tmp_path) == []


def test_an_output_inside_or_around_an_input_is_refused(tmp_path: Path) -> None:
    from twin.io.atomic import check_not_inside

    runs = {"run A": tmp_path / "a", "run B": tmp_path / "b"}
    for out, how in ((tmp_path / "a", "is run A"), (tmp_path / "b" / "sub", "lies inside run B"),
                     (tmp_path, "contains run A")):  # fmt: skip
        with pytest.raises(OutputError, match=how):
            check_not_inside(out, runs)
    (tmp_path / "link").symlink_to("a")
    with pytest.raises(OutputError, match="is run A"):
        check_not_inside(tmp_path / "link", runs)
    check_not_inside(tmp_path / "c", runs)


def test_before_commit_can_stop_the_rename(tmp_path: Path) -> None:
    """What ``before_commit`` raises (a Ctrl-C that Python swallowed, raised again) leaves
    the old output in place and no temporary folder."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")

    def stop() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with atomic_output_dir(out, overwrite=True, before_commit=stop) as tmp:
            (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert _leftovers(tmp_path) == []


def _sigint_at_commit(monkeypatch: pytest.MonkeyPatch, folder: Path) -> list[str]:
    """Send this process a real SIGINT when the commit flushes ``folder`` (the rename of
    an output into it is done); returns the log of what happened in order."""
    import os
    import signal

    import twin.io.atomic as atomic

    events: list[str] = []
    flush = atomic._fsync_dir

    def flush_then_interrupt(path: Path) -> None:
        flush(path)
        if Path(path) == folder and "sigint" not in events:
            events.append("sigint")
            os.kill(os.getpid(), signal.SIGINT)
            events.append("after sigint")  # reached only while SIGINT is held back

    monkeypatch.setattr(atomic, "_fsync_dir", flush_then_interrupt)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    return events


def test_a_ctrl_c_during_the_commit_waits_for_it_and_its_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT right after the new folder is renamed into place (the old one in the
    trash) is held back until the old one is removed and the hook has noted the output:
    no hidden trash is left and the hook saw the folder; then the interrupt comes."""
    from twin.io.atomic import on_commit

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    events = _sigint_at_commit(monkeypatch, tmp_path)
    noted: list[Path] = []
    with pytest.raises(KeyboardInterrupt), on_commit(noted.append):
        with atomic_output_dir(out, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
            write_text_atomic(tmp / "inner.txt", "inside the folder: not an output yet")
    assert events == ["sigint", "after sigint"]
    assert noted == [out.absolute()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no .trash-, no .tmp-
    assert sorted(p.name for p in out.iterdir()) == ["inner.txt", "new.txt"]


def test_an_interrupted_twin_dsm_names_the_raster_it_put_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``twin dsm`` interrupted by a real SIGINT the moment its GeoTIFF is renamed into
    place (before its style is written) says that the raster was written."""
    from click.testing import CliRunner

    from tests.conftest import EXTRACTS
    from twin.cli.main import cli

    events = _sigint_at_commit(monkeypatch, tmp_path)
    out = tmp_path / "dsm.tif"
    args = ["dsm", str(EXTRACTS["west-oakland"]), "--res", "10", "--out", str(out)]
    res = CliRunner().invoke(cli, args)
    assert events == ["sigint", "after sigint"]
    assert res.exit_code == 130, res.output
    assert res.stderr.rstrip().splitlines()[-1] == f"twin: interrupted: {out} was written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dsm.tif"]  # the style not yet
