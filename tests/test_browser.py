"""The web map in a real headless Chromium, on the real Helsinki extract.

The buildings come from ``data/helsinki.osm.pbf`` through :func:`twin.city.load_city`; the
grid metric is a simple function of the distance to three sites (this test checks the
map, not the radio model). One building is renamed ``<img src=x onerror=alert(1)>`` to
check that OSM strings are shown as text and never run.

Skipped only when no ``chromium`` binary is installed (``apt-get install chromium``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely

from twin import OSM_ATTRIBUTION
from twin.io.styles import CAPACITY, SHARE
from twin.io.webmap import build_map

try:  # tests/ is a package when the lead's tests/__init__.py is there
    from tests.browser import Chromium, find_chromium
except ImportError:  # pragma: no cover - run as loose test files
    from browser import Chromium, find_chromium  # type: ignore[no-redef]

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium binary; install Debian's with `apt-get install chromium`",
    ),
]

XSS = "<img src=x onerror=alert(1)>"
BANDS = ["0p7", "3p5", "28"]
BACKGROUND = np.array([236, 234, 228])  # body background of the page (#eceae4)


@dataclass
class MapPage:
    path: Path
    browser: Chromium
    xss_building: int  # row of the building named XSS
    title: str


def _map_inputs(city: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Buildings, a 10 m grid with capacity per band and three sites, in lon/lat."""
    b = city.buildings.copy().reset_index()
    big = int(b.geometry.area.to_numpy().argmax())
    b.loc[big, "name"] = XSS
    minx, miny, maxx, maxy = city.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx, 10.0), np.arange(miny, maxy, 10.0))
    pts = shapely.points(xs.ravel(), ys.ravel())
    grid = gpd.GeoDataFrame(geometry=pts, crs=city.crs)
    pt_idx, b_idx = shapely.STRtree(b.geometry.values).query(pts, predicate="within")
    owner = np.full(len(grid), -1)
    owner[pt_idx] = b_idx
    grid["indoor"] = owner >= 0
    sites_xy = np.array(
        [
            (minx + 0.3 * (maxx - minx), miny + 0.3 * (maxy - miny)),
            (minx + 0.7 * (maxx - minx), miny + 0.5 * (maxy - miny)),
            (minx + 0.4 * (maxx - minx), miny + 0.8 * (maxy - miny)),
        ]
    )
    d = np.min(np.hypot(xs.ravel()[:, None] - sites_xy[:, 0], ys.ravel()[:, None] - sites_xy[:, 1]),
               axis=1)  # fmt: skip
    # peak capacity and decay length per band: wide and slow at 0.7 GHz, short and fast at 28
    for band, (top, scale) in zip(BANDS, [(150.0, 300.0), (900.0, 250.0), (4000.0, 90.0)],
                                  strict=True):  # fmt: skip
        cap = top * np.exp(-d / scale) * np.where(grid["indoor"], 0.25, 1.0)
        grid[f"capacity_mbps_{band}"] = cap.astype(np.float32)
        inside = owner >= 0
        good = np.bincount(owner[inside], weights=cap[inside] >= 10.0, minlength=len(b))
        count = np.bincount(owner[inside], minlength=len(b)).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            b[f"indoor_covered_{band}"] = np.where(count > 0, good / count, np.nan)
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["HEL-1", "HEL-2", "HEL-3" + XSS],
            "height_m": [25.0, 30.0, 22.0],
            "model": ["uma", "uma", "umi"],
            "bands_ghz": ["0.7;3.5;28"] * 3,
            "power_dbm": [46.0, 46.0, 40.0],
        },
        geometry=shapely.points(sites_xy),
        crs=city.crs,
    )
    return b.to_crs(4326), grid.to_crs(4326), sites.to_crs(4326)


#: the note under the grid's legend (markup in it must show as text)
GRID_NOTE = "Grid drawn by a sample <b>of 1 in 4</b> & more"


@pytest.fixture(scope="module")
def map_page(helsinki_city: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapPage]:
    """The map built from Helsinki, loaded and rendered once in one Chromium."""
    assert CHROMIUM is not None
    buildings, grid, sites = _map_inputs(helsinki_city)
    title = "Helsinki <script>alert(3)</script> & co"
    page = build_map(
        buildings, grid, sites, bands=BANDS, building_coverage_col="indoor_covered_{band}",
        title=title, attribution=OSM_ATTRIBUTION, provenance={"scenario": "browser test"},
        grid_note=GRID_NOTE,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("webmap") / "map.html"
    path.write_text(page, encoding="utf-8")
    xss_row = int(np.flatnonzero(buildings["name"].to_numpy() == XSS)[0])
    with Chromium(CHROMIUM, width=1200, height=800) as browser:
        browser.open_page()
        browser.navigate(path.as_uri())
        browser.wait_for("document.documentElement.getAttribute('data-twin-rendered')")
        yield MapPage(path, browser, xss_row, title)


def _image(png: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(png) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def _map_pixels(page: MapPage, img: np.ndarray) -> np.ndarray:
    """Pixels of the map itself: the panel and the attribution box cut out."""
    boxes = page.browser.evaluate(
        "['panel', 'attribution'].map(function (id) {"
        " var r = document.getElementById(id).getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })"
    )
    keep = np.ones(img.shape[:2], dtype=bool)
    for left, top, right, bottom in boxes:
        keep[int(top) : int(np.ceil(bottom)) + 1, int(left) : int(np.ceil(right)) + 1] = False
    return img[keep]


def _near(pixels: np.ndarray, rgb: tuple[int, int, int], tol: int) -> int:
    return int((np.abs(pixels - np.array(rgb)).max(axis=1) <= tol).sum())


def test_map_renders_buildings_grid_and_legend(map_page: MapPage, tmp_path: Path) -> None:
    png = map_page.browser.screenshot(tmp_path / "map.png")
    img = _image(png)
    assert img.shape == (800, 1200, 3)
    px = _map_pixels(map_page, img)
    drawn = np.abs(px - BACKGROUND).max(axis=1) > 10
    assert drawn.mean() > 0.3, f"only {drawn.mean():.0%} of the map area is drawn ({png})"
    # the grid is unlit: its squares carry the exact colours of the capacity classes
    grid_classes = [c for c in CAPACITY.classes if _near(px, c.rgb, 2) > 300]
    assert len(grid_classes) >= 4, f"grid colours seen: {[c.label for c in grid_classes]}"
    # buildings are lit (walls darker than roofs): look for their hue, not the exact colour
    building_classes = [c for c in SHARE.classes if _near(px, c.rgb, 40) > 200]
    assert len(building_classes) >= 2, f"building colours seen: {building_classes}"
    colours = {tuple(p) for p in px[drawn][::7]}
    assert len(colours) > 50  # shading of extruded walls and roofs
    # the legend shows every class swatch
    swatches = map_page.browser.evaluate("document.querySelectorAll('#legend-grid .sw').length")
    assert swatches == len(CAPACITY.classes)


def test_no_errors_no_requests_no_dialogs(map_page: MapPage) -> None:
    b = map_page.browser
    assert b.errors() == []
    assert b.dialogs() == []
    assert b.evaluate("document.getElementById('twin-errors').children.length") == 0
    assert b.evaluate("document.documentElement.getAttribute('data-twin-errors')") is None
    others = [u for u in b.requests() if not u.startswith(("file:", "data:", "blob:"))]
    assert others == [], f"the offline page made network requests: {others}"
    assert b.evaluate("document.title") == map_page.title  # shown as text, not run
    assert OSM_ATTRIBUTION in b.evaluate("document.getElementById('attribution').innerText")


def test_tooltip_shows_osm_name_as_text(map_page: MapPage) -> None:
    b = map_page.browser
    # screen position of the roof of the building named XSS
    x, y = b.evaluate(
        f"""(function () {{
          var m = window.twinMap, i = {map_page.xss_building}, best = null, area = -1;
          m.parts.forEach(function (p) {{
            if (p.i !== i) {{ return; }}
            var r = p.polygon[0], a = 0;
            for (var k = 0; k < r.length; k++) {{
              var q = r[(k + 1) % r.length]; a += r[k][0] * q[1] - q[0] * r[k][1];
            }}
            if (Math.abs(a) > area) {{ area = Math.abs(a); best = p; }}
          }});
          var ring = best.polygon[0], sx = 0, sy = 0;
          ring.forEach(function (p) {{ sx += p[0]; sy += p[1]; }});
          var vp = m.deck.getViewports()[0];
          return vp.project([sx / ring.length, sy / ring.length,
                             m.data.buildings.height[i]]).slice(0, 2);
        }})()"""
    )
    picked = b.evaluate(f"window.twinMap.deck.pickObject({{x: {x}, y: {y}}}).layer.id")
    assert picked == "buildings"
    b.mouse_move(x, y)
    tip = b.wait_for(
        "(function () { var t = document.querySelector('.deck-tooltip');"
        " return t && t.style.display !== 'none' && t.innerText ?"
        " [t.innerText, t.querySelectorAll('*').length] : null; })()",
        timeout=20,
    )
    text, elements = tip
    assert XSS in text.splitlines()[0]
    assert "Indoor coverage" in text and "height:" in text
    assert elements <= text.count("\n")  # only the <br> of the line breaks, no <img>
    assert b.dialogs() == [] and b.errors() == []
    assert b.evaluate("document.querySelectorAll('img').length") == 0
    b.mouse_move(2, 790)


def test_band_switch(map_page: MapPage, tmp_path: Path) -> None:
    b = map_page.browser
    visible = "window.twinMap.deck.props.layers.filter(l => l.props.visible).map(l => l.id)"
    assert "grid-0p7" in b.evaluate(visible) and "grid-28" not in b.evaluate(visible)
    before = _map_pixels(map_page, _image(b.screenshot(tmp_path / "0p7.png")))
    x, y = b.evaluate(
        "(function () { var r = document.querySelector('input[value=\"28\"]')"
        ".getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()"
    )
    b.click(x, y)
    b.wait_for("document.documentElement.getAttribute('data-twin-band') === '28'", timeout=20)
    layers = b.evaluate(visible)
    assert "grid-28" in layers and not any(i in layers for i in ("grid-0p7", "grid-3p5"))
    assert b.evaluate("document.querySelector('#legend-grid .lb').textContent") == ", 28 GHz"
    b.evaluate("new Promise(function (r) { setTimeout(r, 1500); })")
    after = _map_pixels(map_page, _image(b.screenshot(tmp_path / "28.png")))
    changed = np.abs(after - before).max(axis=1) > 10
    assert changed.mean() > 0.03, f"the map barely changed ({changed.mean():.1%})"
    top = CAPACITY.classes[-1].rgb  # > 2000 Mbps: only at 28 GHz near the sites
    assert _near(before, top, 2) == 0 and _near(after, top, 2) > 300
    assert b.errors() == [] and b.dialogs() == []


def test_grid_tooltip_shows_the_value_from_the_packed_columns(
    map_page: MapPage, helsinki_city: Any
) -> None:
    """The page decodes the grid's packed columns: the tooltip of an outdoor grid square
    shows its capacity as given to build_map, rounded to the legend's decimals."""
    _, grid, _ = _map_inputs(helsinki_city)
    b = map_page.browser
    band = b.evaluate("document.documentElement.getAttribute('data-twin-band')")
    # the screen position of an outdoor point where the band's grid layer is on top
    found = b.evaluate(
        """(function (band) {
          var m = window.twinMap, G = m.data.grid, S = m.data.scale, o = m.data.origin;
          var vp = m.deck.getViewports()[0];
          var tries = 0;
          for (var k = 0; k < G.x.length && tries < 40; k += 97) {
            if (G.indoor[k] || !(G.bands[band].cls[k] >= 0)) { continue; }
            var p = vp.project([o[0] + G.x[k] * S, o[1] + G.y[k] * S, 0]);
            if (p[0] < 50 || p[1] < 50 || p[0] > 1000 || p[1] > 750) { continue; }
            tries += 1;  // each pick draws the picking buffer
            var hit = m.deck.pickObject({x: p[0], y: p[1]});
            if (hit && hit.layer.id === "grid-" + band) { return [k, p[0], p[1]]; }
          }
          return tries;
        })("""
        + json.dumps(band)
        + ")"
    )
    assert isinstance(found, list), f"no outdoor grid square on top in {found} tries"
    k, x, y = found
    b.mouse_move(x, y)
    tip = b.wait_for(
        "(function () { var t = document.querySelector('.deck-tooltip');"
        " return t && t.style.display !== 'none' && t.innerText.indexOf('GHz') >= 0 ?"
        " t.innerText : null; })()",
        timeout=20,
    )
    value = round(float(grid[f"capacity_mbps_{band}"].iloc[k]), CAPACITY.decimals)
    ghz = band.replace("p", ".")
    line = f"Capacity, {ghz} GHz: {value:.{CAPACITY.decimals}f} Mbps"
    assert tip.splitlines() == [line, "outdoor"]
    assert b.errors() == [] and b.dialogs() == []
    b.mouse_move(2, 790)


def test_the_grid_note_shows_as_text_in_the_panel(map_page: MapPage) -> None:
    got = map_page.browser.evaluate(
        "(function () { var n = document.getElementById('grid-note');"
        " return [n.innerText, n.children.length, n.closest('#panel') !== null,"
        " n.getBoundingClientRect().height > 0]; })()"
    )
    assert got == [GRID_NOTE, 0, True, True]


def test_flat_ground_draws_everything_from_zero(map_page: MapPage) -> None:
    """A city without terrain: the grid squares deck.gl draws lie at z 0, each building
    from its ``min_height_m`` (0 but for raised parts), the masts from 0; no relief."""
    grid_z, base_ok, mast_z = map_page.browser.evaluate(
        """(function () {
          var m = window.twinMap, B = m.data.buildings;
          var g = m.deck.layerManager.getLayers().filter(function (l) {
            return l.id === 'grid-0p7'; })[0];
          var pos = g.getAttributeManager().attributes.instancePositions.value, z = [];
          for (var k = 0; k < g.getNumInstances(); k++) { z.push(pos[3 * k + 2]); }
          var base = m.parts.every(function (p) {
            return p.polygon.every(function (r) { return r.every(function (q) {
              return (q.length > 2 ? q[2] : 0) === (B.base[p.i] || 0); }); }); });
          var masts = m.deck.props.layers.filter(function (l) { return l.id === 'masts'; })[0];
          return [z, base, m.data.sites.map(function (s) {
            return masts.props.getSourcePosition(s)[2]; })];
        })()"""
    )
    assert len(grid_z) > 100 and set(grid_z) == {0}
    assert base_ok and mast_z == [0, 0, 0]
    # no terrain, no relief: no layer, no switch
    b = map_page.browser
    assert b.evaluate("document.getElementById('show-relief')") is None
    assert b.evaluate("document.documentElement.getAttribute('data-twin-relief')") is None
    ids = b.evaluate("window.twinMap.deck.props.layers.map(l => l.id)")
    assert "relief" not in ids and {"buildings", "masts", "sites"} <= set(ids)


@pytest.fixture(scope="module")
def monaco_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ``twin run`` of Monaco on its SRTM3 tile (80 m grid)."""
    from click.testing import CliRunner

    from twin.cli.main import cli

    root = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("monaco") / "run"
    res = CliRunner().invoke(
        cli,
        ["-q", "run", str(root / "scenarios" / "monaco-terrain.toml"), "--spacing", "80",
         "--no-progress", "--out", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return out


def test_monaco_on_terrain_stands_on_its_ground(monaco_run: Path) -> None:
    """``twin run`` of Monaco on its SRTM3 tile (80 m grid): in the page Chromium renders,
    each building is extruded from its ``ground_m`` of buildings.geojson to ground +
    ``height_m``, each grid square deck.gl draws lies at the ``ground_m`` of its receiver
    in grid.gpkg (float32) and each site at ground + antenna height, its mast from the
    ground; and the page renders with no error or request."""
    from pyproj import Transformer

    assert CHROMIUM is not None
    out = monaco_run
    buildings = gpd.read_file(out / "buildings.geojson")
    grid = gpd.read_file(out / "grid.gpkg", layer="grid")
    sites = gpd.read_file(out / "sites.geojson")
    with Chromium(CHROMIUM, width=1200, height=800) as b:
        b.open_page()
        b.navigate((out / "map.html").as_uri())
        b.wait_for("document.documentElement.getAttribute('data-twin-rendered')")
        assert b.errors() == [] and b.dialogs() == []
        assert b.evaluate("document.getElementById('twin-errors').children.length") == 0
        others = [u for u in b.requests() if not u.startswith(("file:", "data:", "blob:"))]
        assert others == []
        got = b.evaluate(
            """(function () {
              var m = window.twinMap, B = m.data.buildings, layers = {};
              m.deck.layerManager.getLayers().forEach(function (l) { layers[l.id] = l; });
              var g = layers['grid-0p7'];
              var pos = g.getAttributeManager().attributes.instancePositions.value, drawn = [];
              for (var k = 0; k < g.getNumInstances(); k++) {
                drawn.push([g.props.data[k], pos[3 * k], pos[3 * k + 1], pos[3 * k + 2]]);
              }
              var parts = m.parts.map(function (p) {
                var zs = [];
                p.polygon.forEach(function (r) { r.forEach(function (q) {
                  zs.push(q.length > 2 ? q[2] : 0); }); });
                return [B.id[p.i], Math.min.apply(null, zs), Math.max.apply(null, zs),
                        p.elevation];
              });
              var masts = m.deck.props.layers.filter(function (l) { return l.id === 'masts'; })[0];
              var sites = m.data.sites.map(function (s) {
                return [s.site_id, s.position[2], masts.props.getSourcePosition(s)[2]]; });
              return { drawn: drawn, n: m.data.grid.x.length, parts: parts, sites: sites };
            })()"""
        )
    # buildings: the base of every part at its building's ground, the roof at + height
    by_id = buildings.set_index(buildings["building_id"].astype(str))
    parts = got["parts"]
    assert len(parts) >= len(buildings)
    ground = by_id.loc[[p[0] for p in parts], "ground_m"].to_numpy(dtype=float)
    height = by_id.loc[[p[0] for p in parts], "height_m"].to_numpy(dtype=float)
    raised = by_id.loc[[p[0] for p in parts], "min_height_m"].to_numpy(dtype=float)
    raised = np.nan_to_num(raised, nan=0.0)  # a raised part starts above its ground
    low = np.array([p[1] for p in parts])
    np.testing.assert_allclose(low, ground + raised, atol=0.055)  # cm and dm in the page
    np.testing.assert_allclose(low[raised == 0], ground[raised == 0], atol=0.005 + 1e-9)
    np.testing.assert_array_equal(low, [p[2] for p in parts])  # one base per part
    np.testing.assert_allclose(low + [p[3] for p in parts], ground + height, atol=0.06)
    assert ground.max() > 100  # the hill
    # the grid: each drawn square at its receiver's ground (grid.gpkg), in float32
    regular = grid[grid["kind"] == "grid"].reset_index(drop=True)
    assert got["n"] == len(regular) and len(got["drawn"]) == len(regular)
    drawn = np.array(got["drawn"])
    k = drawn[:, 0].astype(int)
    lon, lat = Transformer.from_crs(grid.crs, 4326, always_xy=True).transform(
        regular.geometry.x.to_numpy()[k], regular.geometry.y.to_numpy()[k]
    )
    np.testing.assert_allclose(drawn[:, 1], lon, atol=1.1e-6)  # the same points
    np.testing.assert_allclose(drawn[:, 2], lat, atol=1.1e-6)
    want = regular["ground_m"].to_numpy(dtype=float)[k].astype(np.float32)
    np.testing.assert_array_equal(drawn[:, 3].astype(np.float32), want)
    assert drawn[:, 3].max() > 100 and drawn[:, 3].min() < 10
    # sites: at ground + antenna height, the mast from the ground
    s = sites.set_index("site_id")
    site_ids = [x[0] for x in got["sites"]]
    assert sorted(site_ids) == sorted(s.index)
    top = (s.loc[site_ids, "ground_m"] + s.loc[site_ids, "height_m"]).to_numpy(dtype=float)
    np.testing.assert_allclose([x[1] for x in got["sites"]], top, atol=0.06)
    np.testing.assert_allclose(
        [x[2] for x in got["sites"]], s.loc[site_ids, "ground_m"].to_numpy(float), atol=0.005
    )


def test_monaco_relief_draws_the_terrain_and_hides(monaco_run: Path, tmp_path: Path) -> None:
    """The relief of Monaco's page in Chromium: deck.gl draws the page's triangles (the
    cells cut as :func:`twin.io.relief.relief_triangles` cuts them, each with its colour)
    at the nodes' ground less 0.5 m; the sea reads as sea level (light blue); the switch
    hides it and shows it again, and the rendered pixels change and come back."""
    import base64

    from twin.io.relief import relief_triangles

    assert CHROMIUM is not None
    with Chromium(CHROMIUM, width=1200, height=800) as b:
        b.open_page()
        b.navigate((monaco_run / "map.html").as_uri())
        b.wait_for("document.documentElement.getAttribute('data-twin-rendered')")
        assert b.evaluate("document.documentElement.getAttribute('data-twin-relief')") == "on"
        got = b.evaluate(
            """(function () {
              var m = window.twinMap, R = m.data.relief;
              var l = m.deck.layerManager.getLayers().filter(function (l) {
                return l.id === 'relief'; })[0];
              // the attributes' buffers may be longer than the vertices they hold
              var a = l.getAttributeManager().attributes, nv = l.getNumInstances();
              return { visible: l.props.visible, pickable: l.props.pickable,
                       opacity: l.props.opacity, n: l.props.data.length,
                       pos: Array.from(a.vertexPositions.value.subarray(0, 3 * nv)),
                       rgba: Array.from(a.fillColors.value.subarray(0, 4 * nv)),
                       relief: { rows: R.rows, cols: R.cols, x: R.x, y: R.y, z: R.z,
                                 ne_sw: R.ne_sw, colors: R.colors, offset_m: R.offset_m },
                       origin: m.data.origin, scale: m.data.scale };
            })()"""
        )
        assert got["visible"] and not got["pickable"] and 0 < got["opacity"] < 1

        def unpack(p: dict[str, str]) -> np.ndarray:
            return np.frombuffer(base64.b64decode(p["b64"]), dtype=np.dtype(p["dtype"]))

        r = got["relief"]
        tri = relief_triangles(r["rows"], r["cols"], unpack(r["ne_sw"]).astype(bool))
        assert got["n"] == len(tri) == 2 * (r["rows"] - 1) * (r["cols"] - 1)
        # each triangle drawn as its three nodes (and the first again, closing the ring)
        pos = np.array(got["pos"]).reshape(len(tri), 4, 3)
        lon = got["origin"][0] + unpack(r["x"]) * got["scale"]
        lat = got["origin"][1] + unpack(r["y"]) * got["scale"]
        z = unpack(r["z"]).astype(float) - r["offset_m"]
        np.testing.assert_allclose(pos[:, :3, 0], lon[tri], atol=1e-9)
        np.testing.assert_allclose(pos[:, :3, 1], lat[tri], atol=1e-9)
        np.testing.assert_array_equal(pos[:, :3, 2], z[tri])  # 0.5 m below the ground
        np.testing.assert_array_equal(pos[:, 3], pos[:, 0])
        rgba = np.array(got["rgba"]).reshape(len(tri), 4, 4)
        assert (rgba[:, :, :3] == unpack(r["colors"]).reshape(-1, 1, 3)).all()
        assert b.errors() == [] and b.dialogs() == []

        def shot(name: str) -> np.ndarray:
            b.evaluate("new Promise(function (r) { setTimeout(r, 1500); })")
            img = _image(b.screenshot(tmp_path / f"{name}.png"))
            boxes = b.evaluate(
                "['panel', 'attribution'].map(function (id) {"
                " var r = document.getElementById(id).getBoundingClientRect();"
                " return [r.left, r.top, r.right, r.bottom]; })"
            )
            keep = np.ones(img.shape[:2], dtype=bool)
            for left, top, right, bottom in boxes:
                keep[int(top) : int(np.ceil(bottom)) + 1, int(left) : int(np.ceil(right)) + 1] = 0
            return img[keep]

        def sea(px: np.ndarray) -> int:  # light blue: the sea level class through the relief
            return int(((px[:, 0] > 150) & (px[:, 2] - px[:, 0] > 30)).sum())

        def toggle(state: str) -> None:
            x, y = b.evaluate(
                "(function () { var r = document.getElementById('show-relief')"
                ".getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()"
            )
            b.click(x, y)
            b.wait_for(
                f"document.documentElement.getAttribute('data-twin-relief') === '{state}'",
                timeout=20,
            )

        on = shot("relief-on")
        toggle("off")
        assert b.evaluate("document.getElementById('show-relief').checked") is False
        visible = "window.twinMap.deck.props.layers.filter(l => l.props.visible).map(l => l.id)"
        assert "relief" not in b.evaluate(visible)
        off = shot("relief-off")
        toggle("on")
        again = shot("relief-again")
        changed = np.abs(on - off).max(axis=1) > 10
        assert changed.mean() > 0.1, f"the relief changed {changed.mean():.1%} of the map"
        assert sea(on) > 20_000 and sea(off) < sea(on) / 20, (sea(on), sea(off))
        same = np.abs(again - on).max(axis=1) <= 2
        assert same.mean() > 0.99, f"shown again, {1 - same.mean():.1%} of the map differs"
        assert b.errors() == [] and b.dialogs() == []
