"""``twin run``: run a study and write its outputs."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click
from tqdm import tqdm

from twin.bands import parse_bands
from twin.cli.options import (
    check_interrupt,
    command_line,
    default_scenario_path,
    mark_written,
    scenario_inputs,
)
from twin.errors import InputError
from twin.io import MAP_MAX_POINTS

log = logging.getLogger(__name__)

STAGES = ("city", "grid", "sites", "visibility", "radio", "outputs")


@click.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--city",
    "city",
    help="City file (OSM .osm/.osm.gz/.osm.bz2/.osm.pbf, "
    "footprints .geojson/.gpkg) or place:NAME / bbox:W,S,E,N; replaces the scenario's.",
)
@click.option(
    "--terrain",
    "terrain",
    help="Ground elevation model to stand the city on (SRTM .hgt/.hgt.zip, GeoTIFF with a "
    "CRS), or 'flat' for flat ground at 0 m; replaces the scenario's city.terrain.",
)
@click.option(
    "--sites",
    "sites",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sites file (.csv with lon,lat,height_m,power_dbm, optional azimuths_deg from true "
    "north, or .geojson); replaces "
    "the scenario's sites.",
)
@click.option(
    "--inside-building",
    "inside_building",
    type=click.Choice(["refuse", "lift"]),
    help="A given site whose antenna is inside a building, below its roof: refuse it "
    "(the default; the error names the building) or lift it onto the roof (roof + "
    "sites.lift_mast_m, 3 m by default; each lift logged and listed in summary.json). "
    "Sets the scenario's sites.inside_building.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default out/<scenario>).",
)
@click.option(
    "--spacing",
    type=float,
    help="Grid spacing in metres (> 0; default: the scenario's grid.spacing_m).",
)
@click.option(
    "--bands",
    help="Bands in GHz, comma-separated, e.g. 3.5,28 (default: the scenario's radio.bands_ghz).",
)
@click.option(
    "--visibility",
    type=click.Choice(["fast", "exact"]),
    help="Visibility engine (default: the scenario's radio.visibility).",
)
@click.option(
    "--variant",
    "variant",
    metavar="NAME",
    help="Run the scenario's variant NAME ([variants.NAME] in the file); output folder "
    "default out/<scenario>-<variant>.",
)
@click.option(
    "--map-metric",
    type=click.Choice(["capacity_mbps", "sinr_db", "rsrp_dbm"]),
    default="capacity_mbps",
    show_default=True,
    help="Grid metric shown by map.html.",
)
@click.option(
    "--map-max-points",
    type=click.IntRange(min=0),
    default=MAP_MAX_POINTS,
    show_default=True,
    help="Most grid points map.html draws; a larger grid is drawn by the point in the "
    "middle of every k x k block (the smallest k that fits), each as a square of k "
    "cells with its own values, and the page says so. 0: every point. The GeoPackage "
    "and the GeoTIFFs always hold every point.",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="Run the tiles on this existing dask cluster (see docs/scaling.md).",
)
@click.option(
    "--workers",
    type=int,
    help="Run the tiles on a local dask cluster of this many worker processes (>= 1).",
)
@click.option(
    "--connect-timeout",
    "connect_timeout_s",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the --scheduler to answer and have a worker.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Neither read nor write the cache of city, grid, visibility raster and per-site "
    "LoS (.twin-cache/ or $TWIN_CACHE_DIR).",
)
@click.option(
    "--tile",
    "tile_cells",
    type=click.IntRange(min=1),
    help="Side of every tile of receivers, in grid cells (memory grows with its square). "
    "Default: 256, and on a cluster the last tiles cut smaller and smaller so that the "
    "workers finish together.",
)
@click.option(
    "--scratch",
    "scratch",
    type=click.Path(path_type=Path),
    help="Keep the city-sized arrays (the receiver grid, the visibility raster, the LoS, "
    "the tiles' receiver lists, the per-band results and the sweep's, and the temporaries "
    "of their size) in files of this folder, mapped into memory and deleted as soon as "
    "made, instead of in memory: the kernel writes them to the disk when memory runs "
    "short. Alone: every such array in files; with --memory-budget: those past the "
    "budget. The folder must be on a disk, not tmpfs (a warning says so).",
)
@click.option(
    "--memory-budget",
    "memory_budget_mib",
    type=click.FloatRange(min=0),
    metavar="MIB",
    help="Keep the city-sized arrays (as for --scratch) in memory up to this many MiB "
    "and the rest in files of the --scratch folder (default $TWIN_SCRATCH_DIR, else "
    "/var/tmp, else the temporary folder), so that a city too large for the memory runs "
    "instead of being killed. 0: all in files. Default: a quarter of the memory "
    "available when the study starts (the system's, or less in a memory-limited "
    "cgroup). Without --scratch and with none of those folders writable and on a disk, "
    "everything stays in memory (a warning says so).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing non-empty output folder.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def run(
    scenario: Path | None,
    city: str | None,
    terrain: str | None,
    sites: Path | None,
    inside_building: str | None,
    out: Path | None,
    spacing: float | None,
    bands: str | None,
    visibility: str | None,
    variant: str | None,
    map_metric: str,
    map_max_points: int,
    scheduler: str | None,
    workers: int | None,
    connect_timeout_s: float,
    no_cache: bool,
    tile_cells: int | None,
    scratch: Path | None,
    memory_budget_mib: float | None,
    overwrite: bool,
    no_progress: bool,
) -> None:
    """Run a study: SCENARIO (TOML; default scenarios/default.toml) on its city.

    Writes buildings/sites/streets GeoJSON, grid.gpkg, GeoTIFF rasters per band,
    summary.json/.csv, an offline map.html and PNG plots into --out (see the README's
    output contract), each with its provenance (the scenario and input hashes, and this
    command line as given). The folder appears complete or not at all. The figures are drawn
    by a process forked from this one while it writes the rest (TWIN_OUTPUT_FORK=0: all
    in this process; the same files). With --variant, the
    variant's changes apply to the scenario (after --city, --terrain and --sites; --spacing, --bands
    and --visibility apply last).
    """
    from twin.cluster import check_scheduler_address, open_runner
    from twin.io.atomic import check_not_inside
    from twin.io.cache import StudyCache
    from twin.io.outputs import check_out_dir, write_run
    from twin.io.scratch import MemoryBudget, ScratchFolder
    from twin.kernels import start_warm_up
    from twin.scenario import with_overrides
    from twin.sources.scenario_file import read_scenario
    from twin.study import StudyOptions, study_options
    from twin.variants import variant_chain
    from twin.whatif import run_variant

    path = scenario if scenario is not None else default_scenario_path()
    sc = read_scenario(path)
    if spacing is not None and spacing <= 0:
        raise InputError(f"--spacing: {spacing} m is not allowed; give a spacing > 0 m")
    if scheduler is not None and workers is not None:
        raise InputError(
            "give --scheduler (an existing dask cluster) or --workers (a local one), not both"
        )
    if workers is not None and workers < 1:
        raise InputError(f"--workers: {workers} is not allowed; give 1 or more worker processes")
    if scheduler is not None:
        scheduler = check_scheduler_address(scheduler)
    scratch_folder: ScratchFolder | MemoryBudget = (
        ScratchFolder(scratch)
        if scratch is not None and memory_budget_mib is None
        else MemoryBudget(
            None if memory_budget_mib is None else int(memory_budget_mib * 2**20), scratch
        )
    )
    sc = with_overrides(
        sc,
        city_source=city,
        terrain=terrain,
        sites_file=str(sites) if sites is not None else None,
        sites_inside_building=inside_building,
    )
    if variant is not None:
        variant_chain(sc, variant)  # fail now on an unknown variant
    if sc.city.terrain is not None:
        from twin.sources.terrain import check_dem_file

        check_dem_file(sc.city.terrain)  # now, not after the city is read
    name = sc.name if variant is None else f"{sc.name}-{variant}"
    out_dir = out if out is not None else Path("out") / name
    check_not_inside(out_dir, scenario_inputs(path, sc))
    check_out_dir(out_dir, overwrite=overwrite)
    bar = tqdm(total=len(STAGES), desc="twin run", unit="stage", disable=no_progress, leave=False)

    def progress(stage: str) -> None:
        bar.set_postfix_str(stage)
        if stage != "city":
            bar.update(1)

    with (
        open_runner(scheduler=scheduler, workers=workers, timeout_s=connect_timeout_s) as runner,
        study_options(
            StudyOptions(
                runner=runner,
                cache=None if no_cache else StudyCache(),
                tile_cells=tile_cells,
                # in process, a cold numba cache is filled on the other core meanwhile
                kernels=start_warm_up() if scheduler is None and workers is None else None,
                scratch=scratch_folder,
            )
        ),
    ):
        result = run_variant(
            sc,
            variant,
            spacing_m=spacing,
            bands_ghz=parse_bands(bands) if bands is not None else None,
            visibility=visibility,
            progress=progress,
        )
    check_interrupt()
    progress("outputs")
    t_out = time.perf_counter()
    summary = write_run(
        result,
        out_dir,
        overwrite=overwrite,
        map_metric=map_metric,
        map_max_points=map_max_points or None,
        before_commit=check_interrupt,
        command=command_line(click.get_current_context()),
    )
    mark_written(out_dir)
    outputs_s = time.perf_counter() - t_out
    bar.update(1)
    bar.close()
    click.echo(
        f"wrote {out_dir}/ ({len(result.grid)} receivers, {len(result.sites)} sites, "
        f"bands {', '.join(result.bands)})"
    )
    for label, band in summary["bands"].items():
        click.echo(
            f"  {label:>4} GHz: mean capacity {band['mean_capacity_mbps']:8.2f} Mbps, "
            f"covered (SINR >= {summary['sinr_threshold_db']:g} dB) "
            f"{100 * band['covered_share']:5.1f} %, LoS to server {100 * band['los_share']:5.1f} %"
        )
    drawn = summary["map"]
    if drawn["step"] > 1:
        click.echo(
            f"  map.html draws {drawn['grid_points_drawn']:,} of {drawn['grid_points']:,} grid "
            f"points (the middle of every {drawn['step']} x {drawn['step']} block; "
            "--map-max-points 0: all)"
        )
    t = {**summary["timings_s"], "outputs": outputs_s}
    click.echo("  timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items()))
