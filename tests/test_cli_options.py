"""``twin.cli.options.mark_written``: once a command has put its output in place, a
Ctrl-C says where it wrote instead of "nothing was written" (exit code 130 either way);
outside a command it does nothing. Checked on ``twin dsm`` of a real extract,
interrupted just after and just before its output is in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import rasterio
from click.testing import CliRunner

import twin.city
import twin.cli.dsm
from tests.conftest import EXTRACTS
from twin.cli.main import cli
from twin.cli.options import WRITTEN_KEY, mark_written


def _interrupt(*args: Any, **kwargs: Any) -> None:
    raise KeyboardInterrupt


def dsm(out: Path) -> Any:
    args = ["dsm", str(EXTRACTS["west-oakland"]), "--res", "10", "--out", str(out)]
    return CliRunner().invoke(cli, args)


def test_an_interrupt_after_the_output_is_in_place_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # twin dsm logs what it wrote right after marking it: the Ctrl-C lands there
    monkeypatch.setattr(twin.cli.dsm.log, "info", _interrupt)
    out = tmp_path / "dsm.tif"
    res = dsm(out)
    assert res.exit_code == 130, res.output
    assert res.stderr.rstrip().splitlines()[-1] == f"twin: interrupted: {out} was written"
    # and it was: the whole raster and its style
    with rasterio.open(out) as src:
        assert src.count == 1 and src.read(1).max() > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dsm.qml", "dsm.tif"]


def test_an_interrupt_before_it_says_nothing_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(twin.city, "load_city", _interrupt)
    res = dsm(tmp_path / "dsm.tif")
    assert res.exit_code == 130, res.output
    assert res.stderr.rstrip().splitlines()[-1] == "twin: interrupted: nothing was written"
    assert list(tmp_path.iterdir()) == []


def test_the_last_mark_counts_and_outside_a_command_none(tmp_path: Path) -> None:
    mark_written(tmp_path / "nowhere")  # no command running: nothing to note, no error
    assert click.get_current_context(silent=True) is None
    with click.Context(click.Command("x")) as ctx:
        assert WRITTEN_KEY not in ctx.meta
        mark_written(tmp_path / "a")
        mark_written(str(tmp_path / "b"))
        assert ctx.meta[WRITTEN_KEY] == str(tmp_path / "b")


def test_python_dash_m_twin_is_the_twin_command() -> None:
    """``python -m twin`` runs the same click group as the ``twin`` script: its help
    lists the commands, and a bad option exits with click's usage error (2)."""
    import subprocess
    import sys

    ok = subprocess.run(
        [sys.executable, "-m", "twin", "--help"], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert "Usage: twin" in ok.stdout
    for command in ("run", "compare", "dsm", "viewshed", "bench", "info"):
        assert f"  {command}" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "twin", "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "No such option" in bad.stderr


def test_a_run_records_its_command_and_the_command_runs_it_again(tmp_path: Path) -> None:
    """``twin run`` records the command line it was given (the parameters given, not the
    defaults, shell-quoted) in every output's provenance; the recorded command, run
    again into another folder, makes a run of the same settings and results."""
    import json
    import shlex

    out = tmp_path / "run a"
    args = ["run", "--terrain", "flat", "--spacing", "40", "--bands", "3.5"]
    args += ["--out", str(out), "--no-progress"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    command = summary["provenance"]["command"]
    assert command == shlex.join(
        ["twin", "run", "--terrain", "flat", "--out", str(out), "--spacing", "40.0",
         "--bands", "3.5", "--no-progress"]
    )  # fmt: skip
    with rasterio.open(next((out / "rasters").glob("*.tif"))) as src:
        assert src.tags()["command"] == command
    again = tmp_path / "run b"
    words = shlex.split(command)
    assert words[:2] == ["twin", "run"]
    words[words.index("--out") + 1] = str(again)
    res = CliRunner().invoke(cli, words[1:])
    assert res.exit_code == 0, res.output
    other = json.loads((again / "summary.json").read_text())
    assert other["provenance"]["scenario_sha256"] == summary["provenance"]["scenario_sha256"]
    assert other["bands"] == summary["bands"]
