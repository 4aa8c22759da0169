"""Spectrum value over the city: sweep and LoS-vs-distance (twin.spectrum, twin.summary)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from twin.spectrum import los_share_by_distance, sweep_frequencies
from twin.summary import city_los_comparison, summarise


def test_sweep_frequencies_include_both_ends() -> None:
    f = sweep_frequencies(0.5, 40.0, 0.5)
    assert f[0] == 0.5 and f[-1] == 40.0 and f.size == 80
    assert np.allclose(np.diff(f), 0.5)


def test_los_share_by_distance_counts_pairs_by_hand() -> None:
    d = np.array([[5.0, 25.0], [15.0, 35.0], [45.0, 1.0]])
    los = np.array([[True, False], [True, True], [False, True]])
    cmp = los_share_by_distance(los, d, bin_m=20.0, max_m=60.0)
    # bins [0,20): 5, 15, 1 -> 3 pairs, all LoS; [20,40): 25 (NLoS), 35 (LoS); [40,60): 45 (NLoS)
    assert cmp.pairs.tolist() == [3, 2, 1]
    assert cmp.los_share.tolist() == [1.0, 0.5, 0.0]
    # UMi street canyon, Table 7.4.2-1, at the bin centre 30 m: 18/d + exp(-d/36)(1 - 18/d)
    assert cmp.p_umi[1] == pytest.approx(18 / 30 + math.exp(-30 / 36) * (1 - 18 / 30))
    assert cmp.p_uma[0] == 1.0  # d <= 18 m


def _assert_sweep_matches_bands(sweep: Any, bands: dict[str, Any]) -> None:
    """The sweep over 3.5 and 28 GHz gives the study's bands' capacity per user type."""
    assert sweep is not None and sweep.freq_ghz.tolist() == [3.5, 28.0]
    for k, label in enumerate(["3p5", "28"]):
        res = bands[label]
        for t in range(1, 9):
            sel = res.user_type == t
            if sel.any():
                assert sweep.mean_mbps[t - 1, k] == pytest.approx(res.capacity_mbps[sel].mean())
                assert sweep.points[t - 1, k] == sel.sum()


def test_city_sweep_matches_the_band_runs(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    from twin.scenario import with_overrides
    from twin.study import city_sweep

    r = helsinki_study
    data = r.scenario.model_dump()
    data["radio"]["sweep_ghz"] = (3.5, 28.0, 24.5)
    sc = with_overrides(type(r.scenario).model_validate(data))
    r2 = type(r)(sc, r.city, r.bounds, r.grid, r.sites, r.los, r.bands, r.timings_s)
    _assert_sweep_matches_bands(city_sweep(r2), r.bands)


def test_summary_reports_the_spectrum_value_table(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    s = summarise(helsinki_study)
    sv = s["spectrum_value"]
    for band in ("0p7", "3p5", "28"):
        assert sum(sv["user_type_share"][band].values()) == pytest.approx(1.0, abs=1e-5)
    assert sv["los_vs_38901"]["bins_with_50_pairs"] > 5
    cmp = city_los_comparison(helsinki_study)
    g = helsinki_study.grid
    out = ~g.indoor
    assert cmp.pairs.sum() <= out.sum() * len(helsinki_study.sites)
    for t, row in s["best_band_per_user_type"].items():
        means = row["mean_capacity_mbps"]
        if means:
            assert row["band"] == max(means, key=means.get), t


def test_summary_says_whether_the_o2i_loss_is_drawn(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """``o2i_sigma_p_db``: null with the default study's "margin" (the O2I loss its mean),
    sigma_P of Table 7.4.3-2 with "field" (4.4 dB low loss, 6.5 dB high), null without O2I."""
    from dataclasses import replace

    from twin.summary import _o2i_sigma_p_db

    assert summarise(helsinki_study)["o2i_sigma_p_db"] is None
    for radio, want in (
        ({"shadowing": "field"}, 4.4),
        ({"shadowing": "field", "o2i": "high"}, 6.5),
        ({"shadowing": "field", "o2i": "none"}, None),
        ({"shadowing": "off"}, None),
    ):
        data = helsinki_study.scenario.model_dump()
        data["radio"] = {**data["radio"], **radio}
        sc = type(helsinki_study.scenario).model_validate(data)
        assert _o2i_sigma_p_db(replace(helsinki_study, scenario=sc)) == want


def _outdoor_distances(r: Any) -> tuple[np.ndarray, np.ndarray]:
    """(outdoor receivers x sites) distances of a study, and the outdoor mask."""
    g = r.grid
    out = ~g.indoor
    sx = np.array([s.x_m for s in r.sites])
    sy = np.array([s.y_m for s in r.sites])
    return np.hypot(g.x_m[out, None] - sx[None, :], g.y_m[out, None] - sy[None, :]), out


def _assert_same_comparison(want: Any, got: Any) -> None:
    for name in ("d_lo_m", "d_hi_m", "pairs", "los_share", "p_umi", "p_uma"):
        assert np.array_equal(getattr(want, name), getattr(got, name), equal_nan=True), name


def test_city_los_comparison_site_by_site_equals_the_whole_matrix(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """The site-by-site counts give what the (outdoor receivers x sites) matrices give."""
    r = helsinki_study
    d2d, out = _outdoor_distances(r)
    max_m = float(min(1000.0, np.ceil(d2d.max() / 20.0) * 20.0))
    want = los_share_by_distance(
        r.los[out], d2d, bin_m=20.0, max_m=max_m, h_ut_m=r.scenario.grid.outdoor_height_m
    )
    got = city_los_comparison(r)
    assert got.pairs.sum() > 10_000
    _assert_same_comparison(want, got)
    # a smaller city than the cap: the bins stop at the largest distance
    small = city_los_comparison(r, max_m=200.0)
    assert small.d_hi_m[-1] == 200.0 and np.array_equal(small.pairs, got.pairs[:10])
    # a reach under the smallest block side: blocks only select candidates
    tiny = city_los_comparison(r, max_m=40.0)
    assert tiny.d_hi_m[-1] == 40.0 and np.array_equal(tiny.pairs, got.pairs[:2])
    assert np.array_equal(tiny.los_share, got.los_share[:2], equal_nan=True)


@pytest.fixture(scope="module")
def radius_study(helsinki_city, default_scenario):  # type: ignore[no-untyped-def]
    """The default scenario on a 20 m grid with every site's radius fixed at 600 m (the
    smallest that leaves no receiver unserved), and a sweep over two of its bands."""
    from twin.scenario import with_overrides
    from twin.study import run_study

    data = with_overrides(default_scenario, spacing_m=20.0).model_dump()
    data["radio"]["max_site_distance_m"] = 600.0
    data["radio"]["sweep_ghz"] = (3.5, 28.0, 24.5)
    return run_study(type(default_scenario).model_validate(data), city=helsinki_city)


def test_city_los_comparison_leaves_out_the_pairs_beyond_the_radius(radius_study) -> None:  # type: ignore[no-untyped-def]
    """Pairs beyond a site's radius were not traced: they are not NLoS pairs."""
    r = radius_study
    d2d, out = _outdoor_distances(r)
    assert d2d.max() > 900.0  # the city reaches beyond the radius
    d2d[d2d > 600.0] = np.nan  # in no bin
    want = los_share_by_distance(
        r.los[out], d2d, bin_m=20.0, max_m=600.0, h_ut_m=r.scenario.grid.outdoor_height_m
    )
    got = city_los_comparison(r)
    assert got.d_hi_m[-1] == 600.0
    _assert_same_comparison(want, got)
    # near the radius the share is the geometry's, not the 0 of untraced pairs
    assert got.los_share[-5:].min() > 0.05


def test_city_sweep_with_a_fixed_radius_matches_the_band_runs(radius_study) -> None:  # type: ignore[no-untyped-def]
    """As in the study, a site beyond its radius gives a receiver no interference."""
    from twin.study import city_sweep

    _assert_sweep_matches_bands(city_sweep(radius_study), radius_study.bands)


def test_the_sweep_table_has_its_csvw_metadata(radius_study, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A run with a sweep writes ``sweep.csv``; its metadata, typed rows and provenance
    as the other tables' (tests.csvw_check)."""
    import json

    from tests.csvw_check import check_csv_tables
    from twin.io.outputs import write_run

    write_run(radius_study, tmp_path / "run", overwrite=False)
    prov = json.loads((tmp_path / "run" / "summary.json").read_text())["provenance"]
    names = check_csv_tables(tmp_path / "run", prov)
    assert names == ["los_vs_distance.csv", "summary.csv", "sweep.csv"]


@pytest.fixture(scope="module")
def field_sweep_study(helsinki_city, default_scenario):  # type: ignore[no-untyped-def]
    """The default scenario on a 20 m grid with correlated shadow fields, a 600 m site
    radius and a sweep of seven frequencies."""
    from twin.scenario import with_overrides
    from twin.study import run_study

    data = with_overrides(default_scenario, spacing_m=20.0).model_dump()
    data["radio"]["max_site_distance_m"] = 600.0
    data["radio"]["shadowing"] = "field"
    data["radio"]["sweep_ghz"] = (0.5, 30.5, 5.0)
    return run_study(type(default_scenario).model_validate(data), city=helsinki_city)


def test_city_sweep_by_tiles_equals_the_whole_matrix_sweep(field_sweep_study) -> None:  # type: ignore[no-untyped-def]
    """The sweep through the study's radio pass, in groups of frequencies, gives the
    values of the radio stage run on the whole (N, M) LoS and shadow field."""
    from twin.spectrum import frequency_sweep, sweep_frequencies
    from twin.study import (
        _SWEEP_BYTES_PER_RECEIVER,
        city_sweep,
        radio_params,
        shadow_unit_fields,
    )

    r = field_sweep_study
    g = r.grid
    params = radio_params(r.scenario)
    los = r.los
    want = frequency_sweep(
        list(sweep_frequencies(0.5, 30.5, 5.0)), r.sites, los, g.x_m, g.y_m, g.rx_height_m,
        g.indoor, g.is_grid, (r.scenario.grid.spacing_m / 1000.0) ** 2, params,
        shadow_unit=shadow_unit_fields(g, r.sites, los, params), site_radius_m=r.site_radius_m,
    )  # fmt: skip
    one_group = city_sweep(r)
    per_frequency = city_sweep(r, group_bytes=1)
    three = city_sweep(r, group_bytes=3 * len(g) * _SWEEP_BYTES_PER_RECEIVER)  # groups of 3, 3, 1
    assert want.freq_ghz.size == 7 and np.isfinite(want.all_mean_mbps).all()
    assert want.points.sum() == 7 * len(g)
    for got in (one_group, per_frequency, three):
        assert got is not None
        assert np.array_equal(got.freq_ghz, want.freq_ghz)
        assert np.array_equal(got.points, want.points)
        for name in ("mean_mbps", "median_mbps", "all_mean_mbps"):
            assert np.array_equal(getattr(got, name), getattr(want, name), equal_nan=True), name


def test_city_sweep_refuses_a_group_size_below_one_byte(field_sweep_study) -> None:  # type: ignore[no-untyped-def]
    from twin.errors import InputError
    from twin.study import city_sweep

    with pytest.raises(InputError, match="group_bytes: 0 must be >= 1"):
        city_sweep(field_sweep_study, group_bytes=0)


def test_the_user_type_table_is_each_types_mean_and_median(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """The per-type rows, computed with one capacity array and in-place partitions, are
    ``np.mean`` and ``np.median`` of each type's values taken out whole (bit for bit),
    and the band's figures in the summary are those of the row of all receivers."""
    from twin.summary import type_table

    summary = summarise(helsinki_study)
    threshold = helsinki_study.scenario.radio.sinr_threshold_db
    for label, res in helsinki_study.bands.items():
        capacity, sinr = res.capacity_mbps.copy(), res.sinr_db.copy()
        rows = type_table(label, res, threshold_db=threshold)
        assert [r["user_type"] for r in rows] == [*range(1, 9), "all"]
        # the result is untouched (its capacity is derived when read, from its arrays)
        assert np.array_equal(res.capacity_mbps, capacity)
        assert np.array_equal(res.sinr_db, sinr)
        for row in rows:
            t = row["user_type"]
            sel = np.ones(capacity.size, bool) if t == "all" else res.user_type == t
            assert row["points"] == int(sel.sum())
            if not sel.any():
                assert row["mean_capacity_mbps"] is None and row["median_capacity_mbps"] is None
                continue
            assert row["mean_capacity_mbps"] == float(np.mean(capacity[sel]))
            assert row["median_capacity_mbps"] == float(np.median(capacity[sel]))
            assert row["covered_share"] == float(np.mean(sinr[sel] >= threshold))
            assert row["mean_sinr_db"] == float(np.mean(sinr[sel]))
        band = summary["bands"][label]
        assert band["mean_capacity_mbps"] == float(np.mean(capacity))
        assert band["median_capacity_mbps"] == float(np.median(capacity))
        assert band["covered_share"] == float(np.mean(sinr >= threshold))
        assert sum(r["points"] for r in rows[:-1]) == capacity.size
