"""Write a comparison of two runs (``twin compare``), atomically.

==========================================  ==============================================
file                                        content
==========================================  ==============================================
``comparison.csv``, ``comparison.md``       the table: per band and user type, coverage
                                            share, mean and median capacity; buildings
                                            with indoor coverage; A, B and B - A (the
                                            CSV's CSVW metadata beside it:
                                            ``comparison.csv-metadata.json``)
``comparison.json``                         both runs, the threshold, gained/lost counts
``coverage_changes.gpkg``                   layer ``coverage_changes``: receivers that
                                            gained or lost coverage (per band); layer
                                            ``buildings``: indoor coverage and capacity
                                            per building in A, B and B - A
``rasters/delta_<metric>_<band>.tif``       B - A of capacity (Mbps) and SINR (dB), with
                                            a ``.qml`` style (diverging classes)
``plots/delta_<metric>_<band>.png``         the same as maps
==========================================  ==============================================

The diverging classes are fixed (:data:`DELTA_CAPACITY`, :data:`DELTA_SINR`): red is a
loss, blue a gain, the middle class (|change| below the smallest break) is white.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from twin import OSM_ATTRIBUTION, OSM_LICENSE, OSM_LICENSE_NAME, __version__
from twin.compare import Comparison, table_markdown
from twin.io.atomic import atomic_output_dir, write_text_atomic
from twin.io.forked import share_work
from twin.io.plots import delta_map_figure, save_figure
from twin.io.rasters import write_geotiff
from twin.io.styles import ColorClass, Ramp, qml_text
from twin.io.tables import write_csv_text
from twin.io.vector import write_gpkg

__all__ = ["DELTA_CAPACITY", "DELTA_SINR", "delta_ramp", "write_comparison"]

_RDBU_11 = (
    "#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7",
    "#d1e5f0", "#92c5de", "#4393c3", "#2166ac", "#053061",
)  # fmt: skip


def _diverging(metric: str, title: str, units: str, steps: tuple[float, ...]) -> Ramp:
    """Symmetric classes at -steps[::-1] and +steps: 2 * len(steps) + 1 classes."""
    breaks = [-s for s in steps[::-1]] + list(steps)
    if len(breaks) + 1 != len(_RDBU_11):
        raise ValueError(f"{metric}: {len(breaks)} breaks need {len(breaks) + 1} colours")
    u = f" {units}"
    labels = [f"< {breaks[0]:g}{u} (loss)"]
    for lo, hi in itertools.pairwise(breaks):
        note = " (no change)" if lo < 0 < hi else ""
        labels.append(f"{lo:g} - {hi:g}{u}{note}")
    labels.append(f"> {breaks[-1]:g}{u} (gain)")
    uppers = [*breaks, math.inf]
    classes = tuple(
        ColorClass(float(v), c, lab) for v, c, lab in zip(uppers, _RDBU_11, labels, strict=True)
    )
    return Ramp(metric, title, units, classes, -2.0 * steps[-1], 2.0 * steps[-1], 1.0, 1)


#: Capacity change B - A, Mbps.
DELTA_CAPACITY = _diverging(
    "delta_capacity_mbps", "Capacity change (B - A)", "Mbps", (1.0, 5.0, 25.0, 100.0, 500.0)
)
#: SINR change B - A, dB.
DELTA_SINR = _diverging("delta_sinr_db", "SINR change (B - A)", "dB", (0.5, 2.0, 5.0, 10.0, 20.0))


def delta_ramp(metric: str) -> Ramp:
    """The diverging classes of the difference of ``metric`` (``capacity_mbps``, ``sinr_db``)."""
    if "capacity" in metric:
        return DELTA_CAPACITY
    if "sinr" in metric:
        return DELTA_SINR
    raise ValueError(f"no diverging classes for {metric!r}; use capacity_mbps or sinr_db")


#: characters of a line of a delta map's title (the runs' labels wrapped to it)
TITLE_WIDTH = 72


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def provenance_markdown(prov: Mapping[str, str]) -> str:
    """A markdown footer: the provenance items, then the attribution of the data."""
    lines = ["", "---", "", "Provenance:", ""]
    lines += [f"- {k}: `{v}`" for k, v in prov.items() if k != "attribution"]
    if prov.get("attribution"):
        lines += ["", f"Map data {prov['attribution']}, under the {OSM_LICENSE_NAME}.", ""]
    return "\n".join(lines)


def write_comparison(
    cmp: Comparison,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool,
    before_commit: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Write the files of the module table into ``out_dir``; return ``comparison.json``.

    ``before_commit``: see :func:`twin.io.atomic.atomic_output_dir`."""
    from affine import Affine

    transform = Affine(*cmp.a.transform)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    label_a, label_b = cmp.labels
    prov = {
        "tool": "twin",
        "version": __version__,
        "comparison": "B minus A",
        "run_a": cmp.a.path,
        "run_b": cmp.b.path,
        "scenario_a": cmp.a.scenario,
        "scenario_b": cmp.b.scenario,
        # what tells the runs apart: their scenarios, or the settings an override changed
        "label_a": label_a,
        "label_b": label_b,
        # which scenario each run ran: a folder's name and path say nothing of it
        "scenario_sha256_a": cmp.a.scenario_sha256,
        "scenario_sha256_b": cmp.b.scenario_sha256,
        "input": cmp.a.input_name,
        "input_sha256": cmp.a.input_sha256,
        "crs": cmp.a.crs,
        "sinr_threshold_db": f"{cmp.threshold_db:g}",
        "created": created,
        "attribution": OSM_ATTRIBUTION,
        "license": OSM_LICENSE,
    }
    doc = {
        "provenance": prov,
        "a": {
            "path": cmp.a.path,
            "label": label_a,
            "scenario": cmp.a.scenario,
            "scenario_sha256": cmp.a.scenario_sha256,
        },
        "b": {
            "path": cmp.b.path,
            "label": label_b,
            "scenario": cmp.b.scenario,
            "scenario_sha256": cmp.b.scenario_sha256,
        },
        "bands": cmp.bands,
        "bands_not_compared": cmp.bands_left_out(),
        "sinr_threshold_db": cmp.threshold_db,
        "building_share": cmp.building_share,
        "coverage_changes": cmp.counts(),
        "table": [
            {k: _json_value(v) for k, v in row.items()}
            for row in cmp.table.to_dict(orient="records")
        ],
    }
    title = f"twin compare: {label_b} (B) vs {label_a} (A)"
    # under each map's title, the runs' labels wrapped to the figure's width
    runs = [
        *textwrap.wrap(f"B = {label_b}", TITLE_WIDTH),
        *textwrap.wrap(f"A = {label_a}", TITLE_WIDTH),
    ]
    with atomic_output_dir(Path(out_dir), overwrite=overwrite, before_commit=before_commit) as tmp:
        rasters = tmp / "rasters"
        plots = tmp / "plots"
        rasters.mkdir()
        plots.mkdir()

        def figure(metric: str, band: str, arr: npt.NDArray[np.float64]) -> Callable[[], None]:
            def draw() -> None:
                ramp = delta_ramp(metric)
                fig = delta_map_figure(
                    arr, transform, ramp, buildings=cmp.buildings,
                    title="\n".join([f"{ramp.title} at {band.replace('p', '.')} GHz", *runs]),
                )  # fmt: skip
                save_figure(fig, plots / f"delta_{metric}_{band}.png")

            return draw

        def tables() -> None:
            """The rasters, the GeoPackage and the tables."""
            for (metric, band), arr in cmp.deltas.items():
                ramp = delta_ramp(metric)
                data = np.where(np.isfinite(arr), arr, -9999.0).astype(np.float32)
                path = rasters / f"delta_{metric}_{band}.tif"
                write_geotiff(
                    path, data, transform=transform, crs=cmp.a.crs, nodata=-9999.0,
                    tags={**prov, "metric": f"delta_{metric}", "band": band,
                          "units": ramp.units},
                )  # fmt: skip
                write_text_atomic(path.with_suffix(".qml"), qml_text(ramp))
            write_gpkg(
                {"coverage_changes": cmp.changes, "buildings": cmp.buildings},
                tmp / "coverage_changes.gpkg",
                metadata=prov,
            )
            write_csv_text(
                tmp / "comparison.csv", cmp.table.to_csv(index=False, lineterminator="\n"),
                title=title, provenance=prov,
            )  # fmt: skip
            (tmp / "comparison.md").write_text(
                table_markdown(
                    cmp.table,
                    title=title,
                    a_name=label_a,
                    b_name=label_b,
                    a_path=cmp.a.path,
                    b_path=cmp.b.path,
                    threshold_db=cmp.threshold_db,
                    building_share=cmp.building_share,
                    note=cmp.band_note(),
                )
                + provenance_markdown(prov),
                encoding="utf-8",
            )

        # the maps (about 0.4 s each) drawn by a forked child while this process writes
        # the rasters and tables, then by whichever is free (twin.io.forked)
        share_work(
            [figure(m, b, arr) for (m, b), arr in cmp.deltas.items()],
            tables,
            what=f"the delta maps of {out_dir}",
        )
        (tmp / "comparison.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return doc
