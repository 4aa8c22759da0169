"""``twin dsm``: a surface model GeoTIFF of a city's buildings, on flat ground or terrain."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from twin.cli.options import mark_written

if TYPE_CHECKING:
    from twin.city.model import CityModel
    from twin.city.terrain import Terrain
    from twin.visibility.dsm import RasterGrid

log = logging.getLogger(__name__)


@click.command()
@click.argument("city")
@click.option(
    "--res", "res_m", type=float, default=1.0, show_default=True, help="Cell size, metres."
)
@click.option(
    "--terrain",
    "terrain_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Ground elevation model to stand the buildings on (SRTM .hgt/.hgt.zip, GeoTIFF "
    "with a CRS): each cell then holds the higher of the terrain and the buildings' tops, "
    "in metres on the DEM's datum.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Output GeoTIFF (float32 metres, the city's UTM CRS): heights above flat ground, "
    "or elevations on the DEM's datum with --terrain; with a QGIS style beside it "
    "(<name>.qml: eight equal classes in metres from its lowest cell to its highest).",
)
def dsm(city: str, res_m: float, terrain_path: str | None, out_path: str) -> None:
    """Rasterise the buildings of CITY into a digital surface model.

    CITY is an OSM file (.osm, .osm.gz, .osm.bz2, .osm.pbf) or a footprint file. Each
    cell holds the top of the highest building covering its centre, 0 elsewhere (flat
    ground); the raster covers the city's bounds. With --terrain, each building stands on
    its ground (the lowest terrain along its outline, as in ``twin run``) and each cell
    holds the higher of the terrain at its centre and the top of the highest building
    covering it, in metres on the DEM's datum (SRTM: the EGM96 geoid).
    """
    from twin.city import load_city
    from twin.errors import InputError
    from twin.io.dsm_file import write_dsm_geotiff
    from twin.visibility.dsm import rasterize_dsm

    if not res_m > 0:
        raise InputError(f"--res: must be a positive number of metres, got {res_m}")
    if terrain_path is not None:
        from twin.sources.terrain import check_dem_file

        check_dem_file(terrain_path)  # before the city is read
    model = load_city(city)
    # the provenance items of a run's rasters: the input file's name and hash
    tags: dict[str, Any] = {
        "input": os.path.basename(model.source.path),
        "input_sha256": model.source.sha256,
        "res_m": res_m,
    }
    if terrain_path is None:
        from twin.visibility.prisms import BuildingPrisms

        prisms = BuildingPrisms.from_geodataframe(model.buildings)
        surface, grid = rasterize_dsm(prisms, res_m, bounds_m=model.bounds)
        write_dsm_geotiff(out_path, surface, transform=grid.transform, crs=model.crs, tags=tags)
    else:
        from twin.city.ground import city_ground, on_terrain
        from twin.visibility.dsm import grid_for_bounds, rasterize_surface
        from twin.visibility.prisms import city_prisms

        terrain = _read_terrain(terrain_path, model, grid_for_bounds(model.bounds, res_m))
        model = on_terrain(model, terrain)
        ground = city_ground(model)
        assert ground is not None
        surface, grid = rasterize_surface(
            city_prisms(model), terrain, res_m, datum_m=ground.datum_m, bounds_m=model.bounds
        )
        tags.update(
            metric="surface_elevation_m",
            units="m above the terrain file's datum (SRTM: the EGM96 geoid): the higher of "
            "the terrain and the top of the highest building at each cell's centre",
            terrain=Path(terrain.source_path).name,
            terrain_sha256=terrain.source_sha256,
        )
        write_dsm_geotiff(
            out_path,
            surface,
            transform=grid.transform,
            crs=model.crs,
            tags=tags,
            description="surface elevation",
        )
    mark_written(out_path)
    log.info("wrote %s: %d x %d cells of %g m", out_path, grid.n_cols, grid.n_rows, res_m)


def _read_terrain(path: str, model: CityModel, grid: RasterGrid) -> Terrain:
    """The DEM around the city as ``twin run`` reads it (its bounds and the default
    margin), read again with a wider margin when the grid's edge cells (a coarse
    ``--res``) have their centres beyond it."""
    from twin.sources.terrain import read_terrain

    crs = model.crs.to_string()
    terrain = read_terrain(path, crs=crs, bounds_m=model.bounds)
    have = terrain.bounds_m
    need = grid.centres_bounds_m
    if need[0] >= have[0] and need[1] >= have[1] and need[2] <= have[2] and need[3] <= have[3]:
        return terrain
    minx, miny, maxx, maxy = model.bounds
    margin = max(minx - need[0], miny - need[1], need[2] - maxx, need[3] - maxy)
    return read_terrain(path, crs=crs, bounds_m=model.bounds, margin_m=margin)
