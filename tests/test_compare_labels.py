"""``twin compare`` of two runs of one scenario that a command-line override made differ
(``--terrain flat``, ``--bands``): each run is named by the scenario and the setting in
which they differ, on screen, in the table, in ``comparison.json`` and on the maps, so
that A and B can be told apart; runs that differ in nothing recorded are named by their
folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from twin.cli.main import cli

SCENARIO = ROOT / "scenarios" / "monaco-terrain.toml"
TERRAIN = "monaco-terrain (city.terrain = N43E007.hgt.zip)"
FLAT = "monaco-terrain (city.terrain = flat)"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Monaco on its terrain and, by ``--terrain flat``, on flat ground, and on flat
    ground with a second band: 50 m cells, a few seconds each."""
    root = tmp_path_factory.mktemp("labels")
    base = ["-q", "run", str(SCENARIO), "--spacing", "50", "--no-progress"]
    cases = {
        "terrain": ["--bands", "3.5"],
        "flat": ["--bands", "3.5", "--terrain", "flat"],
        "flat_two": ["--bands", "3.5,28", "--terrain", "flat"],
    }
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

    # both summaries name the same scenario: the labels come from their settings
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
        "monaco-terrain (radio.bands_ghz = [3.5])",
        "monaco-terrain (radio.bands_ghz = [3.5, 28])",
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
