"""``scenario.sha256``: the same study from copied inputs hashes the same, a moved site
does not, and anyone can check the hash against ``summary.json``'s settings."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXTRACTS, ROOT
from twin.city import load_city
from twin.scenario import with_overrides
from twin.sources.scenario_file import read_scenario
from twin.study import StudyResult, run_study
from twin.summary import scenario_hash, scenario_settings


def _sites_csv(path: Path, lon: float) -> Path:
    path.write_text(f"site_id,lon,lat,height_m,power_dbm\nS1,{lon},60.1705,30,46\n")
    return path


def _study(scenario_path: Path, city_path: Path, sites: Path | None = None) -> StudyResult:
    sc = read_scenario(scenario_path)
    sc = with_overrides(
        sc,
        spacing_m=40.0,
        bands_ghz=(3.5,),
        sites_file=None if sites is None else str(sites),
    )
    return run_study(sc, city=load_city(str(city_path)))


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The default scenario and the embedded city, copied elsewhere (the scenario's
    relative ``city.source`` then points at the copy)."""
    root = tmp_path_factory.mktemp("elsewhere")
    (root / "scenarios").mkdir()
    (root / "data").mkdir()
    shutil.copy(ROOT / "scenarios" / "default.toml", root / "scenarios" / "default.toml")
    shutil.copy(EXTRACTS["helsinki"], root / "data" / EXTRACTS["helsinki"].name)
    return root / "scenarios" / "default.toml", root / "data" / EXTRACTS["helsinki"].name


def test_copied_inputs_hash_the_same(copied: tuple[Path, Path]) -> None:
    here = _study(ROOT / "scenarios" / "default.toml", EXTRACTS["helsinki"])
    there = _study(*copied)
    assert here.scenario.city.source != there.scenario.city.source  # other paths
    assert scenario_hash(here) == scenario_hash(there)
    # not a hash of the path: the settings name the city by its content
    settings = scenario_settings(here)
    sha = hashlib.sha256(EXTRACTS["helsinki"].read_bytes()).hexdigest()
    assert settings["city"]["source"] == f"sha256:{sha}"
    assert str(ROOT) not in json.dumps(settings)


def test_moved_site_changes_the_hash_and_a_copied_file_does_not(tmp_path: Path) -> None:
    scenario = ROOT / "scenarios" / "default.toml"
    a = _study(scenario, EXTRACTS["helsinki"], _sites_csv(tmp_path / "a.csv", 24.9410))
    (tmp_path / "copy").mkdir()
    same = _study(scenario, EXTRACTS["helsinki"], _sites_csv(tmp_path / "copy" / "a.csv", 24.9410))
    moved = _study(scenario, EXTRACTS["helsinki"], _sites_csv(tmp_path / "b.csv", 24.9420))
    assert scenario_hash(a) == scenario_hash(same)
    assert scenario_hash(a) != scenario_hash(moved)
    used = scenario_settings(a)["sites_used"]
    assert [s["site_id"] for s in used] == ["S1"]
    assert used[0]["x_m"] == round(a.sites[0].x_m, 3)
    # ~55 m east at 60.17 N: the settings carry the move
    dx_m = scenario_settings(moved)["sites_used"][0]["x_m"] - used[0]["x_m"]
    assert 50.0 < dx_m < 60.0


def test_summary_hash_is_checkable(helsinki_study: StudyResult) -> None:
    """``scenario.sha256`` is the sha256 of ``json.dumps(scenario.settings, sort_keys=True)``,
    recomputed here from the written document alone."""
    from twin.summary import summarise

    doc = json.loads(json.dumps(summarise(helsinki_study)))  # as written and read back
    text = json.dumps(doc["scenario"]["settings"], sort_keys=True)
    assert hashlib.sha256(text.encode()).hexdigest() == doc["scenario"]["sha256"]
    assert doc["provenance"]["scenario_sha256"] == doc["scenario"]["sha256"]
    assert "variants" not in doc["scenario"]["settings"]
    assert len(doc["scenario"]["settings"]["sites_used"]) == len(helsinki_study.sites)


def test_another_city_drops_the_old_citys_description() -> None:
    """``--city`` keeps the scenario's settings, not its words about the old city."""
    sc = read_scenario(ROOT / "scenarios" / "default.toml")
    assert "Helsinki" in sc.description
    other = with_overrides(sc, city_source=str(EXTRACTS["monaco"]))
    assert "Helsinki" not in other.description
    assert other.description == "the 'default' scenario's settings on monaco.osm.gz"
    assert other.city.name is None and other.city.area is None
    assert with_overrides(sc, spacing_m=10.0).description == sc.description


def test_a_renamed_city_file_hashes_the_same(tmp_path: Path) -> None:
    """``--city`` writes the file's name into the description: words, not settings, so a
    renamed copy of the city is the same study."""
    sc = read_scenario(ROOT / "scenarios" / "default.toml")
    results = []
    for name in ("a.osm.pbf", "b.osm.pbf"):
        shutil.copy(EXTRACTS["helsinki"], tmp_path / name)
        other = with_overrides(
            sc, city_source=str(tmp_path / name), spacing_m=40.0, bands_ghz=(3.5,)
        )
        results.append(run_study(other, city=load_city(str(tmp_path / name))))
    a, b = results
    assert a.scenario.description != b.scenario.description
    assert "description" not in scenario_settings(a)
    assert scenario_hash(a) == scenario_hash(b)


def test_summary_gives_the_study_area_in_lonlat(helsinki_study: StudyResult) -> None:
    """``city.area_wgs84`` is the study area (``bounds_m``) in lon/lat, inside the
    buildings' extent (``bounds_wgs84``) that the extract's declared bounds cut."""
    from pyproj import Transformer

    from twin.summary import summarise

    city = json.loads(json.dumps(summarise(helsinki_study)))["city"]
    t = Transformer.from_crs(helsinki_study.city.crs, 4326, always_xy=True)
    want = t.transform_bounds(*city["bounds_m"], densify_pts=21)
    assert city["area_wgs84"] == pytest.approx(list(want), abs=1e-7)
    w, s, e, n = city["bounds_wgs84"]
    aw, as_, ae, an = city["area_wgs84"]
    assert w <= aw and s <= as_ and ae <= e and an <= n
    assert (aw, as_, ae, an) != (w, s, e, n)  # Helsinki's extract cuts through buildings
