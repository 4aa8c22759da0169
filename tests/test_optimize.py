"""The placement optimiser on Helsinki: it beats the hexagonal layout and random picks of
the same number of candidates on its objective, measured by full twin runs of each
layout; its variant runs with ``twin run --variant``; and bad input is refused."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import EXTRACTS, ROOT
from tests.csvw_check import check_csv_tables
from twin.cli.main import cli
from twin.errors import InputError
from twin.optimize import (
    _State,
    _surrogate,
    hex_pick,
    hex_points,
    optimise,
    random_pick,
    score_band,
)
from twin.sites import Site
from twin.study import run_study
from twin.whatif import Optimization, optimize_scenario

K = 4
BAND_GHZ = 28.0
SEEDS = (1, 2, 3, 4, 5, 6)


@pytest.fixture(scope="module")
def opt(default_scenario, helsinki_city) -> Optimization:  # type: ignore[no-untyped-def]
    return optimize_scenario(
        default_scenario, k=K, band_ghz=BAND_GHZ, objective="indoor", candidates="streets",
        city=helsinki_city, spacing_m=40.0, random_seeds=SEEDS,
    )  # fmt: skip


def run_objective(opt: Optimization, sites: list[Site]):  # type: ignore[no-untyped-def]
    """The objective of ``sites`` in a full twin run (city -> LoS -> radio)."""
    result = run_study(opt.scenario, city=opt.city, sites=sites)
    return score_band(
        result.bands["28"], result.grid,
        threshold_db=opt.scenario.radio.sinr_threshold_db, objective="indoor",
    )  # fmt: skip


def test_beats_hex_and_random_layouts_in_full_runs(opt: Optimization) -> None:
    p = opt.problem
    chosen = run_objective(opt, opt.placement.sites)
    hexed = run_objective(opt, p.sites(hex_pick(p, K, opt.bounds)))
    randoms = [run_objective(opt, p.sites(random_pick(p, K, seed=s))) for s in SEEDS]
    assert chosen.value > hexed.value
    for r in randoms:
        assert chosen.key() > r.key()
    assert chosen.value > max(r.value for r in randoms)
    # the optimiser's own numbers are those of the runs
    assert chosen.value == pytest.approx(opt.placement.score.value, abs=2e-3)
    assert hexed.value == pytest.approx(opt.hex.value, abs=2e-3)


def test_history_reports_the_objective_after_each_site(opt: Optimization) -> None:
    h = opt.placement.history
    greedy = [r for r in h if r["phase"] == "greedy"]
    assert [r["sites"] for r in greedy] == list(range(1, K + 1))
    p = opt.problem
    cols = []
    for r in greedy:
        cols.append(next(j for j, c in enumerate(p.candidates) if c.site_id == r["candidate"]))
        assert r["value"] == pytest.approx(p.evaluate(cols).value)
    final = h[-1]
    assert final["value"] == pytest.approx(opt.placement.score.value)
    assert [s.site_id for s in opt.placement.sites] == [
        f"O{p.candidates[j].site_id}" for j in opt.placement.columns
    ]
    assert all(s.placed_by == "optimizer" and s.extra["candidate"] for s in opt.placement.sites)


def test_surrogate_is_exact_with_reuse_1(opt: Optimization) -> None:
    p = opt.problem
    q = replace(p, params=replace(p.params, reuse=1), _cache={}, evaluations=0)
    for base in ([], [3], [3, 40, 77]):
        trial = np.array([5, 100, 200], dtype=np.int64)
        value, tie = _surrogate(q, _State.of(q, base), trial)
        for j, v, t in zip(trial, value, tie, strict=True):
            exact = q.evaluate([*base, int(j)])
            assert v == pytest.approx(exact.value, abs=1e-9)
            assert t == pytest.approx(exact.tie, rel=1e-6)


def _surrogate_by_hand(p, base: list[int], trial: np.ndarray):  # type: ignore[no-untyped-def]
    """The surrogate of the module notes on whole (receivers x candidates) arrays: each
    candidate takes the receivers where its power beats the set's best, each cell's
    bandwidth follows its grid points, I = (P_total - P_best) / reuse."""
    from twin.radio.budget import noise_power_dbm, seed_bandwidth_hz, shannon_capacity_bps

    g, q = p.grid, p.params
    n = len(g)
    cols = list(base)
    if cols:
        pw = p.rx_mw[:, cols]
        owner = np.argmax(pw, axis=1)
        best0 = pw[np.arange(n), owner]
        owner[best0 <= 0] = -1
        total0 = pw.sum(axis=1)
    else:
        best0, total0, owner = np.zeros(n), np.zeros(n), np.full(n, -1)
    value, tie = [], []
    for c in trial:
        pc = p.rx_mw[:, c]
        new = pc > best0
        best = np.where(new, pc, best0)
        # grid points of each cell once c joins: c's own, each member's less those c takes
        cell = np.where(new, len(cols), owner)
        points = np.bincount(cell[g.is_grid & (cell >= 0)], minlength=len(cols) + 1)
        if q.bandwidth == "seed":
            n_user = np.maximum(q.user_density_per_km2 * points * (g.spec.spacing_m / 1e3) ** 2, 1)
            bw_cell = seed_bandwidth_hz(p.freq_ghz, n_user, n_reuse=q.reuse)
        else:
            bw_cell = np.full(points.shape, q.channel_mhz(p.freq_ghz) * 1e6 / q.reuse)
        bw = bw_cell[np.maximum(cell, 0)]
        noise_mw = 10 ** (noise_power_dbm(bw, noise_figure_db=q.noise_figure_db) / 10)
        sinr = best / ((total0 + pc - best) / q.reuse + noise_mw)
        served = best > 0
        covered = served & (10 * np.log10(np.where(served, sinr, 1.0)) >= q.sinr_threshold_db)
        with np.errstate(divide="ignore"):
            sinr_db = 10 * np.log10(sinr)
        cap = (
            np.where(
                served,
                shannon_capacity_bps(
                    bw, sinr_db, max_spectral_efficiency=q.max_spectral_efficiency
                ),
                0.0,
            )
            / 1e6
        )
        ind = g.is_grid & g.indoor
        v, t = {
            "coverage": (covered.mean(), cap.mean()),
            "capacity": (cap.mean(), covered.mean()),
            "indoor": (covered[ind].mean(), cap[ind].mean()),
        }[p.objective]
        value.append(v)
        tie.append(t)
    return np.array(value), np.array(tie)


@pytest.mark.parametrize("objective", ["coverage", "capacity", "indoor"])
def test_compiled_surrogate_equals_its_formula(opt: Optimization, objective: str) -> None:
    """With reuse 3 the surrogate is not the exact objective; it is the formula of the
    module notes, worked here on whole arrays, for sets of 0 to 3 sites, the seed and a
    fixed bandwidth, with and without a spectral-efficiency cap."""
    p = opt.problem
    last = p.rx_mw.shape[1] - 1  # the last candidate
    trial = np.array([0, 5, 100, 200, last], dtype=np.int64)
    for params in (
        p.params,
        replace(p.params, max_spectral_efficiency=2.0),
        replace(p.params, bandwidth="fixed", channel_bandwidth_mhz=20.0),
    ):
        q = replace(p, params=params, objective=objective, _cache={}, evaluations=0)
        for base in ([], [3], [3, 40, 77]):
            value, tie = _surrogate(q, _State.of(q, base), trial)
            want_value, want_tie = _surrogate_by_hand(q, base, trial)
            assert value == pytest.approx(want_value, abs=1e-12)
            assert tie == pytest.approx(want_tie, rel=1e-9)


def test_hex_points_cover_the_area_evenly(opt: Optimization) -> None:
    pts = hex_points(opt.bounds, 7)
    assert pts.shape == (7, 2)
    minx, miny, maxx, maxy = opt.bounds
    assert np.all(
        (pts[:, 0] >= minx) & (pts[:, 0] <= maxx) & (pts[:, 1] >= miny) & (pts[:, 1] <= maxy)
    )
    d = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
    np.fill_diagonal(d, np.inf)
    nearest = d.min(axis=1)
    assert nearest.max() / nearest.min() < 1.01  # a lattice: one spacing


def test_k_outside_the_candidates_is_refused(opt: Optimization) -> None:
    n = len(opt.problem.candidates)  # 398 on the embedded city
    assert n > 300
    with pytest.raises(InputError, match=f"choose between 1 and the {n} candidates"):
        optimise(opt.problem, n + 1)
    with pytest.raises(InputError, match="choose between 1"):
        optimise(opt.problem, 0)


@pytest.mark.parametrize("shadowing", ["margin", "field"])
def test_cli_writes_sites_and_a_variant_that_twin_run_accepts(
    tmp_path: Path, shadowing: str
) -> None:
    out = tmp_path / "opt"
    scenario = (ROOT / "scenarios" / "default.toml").read_text()
    scenario = scenario.replace('"../data/helsinki.osm.pbf"', f'"{EXTRACTS["helsinki"]}"')
    # with a shadowing field the chosen sites keep the fields they were scored with
    scenario = scenario.replace('shadowing = "margin"', f'shadowing = "{shadowing}"')
    assert f'shadowing = "{shadowing}"' in scenario
    sc_path = tmp_path / "default.toml"
    sc_path.write_text(scenario)
    res = CliRunner().invoke(
        cli,
        ["-q", "optimize", str(sc_path), "--sites", "3", "--band", "3.5", "--objective",
         "capacity", "--candidates", "rooftops", "--spacing", "40", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "greedy  3:" in res.output and "hex:" in res.output and "random:" in res.output
    assert "note:" not in res.output  # capacity is never saturated
    names = {p.name for p in out.iterdir()}
    assert {"sites.geojson", "candidates.geojson", "variant.toml", "history.csv",
            "optimize.json", "objective.png"} <= names  # fmt: skip
    summary = json.loads((out / "optimize.json").read_text())
    assert check_csv_tables(out, summary["provenance"]) == ["history.csv"]
    sites = json.loads((out / "sites.geojson").read_text())
    chosen = [c["candidate"] for c in summary["chosen"]]
    assert [f["properties"]["site_id"] for f in sites["features"]] == [f"O{c}" for c in chosen]
    assert all(f["properties"]["class"] in ("roof", "corner") for f in sites["features"])
    # rooftop candidates (a roof's point or corner) name their building; no -1 written
    # (a site on no building is NULL, as a run's sites layer writes it)
    assert all(isinstance(f["properties"]["building_id"], int) for f in sites["features"])
    assert all(f["properties"]["building_id"] >= 0 for f in sites["features"])
    assert summary["result"]["value"] > summary["hex"]["value"]
    assert summary["result"]["value"] > summary["random_best_value"]
    # the variant carries its provenance and the attribution as TOML comments
    variant_text = (out / "variant.toml").read_text()
    assert variant_text.startswith("# tool: twin\n# version: ")
    assert f"# input_sha256: {summary['provenance']['input_sha256']}\n" in variant_text
    assert "OpenStreetMap contributors (ODbL 1.0)" in variant_text
    # append the variant and run it
    sc_path.write_text(scenario + "\n" + (out / "variant.toml").read_text())
    run_dir = tmp_path / "run"
    res = CliRunner().invoke(
        cli,
        ["-q", "run", str(sc_path), "--variant", summary["variant"], "--spacing", "40",
         "--out", str(run_dir), "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    run = json.loads((run_dir / "summary.json").read_text())
    assert run["sites"]["count"] == 3 and list(run["bands"]) == ["3p5"]
    assert run["bands"]["3p5"]["mean_capacity_mbps"] == pytest.approx(
        summary["result"]["mean_capacity_mbps"], rel=1e-3
    )


def test_cli_says_when_every_layout_covers_everything(tmp_path: Path) -> None:
    """With the seed link budget every layout covers every receiver: the output says that
    coverage ranked nothing and gives the tie-breaker of each layout, as in optimize.json."""
    out = tmp_path / "opt"
    res = CliRunner().invoke(
        cli,
        ["-q", "optimize", str(ROOT / "scenarios" / "default.toml"), "--sites", "2", "--band",
         "3.5", "--candidates", "rooftops", "--spacing", "40", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "optimize.json").read_text())
    assert summary["result"]["value"] == summary["hex"]["value"] == 1.0
    note = next(line for line in res.output.splitlines() if "note:" in line)
    assert "every layout covers all receivers (SINR >= -5 dB)" in note
    chosen = summary["result"]["mean_capacity_mbps"]
    hexed = summary["hex"]["mean_capacity_mbps"]
    assert f"chosen {chosen:.2f}, hex {hexed:.2f}" in note and chosen > hexed


def test_cli_refuses_more_sites_than_candidates(tmp_path: Path) -> None:
    out = tmp_path / "opt"
    res = CliRunner().invoke(
        cli,
        ["optimize", str(ROOT / "scenarios" / "hotspot_28ghz.toml"), "--sites", "500",
         "--band", "28", "--candidates", "rooftops", "--spacing", "40", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "--sites: 500 is more than the" in res.output and "rooftop candidates" in res.output
    assert not out.exists()


def test_the_documented_workflow_runs_with_the_default_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """optimize, append variant.toml, run the variant (docs/what-if.md step 4) with no
    --out: optimize used to write out/<scenario>-<variant>, where the run of the variant
    writes too, so the run stopped on a non-empty folder."""
    scenario = (ROOT / "scenarios" / "default.toml").read_text()
    scenario = scenario.replace('"../data/helsinki.osm.pbf"', f'"{EXTRACTS["helsinki"]}"')
    sc_path = tmp_path / "default.toml"
    sc_path.write_text(scenario)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        cli,
        ["-q", "optimize", str(sc_path), "--sites", "2", "--band", "3.5", "--objective",
         "capacity", "--candidates", "rooftops", "--spacing", "40"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    opt_dir = Path("out") / "default-optimize-opt_capacity_3p5_k2"
    assert f"wrote {opt_dir}/" in res.output
    assert "(it writes out/default-opt_capacity_3p5_k2/)" in res.output
    sc_path.write_text(scenario + "\n" + (opt_dir / "variant.toml").read_text())
    res = CliRunner().invoke(
        cli,
        ["-q", "run", str(sc_path), "--variant", "opt_capacity_3p5_k2", "--spacing", "40",
         "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (Path("out") / "default-opt_capacity_3p5_k2" / "summary.json").is_file()
    assert (opt_dir / "optimize.json").is_file()  # the optimizer's results are kept


@pytest.mark.parametrize("value", ["-1", "0"])
def test_max_roofs_below_one_is_refused(tmp_path: Path, value: str) -> None:
    """-1 meant "no limit" silently (1260 candidates instead of 681) and 0 blamed the city
    ("offers no rooftops candidate"): both are refused naming the option."""
    out = tmp_path / "opt"
    res = CliRunner().invoke(
        cli,
        ["optimize", str(ROOT / "scenarios" / "default.toml"), "--sites", "2", "--band", "3.5",
         "--candidates", "rooftops", "--max-roofs", value, "--spacing", "40", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "'--max-roofs'" in res.output and f"{value} is not in the range x>=1" in res.output
    assert "offers no" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_too_many_sites_suggests_only_what_would_help(tmp_path: Path) -> None:
    """With --candidates both in use, "or --candidates both" is no advice: the message
    offers a larger --max-roofs when the roof limit was reached, and only that."""
    out = tmp_path / "opt"
    res = CliRunner().invoke(
        cli,
        ["optimize", str(ROOT / "scenarios" / "default.toml"), "--sites", "2000", "--band",
         "3.5", "--candidates", "both", "--spacing", "40", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "--sites: 2000 is more than the" in res.output
    assert "rooftop and street candidates" in res.output
    assert "or give a larger --max-roofs (now 60)" in res.output
    assert "--candidates both" not in res.output
    assert not out.exists()


def test_rooftop_candidates_need_one_roof_or_more(helsinki_city) -> None:  # type: ignore[no-untyped-def]
    from twin.candidates import rooftop_candidates

    for bad in (0, -1):
        with pytest.raises(InputError, match=f"max_roofs: {bad} is not allowed; give 1 or more"):
            rooftop_candidates(helsinki_city.buildings, helsinki_city.bounds, max_roofs=bad)
    assert len({c.site_id.partition("c")[0] for c in rooftop_candidates(
        helsinki_city.buildings, helsinki_city.bounds, max_roofs=1)}) == 1  # fmt: skip


def test_street_sites_of_an_optimisation_have_no_building(opt: Optimization) -> None:
    """Street candidates stand on no building: the chosen sites' frame writes NULL
    there (an Int64 NA), not -1, as a run's sites layer does."""
    from twin.io.optimize_outputs import _chosen_frame

    frame = _chosen_frame(opt)
    assert len(frame) == K and str(frame["building_id"].dtype) == "Int64"
    assert frame["building_id"].isna().all()
    assert all(s.building_id == -1 for s in opt.placement.sites)  # in memory: -1
