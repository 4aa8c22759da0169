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


def test_furniture_under_cover_is_left_out(tmp_path: Path) -> None:
    """A lamp that is a node of a tunnel, one tagged location=underground and one on a
    covered way have no open sky: no candidate. A lamp on the open road stays."""
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="60.1700" lon="24.9400" version="1"><tag k="highway" v="street_lamp"/></node>
  <node id="2" lat="60.1701" lon="24.9401" version="1"><tag k="highway" v="street_lamp"/></node>
  <node id="3" lat="60.1702" lon="24.9402" version="1"/>
  <node id="4" lat="60.1703" lon="24.9403" version="1">
    <tag k="highway" v="street_lamp"/><tag k="location" v="underground"/></node>
  <node id="5" lat="60.1704" lon="24.9404" version="1"><tag k="highway" v="street_lamp"/></node>
  <node id="6" lat="60.1705" lon="24.9405" version="1"/>
  <way id="10" version="1"><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="secondary"/><tag k="tunnel" v="yes"/><tag k="layer" v="-1"/></way>
  <way id="11" version="1"><nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="footway"/><tag k="covered" v="yes"/></way>
  <way id="12" version="1"><nd ref="1"/><nd ref="6"/><tag k="highway" v="residential"/></way>
</osm>
"""
    path = tmp_path / "lamps.osm"
    path.write_text(xml)
    f = read_street_furniture(path)
    assert list(f["osm_id"]) == ["node/1"]
