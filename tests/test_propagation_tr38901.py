"""TR 38.901 Table 7.4.1-1 / 7.4.2-1 against the formulas worked by hand with math."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.errors import InputError, ModelRangeError
from twin.propagation import tr38901 as t

C = 3.0e8  # TR 38.901 Note 1


def d3(d2d: float, hbs: float, hut: float) -> float:
    return math.sqrt(d2d**2 + (hbs - hut) ** 2)


# --- hand-worked references (written out from the table, not from the code) ---------


def uma_los_hand(f: float, d2d: float, hbs: float, hut: float, he: float = 1.0) -> float:
    dbp = 4 * (hbs - he) * (hut - he) * f * 1e9 / C
    dd = d3(d2d, hbs, hut)
    if d2d <= dbp:
        return 28.0 + 22 * math.log10(dd) + 20 * math.log10(f)
    return (
        28.0 + 40 * math.log10(dd) + 20 * math.log10(f) - 9 * math.log10(dbp**2 + (hbs - hut) ** 2)
    )


def uma_nlos_hand(f: float, d2d: float, hbs: float, hut: float) -> float:
    dd = d3(d2d, hbs, hut)
    prime = 13.54 + 39.08 * math.log10(dd) + 20 * math.log10(f) - 0.6 * (hut - 1.5)
    return max(uma_los_hand(f, d2d, hbs, hut), prime)


def umi_los_hand(f: float, d2d: float, hbs: float, hut: float) -> float:
    dbp = 4 * (hbs - 1.0) * (hut - 1.0) * f * 1e9 / C
    dd = d3(d2d, hbs, hut)
    if d2d <= dbp:
        return 32.4 + 21 * math.log10(dd) + 20 * math.log10(f)
    return (
        32.4
        + 40 * math.log10(dd)
        + 20 * math.log10(f)
        - 9.5 * math.log10(dbp**2 + (hbs - hut) ** 2)
    )


def umi_nlos_hand(f: float, d2d: float, hbs: float, hut: float) -> float:
    dd = d3(d2d, hbs, hut)
    prime = 35.3 * math.log10(dd) + 22.4 + 21.3 * math.log10(f) - 0.3 * (hut - 1.5)
    return max(umi_los_hand(f, d2d, hbs, hut), prime)


def rma_pl1_hand(f: float, dd: float, h: float) -> float:
    return (
        20 * math.log10(40 * math.pi * dd * f / 3)
        + min(0.03 * h**1.72, 10) * math.log10(dd)
        - min(0.044 * h**1.72, 14.77)
        + 0.002 * math.log10(h) * dd
    )


def rma_los_hand(f: float, d2d: float, hbs: float, hut: float, h: float = 5.0) -> float:
    dbp = 2 * math.pi * hbs * hut * f * 1e9 / C
    dd = d3(d2d, hbs, hut)
    if d2d <= dbp:
        return rma_pl1_hand(f, dd, h)
    return rma_pl1_hand(f, dbp, h) + 40 * math.log10(dd / dbp)


def rma_nlos_hand(
    f: float, d2d: float, hbs: float, hut: float, h: float = 5.0, w: float = 20.0
) -> float:
    dd = d3(d2d, hbs, hut)
    prime = (
        161.04
        - 7.1 * math.log10(w)
        + 7.5 * math.log10(h)
        - (24.37 - 3.7 * (h / hbs) ** 2) * math.log10(hbs)
        + (43.42 - 3.1 * math.log10(hbs)) * (math.log10(dd) - 3)
        + 20 * math.log10(f)
        - (3.2 * math.log10(11.75 * hut) ** 2 - 4.97)
    )
    return max(rma_los_hand(f, d2d, hbs, hut, h), prime)


# --- worked numbers ----------------------------------------------------------------


def test_uma_los_worked_number() -> None:
    # 3.5 GHz, 100 m, 25 m / 1.5 m: d3D = sqrt(100^2 + 23.5^2) = 102.724 m,
    # PL1 = 28 + 22 log10(102.724) + 20 log10(3.5) = 28 + 44.258 + 10.881 = 83.139 dB
    assert t.path_loss_db("uma", 3.5, 100.0, 25.0, 1.5, True) == pytest.approx(83.139, abs=0.01)


def test_umi_nlos_worked_number() -> None:
    # 28 GHz, 100 m, 10 m / 1.5 m: d3D = 100.360 m,
    # PL' = 35.3 log10(100.360) + 22.4 + 21.3 log10(28) = 70.655 + 22.4 + 30.825 = 123.88 dB
    assert t.path_loss_db("umi", 28.0, 100.0, 10.0, 1.5, False) == pytest.approx(123.88, abs=0.01)


# --- UMa ---------------------------------------------------------------------------


@pytest.mark.parametrize("f", [0.5, 3.5, 28.0, 100.0])
@pytest.mark.parametrize("d2d", [10.0, 35.0, 100.0, 559.0, 561.0, 1000.0, 5000.0])
@pytest.mark.parametrize("hut", [1.5, 9.0, 22.5])
def test_uma_against_hand(f: float, d2d: float, hut: float) -> None:
    got_los = t.uma_path_loss_db(f, d2d, 25.0, hut, True)
    got_nlos = t.uma_path_loss_db(f, d2d, 25.0, hut, False)
    assert got_los == pytest.approx(uma_los_hand(f, d2d, 25.0, hut), abs=0.01)
    assert got_nlos == pytest.approx(uma_nlos_hand(f, d2d, 25.0, hut), abs=0.01)


def test_uma_both_sides_of_breakpoint() -> None:
    # d'BP = 4 * 24 * 0.5 * 3.5e9 / 3e8 = 560 m
    assert t.breakpoint_distance_m("uma", 3.5, 25.0, 1.5) == pytest.approx(560.0)
    below = t.uma_path_loss_db(3.5, 559.0, 25.0, 1.5, True)
    above = t.uma_path_loss_db(3.5, 561.0, 25.0, 1.5, True)
    dd_b, dd_a = d3(559.0, 25, 1.5), d3(561.0, 25, 1.5)
    assert below == pytest.approx(28 + 22 * math.log10(dd_b) + 20 * math.log10(3.5), abs=0.01)
    assert above == pytest.approx(
        28 + 40 * math.log10(dd_a) + 20 * math.log10(3.5) - 9 * math.log10(560.0**2 + 23.5**2),
        abs=0.01,
    )


def test_uma_h_e_parameter_moves_breakpoint() -> None:
    # h_E = 5 m for a 20 m UT: d'BP = 4 * 20 * 15 * 3.5e9 / 3e8 = 14000 m
    assert t.breakpoint_distance_m("uma", 3.5, 25.0, 20.0, h_e_m=5.0) == pytest.approx(14000.0)
    got = t.uma_path_loss_db(3.5, 1000.0, 25.0, 20.0, True, h_e_m=5.0)
    assert got == pytest.approx(uma_los_hand(3.5, 1000.0, 25.0, 20.0, he=5.0), abs=0.01)


def test_uma_nlos_is_los_where_los_is_larger() -> None:
    # 0.5 GHz, 10 m, UT at 15 m: PL' = 13.54 + 39.08 log10(14.866) - 6.02 - 8.1 < PL_LoS
    dd = d3(10.0, 25.0, 15.0)
    los = 28 + 22 * math.log10(dd) + 20 * math.log10(0.5)
    prime = 13.54 + 39.08 * math.log10(dd) + 20 * math.log10(0.5) - 0.6 * 13.5
    assert los > prime
    assert t.uma_path_loss_db(0.5, 10.0, 25.0, 15.0, False) == pytest.approx(los, abs=0.01)


def test_uma_c_factor_and_h_e_draw() -> None:
    assert t.uma_c_factor(100.0, 12.9) == 0.0
    assert t.uma_c_factor(18.0, 20.0) == 0.0
    # h_UT 23 m, d 100 m: C = 1 * 1.25 * 1 * exp(-100/150)
    assert t.uma_c_factor(100.0, 23.0) == pytest.approx(1.25 * math.exp(-100 / 150))
    rng = np.random.default_rng(1)
    he = t.sample_uma_h_e_m(np.full(20000, 100.0), np.full(20000, 22.5), rng)
    c = 1.25 * ((22.5 - 13) / 10) ** 1.5 * math.exp(-100 / 150)
    assert np.mean(he == 1.0) == pytest.approx(1 / (1 + c), abs=0.015)
    assert set(np.unique(he)) <= {1.0, 12.0, 15.0, 18.0, 21.0}
    low = t.sample_uma_h_e_m(np.full(100, 300.0), np.full(100, 9.0), rng)
    assert np.all(low == 1.0)  # C = 0 below 13 m: deterministic 1 m


# --- UMi ---------------------------------------------------------------------------


@pytest.mark.parametrize("f", [0.5, 3.5, 28.0, 100.0])
@pytest.mark.parametrize("d2d", [10.0, 22.2, 66.7, 209.0, 211.0, 400.0, 5000.0])
@pytest.mark.parametrize("hut", [1.5, 9.0, 22.5])
def test_umi_against_hand(f: float, d2d: float, hut: float) -> None:
    assert t.umi_path_loss_db(f, d2d, 10.0, hut, True) == pytest.approx(
        umi_los_hand(f, d2d, 10.0, hut), abs=0.01
    )
    assert t.umi_path_loss_db(f, d2d, 10.0, hut, False) == pytest.approx(
        umi_nlos_hand(f, d2d, 10.0, hut), abs=0.01
    )


def test_umi_breakpoint() -> None:
    # d'BP = 4 * 9 * 0.5 * 3.5e9 / 3e8 = 210 m
    assert t.breakpoint_distance_m("umi", 3.5, 10.0, 1.5) == pytest.approx(210.0)
    with pytest.raises(InputError, match="h_E = 1 m"):
        t.breakpoint_distance_m("umi", 3.5, 10.0, 1.5, h_e_m=2.0)
    with pytest.raises(InputError, match="UMa only"):
        t.path_loss_db("umi", 3.5, 100.0, 10.0, 1.5, True, h_e_m=2.0)


# --- RMa ---------------------------------------------------------------------------


@pytest.mark.parametrize("f", [0.5, 3.5, 30.0])
@pytest.mark.parametrize("d2d", [10.0, 500.0, 3800.0, 3900.0, 5000.0])
@pytest.mark.parametrize("hut", [1.0, 1.5, 10.0])
def test_rma_against_hand(f: float, d2d: float, hut: float) -> None:
    assert t.rma_path_loss_db(f, d2d, 35.0, hut, True) == pytest.approx(
        rma_los_hand(f, d2d, 35.0, hut), abs=0.01
    )
    assert t.rma_path_loss_db(f, d2d, 35.0, hut, False) == pytest.approx(
        rma_nlos_hand(f, d2d, 35.0, hut), abs=0.01
    )


def test_rma_breakpoint_and_los_up_to_10_km() -> None:
    # d_BP = 2 pi * 35 * 1.5 * 3.5e9 / 3e8 = 3848.45 m
    dbp = 2 * math.pi * 35 * 1.5 * 3.5e9 / C
    assert t.breakpoint_distance_m("rma", 3.5, 35.0, 1.5) == pytest.approx(dbp)
    for d in (dbp - 1.0, dbp + 1.0, 10000.0):
        assert t.rma_path_loss_db(3.5, d, 35.0, 1.5, True) == pytest.approx(
            rma_los_hand(3.5, d, 35.0, 1.5), abs=0.01
        )
    with pytest.raises(ModelRangeError, match="d2d_m=10000"):
        t.rma_path_loss_db(3.5, 10000.0, 35.0, 1.5, False)  # NLoS stops at 5 km


def test_rma_building_and_street_parameters() -> None:
    got = t.path_loss_db(
        "rma", 2.0, 2000.0, 50.0, 2.0, False, h_building_m=20.0, street_width_m=10.0
    )
    assert got == pytest.approx(rma_nlos_hand(2.0, 2000.0, 50.0, 2.0, h=20.0, w=10.0), abs=0.01)
    with pytest.raises(ModelRangeError, match="street_width_m=60"):
        t.path_loss_db("rma", 2.0, 2000.0, 50.0, 2.0, False, street_width_m=60.0)


# --- vectorisation -------------------------------------------------------------------


def test_broadcast_points_sites_bands() -> None:
    d = np.array([[50.0, 300.0], [120.0, 900.0], [10.0, 2000.0]])  # 3 points x 2 sites
    los = np.array([[True, False], [False, True], [True, True]])
    f = np.array([0.7, 3.5, 28.0])[:, None, None]  # 3 bands
    out = t.path_loss_db("uma", f, d[None], 25.0, 1.5, los[None])
    assert out.shape == (3, 3, 2)
    for b, fb in enumerate((0.7, 3.5, 28.0)):
        for i in range(3):
            for j in range(2):
                ref = uma_los_hand if los[i, j] else uma_nlos_hand
                assert out[b, i, j] == pytest.approx(ref(fb, d[i, j], 25.0, 1.5), abs=0.01)


# --- validity ranges ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "kwargs", "match"),
    [
        ("uma", {"freq_ghz": 0.4}, r"freq_ghz=0.4 GHz .* UMa \(0.5-100 GHz"),
        ("uma", {"freq_ghz": 101.0}, r"freq_ghz=101 GHz"),
        ("rma", {"freq_ghz": 31.0, "h_bs_m": 35.0}, r"freq_ghz=31 GHz .* RMa \(0.5-30 GHz"),
        ("uma", {"d2d_m": 9.99}, r"d2d_m=9.99 m .* \(10-5000 m"),
        ("umi", {"d2d_m": 5001.0}, r"d2d_m=5001 m"),
        ("uma", {"h_ut_m": 1.0}, r"h_ut_m=1 m .* \(1.5-22.5 m"),
        ("umi", {"h_ut_m": 23.0}, r"h_ut_m=23 m"),
        ("rma", {"h_ut_m": 11.0, "h_bs_m": 35.0}, r"h_ut_m=11 m .* \(1-10 m"),
        ("rma", {"h_bs_m": 5.0}, r"h_bs_m=5 m .* \(10-150 m"),
        ("uma", {"h_bs_m": 200.0}, r"h_bs_m=200 m"),
    ],
)
def test_out_of_range_raises_naming_parameter(
    model: str, kwargs: dict[str, float], match: str
) -> None:
    args = {"freq_ghz": 3.5, "d2d_m": 100.0, "h_bs_m": 25.0, "h_ut_m": 1.5} | kwargs
    with pytest.raises(ModelRangeError, match=match):
        t.path_loss_db(model, los=True, **args)


def test_validity_edges_are_inside() -> None:
    for f in (0.5, 100.0):
        for d in (10.0, 5000.0):
            assert np.isfinite(t.path_loss_db("uma", f, d, 25.0, 1.5, False))
            assert np.isfinite(t.path_loss_db("umi", f, d, 10.0, 22.5, True))
    assert np.isfinite(t.path_loss_db("rma", 30.0, 10000.0, 150.0, 10.0, True))


def test_clamp_clamps_distances_only() -> None:
    near = t.path_loss_db("umi", 3.5, [0.0, 3.0, 10.0], 10.0, 1.5, True, on_range="clamp")
    assert np.allclose(near, umi_los_hand(3.5, 10.0, 10.0, 1.5), atol=0.01)
    far = t.path_loss_db("uma", 3.5, 7000.0, 25.0, 1.5, False, on_range="clamp")
    assert far == pytest.approx(uma_nlos_hand(3.5, 5000.0, 25.0, 1.5), abs=0.01)


@pytest.mark.parametrize("on_range", ["clamp", "clamp-min"])
def test_clamp_modes_raise_for_everything_but_distances(on_range: str) -> None:
    with pytest.raises(ModelRangeError, match="freq_ghz"):
        t.path_loss_db("uma", 0.3, 5.0, 25.0, 1.5, True, on_range=on_range)
    with pytest.raises(ModelRangeError, match="h_ut_m"):
        t.path_loss_db("uma", 3.5, 5.0, 25.0, 30.0, True, on_range=on_range)
    with pytest.raises(InputError, match="d2d_m=-1"):
        t.path_loss_db("uma", 3.5, -1.0, 25.0, 1.5, True, on_range=on_range)


def test_extrapolate_evaluates_as_written_but_not_frequency() -> None:
    got = t.path_loss_db("umi", 3.5, 5.0, 10.0, 1.5, True, on_range="extrapolate")
    assert got == pytest.approx(32.4 + 21 * math.log10(d3(5, 10, 1.5)) + 20 * math.log10(3.5))
    with pytest.raises(ModelRangeError):
        t.path_loss_db("umi", 120.0, 50.0, 10.0, 1.5, True, on_range="extrapolate")
    with pytest.raises(InputError):
        t.path_loss_db("umi", 3.5, 0.0, 10.0, 1.5, True, on_range="extrapolate")


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match=r"not a TR 38\.901 scenario"):
        t.path_loss_db("inh", 3.5, 100.0, 3.0, 1.5, True)
    with pytest.raises(InputError, match="on_range"):
        t.path_loss_db("uma", 3.5, 100.0, 25.0, 1.5, True, on_range="wrap")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="d2d_m=nan"):
        t.path_loss_db("uma", 3.5, float("nan"), 25.0, 1.5, True)


# --- shadow-fading sigma --------------------------------------------------------------


def test_shadow_sigmas() -> None:
    assert t.shadow_fading_sigma_db("uma", [True, False]).tolist() == [4.0, 6.0]
    assert t.shadow_fading_sigma_db("umi", [True, False]).tolist() == [4.0, 7.82]
    dbp = 2 * math.pi * 35 * 1.5 * 3.5e9 / C
    got = t.shadow_fading_sigma_db(
        "rma", [True, True, False], d2d_m=[dbp - 1, dbp + 1, 100.0], freq_ghz=3.5
    )
    assert got.tolist() == [4.0, 6.0, 8.0]


# --- LoS probability, Table 7.4.2-1 ---------------------------------------------------


@pytest.mark.parametrize("d", [5.0, 18.0, 50.0, 200.0, 1000.0])
def test_los_probability_umi(d: float) -> None:
    ref = 1.0 if d <= 18 else 18 / d + math.exp(-d / 36) * (1 - 18 / d)
    assert t.los_probability("umi", d) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("d", [10.0, 18.0, 100.0, 500.0])
@pytest.mark.parametrize("h", [1.5, 13.0, 20.0, 23.0])
def test_los_probability_uma(d: float, h: float) -> None:
    c = 0.0 if h <= 13 else ((h - 13) / 10) ** 1.5
    ref = (
        1.0
        if d <= 18
        else (18 / d + math.exp(-d / 63) * (1 - 18 / d))
        * (1 + c * 1.25 * (d / 100) ** 3 * math.exp(-d / 150))
    )
    assert t.los_probability("uma", d, h_ut_m=h) == pytest.approx(ref, abs=1e-12)


def test_los_probability_rma() -> None:
    assert t.los_probability("rma", 10.0) == 1.0
    assert t.los_probability("rma", 1010.0) == pytest.approx(math.exp(-1.0))


def test_clamp_min_raises_near_distances_and_extrapolates_far_ones() -> None:
    near = t.path_loss_db("umi", 3.5, [0.0, 3.0, 10.0], 10.0, 1.5, True, on_range="clamp-min")
    assert np.allclose(near, umi_los_hand(3.5, 10.0, 10.0, 1.5), atol=0.01)
    far = t.path_loss_db("uma", 3.5, [7000.0, 20000.0], 25.0, 1.5, False, on_range="clamp-min")
    assert far == pytest.approx(
        [uma_nlos_hand(3.5, 7000.0, 25.0, 1.5), uma_nlos_hand(3.5, 20000.0, 25.0, 1.5)], abs=0.01
    )
    assert far[0] > uma_nlos_hand(3.5, 5000.0, 25.0, 1.5) + 5.0  # 39 dB a decade, extrapolated
    assert np.array_equal(t.evaluated_distance_m([0.0, 3.0, 7000.0], 10.0, 5000.0, "clamp-min"),
                          [10.0, 10.0, 7000.0])  # fmt: skip
    assert np.array_equal(
        t.evaluated_distance_m([0.0, 7000.0], 10.0, 5000.0, "clamp"), [10.0, 5000.0]
    )


@pytest.mark.parametrize("model", ["uma", "umi", "rma"])
def test_lowest_los_loss_over_a_ground_interval_is_the_dense_minimum(model: str) -> None:
    """The five candidate ground differences give the minimum that a dense scan of the
    interval finds (to rounding): PL_1 grows with the height gap, PL_2 falls then grows."""
    rng = np.random.default_rng(7)
    d = np.geomspace(10.0, 1.0e5, 240)
    for _ in range(40):
        f = rng.uniform(0.7, 7.0 if model == "rma" else 28.0)
        h_bs = 10.0 if model == "umi" else rng.uniform(10.0, 60.0)
        h_ut = rng.uniform(1.5, 10.0)
        lo = rng.uniform(-300.0, 300.0)
        hi = lo + rng.uniform(0.0, 600.0)
        cand = t.los_best_ground_dz_m(model, f, d, h_bs, h_ut, dz_lo_m=lo, dz_hi_m=hi)
        assert cand.shape == (5, d.size)
        assert np.all((cand >= lo - 1e-9) & (cand <= hi + 1e-9))
        best = t.path_loss_db(
            model, f, d, h_bs, h_ut, True, on_range="extrapolate", ground_dz_m=cand
        ).min(axis=0)
        dense = np.linspace(lo, hi, 3001)[:, None]
        scan = t.path_loss_db(
            model, f, d[None, :], h_bs, h_ut, True, on_range="extrapolate", ground_dz_m=dense
        ).min(axis=0)
        assert np.all(best <= scan + 1e-9)
        assert np.all(best >= scan - 0.01)  # the scan's 0.2 m steps miss at most this


def test_the_height_gap_lowers_uma_pl2_where_the_formula_says() -> None:
    """By hand, UMa at 0.7 GHz, h_BS 25 m, h_UT 1.5 m, d_2D 5 km: d'_BP = 4 x 24 x 0.5 x
    0.7e9 / 3e8 = 112 m; u* = (9 d^2 - 20 d'_BP^2) / 11, far past a city's relief, so
    the lowest loss over grounds 0..150 m is at 150 m, 9 log10((112^2 + 173.5^2) /
    (112^2 + 23.5^2)) - 20 log10(d3D ratio) below the flat loss."""
    cand = t.los_best_ground_dz_m("uma", 0.7, 5000.0, 25.0, 1.5, dz_lo_m=0.0, dz_hi_m=150.0)
    pl = t.path_loss_db("uma", 0.7, 5000.0, 25.0, 1.5, True, ground_dz_m=cand).min()
    flat = t.path_loss_db("uma", 0.7, 5000.0, 25.0, 1.5, True)
    d3 = math.hypot(5000.0, 173.5) / math.hypot(5000.0, 23.5)
    drop = 9.0 * math.log10((112.0**2 + 173.5**2) / (112.0**2 + 23.5**2)) - 40.0 * math.log10(d3)
    assert float(flat - pl) == pytest.approx(drop, abs=1e-9)
    with pytest.raises(InputError, match="dz_lo_m"):
        t.los_best_ground_dz_m("uma", 0.7, 5000.0, 25.0, 1.5, dz_lo_m=10.0, dz_hi_m=0.0)
