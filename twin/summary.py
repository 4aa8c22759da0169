"""Run summary: the per-band, per-user-type table and the provenance record (pure)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from twin import OSM_ATTRIBUTION, OSM_LICENSE, __version__
from twin.arrays import full
from twin.city.water import water_area_m2
from twin.grid import ReceiverGrid, indoor_distance_stats
from twin.propagation.o2i import PENETRATION_SIGMA_DB
from twin.radio.network import BandResult, draws_penetration, user_type_label
from twin.sites import grid_to_true_deg
from twin.spectrum import (
    LosComparison,
    SweepResult,
    los_comparison,
    los_counts_by_distance,
)
from twin.study import StudyResult, city_sweep, radio_params
from twin.tiles import box_distance_m, receiver_blocks

TYPE_COLUMNS = (
    "band",
    "freq_ghz",
    "user_type",
    "label",
    "points",
    "share",
    "mean_capacity_mbps",
    "median_capacity_mbps",
    "covered_share",
    "mean_sinr_db",
)


#: decimals of the sites' metres in :func:`scenario_settings` (1 mm: the projection's
#: last bits may differ between PROJ builds; a millimetre does not change a result)
_SETTINGS_M_DECIMALS = 3


def scenario_settings(result: StudyResult) -> dict[str, Any]:
    """What the run was, independent of where its files lay (``summary.json``'s
    ``scenario.settings``; :func:`scenario_hash` hashes it).

    The validated scenario with its variant applied (the file's other variants and its
    description left out), its city named by the input's sha256 rather than its path,
    its sites file by the sites read from it, and every site the study used
    (``sites_used``: a file's, a list's, a layout's, or those given to
    :func:`twin.study.run_study`), metres to the millimetre, azimuths from true north.
    Copying the inputs elsewhere keeps it; moving a site in a sites file changes it."""
    settings = result.scenario.model_dump(mode="json")
    settings.pop("variants", None)
    settings.pop("description", None)  # words (with --city, the file's name), not settings
    settings["city"]["source"] = f"sha256:{result.city.source.sha256}"
    # flat ground (no terrain file) keeps the settings, and the hash, it had before the key
    terrain = result.city.terrain
    if terrain is None:
        settings["city"].pop("terrain", None)
    else:
        settings["city"]["terrain"] = f"sha256:{terrain.source_sha256}"
    if settings["sites"]["file"] is not None:
        settings["sites"]["file"] = "see sites_used"
    d = _SETTINGS_M_DECIMALS
    crs = result.city.crs
    settings["sites_used"] = [
        {
            "site_id": s.site_id,
            "x_m": round(s.x_m, d),
            "y_m": round(s.y_m, d),
            "height_m": round(s.height_m, d),
            **({} if terrain is None else {"ground_m": round(s.ground_m, d)}),
            "model": s.model,
            "power_dbm": s.power_dbm,
            "gain_dbi": s.gain_dbi,
            "azimuths_deg": list(grid_to_true_deg(s.azimuths_deg, s.x_m, s.y_m, crs)),
            "bands_ghz": list(s.bands_ghz),
            "placed_by": s.placed_by,
            "building_id": s.building_id,
        }
        for s in result.sites
    ]
    return settings


def _terrain_section(result: StudyResult) -> dict[str, Any] | None:
    """The terrain the city stands on (None: flat ground at 0 m): its file, the surface's
    node spacing, the voids filled, and the ground under the receivers and the sites."""
    from twin.city.ground import city_ground

    ground = city_ground(result.city)
    if ground is None:
        return None
    t = ground.terrain
    g = result.grid
    under = ground.receivers_m(g.x_m, g.y_m, g.building_id)
    return {
        "source": Path(t.source_path).name,
        "sha256": t.source_sha256,
        "node_spacing_m": t.res_m,
        "voids_filled": t.voids_filled,
        "receivers_ground_m": {
            "min": float(under.min()) if under.size else None,
            "median": float(np.median(under)) if under.size else None,
            "max": float(under.max()) if under.size else None,
        },
        "sites_ground_m": {s.site_id: s.ground_m for s in result.sites},
    }


def scenario_hash(result: StudyResult) -> str:
    """SHA-256 of :func:`scenario_settings` as ``json.dumps(settings, sort_keys=True)``
    (UTF-8), so that anyone can check it against ``summary.json``."""
    text = json.dumps(scenario_settings(result), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def provenance(result: StudyResult, *, created: str | None = None) -> dict[str, str]:
    """Version, scenario, input hash, CRS, date and the OSM attribution and licence, as
    strings."""
    return {
        "tool": "twin",
        "version": __version__,
        "scenario": result.scenario.name,
        "scenario_sha256": scenario_hash(result),
        "input": result.city.source.path.split("/")[-1],
        "input_sha256": result.city.source.sha256,
        "crs": result.city.crs.to_string(),
        "created": created or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "attribution": OSM_ATTRIBUTION,
        "license": OSM_LICENSE,
    }


def type_table(band: str, res: BandResult, *, threshold_db: float) -> list[dict[str, Any]]:
    """One row per user type 1..8 (and ``all``) of one band.

    One capacity array of the band and, at a time, one type's values beside it (the
    medians partition them in place): a whole-city copy per statistic took 238 MiB above
    the study at 160 km² (6.6 million receivers). The figures are those of ``np.mean``
    and ``np.median`` over each type's values in receiver order, as before."""
    rows: list[dict[str, Any]] = []
    n = res.user_type.size
    capacity = res.capacity_mbps  # a new array (derived when read): ours to reorder
    sinr = res.sinr_db
    user_type = res.user_type

    def row(t: int, k: int, **stats: float | None) -> dict[str, Any]:
        return {
            "band": band,
            "freq_ghz": res.freq_ghz,
            "user_type": t if t else "all",
            "label": user_type_label(t) if t else "all receivers",
            "points": k,
            "share": round(k / n, 6) if n else 0.0,
            **stats,
        }

    none = dict.fromkeys(
        ("mean_capacity_mbps", "median_capacity_mbps", "covered_share", "mean_sinr_db")
    )
    for t in range(1, 9):
        sel = user_type == t
        k = int(np.count_nonzero(sel))
        if not k:
            rows.append(row(t, 0, **none))
            continue
        cap = capacity[sel]
        mean_cap = float(np.mean(cap))
        median_cap = float(np.median(cap, overwrite_input=True))
        del cap
        s = sinr[sel]
        rows.append(
            row(
                t,
                k,
                mean_capacity_mbps=mean_cap,
                median_capacity_mbps=median_cap,
                covered_share=float(np.mean(s >= threshold_db)),
                mean_sinr_db=float(np.mean(s)),
            )
        )
        del s, sel
    if not n:
        rows.append(row(0, 0, **none))
        return rows
    stats = {
        "mean_capacity_mbps": float(np.mean(capacity)),
        "covered_share": float(np.mean(sinr >= threshold_db)),
        "mean_sinr_db": float(np.mean(sinr)),
    }
    # last: the partition reorders the band's capacity array
    stats["median_capacity_mbps"] = float(np.median(capacity, overwrite_input=True))
    rows.append(row(0, n, **{key: stats[key] for key in none}))
    return rows


def summarise(
    result: StudyResult,
    *,
    created: str | None = None,
    sweep: SweepResult | None = None,
    los_cmp: LosComparison | None = None,
) -> dict[str, Any]:
    """The ``summary.json`` document of a run (``sweep``/``los_cmp`` computed if not given)."""
    city = result.city
    grid = result.grid
    is_grid = grid.is_grid
    threshold = result.scenario.radio.sinr_threshold_db
    bands: dict[str, Any] = {}
    table: list[dict[str, Any]] = []
    for label, res in result.bands.items():
        rows = type_table(label, res, threshold_db=threshold)
        table += rows
        every = rows[-1]  # the row of all receivers
        bands[label] = {
            "freq_ghz": res.freq_ghz,
            "cells": len(res.cells.cell_id),
            "los_share": float(np.mean(res.los)),
            "covered_share": every["covered_share"],
            "mean_capacity_mbps": every["mean_capacity_mbps"],
            "median_capacity_mbps": every["median_capacity_mbps"],
            "user_types": {str(r["user_type"]): r for r in rows},
        }
    best_band: dict[str, Any] = {}
    for t in range(1, 9):
        means = {
            label: b["user_types"][str(t)]["mean_capacity_mbps"]
            for label, b in bands.items()
            if b["user_types"][str(t)]["points"]
        }
        best_band[str(t)] = (
            {
                "label": user_type_label(t),
                "band": max(means, key=lambda k: means[k]),
                "mean_capacity_mbps": means,
            }
            if means
            else {"label": user_type_label(t), "band": None, "mean_capacity_mbps": {}}
        )
    west, south, east, north = city.bounds_wgs84()
    prov = provenance(result, created=created)
    if sweep is None:
        sweep = city_sweep(result)
    if los_cmp is None:
        los_cmp = city_los_comparison(result)
    shares = {
        label: {t: b["user_types"][t]["share"] for t in map(str, range(1, 9))}
        for label, b in bands.items()
    }
    return {
        "provenance": prov,
        "attribution": OSM_ATTRIBUTION,
        "license": OSM_LICENSE,
        "version": prov["version"],
        "scenario": {
            "name": result.scenario.name,
            "description": result.scenario.description,
            "sha256": prov["scenario_sha256"],
            "settings": scenario_settings(result),
        },
        "city": {
            "name": city.name,
            "source": city.source.path.split("/")[-1],
            "source_format": city.source.format,
            "sha256": city.source.sha256,
            "crs": city.crs.to_string(),
            # the study area (in the city CRS and in lon/lat); bounds_wgs84 is the
            # buildings' extent, which passes it where an extract cuts through buildings
            "bounds_m": list(result.bounds),
            "area_wgs84": list(city.bounds_wgs84(result.bounds)),
            "bounds_wgs84": [west, south, east, north],
            # the area the file says it holds (the default study area is cut to it)
            "declared_bounds_wgs84": (
                list(city.source.declared_bounds_wgs84)
                if city.source.declared_bounds_wgs84 is not None
                else None
            ),
            "buildings": len(city.buildings),
            "height_sources": city.height_source_counts(),
            "cleaning": {k: int(v) for k, v in city.counts.items()},
            "street_edges": len(city.streets),
            "terrain": _terrain_section(result),
            # the water the source knows (sea from the coastline, lakes, rivers, basins)
            # within the study area, km^2; its features are counted in "cleaning"
            "water_km2": water_area_m2(city.water, result.bounds) / 1e6,
        },
        "grid": {
            "points": int(is_grid.sum()),
            "street_points": int((~is_grid).sum()),
            "spacing_m": result.scenario.grid.spacing_m,
            "shape": list(grid.spec.shape),
            "indoor_share": float(np.mean(grid.indoor[is_grid])),
            "indoor_height_m": result.scenario.grid.indoor_height_m,
            "outdoor_height_m": result.scenario.grid.outdoor_height_m,
            # receivers on water: left out ("drop": their cells nodata) or kept ("keep")
            "water": result.scenario.grid.water,
            "receivers_on_water": int(grid.receivers_on_water),
            # street receivers kept over water ("drop"): on a bridge's deck
            "receivers_on_bridges": int(grid.receivers_on_bridges),
            # d_2D-in of the O2I loss: 0 m by the window, or each receiver's to its facade
            "indoor_distance": result.scenario.radio.indoor_distance,
            **_indoor_distance_section(grid),
        },
        "sites": {
            "count": len(result.sites),
            "placed_by": {
                p: sum(1 for s in result.sites if s.placed_by == p)
                for p in sorted({s.placed_by for s in result.sites})
            },
            "models": sorted({s.model for s in result.sites}),
            # given sites lifted onto roofs (sites.inside_building = "lift")
            "lifted": [
                {
                    "site_id": s.site_id,
                    "from_m": float(s.extra["lifted_from_m"]),
                    "to_m": s.height_m,
                    "building_id": s.building_id,
                    "roof_height_source": s.extra.get("roof_height_source", ""),
                }
                for s in result.sites
                if "lifted_from_m" in s.extra
            ],
        },
        "radio": result.scenario.radio.model_dump(mode="json"),
        # the O2I loss's random part N(0, sigma_P^2) (TR 38.901 7.4.3.1): sigma_P in dB
        # when drawn (shadowing = "field": one draw per indoor receiver, on all its
        # links), null when the O2I loss is its mean
        "o2i_sigma_p_db": _o2i_sigma_p_db(result),
        "sinr_threshold_db": threshold,
        "bands": bands,
        "best_band_per_user_type": best_band,
        "spectrum_value": spectrum_section(sweep, los_cmp, shares),
        "timings_s": dict(result.timings_s),
    }


def _o2i_sigma_p_db(result: StudyResult) -> float | None:
    """sigma_P of the run's O2I model (Table 7.4.3-2) when it draws the penetration loss."""
    params = radio_params(result.scenario)
    return PENETRATION_SIGMA_DB[params.o2i] if draws_penetration(params) else None


def type_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-type table of a summary (rows of :data:`TYPE_COLUMNS`)."""
    rows = []
    for band in summary["bands"].values():
        for row in band["user_types"].values():
            rows.append({k: row[k] for k in TYPE_COLUMNS})
    return rows


def city_los_comparison(
    result: StudyResult, *, bin_m: float = 20.0, max_m: float = 1000.0
) -> LosComparison:
    """LoS share of the outdoor (receiver, site) pairs per distance bin vs TR 38.901.

    Only the pairs whose LoS the run traced count: those within the site's radius
    (``radio.max_site_distance_m`` or the automatic radius). A pair beyond it has no LoS
    (its bit is 0 but means "not traced"), so it is left out, not counted as NLoS. The
    bins go up to ``max_m``, or to the farthest counted pair (rounded up to a bin) when
    that is nearer.

    The receivers go by square blocks a quarter of the smallest reach wide (at least
    62.5 m), and each site reads only the blocks that come within its reach (its radius,
    at most ``max_m``): the work
    grows with the pairs within reach (with the area at a fixed site density), not with
    receivers x sites (5.1 s at 40 km2 for 203 sites when every outdoor receiver was
    measured against every site).
    """
    g = result.grid
    edges = np.arange(0.0, max_m + bin_m, bin_m)
    n_all = edges.size - 1
    pairs = np.zeros(n_all, dtype=np.int64)
    hits = np.zeros(n_all)
    m = len(result.sites)
    radius = (
        np.full(m, np.inf)
        if result.site_radius_m is None
        else np.asarray(result.site_radius_m, dtype=float)
    )
    # the pairs at edges[-1] or farther fall in no bin
    reach = np.minimum(radius, float(edges[-1]))
    if len(g) and m and bool(np.any(reach > 0)):
        spacing_m = abs(float(g.spec.transform.a))
        # a quarter of the smallest reach, but not under 62.5 m: smaller blocks would make
        # each site test more blocks than receivers (a block only selects candidates)
        side_m = max(float(reach[reach > 0].min()), 250.0) / 4.0
        order, start, box = receiver_blocks(
            g, max(1, int(side_m // spacing_m)), result.alloc or full
        )
        outdoor = ~g.indoor
        for j, site in enumerate(result.sites):
            near_m = box_distance_m(box[:, 0], box[:, 1], box[:, 2], box[:, 3], site.x_m, site.y_m)
            near = np.flatnonzero(near_m <= reach[j])
            if near.size == 0:
                continue
            idx = np.concatenate([order[start[b] : start[b + 1]] for b in near.tolist()])
            idx = idx[outdoor[idx]]
            d2d = np.hypot(g.x_m[idx] - site.x_m, g.y_m[idx] - site.y_m)
            traced = d2d <= radius[j]
            idx, d2d = idx[traced], d2d[traced]
            p, h = los_counts_by_distance(result.los_bits.column_at(j, idx), d2d, edges)
            pairs += p
            hits += h
    used = np.flatnonzero(pairs)
    n_bins = int(used[-1]) + 1 if used.size else 1
    return los_comparison(
        edges[: n_bins + 1],
        pairs[:n_bins],
        hits[:n_bins],
        h_ut_m=result.scenario.grid.outdoor_height_m,
    )


def spectrum_section(
    sweep: SweepResult | None, los_cmp: LosComparison, type_shares: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The ``spectrum_value`` part of summary.json."""
    valid = los_cmp.pairs >= 50
    diff_umi = (los_cmp.los_share - los_cmp.p_umi)[valid]
    diff_uma = (los_cmp.los_share - los_cmp.p_uma)[valid]
    doc: dict[str, Any] = {
        "user_type_share": type_shares,
        "los_vs_38901": {
            "bins_with_50_pairs": int(valid.sum()),
            "rms_difference_umi": float(np.sqrt(np.mean(diff_umi**2))) if diff_umi.size else None,
            "rms_difference_uma": float(np.sqrt(np.mean(diff_uma**2))) if diff_uma.size else None,
            "table": "los_vs_distance.csv",
        },
    }
    if sweep is not None:
        doc["sweep"] = {
            "freq_ghz": [float(sweep.freq_ghz[0]), float(sweep.freq_ghz[-1])],
            "frequencies": int(sweep.freq_ghz.size),
            "best_frequency_ghz": {str(t): f for t, f in sweep.best_frequency_ghz().items()},
            "table": "sweep.csv",
        }
    return doc


def _indoor_distance_section(grid: ReceiverGrid) -> dict[str, Any]:
    """``indoor_distance_m`` (median, p95, max) when the run has the distances."""
    stats = indoor_distance_stats(grid)
    if stats is None:
        return {}
    return {"indoor_distance_m": {k: stats[k] for k in ("median", "p95", "max")}}
