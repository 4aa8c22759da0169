"""The compiled radio pass (twin.radio.compiled) against the vectorised reference
(twin.radio.network.serve_receivers(engine="numpy"), built on the TR 38.901 functions that
tests/test_propagation_tr38901.py checks against the standard's formulas by hand)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tests.test_tiles import synthetic_scenario as tiles_scenario
from twin.city.synthetic import synthetic_city
from twin.errors import InputError, ModelRangeError
from twin.radio.compiled import warm_up
from twin.radio.network import RadioParams, Serving, band_cells, serve_receivers
from twin.study import radio_params, run_study
from twin.tiles import link_shadow_units


def _serve_both(result, params: RadioParams, sites=None, radius=None):  # type: ignore[no-untyped-def]
    """Both engines on every band of a study's receivers and LoS."""
    g = result.grid
    los = result.los
    sites = result.sites if sites is None else sites
    cols = np.arange(len(sites))
    shadow = (
        link_shadow_units(g.x_m, g.y_m, sites, los, params.seed, g.indoor)
        if params.shadowing == "field"
        else None
    )
    out = {}
    for label, band_result in result.bands.items():
        band = band_cells(band_result.freq_ghz, sites, params.reuse)
        out[label] = tuple(
            serve_receivers(
                band,
                los,
                cols,
                g.x_m,
                g.y_m,
                g.rx_height_m,
                g.indoor,
                params,
                shadow_unit=shadow,
                site_radius_m=radius,
                engine=engine,
            )
            for engine in ("numpy", "compiled")
        )
    return out


def _assert_agree(ref: Serving, got: Serving) -> None:
    assert np.array_equal(ref.cell, got.cell)
    assert np.array_equal(ref.los, got.los)
    served = ref.cell >= 0
    assert served.any()
    for name in ("rsrp_dbm", "path_loss_db", "d2d_m"):
        a, b = getattr(ref, name), getattr(got, name)
        assert np.array_equal(np.isnan(a), ~served) and np.array_equal(np.isnan(b), ~served)
        np.testing.assert_allclose(b[served], a[served], rtol=0, atol=1e-9, err_msg=name)
    # interference: relative (the powers span many decades)
    np.testing.assert_allclose(got.interference_mw, ref.interference_mw, rtol=1e-10, atol=0)


@pytest.mark.parametrize("shadowing", ["margin", "off", "field"])
def test_compiled_equals_reference_on_helsinki(helsinki_study, default_scenario, shadowing) -> None:  # type: ignore[no-untyped-def]
    params = replace(radio_params(default_scenario), shadowing=shadowing)
    for ref, got in _serve_both(helsinki_study, params).values():
        _assert_agree(ref, got)


@pytest.fixture(scope="module")
def mixed_study():  # type: ignore[no-untyped-def]
    # omni UMa rooftop sites, three-sector UMi street sites on two bands
    sc = tiles_scenario()
    return sc, run_study(sc, city=synthetic_city(0.5, seed=11))


@pytest.mark.parametrize(
    ("shadowing", "o2i", "downtilt"),
    [("margin", "low", 0.0), ("field", "high", 6.0), ("off", "none", 10.0)],
)
def test_compiled_equals_reference_with_sectors_and_rma(
    mixed_study, shadowing, o2i, downtilt
) -> None:  # type: ignore[no-untyped-def]
    sc, result = mixed_study
    params = replace(radio_params(sc), shadowing=shadowing, o2i=o2i, downtilt_deg=downtilt)
    sites = list(result.sites)
    assert any(s.azimuths_deg for s in sites) and any(not s.azimuths_deg for s in sites)
    # every third omni rooftop site as RMa (its LoS/NLoS, breakpoint and sigma branches)
    omni = [i for i, s in enumerate(sites) if not s.azimuths_deg and s.height_m >= 10.0]
    for i in omni[::3]:
        sites[i] = replace(sites[i], model="rma")
    rma_bands = [f for f in (0.7, 3.5, 28.0) if f <= 30.0]
    assert rma_bands
    # a finite radius on some sites: unserved receivers and out-of-reach interferers
    radius = np.where(np.arange(len(sites)) % 2 == 0, 350.0, np.inf)
    both = _serve_both(result, params, sites=sites, radius=radius)
    kinds = set()
    for ref, got in both.values():
        _assert_agree(ref, got)
        kinds.update(np.unique(ref.cell[ref.cell >= 0]).tolist())
    assert len(kinds) > 3


def test_warm_up_is_the_standard_by_hand() -> None:
    """UMa NLoS at 100 m, 3.5 GHz, h_BS 25 m, h_UT 1.5 m (TR 38.901 Table 7.4.1-1)."""
    d3d = math.hypot(100.0, 25.0 - 1.5)
    d_bp = 4 * (25.0 - 1.0) * (1.5 - 1.0) * 3.5e9 / 3.0e8  # 560 m: PL1 applies
    assert 100.0 < d_bp
    pl_los = 28.0 + 22.0 * math.log10(d3d) + 20.0 * math.log10(3.5)
    pl_nlos = 13.54 + 39.08 * math.log10(d3d) + 20.0 * math.log10(3.5) - 0.6 * (1.5 - 1.5)
    expected = 46.0 - max(max(pl_los, pl_nlos), 70.0)
    assert warm_up()[0] == pytest.approx(expected, abs=1e-9)


def test_compiled_checks_the_ranges_like_the_reference(helsinki_study, default_scenario) -> None:  # type: ignore[no-untyped-def]
    g = helsinki_study.grid
    params = radio_params(default_scenario)
    band = band_cells(3.5, helsinki_study.sites, params.reuse)
    cols = np.arange(len(helsinki_study.sites))
    too_high = np.where(np.arange(len(g)) == 5, 30.0, g.rx_height_m)  # UMa: h_UT <= 22.5 m
    messages = []
    for engine in ("numpy", "compiled"):
        with pytest.raises(ModelRangeError) as err:
            serve_receivers(
                band, helsinki_study.los, cols, g.x_m, g.y_m, too_high, g.indoor, params,
                engine=engine,
            )  # fmt: skip
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "h_ut_m=30" in messages[1]
    with pytest.raises(InputError, match="engine: 'gpu' is not allowed"):
        serve_receivers(
            band, helsinki_study.los, cols, g.x_m, g.y_m, g.rx_height_m, g.indoor, params,
            engine="gpu",
        )  # fmt: skip


def test_bands_in_one_pass_equal_each_band_alone(mixed_study) -> None:  # type: ignore[no-untyped-def]
    """serve_bands shares a receiver's geometry between bands and sectors; each band's
    result is the same bits as that band alone (sites on some bands only, sectors)."""
    from twin.radio.network import serve_bands

    sc, result = mixed_study
    params = replace(radio_params(sc), shadowing="field")
    g = result.grid
    sites = result.sites
    # a subset of the sites as columns, as a block of a tile sees them
    cols = np.arange(0, len(sites), 2)
    los = result.los[:, cols]
    shadow = link_shadow_units(
        g.x_m, g.y_m, [sites[int(c)] for c in cols], los, params.seed, g.indoor
    )
    radius = np.where(np.arange(len(sites)) % 3 == 0, 300.0, np.inf)
    bands = [band_cells(f, sites, params.reuse) for f in (0.7, 3.5, 28.0)]
    assert len({b.n_cells for b in bands}) > 1  # the street sites radiate on two bands
    args = (los, cols, g.x_m, g.y_m, g.rx_height_m, g.indoor, params)
    together = serve_bands(bands, *args, shadow_unit=shadow, site_radius_m=radius)
    for band, got in zip(bands, together, strict=True):
        alone = serve_receivers(band, *args, shadow_unit=shadow, site_radius_m=radius)
        for name in ("cell", "rsrp_dbm", "path_loss_db", "d2d_m", "los", "interference_mw"):
            a, b = getattr(alone, name), getattr(got, name)
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
        ref = serve_receivers(band, *args, shadow_unit=shadow, site_radius_m=radius, engine="numpy")
        _assert_agree(ref, got)


def test_compiled_equals_reference_over_many_receiver_heights(
    helsinki_study, default_scenario
) -> None:  # type: ignore[no-untyped-def]
    """The kernel keeps the breakpoint terms of the last few receiver heights it met:
    receivers cycling through more heights than it keeps (each height evicted and met
    again), on both sides of the breakpoint, agree with the reference."""
    from twin.radio.compiled import _HEIGHT_SLOTS

    g = helsinki_study.grid
    params = radio_params(default_scenario)
    cols = np.arange(len(helsinki_study.sites))
    # 3 * _HEIGHT_SLOTS heights from 1.5 m to 22.5 m (UMa's range), in turn along the grid
    levels = np.linspace(1.5, 22.5, 3 * _HEIGHT_SLOTS)
    heights = levels[np.arange(len(g)) % levels.size]
    far = 0
    for f in (0.7, 3.5, 28.0):
        band = band_cells(f, helsinki_study.sites, params.reuse)
        args = (band, helsinki_study.los, cols, g.x_m, g.y_m, heights, g.indoor, params)
        ref = serve_receivers(*args, engine="numpy")
        got = serve_receivers(*args, engine="compiled")
        _assert_agree(ref, got)
        # some best servers past their breakpoint (h_E = 1 m): the cached terms are read
        served = ref.cell >= 0
        h_bs = band.height_m[ref.cell[served]]
        d_bp = 4.0 * (h_bs - 1.0) * (heights[served] - 1.0) * f * 1e9 / 3.0e8
        far += int((ref.d2d_m[served] > d_bp).sum())
    assert far > 0


# --- the penetration loss's random part (radio.shadowing = "field") ---


def test_compiled_equals_reference_with_the_draw_and_indoor_distances(
    helsinki_study, default_scenario
) -> None:  # type: ignore[no-untyped-def]
    """PL_in and sigma_P z travel in the kernel's one per-receiver term; the numpy engine
    adds them through o2i_loss_db: both agree, low and high loss."""
    g = helsinki_study.grid
    cols = np.arange(len(helsinki_study.sites))
    d_in = np.where(g.indoor, np.random.default_rng(4).uniform(0.0, 20.0, len(g)), 0.0)
    shadow = link_shadow_units(g.x_m, g.y_m, helsinki_study.sites, helsinki_study.los, 1, g.indoor)
    for o2i in ("low", "high"):
        params = replace(radio_params(default_scenario), shadowing="field", o2i=o2i)
        for f in (0.7, 28.0):
            band = band_cells(f, helsinki_study.sites, params.reuse)
            args = (band, helsinki_study.los, cols, g.x_m, g.y_m, g.rx_height_m, g.indoor, params)
            kw = {"shadow_unit": shadow, "indoor_distance_m": d_in}
            ref = serve_receivers(*args, **kw, engine="numpy")  # type: ignore[arg-type]
            got = serve_receivers(*args, **kw, engine="compiled")  # type: ignore[arg-type]
            _assert_agree(ref, got)


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_the_draw_is_the_receivers_own_on_every_site_and_band(
    helsinki_study, default_scenario, engine: str
) -> None:  # type: ignore[no-untyped-def]
    """Each site alone, on two bands, without MCL and with the shadow field at 0: the O2I
    loss read back from the received power (P_T + G_T - PL - P_R) is PL_tw of the band
    plus 4.4 dB times one z per indoor receiver, the same z for every site and band and
    the z of its position and the seed; 0 dB outdoors."""
    from tests.test_propagation_o2i import low_hand
    from twin.propagation.o2i import penetration_unit

    g = helsinki_study.grid
    params = replace(radio_params(default_scenario), shadowing="field", mcl_db=0.0)
    assert params.o2i == "low"
    zero = np.zeros((len(g), 1))
    implied = []
    for j in (0, len(helsinki_study.sites) - 1):
        site = helsinki_study.sites[j]
        for f in (0.7, 28.0):
            got = serve_receivers(
                band_cells(f, [site], 1), helsinki_study.los[:, [j]], np.arange(1), g.x_m,
                g.y_m, g.rx_height_m, g.indoor, params, shadow_unit=zero, engine=engine,
            )  # fmt: skip
            o2i = site.power_dbm + site.gain_dbi - got.path_loss_db - got.rsrp_dbm
            np.testing.assert_allclose(o2i[~g.indoor], 0.0, rtol=0, atol=1e-9)
            implied.append((o2i[g.indoor] - low_hand(f)) / 4.4)
    z = penetration_unit(g.x_m[g.indoor], g.y_m[g.indoor], seed=params.seed)
    for each in implied:
        np.testing.assert_allclose(each, z, rtol=0, atol=1e-9)
    assert z.size > 1000 and abs(z.mean()) < 4 / math.sqrt(z.size)
    assert abs(z.std() - 1.0) < 4 / math.sqrt(2 * z.size)


def test_margin_and_off_never_draw(helsinki_study, default_scenario) -> None:  # type: ignore[no-untyped-def]
    """The seed study's "margin" and "off" (and "field" without O2I) never read the
    penetration draw, keyed by the seed: another seed gives the same powers (the links'
    shadowing is given, the same for both). "field" with O2I reads it: the indoor
    receivers' powers move with the seed, the outdoor ones' do not."""
    g = helsinki_study.grid
    cols = np.arange(len(helsinki_study.sites))
    shadow = link_shadow_units(g.x_m, g.y_m, helsinki_study.sites, helsinki_study.los, 1, g.indoor)
    band = band_cells(3.5, helsinki_study.sites, 3)
    args = (band, helsinki_study.los, cols, g.x_m, g.y_m, g.rx_height_m, g.indoor)
    base = radio_params(default_scenario)
    assert base.shadowing == "margin"  # the default study's
    indoor = np.asarray(g.indoor, dtype=bool)

    def rsrp(engine: str, **change: object) -> np.ndarray:
        served = serve_receivers(*args, replace(base, **change), shadow_unit=shadow, engine=engine)
        return np.asarray(served.rsrp_dbm)

    for engine in ("numpy", "compiled"):
        for shadowing, o2i in (("margin", "low"), ("off", "high"), ("field", "none")):
            one = rsrp(engine, shadowing=shadowing, o2i=o2i, seed=1)
            two = rsrp(engine, shadowing=shadowing, o2i=o2i, seed=2)
            assert np.array_equal(one, two, equal_nan=True), (engine, shadowing, o2i)
        one = rsrp(engine, shadowing="field", seed=1)
        two = rsrp(engine, shadowing="field", seed=2)
        assert np.array_equal(one[~indoor], two[~indoor], equal_nan=True), engine
        assert np.nanmax(np.abs(one[indoor] - two[indoor])) > 1.0, engine
