"""The placement optimiser on terrain (Monaco on its SRTM3 tile,
``scenarios/monaco-terrain.toml``, at 80 m): its candidates and fixed sites stand on the
ground as a study stands them, its LoS is the study's, the exact evaluation of a layout is
what ``run_study`` gives for the same sites, and the variant ``twin optimize`` writes runs
with ``twin run`` on the same terrain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from twin.city.ground import city_ground, sites_on_ground
from twin.cli.main import cli
from twin.optimize import random_pick, score_band
from twin.scenario import Scenario
from twin.sources.scenario_file import read_scenario
from twin.study import StudyResult, load_scenario_city, run_study
from twin.visibility import BuildingPrisms, los_matrix
from twin.whatif import Optimization, optimize_scenario

SCENARIO = ROOT / "scenarios" / "monaco-terrain.toml"
SPACING_M = 80.0
BAND_GHZ = 3.5
LABEL = "3p5"
K = 2


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    sc = read_scenario(SCENARIO)
    # no automatic site radius: the optimiser has none, so a study of the same sites
    # gives the same receivers every site's signal and interference
    radio = sc.radio.model_copy(update={"max_site_distance_m": float("inf")})
    return sc.model_copy(update={"radio": radio})


@pytest.fixture(scope="module")
def city(scenario):  # type: ignore[no-untyped-def]
    return load_scenario_city(scenario)


@pytest.fixture(scope="module")
def opt(scenario, city) -> Optimization:  # type: ignore[no-untyped-def]
    # the scenario's hexagonal sites kept (some on roofs, some ground masts), roof and
    # street candidates: every ground rule of a site
    return optimize_scenario(
        scenario, k=K, band_ghz=BAND_GHZ, objective="capacity", candidates="both",
        keep_existing=True, city=city, spacing_m=SPACING_M, max_roofs=6, random_seeds=(1,),
    )  # fmt: skip


def _study(opt: Optimization, columns: list[int]) -> StudyResult:
    return run_study(opt.scenario, city=opt.city, sites=opt.problem.sites(columns))


def test_sites_and_receivers_stand_on_the_ground(opt: Optimization) -> None:
    p = opt.problem
    ground = city_ground(opt.city)
    assert ground is not None
    sites = [*p.candidates, *p.fixed]
    assert [s.ground_m for s in sites] == [s.ground_m for s in sites_on_ground(sites, opt.city)]
    # candidates on roofs (their building's ground) and on streets (the terrain's)
    assert "candidate-roof" in {s.placed_by for s in p.candidates}
    assert any(s.building_id < 0 for s in p.candidates)
    assert p.rx_ground_m is not None
    np.testing.assert_array_equal(
        p.rx_ground_m, ground.receivers_m(p.grid.x_m, p.grid.y_m, p.grid.building_id)
    )
    # Monaco climbs from the harbour: the sites' ground spans tens of metres
    g = np.array([s.ground_m for s in sites])
    assert g.max() - g.min() > 30.0


@pytest.mark.parametrize("pick", ["chosen", "random"])
def test_exact_evaluation_is_the_study_of_the_same_sites(opt: Optimization, pick: str) -> None:
    p = opt.problem
    cols = opt.placement.columns if pick == "chosen" else random_pick(p, K, seed=7)
    study = _study(opt, list(cols))
    assert [s.ground_m for s in study.sites] == [s.ground_m for s in p.sites(cols)]
    np.testing.assert_array_equal(study.grid.x_m, p.grid.x_m)
    np.testing.assert_array_equal(study.grid.y_m, p.grid.y_m)
    # the same LoS, pair by pair (the study's tiles and the problem share los_on_ground)
    np.testing.assert_array_equal(study.los_bits.unpack(), p.los[:, p.fixed_columns + list(cols)])
    mine = p.band_result(cols)
    theirs = study.bands[LABEL]
    for name in ("rsrp_dbm", "sinr_db", "capacity_mbps"):
        np.testing.assert_allclose(
            np.asarray(getattr(mine, name), dtype=float),
            np.asarray(getattr(theirs, name), dtype=float),
            rtol=0, atol=1e-6, equal_nan=True, err_msg=name,
        )  # fmt: skip
    np.testing.assert_array_equal(mine.serving_site, theirs.serving_site)
    score = score_band(
        theirs, study.grid, threshold_db=p.params.sinr_threshold_db, objective=p.objective
    )
    assert p.evaluate(cols) == score


def test_the_problem_sees_the_terrain(opt: Optimization) -> None:
    """Its LoS is not the flattened city's: the hills hide sites (and the buildings'
    prisms above their datum are not those of flat ground)."""
    p = opt.problem
    g = p.grid
    sites = [*p.candidates, *p.fixed]
    flat = los_matrix(
        BuildingPrisms.from_geodataframe(opt.city.buildings),
        np.column_stack([g.x_m, g.y_m, g.rx_height_m]),
        g.building_id,
        np.array([(s.x_m, s.y_m, s.height_m) for s in sites]),
    )
    assert (flat & ~p.los).sum() > 0.01 * p.los.size


def test_cli_variant_runs_on_the_terrain(tmp_path: Path) -> None:
    text = (
        SCENARIO.read_text()
        .replace('"../data/monaco.osm.gz"', f'"{ROOT / "data" / "monaco.osm.gz"}"')
        .replace('"../data/N43E007.hgt.zip"', f'"{ROOT / "data" / "N43E007.hgt.zip"}"')
    )
    sc_path = tmp_path / "monaco-terrain.toml"
    sc_path.write_text(text)
    out = tmp_path / "opt"
    res = CliRunner().invoke(
        cli,
        ["-q", "optimize", str(sc_path), "--sites", "2", "--band", "3.5", "--objective",
         "capacity", "--candidates", "rooftops", "--max-roofs", "6", "--spacing", "80",
         "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert {"sites.geojson", "candidates.geojson", "variant.toml", "optimize.json"} <= {
        q.name for q in out.iterdir()
    }
    summary = json.loads((out / "optimize.json").read_text())
    assert summary["terrain"]["source"] == "N43E007.hgt.zip"
    sites = json.loads((out / "sites.geojson").read_text())["features"]
    assert all(f["properties"]["ground_m"] > 0 for f in sites)
    sc_path.write_text(text + "\n" + (out / "variant.toml").read_text())
    run_dir = tmp_path / "run"
    res = CliRunner().invoke(
        cli,
        ["-q", "run", str(sc_path), "--variant", summary["variant"], "--spacing", "80",
         "--out", str(run_dir), "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    run = json.loads((run_dir / "summary.json").read_text())
    assert run["sites"]["count"] == 2 and list(run["bands"]) == [LABEL]
    assert run["city"]["terrain"]["sites_ground_m"] == pytest.approx(
        {f["properties"]["site_id"]: f["properties"]["ground_m"] for f in sites}
    )
    assert run["bands"][LABEL]["mean_capacity_mbps"] == pytest.approx(
        summary["result"]["mean_capacity_mbps"], rel=1e-3
    )
