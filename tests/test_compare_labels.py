"""``twin compare`` of two runs of one scenario that a command-line override made differ
(``--terrain flat``, ``--bands``): each run is named by the scenario and the options of
its recorded command in which they differ (else by the settings in which they differ), on
screen, in the table, in ``comparison.json`` and on the maps, so that A and B can be told
apart; runs that differ in nothing that changes a result are named by their folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from twin.cli.main import cli
from twin.compare import RUN_FLAG_OPTIONS, RUN_NEUTRAL_OPTIONS, RunMeta, run_labels

SCENARIO = ROOT / "scenarios" / "monaco-terrain.toml"
# by the options of their commands: both gave --bands 3.5, one --terrain flat
TERRAIN = "monaco-terrain"
FLAT = "monaco-terrain (--terrain flat)"
# by their settings, when a run has no command recorded
TERRAIN_SET = "monaco-terrain (city.terrain = N43E007.hgt.zip)"
FLAT_SET = "monaco-terrain (city.terrain = flat)"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Monaco on its terrain and, by ``--terrain flat``, on flat ground, on flat ground
    with a second band, and on flat ground again by options that change no result: 50 m
    cells, a few seconds each."""
    root = tmp_path_factory.mktemp("labels")
    base = ["-q", "run", str(SCENARIO), "--spacing", "50", "--no-progress"]
    cases = {
        "terrain": ["--bands", "3.5"],
        "flat": ["--bands", "3.5", "--terrain", "flat"],
        "flat_two": ["--bands", "3.5,28", "--terrain", "flat"],
        # the same study as "flat", cut into other tiles, not cached, another map metric
        "flat_tiles": [
            "--bands", "3.5", "--terrain", "flat", "--tile", "7", "--no-cache",
            "--map-metric", "sinr_db",
        ],
    }  # fmt: skip
    for key, extra in cases.items():
        res = CliRunner().invoke(cli, [*base, *extra, "--out", str(root / key)])
        assert res.exit_code == 0, res.output
    return {key: root / key for key in cases}


def compare(a: Path, b: Path, out: Path) -> str:
    res = CliRunner().invoke(cli, ["-q", "compare", str(a), str(b), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return res.output


def test_runs_differing_by_terrain_are_named_apart(
    runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import twin.io.compare_outputs as compare_outputs

    # the maps drawn in this process, their titles kept
    monkeypatch.setenv("TWIN_OUTPUT_FORK", "0")
    titles: list[str] = []
    draw = compare_outputs.delta_map_figure

    def record(*args, title: str = "", **kwargs):  # type: ignore[no-untyped-def]
        titles.append(title)
        return draw(*args, title=title, **kwargs)

    monkeypatch.setattr(compare_outputs, "delta_map_figure", record)
    out = tmp_path / "c"
    shown = compare(runs["terrain"], runs["flat"], out)
    assert f"(B = {FLAT} minus A = {TERRAIN})" in shown.splitlines()[0]

    # both summaries name the same scenario: the labels come from their commands
    names = {json.loads((runs[k] / "summary.json").read_text())["scenario"]["name"] for k in runs}
    assert names == {"monaco-terrain"}
    doc = json.loads((out / "comparison.json").read_text())
    assert (doc["a"]["label"], doc["b"]["label"]) == (TERRAIN, FLAT)
    assert doc["a"]["scenario"] == doc["b"]["scenario"] == "monaco-terrain"
    assert (doc["provenance"]["label_a"], doc["provenance"]["label_b"]) == (TERRAIN, FLAT)
    md = (out / "comparison.md").read_text().splitlines()
    assert md[0] == f"# twin compare: {FLAT} (B) vs {TERRAIN} (A)"
    assert md[2] == (
        f"A = `{TERRAIN}` (`{runs['terrain']}`), B = `{FLAT}` (`{runs['flat']}`); "
        "B - A is the change."
    )
    meta = json.loads((out / "comparison.csv-metadata.json").read_text())
    assert FLAT in json.dumps(meta) and TERRAIN in json.dumps(meta)
    # one map per metric and band, each naming B and A under its title
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "delta_capacity_mbps_3p5.png",
        "delta_sinr_db_3p5.png",
    ]
    assert len(titles) == 2
    for title in titles:
        assert title.splitlines()[1:] == [f"B = {FLAT}", f"A = {TERRAIN}"]


def test_runs_differing_by_bands_and_by_nothing(runs: dict[str, Path], tmp_path: Path) -> None:
    shown = compare(runs["flat"], runs["flat_two"], tmp_path / "bands")
    doc = json.loads((tmp_path / "bands" / "comparison.json").read_text())
    assert (doc["a"]["label"], doc["b"]["label"]) == (
        "monaco-terrain (--bands 3.5)",
        "monaco-terrain (--bands 3.5,28)",
    )
    assert doc["b"]["label"] in shown
    # the same run in two folders: nothing recorded differs, the folders name them
    copy = tmp_path / "flat_again"
    shutil.copytree(runs["flat"], copy)
    compare(runs["flat"], copy, tmp_path / "same")
    doc = json.loads((tmp_path / "same" / "comparison.json").read_text())
    assert (doc["a"]["label"], doc["b"]["label"]) == (
        "monaco-terrain [flat]",
        "monaco-terrain [flat_again]",
    )


def test_options_that_change_no_result_name_no_run(runs: dict[str, Path], tmp_path: Path) -> None:
    """--tile, --no-cache and --map-metric differ: the results are the same, the labels
    fall back to the settings (the same) and then to the folders."""
    commands = [
        json.loads((runs[k] / "summary.json").read_text())["provenance"]["command"]
        for k in ("flat", "flat_tiles")
    ]
    assert "--map-metric sinr_db --no-cache --tile 7" in commands[1]
    assert "--tile" not in commands[0]
    compare(runs["flat"], runs["flat_tiles"], tmp_path / "tiles")
    doc = json.loads((tmp_path / "tiles" / "comparison.json").read_text())
    assert (doc["a"]["label"], doc["b"]["label"]) == (
        "monaco-terrain [flat]",
        "monaco-terrain [flat_tiles]",
    )
    # and indeed nothing changed: every delta of the table is 0
    deltas = [row["delta"] for row in doc["table"] if row["delta"] is not None]
    assert deltas and all(d == 0 for d in deltas)


def test_runs_without_a_command_are_named_by_their_settings(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """A folder of a twin before the command was recorded: the settings name both runs."""
    old = tmp_path / "flat_old"
    shutil.copytree(runs["flat"], old)
    summary = json.loads((old / "summary.json").read_text())
    del summary["provenance"]["command"]
    (old / "summary.json").write_text(json.dumps(summary))
    compare(runs["terrain"], old, tmp_path / "old")
    doc = json.loads((tmp_path / "old" / "comparison.json").read_text())
    assert (doc["a"]["label"], doc["b"]["label"]) == (TERRAIN_SET, FLAT_SET)


def test_neutral_options_are_decided_for_every_option_of_twin_run() -> None:
    """Every option of ``twin run`` is either known to change no result or named in the
    labels; a new option must be put in one list or the other here (and the flags, which
    take no value, known to the parser of the recorded command)."""
    from twin.cli.run import run

    options = {p.opts[0]: p for p in run.params if isinstance(p, click.Option)}
    changes_results = {
        "--city", "--terrain", "--sites", "--inside-building", "--spacing", "--bands",
        "--visibility", "--variant",
    }  # fmt: skip
    assert set(options) - {"--help"} == RUN_NEUTRAL_OPTIONS | changes_results
    assert not RUN_NEUTRAL_OPTIONS & changes_results
    assert {k for k, p in options.items() if p.is_flag and k != "--help"} == RUN_FLAG_OPTIONS


def _meta(path: str, command: str) -> RunMeta:
    return RunMeta(
        path=path, scenario="s", input_name="c.osm", input_sha256="0" * 64, crs="EPSG:32632",
        transform=(5.0, 0.0, 0.0, 0.0, -5.0, 0.0), shape=(1, 1), sinr_threshold_db=0.0,
        bands=("3p5",), command=command,
    )  # fmt: skip


def test_labels_by_command_keep_short() -> None:
    """A path by its file name (unless both runs' names are the same), quoted as for a
    shell, at most three options then a count."""
    a = _meta("out/a", "twin run s.toml --terrain /data/dem/N43E007.hgt.zip --out out/a")
    b = _meta("out/b", "twin run /elsewhere/s.toml --out out/b --overwrite --no-progress")
    assert run_labels(a, b) == ("s (--terrain N43E007.hgt.zip)", "s")
    c = _meta("out/c", "twin run s.toml --terrain /other/N43E007.hgt.zip")
    assert run_labels(a, c) == (
        "s (--terrain /data/dem/N43E007.hgt.zip)",
        "s (--terrain /other/N43E007.hgt.zip)",
    )
    d = _meta(
        "out/d",
        "twin run s.toml --city 'my city.osm' --spacing 10.0 --bands 3.5 --visibility exact "
        "--no-cache",
    )
    assert run_labels(a, d) == (
        "s (--terrain N43E007.hgt.zip)",
        "s (--city 'my city.osm' --spacing 10.0 --bands 3.5; 1 more)",
    )


def test_an_option_that_changed_nothing_names_no_run() -> None:
    """``--bands 3.5`` for a scenario of 3.5 GHz alone: both runs record the same
    settings, so the option changed nothing and the runs are named by their folders;
    with settings that differ the option names the run, as it does when a run records
    none (a folder of an earlier ``twin``)."""
    import dataclasses

    settings = (("radio.bands_ghz", "[3.5]"), ("grid.spacing_m", "5.0"))
    a = dataclasses.replace(_meta("out/a", "twin run s.toml --out out/a"), settings=settings)
    b = dataclasses.replace(
        _meta("out/b", "twin run s.toml --bands 3.5 --out out/b"), settings=settings
    )
    assert run_labels(a, b) == ("s [a]", "s [b]")
    wider = (("radio.bands_ghz", "[3.5, 28]"), ("grid.spacing_m", "5.0"))
    c = dataclasses.replace(a, settings=wider)
    assert run_labels(c, b) == ("s", "s (--bands 3.5)")
    assert run_labels(_meta("out/a", a.command), _meta("out/b", b.command)) == (
        "s",
        "s (--bands 3.5)",
    )
