"""Terrain: the bilinear node surface, the exact segment test, building ground, DEM reading.

Every check compares against an independent computation: a hand-written bilinear formula,
rasterio reading the original SRTM tile, dense sampling of segments and outlines.
The real data is the SRTM3 tile N43E007 (Monaco), read in EPSG:32632.
"""

from __future__ import annotations

import logging
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin

from tests.terrain_reference import bilinear
from twin.city.terrain import Terrain, building_ground_m, terrain_blocks
from twin.errors import InputError, SourceError
from twin.sources.terrain import read_terrain

TILE = Path(__file__).resolve().parents[1] / "data" / "N43E007.hgt.zip"
CRS = "EPSG:32632"
TO_UTM = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
TO_LONLAT = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def _monaco_bounds() -> tuple[float, float, float, float]:
    xs, ys = TO_UTM.transform([7.40, 7.44, 7.40, 7.44], [43.72, 43.72, 43.76, 43.76])
    return (min(xs), min(ys), max(xs), max(ys))


BOUNDS = _monaco_bounds()


@pytest.fixture(scope="module")
def monaco() -> Terrain:
    return read_terrain(TILE, crs=CRS, bounds_m=BOUNDS)


def bilinear_ref(t: Terrain, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Independent bilinear: weights of the 4 nodes around each point, one point at a time."""
    z = t.elevation_m
    rows, cols = z.shape
    out = np.empty(np.size(x))
    for n, (px, py) in enumerate(zip(np.ravel(x), np.ravel(y), strict=True)):
        fc = (px - t.x0_m) / t.res_m
        fr = (t.y0_m - py) / t.res_m
        c = min(int(fc), cols - 2)
        r = min(int(fr), rows - 2)
        wx = fc - c
        wy = fr - r
        out[n] = (
            (1 - wx) * (1 - wy) * z[r, c]
            + wx * (1 - wy) * z[r, c + 1]
            + (1 - wx) * wy * z[r + 1, c]
            + wx * wy * z[r + 1, c + 1]
        )
    return out


def sampled_clearance(t: Terrain, a: np.ndarray, b: np.ndarray, n: int = 20_000) -> float:
    """min over n + 1 samples of (segment height - ground) along a -> b."""
    s = np.linspace(0.0, 1.0, n + 1)
    p = a[None, :] + s[:, None] * (b - a)[None, :]
    return float(np.min(p[:, 2] - bilinear(t, p[:, 0], p[:, 1])))


def synth(z: list[list[float]], res: float = 10.0) -> Terrain:
    return Terrain(np.array(z, dtype=float), 0.0, 0.0, res, CRS, "", "")


def one(t: Terrain, a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """True when the segment a (tx) -> b (rx) keeps its line of sight."""
    los = np.ones((1, 1), dtype=bool)
    terrain_blocks(t, np.array([b], float), np.array([a], float), los)
    return bool(los[0, 0])


# --- the surface ---------------------------------------------------------------------


def test_read_grid_and_provenance(monaco: Terrain) -> None:
    minx, miny, maxx, maxy = monaco.bounds_m
    assert minx < BOUNDS[0] and miny < BOUNDS[1] and maxx > BOUNDS[2] and maxy > BOUNDS[3]
    # native SRTM3 spacing east-west at Monaco's latitude: 3" of longitude on the ellipsoid
    lat = np.radians(43.74)
    a, e2 = 6378137.0, 0.00669437999014
    ew = a * np.cos(lat) / np.sqrt(1 - e2 * np.sin(lat) ** 2) * np.radians(3 / 3600)
    assert monaco.res_m == pytest.approx(ew, rel=2e-3)
    assert monaco.crs == CRS and monaco.source_path == str(TILE)
    import hashlib

    assert monaco.source_sha256 == hashlib.sha256(TILE.read_bytes()).hexdigest()
    assert monaco.elevation_m.dtype == np.float64 and np.isfinite(monaco.elevation_m).all()


def test_ground_at_nodes_is_the_node_value(monaco: Terrain) -> None:
    rows, cols = monaco.elevation_m.shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    x = monaco.x0_m + c * monaco.res_m
    y = monaco.y0_m - r * monaco.res_m
    got = monaco.ground_m(x, y)
    assert got.shape == (rows, cols) and got.dtype == np.float64
    np.testing.assert_allclose(got, monaco.elevation_m, rtol=0, atol=1e-9)


def test_ground_matches_hand_bilinear(monaco: Terrain) -> None:
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = monaco.bounds_m
    x = rng.uniform(minx, maxx, 2000)
    y = rng.uniform(miny, maxy, 2000)
    np.testing.assert_allclose(monaco.ground_m(x, y), bilinear_ref(monaco, x, y), atol=1e-9)
    np.testing.assert_allclose(bilinear(monaco, x, y), bilinear_ref(monaco, x, y), atol=1e-9)
    # the extreme corners are inside (slack 1e-6 m), a point 1 cm out is not
    assert monaco.ground_m([minx, maxx], [maxy, miny]) == pytest.approx(
        [monaco.elevation_m[0, 0], monaco.elevation_m[-1, -1]]
    )
    with pytest.raises(InputError, match=r"1 of 2 points lie outside"):
        monaco.ground_m([minx - 0.01, minx], [miny, miny])


def test_surface_agrees_with_srtm(monaco: Terrain) -> None:
    """At SRTM cell centres the twin's ground lies within the range of the SRTM values near it.

    The node values are bilinear resamplings of the SRTM cells and the ground is bilinear
    between nodes, i.e. a convex combination of SRTM cells within about two cells of the
    point: so it must lie between the min and max of the 5 x 5 SRTM cells around it, and
    on typical (not cliff) ground stay within a few metres of the cell's own value.
    """
    rng = np.random.default_rng(2)
    with rasterio.open(f"/vsizip/{TILE}/N43E007.hgt") as src:
        minx, miny, maxx, maxy = BOUNDS
        lon0, lat0 = TO_LONLAT.transform(minx, miny)
        lon1, lat1 = TO_LONLAT.transform(maxx, maxy)
        r0, c0 = src.index(lon0, lat1)
        r1, c1 = src.index(lon1, lat0)
        dem = src.read(1).astype(float)
        rr = rng.integers(r0 + 3, r1 - 3, 400)
        cc = rng.integers(c0 + 3, c1 - 3, 400)
        # keep points with no void (-32768, filled by the reader) among their 5 x 5 cells
        clean = [
            (dem[r - 2 : r + 3, c - 2 : c + 3] > -1000).all() for r, c in zip(rr, cc, strict=True)
        ]
        rr, cc = rr[clean][:200], cc[clean][:200]
        assert rr.size == 200
        lon, lat = rasterio.transform.xy(src.transform, rr, cc)  # cell centres
        sampled = np.array([v[0] for v in src.sample(zip(lon, lat, strict=True))], float)
    np.testing.assert_array_equal(sampled, dem[rr, cc])
    x, y = TO_UTM.transform(lon, lat)
    got = monaco.ground_m(x, y)
    lo = np.array([dem[r - 2 : r + 3, c - 2 : c + 3].min() for r, c in zip(rr, cc, strict=True)])
    hi = np.array([dem[r - 2 : r + 3, c - 2 : c + 3].max() for r, c in zip(rr, cc, strict=True)])
    assert (got >= lo - 1e-6).all() and (got <= hi + 1e-6).all()
    assert np.median(np.abs(got - sampled)) < 5.0


def test_sea_level_and_heights(monaco: Terrain) -> None:
    # Port Hercule and the sea off Fontvieille: SRTM gives the sea about 0 m
    x, y = TO_UTM.transform([7.4245, 7.4300], [43.7345, 43.7250])
    assert (np.abs(monaco.ground_m(x, y)) < 5).all()
    # the shore of the area: its lowest nodes are at sea level (a few metres of noise)
    assert -10 < monaco.elevation_m.min() < 5
    assert (monaco.elevation_m < 5).mean() > 0.1  # a good part of the area is sea
    # the Tete de Chien above Cap-d'Ail (about 550 m) and the upper town (Moneghetti)
    x, y = TO_UTM.transform([7.4020, 7.4130], [43.7360, 43.7370])
    tete, upper = monaco.ground_m(x, y)
    assert 350 < tete < 700 and 100 < upper < 300
    assert 400 < monaco.elevation_m.max() < 1200  # Mont Agel, north of the area, is 1148 m


# --- the exact segment test ----------------------------------------------------------


def test_blocks_agree_with_dense_sampling_on_monaco(monaco: Terrain) -> None:
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = monaco.bounds_m
    agree = blocked = checked = 0
    for _ in range(12):
        # 700 m squares keep segments under 1 km: 20,000 samples are then <= 5 cm apart
        cx = rng.uniform(minx, maxx - 700)
        cy = rng.uniform(miny, maxy - 700)
        rx = np.c_[rng.uniform(cx, cx + 700, 16), rng.uniform(cy, cy + 700, 16), np.zeros(16)]
        tx = np.c_[rng.uniform(cx, cx + 700, 16), rng.uniform(cy, cy + 700, 16), np.zeros(16)]
        rx[:, 2] = bilinear(monaco, rx[:, 0], rx[:, 1]) + rng.uniform(0.0, 3.0, 16)
        tx[:, 2] = bilinear(monaco, tx[:, 0], tx[:, 1]) + rng.uniform(0.0, 10.0, 16)
        los = np.ones((16, 16), dtype=bool)
        los[0, 0] = False  # pairs already without LoS stay so
        terrain_blocks(monaco, rx, tx, los)
        assert not los[0, 0]
        for i in range(16):
            for k in range(16):
                if i == 0 and k == 0:
                    continue
                clear = sampled_clearance(monaco, tx[k], rx[i])
                if abs(clear) <= 0.05:
                    continue
                checked += 1
                blocked += clear < 0
                agree += los[i, k] == (clear > 0)
    assert agree == checked and checked > 2500
    assert 0.2 < blocked / checked < 0.8  # both outcomes well represented


def test_blocks_on_node_lines_agree_with_dense_sampling() -> None:
    """End points on a lattice of quarter cells: many on node lines, along them, vertical."""
    rng = np.random.default_rng(5)
    t = Terrain(rng.uniform(0, 20, (6, 7)), 100.0, 500.0, 10.0, CRS, "", "")
    n = 1000
    a = np.c_[100 + 2.5 * rng.integers(0, 25, n), 500 - 2.5 * rng.integers(0, 21, n), np.zeros(n)]
    b = np.c_[100 + 2.5 * rng.integers(0, 25, n), 500 - 2.5 * rng.integers(0, 21, n), np.zeros(n)]
    same_x = rng.random(n) < 0.3
    same_y = rng.random(n) < 0.3
    b[same_x, 0] = a[same_x, 0]
    b[same_y, 1] = a[same_y, 1]
    a[:, 2] = rng.uniform(0, 25, n)
    b[:, 2] = rng.uniform(0, 25, n)
    los = np.eye(n, dtype=bool)  # pair (i, i) is the segment a[i] -> b[i]
    terrain_blocks(t, b, a, los)
    assert not (los & ~np.eye(n, dtype=bool)).any()
    # samples <= 2 cm apart (segments < 80 m, slopes < 2: misses < 2 cm)
    clear = np.array([sampled_clearance(t, a[i], b[i], n=4000) for i in range(n)])
    sure = np.abs(clear) > 0.05
    assert sure.sum() > 900
    np.testing.assert_array_equal(np.diag(los)[sure], clear[sure] > 0)


def test_ridge_over_and_under() -> None:
    t = synth([[0, 50, 0], [0, 50, 0], [0, 50, 0]])  # a north-south ridge at x = 10
    assert one(t, (0, -10, 60), (20, -10, 60))
    assert not one(t, (0, -10, 30), (20, -10, 30))
    # diagonal across the ridge, 49 m at the crossing: blocked; 51 m: clear
    assert not one(t, (0, 0, 49), (20, -20, 49))
    assert one(t, (0, 0, 51), (20, -20, 51))


def test_touching_a_peak_does_not_block() -> None:
    t = synth([[0, 0, 0], [0, 50, 0], [0, 0, 0]])  # one peak at node (1, 1) = (10, -10)
    # along the node line y = -10, grazing the peak
    assert one(t, (0, -10, 50), (20, -10, 50))
    assert not one(t, (0, -10, 50 - 1e-3), (20, -10, 50 - 1e-3))
    # along the node line x = 10 (north-south)
    assert one(t, (10, 0, 50), (10, -20, 50))
    assert not one(t, (10, 0, 49.99), (10, -20, 49.99))
    # diagonal through the peak, and a sloped ray tangent at it
    assert one(t, (0, 0, 50), (20, -20, 50))
    assert one(t, (0, 0, 100), (10, -10, 50))
    # end points on node lines of the outer edge, segment along the boundary
    assert one(t, (0, 0, 0), (20, 0, 0))
    assert not one(t, (0, 0, -0.01), (20, 0, 0))


def test_vertical_and_zero_length_segments() -> None:
    t = synth([[50, 50], [50, 50]])
    assert not one(t, (5, -5, 10), (5, -5, 100))  # starts underground
    assert one(t, (5, -5, 60), (5, -5, 100))
    assert one(t, (5, -5, 50), (5, -5, 100))  # starts on the ground
    assert one(t, (10, -10, 70), (10, -10, 70))  # a point, at a corner node


def test_saddle_vertex_blocks() -> None:
    # one cell, a saddle: 0 at NW and SE, 10 at NE and SW; along the NW-SE diagonal the
    # ground is 20 s (1 - s), 5 m at the middle and 0 m at both corners
    t = synth([[0, 10], [10, 0]])
    assert not one(t, (0, 0, 4), (10, -10, 4))
    assert one(t, (0, 0, 5), (10, -10, 5))  # touches the vertex
    assert not one(t, (0, 0, 5 - 1e-4), (10, -10, 5 - 1e-4))
    # off the diagonal, a segment across the cell: vertex value from the formula
    a = np.array([2.0, 0.0, 0.0])
    b = np.array([10.0, -7.0, 0.0])
    s = np.linspace(0, 1, 200_001)
    p = a[None, :] + s[:, None] * (b - a)[None, :]
    peak = bilinear_ref(t, p[:, 0], p[:, 1]).max()
    corners = max(bilinear_ref(t, np.array([a[0], b[0]]), np.array([a[1], b[1]])))
    assert peak > corners + 1
    assert not one(t, (a[0], a[1], peak - 1e-3), (b[0], b[1], peak - 1e-3))
    assert one(t, (a[0], a[1], peak + 1e-3), (b[0], b[1], peak + 1e-3))


def test_blocks_checks_inputs() -> None:
    t = synth([[0, 0], [0, 0]])
    los = np.ones((1, 1), dtype=bool)
    with pytest.raises(InputError, match=r"1 of 2 points lie outside"):
        terrain_blocks(t, np.array([[5.0, -5, 1]]), np.array([[11.0, -5, 1]]), los)
    # a pair that is not tested is not checked
    los[:] = False
    terrain_blocks(t, np.array([[5.0, -5, 1]]), np.array([[11.0, -5, 1]]), los)
    with pytest.raises(InputError, match="C-contiguous"):
        terrain_blocks(t, np.zeros((2, 3)) + 1, np.zeros((2, 3)) + 1, np.ones((2, 2), bool).T[:, :])
    with pytest.raises(InputError, match="allowed: bool"):
        terrain_blocks(t, np.ones((1, 3)), np.ones((1, 3)), np.ones((1, 1), dtype=int))


# --- building ground -----------------------------------------------------------------


def test_building_ground_is_lowest_outline_point(monaco: Terrain) -> None:
    rng = np.random.default_rng(4)
    minx, miny, maxx, maxy = monaco.bounds_m
    geoms = []
    for _ in range(40):
        cx = rng.uniform(minx + 300, maxx - 300)
        cy = rng.uniform(miny + 300, maxy - 300)
        box = shapely.box(-rng.uniform(5, 120), -rng.uniform(5, 80), rng.uniform(5, 120), 30)
        geoms.append(
            shapely.affinity.translate(shapely.affinity.rotate(box, rng.uniform(0, 90)), cx, cy)
        )
    got = building_ground_m(monaco, geoms)
    # independent: each outline edge sampled at 2000 points
    ref = np.empty(len(geoms))
    for n, g in enumerate(geoms):
        xy = np.asarray(g.exterior.coords)
        s = np.linspace(0, 1, 2001)[:, None]
        pts = np.concatenate([xy[j] + s * (xy[j + 1] - xy[j]) for j in range(len(xy) - 1)])
        ref[n] = bilinear_ref(monaco, pts[:, 0], pts[:, 1]).min()
    # sampling every res/4 misses the true minimum by at most |grad| * res / 8
    z = monaco.elevation_m
    grad = np.hypot(np.abs(np.diff(z, axis=1)).max(), np.abs(np.diff(z, axis=0)).max())
    slack = grad / monaco.res_m * monaco.res_m / 8
    assert (got >= ref - 0.01).all() and (got <= ref + slack).all()
    assert np.median(got - ref) < 0.5
    # MultiPolygon: the min of its parts; a hole changes nothing
    multi = shapely.MultiPolygon([geoms[0], geoms[1]])
    holed = shapely.Polygon(
        geoms[2].exterior.coords, [shapely.affinity.scale(geoms[2], 0.5, 0.5).exterior.coords]
    )
    got2 = building_ground_m(monaco, [multi, holed])
    assert got2[0] == pytest.approx(min(got[0], got[1]))
    assert got2[1] == pytest.approx(got[2])
    with pytest.raises(InputError, match="not polygons"):
        building_ground_m(monaco, [shapely.Point(BOUNDS[0], BOUNDS[1])])


# --- reading -------------------------------------------------------------------------


def test_unzipped_hgt_reads_the_same(monaco: Terrain, tmp_path: Path) -> None:
    with zipfile.ZipFile(TILE) as zf:
        zf.extract("N43E007.hgt", tmp_path)
    t = read_terrain(tmp_path / "N43E007.hgt", crs=CRS, bounds_m=BOUNDS)
    np.testing.assert_array_equal(t.elevation_m, monaco.elevation_m)
    assert (t.x0_m, t.y0_m, t.res_m, t.voids_filled) == (
        monaco.x0_m,
        monaco.y0_m,
        monaco.res_m,
        monaco.voids_filled,
    )
    upper = tmp_path / "TILE.HGT.ZIP"
    shutil.copy(TILE, upper)
    t2 = read_terrain(upper, crs=CRS, bounds_m=BOUNDS)
    np.testing.assert_array_equal(t2.elevation_m, monaco.elevation_m)


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.hgt: no such file.*\.hgt\.zip"):
        read_terrain(tmp_path / "nope.hgt", crs=CRS, bounds_m=BOUNDS)
    wrong = tmp_path / "dem.png"
    wrong.write_bytes(b"x")
    with pytest.raises(SourceError, match=r"dem\.png: not a DEM file name; allowed: \.tif"):
        read_terrain(wrong, crs=CRS, bounds_m=BOUNDS)
    nocrs = tmp_path / "nocrs.tif"
    with rasterio.open(
        nocrs, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
        transform=from_origin(7.0, 44.0, 0.01, 0.01),
    ) as dst:  # fmt: skip
        dst.write(np.ones((1, 4, 4), np.float32))
    with pytest.raises(InputError, match=r"nocrs\.tif: the raster has no CRS"):
        read_terrain(nocrs, crs=CRS, bounds_m=BOUNDS)
    # Genoa (8.9 E) is outside the tile (7..8 E)
    xs, ys = TO_UTM.transform([8.90, 8.95], [44.40, 44.42])
    far = (min(xs), min(ys), max(xs), max(ys))
    with pytest.raises(InputError, match=r"covers lon 6\.99958\.\.8\.00042.*needs lon 8\.8"):
        read_terrain(TILE, crs=CRS, bounds_m=far)
    garbage = tmp_path / "bad.tif"
    garbage.write_bytes(b"not a tiff at all")
    with pytest.raises(SourceError, match=r"bad\.tif: not a readable DEM"):
        read_terrain(garbage, crs=CRS, bounds_m=BOUNDS)


def _srtm_as_geotiff(path: Path, void: np.ndarray | None = None, nodata: float = -9999.0) -> None:
    """The tile as a float32 GeoTIFF with nodata -9999 (the tile's own voids and ``void``)."""
    with rasterio.open(f"/vsizip/{TILE}/N43E007.hgt") as src:
        data = src.read(1).astype(np.float32)
        profile = {
            "driver": "GTiff",
            "width": src.width,
            "height": src.height,
            "count": 1,
            "dtype": "float32",
            "crs": src.crs,
            "transform": src.transform,
            "nodata": nodata,
        }
    data[data == -32768] = nodata
    if void is not None:
        data[void] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def test_voids_are_filled_and_counted(
    monaco: Terrain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clean = tmp_path / "clean.tif"
    _srtm_as_geotiff(clean)
    t_clean = read_terrain(clean, crs=CRS, bounds_m=BOUNDS)
    # the GeoTIFF copy reads as the tile does: same voids, same surface
    assert t_clean.voids_filled == monaco.voids_filled > 0
    np.testing.assert_allclose(t_clean.elevation_m, monaco.elevation_m, atol=1e-6)
    with rasterio.open(f"/vsizip/{TILE}/N43E007.hgt") as src:
        srtm = src.read(1)
        lon, lat = 7.4130, 43.7370  # Moneghetti, on land
        r, c = src.index(lon, lat)
    # punch a 3 x 3 block of voids there (none of the tile's own voids)
    void = np.zeros(srtm.shape, dtype=bool)
    void[r - 1 : r + 2, c - 1 : c + 2] = True
    assert (srtm[void] != -32768).all()
    holed = tmp_path / "holed.tif"
    _srtm_as_geotiff(holed, void)
    with caplog.at_level(logging.WARNING, logger="twin.sources.terrain"):
        t = read_terrain(holed, crs=CRS, bounds_m=BOUNDS)
    assert t.voids_filled == monaco.voids_filled + 9
    assert f"{t.voids_filled} void DEM cells filled" in caplog.text
    assert np.isfinite(t.elevation_m).all()
    # filled by interpolation from the edge: within the range of the ring around the hole
    ring = srtm[r - 2 : r + 3, c - 2 : c + 3].astype(float)
    ring_vals = ring[~void[r - 2 : r + 3, c - 2 : c + 3]]
    x, y = TO_UTM.transform(lon, lat)
    assert ring_vals.min() - 1e-6 <= float(t.ground_m(x, y)) <= ring_vals.max() + 1e-6
    # only nodes near the hole changed
    rows, cols = np.nonzero(np.abs(t.elevation_m - t_clean.elevation_m) > 1e-9)
    assert rows.size > 0
    dist = np.hypot(t.x0_m + cols * t.res_m - x, t.y0_m - rows * t.res_m - y)
    assert dist.max() < 400


def test_all_voids_is_an_error(tmp_path: Path) -> None:
    allvoid = tmp_path / "void.tif"
    _srtm_as_geotiff(allvoid, np.ones((1201, 1201), dtype=bool))
    with pytest.raises(InputError, match=r"void\.tif: all \d+ DEM cells .* are voids"):
        read_terrain(allvoid, crs=CRS, bounds_m=BOUNDS)


def test_a_dem_not_in_metres_is_refused(monaco: Terrain, tmp_path: Path) -> None:
    """A DEM whose band says its elevations are in feet (a US NED tile), or scaled, would
    be read as metres: refused with the unit named; the same file in metres reads as the
    tile does."""
    feet = tmp_path / "feet.tif"
    _srtm_as_geotiff(feet)
    with rasterio.open(feet, "r+") as ds:
        ds.units = ("ft",)
    with pytest.raises(InputError, match=r"feet\.tif: elevations in 'ft'; allowed: metres"):
        read_terrain(feet, crs=CRS, bounds_m=BOUNDS)
    scaled = tmp_path / "scaled.tif"
    _srtm_as_geotiff(scaled)
    with rasterio.open(scaled, "r+") as ds:
        ds.scales = (0.1,)
    with pytest.raises(InputError, match=r"scaled\.tif: elevations in 'metres' scaled by 0\.1"):
        read_terrain(scaled, crs=CRS, bounds_m=BOUNDS)
    metres = tmp_path / "metres.tif"
    _srtm_as_geotiff(metres)
    with rasterio.open(metres, "r+") as ds:
        ds.units = ("metre",)
    t = read_terrain(metres, crs=CRS, bounds_m=BOUNDS)
    np.testing.assert_allclose(t.elevation_m, monaco.elevation_m, atol=1e-6)


def test_a_wider_read_keeps_the_nodes_of_the_default_one(monaco: Terrain) -> None:
    """Any margin is rounded up to whole node spacings, so a wider read (``twin dsm
    --terrain`` at coarse cells) puts its nodes on the same lattice as a run's read and
    gives them the same elevations (to the centimetres of the larger window's
    resampling), instead of a surface shifted by a fraction of a node."""
    wide = read_terrain(TILE, crs=CRS, bounds_m=BOUNDS, margin_m=333.3)
    assert wide.res_m == monaco.res_m
    k = (monaco.x0_m - wide.x0_m) / monaco.res_m
    r = (wide.y0_m - monaco.y0_m) / monaco.res_m
    assert k == pytest.approx(round(k), abs=1e-6) and r == pytest.approx(round(r), abs=1e-6)
    assert round(k) * monaco.res_m >= 333.3 - 2 * monaco.res_m
    rows, cols = monaco.elevation_m.shape
    sub = wide.elevation_m[round(r) : round(r) + rows, round(k) : round(k) + cols]
    np.testing.assert_allclose(sub, monaco.elevation_m, atol=0.1)
