"""Checks of the QGIS styles (``.qml``) written beside rasters: parsed back, their
structure, a surface model's ramp against the raster's values."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import rasterio

from twin.io.styles import write_style


def read_qml(path: Path) -> ET.Element:
    """A QGIS style file parsed (after its DOCTYPE line)."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE qgis")
    return ET.fromstring(text.split("\n", 1)[1])


def qml_shape(root: ET.Element) -> list[tuple[str, tuple[str, ...]]]:
    """Each kind of element of a style (its path of tags) with its attributes' names,
    once, in document order: what QGIS reads, whatever the classes' count."""
    out: list[tuple[str, tuple[str, ...]]] = []

    def walk(el: ET.Element, path: str) -> None:
        here = (f"{path}/{el.tag}", tuple(sorted(el.attrib)))
        if here not in out:
            out.append(here)
        for child in el:
            walk(child, here[0])

    walk(root, "")
    return out


def check_dsm_style(tif: Path, tmp_path: Path) -> list[ET.Element]:
    """``<name>.qml`` beside a DSM: band 1 drawn by a pseudocolour ramp in metres from
    the raster's lowest cell to its highest, in the structure of a run's raster styles;
    the style's classes (their upper bounds, the last open)."""
    with rasterio.open(tif) as src:
        data = src.read(1)
    rr = read_qml(tif.with_suffix(".qml")).find("pipe/rasterrenderer")
    assert rr is not None
    assert rr.get("type") == "singlebandpseudocolor" and rr.get("band") == "1"
    shader = rr.find("rastershader/colorrampshader")
    assert shader is not None
    lo, hi = float(data.min()), float(data.max())
    assert (
        float(rr.get("classificationMin", "nan")),
        float(rr.get("classificationMax", "nan")),
    ) == (lo, hi)
    assert (float(shader.get("minimumValue", "nan")), float(shader.get("maximumValue", "nan"))) == (
        lo,
        hi,
    )
    items = shader.findall("item")
    uppers = [float(i.get("value", "nan")) for i in items]
    assert len(items) == 8 and uppers == sorted(uppers) and uppers[-1] == float("inf")
    assert lo < uppers[0] and uppers[-2] < hi
    assert all(i.get("label", "").endswith(" m") for i in items)
    # the structure of the style twin run writes beside its capacity rasters
    run_style = read_qml(write_style(tmp_path / "capacity_mbps_3p5.qml", "capacity_mbps"))
    assert qml_shape(read_qml(tif.with_suffix(".qml"))) == qml_shape(run_style)
    return items
