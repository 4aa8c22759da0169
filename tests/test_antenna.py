"""TR 38.901 clause 7.3 / Table 7.3-1 element pattern against the formula worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from twin.propagation.antenna import (
    azimuth_offset_deg,
    element_gain_dbi,
    element_pattern_db,
    sector_gain_dbi,
)


def hand(phi: float, elev: float, tilt: float = 0.0) -> float:
    a_v = -min(12 * ((-(elev + tilt)) / 65) ** 2, 30)
    a_h = -min(12 * (phi / 65) ** 2, 30)
    return -min(-(a_v + a_h), 30)


def test_boresight_is_max_gain() -> None:
    assert element_gain_dbi(0.0, 0.0) == pytest.approx(8.0)
    assert element_pattern_db(0.0) == pytest.approx(0.0)


def test_3db_points() -> None:
    # 12 (32.5 / 65)^2 = 3 dB in azimuth and in elevation
    assert element_pattern_db(32.5, 0.0) == pytest.approx(-3.0)
    assert element_pattern_db(-32.5, 0.0) == pytest.approx(-3.0)
    assert element_pattern_db(0.0, -32.5) == pytest.approx(-3.0)
    assert element_gain_dbi(32.5, 0.0) == pytest.approx(5.0)


def test_backlobe_and_caps() -> None:
    assert element_pattern_db(180.0, 0.0) == pytest.approx(-30.0)  # A_max
    assert element_gain_dbi(180.0, 0.0) == pytest.approx(-22.0)
    assert element_pattern_db(0.0, -90.0) == pytest.approx(-23.006, abs=0.01)  # 12 (90/65)^2
    assert element_pattern_db(90.0, -65.0) == pytest.approx(-30.0)  # -23.006 - 12, capped
    assert element_pattern_db(65.0, -65.0) == pytest.approx(-24.0)


@pytest.mark.parametrize("phi", [-170.0, -60.0, 0.0, 20.0, 100.0, 540.0])
@pytest.mark.parametrize("elev", [-80.0, -10.0, 0.0, 15.0])
def test_against_hand(phi: float, elev: float) -> None:
    wrapped = (phi + 180) % 360 - 180
    assert element_pattern_db(phi, elev) == pytest.approx(hand(wrapped, elev), abs=0.01)
    assert element_pattern_db(phi, elev, downtilt_deg=6.0) == pytest.approx(
        hand(wrapped, elev, 6.0), abs=0.01
    )


def test_downtilt_moves_the_beam() -> None:
    assert element_pattern_db(0.0, -10.0, downtilt_deg=10.0) == pytest.approx(0.0)


def test_three_sector_site() -> None:
    assert azimuth_offset_deg(350.0, 10.0) == pytest.approx(-20.0)
    g = sector_gain_dbi(np.array([0.0, 60.0, 200.0]))
    assert g.shape == (3, 3)
    assert g[0].tolist() == pytest.approx([8.0, 8 + hand(-120, 0), 8 + hand(120, 0)])
    assert g[1, 0] == pytest.approx(8 - 12 * (60 / 65) ** 2)
    assert g[1, 1] == pytest.approx(8 - 12 * (60 / 65) ** 2)
    assert int(np.argmax(g[2])) == 2  # 200 deg is served by the 240 deg sector
