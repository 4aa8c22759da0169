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


# --- the penetration loss's random part, one draw per receiver (penetration_unit) ---

_M64 = (1 << 64) - 1


def _mix64_by_hand(z: int) -> int:
    """SplitMix64's finaliser on Python integers (Steele, Lea and Flood 2014)."""
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & _M64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def z_by_hand(x_m: float, y_m: float, seed: int) -> float:
    """A receiver's draw written out with integers and ``math``: the coordinates in
    whole centimetres (two's complement), hashed with the seed, Box-Muller."""
    qx = round(x_m * 100.0) & _M64
    qy = round(y_m * 100.0) & _M64
    key = _mix64_by_hand((seed & _M64) ^ 0x4F32492D50454E45)
    h = _mix64_by_hand(_mix64_by_hand(key ^ qx) ^ qy)
    u1 = ((_mix64_by_hand(h ^ 1) >> 11) + 1) / 2.0**53
    u2 = (_mix64_by_hand(h ^ 2) >> 11) / 2.0**53
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def test_penetration_draw_by_hand() -> None:
    """UTM-sized coordinates, negative ones (two's complement), a large seed."""
    points = [(385012.5, 6672150.0), (-1234.56, 0.0), (0.0, 0.0), (500000.0, 9999999.99)]
    for seed in (0, 1, 7, 2**40 + 3):
        for x, y in points:
            got = float(o2i.penetration_unit(x, y, seed=seed))
            assert got == pytest.approx(z_by_hand(x, y, seed), abs=1e-12)


def _lattice(n_x: int, n_y: int, step_m: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """A grid of receivers at UTM-sized coordinates (the twin's grids are such)."""
    x, y = np.meshgrid(385000.0 + step_m * np.arange(n_x), 6670000.0 + step_m * np.arange(n_y))
    return x, y


def test_penetration_draw_is_standard_normal_and_white() -> None:
    """Over 200 000 receivers of a 5 m grid: mean 0, standard deviation 1, the normal's
    shares within 1 sigma and below -3 sigma, no correlation between neighbours nor
    between seeds; each bound 4 standard errors of the statistic for n independent
    N(0, 1) draws (the draws are fixed by the seed: the test cannot flicker)."""
    x, y = _lattice(500, 400)
    z = o2i.penetration_unit(x, y, seed=1)
    assert z.shape == x.shape
    n = z.size
    se = 1.0 / math.sqrt(n)
    assert abs(z.mean()) < 4 * se
    assert abs(z.std() - 1.0) < 4 * se / math.sqrt(2.0)  # se of s: 1 / sqrt(2n)
    for share, p in ((np.mean(np.abs(z) < 1.0), math.erf(1 / math.sqrt(2))),
                     (np.mean(z < -3.0), 0.5 * math.erfc(3 / math.sqrt(2)))):  # fmt: skip
        assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / n)
    # neighbours east and north, and another seed at the same places: uncorrelated
    for a, b in ((z[:, 1:], z[:, :-1]), (z[1:], z[:-1])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 4 / math.sqrt(a.size)
    other = o2i.penetration_unit(x, y, seed=2)
    assert abs(np.corrcoef(z.ravel(), other.ravel())[0, 1]) < 4 * se
    assert np.abs(z).max() <= math.sqrt(-2 * math.log(2.0**-53))  # Box-Muller's largest


def test_penetration_draw_depends_on_the_seed_and_the_point_alone() -> None:
    x, y = _lattice(60, 50)
    z = o2i.penetration_unit(x, y, seed=5)
    assert np.array_equal(z, o2i.penetration_unit(x, y, seed=5))
    assert not np.any(z == o2i.penetration_unit(x, y, seed=6))
    assert np.array_equal(z, o2i.penetration_unit(x, y, seed=5 + 2**64))  # modulo 2**64
    # a receiver's value whatever comes with it: in parts of any size, in another order,
    # alone (a tile, a dask worker, a chunk of the numpy engine)
    flat_x, flat_y, flat_z = x.ravel(), y.ravel(), z.ravel()
    for size in (1, 7, 513):
        parts = [
            o2i.penetration_unit(flat_x[i : i + size], flat_y[i : i + size], seed=5)
            for i in range(0, flat_x.size, size)
        ]
        assert np.array_equal(np.concatenate(parts), flat_z)
    order = np.random.default_rng(0).permutation(flat_x.size)
    assert np.array_equal(o2i.penetration_unit(flat_x[order], flat_y[order], seed=5), flat_z[order])
    assert o2i.penetration_unit(flat_x[17], flat_y[17], seed=5) == flat_z[17]
    # the position is kept to the centimetre: 1 mm away the same terminal, 2 cm another
    assert np.array_equal(o2i.penetration_unit(flat_x + 0.001, flat_y - 0.001, seed=5), flat_z)
    assert not np.any(o2i.penetration_unit(flat_x + 0.02, flat_y, seed=5) == flat_z)
    with pytest.raises(InputError, match="finite"):
        o2i.penetration_unit(np.nan, 0.0, seed=1)


def test_penetration_loss_is_sigma_p_times_the_draw() -> None:
    """sigma_P of Table 7.4.3-2: 4.4 dB low loss, 6.5 dB high loss; no draw without O2I."""
    x, y = _lattice(20, 10)
    z = o2i.penetration_unit(x, y, seed=3)
    assert np.array_equal(o2i.penetration_db("low", x, y, seed=3), 4.4 * z)
    assert np.array_equal(o2i.penetration_db("high", x, y, seed=3), 6.5 * z)
    assert np.array_equal(o2i.penetration_db("none", x, y, seed=3), np.zeros_like(z))
    # o2i_loss_db adds the given draws: PL_tw + PL_in + sigma_P z
    got = o2i.o2i_loss_db("high", 3.5, d_in_m=4.0, unit_draw=z)
    np.testing.assert_allclose(got, high_hand(3.5) + 2.0 + 6.5 * z, rtol=0, atol=1e-9)
    with pytest.raises(InputError, match="rng or unit_draw"):
        o2i.o2i_loss_db("low", 3.5, rng=np.random.default_rng(1), unit_draw=z)
