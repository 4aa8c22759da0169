"""Write what ``twin optimize`` found (one folder, written atomically).

=====================  ================================================================
file                   content
=====================  ================================================================
``sites.geojson``      the chosen sites (rank, candidate id and class, height, model;
                       on terrain the ground under each, ``ground_m``)
``candidates.geojson``  every candidate, ``chosen_rank`` 0 when not chosen
``variant.toml``       the chosen sites as a ``[variants.NAME]`` table to append to the
                       scenario file and run with ``twin run SCENARIO --variant NAME``
``history.csv``        the objective after each added site and each kept swap (its
                       CSVW metadata: ``history.csv-metadata.json``)
``optimize.json``      settings, history, result, hexagonal and random references,
                       the terrain (file and hash; null on flat ground), timings and
                       provenance
``objective.png``      the objective against the number of sites, with the references
=====================  ================================================================
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin import OSM_ATTRIBUTION, OSM_LICENSE, OSM_LICENSE_NAME, __version__
from twin.io.atomic import atomic_output_dir
from twin.io.plots import save_figure
from twin.io.tables import write_csv
from twin.io.vector import write_geojson
from twin.optimize import candidates_frame
from twin.whatif import Optimization

__all__ = ["optimization_summary", "write_optimization"]

HISTORY_COLUMNS = (
    "phase", "step", "sites", "candidate", "class", "replaced", "objective", "value",
    "coverage_share", "mean_capacity_mbps", "indoor_coverage_share", "indoor_capacity_mbps",
)  # fmt: skip


def _provenance(opt: Optimization) -> dict[str, str]:
    city = opt.city
    return {
        "tool": "twin",
        "version": __version__,
        "scenario": opt.scenario.name,
        "input": city.source.path.split("/")[-1],
        "input_sha256": city.source.sha256,
        "crs": city.crs.to_string(),
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "attribution": OSM_ATTRIBUTION,
        "license": OSM_LICENSE,
    }


def _terrain(opt: Optimization) -> dict[str, str] | None:
    """The terrain file the sites were placed on (as a run's ``city.terrain``), None: flat."""
    t = opt.city.terrain
    if t is None:
        return None
    return {"source": Path(t.source_path).name, "sha256": t.source_sha256}


def optimization_summary(opt: Optimization) -> dict[str, Any]:
    """The ``optimize.json`` document."""
    p = opt.placement
    classes: dict[str, int] = {}
    for s in opt.problem.candidates:
        k = s.placed_by.removeprefix("candidate-")
        classes[k] = classes.get(k, 0) + 1
    rand = {str(seed): s.as_dict() for seed, s in opt.random.items()}
    values = [s.value for s in opt.random.values()]
    return {
        "provenance": _provenance(opt),
        "objective": p.objective,
        "band_ghz": p.freq_ghz,
        "sites": len(p.sites),
        "keep_existing": opt.keep_existing,
        "existing_sites": [s.site_id for s in opt.problem.fixed],
        "candidates": {"count": p.n_candidates, "by_class": classes},
        "grid_spacing_m": opt.scenario.grid.spacing_m,
        "receivers": len(opt.problem.grid),
        "terrain": _terrain(opt),
        "sinr_threshold_db": opt.problem.params.sinr_threshold_db,
        "result": p.score.as_dict(),
        "chosen": [
            {"site_id": s.site_id, **s.extra, "height_m": s.height_m, "model": s.model}
            for s in p.sites
        ],
        "history": p.history,
        "hex": opt.hex.as_dict(),
        "random": rand,
        "random_mean_value": float(np.mean(values)) if values else None,
        "random_best_value": float(np.max(values)) if values else None,
        "exact_evaluations": p.evaluations,
        "variant": opt.variant_name,
        "timings_s": opt.timings_s,
    }


def _chosen_frame(opt: Optimization) -> gpd.GeoDataFrame:
    sites = opt.placement.sites
    return gpd.GeoDataFrame(
        {
            "site_id": [s.site_id for s in sites],
            "rank": list(range(1, len(sites) + 1)),
            "candidate": [s.extra.get("candidate", "") for s in sites],
            "class": [s.extra.get("class", "") for s in sites],
            "height_m": [s.height_m for s in sites],
            # on terrain the ground under each site (as a run's sites layer writes it)
            **({} if opt.city.terrain is None else {"ground_m": [s.ground_m for s in sites]}),
            "model": [s.model for s in sites],
            "power_dbm": [s.power_dbm for s in sites],
            "gain_dbi": [s.gain_dbi for s in sites],
            # NULL for a site on no building, as a run's sites layer writes it
            "building_id": pd.array(
                [s.building_id if s.building_id >= 0 else None for s in sites], dtype="Int64"
            ),
        },
        geometry=[shapely.Point(s.x_m, s.y_m) for s in sites],
        crs=opt.city.crs,
    )


def objective_figure(opt: Optimization) -> Any:
    """The objective after each greedy step, the final value and the references at K."""
    from matplotlib.figure import Figure

    p = opt.placement
    greedy = [r for r in p.history if r["phase"] == "greedy"]
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([r["sites"] for r in greedy], [r["value"] for r in greedy], "o-", label="greedy")
    k = len(p.sites)
    ax.plot([k], [p.score.value], "*", ms=12, color="#d95f02", label="after swaps")
    ax.plot([k], [opt.hex.value], "s", color="#7570b3", label="hexagonal layout")
    rv = [s.value for s in opt.random.values()]
    ax.plot([k] * len(rv), rv, "x", color="#666666", label=f"random ({len(rv)} seeds)")
    unit = "Mbps" if p.objective == "capacity" else "share"
    ax.set_xlabel("number of sites")
    ax.set_ylabel(f"{p.objective} ({unit})")
    ax.set_title(f"{p.objective} at {p.freq_ghz:g} GHz: {opt.scenario.name}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def write_optimization(
    opt: Optimization,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool,
    before_commit: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Write the files of the module table into ``out_dir`` atomically; return the summary.

    ``before_commit``: see :func:`twin.io.atomic.atomic_output_dir`."""
    summary = optimization_summary(opt)
    prov = summary["provenance"]
    chosen = _chosen_frame(opt)
    cands = candidates_frame(opt.problem, opt.city.crs, opt.placement.columns)
    with atomic_output_dir(Path(out_dir), overwrite=overwrite, before_commit=before_commit) as tmp:
        write_geojson(chosen, tmp / "sites.geojson", provenance=prov)
        write_geojson(cands, tmp / "candidates.geojson", provenance=prov)
        # the variant is meant to be appended to the scenario file: its provenance and
        # the attribution of the candidates' data as TOML comments above it
        header = (
            "".join(f"# {k}: {v}\n" for k, v in prov.items() if k != "attribution")
            + f"# sites placed on OpenStreetMap data: {prov['attribution']} ({OSM_LICENSE_NAME})\n"
        )
        (tmp / "variant.toml").write_text(header + opt.variant, encoding="utf-8")
        write_csv(
            tmp / "history.csv", opt.placement.history, HISTORY_COLUMNS, provenance=prov,
            title=f"Objective after each added site and kept swap: {opt.scenario.name}",
        )  # fmt: skip
        (tmp / "optimize.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        save_figure(objective_figure(opt), tmp / "objective.png")
    return summary
