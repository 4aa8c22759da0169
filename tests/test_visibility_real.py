"""Fast vs exact line of sight on every real extract (the city model from load_city)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from tests.conftest import EXTRACTS
from twin.visibility import BuildingPrisms, los_matrix


def sample_pairs(
    buildings, bounds, *, n_outdoor: int, n_indoor: int, n_sites: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outdoor receivers at 1.5 m, indoor ones inside random buildings, rooftop and street
    sites; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    geoms = buildings.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    minx, miny, maxx, maxy = bounds
    x = rng.uniform(minx, maxx, 8 * n_outdoor)
    y = rng.uniform(miny, maxy, 8 * n_outdoor)
    hit = np.zeros(len(x), dtype=bool)
    hit[tree.query(shapely.points(x, y), predicate="intersects")[0]] = True
    outdoor = np.c_[x[~hit], y[~hit]][:n_outdoor]
    rx = [np.c_[outdoor, np.full(len(outdoor), 1.5)]]
    bid = [np.full(len(outdoor), -1)]
    top = buildings["height_m"].to_numpy()
    bottom = buildings["min_height_m"].to_numpy()
    picks = rng.choice(len(geoms), 4 * n_indoor)
    cand = shapely.points(
        rng.uniform(*np.c_[shapely.bounds(geoms[picks])[:, [0, 2]]].T),
        rng.uniform(*np.c_[shapely.bounds(geoms[picks])[:, [1, 3]]].T),
    )
    inside = shapely.contains(geoms[picks], cand)
    picks, cand = picks[inside][:n_indoor], cand[inside][:n_indoor]
    z = bottom[picks] + rng.uniform(0.1, 0.9, len(picks)) * (top[picks] - bottom[picks])
    rx.append(np.c_[shapely.get_coordinates(cand), z])
    bid.append(picks)
    # rooftop sites on the tallest ground-standing buildings, one street mast
    ground_top = np.where(bottom > 0, -1.0, top)
    roofs = rng.choice(np.argsort(-ground_top)[:20], n_sites - 1, replace=False)
    roof_xy = shapely.get_coordinates(shapely.point_on_surface(geoms[roofs]))
    tx = np.r_[np.c_[roof_xy, top[roofs] + 3.0], [[outdoor[0, 0], outdoor[0, 1], 10.0]]]
    return np.concatenate(rx), np.concatenate(bid).astype(np.int64), tx


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_fast_agrees_with_exact(name: str, request: pytest.FixtureRequest) -> None:
    from twin.city import load_city

    shared = {"helsinki": "helsinki_city", "west-oakland": "oakland_city"}
    if name in shared:  # built once per session by conftest
        city = request.getfixturevalue(shared[name])
    else:
        city = load_city(str(EXTRACTS[name]))
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    rx, bid, tx = sample_pairs(
        city.buildings, city.bounds, n_outdoor=2500, n_indoor=1500, n_sites=4
    )
    assert (bid >= 0).sum() > 1000
    exact = los_matrix(prisms, rx, bid, tx, mode="exact")
    fast = los_matrix(prisms, rx, bid, tx, mode="fast")
    agreement = (fast == exact).mean(axis=0)
    assert agreement.min() >= 0.995, f"{name}: agreement per site {agreement}"
    # the engines are exact both: expect full agreement up to floating point
    assert (fast != exact).sum() <= 2
    # sanity: the sample is neither all visible nor all hidden
    assert 0.01 < exact.mean() < 0.9


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_fast_agrees_with_exact_on_a_block_of_neighbouring_receivers(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Receivers of a 5 m grid in row order, as a study's tiles hold them: the fast
    engine's first probe of a pair goes where the previous receiver's blocking probe
    was, so neighbours are what exercises it. Indoor points stand in their building,
    every other one 1 m under its roof (segments that leave over the own roof, or pass
    over a wing of it before they enter: the probes do not read which building a cell
    is, see twin.visibility.fast)."""
    from twin.city import load_city

    shared = {"helsinki": "helsinki_city", "west-oakland": "oakland_city"}
    if name in shared:
        city = request.getfixturevalue(shared[name])
    else:
        city = load_city(str(EXTRACTS[name]))
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    minx, miny, maxx, maxy = city.bounds
    cx, cy = 0.5 * (minx + maxx), 0.5 * (miny + maxy)
    side = min(300.0, 0.8 * (maxx - minx), 0.8 * (maxy - miny))
    xs = np.arange(cx - side / 2, cx + side / 2, 5.0)
    ys = np.arange(cy + side / 2, cy - side / 2, -5.0)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))  # row after row, west to east
    geoms = city.buildings.geometry.to_numpy()
    pts = shapely.points(gx, gy)
    pi, bi = shapely.STRtree(geoms).query(pts, predicate="within")
    bid = np.full(len(gx), -1, dtype=np.int64)
    bid[pi] = bi
    base = city.buildings["min_height_m"].to_numpy()[np.maximum(bid, 0)]
    top = city.buildings["height_m"].to_numpy()[np.maximum(bid, 0)]
    high = (bid >= 0) & (np.cumsum(bid >= 0) % 2 == 0) & (top - 1.0 > base + 1.5)
    z = np.where(bid >= 0, base + 1.5, 1.5)
    z[high] = top[high] - 1.0
    rx = np.c_[gx, gy, z]
    _, _, tx = sample_pairs(city.buildings, city.bounds, n_outdoor=50, n_indoor=10, n_sites=4)
    exact = los_matrix(prisms, rx, bid, tx, mode="exact")
    fast = los_matrix(prisms, rx, bid, tx, mode="fast")
    assert (fast != exact).sum() <= 2, f"{name}: {(fast != exact).sum()} pairs differ"
    assert (bid >= 0).any() and (bid < 0).any() and high.any()
    assert 0.0 < exact.mean() < 0.9
