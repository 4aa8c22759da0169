"""The seed study's analytic model: links worked by hand, and the honest reproduction."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from twin import paper as P


def low_o2i(f: float) -> float:
    return 5 - 10 * math.log10(0.3 * 10 ** (-(2 + 0.2 * f) / 10) + 0.7 * 10 ** (-(5 + 4 * f) / 10))


def shannon_mbps(b_hz: float, p_s_dbm: float, i_mw: float, n_dbm: float) -> float:
    sinr_db = p_s_dbm - 10 * math.log10(i_mw + 10 ** (n_dbm / 10))
    return b_hz * math.log2(1 + 10 ** (sinr_db / 10)) / 1e6


def test_n_user_and_bandwidth() -> None:
    a = P.PaperAssumptions()
    assert P.n_user_per_cell(P.UMA_PARAMETERS, a) == pytest.approx(300 * 2.6 * (500 / 3000) ** 2)
    assert P.n_user_per_cell(P.UMI_PARAMETERS, a) == pytest.approx(3.4667, abs=1e-4)
    rounded = dataclasses.replace(a, round_n_user=True)
    assert P.n_user_per_cell(P.UMA_PARAMETERS, rounded) == 22.0
    f = a.frequencies_ghz()
    assert f[0] == 0.5 and f[-1] == 40.0 and f.size == 396
    assert 3.5 in f and 28.0 in f


def test_umi_type6_at_28ghz_by_hand() -> None:
    # LoS, indoor (9 m), centre (R/3 = 22.22 m); d'BP = 4 * 9 * 8 * 28e9 / 3e8 = 26.88 km
    f, d, h = 28.0, 200 / 9, 9.0
    pl = 32.4 + 21 * math.log10(math.sqrt(d**2 + 1.0)) + 20 * math.log10(f)
    p_s = 46 - max(pl + 4 - 15 - 0 + low_o2i(f), 70)
    pl_i = 32.4 + 21 * math.log10(math.sqrt(400**2 + 1.0)) + 20 * math.log10(f)
    p_i = 46 - max(pl_i + 4 - 15 - 0 + low_o2i(f), 70)
    n_user = 300 * 2.6 * (200 / 3 / 1000) ** 2
    b = 0.05 * f * 1e9 / (3 * n_user)
    c = shannon_mbps(b, p_s, 3 * 10 ** (p_i / 10), -174 + 10 * math.log10(b))
    curves = P.run_urban(P.UMI_PARAMETERS, freq_ghz=[f])
    assert curves.capacity_mbps[5, 0] == pytest.approx(c, rel=1e-6)
    assert h == P.UMI_PARAMETERS.h_ut_indoor_m


def test_uma_type4_at_3p5ghz_by_hand() -> None:
    # NLoS outdoor centre (55.56 m) against three LoS interferers at 1000 m (beyond d'BP = 560 m)
    f, d = 3.5, 500 / 9
    d3 = math.sqrt(d**2 + 23.5**2)
    pl = max(
        28 + 22 * math.log10(d3) + 20 * math.log10(f),
        13.54 + 39.08 * math.log10(d3) + 20 * math.log10(f),
    )
    p_s = 46 - max(pl + 6 - 15, 70)
    d3i = math.sqrt(1000**2 + 23.5**2)
    pl_i = 28 + 40 * math.log10(d3i) + 20 * math.log10(f) - 9 * math.log10(560**2 + 23.5**2)
    p_i = 46 - max(pl_i + 4 - 15, 70)
    b = 0.05 * f * 1e9 / (3 * 300 * 2.6 * (500 / 3000) ** 2)
    c = shannon_mbps(b, p_s, 3 * 10 ** (p_i / 10), -174 + 10 * math.log10(b))
    assert P.run_urban(P.UMA_PARAMETERS, freq_ghz=[f]).capacity_mbps[3, 0] == pytest.approx(
        c, rel=1e-6
    )


def test_mcl_caps_the_serving_link() -> None:
    # UMi LoS outdoor centre at 0.5 GHz: PL + 4 - 15 is far below the 70 dB MCL
    curves = P.run_urban(P.UMI_PARAMETERS, freq_ghz=[0.5])
    assert curves.signal_dbm[7, 0] == pytest.approx(46 - 70)


def test_umi_los_entries_reproduce_within_a_few_percent() -> None:
    """method.md: UMi types 5 and 6, and 7 and 8 at 28 GHz, reproduce under this reading."""
    rows = {r.user_type.number: r for r in P.table5(P.run_urban(P.UMI_PARAMETERS))}
    checks = [
        (rows[5].c_3p5_mbps, 68.05),
        (rows[5].c_28_mbps, 501.50),  # +5.5 %: the one just outside 5 %
        (rows[6].c_3p5_mbps, 124.30),
        (rows[6].c_28_mbps, 972.00),
        (rows[7].c_28_mbps, 542.50),
        (rows[8].c_28_mbps, 986.50),
    ]
    for ours, published in checks:
        assert ours == pytest.approx(published, rel=0.06)
    assert all(rows[t].f_max_ghz == 40.0 for t in (5, 6, 7, 8))
    # ...and the NLoS entries and UMi types 7/8 at 3.5 GHz do not (reported, not tuned)
    assert rows[8].c_3p5_mbps < 0.5 * 414.75
    assert rows[8].implied_sinr_3p5_db == pytest.approx(74.2, abs=0.1)
    assert rows[2].c_28_mbps > 10 * 4.898


def test_reproduction_counts_and_notes() -> None:
    umi = P.reproduce_urban("umi", with_sensitivity=False)
    uma = P.reproduce_urban("uma", with_sensitivity=False)
    assert umi.n_reproduced == 9
    assert uma.n_reproduced == 2
    notes = [n for c in umi.comparisons for n in c.notes]
    assert any("C@3.5: implies SINR 74.2 dB" in n for n in notes)
    row6 = umi.comparisons[5]
    assert row6.n_reproduced == 3 and row6.notes == ()


def test_compare_value() -> None:
    assert P.compare_value(0.0004, 0.0).reproduced
    z = P.compare_value(0.49, 0.0)
    assert not z.reproduced and z.relative_diff is None
    a = P.compare_value(104.0, 100.0)
    assert a.reproduced and a.relative_diff == pytest.approx(0.04)
    assert not P.compare_value(106.0, 100.0).reproduced
    assert P.compare_value(40.0, 39.95, abs_tol=0.1, rel_tol=0.0).reproduced


def test_published_table_is_the_reference_of_method_md() -> None:
    assert P.PUBLISHED_TABLE5["umi"][8] == P.PublishedEntry(414.75, 986.50, 40.0)
    assert P.PUBLISHED_TABLE5["uma"][6] == P.PublishedEntry(27.76, 83.65, 28.2)
    assert P.PUBLISHED_TABLE5["umi"][2].c_28_mbps == 4.898
    assert sorted(P.PUBLISHED_TABLE5["uma"]) == list(range(1, 9))


def test_assumptions_are_frozen_and_matter() -> None:
    a = P.PaperAssumptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.interferer_los = False  # type: ignore[misc]
    base = P.run_urban(P.UMI_PARAMETERS, a, freq_ghz=[3.5])
    nlos_i = P.run_urban(
        P.UMI_PARAMETERS, dataclasses.replace(a, interferer_los=False), freq_ghz=[3.5]
    )
    assert np.all(nlos_i.sinr_db > base.sinr_db)
    quiet = P.run_urban(P.UMI_PARAMETERS, dataclasses.replace(a, n_interferers=0), freq_ghz=[3.5])
    assert np.allclose(quiet.sinr_db[:, 0], quiet.signal_dbm[:, 0] - quiet.noise_dbm[0])


def test_user_types() -> None:
    assert [t.number for t in P.USER_TYPES] == list(range(1, 9))
    assert P.USER_TYPES[0].condition == "NLoS + indoor + edge"
    assert P.USER_TYPES[7].condition == "LoS + outdoor + centre"


def test_suburban_hata_ratio_by_hand() -> None:
    res = P.run_suburban()
    c = next(x for x in res.curves if x.model == "hata" and x.f_ghz == 0.5)
    k = int(np.argmin(np.abs(c.distance_m - 2000.0)))
    b = 0.05 * 0.5e9  # 5 % of the 0.5 GHz lower edge

    def rate(f_mhz: float) -> float:
        a = (1.1 * math.log10(f_mhz) - 0.7) * 1.5 - (1.56 * math.log10(f_mhz) - 0.8)
        lu = (
            69.55
            + 26.16 * math.log10(f_mhz)
            - 13.82 * math.log10(50)
            - a
            + (44.9 - 6.55 * math.log10(50)) * math.log10(2.0)
        )
        loss = lu - 2 * math.log10(f_mhz / 28) ** 2 - 5.4
        sinr = 46 + 15 + 0 - loss - (-174 + 10 * math.log10(b)) - 5
        return b * math.log2(1 + 10 ** (sinr / 10))

    assert c.ratio[k] == pytest.approx(rate(1000) / rate(500), rel=1e-9)
    assert np.all(np.isnan(c.ratio[c.distance_m < 1000]))  # Hata starts at 1 km
    # the study's finding: near the centre doubling f keeps 80-90 % of the rate
    assert 0.8 <= c.ratio[k] <= 0.9


def test_suburban_sui_curves() -> None:
    res = P.run_suburban()
    sui = [x for x in res.curves if x.model == "sui"]
    assert {x.terrain for x in sui} == {"A", "B", "C"}
    for x in sui:
        assert x.bandwidth_hz == pytest.approx(75e6)
        ok = x.distance_m >= 100
        assert np.all(np.isfinite(x.ratio[ok])) and np.all(np.isnan(x.ratio[~ok]))
        # the loss grows towards the edge
        assert x.ratio[ok][0] > x.ratio[-1]
    summary = P.suburban_summary(res)
    assert set(summary) == {"hata", "sui"}
