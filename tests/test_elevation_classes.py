"""The ground's hypsometric classes fitted to its range (``twin.io.styles.elevation_ramp``)
on Monaco's SRTM3 tile read by the twin's terrain reader: the city and its hills, a low
slice of it (ground from 1.5 to 52 m, as low as Helsinki's), the harbour crossing sea
level, the open sea (flat ground at 0 m); each class's colour taken from
``styles.ELEVATION``'s tints, in their order."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from tests.qml_check import read_qml
from tests.test_webmap import _data, _frames
from twin.city.terrain import Terrain
from twin.errors import InputError
from twin.io.styles import (
    ELEVATION,
    SEA_LEVEL_M,
    elevation_breaks_m,
    elevation_ramp,
    ramp_for,
    write_style,
)
from twin.io.webmap import MapPoints, build_map
from twin.sources.terrain import read_terrain

TILE = Path(__file__).resolve().parents[1] / "data" / "N43E007.hgt.zip"
CRS = "EPSG:32632"
#: lon/lat boxes (west, south, east, north) on the tile: Monaco and the hills behind it
#: (as tests/test_terrain.py reads it); Fontvieille and the Rock, on land; the harbour
#: (Port Hercule) and La Condamine, from the sea up; the open sea to the south-east
MONACO = (7.40, 43.72, 7.44, 43.76)
LOW_LAND = (7.4155, 43.727, 7.4205, 43.7305)
HARBOUR = (7.4225, 43.7325, 7.4265, 43.7355)
OPEN_SEA = (7.45, 43.70, 7.47, 43.71)
NICE = (1.0, 2.0, 2.5, 5.0)
SEA = ELEVATION.classes[0]
#: ELEVATION's land tints but its snow white (above 3000 m): the fitted classes' below that
LAND_TINTS = np.array([c.rgb for c in ELEVATION.classes[1:-1]], dtype=float)


def _terrain(box: tuple[float, float, float, float]) -> Terrain:
    """The tile's nodes over ``box`` (no margin), in Monaco's UTM zone."""
    to_utm = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    west, south, east, north = box
    xs, ys = to_utm.transform([west, east, west, east], [south, south, north, north])
    return read_terrain(TILE, crs=CRS, bounds_m=(min(xs), min(ys), max(xs), max(ys)), margin_m=0)


def _step_m(land_breaks: list[float]) -> float:
    """The one step between consecutive breaks, checked to be 1, 2, 2.5 or 5 x 10^k."""
    steps = np.diff(land_breaks)
    assert steps.size and np.allclose(steps, steps[0], rtol=0, atol=1e-9)
    step = float(steps[0])
    mantissa = step / 10.0 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in NICE), step
    return step


def _check_land_tints(colors: list[str]) -> None:
    """The land classes' colours run along ELEVATION's land tints, lowest to highest:
    the first and last tints at the ends, each colour between the two tints nearest its
    place (channel by channel)."""
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=float)
    assert (rgb[0] == LAND_TINTS[0]).all() and (rgb[-1] == LAND_TINTS[-1]).all()
    at = np.linspace(0, len(LAND_TINTS) - 1, len(rgb))
    lo = LAND_TINTS[np.floor(at).astype(int)]
    hi = LAND_TINTS[np.ceil(at).astype(int)]
    assert (rgb >= np.minimum(lo, hi) - 0.5).all() and (rgb <= np.maximum(lo, hi) + 0.5).all()


def test_monaco_and_its_hills_get_round_classes_from_sea_level() -> None:
    """Monaco's tile from the sea (SRTM's 0 m, a little below once reprojected) to the
    hills behind the city: the sea level class, then classes of one round step from 0.5 m
    to the step's multiple just under the highest node, 8 to 13 in all, every one of them
    holding nodes; the sea blue, the land from ELEVATION's green to its white."""
    z = _terrain(MONACO).elevation_m
    lo, hi = float(z.min()), float(z.max())
    assert lo < SEA_LEVEL_M and hi > 500  # the sea and the hills
    ramp = elevation_ramp(z)
    breaks = [c.upper for c in ramp.classes[:-1]]
    assert breaks == elevation_breaks_m(lo, hi)
    assert breaks[0] == SEA_LEVEL_M == 0.5
    step = _step_m(breaks[1:])
    assert breaks[1] == step  # the first multiple above 0.5 m
    assert breaks[-1] < hi <= breaks[-1] + step  # the top class holds the highest node
    assert 8 <= len(ramp.classes) <= 13
    assert np.unique(ramp.classify(z)).size == len(ramp.classes)  # none empty
    labels = [c.label for c in ramp.classes]
    assert labels[0] == SEA.label == "< 0.5 m (sea level)"
    assert labels[1] == f"0.5 - {step:g} m" and labels[-1] == f"> {breaks[-1]:g} m"
    assert ramp.classes[0].color == SEA.color
    _check_land_tints([c.color for c in ramp.classes[1:]])
    assert (ramp.minimum, ramp.maximum) == (lo, hi)
    # a node on a break lies in the class below it, as ELEVATION's classes take it
    assert ramp.classify([breaks[1]])[0] == 1 and ramp.classify([breaks[1] + 0.01])[0] == 2


def test_low_ground_is_spread_over_its_classes() -> None:
    """Fontvieille and the Rock, 1.5 to 52 m, all above sea level (a range as low as
    Helsinki's): no sea level class, 8 to 13 classes of a round step, and the nodes in at
    least 8 of them, where the fixed ELEVATION puts them all in two."""
    z = _terrain(LOW_LAND).elevation_m
    lo, hi = float(z.min()), float(z.max())
    assert SEA_LEVEL_M < lo and hi < 100
    ramp = elevation_ramp(z)
    breaks = [c.upper for c in ramp.classes[:-1]]
    step = _step_m(breaks)
    assert breaks[0] - step < lo <= breaks[0] and breaks[-1] < hi <= breaks[-1] + step
    assert all("sea level" not in c.label for c in ramp.classes)
    assert ramp.classes[0].label == f"< {breaks[0]:g} m"
    assert 8 <= len(ramp.classes) <= 13
    assert np.unique(ramp.classify(z)).size >= 8
    assert np.unique(ELEVATION.classify(z)).size <= 2
    _check_land_tints([c.color for c in ramp.classes])


def test_ground_crossing_sea_level_has_its_class() -> None:
    """The harbour and La Condamine, from below 0 m (the sea, reprojected) up the slope:
    the sea level class holds the nodes below 0.5 m and no other, the next class starts
    at 0.5 m."""
    z = _terrain(HARBOUR).elevation_m
    assert z.min() < 0 < SEA_LEVEL_M < z.max()
    ramp = elevation_ramp(z)
    classes = ramp.classify(z)
    assert ((classes == 0) == (z <= SEA_LEVEL_M)).all()
    assert (z < SEA_LEVEL_M).sum() > 5
    assert ramp.classes[0].label == "< 0.5 m (sea level)" and ramp.classes[0].color == SEA.color
    step = _step_m([c.upper for c in ramp.classes[1:-1]])
    assert ramp.classes[1].label == f"0.5 - {step:g} m"
    assert 8 <= len(ramp.classes) <= 13


def test_flat_ground_is_one_class(tmp_path: Path) -> None:
    """The open sea, every node at 0 m: one class, sea level, in a QGIS style with one
    item and in the web map's relief legend alone; flat ground above sea level (the
    highest node of Monaco's tile, everywhere) one class named by its height."""
    sea = _terrain(OPEN_SEA)
    assert (sea.elevation_m == 0).all()
    ramp = elevation_ramp(sea.elevation_m)
    assert [(c.upper, c.color, c.label) for c in ramp.classes] == [(math.inf, SEA.color, SEA.label)]
    assert (ramp.classify(sea.elevation_m) == 0).all()
    items = read_qml(write_style(tmp_path / "ground_m.qml", "ground_m", sea.elevation_m)).findall(
        "pipe/rasterrenderer/rastershader/colorrampshader/item"
    )
    assert [(float(i.get("value", "nan")), i.get("label")) for i in items] == [
        (math.inf, SEA.label)
    ]
    # the page of a grid over that sea: its relief one colour, its legend one class
    minx, miny, maxx, maxy = sea.bounds_m
    lon, lat = Transformer.from_crs(CRS, 4326, always_xy=True).transform(
        np.linspace(minx, maxx, 5), np.linspace(miny, maxy, 5)
    )
    grid = MapPoints(lon=np.asarray(lon), lat=np.asarray(lat),
                     columns={"capacity_mbps_3p5": np.ones(5)})  # fmt: skip
    b, _, s = _frames()
    data = _data(build_map(b.iloc[:0], grid, s.iloc[:0], bands=["3p5"], title="sea", terrain=sea))
    legend = data["relief"]["legend"]
    assert legend["labels"] == [SEA.label] and legend["colors"] == [list(SEA.rgb)]
    # flat above sea level: the one class says its height
    top = float(_terrain(MONACO).elevation_m.max())
    high = elevation_ramp(np.full(4, top))
    assert [c.label for c in high.classes] == [f"{round(top, 2):g} m"]
    assert high.classes[0].color == ELEVATION.classes[1].color


def test_only_finite_ground_counts() -> None:
    """NaN and infinities (a raster's nodata read as NaN) are left out; ground with no
    finite value has no classes, and says so."""
    z = _terrain(HARBOUR).elevation_m.ravel()
    with_gaps = np.concatenate([z, [np.nan, np.inf, -np.inf]])
    assert elevation_ramp(with_gaps) == elevation_ramp(z)
    with pytest.raises(InputError, match="no finite value"):
        elevation_ramp([np.nan, np.nan])


def test_ramp_for_ground_fits_its_values() -> None:
    """``ramp_for("ground_m", values)`` (what ``write_style`` uses) fits the values; with
    none it is the fixed ELEVATION."""
    z = _terrain(LOW_LAND).elevation_m
    assert ramp_for("ground_m", z) == elevation_ramp(z) != ELEVATION
    assert ramp_for("ground_m") is ELEVATION and ramp_for("elevation_m") is ELEVATION


def test_the_snow_white_tops_only_ground_that_reaches_3000_m() -> None:
    """Fitted classes end at ELEVATION's brown (Monaco's hills, 814 m at most: white
    would say snow, and all but vanish on the web map's light page); ground that reaches
    3000 m, where ELEVATION draws snow, ends at its white."""
    hills = elevation_ramp(_terrain(MONACO).elevation_m)
    assert hills.classes[-1].color == ELEVATION.classes[-2].color
    assert ELEVATION.classes[-1].color not in {c.color for c in hills.classes}
    alps = elevation_ramp(np.array([400.0, 4200.0]))
    assert alps.classes[-1].color == ELEVATION.classes[-1].color
    assert alps.classes[0].color == ELEVATION.classes[1].color
