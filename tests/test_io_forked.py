"""Outputs written in two processes: a forked child's part and this process's part."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest

from twin.errors import OutputError
from twin.io.forked import fork_available, run_alongside
from twin.io.outputs import write_run

needs_fork = pytest.mark.skipif(not fork_available(), reason="no fork on this platform")


@needs_fork
def test_the_child_runs_in_another_process(tmp_path: Path) -> None:
    seen: list[int] = []

    def child() -> None:
        seen.append(os.getpid())  # lost with the child: only files come back
        (tmp_path / "child.txt").write_text(str(os.getpid()))

    result = run_alongside(child, lambda: "here", what="a test file")
    assert result == "here"
    assert seen == []
    assert int((tmp_path / "child.txt").read_text()) != os.getpid()


def test_without_fork_both_parts_run_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_OUTPUT_FORK", "0")
    assert not fork_available()
    order: list[str] = []
    result = run_alongside(lambda: order.append("child"), lambda: order.append("here") or 7,
                           what="a test file")  # fmt: skip
    assert result == 7
    assert order == ["here", "child"]


@needs_fork
def test_an_error_in_the_child_names_the_output_and_the_cause() -> None:
    def child() -> None:
        raise ValueError("no ink left")

    with pytest.raises(OutputError, match=r"writing the test figures failed: ValueError: no ink"):
        run_alongside(child, lambda: None, what="the test figures")


@needs_fork
def test_a_child_that_dies_gives_its_exit_code() -> None:
    def child() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(OutputError, match=r"exit code -9"):
        run_alongside(child, lambda: None, what="the test figures")


@needs_fork
def test_an_error_here_stops_the_child(tmp_path: Path) -> None:
    def child() -> None:
        time.sleep(30)
        (tmp_path / "late.txt").write_text("too late")

    def here() -> None:
        raise KeyError("disk full")

    t0 = time.perf_counter()
    with pytest.raises(KeyError, match="disk full"):
        run_alongside(child, here, what="the test figures")
    assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "late.txt").exists()


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.png"))
    }


@needs_fork
def test_write_run_gives_the_same_figures_with_and_without_fork(
    helsinki_study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    write_run(helsinki_study, tmp_path / "forked", overwrite=False)
    monkeypatch.setenv("TWIN_OUTPUT_FORK", "0")
    write_run(helsinki_study, tmp_path / "here", overwrite=False)
    forked, here = _digests(tmp_path / "forked"), _digests(tmp_path / "here")
    assert set(forked) >= {
        "los_vs_distance.png",
        "plots/capacity_3p5.png",
        "plots/sinr_cdf.png",
        "plots/capacity_by_user_type.png",
    }
    assert forked == here
    names = {p.relative_to(tmp_path / "forked") for p in (tmp_path / "forked").rglob("*")}
    assert names == {p.relative_to(tmp_path / "here") for p in (tmp_path / "here").rglob("*")}
