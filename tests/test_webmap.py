"""The offline web map as HTML: self-contained, escaped, data complete (no browser here)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS

from twin import OSM_ATTRIBUTION, OSM_LICENSE_URL, __version__
from twin.errors import InputError
from twin.io.styles import CAPACITY, SHARE
from twin.io.webmap import PACKED_DTYPES, build_map, deckgl_bundle, json_for_script, packed_array

UTM = CRS.from_epsg(32635)
X0, Y0 = 385_000.0, 6_672_000.0
XSS = "<img src=x onerror=alert(1)>"
BREAKOUT = "</script><script>alert(2)</script>"
BANDS = ["0p7", "3p5", "28"]


def _frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [0, 1],
            "name": [XSS, BREAKOUT],
            "height_m": [12.0, 30.0],
            "min_height_m": [0.0, 6.0],
            "kind": ["yes", "office"],
            "osm_id": ["way/1", "way/2"],
            "indoor_covered_0p7": [1.0, 0.5],
            "indoor_covered_3p5": [0.3, np.nan],
            "indoor_covered_28": [0.0, 0.1],
        },
        geometry=[
            shapely.Polygon(
                shapely.box(X0 + 10, Y0 + 10, X0 + 40, Y0 + 40).exterior,
                holes=[shapely.box(X0 + 20, Y0 + 20, X0 + 30, Y0 + 30).exterior.coords],
            ),
            shapely.MultiPolygon(
                [
                    shapely.box(X0 + 60, Y0, X0 + 70, Y0 + 10),
                    shapely.box(X0 + 80, Y0, X0 + 90, Y0 + 5),
                ]
            ),
        ],
        crs=UTM,
    )
    xs, ys = np.meshgrid(X0 + np.arange(10) * 10.0, Y0 + np.arange(6) * 10.0)
    n = xs.size
    grid = gpd.GeoDataFrame(
        {"indoor": np.arange(n) % 3 == 0},
        geometry=shapely.points(xs.ravel(), ys.ravel()),
        crs=UTM,
    )
    for k, b in enumerate(BANDS):
        vals = np.linspace(0.5, 3000.0 / (3 - k), n)
        vals[0] = np.nan
        grid[f"capacity_mbps_{b}"] = vals.astype(np.float32)
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["S1" + XSS],
            "height_m": [25.0],
            "model": ["uma"],
            "bands_ghz": ["0.7;3.5;28"],
            "power_dbm": [46.0],
        },
        geometry=[shapely.Point(X0 + 50, Y0 + 30)],
        crs=UTM,
    )
    return buildings.to_crs(4326), grid.to_crs(4326), sites.to_crs(4326)


def _build(**kwargs: Any) -> str:
    b, g, s = _frames()
    args: dict[str, Any] = {
        "bands": BANDS,
        "title": "Demo <b>&</b>",
        "attribution": OSM_ATTRIBUTION,
        "building_coverage_col": "indoor_covered_{band}",
        "provenance": {"scenario": "demo" + XSS, "input_sha256": "ab" * 32},
    }
    args.update(kwargs)
    return build_map(b, g, s, **args)


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._in: dict[str, str | None] | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in, self._buf = dict(attrs), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in is not None:
            self.scripts.append((self._in, "".join(self._buf)))
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._buf.append(data)


def _parse(page: str) -> _Scripts:
    p = _Scripts()
    p.feed(page)
    return p


def _data(page: str) -> dict[str, Any]:
    for attrs, text in _parse(page).scripts:
        if attrs.get("id") == "twin-data":
            out: dict[str, Any] = json.loads(text)
            return out
    raise AssertionError("no data block")


def test_page_is_self_contained() -> None:
    page = _build()
    assert page.startswith("<!DOCTYPE html>")
    parsed = _parse(page)
    # no external script, stylesheet, image or frame
    for tag, attrs in parsed.tags:
        assert not (tag == "script" and attrs.get("src")), attrs
        assert tag not in ("link", "iframe", "img", "object", "embed"), tag
    bundle, semver = deckgl_bundle()
    ours = page.replace(bundle, "")
    assert "mapbox-gl.js" not in ours and "cdn.jsdelivr" not in ours and "unpkg.com" not in ours
    assert "http://" not in ours
    assert semver.lstrip("~^").startswith("9.")
    assert any(text == bundle for _, text in parsed.scripts)
    assert "sourceMappingURL" not in bundle


def test_content_security_policy_allows_only_our_scripts() -> None:
    page = _build()
    parsed = _parse(page)
    csp = next(
        a["content"] or ""
        for t, a in parsed.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    allowed = set(re.findall(r"'sha256-([^']+)'", csp))
    executable = [text for attrs, text in parsed.scripts if attrs.get("type") is None]
    assert len(executable) == 3
    for text in executable:
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
        assert digest in allowed


def test_osm_strings_are_escaped() -> None:
    page = _build()
    for raw in (XSS, BREAKOUT, "<b>&</b>"):
        assert raw not in page
    # the JSON block holds them escaped, and they come back intact when parsed
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page
    assert page.count("</script>") == len(_parse(page).scripts)
    data = _data(page)
    assert data["buildings"]["name"] == [XSS, BREAKOUT]
    assert data["sites"][0]["site_id"] == "S1" + XSS
    assert "<title>Demo &lt;b&gt;&amp;&lt;/b&gt;</title>" in page
    assert "demo&lt;img src=x onerror=alert(1)&gt;" in page  # provenance table
    # tooltips are built as text, never as HTML
    main = _parse(page).scripts[-1][1]
    assert "{ text: lines.join" in main and "html:" not in main and "innerHTML" not in main


def test_json_for_script() -> None:
    text = json_for_script({"a": "</script><!-- \u2028 & >", "n": np.float32(np.nan)})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- \u2028 & >", "n": None}


def test_data_layers_and_legend() -> None:
    page = _build()
    data = _data(page)
    assert data["bands"] == BANDS
    deck_types = [layer["@@type"] for layer in data["deck"]["layers"]]
    assert deck_types == ["PolygonLayer", "ColumnLayer", "LineLayer", "ScatterplotLayer"]
    view = data["deck"]["initialViewState"]
    assert 24.9 < view["longitude"] < 25.0 and 60.1 < view["latitude"] < 60.2
    assert 14 < view["zoom"] < 20 and view["pitch"] > 0
    grid = data["grid"]
    x, y = _unpack(grid["x"]), _unpack(grid["y"])
    assert x.dtype == y.dtype == np.int32 and len(x) == len(y) == 60
    assert 9 < grid["cell_m"] < 11
    assert grid["legend"]["units"] == "Mbps"
    assert grid["legend"]["colors"] == [list(c.rgb) for c in CAPACITY.classes]
    _, g, _ = _frames()
    for b in BANDS:
        cls = _unpack(grid["bands"][b]["cls"])
        value = _unpack(grid["bands"][b]["value"])
        assert cls[0] == -1 and np.isnan(value[0])  # NaN: not drawn
        assert max(cls) <= len(CAPACITY.classes) - 1 and min(cls[1:]) >= 0
        # the values as given, rounded to the legend's decimals (float32 in the page)
        want = np.round(g[f"capacity_mbps_{b}"].to_numpy(float), CAPACITY.decimals)
        np.testing.assert_array_equal(value, want.astype(np.float32))
    assert _unpack(grid["bands"]["28"]["cls"])[-1] == len(CAPACITY.classes) - 1  # 3000 Mbps
    assert _unpack(grid["indoor"])[:3].tolist() == [1, 0, 0]
    # decoded coordinates land on the input points (1e-6 degree steps)
    lon = data["origin"][0] + x * data["scale"]
    np.testing.assert_allclose(lon, shapely.get_x(g.geometry.values), atol=1e-6)


def _unpack(p: dict[str, str]) -> np.ndarray:
    """A packed column of the page, decoded as the page's script decodes it."""
    assert p["dtype"] in PACKED_DTYPES
    return np.frombuffer(base64.b64decode(p["b64"]), dtype=np.dtype(p["dtype"]).newbyteorder("<"))


def test_packed_array_round_trip_and_bad_input() -> None:
    for dtype, values in [
        ("int8", [-1, 0, 7, 127]),
        ("uint8", [0, 1, 255]),
        ("int32", [-2_000_000, 0, 123_456_789]),
        ("float32", [np.nan, -3.5, 1e6]),
    ]:
        got = _unpack(packed_array(np.array(values), dtype))
        np.testing.assert_array_equal(got, np.array(values, dtype=dtype))
    with pytest.raises(InputError, match=r"values -1..300 do not fit uint8"):
        packed_array(np.array([-1, 300]), "uint8")
    with pytest.raises(InputError, match=r"dtype 'int64' is not one of int8, uint8"):
        packed_array(np.array([1]), "int64")
    # the page's script decodes every dtype into its typed array
    page = _build()
    for dtype, typed in PACKED_DTYPES.items():
        assert f"{dtype}: {typed}" in page


def test_buildings_per_band_coverage_and_parts() -> None:
    data = _data(_build())
    b = data["buildings"]
    assert b["owner"] == [0, 1, 1]  # the multipolygon gives two parts
    assert len(b["polygons"][0]) == 2  # shell and courtyard
    assert b["height"] == [12.0, 30.0] and b["base"] == [0.0, 6.0]
    cov = b["coverage"]
    assert cov["legend"]["units"] == "%" and len(cov["legend"]["colors"]) == len(SHARE.classes)
    assert cov["bands"]["0p7"]["value"] == [100, 50]
    assert cov["bands"]["3p5"]["cls"] == [1, -1] and cov["bands"]["3p5"]["value"] == [30, None]
    assert cov["bands"]["28"]["cls"] == [0, 0]


def test_band_switch_legend_attribution_provenance() -> None:
    page = _build()
    radios = [a for t, a in _parse(page).tags if t == "input" and a.get("name") == "band"]
    assert [r["value"] for r in radios] == BANDS
    assert "checked" in radios[0] and all("checked" not in r for r in radios[1:])
    assert "0.7 GHz" in page and "3.5 GHz" in page and "28 GHz" in page
    assert "Capacity (Mbps)" in page and "&lt; 1 Mbps" in page and "Indoor coverage (%)" in page
    assert OSM_ATTRIBUTION in page and "openstreetmap.org/copyright" in page
    # the licence of OSM's data beside its attribution, linked
    assert (
        f'<a href="{OSM_LICENSE_URL}" target="_blank" rel="noopener noreferrer">ODbL 1.0</a>'
        in page
    )
    assert f"<td>version</td><td>{__version__}</td>" in page
    assert "ab" * 32 in page


def test_grey_buildings_without_coverage_and_custom_attribution() -> None:
    page = _build(building_coverage_col=None, attribution="Footprints (c) City <x>")
    data = _data(page)
    assert data["buildings"]["coverage"] is None
    assert "Indoor coverage" not in page
    assert "Footprints (c) City &lt;x&gt;" in page and "openstreetmap.org/copyright" not in page
    assert OSM_LICENSE_URL not in page  # not OSM's data: not its licence


def test_one_column_for_all_bands_and_other_metrics() -> None:
    b, g, s = _frames()
    g["sinr_db_0p7"] = np.linspace(-10, 30, len(g))
    page = build_map(b, g, s, bands=["0p7"], metric="sinr_db",
                     building_coverage_col="indoor_covered_0p7", title="t")  # fmt: skip
    data = _data(page)
    assert data["grid"]["legend"]["units"] == "dB"
    assert data["buildings"]["coverage"]["bands"]["0p7"]["value"] == [100, 50]


def test_frames_in_a_projected_crs_are_reprojected() -> None:
    b, g, s = _frames()
    page = build_map(b.to_crs(UTM), g.to_crs(UTM), s.to_crs(UTM), bands=BANDS, title="t")
    view = _data(page)["deck"]["initialViewState"]
    assert 24.9 < view["longitude"] < 25.0


def test_bad_inputs() -> None:
    b, g, s = _frames()
    with pytest.raises(InputError, match="bands is empty"):
        build_map(b, g, s, bands=[], title="t")
    with pytest.raises(InputError, match="capacity_mbps_6"):
        build_map(b, g, s, bands=["6"], title="t")
    with pytest.raises(InputError, match="indoor_covered_x"):
        build_map(b, g, s, bands=["0p7"], title="t", building_coverage_col="indoor_covered_x")
    with pytest.raises(InputError, match="height_m"):
        build_map(b.drop(columns="height_m"), g, s, bands=["0p7"], title="t")
    no_crs = g.to_crs(UTM).set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="lon/lat"):
        build_map(b, no_crs, s, bands=["0p7"], title="t")


def test_page_size_for_a_large_grid() -> None:
    """~70k grid points and three bands stay a few MB above the 4.3 MB deck.gl bundle."""
    n = 265
    xs, ys = np.meshgrid(X0 + np.arange(n) * 10.0, Y0 + np.arange(n) * 10.0)
    grid = gpd.GeoDataFrame(geometry=shapely.points(xs.ravel(), ys.ravel()), crs=UTM)
    rng = np.random.default_rng(0)
    for k, b in enumerate(BANDS):
        grid[f"capacity_mbps_{b}"] = (rng.random(len(grid)) * 10 ** (k + 2)).astype(np.float32)
    b, _, s = _frames()
    page = build_map(b, grid.to_crs(4326), s, bands=BANDS, title="t")
    data_bytes = len(json.dumps(_data(page)))
    assert len(grid) > 70_000
    assert data_bytes < 3.5e6, data_bytes
    assert len(page.encode("utf-8")) - len(deckgl_bundle()[0].encode("utf-8")) < 3.6e6


def test_a_grid_given_as_arrays_makes_the_same_page() -> None:
    """:class:`MapPoints` (the grid's arrays, no geometry per point) and the GeoDataFrame
    of the same points give the same page; arrays of other lengths or not in lon/lat
    are refused."""
    from twin.io.webmap import MapPoints

    b, g, s = _frames()
    points = MapPoints(
        lon=shapely.get_x(g.geometry.values),
        lat=shapely.get_y(g.geometry.values),
        columns={c: g[c].to_numpy() for c in g.columns if c.startswith("capacity_mbps_")},
        indoor=g["indoor"].to_numpy(dtype=bool),
    )
    args: dict[str, Any] = {"bands": BANDS, "title": "t", "building_coverage_col": None}
    assert build_map(b, points, s, **args) == build_map(b, g, s, **args)
    assert MapPoints.of(g).columns.keys() == points.columns.keys()
    with pytest.raises(InputError, match="one value per point"):
        MapPoints(lon=points.lon, lat=points.lat[:-1], columns={})
    with pytest.raises(InputError, match="one value per point"):
        MapPoints(lon=points.lon, lat=points.lat, columns={"capacity_mbps_0p7": np.zeros(3)})
    with pytest.raises(InputError, match="not in lon/lat"):
        MapPoints(lon=points.lon * 1e4, lat=points.lat, columns={})


def test_the_grid_packed_by_chunks_makes_the_same_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """The grid's columns converted by chunks of any size give the page of one chunk,
    for fixed colour classes and for classes taken from the values' range."""
    b, g, s = _frames()
    g = g.copy()
    for band in BANDS:  # a metric without fixed classes: from the values' finite range
        g[f"other_{band}"] = g[f"capacity_mbps_{band}"] * 3.0 - 7.0
    g.loc[g.index[:2], f"other_{BANDS[0]}"] = np.inf
    pages = []
    for chunk in (1 << 18, 7, 1):
        monkeypatch.setattr("twin.io.webmap.MAP_CHUNK", chunk)
        args: dict[str, Any] = {"bands": BANDS, "title": "t", "building_coverage_col": None}
        pages.append([build_map(b, g, s, metric=m, **args) for m in ("capacity_mbps", "other")])
    assert len(g) > 7 and pages[0] == pages[1] == pages[2]
    assert pages[0][0] != pages[0][1]


def test_the_written_map_is_the_built_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``write_map`` writes, piece by piece, the UTF-8 bytes of the page ``build_map``
    returns (non-ASCII text cut across pieces included)."""
    from twin.io.webmap import write_map

    monkeypatch.setattr("twin.io.webmap.WRITE_CHARS", 997)
    b, g, s = _frames()
    args: dict[str, Any] = {"bands": BANDS, "title": "Töölö – 東京 <b>", "metric": "capacity_mbps"}
    write_map(tmp_path / "map.html", b, g, s, **args)
    page = build_map(b, g, s, **args)
    assert (tmp_path / "map.html").read_bytes() == page.encode("utf-8")
    assert len(page) > 100 * 997 and "Töölö – 東京" in page


def test_build_and_write_map_take_the_parameters_of_the_page_parts() -> None:
    """``build_map`` and ``write_map`` (after its path) show the parameters of
    ``map_page_parts``, and refuse an unknown keyword before doing anything."""
    import inspect

    from twin.io.webmap import map_page_parts, write_map

    parts = inspect.signature(map_page_parts).parameters
    assert inspect.signature(build_map).parameters == parts
    written = list(inspect.signature(write_map).parameters.values())
    assert written[0].name == "path" and written[0].kind is inspect.Parameter.POSITIONAL_ONLY
    assert written[1:] == list(parts.values())
    b, g, s = _frames()
    with pytest.raises(TypeError, match="bandz"):
        build_map(b, g, s, bandz=BANDS, title="x")  # type: ignore[call-arg]


def test_json_in_parts_is_the_json_with_the_packed_arrays_as_parts() -> None:
    """The page's data in parts joins to :func:`json_for_script` of it, each packed
    array's base64 text a part of its own (the very string, not a copy)."""
    from twin.io.webmap import json_for_script, json_parts_for_script, packed_array

    x = packed_array(np.arange(1000, dtype=np.int32), "int32")
    value = {
        "title": "</script><!-- @deadbeef:0@ & \u2028",
        "grid": {"x": x, "bands": [{"cls": packed_array(np.arange(3) % 2, "int8")}]},
        "rings": [[1, 2, 3], [4, 5]],
        "nan": float("nan"),
        "not_packed": {"dtype": "int8", "b64": "AAAA", "extra": 1},
    }
    import gc

    gc.collect()
    gc.disable()
    try:  # no reference cycle keeps the text once the parts go (a closure calling
        # itself did), so the page's text leaves with the last reference to it
        dropped = json_parts_for_script(value)
        del dropped
        assert gc.collect() == 0
    finally:
        gc.enable()
    parts = json_parts_for_script(value)
    assert "".join(parts) == json_for_script(value)
    assert any(p is x["b64"] for p in parts) and len(parts) == 5
    assert "\\u003c/script\\u003e" in parts[0] and "</script>" not in "".join(parts)


def test_sites_with_null_azimuths_bands_and_building_show_none() -> None:
    """The sites layer (``sites_to_geodataframe``) holds null for an omni site on every
    band and on no building: the page gives no azimuths or bands line for it (null, not
    "" nor "nan" nor "<NA>"), and the sectored one's lists as written."""
    from dataclasses import replace

    from twin.sites import Site, sites_to_geodataframe

    omni = Site("P1", X0 + 50, Y0 + 30, 10.0, model="umi")
    roof = Site("R1", X0 + 80, Y0 + 60, 25.0, azimuths_deg=(0.0, 120.0), bands_ghz=(3.5,))
    sites = sites_to_geodataframe([omni, replace(roof, building_id=1)], UTM)
    assert sites["azimuths_deg"].isna().tolist() == [True, False]
    assert sites["bands_ghz"].isna().tolist() == [True, False]
    assert sites["building_id"].isna().tolist() == [True, False]
    b, g, _ = _frames()
    shown = _data(build_map(b, g, sites.to_crs(4326), bands=BANDS, title="t"))["sites"]
    assert [(s["site_id"], s["azimuths_deg"], s["bands_ghz"]) for s in shown] == [
        ("P1", None, None),
        ("R1", shown[1]["azimuths_deg"], "3.5"),
    ]
    assert shown[1]["azimuths_deg"].count(";") == 1  # two azimuths from true north


def test_flat_ground_keeps_the_map_at_zero() -> None:
    """Without ``ground_m`` nothing of the terrain enters the page: no ground of the
    buildings or the sites, no z of the grid, a site's z its antenna height."""
    data = _data(_build())
    assert "ground" not in data["buildings"] and "z" not in data["grid"]
    (site,) = data["sites"]
    assert "ground_m" not in site and site["position"][2] == 25.0


def test_on_terrain_each_thing_stands_on_its_ground() -> None:
    """With ``ground_m`` (buildings, sites, grid: a GeoDataFrame column or
    :attr:`MapPoints.ground_m`) the page carries each one's ground: the buildings' in
    cm, the grid's as one float32 per point, the sites' antenna at ground + height."""
    from twin.io.webmap import MapPoints

    b, g, s = _frames()
    b["ground_m"] = [12.3449, 101.0]
    g["ground_m"] = np.linspace(3.0, 150.0, len(g)) + 1e-3
    s["ground_m"] = [40.26]
    page = build_map(b, g, s, bands=BANDS, title="terrain")
    data = _data(page)
    assert data["buildings"]["ground"] == [12.34, 101.0]
    assert data["buildings"]["base"] == [0.0, 6.0]  # above the ground, as before
    z = _unpack(data["grid"]["z"])
    assert z.dtype == np.float32
    np.testing.assert_array_equal(z, g["ground_m"].to_numpy().astype(np.float32))
    assert "ground_m" not in str(sorted(data["grid"]["bands"]))  # not a metric column
    (site,) = data["sites"]
    assert site["ground_m"] == 40.26 and site["position"][2] == pytest.approx(65.3)
    # the same page from the arrays
    points = MapPoints.of(g)
    assert points.ground_m is not None and "ground_m" not in points.columns
    assert build_map(b, points, s, bands=BANDS, title="terrain") == page
    with pytest.raises(InputError, match="ground_m"):
        MapPoints(lon=points.lon, lat=points.lat, columns={}, ground_m=np.zeros(3))


# --- the terrain relief ------------------------------------------------------------------


@pytest.fixture(scope="module")
def monaco() -> Any:
    """Monaco on its SRTM3 tile (``scenarios/monaco-terrain.toml``), loaded as a study
    loads it: each building with its ``ground_m``."""
    from tests.conftest import ROOT
    from twin.sources.scenario_file import read_scenario
    from twin.study import load_scenario_city

    city = load_scenario_city(read_scenario(ROOT / "scenarios" / "monaco-terrain.toml"))
    assert city.terrain is not None
    return city


def _monaco_page(city: Any, spacing_m: float = 40.0) -> tuple[str, gpd.GeoDataFrame]:
    """The map of Monaco's buildings on their ground, a 40 m grid of outdoor points on
    the terrain over the buildings' extent and one site, with the city's terrain."""
    t = city.terrain
    minx, miny, maxx, maxy = city.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx, spacing_m), np.arange(miny, maxy, spacing_m))
    grid = gpd.GeoDataFrame(
        {
            "capacity_mbps_3p5": np.linspace(1.0, 900.0, xs.size),
            "ground_m": t.ground_m(xs, ys).ravel(),
        },
        geometry=shapely.points(xs.ravel(), ys.ravel()),
        crs=city.crs,
    )
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    sites = gpd.GeoDataFrame(
        {"site_id": ["M1"], "height_m": [25.0], "ground_m": [float(t.ground_m(cx, cy))]},
        geometry=[shapely.Point(cx, cy)],
        crs=city.crs,
    )
    buildings = city.buildings.to_crs(4326)
    page = build_map(buildings, grid.to_crs(4326), sites.to_crs(4326), bands=["3p5"],
                     title="Monaco", terrain=t)  # fmt: skip
    return page, buildings


def _relief_nodes(relief: dict[str, Any], origin: list[float], crs: Any) -> dict[str, np.ndarray]:
    """The relief's nodes of the page in the city CRS (x, y: rows x cols), their ground
    (float32) and each cell's cut, decoded as the page's script decodes them."""
    from pyproj import Transformer

    shape = (relief["rows"], relief["cols"])
    lon = origin[0] + _unpack(relief["x"]).astype(float) * 1e-6
    lat = origin[1] + _unpack(relief["y"]).astype(float) * 1e-6
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    cells = (shape[0] - 1, shape[1] - 1)
    return {
        "x": np.asarray(x).reshape(shape),
        "y": np.asarray(y).reshape(shape),
        "z": _unpack(relief["z"]).reshape(shape),
        "ne_sw": _unpack(relief["ne_sw"]).reshape(cells).astype(bool),
        "rgb": _unpack(relief["colors"]).reshape(-1, 3),
    }


def _relief_at(
    nodes: dict[str, np.ndarray], res_m: float, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """The ground of the page's relief at points of the city CRS: the plane of the
    triangle of the cell holding each point, the cell cut along the diagonal the page
    gives (before the page's offset)."""
    z = nodes["z"].astype(float)
    rows, cols = z.shape
    fc = np.clip((x - nodes["x"][0, 0]) / res_m, 0, cols - 1)
    fr = np.clip((nodes["y"][0, 0] - y) / res_m, 0, rows - 1)
    c = np.minimum(fc.astype(int), cols - 2)
    r = np.minimum(fr.astype(int), rows - 2)
    p, q = fc - c, fr - r
    z00, z01, z10, z11 = z[r, c], z[r, c + 1], z[r + 1, c], z[r + 1, c + 1]
    ne_sw = np.where(
        p + q <= 1,
        z00 + (z01 - z00) * p + (z10 - z00) * q,  # (NW, NE, SW)
        z11 + (z10 - z11) * (1 - p) + (z01 - z11) * (1 - q),  # (NE, SE, SW)
    )
    nw_se = np.where(
        p >= q,
        z00 + (z01 - z00) * p + (z11 - z01) * q,  # (NW, NE, SE)
        z00 + (z10 - z00) * q + (z11 - z10) * p,  # (NW, SE, SW)
    )
    return np.where(nodes["ne_sw"][r, c], ne_sw, nw_se)


def test_monaco_relief_is_the_terrain_s_nodes(monaco: Any) -> None:
    """On Monaco the page's relief is the DEM's nodes over the map's extent: each node
    where the terrain puts it, with the terrain's elevation (float32, the metres on the
    datum the buildings' ``ground_m`` are in), drawn 0.5 m below; a legend and a switch."""
    from twin.io.relief import RELIEF_OFFSET_M

    t = monaco.terrain
    page, _ = _monaco_page(monaco)
    data = _data(page)
    relief = data["relief"]
    assert relief["offset_m"] == RELIEF_OFFSET_M == 0.5
    assert relief["stride"] == 1 and relief["cells"] == relief["cells_full"]
    nodes = _relief_nodes(relief, data["origin"], t.crs)
    # each node on the terrain's lattice (1e-6 degree in the page: within 0.1 m)
    c = (nodes["x"] - t.x0_m) / t.res_m
    r = (t.y0_m - nodes["y"]) / t.res_m
    assert np.abs(c - np.rint(c)).max() * t.res_m < 0.1
    assert np.abs(r - np.rint(r)).max() * t.res_m < 0.1
    r, c = np.rint(r).astype(int), np.rint(c).astype(int)
    assert (np.diff(r, axis=0) == 1).all() and (np.diff(c, axis=1) == 1).all()
    # Monaco's 52 x 42 window lies within the map's extent: every node is drawn
    assert (relief["rows"], relief["cols"]) == t.shape == (52, 42)
    rng = np.random.default_rng(7)
    k = rng.choice(r.size, size=300, replace=False)
    want = t.elevation_m[r.ravel()[k], c.ravel()[k]].astype(np.float32)
    np.testing.assert_array_equal(nodes["z"].ravel()[k], want)
    assert nodes["z"].min() < 0.5 and nodes["z"].max() > 400  # the sea and the hill
    # the mesh covers every building
    bx = shapely.get_coordinates(monaco.buildings.geometry.values)
    assert nodes["x"].min() <= bx[:, 0].min() and bx[:, 0].max() <= nodes["x"].max()
    assert nodes["y"].min() <= bx[:, 1].min() and bx[:, 1].max() <= nodes["y"].max()
    # the sea (level nodes at 0 m) reads as sea level: the legend's first colour, unshaded
    from twin.io.styles import ELEVATION

    sea = ELEVATION.classes[0]
    level = (nodes["z"][:-1, :-1] == 0) & (nodes["z"][1:, 1:] == 0)
    level &= (nodes["z"][:-1, 1:] == 0) & (nodes["z"][1:, :-1] == 0)
    assert level.sum() > 100
    rgb = nodes["rgb"].reshape(*level.shape, 2, 3)
    assert (rgb[level] == sea.rgb).all()
    assert relief["legend"]["labels"][0] == sea.label == "< 0.5 m (sea level)"
    # the deck.gl layer, the switch and the legend
    layers = {layer["id"]: layer for layer in data["deck"]["layers"]}
    assert layers["relief"]["@@type"] == "SolidPolygonLayer"
    assert layers["relief"]["extruded"] is False and 0 < layers["relief"]["opacity"] < 1
    assert '<input type="checkbox" id="show-relief" checked>' in page
    assert 'id="legend-relief"' in page and 'id="relief-note"' in page
    assert "Decimated" not in page


def test_monaco_relief_meets_each_building_s_base(monaco: Any) -> None:
    """The relief uses the buildings' transform (metres on the DEM's datum, no
    exaggeration): at each building's lowest outline point (where its ``ground_m``
    comes from) the relief, plus its 0.5 m offset, is at the building's base in the
    page, or below it by no more than the cell's sag (|twist| / 4 between the bilinear
    surface and the cell's two triangles). Everywhere the relief is at or below the
    bilinear surface the squares stand on, so 0.5 m keeps it under them."""
    from tests.terrain_reference import bilinear

    t = monaco.terrain
    page, _ = _monaco_page(monaco)
    data = _data(page)
    nodes = _relief_nodes(data["relief"], data["origin"], t.crs)
    # on the terrain's lattice (checked above to 0.1 m: the page's 1e-6 degree)
    nodes["x"] = t.x0_m + np.rint((nodes["x"] - t.x0_m) / t.res_m) * t.res_m
    nodes["y"] = t.y0_m - np.rint((t.y0_m - nodes["y"]) / t.res_m) * t.res_m
    offset = data["relief"]["offset_m"]
    # the bilinear surface against the relief on random points
    rng = np.random.default_rng(3)
    x = rng.uniform(nodes["x"].min(), nodes["x"].max(), 20_000)
    y = rng.uniform(nodes["y"].min(), nodes["y"].max(), 20_000)
    under = bilinear(t, x, y) - _relief_at(nodes, t.res_m, x, y)
    assert under.min() > -1e-4  # float32 nodes
    z = t.elevation_m
    assert under.max() <= np.abs(z[:-1, :-1] - z[:-1, 1:] - z[1:, :-1] + z[1:, 1:]).max() / 4
    # each building's lowest outline point, sampled as the twin samples it
    parts, owner = shapely.get_parts(monaco.buildings.geometry.values, return_index=True)
    rings = shapely.segmentize(shapely.get_exterior_ring(parts), t.res_m / 4)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    ground = bilinear(t, xy[:, 0], xy[:, 1])
    order = np.lexsort((ground, owner[ring]))
    first = order[np.unique(owner[ring][order], return_index=True)[1]]  # lowest per building
    b_ground = np.array(data["buildings"]["ground"], dtype=float)  # the page's, in cm
    np.testing.assert_allclose(ground[first], b_ground, atol=0.005 + 1e-6)
    at = _relief_at(nodes, t.res_m, xy[first, 0], xy[first, 1]) - offset
    fc = ((xy[first, 0] - t.x0_m) / t.res_m).astype(int)
    fr = ((t.y0_m - xy[first, 1]) / t.res_m).astype(int)
    sag = np.abs(z[fr, fc] - z[fr, fc + 1] - z[fr + 1, fc] + z[fr + 1, fc + 1]) / 4
    gap = b_ground - at  # >= the offset: the relief never rises through a building's base
    assert gap.min() >= offset - 0.006 and (gap - offset <= sag + 0.006).all()
    assert np.median(gap - offset) < 0.5


def test_flat_ground_has_no_relief() -> None:
    """Without a terrain: no relief in the data, no layer, no switch, no legend; and a
    terrain that does not reach the map's extent draws none either."""
    from twin.city.terrain import Terrain

    for page in (
        _build(),
        _build(terrain=Terrain(np.zeros((3, 3)), 0.0, 3.0, 1.0, "EPSG:32635", "", "")),
    ):
        data = _data(page)
        assert "relief" not in data
        assert [layer["id"] for layer in data["deck"]["layers"]] == [
            "buildings",
            "grid",
            "masts",
            "sites",
        ]
        assert 'id="show-relief"' not in page and "legend-relief" not in page


def test_a_large_terrain_is_decimated_under_the_budget() -> None:
    """A 2401 x 2001-node terrain at 30 m (72 x 60 km, 4.8 million cells) under a map of
    its whole extent: every 16th node on each axis (the smallest step within
    :data:`RELIEF_MAX_CELLS`), the last row and column kept, each node the terrain's;
    the page says it is decimated and stays small."""
    from pyproj import Transformer

    from twin.city.terrain import Terrain
    from twin.io.relief import RELIEF_MAX_CELLS, relief_stride

    rows, cols, res = 2401, 2001, 30.0
    yy, xx = np.mgrid[0:rows, 0:cols]
    elevation = 400.0 + 350.0 * np.sin(xx / 170.0) * np.cos(yy / 230.0)
    x0, y0 = 350_000.0, 6_700_000.0
    t = Terrain(elevation, x0, y0, res, "EPSG:32635", "big.tif", "00" * 32)
    corners_x = np.array([x0, x0 + (cols - 1) * res, x0, x0 + (cols - 1) * res])
    corners_y = np.array([y0, y0, y0 - (rows - 1) * res, y0 - (rows - 1) * res])
    lon, lat = Transformer.from_crs(t.crs, 4326, always_xy=True).transform(corners_x, corners_y)
    from twin.io.webmap import MapPoints

    grid = MapPoints(
        lon=np.asarray(lon), lat=np.asarray(lat), columns={"capacity_mbps_3p5": np.ones(4)}
    )
    b, _, s = _frames()
    page = build_map(b.iloc[:0], grid, s.iloc[:0], bands=["3p5"], title="big", terrain=t)
    relief = _data(page)["relief"]
    full = (rows - 1) * (cols - 1)
    assert relief["cells_full"] == full and relief["max_cells"] == RELIEF_MAX_CELLS == 20_000
    stride = relief["stride"]
    n = lambda k: -(-(rows - 1) // k) * -(-(cols - 1) // k)  # noqa: E731
    assert n(stride) <= RELIEF_MAX_CELLS < n(stride - 1) and stride == 16
    assert relief["cells"] == n(stride) == (relief["rows"] - 1) * (relief["cols"] - 1)
    nodes = _relief_nodes(relief, _data(page)["origin"], t.crs)
    c = np.rint((nodes["x"][0] - x0) / res).astype(int)
    r = np.rint((y0 - nodes["y"][:, 0]) / res).astype(int)
    assert c.tolist() == [*range(0, cols - 1, stride), cols - 1]
    assert r.tolist() == [*range(0, rows - 1, stride), rows - 1]
    np.testing.assert_array_equal(nodes["z"], elevation[np.ix_(r, c)].astype(np.float32))
    note = re.search(r'<p class="note" id="relief-note">([^<]*)</p>', page)
    assert note and "Decimated: one node in 16 on each axis (480 m apart)" in note.group(1)
    assert "20,000" in note.group(1) and f"{full:,}" in note.group(1)
    assert len(json.dumps(relief)) < 600_000
    assert relief_stride(10, 10, 100) == 1 and relief_stride(10, 10, 99) == 2
    with pytest.raises(InputError, match="max_cells = 0"):
        relief_stride(10, 10, 0)
