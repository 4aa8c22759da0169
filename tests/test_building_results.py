"""Building-level results: the ``buildings`` layer of grid.gpkg and buildings.geojson
against the ``grid`` layer, recomputed here with pandas (indoor grid points only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from twin.io.outputs import write_run


@pytest.fixture(scope="module")
def run_dir(helsinki_study, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("buildings") / "run"
    write_run(helsinki_study, out, overwrite=False)
    return out


def test_indoor_coverage_per_building_matches_the_grid_layer(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    threshold = summary["sinr_threshold_db"]
    bands = list(summary["bands"])
    grid = pyogrio.read_dataframe(run_dir / "grid.gpkg", layer="grid")
    layer = pyogrio.read_dataframe(run_dir / "grid.gpkg", layer="buildings").set_index(
        "building_id"
    )
    indoor = grid[(grid["kind"] == "grid") & grid["indoor"].astype(bool)]
    assert (indoor["building_id"] >= 0).all()
    per = indoor.groupby("building_id")
    counts = per.size()
    assert (layer.loc[counts.index, "indoor_points"] == counts).all()
    # buildings without an indoor grid point have no value
    empty = layer.index.difference(counts.index)
    assert (layer.loc[empty, "indoor_points"] == 0).all()
    means = {}
    for b in bands:
        covered = per[f"sinr_db_{b}"].apply(lambda s: float(np.mean(s.to_numpy() >= threshold)))
        cap = per[f"capacity_mbps_{b}"].mean()
        np.testing.assert_allclose(
            layer.loc[covered.index, f"indoor_covered_{b}"], covered, rtol=1e-12
        )
        # the grid layer stores capacity as float32; the building mean is from float64
        np.testing.assert_allclose(
            layer.loc[cap.index, f"indoor_capacity_mbps_{b}"], cap, rtol=1e-6
        )
        assert layer.loc[empty, f"indoor_covered_{b}"].isna().all()
        means[b] = cap
    table = pd.DataFrame(means)
    best = table.idxmax(axis=1)
    # the best band is the one of highest indoor mean capacity (none without indoor points)
    close = table.max(axis=1) - table.min(axis=1) > 1e-3  # ties within float32 are ambiguous
    assert (layer.loc[best.index[close], "best_band"] == best[close]).all()
    assert (layer.loc[empty, "best_band"].fillna("") == "").all()


def test_buildings_geojson_carries_the_same_numbers(run_dir: Path) -> None:
    doc = json.loads((run_dir / "buildings.geojson").read_text())
    layer = pyogrio.read_dataframe(run_dir / "grid.gpkg", layer="buildings").set_index(
        "building_id"
    )
    bands = list(json.loads((run_dir / "summary.json").read_text())["bands"])
    assert len(doc["features"]) == len(layer)
    for feat in doc["features"]:
        props = feat["properties"]
        row = layer.loc[props["building_id"]]
        for b in bands:
            v = props[f"indoor_covered_{b}"]
            if v is None:
                assert np.isnan(row[f"indoor_covered_{b}"])
            else:
                assert v == pytest.approx(row[f"indoor_covered_{b}"], rel=1e-9)
                assert props[f"indoor_capacity_mbps_{b}"] == pytest.approx(
                    row[f"indoor_capacity_mbps_{b}"], rel=1e-6
                )
        # null in both without indoor points (GDAL gives pandas NaN for it)
        if props["best_band"] is None:
            assert pd.isna(row["best_band"])
        else:
            assert props["best_band"] == row["best_band"]
