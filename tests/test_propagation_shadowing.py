"""Shadow fading: margins, and the correlated field's determinism and statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.errors import InputError
from twin.propagation import shadowing as sh

L = 50.0  # UMa NLoS decorrelation distance, Table 7.5-6


def test_decorrelation_distances_table_7_5_6() -> None:
    assert sh.decorrelation_distance_m("uma", [True, False]).tolist() == [37.0, 50.0]
    assert sh.decorrelation_distance_m("umi", [True, False]).tolist() == [10.0, 13.0]
    assert sh.decorrelation_distance_m("rma", [True, False]).tolist() == [37.0, 120.0]


def test_modes_off_and_margin() -> None:
    los = np.array([[True, False], [False, True]])
    assert np.all(sh.shadowing_db("off", model="umi", los=los) == 0.0)
    m = sh.shadowing_db("margin", model="umi", los=los, k_sigma=1.0)
    assert m.tolist() == [[4.0, 7.82], [7.82, 4.0]]
    m2 = sh.shadowing_db("margin", model="uma", los=los, k_sigma=1.645)
    assert m2[0, 1] == pytest.approx(1.645 * 6.0)
    with pytest.raises(InputError, match="mode"):
        sh.shadowing_db("random", model="uma", los=los)
    with pytest.raises(InputError, match="needs x_m"):
        sh.shadowing_db("field", model="uma", los=los)


def test_field_is_deterministic_and_pointwise() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 2000, 500), rng.uniform(0, 2000, 500)
    a = sh.shadow_field_db(x, y, sigma_db=6.0, decorr_m=L, seed=42)
    b = sh.shadow_field_db(x, y, sigma_db=6.0, decorr_m=L, seed=42)
    c = sh.shadow_field_db(x, y, sigma_db=6.0, decorr_m=L, seed=43)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    # a point's value does not depend on which other points are evaluated with it
    part = sh.shadow_field_db(x[::7], y[::7], sigma_db=6.0, decorr_m=L, seed=42)
    assert np.array_equal(part, a[::7])
    # and sigma scales it
    assert np.allclose(sh.shadow_field_db(x, y, sigma_db=3.0, decorr_m=L, seed=42), a / 2)


def _direct_sum(
    x: np.ndarray, y: np.ndarray, kx: np.ndarray, ky: np.ndarray, ph: np.ndarray
) -> np.ndarray:
    """The sum of cosines term by term, as the formula reads."""
    return np.cos(np.outer(x, kx) + np.outer(y, ky) + ph).sum(axis=1)


def test_sum_of_sinusoids_equals_the_direct_sum_and_is_pointwise() -> None:
    """Grid points (sharing coordinates) and scattered ones, at UTM-sized coordinates, in
    more points than one chunk: the tables of cos/sin give the direct sum of cosines up
    to rounding, and a point's value is the same bits in any company and order."""
    rng = np.random.default_rng(11)
    gx, gy = np.meshgrid(385_000.0 + 5.0 * np.arange(140), 6_672_000.0 + 5.0 * np.arange(130))
    x = np.r_[gx.ravel(), rng.uniform(385_000, 385_700, 2000)]
    y = np.r_[gy.ravel(), rng.uniform(6_672_000, 6_672_650, 2000)]
    assert x.size > sh._CHUNK_POINTS
    u = rng.random(512)
    k = np.sqrt(1.0 / (1.0 - u) ** 2 - 1.0) / 37.0  # heavy-tailed, as drawn by the field
    ang = rng.uniform(0, 2 * np.pi, 512)
    kx, ky, ph = k * np.cos(ang), k * np.sin(ang), rng.uniform(0, 2 * np.pi, 512)
    got = sh.sum_of_sinusoids(x, y, kx, ky, ph)
    sample = rng.choice(x.size, 3000, replace=False)
    want = _direct_sum(x[sample], y[sample], kx, ky, ph)
    # 512 terms of magnitude 1 whose arguments reach 1e8 rad: rounding of about 1e-8
    assert np.abs(got[sample] - want).max() < 1e-6
    assert got.std() > 5.0  # a real field (std sqrt(256) = 16), not zeros
    perm = rng.permutation(x.size)
    assert np.array_equal(sh.sum_of_sinusoids(x[perm], y[perm], kx, ky, ph), got[perm])
    assert np.array_equal(sh.sum_of_sinusoids(x[sample], y[sample], kx, ky, ph), got[sample])
    assert sh.sum_of_sinusoids(x[:0], y[:0], kx, ky, ph).size == 0
    # the field in chunks: the same bits as point by point in any order
    f = sh.shadow_field_db(x, y, sigma_db=1.0, decorr_m=37.0, seed=3)
    g = sh.shadow_field_db(x[perm], y[perm], sigma_db=1.0, decorr_m=37.0, seed=3)
    assert np.array_equal(f[perm], g)


def _pairs(seed: int, lag_m: float, n: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1000 + seed)
    x, y = rng.uniform(0, 200 * L, n), rng.uniform(0, 200 * L, n)
    ang = rng.uniform(0, 2 * np.pi, n)
    x2, y2 = x + lag_m * np.cos(ang), y + lag_m * np.sin(ang)
    v = sh.shadow_field_db(np.r_[x, x2], np.r_[y, y2], sigma_db=1.0, decorr_m=L, seed=seed)
    return v[:n], v[n:]


def test_field_mean_std_and_gaussian() -> None:
    vals = np.concatenate([_pairs(s, 0.0)[0] for s in range(3)]) * 8.0
    assert abs(vals.mean()) < 0.05 * 8.0
    assert vals.std() == pytest.approx(8.0, rel=0.05)
    assert np.mean(np.abs(vals) < 8.0) == pytest.approx(0.6827, abs=0.03)


@pytest.mark.parametrize(
    ("lag", "expected"), [(0.2 * L, math.exp(-0.2)), (L, math.exp(-1.0)), (3 * L, math.exp(-3.0))]
)
def test_field_autocorrelation_is_exponential(lag: float, expected: float) -> None:
    r = [np.corrcoef(*_pairs(s, lag))[0, 1] for s in range(3)]
    assert float(np.mean(r)) == pytest.approx(expected, abs=0.05)


def test_site_fields_independent_and_stable() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 1000, 300), rng.uniform(0, 1000, 300)
    los = rng.random((300, 3)) < 0.4
    f = sh.shadowing_db("field", model="uma", los=los, x_m=x, y_m=y, seed=9)
    assert f.shape == (300, 3)
    again = sh.shadowing_db("field", model="uma", los=los, x_m=x, y_m=y, seed=9)
    assert np.array_equal(f, again)
    # site 7's field is the same whether or not other sites are present
    one = sh.site_shadow_fields_db(
        x,
        y,
        los[:, 2:3],
        sigma_db=np.where(los[:, 2:3], 4.0, 6.0),
        model="uma",
        seed=9,
        site_ids=[2],
    )
    assert np.allclose(one[:, 0], f[:, 2])
    assert abs(np.corrcoef(f[:, 0], f[:, 1])[0, 1]) < 0.2


def test_sum_of_sinusoids_refuses_arrays_that_do_not_match() -> None:
    """The compiled kernel reads ky and phase at every index of kx, and y at every index
    of x: lengths that differ are refused by name instead of read out of bounds."""
    one, two = np.zeros(1), np.zeros(2)
    with pytest.raises(InputError, match=r"kx \(2,\), ky \(1,\) and phase \(2,\)"):
        sh.sum_of_sinusoids(one, one, two, one, two)
    with pytest.raises(InputError, match=r"x_m \(2,\) and y_m \(1,\)"):
        sh.sum_of_sinusoids(two, one, one, one, one)
    with pytest.raises(InputError, match="1-D"):
        sh.sum_of_sinusoids(np.zeros((2, 2)), np.zeros((2, 2)), one, one, one)
    assert sh.warm_up().tolist() == [1.0]  # cos(0) cos(0) - sin(0) sin(0)


def test_bad_field_arguments() -> None:
    with pytest.raises(InputError, match="decorr_m"):
        sh.shadow_field_db([0.0], [0.0], sigma_db=1.0, decorr_m=0.0, seed=1)
    with pytest.raises(InputError, match="shape"):
        sh.site_shadow_fields_db(
            [0.0, 1.0], [0.0, 1.0], [True, False], sigma_db=1.0, model="uma", seed=1
        )


@pytest.mark.parametrize("model", ["uma", "rma"])
def test_indoor_points_take_each_sites_o2i_field(model: str) -> None:
    """An indoor point's links come from a third field per site, with the O2I
    decorrelation distance of Table 7.5-6 (7 m UMa and UMi, 120 m RMa) and the seed
    (seed, site id, 2); the outdoor points' values are those without indoor points."""
    rng = np.random.default_rng(8)
    n = 400
    x, y = rng.uniform(0, 500, n), rng.uniform(0, 500, n)
    los = rng.random((n, 2)) < 0.5
    indoor = rng.random(n) < 0.3
    got = sh.site_shadow_fields_db(
        x, y, los, sigma_db=1.0, model=model, seed=4, site_ids=[11, 12], indoor=indoor
    )
    outdoor_only = sh.site_shadow_fields_db(
        x, y, los, sigma_db=1.0, model=model, seed=4, site_ids=[11, 12]
    )
    assert np.array_equal(got[~indoor], outdoor_only[~indoor])
    for j, site_id in enumerate((11, 12)):
        want = sh.shadow_field_db(
            x[indoor], y[indoor], sigma_db=1.0,
            decorr_m=sh.O2I_DECORRELATION_DISTANCE_M[model],
            seed=np.random.SeedSequence(entropy=4, spawn_key=(site_id, 2)),
        )  # fmt: skip
        assert np.array_equal(got[indoor, j], want)
        assert not np.allclose(got[indoor, j], outdoor_only[indoor, j])
    assert sh.O2I_SF_SIGMA_DB == {"uma": 7.0, "umi": 7.0, "rma": 8.0}
    with pytest.raises(InputError, match=r"indoor must have shape \(400,\)"):
        sh.site_shadow_fields_db(x, y, los, sigma_db=1.0, model=model, seed=4, indoor=indoor[:3])
