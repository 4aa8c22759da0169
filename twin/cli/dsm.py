"""``twin dsm``: a surface model GeoTIFF of a city's buildings."""

from __future__ import annotations

import logging
import os

import click

from twin.cli.options import mark_written

log = logging.getLogger(__name__)


@click.command()
@click.argument("city")
@click.option(
    "--res", "res_m", type=float, default=1.0, show_default=True, help="Cell size, metres."
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Output GeoTIFF (float32 heights above ground, the city's UTM CRS).",
)
def dsm(city: str, res_m: float, out_path: str) -> None:
    """Rasterise the buildings of CITY into a digital surface model.

    CITY is an OSM file (.osm, .osm.gz, .osm.bz2, .osm.pbf) or a footprint file. Each
    cell holds the top of the highest building covering its centre, 0 elsewhere (flat
    ground); the raster covers the city's bounds.
    """
    from twin.city import load_city
    from twin.errors import InputError
    from twin.io.dsm_file import write_dsm_geotiff
    from twin.visibility.dsm import rasterize_dsm
    from twin.visibility.prisms import BuildingPrisms

    if not res_m > 0:
        raise InputError(f"--res: must be a positive number of metres, got {res_m}")
    model = load_city(city)
    prisms = BuildingPrisms.from_geodataframe(model.buildings)
    surface, grid = rasterize_dsm(prisms, res_m, bounds_m=model.bounds)
    write_dsm_geotiff(
        out_path,
        surface,
        transform=grid.transform,
        crs=model.crs,
        # the provenance items of a run's rasters: the input file's name and hash
        tags={
            "input": os.path.basename(model.source.path),
            "input_sha256": model.source.sha256,
            "res_m": res_m,
        },
    )
    mark_written(out_path)
    log.info("wrote %s: %d x %d cells of %g m", out_path, grid.n_cols, grid.n_rows, res_m)
