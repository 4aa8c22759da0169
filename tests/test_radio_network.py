"""City radio analysis checked against TR 38.901 and the seed link budget worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.errors import InputError
from twin.radio.budget import noise_power_dbm, sinr_db
from twin.radio.network import (
    RESULT_FLOAT,
    SERVING_STORE_BYTES,
    Serving,
    band_cells,
    greedy_reuse_colouring,
    serve_receivers,
    user_type_label,
)


def uma_pl_by_hand(f_ghz: float, d2d: float, h_bs: float, h_ut: float, los: bool) -> float:
    """TR 38.901 Table 7.4.1-1 UMa, h_E = 1 m, d2D clamped to >= 10 m."""
    d2d = max(d2d, 10.0)
    d3d = math.sqrt(d2d**2 + (h_bs - h_ut) ** 2)
    d_bp = 4 * (h_bs - 1) * (h_ut - 1) * f_ghz * 1e9 / 3e8
    if d2d <= d_bp:
        pl_los = 28.0 + 22 * math.log10(d3d) + 20 * math.log10(f_ghz)
    else:
        pl_los = (
            28.0 + 40 * math.log10(d3d) + 20 * math.log10(f_ghz)
            - 9 * math.log10(d_bp**2 + (h_bs - h_ut) ** 2)
        )  # fmt: skip
    if los:
        return pl_los
    pl_nlos = 13.54 + 39.08 * math.log10(d3d) + 20 * math.log10(f_ghz) - 0.6 * (h_ut - 1.5)
    return max(pl_los, pl_nlos)


def o2i_low_by_hand(f_ghz: float) -> float:
    l_glass = 2 + 0.2 * f_ghz
    l_concrete = 5 + 4 * f_ghz
    return 5 - 10 * math.log10(0.3 * 10 ** (-l_glass / 10) + 0.7 * 10 ** (-l_concrete / 10))


@pytest.mark.parametrize("label", ["0p7", "3p5", "28"])
def test_points_against_the_link_budget_by_hand(helsinki_study, label: str) -> None:  # type: ignore[no-untyped-def]
    r = helsinki_study
    res = r.bands[label]
    f = res.freq_ghz
    g = r.grid
    sites = r.sites
    assert all(s.model == "uma" and not s.azimuths_deg for s in sites)
    n_grid = g.is_grid
    cell_area = np.bincount(res.serving_cell[n_grid], minlength=len(sites)) * 0.02**2
    los_matrix = r.los  # unpacked at each read: once
    rng = np.random.default_rng(3)
    for i in rng.choice(len(g), 25, replace=False):
        rx_dbm = []
        for j, s in enumerate(sites):
            d2d = math.hypot(g.x_m[i] - s.x_m, g.y_m[i] - s.y_m)
            los = bool(los_matrix[i, j])
            pl = uma_pl_by_hand(f, d2d, s.height_m, g.rx_height_m[i], los)
            sf = 4.0 if los else 6.0
            o2i = o2i_low_by_hand(f) if g.indoor[i] else 0.0
            rx_dbm.append(46.0 - max(pl + sf - 15.0 - 0.0 + o2i, 70.0))
        best = int(np.argmax(rx_dbm))
        assert res.serving_site[i] == best
        assert res.rsrp_dbm[i] == pytest.approx(rx_dbm[best], abs=0.01)
        d2d = math.hypot(g.x_m[i] - sites[best].x_m, g.y_m[i] - sites[best].y_m)
        exp_pl = uma_pl_by_hand(
            f, d2d, sites[best].height_m, g.rx_height_m[i], bool(los_matrix[i, best])
        )
        assert res.path_loss_db[i] == pytest.approx(exp_pl, abs=0.01)
        sub = res.cells.subband
        interf_mw = sum(
            10 ** (p / 10) for j, p in enumerate(rx_dbm) if j != best and sub[j] == sub[best]
        )
        n_user = max(300.0 * cell_area[best], 1.0)
        bw_hz = 0.05 * f * 1e9 / (3 * n_user)
        noise_mw = 10 ** ((-174 + 10 * math.log10(bw_hz)) / 10)
        sinr = rx_dbm[best] - 10 * math.log10(interf_mw + noise_mw)
        assert res.sinr_db[i] == pytest.approx(sinr, abs=0.01)
        cap = bw_hz * math.log2(1 + 10 ** (sinr / 10)) / 1e6
        assert res.capacity_mbps[i] == pytest.approx(cap, rel=1e-6)
        r_cell = math.sqrt(cell_area[best] / 2.6) * 1000
        edge = d2d > 2 / 3 * r_cell
        expected_type = 1 + 4 * bool(los_matrix[i, best]) + 2 * (not g.indoor[i]) + (not edge)
        assert res.user_type[i] == expected_type


def test_a_city_keeps_each_measurement_rounded_once_to_float32(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    """The tiled study keeps its measurements as float32 (what the output files write):
    each one the float64 value of one pass over every receiver, rounded once; the SINR
    within float32's rounding of its float64 value; 21 bytes per receiver and band."""
    from twin.study import radio_params

    r = helsinki_study
    g = r.grid
    params = radio_params(r.scenario)
    los_matrix = r.los
    for res in r.bands.values():
        band = band_cells(res.freq_ghz, r.sites, params.reuse)
        ref = serve_receivers(
            band, los_matrix, np.arange(len(r.sites)), g.x_m, g.y_m, g.rx_height_m,
            g.indoor, params, site_radius_m=r.site_radius_m,
        )  # fmt: skip
        assert ref.path_loss_db.dtype == np.float64  # a pass computes in float64
        assert np.array_equal(res.serving_cell, ref.cell)
        for name in ("rsrp_dbm", "path_loss_db", "d2d_m"):
            kept = getattr(res, name)
            assert kept.dtype == RESULT_FLOAT
            assert np.array_equal(kept, getattr(ref, name).astype(RESULT_FLOAT), equal_nan=True)
        served = ref.cell >= 0
        noise = noise_power_dbm(res.cell_bandwidth_hz[ref.cell[served]])
        sinr64 = sinr_db(ref.rsrp_dbm[served], ref.interference_mw[served], noise)
        assert res.sinr_db.dtype == RESULT_FLOAT
        # the kept SINR is the float64 value from the kept (rounded) power and
        # interference, rounded once: the output's rounding (2**-24 relative, rtol) plus
        # the power's (2**-24 of ~100 dBm, about 6e-6 dB, atol)
        assert np.allclose(res.sinr_db[served], sinr64, rtol=2.0**-23, atol=1e-5)
        assert np.all(np.isnan(res.sinr_db[~served]))
        per_rx = sum(
            v.nbytes for v in vars(res).values() if isinstance(v, np.ndarray) and v.size == len(g)
        )
        assert per_rx == 21 * len(g)
    # what the radio pass keeps per receiver and band before the SINR: 21 bytes too
    store = Serving.store(1000)
    assert sum(v.nbytes for v in vars(store).values()) == 21 * 1000 == SERVING_STORE_BYTES * 1000


def test_user_type_labels_follow_the_seed_table() -> None:
    assert user_type_label(1) == "NLoS indoor edge"
    assert user_type_label(4) == "NLoS outdoor centre"
    assert user_type_label(5) == "LoS indoor edge"
    assert user_type_label(8) == "LoS outdoor centre"
    with pytest.raises(InputError):
        user_type_label(9)


def test_reuse_colouring_of_a_hex_layout_separates_neighbours() -> None:
    from twin.sites import hex_lattice

    xy = hex_lattice((0, 0, 2000, 2000), 500.0)
    colour = greedy_reuse_colouring(xy, 3)
    d = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    same = colour[:, None] == colour[None, :]
    # co-channel sites are never first-tier neighbours
    assert d[same].min() > 500.0 * 1.5
    assert set(colour) == {0, 1, 2}


def _colouring_recounted_at_each_step(xy: np.ndarray, reuse: int) -> np.ndarray:
    """The reference: the greedy colouring written as its definition, every site's
    distinct neighbour colours and coloured neighbours recounted at each step."""
    n = len(xy)
    colour = np.full(n, -1)
    if n == 0:
        return colour
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(d, np.inf)
    near = d.min(axis=1) if n > 1 else np.array([np.inf])
    neighbour = d <= 1.5 * near[:, None]
    to_centre = np.hypot(*(xy - xy.mean(axis=0)).T)
    for _ in range(n):
        free = [i for i in range(n) if colour[i] < 0]

        def rank(i: int) -> tuple[int, int, float, int]:
            seen = colour[neighbour[i] & (colour >= 0)]
            return (-len(set(seen.tolist())), -seen.size, float(to_centre[i]), i)

        i = min(free, key=rank)
        used = set(colour[neighbour[i] & (colour >= 0)].tolist())
        far = [
            float(d[i, colour == c].min()) if (colour == c).any() else np.inf for c in range(reuse)
        ]
        colour[i] = min(range(reuse), key=lambda c: (int(c in used), -far[c], c))
    return colour


@pytest.mark.parametrize("reuse", [2, 3, 4, 7])
def test_reuse_colouring_equals_its_definition_recounted_at_each_step(
    reuse: int, helsinki_study
) -> None:  # type: ignore[no-untyped-def]
    """The incremental counts give the colouring of the definition: on the Helsinki
    study's sites, hexagonal and square lattices, random points and a few sites."""
    from twin.sites import hex_lattice

    rng = np.random.default_rng(reuse)
    layouts = [
        np.array([(s.x_m, s.y_m) for s in helsinki_study.sites]),
        hex_lattice((0, 0, 3000, 3000), 500.0),
        np.array([(400.0 * (k % 9), 400.0 * (k // 9)) for k in range(63)]),
        rng.uniform(0, 4000, (80, 2)),
        rng.uniform(0, 100, (3, 2)),
        np.zeros((1, 2)),
        np.zeros((0, 2)),
    ]
    for xy in layouts:
        got = greedy_reuse_colouring(xy, reuse)
        assert np.array_equal(got, _colouring_recounted_at_each_step(xy, reuse))
        assert got.dtype == np.int64 and np.all((got >= 0) & (got < reuse))


def test_every_point_has_a_type_and_the_shares_add_up(helsinki_study) -> None:  # type: ignore[no-untyped-def]
    for res in helsinki_study.bands.values():
        assert set(np.unique(res.user_type)) <= set(range(1, 9))
        assert np.all(np.isfinite(res.sinr_db)) and np.all(res.capacity_mbps > 0)


@pytest.mark.parametrize("chunk", [3, 977])
def test_capacity_by_chunks_is_the_capacity_of_every_receiver_at_once(
    helsinki_study, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The capacity computed by chunks of receivers is Shannon's formula on the whole
    arrays at once (0 where unserved)."""
    from twin.radio.budget import shannon_capacity_bps

    for res in helsinki_study.bands.values():
        served = res.serving_cell >= 0
        whole = np.zeros(served.size)
        whole[served] = shannon_capacity_bps(
            res.cell_bandwidth_hz[res.serving_cell[served]], res.sinr_db[served],
            max_spectral_efficiency=res.max_spectral_efficiency,
        )  # fmt: skip
        monkeypatch.setattr("twin.radio.network.CAPACITY_CHUNK", chunk)
        got = res.capacity_mbps
        assert served.size > 977 and np.array_equal(got, whole / 1e6)


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
@pytest.mark.parametrize("model", ["uma", "rma"])
def test_a_far_site_is_weaker_than_one_at_the_range_end(engine: str, model: str) -> None:
    """Past TR 38.901's distance range (5 km; RMa LoS 10 km) a link is evaluated at its
    own distance, the formula extrapolated (LINK_ON_RANGE), not clamped to the range's
    end, so that the loss keeps growing; nearer than 10 m it is evaluated at 10 m."""
    from twin.propagation.tr38901 import path_loss_db
    from twin.radio.network import LINK_ON_RANGE, RadioParams
    from twin.sites import Site

    assert LINK_ON_RANGE == "clamp-min"
    site = Site("s", 0.0, 0.0, 25.0, model=model)
    d2d = np.array([3.0, 2000.0, 4999.0, 7000.0, 12000.0, 40000.0, 7000.0, 12000.0])
    los = np.array([True, True, False, True, True, False, False, False])[:, None]
    n = d2d.size
    band = band_cells(3.5, [site], 1)
    got = serve_receivers(
        band, los, np.arange(1), d2d, np.zeros(n), np.full(n, 1.5), np.zeros(n, bool),
        RadioParams(), engine=engine,
    )  # fmt: skip
    want = np.array(
        [
            float(
                path_loss_db(model, 3.5, max(d, 10.0), 25.0, 1.5, bool(l), on_range="extrapolate")
            )
            for d, l in zip(d2d, los[:, 0], strict=True)
        ]
    )
    assert np.allclose(got.path_loss_db, want, atol=1e-9)
    if model == "uma":  # by hand (h_E = 1 m), independent of the module's formulas
        hand = [
            uma_pl_by_hand(3.5, d, 25.0, 1.5, bool(l)) for d, l in zip(d2d, los[:, 0], strict=True)
        ]
        assert np.allclose(got.path_loss_db, hand, atol=1e-9)
    # the farther, the weaker: 7 km and 12 km lose more than the range's end would
    at_end = float(path_loss_db(model, 3.5, 5000.0, 25.0, 1.5, False, on_range="error"))
    assert got.path_loss_db[6] > at_end + 3.0 and got.path_loss_db[7] > got.path_loss_db[6] + 5.0
    assert np.array_equal(got.d2d_m, d2d)


def _ring(n_sites: int, radius_m: float = 60.0) -> list:  # type: ignore[type-arg]
    """One-sector UMi cells on a ring, each facing its centre (a ``cluster`` layout)."""
    from twin.sites import Site

    sites = []
    for k in range(n_sites):
        a = 2 * math.pi * k / n_sites
        x, y = radius_m * math.sin(a), radius_m * math.cos(a)  # bearing a from north
        facing = (math.degrees(a) + 180.0) % 360.0
        sites.append(Site(f"c{k}", x, y, 10.0, model="umi", azimuths_deg=(facing,)))
    return sites


def test_one_sector_sites_are_coloured_by_position_like_omni_sites() -> None:
    """At reuse 3, sites with fewer sectors than the reuse are coloured by position (as
    omni sites at the same places), their sectors on distinct sub-bands; a site with
    three sectors or more keeps one sub-band per sector (sector index mod reuse)."""
    from dataclasses import replace

    from twin.radio.network import build_cells
    from twin.sites import Site

    ring = _ring(6)
    cells = build_cells(ring, 28.0, 3)
    omni = build_cells([replace(s, azimuths_deg=()) for s in ring], 28.0, 3)
    assert np.array_equal(cells.subband, omni.subband)
    assert np.bincount(cells.subband, minlength=3).tolist() == [2, 2, 2]
    # neighbours on the ring differ; only opposite cells share a sub-band
    assert all(cells.subband[k] != cells.subband[(k + 1) % 6] for k in range(6))
    assert all(cells.subband[k] == cells.subband[k + 3] for k in range(3))
    assert build_cells(ring, 28.0, 1).subband.tolist() == [0] * 6
    mixed = [
        Site("t", 0.0, 0.0, 25.0, azimuths_deg=(0.0, 120.0, 240.0)),
        Site("q", 500.0, 0.0, 25.0, azimuths_deg=(0.0, 90.0, 180.0, 270.0)),
        Site("two", 250.0, 400.0, 25.0, azimuths_deg=(0.0, 180.0)),
        Site("o", 250.0, -400.0, 25.0),
    ]
    cells = build_cells(mixed, 3.5, 3)
    assert cells.subband[:7].tolist() == [0, 1, 2, 0, 1, 2, 0]
    two, o = cells.subband[7:9], cells.subband[9]
    colours = greedy_reuse_colouring(np.array([[250.0, 400.0], [250.0, -400.0]]), 3)
    assert two.tolist() == [colours[0], (colours[0] + 1) % 3] and o == colours[1]


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_reuse_3_takes_the_interferers_of_other_sub_bands_away(engine: str) -> None:
    """At the centre of a ring of six one-sector cells facing it, every cell arrives with
    the same power P (the same distance, boresight, LoS): the served cell sees 5 P of
    interference at reuse 1 and P (the opposite cell) at reuse 3."""
    from twin.radio.network import RadioParams

    ring = _ring(6)
    los = np.ones((1, 6), dtype=bool)
    got = {}
    for reuse in (1, 3):
        band = band_cells(28.0, ring, reuse)
        got[reuse] = serve_receivers(
            band, los, np.arange(6), np.zeros(1), np.zeros(1), np.full(1, 1.5),
            np.zeros(1, bool), RadioParams(reuse=reuse, shadowing="off"), engine=engine,
        )  # fmt: skip
    p_mw = 10 ** (got[1].rsrp_dbm[0] / 10)
    assert got[1].interference_mw[0] == pytest.approx(5 * p_mw, rel=1e-9)
    assert got[3].interference_mw[0] == pytest.approx(p_mw, rel=1e-9)
    assert got[3].rsrp_dbm[0] == got[1].rsrp_dbm[0]


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_field_shadowing_gives_indoor_links_the_o2i_sigma(engine: str) -> None:
    """With ``shadowing="field"`` a link's shadow fading is its unit draw times sigma:
    Table 7.4.1-1's (UMa LoS 4, NLoS 6 dB) outdoors, the O2I sigma of Table 7.5-6 (7 dB)
    indoors, whatever the LoS; and an indoor receiver's O2I loss takes its penetration
    draw, 4.4 dB z (low loss, Table 7.4.3-2; z from its position and the seed, written
    out by hand in tests/test_propagation_o2i.py); the received power worked by hand."""
    from tests.test_propagation_o2i import z_by_hand
    from twin.radio.network import RadioParams
    from twin.sites import Site

    site = Site("s", 0.0, 0.0, 25.0)
    d2d = np.array([300.0, 300.0, 300.0, 300.0])
    los = np.array([True, False, True, False])[:, None]
    indoor = np.array([False, False, True, True])
    unit = np.array([[1.5], [-0.5], [1.5], [-0.5]])
    params = RadioParams(shadowing="field", o2i="low")
    got = serve_receivers(
        band_cells(3.5, [site], 1), los, np.arange(1), d2d, np.zeros(4), np.full(4, 1.5),
        indoor, params, shadow_unit=unit, engine=engine,
    )  # fmt: skip
    sigma = np.array([4.0, 6.0, 7.0, 7.0])
    z = z_by_hand(300.0, 0.0, params.seed)  # the four receivers stand at one point
    assert abs(z) > 0.1
    for i in range(4):
        pl = uma_pl_by_hand(3.5, d2d[i], 25.0, 1.5, bool(los[i, 0]))
        o2i = o2i_low_by_hand(3.5) + 4.4 * z if indoor[i] else 0.0
        want = 46.0 - max(pl + unit[i, 0] * sigma[i] - 15.0 + o2i, 70.0)
        assert got.rsrp_dbm[i] == pytest.approx(want, abs=1e-9)


def test_band_checks_name_what_the_sites_radiate_on() -> None:
    """A band no site radiates on is refused before any work, naming the sites' bands; a
    band outside a site's model range names the site and the range."""
    from twin.radio.network import check_band_ranges
    from twin.sites import Site

    sites = [
        Site("A", 0.0, 0.0, 30.0, bands_ghz=(26.0,)),
        Site("B", 9.0, 0.0, 30.0, bands_ghz=(3.5, 26.0)),
    ]
    check_band_ranges(sites, [3.5, 26.0])  # every band has a site
    with pytest.raises(InputError, match=r"band 28 GHz: no site radiates on it \(the sites' "
                       r"bands_ghz: 3\.5, 26 GHz\)"):  # fmt: skip
        check_band_ranges(sites, [3.5, 28.0])
    omni = [Site("C", 0.0, 0.0, 30.0, model="rma")]  # every band, RMa up to 30 GHz
    check_band_ranges(omni, [0.7, 28.0])
    with pytest.raises(InputError, match=r"outside the range of the RMA model of site C"):
        check_band_ranges(omni, [39.0])
