"""Comparison of two runs on the same city and grid: B minus A (pure).

Inputs are what a run folder holds (:mod:`twin.sources.run_folder` reads them): the
raster metrics as arrays, the ``grid`` layer (every receiver with its per-band columns)
and the ``buildings`` layer. Outputs:

- :func:`delta_raster`: B - A cell by cell (NaN where either run has no value);
- :func:`coverage_changes`: the receivers that gained or lost coverage (SINR at least the
  threshold in one run and not in the other), matched by grid cell (grid points) or
  position to the centimetre (street points);
- :func:`building_changes`: each building's indoor coverage and capacity in A, B, B - A;
- :func:`comparison_table`: per band, for all receivers and each user type 1-8 (of the
  seed study, as in ``summary.csv``): coverage share, mean and median capacity; and the
  buildings with indoor coverage (at least ``building_share`` of their indoor points
  covered). Columns ``a``, ``b`` and ``delta`` (= b - a).

:func:`differences` says why two runs cannot be compared (different input data, CRS or
grid), and :func:`receiver_differences` whether their receivers differ (the street points,
the receiver heights), so the command can refuse them. :func:`run_labels` names the two
runs apart: by their scenarios, or, for two runs of one scenario, by the options of their
recorded command lines that differ (``--terrain flat``), else by the settings in which they
differ.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from twin.errors import InputError
from twin.scenario import SINR_THRESHOLD_RANGE_DB

__all__ = [
    "DELTA_METRICS",
    "RUN_FLAG_OPTIONS",
    "RUN_NEUTRAL_OPTIONS",
    "TABLE_COLUMNS",
    "Comparison",
    "RunMeta",
    "building_changes",
    "check_comparable",
    "check_runs",
    "command_options",
    "common_bands",
    "compare",
    "comparison_table",
    "coverage_changes",
    "delta_raster",
    "differences",
    "receiver_differences",
    "run_labels",
    "settings_items",
    "table_markdown",
]

FloatArray = npt.NDArray[np.float64]

#: Columns of :func:`comparison_table`.
TABLE_COLUMNS = ("band", "metric", "user_type", "label", "a", "b", "delta")

_TYPE_LABELS = {
    t: " ".join(
        ("LoS" if (t - 1) & 4 else "NLoS", "outdoor" if (t - 1) & 2 else "indoor",
         "centre" if (t - 1) & 1 else "edge")
    )
    for t in range(1, 9)
}  # fmt: skip


@dataclass(frozen=True)
class RunMeta:
    """What decides whether two runs can be compared, and what names each run.

    ``transform`` is the raster's affine transform as 6 numbers (a, b, c, d, e, f);
    ``shape`` (rows, cols).
    """

    path: str
    scenario: str
    input_name: str
    input_sha256: str
    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]
    sinr_threshold_db: float
    bands: tuple[str, ...]
    #: the SHA-256 of the run's scenario (its summary.json provenance); empty if unknown
    scenario_sha256: str = ""
    #: the run's scenario settings as (key, value) text (:func:`settings_items`); empty
    #: if unknown
    settings: tuple[tuple[str, str], ...] = ()
    #: the command line the run was given (its summary.json's ``provenance.command``,
    #: ``twin run S.toml --terrain flat ...``); empty if unknown
    command: str = ""


def _setting_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_setting_text(v) for v in value) + "]"
    return str(value)


def settings_items(
    settings: Mapping[str, Any], *, terrain_name: str | None = None
) -> tuple[tuple[str, str], ...]:
    """A run's ``scenario.settings`` (its ``summary.json``) as sorted (dotted key, value)
    pairs of short text, what :func:`run_labels` tells two runs apart by.

    Nested tables give dotted keys (``radio.bands_ghz``, ``sites.generate.0.isd_m``);
    lists of numbers are one value (``[3.5, 28]``). ``city.terrain`` is ``flat`` on flat
    ground (the settings leave it out) and else the DEM's file name ``terrain_name``
    (the summary's ``city.terrain.source``) when given. ``sites_used`` is one value, the
    count of sites and the first 8 hex digits of the SHA-256 of the sites without their
    ``ground_m`` (which follows the terrain, already a key of its own). The scenario's
    ``name`` is left out: a label starts with it."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
            for i, v in enumerate(value):
                walk(f"{prefix}{i}.", v)
        else:
            out[prefix[:-1]] = _setting_text(value)

    rest = {k: v for k, v in settings.items() if k not in ("name", "sites_used")}
    walk("", rest)
    city = settings.get("city")
    if isinstance(city, Mapping):
        terrain = city.get("terrain")
        out["city.terrain"] = "flat" if terrain is None else terrain_name or str(terrain)
    if "sites_used" in settings:
        sites = [{k: v for k, v in s.items() if k != "ground_m"} for s in settings["sites_used"]]
        digest = hashlib.sha256(json.dumps(sites, sort_keys=True).encode()).hexdigest()
        out["sites_used"] = f"{len(sites)} sites {digest[:8]}"
    return tuple(sorted(out.items()))


#: most differing settings a label of :func:`run_labels` names
LABEL_SETTINGS = 3


#: the options of ``twin run`` that change no result, only where the outputs go, how the
#: work is spread and kept (the results are the same bit for bit: docs/scaling.md) or what
#: ``map.html`` shows: :func:`run_labels` does not name runs by them. Every other option
#: (``--city``, ``--terrain``, ``--sites``, ``--inside-building``, ``--spacing``,
#: ``--bands``, ``--visibility``, ``--variant``, and any it does not know) changes the study.
RUN_NEUTRAL_OPTIONS = frozenset(
    {
        "--out",
        "--overwrite",
        "--no-progress",
        "--no-cache",
        "--scheduler",
        "--workers",
        "--connect-timeout",
        "--tile",
        "--scratch",
        "--memory-budget",
        "--map-metric",
        "--map-max-points",
    }
)

#: the options of ``twin run`` that take no value (flags)
RUN_FLAG_OPTIONS = frozenset({"--overwrite", "--no-progress", "--no-cache"})


def command_options(command: str) -> dict[str, str] | None:
    """The options of a recorded ``twin run`` command line (``provenance.command``, as
    :func:`twin.cli.options.command_line` writes it: the scenario, then ``--option value``
    and flags) as {option: value} in their order, a flag's value empty; the scenario file
    is left out. None for an empty command, another command or one that does not parse."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if words[:2] != ["twin", "run"]:
        return None
    out: dict[str, str] = {}
    rest = iter(words[2:])
    for word in rest:
        if not word.startswith("--"):
            continue  # the scenario file
        name, eq, value = word.partition("=")
        if not eq and name not in RUN_FLAG_OPTIONS:
            value = next(rest, "")
        out[name] = value
    return out


def _option_labels(
    a: Mapping[str, str], b: Mapping[str, str], keys: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Each run's words for the options ``keys`` it was given: a path's value by its file
    name where the two names still differ."""

    def words(mine: Mapping[str, str], other: Mapping[str, str]) -> list[str]:
        out: list[str] = []
        for k in keys:
            if k not in mine:
                continue
            value = mine[k]
            name = PurePath(value).name
            if "/" in value and name and (k not in other or PurePath(other[k]).name != name):
                value = name
            out.append(shlex.join([k, value]) if value else k)
        return out

    return words(a, b), words(b, a)


def run_labels(a: RunMeta, b: RunMeta) -> tuple[str, str]:
    """Names of runs A and B that tell them apart, for the tables, maps and messages.

    Runs of different scenarios (variants included) are named by their scenarios. Two
    runs of one scenario, which a command-line override made differ, are named by the
    scenario and the options of their recorded commands (:func:`command_options`) that
    differ, but those of :data:`RUN_NEUTRAL_OPTIONS`: ``twin run S.toml`` and ``twin run
    S.toml --terrain flat`` are ``monaco-terrain`` and ``monaco-terrain (--terrain
    flat)``; a path by its file name. Options that changed nothing (``--bands 3.5`` for
    a scenario of 3.5 GHz alone: both runs record the same settings) name neither run.
    When a run has no command recorded (a folder of an
    earlier ``twin``) or no such option differs, they are named by the settings in
    which their summaries differ, as :func:`settings_items` gives them (``monaco-terrain
    (city.terrain = N43E007.hgt.zip)``, ``monaco-terrain (city.terrain = flat)``;
    ``unset`` where a run lacks the key). Either way at most :data:`LABEL_SETTINGS` of
    them, then a count of the others. When nothing recorded differs, the run folders'
    names (or, the same, their paths) follow in brackets."""

    def named(parts: list[str], sep: str) -> str:
        if not parts:
            return a.scenario
        more = len(parts) - LABEL_SETTINGS
        text = sep.join(parts[:LABEL_SETTINGS]) + (f"; {more} more" if more > 0 else "")
        return f"{a.scenario} ({text})"

    la = lb = ""
    if a.scenario != b.scenario:
        la, lb = a.scenario, b.scenario
    else:
        oa, ob = command_options(a.command), command_options(b.command)
        # settings recorded by both runs and equal: no option changed the study
        same_study = bool(a.settings) and a.settings == b.settings
        if oa is not None and ob is not None and not same_study:
            options = [
                k
                for k in dict.fromkeys([*oa, *ob])
                if k not in RUN_NEUTRAL_OPTIONS and oa.get(k) != ob.get(k)
            ]
            if options:
                wa, wb = _option_labels(oa, ob, options)
                la, lb = named(wa, " "), named(wb, " ")
        if not la:
            sa, sb = dict(a.settings), dict(b.settings)
            keys = sorted(k for k in sa.keys() | sb.keys() if sa.get(k) != sb.get(k))
            la = named([f"{k} = {sa.get(k, 'unset')}" for k in keys], "; ")
            lb = named([f"{k} = {sb.get(k, 'unset')}" for k in keys], "; ")
    if la == lb:
        fa, fb = PurePath(a.path).name, PurePath(b.path).name
        if fa == fb:
            fa, fb = a.path, b.path
        la, lb = f"{la} [{fa}]", f"{lb} [{fb}]"
    return la, lb


def differences(a: RunMeta, b: RunMeta) -> list[str]:
    """What makes ``a`` and ``b`` incomparable (empty list: they can be compared)."""
    out = []
    if a.input_sha256 != b.input_sha256:
        out.append(
            f"different cities: {a.path} ran on {a.input_name} (sha256 {a.input_sha256[:12]}...) "
            f"and {b.path} on {b.input_name} (sha256 {b.input_sha256[:12]}...)"
        )
    if a.crs != b.crs:
        out.append(f"different CRS: {a.path} is in {a.crs}, {b.path} in {b.crs}")
    same_transform = all(
        math.isclose(x, y, rel_tol=0, abs_tol=1e-6)
        for x, y in zip(a.transform, b.transform, strict=True)
    )
    if a.shape != b.shape or not same_transform:

        def grid(m: RunMeta) -> str:
            return (
                f"{m.shape[0]} x {m.shape[1]} cells of {abs(m.transform[0]):g} m from "
                f"({m.transform[2]:.1f}, {m.transform[5]:.1f})"
            )

        out.append(f"different grids: {a.path} has {grid(a)}, {b.path} has {grid(b)}")
    return out


def common_bands(a: RunMeta, b: RunMeta) -> list[str]:
    """Band labels of both runs, in A's order.

    Raises
    ------
    InputError
        When the runs share no band.
    """
    bands = [x for x in a.bands if x in b.bands]
    if not bands:
        raise InputError(
            f"cannot compare {a.path} and {b.path}: no band in common "
            f"({', '.join(a.bands)} vs {', '.join(b.bands)})"
        )
    return bands


def delta_raster(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """``b - a`` as float64; NaN where either is NaN."""
    aa = np.asarray(a, dtype=float)
    bb = np.asarray(b, dtype=float)
    if aa.shape != bb.shape:
        raise InputError(f"delta_raster: shapes differ ({aa.shape} vs {bb.shape})")
    return bb - aa


def _keys(grid: gpd.GeoDataFrame) -> pd.MultiIndex:
    """A receiver's identity: (0, row, col) of its grid cell, or (1, x, y) of a street
    point's position to the cm (integer levels: hashed by pandas without a string per
    receiver; 0.04 s for two runs of the embedded city, against 1.9 s with strings)."""
    street = grid["kind"].astype(str).to_numpy() != "grid"
    x = np.round(grid.geometry.x.to_numpy() * 100).astype(np.int64)
    y = np.round(grid.geometry.y.to_numpy() * 100).astype(np.int64)
    # a street receiver's row/col: NULL (-1 in runs before 2026-12-06)
    first = np.where(street, x, grid["row"].fillna(-1).to_numpy().astype(np.int64))
    second = np.where(street, y, grid["col"].fillna(-1).to_numpy().astype(np.int64))
    return pd.MultiIndex.from_arrays(
        [street.astype(np.int8), first, second], names=["street", "row_or_x_cm", "col_or_y_cm"]
    )


def receiver_differences(
    a: RunMeta, b: RunMeta, grid_a: gpd.GeoDataFrame, grid_b: gpd.GeoDataFrame
) -> list[str]:
    """What makes the runs' receivers differ (empty list: the same receivers at the same
    heights): the grid points and the street points by their identity (:func:`_keys`),
    then the antenna height of each receiver both runs share."""
    keys_a, keys_b = _keys(grid_a), _keys(grid_b)
    out = []
    for run, keys in ((a, keys_a), (b, keys_b)):
        twice = int(keys.duplicated().sum())
        if twice:
            out.append(
                f"{run.path}: {twice} receiver(s) repeat another's identity (the same grid "
                "cell, or street points within 1 cm); its grid layer is not a run's"
            )
    if out:
        return out
    only_a = int((~keys_a.isin(keys_b)).sum())
    only_b = int((~keys_b.isin(keys_a)).sum())
    if only_a or only_b:
        out.append(
            f"different receivers: {only_a} of the {len(keys_a)} of {a.path} are not in "
            f"{b.path}, {only_b} of its {len(keys_b)} are not in {a.path} (the street "
            "points or the grid settings differ)"
        )
        return out
    height_a = pd.Series(grid_a["rx_height_m"].to_numpy(dtype=float), index=keys_a)
    height_b = pd.Series(grid_b["rx_height_m"].to_numpy(dtype=float), index=keys_b)
    height_a = height_a[~height_a.index.duplicated()]
    height_b = height_b[~height_b.index.duplicated()].reindex(height_a.index)
    differ = ~np.isclose(height_a.to_numpy(), height_b.to_numpy(), rtol=0, atol=1e-3)
    if differ.any():
        k = int(np.argmax(differ))
        out.append(
            f"different receiver heights: {int(differ.sum())} receivers stand at other "
            f"heights (e.g. {height_a.iloc[k]:g} m in {a.path}, {height_b.iloc[k]:g} m in "
            f"{b.path}; grid.indoor_height_m or grid.outdoor_height_m differ)"
        )
    return out


def coverage_changes(
    grid_a: gpd.GeoDataFrame,
    grid_b: gpd.GeoDataFrame,
    bands: Sequence[str],
    *,
    threshold_db: float,
) -> gpd.GeoDataFrame:
    """Receivers whose coverage differs between A and B, one row per (receiver, band).

    Parameters
    ----------
    grid_a, grid_b
        The ``grid`` layers of the runs (``kind``, ``row``, ``col``, ``indoor``,
        ``building_id`` (null outdoors) and ``sinr_db_<band>``, ``capacity_mbps_<band>``
        per band).
    threshold_db
        A receiver is covered when its SINR is at least this.

    Returns
    -------
    geopandas.GeoDataFrame
        In A's CRS: ``band``, ``change`` (``gained`` or ``lost``), ``kind``, ``indoor``,
        ``building_id`` (nullable integers, NA outdoors), ``sinr_db_a``/``_b``,
        ``capacity_mbps_a``/``_b``. Receivers of only one run are left out.
    """
    ka, kb = _keys(grid_a), _keys(grid_b)
    common = ka.intersection(kb)
    ia = ka.get_indexer(common)
    ib = kb.get_indexer(common)
    base = grid_a.iloc[ia]
    parts = []
    for band in bands:
        sa = grid_a[f"sinr_db_{band}"].to_numpy(dtype=float)[ia]
        sb = grid_b[f"sinr_db_{band}"].to_numpy(dtype=float)[ib]
        ca = grid_a[f"capacity_mbps_{band}"].to_numpy(dtype=float)[ia]
        cb = grid_b[f"capacity_mbps_{band}"].to_numpy(dtype=float)[ib]
        cov_a = np.nan_to_num(sa, nan=-np.inf) >= threshold_db
        cov_b = np.nan_to_num(sb, nan=-np.inf) >= threshold_db
        changed = cov_a != cov_b
        if not changed.any():
            continue
        sel = base[changed]
        parts.append(
            gpd.GeoDataFrame(
                {
                    "band": band,
                    "change": np.where(cov_b[changed], "gained", "lost"),
                    "kind": sel["kind"].to_numpy(),
                    "indoor": sel["indoor"].to_numpy(dtype=bool),
                    # NA outdoors (NULL in the layer), as in the runs' grid layers
                    "building_id": sel["building_id"].astype("Int64").array,
                    "sinr_db_a": sa[changed].astype(np.float32),
                    "sinr_db_b": sb[changed].astype(np.float32),
                    "capacity_mbps_a": ca[changed].astype(np.float32),
                    "capacity_mbps_b": cb[changed].astype(np.float32),
                },
                geometry=sel.geometry.to_numpy(),
                crs=grid_a.crs,
            )
        )
    if not parts:
        empty = {
            "band": pd.Series([], dtype=object),
            "change": pd.Series([], dtype=object),
            "kind": pd.Series([], dtype=object),
            "indoor": pd.Series([], dtype=bool),
            "building_id": pd.Series([], dtype="Int64"),
            **{c: pd.Series([], dtype=np.float32) for c in (
                "sinr_db_a", "sinr_db_b", "capacity_mbps_a", "capacity_mbps_b")},
        }  # fmt: skip
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=grid_a.crs))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=grid_a.crs)


def building_changes(
    buildings_a: gpd.GeoDataFrame, buildings_b: gpd.GeoDataFrame, bands: Sequence[str]
) -> gpd.GeoDataFrame:
    """Per building (matched by ``building_id``): indoor coverage share and capacity per band
    in A, B and B - A, and the best band of each run."""
    a = buildings_a.set_index("building_id")
    b = buildings_b.set_index("building_id")
    ids = a.index.intersection(b.index)
    a, b = a.loc[ids], b.loc[ids]
    out = gpd.GeoDataFrame(
        {
            "building_id": ids.to_numpy(),
            "name": a["name"].to_numpy() if "name" in a else None,
            "osm_id": a["osm_id"].to_numpy() if "osm_id" in a else None,
            "indoor_points": a["indoor_points"].to_numpy() if "indoor_points" in a else None,
        },
        geometry=a.geometry.to_numpy(),
        crs=buildings_a.crs,
    )
    for band in bands:
        for col in (f"indoor_covered_{band}", f"indoor_capacity_mbps_{band}"):
            va = a[col].to_numpy(dtype=float)
            vb = b[col].to_numpy(dtype=float)
            out[f"{col}_a"] = va
            out[f"{col}_b"] = vb
            out[f"{col}_delta"] = vb - va
    out["best_band_a"] = a["best_band"].to_numpy()
    out["best_band_b"] = b["best_band"].to_numpy()
    return out


def indoor_covered_at(
    grid: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    bands: Sequence[str],
    threshold_db: float,
) -> gpd.GeoDataFrame:
    """``buildings`` (a run's ``buildings`` layer) with ``indoor_covered_<band>``
    counted anew from the run's ``grid`` layer at ``threshold_db``: the share of each
    building's indoor grid points whose SINR is at least the threshold (NaN for a
    building without one), as :func:`twin.io.outputs.building_frame` counts it at the
    run's own threshold. ``twin compare --threshold`` compares the buildings this way,
    not at each run's own threshold."""
    out = buildings.copy()
    inside = (grid["kind"].to_numpy() == "grid") & grid["indoor"].to_numpy(dtype=bool)
    bid = grid["building_id"].astype("Int64").to_numpy(dtype=np.int64, na_value=-1)
    pos = pd.Index(buildings["building_id"]).get_indexer(bid[inside])
    known = pos >= 0
    pos = pos[known]
    n = len(buildings)
    counts = np.bincount(pos, minlength=n).astype(float)
    for band in bands:
        sinr = grid[f"sinr_db_{band}"].to_numpy(dtype=float)[inside][known]
        covered = np.bincount(pos, weights=sinr >= threshold_db, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"indoor_covered_{band}"] = np.where(counts > 0, covered / counts, np.nan)
    return out


def _type_rows(
    band: str, grid: gpd.GeoDataFrame, threshold_db: float
) -> dict[tuple[str, str], float]:
    sinr = grid[f"sinr_db_{band}"].to_numpy(dtype=float)
    cap = np.nan_to_num(grid[f"capacity_mbps_{band}"].to_numpy(dtype=float), nan=0.0)
    types = grid[f"user_type_{band}"].to_numpy()
    covered = np.nan_to_num(sinr, nan=-np.inf) >= threshold_db
    out: dict[tuple[str, str], float] = {}
    for t in ["all", *range(1, 9)]:
        sel = np.ones(len(grid), dtype=bool) if t == "all" else types == t
        k = int(sel.sum())
        out[("points", str(t))] = float(k)
        out[("covered_share", str(t))] = float(np.mean(covered[sel])) if k else math.nan
        out[("mean_capacity_mbps", str(t))] = float(np.mean(cap[sel])) if k else math.nan
        out[("median_capacity_mbps", str(t))] = float(np.median(cap[sel])) if k else math.nan
    return out


def _building_rows(band: str, buildings: gpd.GeoDataFrame, share: float) -> dict[str, float]:
    v = buildings[f"indoor_covered_{band}"].to_numpy(dtype=float)
    has = np.isfinite(v)
    return {
        "buildings_with_indoor_points": float(has.sum()),
        "buildings_indoor_covered": float(np.sum(v[has] >= share)),
        "mean_building_indoor_covered": float(np.mean(v[has])) if has.any() else math.nan,
    }


def comparison_table(
    grid_a: gpd.GeoDataFrame,
    grid_b: gpd.GeoDataFrame,
    buildings_a: gpd.GeoDataFrame,
    buildings_b: gpd.GeoDataFrame,
    bands: Sequence[str],
    *,
    threshold_db: float,
    building_share: float = 0.9,
) -> pd.DataFrame:
    """The comparison table (:data:`TABLE_COLUMNS`), one row per band, metric and user type.

    Metrics per user type (``all`` and 1-8): ``points``, ``covered_share`` (SINR >=
    ``threshold_db``), ``mean_capacity_mbps``, ``median_capacity_mbps`` (unserved
    receivers count 0 Mbps). Per band, for the buildings: ``buildings_with_indoor_points``,
    ``buildings_indoor_covered`` (at least ``building_share`` of the indoor points
    covered) and ``mean_building_indoor_covered``.
    """
    if not (0 < building_share <= 1):
        raise InputError(f"building_share: {building_share} must be in (0, 1]")
    rows = []
    for band in bands:
        ta = _type_rows(band, grid_a, threshold_db)
        tb = _type_rows(band, grid_b, threshold_db)
        for t in ["all", *[str(i) for i in range(1, 9)]]:
            label = "all receivers" if t == "all" else _TYPE_LABELS[int(t)]
            for metric in ("points", "covered_share", "mean_capacity_mbps", "median_capacity_mbps"):
                va, vb = ta[(metric, t)], tb[(metric, t)]
                rows.append((band, metric, t, label, va, vb, vb - va))
        ba = _building_rows(band, buildings_a, building_share)
        bb = _building_rows(band, buildings_b, building_share)
        for metric in ba:
            rows.append(
                (band, metric, "", "buildings", ba[metric], bb[metric], bb[metric] - ba[metric])
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _cell(metric: str, v: float, *, delta: bool = False) -> str:
    if not math.isfinite(v):
        return ""
    if "share" in metric or metric == "mean_building_indoor_covered":
        text = f"{100 * v:.1f} %"
    elif metric in ("points", "buildings_with_indoor_points", "buildings_indoor_covered"):
        text = f"{v:.0f}"
    else:
        text = f"{v:.2f}"
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = text[1:]  # a change that rounds to zero is shown without a sign
    if delta and not text.startswith("-") and any(c in "123456789" for c in text):
        text = "+" + text
    return text


_METRIC_NAMES = {
    "points": "receivers",
    "covered_share": "covered share",
    "mean_capacity_mbps": "mean capacity (Mbps)",
    "median_capacity_mbps": "median capacity (Mbps)",
    "buildings_with_indoor_points": "buildings with indoor points",
    "buildings_indoor_covered": "buildings covered indoors",
    "mean_building_indoor_covered": "mean indoor coverage of a building",
}


def table_markdown(
    table: pd.DataFrame,
    *,
    title: str,
    a_name: str,
    b_name: str,
    a_path: str | None = None,
    b_path: str | None = None,
    threshold_db: float | None = None,
    building_share: float | None = None,
    note: str | None = None,
) -> str:
    """The table as markdown: one section per band, shares in %, capacities in Mbps;
    each run named by ``a_name``/``b_name`` (e.g. :func:`run_labels`), its folder
    ``a_path``/``b_path`` after it when given; ``note`` (e.g.
    :meth:`Comparison.band_note`) is a paragraph after the legend."""

    def run(name: str, path: str | None) -> str:
        return f"`{name}`" if path is None else f"`{name}` (`{path}`)"

    lines = [
        f"# {title}",
        "",
        f"A = {run(a_name, a_path)}, B = {run(b_name, b_path)}; B - A is the change.",
    ]
    if threshold_db is not None:
        lines.append(f"A receiver is covered when its SINR is at least {threshold_db:g} dB.")
    if building_share is not None:
        lines.append(
            f"A building is covered indoors when at least {100 * building_share:g} % of its "
            "indoor grid points are covered."
        )
    if note is not None:
        lines += ["", f"Note: {note}."]
    lines.append("")
    header = ["| metric | user type | A | B | B - A |", "| --- | --- | ---: | ---: | ---: |"]
    for band in dict.fromkeys(table["band"].astype(str)):
        rows = table[table["band"].astype(str) == band]
        lines += [f"## {band.replace('p', '.')} GHz", "", *header]
        for metric, user_type, label, a, b, d in zip(
            rows["metric"].astype(str), rows["user_type"].astype(str), rows["label"].astype(str),
            rows["a"].astype(float), rows["b"].astype(float), rows["delta"].astype(float),
            strict=True,
        ):  # fmt: skip
            who = f"{user_type}: {label}" if user_type not in ("", "all") else label
            lines.append(
                f"| {_METRIC_NAMES.get(metric, metric)} | {who} | {_cell(metric, a)} | "
                f"{_cell(metric, b)} | {_cell(metric, d, delta=True)} |"
            )
        lines.append("")
    return "\n".join(lines)


#: Raster metrics whose difference is written.
DELTA_METRICS = ("capacity_mbps", "sinr_db")


@dataclass
class Comparison:
    """Everything ``twin compare`` writes: the deltas per (metric, band), the changed
    receivers, the buildings and the table."""

    a: RunMeta
    b: RunMeta
    bands: list[str]
    threshold_db: float
    building_share: float
    deltas: dict[tuple[str, str], FloatArray]
    changes: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    table: pd.DataFrame

    @property
    def labels(self) -> tuple[str, str]:
        """Names of A and B that tell them apart (:func:`run_labels`)."""
        return run_labels(self.a, self.b)

    def counts(self) -> dict[str, dict[str, int]]:
        """Receivers that gained and lost coverage, per band."""
        out = {}
        for band in self.bands:
            sel = self.changes[self.changes["band"] == band]
            out[band] = {
                "gained": int((sel["change"] == "gained").sum()),
                "lost": int((sel["change"] == "lost").sum()),
            }
        return out

    def bands_left_out(self) -> dict[str, list[str]]:
        """Band labels of one run only (``"a"``, ``"b"``), which are not compared."""
        return {
            "a": [x for x in self.a.bands if x not in self.bands],
            "b": [x for x in self.b.bands if x not in self.bands],
        }

    def band_note(self) -> str | None:
        """A sentence on the bands of one run only, or None when the runs share all."""
        left = self.bands_left_out()
        parts = [
            f"{', '.join(x.replace('p', '.') for x in labels)} GHz only in "
            f"{run.upper()} ({meta.path})"
            for (run, labels), meta in zip(left.items(), (self.a, self.b), strict=True)
            if labels
        ]
        if not parts:
            return None
        shared = ", ".join(x.replace("p", ".") for x in self.bands)
        return f"not compared: {'; '.join(parts)}; the comparison covers {shared} GHz"


def check_threshold(threshold_db: float, *, name: str = "threshold_db") -> float:
    """``threshold_db`` when it is a SINR threshold a scenario allows (finite, within
    :data:`twin.scenario.SINR_THRESHOLD_RANGE_DB`); else :class:`InputError` naming
    ``name``, the value and the range."""
    lo, hi = SINR_THRESHOLD_RANGE_DB
    value = float(threshold_db)
    if not (math.isfinite(value) and lo <= value <= hi):
        raise InputError(
            f"{name}: {value:g} dB is not allowed; give a SINR threshold from {lo:g} to "
            f"{hi:g} dB (the range of a scenario's radio.sinr_threshold_db)"
        )
    return value


def check_comparable(a: RunMeta, b: RunMeta, *, threshold_db: float | None = None) -> float:
    """Raise :class:`InputError` naming both runs when they cannot be compared; return the
    SINR threshold to use (``threshold_db``, checked by :func:`check_threshold`, else the
    runs' common one)."""
    if threshold_db is not None:
        check_threshold(threshold_db)
    diff = differences(a, b)
    if diff:
        raise InputError(f"cannot compare {a.path} and {b.path}: " + "; ".join(diff))
    if threshold_db is not None:
        return float(threshold_db)
    if a.sinr_threshold_db != b.sinr_threshold_db:
        raise InputError(
            f"cannot compare {a.path} and {b.path}: their SINR thresholds differ "
            f"({a.sinr_threshold_db:g} vs {b.sinr_threshold_db:g} dB); give one with --threshold"
        )
    return a.sinr_threshold_db


def check_runs(
    a: RunMeta,
    b: RunMeta,
    grid_a: gpd.GeoDataFrame,
    grid_b: gpd.GeoDataFrame,
    *,
    threshold_db: float | None = None,
) -> float:
    """Raise :class:`InputError` naming both runs when they cannot be compared
    (:func:`check_comparable`, then :func:`receiver_differences`); return the SINR
    threshold to use. What :func:`compare` checks, for a caller that checks before it
    reads the rasters (:func:`twin.whatif.compare_run_folders`; the second check in
    :func:`compare` then costs 0.06 s on the embedded city)."""
    threshold = check_comparable(a, b, threshold_db=threshold_db)
    receivers = receiver_differences(a, b, grid_a, grid_b)
    if receivers:
        raise InputError(f"cannot compare {a.path} and {b.path}: " + "; ".join(receivers))
    return threshold


def compare(
    a: RunMeta,
    b: RunMeta,
    rasters_a: dict[tuple[str, str], FloatArray],
    rasters_b: dict[tuple[str, str], FloatArray],
    grid_a: gpd.GeoDataFrame,
    grid_b: gpd.GeoDataFrame,
    buildings_a: gpd.GeoDataFrame,
    buildings_b: gpd.GeoDataFrame,
    *,
    threshold_db: float | None = None,
    building_share: float = 0.9,
) -> Comparison:
    """Compare run B with run A (see the module notes) after :func:`check_runs`.

    ``rasters_a``/``rasters_b`` map (metric, band) to the raster arrays (NaN for no data)
    of :data:`DELTA_METRICS` on the common bands.
    """
    threshold = check_runs(a, b, grid_a, grid_b, threshold_db=threshold_db)
    bands = common_bands(a, b)
    # a run's buildings layer counts indoor coverage at the run's own threshold
    if a.sinr_threshold_db != threshold:
        buildings_a = indoor_covered_at(grid_a, buildings_a, bands, threshold)
    if b.sinr_threshold_db != threshold:
        buildings_b = indoor_covered_at(grid_b, buildings_b, bands, threshold)
    deltas = {
        (m, band): delta_raster(rasters_a[(m, band)], rasters_b[(m, band)])
        for band in bands
        for m in DELTA_METRICS
    }
    return Comparison(
        a=a,
        b=b,
        bands=bands,
        threshold_db=threshold,
        building_share=building_share,
        deltas=deltas,
        changes=coverage_changes(grid_a, grid_b, bands, threshold_db=threshold),
        buildings=building_changes(buildings_a, buildings_b, bands),
        table=comparison_table(
            grid_a, grid_b, buildings_a, buildings_b, bands,
            threshold_db=threshold, building_share=building_share,
        ),
    )  # fmt: skip
