"""Street furniture read from the embedded Helsinki extract, checked against an
independent parse of the same file by osmnx."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXTRACTS
from twin.errors import SourceError
from twin.sources.osm import sanitise_osm
from twin.sources.osm_furniture import FURNITURE_TAGS, read_street_furniture


def test_furniture_nodes_match_osmnx() -> None:
    import osmnx as ox

    got = read_street_furniture(EXTRACTS["helsinki"])
    assert got.crs.to_epsg() == 4326
    assert set(got["kind"]) <= set(FURNITURE_TAGS.values())
    assert got["osm_id"].str.startswith("node/").all() and got["osm_id"].is_unique
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "h.osm"
        sanitise_osm(EXTRACTS["helsinki"], xml)
        tags: dict[str, list[str]] = {}
        for key, value in FURNITURE_TAGS:
            tags.setdefault(key, []).append(value)
        ref = ox.features_from_xml(xml, tags=tags)  # type: ignore[arg-type]
    ref = ref[ref.index.get_level_values("element") == "node"]
    ref_ids = {f"node/{i}" for i in ref.index.get_level_values("id")}
    assert set(got["osm_id"]) == ref_ids
    # kinds: the first matching tag of FURNITURE_TAGS, as the reader documents
    for (key, value), kind in FURNITURE_TAGS.items():
        if key in ref.columns:
            ids = {
                f"node/{i}" for i in ref.index.get_level_values("id")[ref[key].to_numpy() == value]
            }
            mine = set(got.loc[got["kind"] == kind, "osm_id"])
            assert mine <= ids
    lamps = got[got["kind"] == "street_lamp"]
    assert len(lamps) > 100
    pts = ref.geometry.to_numpy()
    order = {f"node/{i}": k for k, i in enumerate(ref.index.get_level_values("id"))}
    for _, row in got.iterrows():
        p = pts[order[row["osm_id"]]]
        assert np.isclose(row.geometry.x, p.x) and np.isclose(row.geometry.y, p.y)


def test_non_osm_sources_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        read_street_furniture(tmp_path / "none.osm.pbf")
    f = tmp_path / "x.geojson"
    f.write_text("{}")
    with pytest.raises(SourceError, match="OSM files only"):
        read_street_furniture(f)
