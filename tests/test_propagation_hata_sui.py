"""Okumura-Hata, COST-231 Hata and SUI against the formulas worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.errors import InputError, ModelRangeError
from twin.propagation.hata import hata_path_loss_db
from twin.propagation.sui import sui_path_loss_db

C = 299_792_458.0


def a_small(f_mhz: float, hm: float) -> float:
    return (1.1 * math.log10(f_mhz) - 0.7) * hm - (1.56 * math.log10(f_mhz) - 0.8)


def hata_urban_hand(f_mhz: float, d_km: float, hb: float, hm: float, a: float) -> float:
    return (
        69.55
        + 26.16 * math.log10(f_mhz)
        - 13.82 * math.log10(hb)
        - a
        + (44.9 - 6.55 * math.log10(hb)) * math.log10(d_km)
    )


def test_hata_worked_number() -> None:
    # 900 MHz, 2 km, 50 m / 1.5 m: a(hm) = 0.0159, L_u = 69.55 + 77.2830 - 23.4798
    # - 0.0159 + 33.7717 * 0.30103 = 133.504 dB; suburban: - 2 * 1.50709^2 - 5.4 = 123.561 dB
    assert hata_path_loss_db(0.9, 2000.0, 50.0, 1.5) == pytest.approx(133.504, abs=0.01)
    assert hata_path_loss_db(0.9, 2000.0, 50.0, 1.5, area="suburban") == pytest.approx(
        123.561, abs=0.01
    )


@pytest.mark.parametrize("f_mhz", [150.0, 500.0, 900.0, 1500.0])
@pytest.mark.parametrize("d_km", [1.0, 2.5, 5.0, 20.0])
@pytest.mark.parametrize(("hb", "hm"), [(30.0, 1.0), (50.0, 1.5), (200.0, 10.0)])
def test_hata_urban_suburban_open(f_mhz: float, d_km: float, hb: float, hm: float) -> None:
    lu = hata_urban_hand(f_mhz, d_km, hb, hm, a_small(f_mhz, hm))
    args = (f_mhz / 1000, d_km * 1000, hb, hm)
    assert hata_path_loss_db(*args) == pytest.approx(lu, abs=0.01)
    assert hata_path_loss_db(*args, area="suburban") == pytest.approx(
        lu - 2 * math.log10(f_mhz / 28) ** 2 - 5.4, abs=0.01
    )
    lf = math.log10(f_mhz)
    assert hata_path_loss_db(*args, area="open") == pytest.approx(
        lu - 4.78 * lf**2 + 18.33 * lf - 40.94, abs=0.01
    )


def test_hata_large_city() -> None:
    a_hi = 3.2 * math.log10(11.75 * 1.5) ** 2 - 4.97
    a_lo = 8.29 * math.log10(1.54 * 1.5) ** 2 - 1.1
    got = hata_path_loss_db(0.9, 3000.0, 40.0, 1.5, city_size="large")
    assert got == pytest.approx(hata_urban_hand(900, 3, 40, 1.5, a_hi), abs=0.01)
    got = hata_path_loss_db(0.17, 3000.0, 40.0, 1.5, city_size="large")
    assert got == pytest.approx(hata_urban_hand(170, 3, 40, 1.5, a_lo), abs=0.01)
    with pytest.raises(ModelRangeError, match=r"between 0\.2 and 0\.4 GHz"):
        hata_path_loss_db(0.3, 3000.0, 40.0, 1.5, city_size="large")


def test_cost231() -> None:
    for area, size, cm in (("urban", "small_medium", 0.0), ("urban", "large", 3.0)):
        a = a_small(1800, 1.5) if size == "small_medium" else 3.2 * math.log10(17.625) ** 2 - 4.97
        ref = (
            46.3
            + 33.9 * math.log10(1800)
            - 13.82 * math.log10(30)
            - a
            + (44.9 - 6.55 * math.log10(30)) * math.log10(2)
            + cm
        )
        got = hata_path_loss_db(1.8, 2000.0, 30.0, 1.5, area=area, city_size=size, cost231=True)
        assert got == pytest.approx(ref, abs=0.01)
    with pytest.raises(ModelRangeError, match=r"1\.5-2 GHz"):
        hata_path_loss_db(2.1, 2000.0, 30.0, 1.5, cost231=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"freq_ghz": 0.1}, r"freq_ghz=0.1 GHz .* \(0.15-1.5 GHz"),
        ({"freq_ghz": 1.6}, r"freq_ghz=1.6 GHz"),
        ({"d2d_m": 999.0}, r"d2d_m=999 m .* \(1000-20000 m"),
        ({"d2d_m": 20001.0}, r"d2d_m=20001 m"),
        ({"h_bs_m": 29.0}, r"h_bs_m=29 m .* \(30-200 m"),
        ({"h_ut_m": 11.0}, r"h_ut_m=11 m .* \(1-10 m"),
    ],
)
def test_hata_ranges(kwargs: dict[str, float], match: str) -> None:
    args = {"freq_ghz": 0.9, "d2d_m": 2000.0, "h_bs_m": 50.0, "h_ut_m": 1.5} | kwargs
    with pytest.raises(ModelRangeError, match=match):
        hata_path_loss_db(**args)


def test_hata_clamp_and_bad_area() -> None:
    got = hata_path_loss_db(0.9, 500.0, 50.0, 1.5, on_range="clamp")
    assert got == pytest.approx(hata_urban_hand(900, 1.0, 50, 1.5, a_small(900, 1.5)), abs=0.01)
    with pytest.raises(InputError, match="area"):
        hata_path_loss_db(0.9, 2000.0, 50.0, 1.5, area="rural")


# --- SUI -----------------------------------------------------------------------------

TERRAIN = {
    "A": (4.6, 0.0075, 12.6, 10.8),
    "B": (4.0, 0.0065, 17.1, 10.8),
    "C": (3.6, 0.005, 20.0, 20.0),
}


def sui_hand(f_ghz: float, d: float, hb: float, h: float, terrain: str) -> float:
    a, b, c, xh = TERRAIN[terrain]
    lam = C / (f_ghz * 1e9)
    big_a = 20 * math.log10(4 * math.pi * 100 / lam)
    gamma = a - b * hb + c / hb
    return (
        big_a
        + 10 * gamma * math.log10(d / 100)
        + 6 * math.log10(f_ghz * 1000 / 2000)
        - xh * math.log10(h / 2)
    )


def test_sui_worked_number() -> None:
    # 3.5 GHz, 1 km, 30 m / 2 m, terrain B: A = 20 log10(4 pi 100 / 0.085655) = 83.329,
    # gamma = 4 - 0.195 + 0.57 = 4.375, X_f = 6 log10(1.75) = 1.458 -> 128.537 dB
    assert sui_path_loss_db(3.5, 1000.0, 30.0, 2.0, terrain="B") == pytest.approx(128.537, abs=0.01)


@pytest.mark.parametrize("terrain", ["A", "B", "C"])
@pytest.mark.parametrize("f", [1.5, 2.0, 3.5, 11.0])
@pytest.mark.parametrize("d", [100.0, 1000.0, 5000.0, 8000.0])
@pytest.mark.parametrize(("hb", "h"), [(10.0, 2.0), (50.0, 5.0), (80.0, 10.0)])
def test_sui_against_hand(terrain: str, f: float, d: float, hb: float, h: float) -> None:
    got = sui_path_loss_db(f, d, hb, h, terrain=terrain)
    assert got == pytest.approx(sui_hand(f, d, hb, h, terrain), abs=0.01)


def test_sui_ranges_and_extrapolation() -> None:
    with pytest.raises(ModelRangeError, match=r"freq_ghz=12 GHz .* \(1.5-11 GHz"):
        sui_path_loss_db(12.0, 1000.0, 30.0, 2.0, terrain="A")
    with pytest.raises(ModelRangeError, match=r"d2d_m=50 m .* \(100-8000 m"):
        sui_path_loss_db(3.5, 50.0, 30.0, 2.0, terrain="A")
    with pytest.raises(ModelRangeError, match=r"h_ut_m=1.5 m .* \(2-10 m"):
        sui_path_loss_db(3.5, 1000.0, 50.0, 1.5, terrain="C")
    with pytest.raises(ModelRangeError, match=r"h_bs_m=90 m .* \(10-80 m"):
        sui_path_loss_db(3.5, 1000.0, 90.0, 2.0, terrain="C")
    got = sui_path_loss_db(3.5, 1000.0, 50.0, 1.5, terrain="C", on_range="extrapolate")
    assert got == pytest.approx(sui_hand(3.5, 1000.0, 50.0, 1.5, "C"), abs=0.01)
    with pytest.raises(ModelRangeError, match="freq_ghz"):
        sui_path_loss_db(0.9, 1000.0, 50.0, 1.5, terrain="C", on_range="extrapolate")
    with pytest.raises(InputError, match="terrain"):
        sui_path_loss_db(3.5, 1000.0, 30.0, 2.0, terrain="D")


def test_sui_vectorised() -> None:
    d = np.array([[100.0, 500.0], [1000.0, 8000.0]])
    got = sui_path_loss_db(np.array([2.0, 3.5])[:, None, None], d, 30.0, 2.0, terrain="A")
    assert got.shape == (2, 2, 2)
    assert got[1, 1, 0] == pytest.approx(sui_hand(3.5, 1000.0, 30.0, 2.0, "A"), abs=0.01)
