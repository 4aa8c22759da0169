"""TR 38.901 clause 7.4.3 O2I penetration loss against the formulas worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.errors import InputError
from twin.propagation import o2i


def low_hand(f: float) -> float:
    glass, concrete = 2 + 0.2 * f, 5 + 4 * f
    return 5 - 10 * math.log10(0.3 * 10 ** (-glass / 10) + 0.7 * 10 ** (-concrete / 10))


def high_hand(f: float) -> float:
    irr, concrete = 23 + 0.3 * f, 5 + 4 * f
    return 5 - 10 * math.log10(0.7 * 10 ** (-irr / 10) + 0.3 * 10 ** (-concrete / 10))


def test_material_losses_table_7_4_3_1() -> None:
    assert o2i.material_loss_db("glass", 10.0) == pytest.approx(4.0)
    assert o2i.material_loss_db("irr_glass", 10.0) == pytest.approx(26.0)
    assert o2i.material_loss_db("concrete", 10.0) == pytest.approx(45.0)
    assert o2i.material_loss_db("wood", 10.0) == pytest.approx(6.05)
    with pytest.raises(InputError, match="material"):
        o2i.material_loss_db("brick", 3.5)


def test_low_loss_worked_number() -> None:
    # 3.5 GHz: L_glass 2.7, L_concrete 19 dB:
    # 5 - 10 log10(0.3 * 0.53703 + 0.7 * 0.012589) = 5 - 10 log10(0.169922) = 12.698 dB
    assert o2i.o2i_loss_db("low", 3.5) == pytest.approx(12.698, abs=0.01)


@pytest.mark.parametrize("f", [0.5, 3.5, 6.0, 28.0, 40.0, 100.0])
@pytest.mark.parametrize("d_in", [0.0, 5.0, 25.0])
def test_low_and_high_loss(f: float, d_in: float) -> None:
    assert o2i.o2i_loss_db("low", f, d_in_m=d_in) == pytest.approx(
        low_hand(f) + 0.5 * d_in, abs=0.01
    )
    assert o2i.o2i_loss_db("high", f, d_in_m=d_in) == pytest.approx(
        high_hand(f) + 0.5 * d_in, abs=0.01
    )
    assert o2i.wall_loss_db("high", f) == pytest.approx(high_hand(f), abs=0.01)


def test_none_is_zero_and_broadcasts() -> None:
    out = o2i.o2i_loss_db("none", np.array([3.5, 28.0]), d_in_m=np.array([[0.0], [10.0]]))
    assert out.shape == (2, 2)
    assert np.all(out == 0.0)
    out = o2i.o2i_loss_db("low", np.array([3.5, 28.0]), d_in_m=np.array([[0.0], [10.0]]))
    assert out[1, 0] == pytest.approx(low_hand(3.5) + 5.0, abs=0.01)


def test_random_part_seeded() -> None:
    f = np.full(40000, 3.5)
    a = o2i.o2i_loss_db("low", f, rng=np.random.default_rng(7))
    b = o2i.o2i_loss_db("low", f, rng=np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert np.mean(a) == pytest.approx(low_hand(3.5), abs=0.1)
    assert np.std(a) == pytest.approx(4.4, rel=0.03)
    h = o2i.o2i_loss_db("high", f, rng=np.random.default_rng(8))
    assert np.std(h) == pytest.approx(6.5, rel=0.03)


def test_indoor_distance_draw() -> None:
    rng = np.random.default_rng(3)
    d = o2i.sample_indoor_distance_m("uma", rng, 50000)
    assert d.min() >= 0 and d.max() <= 25
    assert d.mean() == pytest.approx(25 / 3, rel=0.02)  # E[min(U1, U2)] = d_max / 3
    assert o2i.sample_indoor_distance_m("rma", rng, 50000).mean() == pytest.approx(10 / 3, rel=0.02)


def test_car_loss() -> None:
    assert o2i.car_penetration_loss_db() == pytest.approx(9.0)
    x = o2i.car_penetration_loss_db(40000, rng=np.random.default_rng(1))
    assert x.mean() == pytest.approx(9.0, abs=0.1)
    assert x.std() == pytest.approx(5.0, rel=0.03)


def test_bad_input() -> None:
    with pytest.raises(InputError, match="O2I model"):
        o2i.o2i_loss_db("medium", 3.5)
    with pytest.raises(InputError, match="d_in_m"):
        o2i.o2i_loss_db("low", 3.5, d_in_m=-1.0)
