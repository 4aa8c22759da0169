"""Colour classes of the metrics, and QGIS styles (``.qml``) built from them.

One set of classes per metric serves both the QGIS styles written beside the GeoTIFFs and
the web map's legend, so a colour means the same value everywhere. The classes of the
radio metrics are fixed (not stretched to each file's data), so the 0.7 GHz and the 28
GHz maps can be compared side by side; the ground's are fitted to the study's ground
(:func:`elevation_ramp`), so that a low city is not drawn in one colour, and one run
gives its ``ground_m.qml`` and its web map's relief the same.

A ``.qml`` file with the raster's basename (``capacity_mbps_3p5.qml`` beside
``capacity_mbps_3p5.tif``) is the layer's default style: QGIS applies it when the raster
is opened.

=====================  =========================================  ==================
metric (name contains)  classes                                    colours
=====================  =========================================  ==================
``capacity_mbps``       <1, 1-5, ..., 1000-2000, >2000 Mbps        viridis
``sinr_db``             <-5, -5-0, ..., 20-25, >25 dB              red-yellow-green
``rsrp_dbm``            <-100 ... >-40 dBm (whole carrier)         red-yellow-green
``indoor_distance``     <2, 2-5, 5-10, ..., 25-35, >35 m           viridis, reversed
``covered``/``share``   0-20 %, ..., 80-100 %                      red-yellow-green
``los``, ``indoor``     0/1 flags (paletted)                        two colours
``viewshed``            0 not visible / 1 visible (paletted)       two colours
``elevation_m``,        about 10 classes over the ground given,    hypsometric tints
``ground_m``            steps of 1, 2, 2.5 or 5 x 10^k m; below    (ELEVATION's,
                        0.5 m "sea level" when the ground reaches  sampled)
                        it (the web map's terrain relief and the
                        ground under the receivers, ground_m.tif;
                        without values the fixed ELEVATION:
                        < 0.5, 0.5-50, ..., > 3000 m)
anything else           8 equal classes over the data range        viridis
                        (in metres for a name ending ``_m``: the
                        DSM's heights)
=====================  =========================================  ==================
"""

from __future__ import annotations

import itertools
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from twin.errors import InputError
from twin.io.atomic import write_text_atomic

__all__ = [
    "ColorClass",
    "Palette",
    "Ramp",
    "elevation_breaks_m",
    "elevation_ramp",
    "qml_text",
    "ramp_for",
    "style_for",
    "write_style",
]

_VIRIDIS_11 = (
    "#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c",
    "#22a884", "#44bf70", "#7ad151", "#bddf26", "#fde725",
)  # fmt: skip
_VIRIDIS_8 = ("#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39",
              "#fde725")  # fmt: skip
_RDYLGN_8 = ("#a50026", "#e34933", "#fca55d", "#fee999", "#e3f399", "#9dd569", "#39a758",
             "#006837")  # fmt: skip
_RDYLGN_5 = ("#a50026", "#f98e52", "#feffbe", "#84ca66", "#006837")


@dataclass(frozen=True)
class ColorClass:
    """One class: values above the previous class's ``upper`` and up to ``upper``.

    ``upper`` is ``math.inf`` for the last class; ``color`` is ``#rrggbb``.
    """

    upper: float
    color: str
    label: str

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The colour as 0-255 integers."""
        h = self.color.lstrip("#")
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


@dataclass(frozen=True)
class Ramp:
    """Discrete colour classes of a continuous metric.

    Attributes
    ----------
    metric
        Metric name (``capacity_mbps``).
    title
        Human title (``Capacity``).
    units
        Units shown in legends (``Mbps``); empty for none.
    classes
        In increasing order of ``upper``; the last has ``upper = inf``.
    minimum, maximum
        The range the classes are meant for (QGIS ``classificationMin``/``Max``).
    scale
        Factor from data values to displayed values (100 for shares shown in %).
    decimals
        Decimals of displayed values.
    """

    metric: str
    title: str
    units: str
    classes: tuple[ColorClass, ...]
    minimum: float
    maximum: float
    scale: float = 1.0
    decimals: int = 1

    def classify(self, values: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """Class index of each value (``-1`` for NaN and infinities)."""
        v = np.asarray(values, dtype=float)
        uppers = np.array([c.upper for c in self.classes[:-1]], dtype=float)
        idx = np.searchsorted(uppers, v, side="left").astype(np.int8)
        idx[~np.isfinite(v)] = -1
        return idx

    def format(self, value: float) -> str:
        """``value`` as shown to users, with units (``"123.4 Mbps"``, ``"85 %"``)."""
        if not math.isfinite(value):
            return "no data"
        text = f"{value * self.scale:.{self.decimals}f}"
        return f"{text} {self.units}".strip()


@dataclass(frozen=True)
class Palette:
    """Colours of the values of a flag or class raster (paletted renderer)."""

    metric: str
    title: str
    entries: tuple[tuple[int, str, str], ...]  # (value, #rrggbb, label)


def _ramp(
    metric: str,
    title: str,
    units: str,
    breaks: Sequence[float],
    colors: Sequence[str],
    labels: Sequence[str],
    *,
    minimum: float,
    maximum: float,
    decimals: int = 1,
) -> Ramp:
    if not len(colors) == len(breaks) + 1 == len(labels):
        raise ValueError(f"{metric}: {len(breaks)} breaks need {len(breaks) + 1} colours/labels")
    uppers = [*breaks, math.inf]
    classes = tuple(
        ColorClass(float(u), c, lab) for u, c, lab in zip(uppers, colors, labels, strict=True)
    )
    return Ramp(metric, title, units, classes, float(minimum), float(maximum), 1.0, decimals)


def _range_labels(breaks: Sequence[float], units: str, fmt: str = "{:g}") -> list[str]:
    u = f" {units}" if units else ""
    out = [f"< {fmt.format(breaks[0])}{u}"]
    out += [f"{fmt.format(a)} - {fmt.format(b)}{u}" for a, b in itertools.pairwise(breaks)]
    out.append(f"> {fmt.format(breaks[-1])}{u}")
    return out


_CAPACITY_BREAKS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000)
_SINR_BREAKS = (-5, 0, 5, 10, 15, 20, 25)
#: the serving cell's received power over its whole carrier (what ``rsrp_dbm`` holds: a
#: 46 dBm macro cell arrives at -24 to -105 dBm on the embedded city), not 3GPP's RSRP,
#: the power of one resource element, 10 log10(subcarriers) lower (35 dB for 3276); the
#: RSRP quality classes (-120 ... -70 dBm) put nearly every cell of it in "excellent"
_RSRP_BREAKS = (-100, -90, -80, -70, -60, -50, -40)
#: an indoor receiver's distance to its block's facade (``radio.indoor_distance =
#: "wall"``), metres: TR 38.901 draws d_2D-in from 0-25 m for UMa and UMi (Table
#: 7.4.3-2), the embedded city's median is 4.9 m and its 95th percentile 18.8 m; deep
#: blocks reach past 25 m
_INDOOR_DISTANCE_BREAKS = (2, 5, 10, 15, 20, 25, 35)

CAPACITY = _ramp(
    "capacity_mbps", "Capacity", "Mbps", _CAPACITY_BREAKS, _VIRIDIS_11,
    _range_labels(_CAPACITY_BREAKS, "Mbps"), minimum=0, maximum=5000, decimals=1,
)  # fmt: skip
SINR = _ramp(
    "sinr_db", "SINR", "dB", _SINR_BREAKS, _RDYLGN_8,
    _range_labels(_SINR_BREAKS, "dB"), minimum=-10, maximum=30, decimals=1,
)  # fmt: skip
RSRP = _ramp(
    "rsrp_dbm", "Received power", "dBm", _RSRP_BREAKS, _RDYLGN_8,
    _range_labels(_RSRP_BREAKS, "dBm"), minimum=-130, maximum=-20, decimals=1,
)  # fmt: skip
INDOOR_DISTANCE = _ramp(
    "indoor_distance_m", "Distance to the facade", "m", _INDOOR_DISTANCE_BREAKS,
    _VIRIDIS_8[::-1], _range_labels(_INDOOR_DISTANCE_BREAKS, "m"), minimum=0, maximum=50,
    decimals=1,
)  # fmt: skip
SHARE = Ramp(
    metric="share",
    title="Indoor coverage",
    units="%",
    classes=tuple(
        ColorClass(u, c, lab)
        for u, c, lab in zip(
            (0.2, 0.4, 0.6, 0.8, math.inf),
            _RDYLGN_5,
            ("0 - 20 %", "20 - 40 %", "40 - 60 %", "60 - 80 %", "80 - 100 %"),
            strict=True,
        )
    ),
    minimum=0.0,
    maximum=1.0,
    scale=100.0,
    decimals=0,
)
#: fixed hypsometric classes of the ground, metres on the DEM's datum, and the palette of
#: :func:`elevation_ramp` (the classes of the web map's terrain relief, ``twin.io.webmap``,
#: and of a run's ``ground_m.tif``): the first class (below 0.5 m) is the sea, which SRTM
#: holds at 0 m (Monaco's reprojected nodes: -1.9 to 0.5 m offshore), then land tints from
#: green to brown and white (snow, above 3000 m).
_ELEVATION_BREAKS = (0.5, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000)
ELEVATION = _ramp(
    "elevation_m", "Terrain", "m", _ELEVATION_BREAKS,
    ("#aacfe6", "#acd0a5", "#94bf8b", "#a8c68f", "#bdcc96", "#d1d7ab", "#e1e4b5", "#efebc0",
     "#ded6a3", "#c3a76b", "#aa8753", "#f5f4f2"),
    ["< 0.5 m (sea level)", *_range_labels(_ELEVATION_BREAKS, "m")[1:]],
    minimum=0, maximum=4000, decimals=1,
)  # fmt: skip
#: the top of the sea level class, metres: ELEVATION's first break
SEA_LEVEL_M = _ELEVATION_BREAKS[0]
#: the steps of :func:`elevation_ramp` are these times a power of ten (metres)
_NICE_STEPS = (1.0, 2.0, 2.5, 5.0)
#: the number of classes :func:`elevation_ramp` aims at (8 to 12 for most ranges)
_ELEVATION_CLASSES = 10
#: the smallest step of :func:`elevation_ramp`, metres: a DEM is no finer than that
_MIN_ELEVATION_STEP_M = 0.1


def _step_breaks(low_m: float, high_m: float, step_m: float, decimals: int) -> list[float]:
    """The breaks of :func:`elevation_ramp` at ``step_m`` for ground from ``low_m`` to
    ``high_m``: the multiples of the step strictly inside the range they round it out to
    (``floor(low / step)`` to ``ceil(high / step)`` steps), and with ground below
    :data:`SEA_LEVEL_M` that break first, the multiples above it (from 0 m) after it."""
    top = math.ceil(high_m / step_m)
    if low_m < SEA_LEVEL_M:
        if high_m <= SEA_LEVEL_M:
            return []  # all of it at sea level
        first = math.floor(SEA_LEVEL_M / step_m) + 1
        return [SEA_LEVEL_M, *(round(i * step_m, decimals) for i in range(first, top))]
    bottom = math.floor(low_m / step_m)
    return [round(i * step_m, decimals) for i in range(bottom + 1, top)]


def elevation_breaks_m(low_m: float, high_m: float) -> list[float]:
    """The class breaks (metres) of :func:`elevation_ramp` for ground from ``low_m`` to
    ``high_m``.

    The step is the ``1``, ``2``, ``2.5`` or ``5`` times a power of ten (at least
    :data:`_MIN_ELEVATION_STEP_M`) whose classes number nearest 10 (of two as near,
    the more: 13 rather than 7); the breaks are its multiples (:func:`_step_breaks`).
    Ground reaching below :data:`SEA_LEVEL_M` has that break first (the sea level class
    below it, then classes from 0.5 m to the step's first multiple above it, and so on).
    No breaks (one class) for flat ground, or ground all below sea level.
    """
    lo, hi = float(low_m), float(high_m)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise InputError(
            f"elevation classes: ground from {lo} to {hi} m; allowed: finite, low <= high"
        )
    span = hi - (0.0 if lo < SEA_LEVEL_M else lo)
    if span <= 0.0:
        return []
    top = math.floor(math.log10(span))
    best: list[float] = []
    best_key = (math.inf, math.inf)
    for k in range(top - 2, top + 1):
        for mantissa in _NICE_STEPS:
            step = mantissa * 10.0**k
            if step < _MIN_ELEVATION_STEP_M - 1e-12:
                continue
            breaks = _step_breaks(lo, hi, step, max(0, 1 - k))
            n = len(breaks) + 1
            key = (abs(n - _ELEVATION_CLASSES), -n)
            if key < best_key:
                best, best_key = breaks, key
    return best


#: the ground from which :func:`elevation_ramp`'s top class takes :data:`ELEVATION`'s
#: snow white (its class above 3000 m): below it the tints end at its brown, as the white
#: would say snow of a hill and all but vanish on the web map's light page
SNOW_M = _ELEVATION_BREAKS[-1]


def _tints(n: int, *, snow: bool = True) -> list[str]:
    """``n`` colours along :data:`ELEVATION`'s land tints (all but its sea level one; and
    but its top, snow white one unless ``snow``), from the lowest to the highest: the
    tints themselves for as many, else interpolated between the two nearest in RGB (the
    lowest alone for 1)."""
    if n < 1:
        return []
    land = ELEVATION.classes[1:] if snow else ELEVATION.classes[1:-1]
    rgb = np.array([c.rgb for c in land], dtype=float)
    at = np.linspace(0.0, len(rgb) - 1.0, n) if n > 1 else np.zeros(1)
    below = np.minimum(np.floor(at).astype(int), len(rgb) - 2)
    frac = (at - below)[:, None]
    mixed = np.rint(rgb[below] * (1.0 - frac) + rgb[below + 1] * frac).astype(int)
    return ["#{:02x}{:02x}{:02x}".format(*c) for c in mixed]


def _cm(value_m: float) -> str:
    """A ground value (metres) in a label: to the centimetre, no trailing zeros."""
    return f"{round(value_m, 2):g}"


def elevation_ramp(ground_m: npt.ArrayLike) -> Ramp:
    """Hypsometric classes fitted to the ground ``ground_m`` (metres; its finite values).

    The breaks are :func:`elevation_breaks_m` from the least to the greatest value:
    round steps of 1, 2, 2.5 or 5 times a power of ten, about 10 classes across the
    range (the whole range: the ground's lowest and highest points are what a relief
    shows, and no value lies past the classes' range). The colours keep
    :data:`ELEVATION`'s order: its sea level tint for a class below
    :data:`SEA_LEVEL_M` (``"< 0.5 m (sea level)"``), only when the ground reaches below
    it, then its land tints from green to brown, sampled evenly (:func:`_tints`) over
    the land classes whatever their number, and to its snow white only when the ground
    reaches :data:`SNOW_M` (3000 m, where :data:`ELEVATION` draws it). Flat ground gives one
    class (``"12.5 m"``; at sea level ``"< 0.5 m (sea level)"``). ``minimum`` and
    ``maximum`` are the ground's lowest and highest values.

    Raises
    ------
    InputError
        When ``ground_m`` has no finite value.
    """
    v = np.asarray(ground_m, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise InputError("elevation classes: the ground has no finite value")
    lo, hi = float(v.min()), float(v.max())
    breaks = elevation_breaks_m(lo, hi)
    sea = lo < SEA_LEVEL_M
    sea_label = ELEVATION.classes[0].label
    snow = hi >= SNOW_M
    if sea:
        colors = [ELEVATION.classes[0].color, *_tints(len(breaks), snow=snow)]
        labels = [sea_label, *_range_labels(breaks, "m")[1:]] if breaks else [sea_label]
    else:
        colors = _tints(len(breaks) + 1, snow=snow)
        if breaks:
            labels = _range_labels(breaks, "m")
        else:  # flat, or within the smallest step
            labels = [f"{_cm(lo)} m" if hi == lo else f"{_cm(lo)} - {_cm(hi)} m"]
    return _ramp(ELEVATION.metric, ELEVATION.title, "m", breaks, colors, labels,
                 minimum=lo, maximum=hi, decimals=ELEVATION.decimals)  # fmt: skip


LOS = Palette("los", "Line of sight", ((0, "#9e9e9e", "NLoS"), (1, "#1f78b4", "LoS")))
INDOOR = Palette("indoor", "Indoor", ((0, "#b2df8a", "outdoor"), (1, "#6a3d9a", "indoor")))
#: a band of ``twin viewshed`` (the colours of the LoS flag: visible is in line of sight)
VIEWSHED = Palette(
    "viewshed",
    "Viewshed",
    ((0, "#9e9e9e", "not visible (or out of range)"), (1, "#1f78b4", "visible")),
)


def _generic(metric: str, values: npt.ArrayLike | None) -> Ramp:
    """Eight equal classes over the finite range of ``values`` (from its minimum to its
    maximum); labelled in metres when ``metric`` ends in ``_m``."""
    v = np.asarray(values if values is not None else [], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise InputError(
            f"no colour classes are defined for metric {metric!r} and no finite values were "
            "given to derive them; pass the values or use capacity_mbps, sinr_db, rsrp_dbm"
        )
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        hi = lo + 1.0
    breaks = [lo + (hi - lo) * i / 8 for i in range(1, 8)]
    digits = max(0, 2 - math.floor(math.log10(max(abs(hi - lo), 1e-12))))
    fmt = f"{{:.{min(digits, 6)}f}}"
    units = "m" if metric.endswith("_m") else ""
    return _ramp(metric, metric, units, breaks, _VIRIDIS_8, _range_labels(breaks, units, fmt),
                 minimum=lo, maximum=hi, decimals=min(digits, 6))  # fmt: skip


def ramp_for(metric: str, values: npt.ArrayLike | None = None) -> Ramp:
    """The colour classes of ``metric`` (a name containing it also matches).

    ``capacity_mbps``, ``sinr_db``, ``rsrp_dbm``, ``indoor_distance_m`` and shares
    (``covered``, ``share``) have fixed classes; the ground's elevation (``ground_m``,
    ``elevation_m``) has hypsometric classes fitted to the ``values``
    (:func:`elevation_ramp`; without values the fixed :data:`ELEVATION`); any other
    metric eight equal classes over the finite ``values`` (in metres for a name ending
    ``_m``).

    Raises
    ------
    InputError
        For an unknown metric without finite ``values``, or ``ground_m`` with values none
        of which is finite.
    """
    name = metric.lower()
    for ramp in (CAPACITY, SINR, RSRP, INDOOR_DISTANCE):
        if ramp.metric in name:
            return ramp
    if "covered" in name or "share" in name:
        return SHARE
    if name in ("ground_m", ELEVATION.metric):
        return ELEVATION if values is None else elevation_ramp(values)
    return _generic(metric, values)


def style_for(metric: str, values: npt.ArrayLike | None = None) -> Ramp | Palette:
    """:class:`Palette` for the flags ``los``/``indoor`` and ``viewshed``, else
    :func:`ramp_for`."""
    name = metric.lower()
    if name == "los" or name.startswith("los_"):
        return LOS
    if name == "indoor":
        return INDOOR
    if name == "viewshed":
        return VIEWSHED
    return ramp_for(metric, values)


# --- QML ---------------------------------------------------------------------------------


def _opt(parent: ET.Element, name: str, value: str, kind: str = "QString") -> None:
    ET.SubElement(parent, "Option", {"type": kind, "name": name, "value": value})


def _min_max_origin(parent: ET.Element) -> None:
    mmo = ET.SubElement(parent, "minMaxOrigin")
    for tag, text in (
        ("limits", "None"),
        ("extent", "WholeRaster"),
        ("statAccuracy", "Estimated"),
        ("cumulativeCutLower", "0.02"),
        ("cumulativeCutUpper", "0.98"),
        ("stdDevFactor", "2"),
    ):
        ET.SubElement(mmo, tag).text = text


def _num(x: float) -> str:
    return "inf" if math.isinf(x) else repr(float(x))


def _rgba(color: str) -> str:
    h = color.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},255"


def qml_text(style: Ramp | Palette, *, band: int = 1, opacity: float = 1.0) -> str:
    """QGIS raster style (QML) of a ramp (pseudocolor, discrete) or palette (paletted)."""
    root = ET.Element(
        "qgis",
        {
            "version": "3.28.0-Firenze",
            "styleCategories": "AllStyleCategories",
            "hasScaleBasedVisibilityFlag": "0",
            "minScale": "1e+08",
            "maxScale": "0",
        },
    )
    pipe = ET.SubElement(root, "pipe")
    provider = ET.SubElement(pipe, "provider")
    ET.SubElement(
        provider,
        "resampling",
        {
            "enabled": "false",
            "zoomedInResamplingMethod": "nearestNeighbour",
            "zoomedOutResamplingMethod": "nearestNeighbour",
            "maxOversampling": "2",
        },
    )
    if isinstance(style, Ramp):
        rr = ET.SubElement(
            pipe,
            "rasterrenderer",
            {
                "type": "singlebandpseudocolor",
                "band": str(band),
                "opacity": repr(float(opacity)),
                "alphaBand": "-1",
                "nodataColor": "",
                "classificationMin": _num(style.minimum),
                "classificationMax": _num(style.maximum),
            },
        )
        ET.SubElement(rr, "rasterTransparency")
        _min_max_origin(rr)
        shader = ET.SubElement(ET.SubElement(rr, "rastershader"), "colorrampshader")
        shader.attrib.update(
            {
                "colorRampType": "DISCRETE",
                "classificationMode": "1",  # classes given, not computed by QGIS
                "clip": "0",
                "minimumValue": _num(style.minimum),
                "maximumValue": _num(style.maximum),
                "labelPrecision": str(style.decimals),
            }
        )
        ramp = ET.SubElement(shader, "colorramp", {"type": "gradient", "name": "[source]"})
        opts = ET.SubElement(ramp, "Option", {"type": "Map"})
        _opt(opts, "color1", _rgba(style.classes[0].color))
        _opt(opts, "color2", _rgba(style.classes[-1].color))
        _opt(opts, "discrete", "1")
        _opt(opts, "rampType", "gradient")
        n = len(style.classes)
        stops = ":".join(
            f"{i / (n - 1):.4f};{_rgba(c.color)}" for i, c in enumerate(style.classes[1:-1], 1)
        )
        _opt(opts, "stops", stops)
        for c in style.classes:
            # discrete: a pixel takes the colour of the first class whose value is >= it
            ET.SubElement(
                shader,
                "item",
                {"alpha": "255", "value": _num(c.upper), "label": c.label, "color": c.color},
            )
    else:
        rr = ET.SubElement(
            pipe,
            "rasterrenderer",
            {
                "type": "paletted",
                "band": str(band),
                "opacity": repr(float(opacity)),
                "alphaBand": "-1",
                "nodataColor": "",
            },
        )
        ET.SubElement(rr, "rasterTransparency")
        _min_max_origin(rr)
        palette = ET.SubElement(rr, "colorPalette")
        for value, color, label in style.entries:
            ET.SubElement(
                palette,
                "paletteEntry",
                {"value": str(value), "color": color, "alpha": "255", "label": label},
            )
    ET.SubElement(pipe, "brightnesscontrast", {"brightness": "0", "contrast": "0", "gamma": "1"})
    ET.SubElement(
        pipe,
        "huesaturation",
        {"saturation": "0", "grayscaleMode": "0", "colorizeOn": "0", "colorizeStrength": "100",
         "colorizeRed": "255", "colorizeGreen": "128", "colorizeBlue": "128", "invertColors": "0"},
    )  # fmt: skip
    ET.SubElement(pipe, "rasterresampler", {"maxOversampling": "2"})
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def write_style(
    path: str | os.PathLike[str],
    metric: str,
    values: npt.ArrayLike | None = None,
    *,
    band: int = 1,
    style: Ramp | Palette | None = None,
) -> Path:
    """Write the QGIS style of ``metric`` to ``path`` (``<raster basename>.qml``), atomically.

    Parameters
    ----------
    path
        Output file; give it the basename of the GeoTIFF so QGIS applies it by default.
    metric
        Metric name, see :func:`style_for` (``capacity_mbps``, ``sinr_db``, ``rsrp_dbm``,
        ``indoor_distance_m``, ``ground_m``, ``los``, ``indoor``, ``viewshed``, or any
        other with ``values``).
    values
        Data values; only used for metrics without fixed classes (and the ground's,
        fitted to them).
    band
        Raster band the renderer draws.
    style
        The classes or palette to write, instead of those of ``metric`` and ``values``
        (``twin run`` gives ``ground_m.qml`` the classes of its map's relief).

    Raises
    ------
    InputError
        For an unknown metric without finite ``values``.
    """
    final = Path(path)
    chosen = style_for(metric, values) if style is None else style
    write_text_atomic(final, qml_text(chosen, band=band))
    return final
