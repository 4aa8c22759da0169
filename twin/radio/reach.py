r"""How far each site matters: the site radius of a city run (pure).

A receiver evaluates only the sites within their radius; the others give it neither
signal nor interference. By default the radius of a site is the distance beyond which
even its best-case received power stays ``margin_db`` below the thermal noise of the band:

.. math:: P_T + G_T + G_R - \max\big(L_{LoS}(d) + SF_{best},\ MCL\big)
          < -174 + 10\log_{10} B + NF - \text{margin}

with

* :math:`L_{LoS}` the TR 38.901 LoS path loss of the site's model (Table 7.4.1-1),
  extrapolated past the model's distance range as the radio stage evaluates it
  (:data:`twin.radio.network.LINK_ON_RANGE`), at the receiver height of the study that
  gives the lowest loss and, on terrain, at the ground under the receivers (from the
  lowest to the highest under any receiver of the study) that gives the lowest loss with
  the site's own ground (the antennas' true height difference enters :math:`d_{3D}` and
  UMa's and UMi's :math:`PL_2`, see :func:`twin.propagation.tr38901.uma_path_loss_db`):
  a site high above its receivers is heard further than on flat ground;
* :math:`SF_{best}` the shadow fading in the receiver's favour: the fixed margin
  :math:`k\sigma_{LoS}` with ``shadowing="margin"``, 0 with ``"off"`` and
  :math:`-3\sigma` (a gain) with ``"field"``, :math:`\sigma` the larger of the LoS and
  the O2I sigma (an indoor receiver's links, 7 dB UMa and UMi, 8 dB RMa);
* no outdoor-to-indoor loss (its mean, :math:`PL_{tw} + PL_{in}`, is never below 0 dB),
  except with ``"field"``, which draws its random part :math:`\sigma_P z` per indoor
  receiver (:func:`twin.propagation.o2i.penetration_unit`): then the O2I term's best
  case, :math:`\min(0,\ PL_{tw}(f) - 3\sigma_P)` of the run's O2I model at the band's
  frequency (:func:`o2i_best_case_db`; low loss: 10.24 - 13.2 = -2.96 dB at 0.7 GHz,
  12.70 - 13.2 = -0.50 dB at 3.5 GHz, 0 from 5.14 GHz on; high loss: -1.75 dB at
  0.7 GHz, 0 from 1.17 GHz on), is counted on top of :math:`SF_{best}`: the two 3-sigma
  tails together, a wider best case than 3 sigma of their sum (a 3-sigma best case, as
  the shadow fading's: 0.13 % of the indoor receivers draw z < -3);
* the site's full gain (the sector pattern only lowers it);
* :math:`B` the bandwidth of a user of the band: with ``bandwidth="seed"`` that of a cell
  of the band's mean best-server area (study area / cells, at least one user), with
  ``"fixed"`` the channel over the reuse factor.

The radius of a site is the largest over the bands it radiates on, and it is rounded up
to a grid of distances 1 % apart. Past it, a site's power is below the noise floor by at
least the margin for a user of a mean-size cell; a user of a cell ten times larger sees
10 dB less noise, which the default 20 dB margin still covers. A site whose best case
never drops below the threshold within 1000 km has an infinite radius.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from twin.errors import InputError
from twin.propagation.o2i import PENETRATION_SIGMA_DB, wall_loss_db
from twin.propagation.shadowing import O2I_SF_SIGMA_DB
from twin.propagation.tr38901 import SHADOW_SIGMA_DB, los_best_ground_dz_m, path_loss_db
from twin.radio.budget import noise_power_dbm, rx_power_dbm, seed_bandwidth_hz, users_per_cell
from twin.radio.network import RadioParams, build_cells, draws_penetration
from twin.sites import Site

FloatArray = npt.NDArray[np.float64]

#: distances searched, metres: 10 m to 1000 km, 1 % apart
_D_GRID_M = np.geomspace(10.0, 1.0e6, 1158)
#: shadow-fading draws in the receiver's favour counted with ``shadowing="field"``, sigmas
FIELD_SIGMAS = 3.0


def noise_floor_dbm(freq_ghz: float, n_cells: int, area_km2: float, params: RadioParams) -> float:
    """Thermal noise of a user of the band (see the module notes for the bandwidth)."""
    if params.bandwidth == "seed":
        mean_area = area_km2 / max(n_cells, 1)
        n_user = max(
            float(users_per_cell(mean_area, user_density_per_km2=params.user_density_per_km2)),
            1.0,
        )
        bw = float(
            seed_bandwidth_hz(
                freq_ghz, n_user, n_reuse=params.reuse, spectrum_share=params.spectrum_share
            )
        )
    else:
        bw = params.channel_mhz(freq_ghz) * 1e6 / params.reuse
    return float(noise_power_dbm(bw, noise_figure_db=params.noise_figure_db))


def o2i_best_case_db(params: RadioParams, freq_ghz: float) -> float:
    """The O2I loss in a receiver's favour, dB (<= 0): 0 unless the run draws its random
    part (``shadowing="field"``, :func:`twin.radio.network.draws_penetration`), then
    min(0, PL_tw - FIELD_SIGMAS sigma_P) of the run's O2I model at ``freq_ghz`` (TR
    38.901 Table 7.4.3-2; PL_in >= 0 left out)."""
    if not draws_penetration(params):
        return 0.0
    wall = float(wall_loss_db(params.o2i, freq_ghz))
    return min(0.0, wall - FIELD_SIGMAS * PENETRATION_SIGMA_DB[params.o2i])


def best_case_rx_dbm(
    site: Site,
    freq_ghz: float,
    d2d_m: FloatArray,
    rx_heights_m: FloatArray,
    params: RadioParams,
    *,
    ground_dz_m: tuple[float, float] = (0.0, 0.0),
) -> FloatArray:
    """Best-case received power from ``site`` at each distance (dBm), over the heights and
    the ground differences (under the site minus under the receiver, metres) from
    ``ground_dz_m[0]`` to ``ground_dz_m[1]`` (the exact lowest loss over that interval:
    :func:`twin.propagation.tr38901.los_best_ground_dz_m`)."""
    sigma_los = SHADOW_SIGMA_DB[(site.model, True)] if site.model != "rma" else 4.0
    if params.shadowing == "margin":
        shadow = params.shadow_k * sigma_los
    elif params.shadowing == "field":
        # the largest sigma a link of the site can draw: LoS (RMa past its breakpoint 6
        # dB) or an indoor receiver's O2I sigma (Table 7.5-6), its O2I loss not counted
        widest = max(6.0 if site.model == "rma" else sigma_los, O2I_SF_SIGMA_DB[site.model])
        # and an indoor link's O2I loss with its drawn part, a gain at low frequencies
        shadow = -FIELD_SIGMAS * widest + o2i_best_case_db(params, freq_ghz)
    else:
        shadow = 0.0
    h_ut = np.asarray(rx_heights_m, dtype=float)[:, None]
    dz_lo, dz_hi = ground_dz_m
    if dz_lo == dz_hi == 0.0:
        dz: FloatArray | float = 0.0
    else:
        dz = los_best_ground_dz_m(
            site.model,
            freq_ghz,
            d2d_m[None, :],
            site.height_m,
            h_ut,
            dz_lo_m=dz_lo,
            dz_hi_m=dz_hi,
        )
    pl = path_loss_db(
        site.model,
        freq_ghz,
        d2d_m[None, :],
        site.height_m,
        h_ut,
        True,
        on_range="extrapolate",
        ground_dz_m=dz,
    )
    if np.ndim(pl) == 3:  # the candidate ground differences: the lowest loss of each
        pl = pl.min(axis=0)
    rx = rx_power_dbm(
        site.power_dbm,
        pl,
        gain_tx_dbi=site.gain_dbi,
        gain_rx_dbi=params.gain_rx_dbi,
        shadow_db=shadow,
        mcl_db=params.mcl_db,
    )
    return np.asarray(rx.max(axis=0), dtype=float)


def site_radius_m(
    sites: Sequence[Site],
    bands_ghz: Sequence[float],
    params: RadioParams,
    *,
    area_km2: float,
    rx_heights_m: Sequence[float],
    margin_db: float = 20.0,
    max_distance_m: float | None = None,
    rx_ground_m: tuple[float, float] | None = None,
) -> FloatArray:
    """Radius of each site (metres; inf: no limit), see the module notes.

    Parameters
    ----------
    sites
        The study's sites.
    bands_ghz
        The study's bands; a site counts the ones it radiates on.
    params
        The radio settings (link budget, shadowing, bandwidth rule).
    area_km2
        The area whose users share the cells (the regular grid's area), km^2.
    rx_heights_m
        Receiver heights that occur (the lowest loss over them is used), metres.
    margin_db
        How far below the noise floor a site may be left out, dB (>= 0).
    max_distance_m
        A fixed radius for every site instead (inf: no limit); None: automatic.
    rx_ground_m
        The lowest and the highest ground under the receivers (metres, on the datum of
        the sites' ``ground_m``): a site is heard from each receiver ground in between,
        its best case taken over them; None: flat ground (every ground 0 m).
    """
    if max_distance_m is not None:
        if not max_distance_m > 0:
            raise InputError(f"max_site_distance_m: {max_distance_m} m must be > 0 (inf: none)")
        return np.full(len(sites), float(max_distance_m))
    if margin_db < 0:
        raise InputError(f"site_radius_margin_db: {margin_db} dB must be >= 0")
    heights = np.unique(np.asarray(rx_heights_m, dtype=float))
    if heights.size == 0:
        return np.full(len(sites), np.inf)
    heights = np.linspace(heights.min(), heights.max(), 5) if heights.size > 5 else heights
    threshold = {}
    for f in bands_ghz:
        n_cells = build_cells(sites, f, params.reuse).site_index.size
        threshold[f] = noise_floor_dbm(f, n_cells, area_km2, params) - margin_db
    out = np.zeros(len(sites))
    g_lo, g_hi = (0.0, 0.0) if rx_ground_m is None else rx_ground_m
    if not g_lo <= g_hi:
        raise InputError(f"rx_ground_m: the lowest ground {g_lo} m is above the highest {g_hi} m")
    for i, site in enumerate(sites):
        dz = (site.ground_m - g_hi, site.ground_m - g_lo)
        for f in bands_ghz:
            if not site.serves(f):
                continue
            best = best_case_rx_dbm(site, f, _D_GRID_M, heights, params, ground_dz_m=dz)
            above = np.flatnonzero(best >= threshold[f])
            if above.size == 0:
                r = float(_D_GRID_M[0])
            elif above[-1] + 1 >= _D_GRID_M.size:
                r = np.inf
            else:
                r = float(_D_GRID_M[above[-1] + 1])
            out[i] = max(out[i], r)
    return out
