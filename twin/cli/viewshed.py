"""``twin viewshed``: gdal_viewshed-style viewsheds on a DSM GeoTIFF, one band each."""

from __future__ import annotations

import logging
import math
import os

import click

from twin.cli.options import mark_written

log = logging.getLogger(__name__)


def _parse_xy(text: str) -> tuple[float, float]:
    from twin.errors import InputError

    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"--observer: expected X,Y in the raster's CRS, got {text!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InputError(f"--observer: coordinates must be finite, got {text!r}")
    return x, y


@click.command()
@click.argument("dsm_path", metavar="DSM", type=click.Path(dir_okay=False))
@click.option(
    "--observer",
    "observers",
    multiple=True,
    required=True,
    metavar="X,Y",
    help="Observer position in the raster's CRS (repeatable).",
)
@click.option(
    "--observer-height",
    "observer_heights",
    multiple=True,
    required=True,
    type=float,
    metavar="M",
    help="Observer height above the surface, metres: one per --observer, or one for all.",
)
@click.option(
    "--target-height",
    "target_height",
    type=float,
    default=0.0,
    show_default=True,
    help="Target height above the surface at each cell, metres.",
)
@click.option(
    "--max-distance",
    "max_distance",
    type=float,
    default=None,
    help="Cells farther than this (metres) are 0 (out of range).",
)
@click.option(
    "--curvature-coeff",
    type=float,
    default=0.85714,
    show_default=True,
    help="Earth curvature and refraction coefficient, as gdal_viewshed -cc (0: none).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Output GeoTIFF: uint8, one band per observer, 1 visible, 0 not; with a QGIS "
    "style beside it (<name>.qml, paletted 0 not visible / 1 visible) that draws band 1, "
    "the first observer (choose another band in QGIS's layer properties).",
)
def viewshed(
    dsm_path: str,
    observers: tuple[str, ...],
    observer_heights: tuple[float, ...],
    target_height: float,
    max_distance: float | None,
    curvature_coeff: float,
    out_path: str,
) -> None:
    """Viewsheds of one or more observers on a DSM, as gdal_viewshed computes them.

    Band k of the output is the viewshed of the k-th --observer (1 visible, 0 invisible
    or beyond --max-distance), on the DSM's grid and CRS. The QGIS style written beside
    it (<name>.qml) draws band 1.
    """
    from twin.errors import InputError
    from twin.io.dsm_file import write_bands_geotiff
    from twin.io.raster_read import read_dsm
    from twin.visibility.viewshed import viewsheds

    xy = [_parse_xy(text) for text in observers]
    if len(observer_heights) not in (1, len(xy)):
        raise InputError(
            f"--observer-height: give one height for all or one per --observer "
            f"({len(xy)} observers, {len(observer_heights)} heights)"
        )
    heights = (
        list(observer_heights) * len(xy) if len(observer_heights) == 1 else list(observer_heights)
    )
    for h in heights:
        if not (math.isfinite(h) and h >= 0):
            raise InputError(f"--observer-height: must be a number of metres >= 0, got {h}")
    if not (math.isfinite(target_height) and target_height >= 0):
        raise InputError(f"--target-height: must be a number of metres >= 0, got {target_height}")
    if max_distance is not None and not (math.isfinite(max_distance) and max_distance > 0):
        raise InputError(f"--max-distance: must be a positive number of metres, got {max_distance}")
    raster = read_dsm(dsm_path)
    out = viewsheds(
        raster.height_m,
        raster.transform,
        [(x, y, h) for (x, y), h in zip(xy, heights, strict=True)],
        target_height_m=target_height,
        max_distance_m=max_distance,
        curvature_coeff=curvature_coeff,
        semi_major_m=raster.crs.ellipsoid.semi_major_metre if raster.crs.ellipsoid else None,
    )
    write_bands_geotiff(
        out_path,
        out,
        transform=raster.transform,
        crs=raster.crs,
        descriptions=[
            f"visible from {x:.2f},{y:.2f} at +{h:g} m"
            for (x, y), h in zip(xy, heights, strict=True)
        ],
        # the viewshed derives from the DSM: its attribution and licence (a DSM of twin
        # dsm: OSM's), none where the DSM names none
        attribution=raster.tags.get("attribution"),
        license=raster.tags.get("license"),
        # the provenance items of a run's rasters: the input (the DSM) by name and hash
        tags={
            "input": os.path.basename(raster.path),
            "input_sha256": raster.sha256,
            "metric": "viewshed",
            "units": "1 = visible, 0 = not visible or out of range",
            "target_height_m": target_height,
            "max_distance_m": max_distance if max_distance is not None else "none",
            "curvature_coeff": curvature_coeff,
        },
        style="viewshed",
    )
    mark_written(out_path)
    log.info("wrote %s: %d viewshed band(s)", out_path, len(xy))
