"""One study, end to end: city -> grid -> sites -> visibility -> radio.

This module orchestrates; the computation lives in the stage modules and the file
writing in :mod:`twin.io.outputs`.

The receivers are processed tile by tile (:mod:`twin.tiles`), in two passes: first the
LoS of each tile to the sites within reach (:mod:`twin.radio.reach`), then each
receiver's best server and interference from that LoS; then, over all receivers, the
best-server areas, bandwidths, SINR and capacity. Tiles run in this process or on dask
workers (:class:`StudyOptions`, :mod:`twin.cluster`); the parsed city, the grid and the
visibility raster can be reused from an on-disk cache (:mod:`twin.io.cache`). Memory:
one tile's working set (bounded) plus what grows with the city: the receiver grid, the
(N, M) LoS matrix (bit-packed), and either the visibility raster (first pass) or the
per-band results (second pass and after), never both.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from twin.arrays import ArrayAlloc, full, moved
from twin.bands import band_label
from twin.city.ground import CityGround, city_ground, sites_on_ground
from twin.city.model import CityModel, build_city, on_bridge, open_sky_drive
from twin.city.water import water_area_m2, water_union
from twin.errors import InputError
from twin.grid import ReceiverGrid, build_grid, indoor_distance_m, indoor_distance_stats
from twin.layouts import generate_layout
from twin.radio.network import (
    SERVING_STORE_BYTES,
    BandCells,
    BandResult,
    RadioParams,
    Serving,
    band_cells,
    check_band_ranges,
    finish_band,
)
from twin.radio.reach import site_radius_m
from twin.scenario import Scenario
from twin.sites import (
    Site,
    building_label,
    check_sites_above_roofs,
    check_sites_in_area,
    height_from,
    lift_onto_roofs,
    sites_from_entries,
)
from twin.spectrum import SweepResult, SweepTable, every_band, sweep_frequencies
from twin.tiles import (
    TILE_CELLS,
    LoSBlocks,
    PackedLoS,
    TileContext,
    TileOutput,
    TileTasks,
    farthest_corner_m,
    guided_tiles,
    link_shadow_units,
    los_blocks,
    radius_covers,
    tile_indices,
    unreached_receivers,
)
from twin.visibility import BuildingPrisms
from twin.visibility.prisms import city_prisms

if TYPE_CHECKING:
    from twin.cluster import TileRunner
    from twin.io.cache import StudyCache
    from twin.io.scratch import MemoryBudget, ScratchFolder
    from twin.kernels import WarmUp
    from twin.visibility.fast import FastRaster

log = logging.getLogger(__name__)


@dataclass
class StudyResult:
    """Everything one run computed; :func:`twin.io.outputs.write_run` writes it."""

    scenario: Scenario
    city: CityModel
    bounds: tuple[float, float, float, float]
    grid: ReceiverGrid
    sites: list[Site]
    #: LoS of each (receiver, site), 1 bit per pair (:attr:`los` unpacks it); a bool
    #: (N, M) matrix given here is packed
    los_bits: PackedLoS
    bands: dict[str, BandResult]
    timings_s: dict[str, float] = field(default_factory=dict)
    #: (M,) radius of each site, metres (inf: no limit); receivers farther away ignore it
    site_radius_m: np.ndarray | None = None
    #: what made the study's city-sized arrays (None: memory; else the ``array`` of a
    #: :class:`twin.io.scratch.ScratchFolder` or a :class:`twin.io.scratch.MemoryBudget`,
    #: :attr:`StudyOptions.scratch`); what is computed from the
    #: result afterwards (the frequency sweep, the LoS comparison) makes its own with it
    alloc: ArrayAlloc | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.los_bits, PackedLoS):
            self.los_bits = PackedLoS.of(self.los_bits)

    @property
    def los(self) -> np.ndarray:
        """(N, M) bool, receivers x sites: LoS to each site within its radius (a new
        array, unpacked at each read: read it once)."""
        return self.los_bits.unpack()


@dataclass(frozen=True)
class StudyOptions:
    """How a study runs (not what it computes: the results are the same for any options).

    Attributes
    ----------
    runner
        Where the tiles run (:func:`twin.cluster.open_runner`); None: in this process.
    cache
        On-disk cache of the city, grid and visibility raster; None: no cache.
    tile_cells
        Side of every tile of the receiver grid, in grid cells; None: tiles of 256
        cells, and on a runner of several slots the last ones cut smaller and smaller
        (:func:`twin.tiles.guided_tiles`), so that every worker of a cluster has work
        until the end.
    kernels
        A helper process compiling the kernels (:func:`twin.kernels.start_warm_up`),
        waited for once the city is loaded, before the first compiled call; None: none.
    scratch
        Where the city-sized arrays are kept (the receiver grid, the visibility raster
        and its build's temporaries, the LoS, the receivers' orders by block, the
        per-band results, and afterwards the sweep's and the LoS comparison's through
        :attr:`StudyResult.alloc`): in files of a folder, mapped into memory
        (:class:`twin.io.scratch.ScratchFolder`, out of core); in memory up to a
        budget and in files past it (:class:`twin.io.scratch.MemoryBudget`, what
        ``twin run`` uses); None: in memory.
    """

    runner: TileRunner | None = None
    cache: StudyCache | None = None
    tile_cells: int | None = None
    kernels: WarmUp | None = None
    scratch: ScratchFolder | MemoryBudget | None = None


_OPTIONS: ContextVar[StudyOptions | None] = ContextVar("twin_study_options", default=None)


@contextmanager
def study_options(options: StudyOptions) -> Iterator[StudyOptions]:
    """Make ``options`` the default of :func:`run_study` and :func:`load_scenario_city`
    inside the block (for callers that run studies through other functions, such as
    :func:`twin.whatif.run_variant`)."""
    token = _OPTIONS.set(options)
    try:
        yield options
    finally:
        _OPTIONS.reset(token)


def current_options(options: StudyOptions | None = None) -> StudyOptions:
    """``options``, else those of the enclosing :func:`study_options`, else the defaults."""
    if options is not None:
        return options
    return _OPTIONS.get() or StudyOptions()


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - t0, 3)


def load_scenario_city(scenario: Scenario, *, cache: StudyCache | None = None) -> CityModel:
    """Read and build the scenario's city, or take it from ``cache`` (default: the one of
    the enclosing :func:`study_options`) when the source file and options are the same.

    Online sources (``place:``, ``bbox:``) are never cached.
    """
    from twin.sources.load import read_city

    if cache is None:
        cache = current_options().cache
    c = scenario.city
    key: dict[str, Any] | None = None
    if cache is not None and not c.source.startswith(("place:", "bbox:")):
        from twin.io.cache import file_sha256

        src = Path(c.source)
        dem = None if c.terrain is None else Path(c.terrain)
        if src.is_file() and (dem is None or dem.is_file()):
            key = {
                "source": str(src.resolve()),
                "sha256": file_sha256(src),
                "name": c.name,
                "storey_height_m": c.storey_height_m,
                "default_height_m": c.default_height_m,
                "min_area_m2": c.min_area_m2,
                # the water's rules: 1 before the model held its water (none), 2 once
                # the coastline splits the extent by all its lines at once and the dry
                # basins are left out, 3 once the piers are land and the streets keep
                # their bridges (``on_bridge``, the edges split where a bridge begins)
                "water": 3,
            }
            if dem is not None:
                key["terrain"] = {"source": str(dem.resolve()), "sha256": file_sha256(dem)}
            hit = cache.get("city", key)
            if isinstance(hit, CityModel):
                return hit
    raw = read_city(c.source)
    if c.name:
        raw.name = c.name
    city = build_city(
        raw,
        storey_height_m=c.storey_height_m,
        default_height_m=c.default_height_m,
        min_area_m2=c.min_area_m2,
    )
    if c.terrain is not None:
        from twin.city.ground import on_terrain
        from twin.sources.terrain import read_terrain

        terrain = read_terrain(c.terrain, crs=city.crs.to_string(), bounds_m=city.bounds)
        city = on_terrain(city, terrain)
    if cache is not None and key is not None:
        cache.put("city", key, city)
    return city


def city_fingerprint(city: CityModel) -> str:
    """sha256 of what the grid and the visibility raster depend on: CRS, building
    footprints and heights, street lines (drivable, under open sky, on a bridge), the
    terrain (its file's hash, the buildings' ground) when the city stands on one, and the
    water when it has some."""
    h = hashlib.sha256(city.crs.to_wkt().encode())
    b = city.buildings
    h.update(b.index.to_numpy().astype(np.int64).tobytes())
    for wkb in shapely.to_wkb(b.geometry.to_numpy(), hex=False):
        h.update(wkb)
    h.update(b["height_m"].to_numpy(dtype=float).tobytes())
    h.update(b["min_height_m"].to_numpy(dtype=float).tobytes())
    if len(city.streets):
        for wkb in shapely.to_wkb(city.streets.geometry.to_numpy(), hex=False):
            h.update(wkb)
        h.update(city.streets["drive"].to_numpy(dtype=bool).tobytes())
        h.update(open_sky_drive(city.streets).tobytes())
        h.update(on_bridge(city.streets).tobytes())
    if city.terrain is not None:
        h.update(b"terrain")
        h.update(city.terrain.source_sha256.encode())
        h.update(b["ground_m"].to_numpy(dtype=float).tobytes())
    if city.water is not None and len(city.water):
        h.update(b"water")
        for wkb in shapely.to_wkb(city.water.geometry.to_numpy(), hex=False):
            h.update(wkb)
    return h.hexdigest()


def study_bounds(city: CityModel, scenario: Scenario) -> tuple[float, float, float, float]:
    """The analysis area in the city CRS: the buildings' extent cut to ``city.area``, or
    with no ``city.area`` to the bounds the source declares
    (:meth:`twin.city.model.CityModel.default_area`)."""
    bounds = city.bounds
    if scenario.city.area is None:
        return city.default_area()
    a = city.lonlat_box_m(scenario.city.area)
    cut = (max(bounds[0], a[0]), max(bounds[1], a[1]), min(bounds[2], a[2]), min(bounds[3], a[3]))
    if not (cut[0] < cut[2] and cut[1] < cut[3]):
        raise InputError(
            f"city.area {scenario.city.area} does not overlap the city's buildings "
            f"(they span {city.bounds_wgs84()} in lon/lat)"
        )
    return (float(cut[0]), float(cut[1]), float(cut[2]), float(cut[3]))


def given_sites_on_roofs(
    scenario: Scenario, sites: list[Site], city: CityModel, *, where: str
) -> list[Site]:
    """Sites given by the user (a file, the list, a variant's edits) checked against the
    buildings: one whose antenna is inside a building, below its roof, is refused
    (``sites.inside_building = "refuse"``, the default) or lifted onto the roof
    (``"lift"``: :func:`twin.sites.lift_onto_roofs`; each lift logged as a warning and
    kept in the site's ``extra``: ``lifted_from_m``, ``roof_height_source``)."""
    cfg = scenario.sites
    if cfg.inside_building == "lift":
        sites, lifts = lift_onto_roofs(sites, city.buildings, mast_m=cfg.lift_mast_m)
        for lift in lifts:
            log.warning(
                "%s: site %s lifted from %g m onto the roof of %s (%g m, %s) to %g m "
                "(sites.inside_building = \"lift\")",
                where, lift.site_id, lift.from_m, building_label(city.buildings, lift.building_id),
                lift.roof_m, height_from(lift.height_source), lift.to_m,
            )  # fmt: skip
            s = sites[lift.index]
            sites[lift.index] = replace(
                s,
                extra={
                    **s.extra,
                    "lifted_from_m": repr(lift.from_m),
                    "roof_height_source": lift.height_source,
                },
            )
    check_sites_above_roofs(sites, city.buildings, where=where)
    return sites


def scenario_sites(
    scenario: Scenario, city: CityModel, bounds: tuple[float, float, float, float]
) -> list[Site]:
    """The scenario's sites: file + inline list + generated layouts, checked to lie in the area."""
    from twin.sources.sites_file import read_sites_file

    cfg = scenario.sites
    sites: list[Site] = []
    if cfg.file is not None:
        file_sites = sites_from_entries(read_sites_file(cfg.file), city.crs, placed_by="file")
        check_sites_in_area(file_sites, bounds, where=cfg.file, crs=city.crs)
        sites += given_sites_on_roofs(scenario, file_sites, city, where=cfg.file)
    if cfg.list:
        inline = sites_from_entries(cfg.list, city.crs, placed_by="scenario")
        check_sites_in_area(inline, bounds, where="sites.list", crs=city.crs)
        sites += given_sites_on_roofs(scenario, inline, city, where="sites.list")
    for k, layout in enumerate(cfg.generate):
        generated = generate_layout(layout, city, bounds, index=k)
        # the layouts leave out spots inside buildings; checked as every other site's
        check_sites_above_roofs(generated, city.buildings, where=f"sites.generate[{k}]")
        sites += generated
    ids = [s.site_id for s in sites]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"site ids must be unique; repeated: {', '.join(dup)}")
    if not sites:
        raise InputError("the scenario places no site inside the area")
    return sites


def radio_params(scenario: Scenario) -> RadioParams:
    """The scenario's radio settings as :class:`RadioParams`."""
    r = scenario.radio
    return RadioParams(
        mcl_db=r.mcl_db,
        gain_rx_dbi=r.gain_rx_dbi,
        o2i=r.o2i,
        indoor_distance=r.indoor_distance,
        shadowing=r.shadowing,
        shadow_k=r.shadow_k,
        noise_figure_db=r.noise_figure_db,
        bandwidth=r.bandwidth,
        channel_bandwidth_mhz=(
            dict(r.channel_bandwidth_mhz)
            if isinstance(r.channel_bandwidth_mhz, dict)
            else r.channel_bandwidth_mhz
        ),
        spectrum_share=r.spectrum_share,
        reuse=r.reuse,
        user_density_per_km2=r.user_density_per_km2,
        edge_fraction=r.edge_fraction,
        max_spectral_efficiency=r.max_spectral_efficiency,
        sinr_threshold_db=r.sinr_threshold_db,
        downtilt_deg=r.downtilt_deg,
        seed=r.seed,
    )


def shadow_unit_fields(
    grid: ReceiverGrid, sites: Sequence[Site], los: np.ndarray, params: RadioParams
) -> np.ndarray | None:
    """(N, M) unit-variance, spatially correlated shadow fading per link (``field`` mode).

    One field per site and LoS state with the decorrelation distance of the site's model
    (TR 38.901 Table 7.5-6), seeded by ``params.seed`` and a hash of the site id, so a
    site's field stays the same when other sites are added, moved or removed
    (:func:`twin.tiles.link_shadow_units`; an indoor receiver's links from the site's O2I
    field). The radio stage multiplies it by the link's sigma (Table 7.4.1-1; O2I, Table
    7.5-6, for indoor receivers). None unless ``params.shadowing == "field"``.
    """
    if params.shadowing != "field":
        return None
    return link_shadow_units(
        grid.x_m, grid.y_m, sites, np.asarray(los, dtype=bool), params.seed, grid.indoor
    )


def grid_cache_key(
    city: CityModel,
    bounds: tuple[float, float, float, float],
    scenario: Scenario,
    *,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """What a receiver grid depends on: the city, the area, the grid settings and the
    rule for the receivers on water (2: the indoor ones of a footprint on water stay; 3:
    and the street receivers on a bridge)."""
    return {
        "city": fingerprint or city_fingerprint(city),
        "bounds": list(bounds),
        "grid": scenario.grid.model_dump(mode="json"),
        "water_rule": 3,
    }


def study_grid(
    city: CityModel,
    bounds: tuple[float, float, float, float],
    scenario: Scenario,
    *,
    cache: StudyCache | None = None,
    fingerprint: str | None = None,
    alloc: ArrayAlloc | None = None,
    move_hits: bool = True,
) -> ReceiverGrid:
    """The receiver grid of the scenario over ``bounds``, from ``cache`` when there
    (``fingerprint``: :func:`city_fingerprint` of ``city`` if already known); its arrays
    made by ``alloc`` (None: in memory), and a cache hit's copied by it if
    ``move_hits`` (else kept mapped from the cache's file)."""
    g = scenario.grid
    key: dict[str, Any] = {}
    if cache is not None:
        key = grid_cache_key(city, bounds, scenario, fingerprint=fingerprint)
        hit = cache.get("grid", key)
        if isinstance(hit, ReceiverGrid):
            _log_water(city, bounds, hit)
            return hit if alloc is None or not move_hits else hit.moved(alloc)
    grid = build_grid(
        city.buildings,
        bounds,
        city.crs,
        spacing_m=g.spacing_m,
        indoor_height_m=g.indoor_height_m,
        outdoor_height_m=g.outdoor_height_m,
        roof_clearance_m=g.roof_clearance_m,
        streets=city.streets,
        street_step_m=g.street_step_m,
        alloc=alloc,
        water=water_union(city.water) if g.water == "drop" else None,
    )
    _log_water(city, bounds, grid)
    if cache is not None:
        cache.put("grid", key, grid)
    return grid


def _log_water(
    city: CityModel, bounds: tuple[float, float, float, float], grid: ReceiverGrid
) -> None:
    """Log the receivers left out on water and the water's area in the study area, and
    the street receivers kept over water on bridges."""
    if grid.receivers_on_water:
        log.info(
            '%s: %d receivers left out on water (grid.water = "drop"): %.3f km^2 of the '
            "study area is water",
            city.name,
            grid.receivers_on_water,
            water_area_m2(city.water, bounds) / 1e6,
        )
    if grid.receivers_on_bridges:
        log.info(
            "%s: %d street receivers kept over water on bridges (on the deck, at the "
            "outdoor receiver height over the ground below: the deck's height is not "
            "modelled)",
            city.name,
            grid.receivers_on_bridges,
        )


def visibility_raster(
    city: CityModel,
    prisms: BuildingPrisms,
    *,
    cache: StudyCache | None = None,
    fingerprint: str | None = None,
    alloc: ArrayAlloc | None = None,
    move_hits: bool = True,
) -> FastRaster:
    """The fast visibility engine's building raster of ``city``, from ``cache`` when there;
    its per-cell arrays and mixed cells' lists made by ``alloc`` (None: in memory), and a
    cache hit's copied by it if ``move_hits`` (else kept mapped from the cache's file)."""
    from twin.visibility.fast import RASTER_RES_M, FastRaster, build_fast_raster

    key: dict[str, Any] = {}
    if cache is not None:
        key = {"city": fingerprint or city_fingerprint(city), "res_m": RASTER_RES_M}
        hit = cache.get("raster", key)
        if isinstance(hit, FastRaster):
            if alloc is None or not move_hits:
                return hit
            return replace(
                hit,
                code=moved(hit.code, alloc),
                hint=moved(hit.hint, alloc),
                mixed_start=moved(hit.mixed_start, alloc),
                mixed_ids=moved(hit.mixed_ids, alloc),
            )
    raster = build_fast_raster(prisms, res_m=RASTER_RES_M, alloc=alloc)
    if cache is not None:
        cache.put("raster", key, raster)
    return raster


def with_indoor_distance(
    grid: ReceiverGrid, city: CityModel, scenario: Scenario, alloc: ArrayAlloc | None = None
) -> ReceiverGrid:
    """``grid`` with each indoor receiver's d_2D-in when the scenario models it
    (``radio.indoor_distance = "wall"``: :func:`twin.grid.indoor_distance_m`), else as
    it is. Not cached with the grid: a what-if re-run may change the setting alone."""
    if scenario.radio.indoor_distance != "wall":
        return grid
    out = replace(grid, indoor_distance_m=indoor_distance_m(grid, city.buildings, alloc or full))
    stats = indoor_distance_stats(out)
    if stats is not None:
        log.info(
            "indoor distance to the facade: median %.1f m, 95th percentile %.1f m, max "
            "%.1f m over %d indoor receivers (+0.5 dB/m of O2I loss)",
            stats["median"], stats["p95"], stats["max"], stats["receivers"],
        )  # fmt: skip
    return out


def run_study(
    scenario: Scenario,
    *,
    city: CityModel | None = None,
    sites: Sequence[Site] | None = None,
    progress: Callable[[str], None] | None = None,
    options: StudyOptions | None = None,
) -> StudyResult:
    """Run one study.

    Parameters
    ----------
    scenario
        What to run.
    city, sites
        Override what the scenario would build.
    progress
        Called with the name of each stage as it starts.
    options
        Where the tiles run, the cache, the tile size (:class:`StudyOptions`); default
        those of the enclosing :func:`study_options`, else in process without cache.
        The results do not depend on them.

    Notes
    -----
    ``timings_s`` has the wall time of ``city``, ``grid`` and ``sites`` (and of
    ``kernels``, the wait for a helper compiling the kernels, when there is one);
    ``visibility``
    is the preparation (prisms, the fast engine's raster, cached LoS) plus the LoS time
    of the tiles, ``radio`` the radio time of the tiles (both summed over the tiles: where
    tiles run at once, on a cluster or in process the radio pass's tiles one per thread,
    more than the wall time); ``tiles`` is the wall time of the tile pass, ``tile_work``
    the tiles' own LoS and radio time summed over them (the pass without what surrounds
    the tiles: on N workers about N times ``tiles`` when the machine runs N tiles at
    once as fast as one) and ``cells`` that of the global step (best-server areas, SINR,
    capacity).
    """
    opts = current_options(options)
    timings: dict[str, float] = {}
    say = progress or (lambda stage: None)
    say("city")
    with _timed(timings, "city"):
        if city is None:
            city = load_scenario_city(scenario, cache=opts.cache)
        bounds = study_bounds(city, scenario)
    if opts.kernels is not None:
        with _timed(timings, "kernels"):  # what is left of their compilation
            opts.kernels.wait()
    g = scenario.grid
    say("grid")
    fingerprint = city_fingerprint(city) if opts.cache is not None else None
    with _timed(timings, "grid"):
        # with a scratch folder (or past a memory budget) the city-sized arrays live in
        # files (out of core):
        # the grid, the visibility raster's cells and the per-band results
        alloc = opts.scratch.array if opts.scratch is not None else None
        move_hits = opts.scratch is not None and opts.scratch.moves_cache_hits
        grid = study_grid(
            city,
            bounds,
            scenario,
            cache=opts.cache,
            fingerprint=fingerprint,
            alloc=alloc,
            move_hits=move_hits,
        )
        grid = with_indoor_distance(grid, city, scenario, alloc)
    say("sites")
    with _timed(timings, "sites"):
        site_list = list(sites) if sites is not None else scenario_sites(scenario, city, bounds)
        if sites is not None:
            check_sites_in_area(site_list, bounds, crs=city.crs)
            site_list = given_sites_on_roofs(scenario, site_list, city, where="sites")
        check_band_ranges(site_list, scenario.radio.bands_ghz)
        site_list = sites_on_ground(site_list, city)
    log.info(
        "%s: %d receivers (%d grid, %.0f%% indoor), %d sites",
        city.name,
        len(grid),
        int(grid.is_grid.sum()),
        100 * grid.indoor[grid.is_grid].mean() if grid.is_grid.any() else 0.0,
        len(site_list),
    )
    params = radio_params(scenario)
    r = scenario.radio
    unit_km2 = (g.spacing_m / 1000.0) ** 2
    ground = city_ground(city)
    radius = site_radius_m(
        site_list,
        r.bands_ghz,
        params,
        area_km2=float(grid.is_grid.sum()) * unit_km2,
        rx_heights_m=distinct_values(grid.rx_height_m),
        margin_db=r.site_radius_margin_db,
        max_distance_m=r.max_site_distance_m,
        rx_ground_m=receivers_ground_range_m(grid, ground),
    )
    cells = {band_label(f): band_cells(f, site_list, params.reuse) for f in r.bands_ghz}
    check_reach(grid, site_list, radius, cells, alloc=alloc)
    say("visibility")
    with _timed(timings, "visibility"):
        prisms = city_prisms(city)
        raster = (
            visibility_raster(
                city,
                prisms,
                cache=opts.cache,
                fingerprint=fingerprint,
                alloc=alloc,
                move_hits=move_hits,
            )
            if r.visibility == "fast"
            else None
        )
        n, m = len(grid), len(site_list)
        tx_xyz_m = np.array([(s.x_m, s.y_m, s.height_m) for s in site_list], dtype=float)
        tx_xyz_m = tx_xyz_m.reshape(m, 3)
        # bit-packed (1 bit per pair, not 1 byte), and each receiver keeps only the
        # sites reaching its block of the radio pass's size: with a fixed radius it
        # grows with the receivers, not with receivers x sites
        make = alloc or full
        los_bits = PackedLoS(n, m, los_blocks(grid, RADIO_TILE_CELLS, tx_xyz_m, radius, make), make)
        los_keys: list[dict[str, Any]] = []
        known = np.empty(0, dtype=np.int64)
        if opts.cache is not None:
            gkey = grid_cache_key(city, bounds, scenario, fingerprint=fingerprint)
            los_keys = los_cache_keys(gkey, grid, site_list, radius, r.visibility, los_bits.blocks)
            known = load_los_columns(opts.cache, los_keys, los_bits)
    runner = opts.runner
    if runner is None:
        from twin.cluster import LocalRunner

        runner = LocalRunner()
    tile_cells = opts.tile_cells or TILE_CELLS
    # largest tiles first; on a cluster the last ones smaller and smaller, so that its
    # workers finish together
    tiles = (
        sorted(tile_indices(grid, tile_cells, make), key=lambda i: -i.size)
        if opts.tile_cells
        else guided_tiles(grid, runner.slots, tile_cells, alloc=make)
    )
    log.info(
        "%d tiles of up to %d x %d cells, %s; site radius %s",
        len(tiles),
        tile_cells,
        tile_cells,
        runner.description,
        _radius_text(radius, bounds),
    )
    # the radio work of a tile goes by blocks of at most RADIO_TILE_CELLS cells: a
    # block's radio work is its receivers times the sites reaching any of them, and a
    # small block is reached by fewer far sites
    radio_cells = min(tile_cells, RADIO_TILE_CELLS)
    t = grid.spec.transform
    radio_origin_m = (float(t.c), float(t.f))
    radio_block_m = radio_cells * abs(float(t.a))
    ctx_args: dict[str, Any] = {
        "prisms": prisms,
        "visibility": r.visibility,
        "sites": site_list,
        "tx_xyz_m": tx_xyz_m,
        "site_radius_m": radius,
        "params": params,
        "ground": ground,
    }
    t0 = time.perf_counter()
    reach = (tx_xyz_m, radius)  # each task copies the known LoS of the sites near it
    tasks = TileTasks(grid, tiles, known_los=los_bits, known_sites=known, reach=reach)
    if runner.fuse_passes:
        # One pass: each task traces its tile's LoS, then its radio work. The workers hold
        # the raster in their own memory, and this process only gathers the results.
        serving = {label: Serving.store(n, alloc) for label in cells}
        ctx = TileContext(
            **ctx_args,
            raster=raster,
            bands=cells,
            known_sites=known if known.size else None,
            radio_origin_m=radio_origin_m,
            radio_block_m=radio_block_m,
        )
        totals = _gather(runner.run(ctx, tasks), los_bits=los_bits, serving=serving)
        del ctx, raster
        if opts.cache is not None:
            store_los_columns(opts.cache, los_keys, los_bits, known)
    else:
        # Two passes, so that the visibility raster (5 bytes per cell, 15 MB for 10 km2) and the
        # radio pass's per-receiver results are never in this process's memory together:
        # 1. the LoS of each tile (no band: no radio work);
        vis_ctx = TileContext(
            **ctx_args, raster=raster, bands={}, known_sites=known if known.size else None
        )
        totals = _gather(runner.run(vis_ctx, tasks), los_bits=los_bits)
        # the raster, and the tiles' receiver indices (8 bytes per receiver), go before
        # the radio pass, which cuts tiles of its own
        del vis_ctx, raster, tasks, tiles
        if opts.cache is not None:
            store_los_columns(opts.cache, los_keys, los_bits, known)
        # 2. the best server and interference of each tile, from the LoS of pass 1, on
        # tiles of the radio block's size (the results allocated only now).
        say("radio")
        serving, radio_totals = radio_pass(
            grid,
            site_list,
            los_bits,
            radius,
            cells,
            params,
            visibility=r.visibility,
            runner=runner,
            tile_cells=tile_cells,
            alloc=alloc,
            ground=ground,
        )
        totals += radio_totals
    los = los_bits
    vis_s, radio_s, pairs = float(totals[0]), float(totals[1]), int(totals[2])
    timings["visibility"] = round(timings.get("visibility", 0.0) + vis_s, 3)
    timings["radio"] = round(radio_s, 3)
    timings["tiles"] = round(time.perf_counter() - t0, 3)
    timings["tile_work"] = round(vis_s + radio_s, 3)
    bands: dict[str, BandResult] = {}
    with _timed(timings, "cells"):
        is_grid = grid.is_grid
        for label, band in cells.items():
            # each band's pass results go once its results are made (they keep part of them)
            bands[label] = finish_band(
                band, serving.pop(label), grid.indoor, is_grid, unit_km2, params, alloc
            )
    log.info(
        "visibility: %d (receiver, site) pairs of %d, %.0f pairs/s",
        pairs,
        n * m,
        pairs / vis_s if vis_s > 0 else float("nan"),
    )
    return StudyResult(
        scenario=scenario,
        city=city,
        bounds=bounds,
        grid=grid,
        sites=site_list,
        los_bits=los,
        bands=bands,
        timings_s=timings,
        site_radius_m=radius,
        alloc=alloc,
    )


def _gather(
    outputs: Iterator[TileOutput],
    *,
    los_bits: PackedLoS | None = None,
    serving: dict[str, Serving] | None = None,
) -> np.ndarray:
    """Write the tiles' LoS into ``los_bits`` and their best servers into ``serving``
    (each when given) as they come; returns (visibility seconds, radio seconds, pairs)."""
    totals = np.zeros(3)
    for out in outputs:
        if los_bits is not None:
            los_bits.put_packed(out.index, out.site_cols, out.los_bits)
        if serving is not None:
            for label, part in out.serving.items():
                serving[label].put(out.index, part)
        totals += (out.visibility_s, out.radio_s, out.pairs)
        del out  # not held while the next tile runs
    return totals


def radio_pass(
    grid: ReceiverGrid,
    sites: Sequence[Site],
    los_bits: PackedLoS,
    radius_m: np.ndarray,
    cells: dict[str, BandCells],
    params: RadioParams,
    *,
    visibility: str,
    runner: TileRunner | None = None,
    tile_cells: int | None = None,
    alloc: ArrayAlloc | None = None,
    ground: CityGround | None = None,
) -> tuple[dict[str, Serving], np.ndarray]:
    """The radio pass of a study: the best server and interference of every receiver on
    each band of ``cells``, from the LoS already traced (``los_bits``, every site's).

    It goes by tiles of at most :data:`RADIO_TILE_CELLS` grid cells (``tile_cells`` when
    smaller), on ``runner`` (None: in this process); each tile copies the LoS of the
    sites within reach of it, so the memory beyond the results is one tile's; ``alloc``
    makes the results' arrays (:meth:`Serving.store`) and the tiles' receivers;
    ``ground`` the terrain under the receivers (:func:`twin.city.ground.city_ground`,
    None: flat ground; the sites carry their own ``ground_m``). Returns
    the results per band label and the tiles' (visibility s, radio s, pairs).
    """
    if runner is None:
        from twin.cluster import LocalRunner

        runner = LocalRunner()
    site_list = list(sites)
    n, m = len(grid), len(site_list)
    tx_xyz_m = np.array([(s.x_m, s.y_m, s.height_m) for s in site_list], dtype=float)
    tx_xyz_m = tx_xyz_m.reshape(m, 3)
    every_site = np.arange(m, dtype=np.int64)
    ctx = TileContext(
        prisms=None,
        raster=None,
        visibility=visibility,
        sites=site_list,
        tx_xyz_m=tx_xyz_m,
        site_radius_m=radius_m,
        bands=cells,
        params=params,
        known_sites=every_site if m else None,
        ground=ground,
    )
    radio_cells = min(tile_cells or TILE_CELLS, RADIO_TILE_CELLS)
    tiles = sorted(tile_indices(grid, radio_cells, alloc or full), key=lambda i: -i.size)
    tasks = TileTasks(
        grid, tiles, known_los=los_bits, known_sites=every_site, reach=(tx_xyz_m, radius_m)
    )
    serving = {label: Serving.store(n, alloc) for label in cells}
    totals = _gather(runner.run(ctx, tasks), serving=serving)
    return serving, totals


#: memory the frequency sweep's per-receiver results may take at once, bytes: the
#: frequencies go through the radio pass in groups that fit (:func:`city_sweep`). With
#: ``shadowing = "field"`` each group evaluates the shadow field of every pair again
#: (about 1 us per pair, 20x a band's radio work), so fewer, larger groups pay: 80
#: frequencies on the 2.5 km2 synthetic city took 128 s one by one, 10.7 s in groups of
#: 16, 4.5 s in one group; without the field, 5.6, 2.4 and 2.7 s (BENCHMARKS.md).
SWEEP_GROUP_BYTES = 64 << 20
SWEEP_GROUP_BYTES_FIELD = 256 << 20
#: bytes per receiver and frequency of a group: its :class:`Serving` store (21), and the
#: band results of the frequency being finished (the serving cell, four float32
#: measurements and the int8 user type: as many bytes as the store) and its capacity (8)
_SWEEP_BYTES_PER_RECEIVER = 2 * SERVING_STORE_BYTES + 8


def city_sweep(
    result: StudyResult,
    *,
    runner: TileRunner | None = None,
    group_bytes: int | None = None,
) -> SweepResult | None:
    """The scenario's frequency sweep (``radio.sweep_ghz``) over the city, or None.

    Every site radiates at every swept frequency, each within its radius in the study
    (a pair beyond it was not traced). The frequencies go through the study's radio pass
    (:func:`radio_pass`) in groups whose per-receiver results fit in ``group_bytes``
    (None: :data:`SWEEP_GROUP_BYTES`, or :data:`SWEEP_GROUP_BYTES_FIELD` with
    ``shadowing = "field"``): a group shares each tile's LoS, sites within reach and
    shadow field. So the memory grows with the receivers, not with receivers x sites,
    and the tiles run on ``runner`` (None: in this process, one tile per numba thread);
    the groups' results are made by the study's allocator (:attr:`StudyResult.alloc`:
    in files with ``--scratch``).
    The values equal :func:`twin.spectrum.frequency_sweep` on the whole (N, M) matrices,
    in any grouping (tested).
    """
    sweep = result.scenario.radio.sweep_ghz
    if sweep is None:
        return None
    params = radio_params(result.scenario)
    if group_bytes is None:
        group_bytes = SWEEP_GROUP_BYTES_FIELD if params.shadowing == "field" else SWEEP_GROUP_BYTES
    if group_bytes < 1:
        raise InputError(f"group_bytes: {group_bytes} must be >= 1")
    freqs = sweep_frequencies(*sweep)
    g = result.grid
    sites = every_band(result.sites)
    m = len(sites)
    radius = (
        np.full(m, np.inf)
        if result.site_radius_m is None
        else np.asarray(result.site_radius_m, dtype=float)
    )
    unit_km2 = (result.scenario.grid.spacing_m / 1000.0) ** 2
    group = max(1, group_bytes // (max(len(g), 1) * _SWEEP_BYTES_PER_RECEIVER))
    table = SweepTable(freqs)
    for lo in range(0, freqs.size, group):
        ks = range(lo, min(freqs.size, lo + group))
        cells = {str(k): band_cells(float(freqs[k]), sites, params.reuse) for k in ks}
        serving, _ = radio_pass(
            g,
            sites,
            result.los_bits,
            radius,
            cells,
            params,
            visibility=result.scenario.radio.visibility,
            runner=runner,
            alloc=result.alloc,
            ground=city_ground(result.city),
        )
        for k in ks:
            band = cells.pop(str(k))
            served = serving.pop(str(k))
            table.put(
                k, finish_band(band, served, g.indoor, g.is_grid, unit_km2, params, result.alloc)
            )
    return table.result()


#: receivers :func:`distinct_values` takes at once
DISTINCT_CHUNK = 1 << 18


def distinct_values(values: np.ndarray) -> list[float]:
    """The distinct values of ``values``, increasing, found by chunks (a whole-city
    :func:`numpy.unique` sorts a copy: 8 bytes per receiver, kept by the heap)."""
    seen: set[float] = set()
    for lo in range(0, values.size, DISTINCT_CHUNK):
        seen.update(np.unique(values[lo : lo + DISTINCT_CHUNK]).tolist())
    return sorted(seen)


def check_reach(
    grid: ReceiverGrid,
    sites: Sequence[Site],
    radius_m: np.ndarray,
    cells: dict[str, BandCells],
    *,
    chunk_elements: int = 1 << 18,
    alloc: ArrayAlloc | None = None,
) -> None:
    """Raise InputError when a site radius leaves a receiver with no site of a band.

    Only a fixed ``radio.max_site_distance_m`` smaller than the distance from some
    receiver to its nearest site can do that; the run would have receivers without a
    server, so it stops before any work with the radius it needs. The test goes by
    blocks of receivers (:func:`twin.tiles.unreached_receivers`: its work grows with
    the receivers, not with receivers x sites); the distance named in the message is
    measured from the receivers left out to every site of the band, in chunks of about
    ``chunk_elements`` (receiver, site) pairs (bounds memory). ``alloc`` makes the
    receivers' order by block (None: in memory).
    """
    if np.isinf(radius_m).all() or len(grid) == 0:
        return
    sx = np.array([s.x_m for s in sites])
    sy = np.array([s.y_m for s in sites])
    # the receivers' bounding box: a site whose radius covers its farthest corner (with a
    # margin for rounding) reaches every receiver, and the band needs no per-receiver test
    covers = radius_covers(farthest_corner_m(grid.x_m, grid.y_m, sx, sy), radius_m)
    unreached: dict[bytes, np.ndarray] = {}  # bands on the same sites share the answer
    for label, band in cells.items():
        idx = np.unique(band.cells.site_index)
        if covers[idx].any():
            continue
        key = idx.tobytes()
        if key not in unreached:
            unreached[key] = unreached_receivers(
                grid, sx[idx], sy[idx], radius_m[idx], alloc=alloc or full
            )
        out = unreached[key]
        short = int(out.size)
        need = 0.0
        chunk = max(1, chunk_elements // max(idx.size, 1))
        for lo in range(0, short, chunk):
            part = out[lo : lo + chunk]
            d = np.hypot(grid.x_m[part, None] - sx[idx], grid.y_m[part, None] - sy[idx])
            need = max(need, float(d.min(axis=1).max()))
        if short:
            raise InputError(
                f"radio.max_site_distance_m = {float(radius_m.min()):g} m leaves {short} of "
                f"{len(grid)} receivers with no site of band {label} within reach (the "
                f"farthest is {need:.0f} m from its nearest site); give at least "
                f"{np.ceil(need):.0f} m, or leave it unset for the automatic radius"
            )


def los_cache_keys(
    grid_key: dict[str, Any],
    grid: ReceiverGrid,
    sites: Sequence[Site],
    radius_m: np.ndarray,
    visibility: str,
    blocks: LoSBlocks | None = None,
) -> list[dict[str, Any]]:
    """What the LoS column of each site depends on: the grid (city, area, settings), the
    engine, the antenna position and the radius, "full" when it reaches every receiver,
    and the layout of the study's LoS (``blocks``: which receivers keep the site, in
    what order; :meth:`PackedLoS.kept_column`)."""
    xs = (float(grid.x_m.min()), float(grid.x_m.max())) if len(grid) else (0.0, 0.0)
    ys = (float(grid.y_m.min()), float(grid.y_m.max())) if len(grid) else (0.0, 0.0)
    keys = []
    for s, r in zip(sites, radius_m, strict=True):
        far = max(np.hypot(x - s.x_m, y - s.y_m) for x in xs for y in ys)
        keys.append(
            {
                "grid": grid_key,
                "visibility": visibility,
                "antenna_m": [s.x_m, s.y_m, s.height_m],
                "radius_m": "full" if r >= far else float(r),
                "layout": "every receiver" if blocks is None else f"blocks {blocks.block_cells}",
            }
        )
    return keys


def load_los_columns(
    cache: StudyCache, keys: Sequence[dict[str, Any]], los: PackedLoS
) -> np.ndarray:
    """Fill the columns of ``los`` found in ``cache`` (each site's LoS at the receivers
    that keep it, bit-packed); return their (site) indices."""
    by_block = los.blocks.receivers_by_block() if los.blocks is not None else None
    known = []
    for j, key in enumerate(keys):
        packed = cache.get("los", key, quiet=True)
        if not isinstance(packed, np.ndarray) or packed.dtype != np.uint8:
            continue
        k = los.kept_count(j, by_block)
        if packed.size == -(-k // 8):
            los.set_kept_column(j, np.unpackbits(packed, count=k).view(np.bool_), by_block)
            known.append(j)
    if known:
        log.info("cache hit: LoS of %d of %d sites", len(known), len(keys))
        cache.hits.append("los")
    return np.array(known, dtype=np.int64)


def store_los_columns(
    cache: StudyCache, keys: Sequence[dict[str, Any]], los: PackedLoS, known: np.ndarray
) -> None:
    """Store the columns of ``los`` not in ``known`` (bit-packed)."""
    new = np.setdiff1d(np.arange(len(keys)), known)
    by_block = los.blocks.receivers_by_block() if los.blocks is not None and new.size else None
    for j in new:
        column = los.kept_column(int(j), by_block)
        cache.put("los", keys[int(j)], np.packbits(column), quiet=True)
    if new.size:
        log.info("cache: stored the LoS of %d sites in %s", new.size, cache.root)


#: side (grid cells) of the radio pass's tiles at most: see :func:`run_study`
RADIO_TILE_CELLS = 64


#: receivers whose ground is read at once for the site radius
_GROUND_BLOCK = 1 << 18


def receivers_ground_range_m(
    grid: ReceiverGrid, ground: CityGround | None, *, block: int = _GROUND_BLOCK
) -> tuple[float, float] | None:
    """The lowest and the highest ground under the grid's receivers (metres), by
    ``block`` receivers at a time (no city-sized array made); None on flat ground or for
    an empty grid."""
    if ground is None or len(grid) == 0:
        return None
    lo, hi = np.inf, -np.inf
    for start in range(0, len(grid), block):
        part = slice(start, start + block)
        z = ground.receivers_m(grid.x_m[part], grid.y_m[part], grid.building_id[part])
        lo, hi = min(lo, float(z.min())), max(hi, float(z.max()))
    return lo, hi


def _radius_text(radius: np.ndarray, bounds: tuple[float, float, float, float]) -> str:
    """The sites' radii for the log, and whether they limit anything in the area."""
    if radius.size == 0 or not np.isfinite(radius).any():
        return "unlimited: every site reaches every receiver"

    def km(r_m: float) -> str:
        return f"{r_m / 1000:.3g} km" if math.isfinite(r_m) else "unlimited"

    lo, hi = float(radius.min()), float(radius.max())
    text = km(lo) if lo == hi else f"{km(lo)} to {km(hi)}"
    diagonal_m = math.hypot(bounds[2] - bounds[0], bounds[3] - bounds[1])
    if lo >= diagonal_m:
        text += (
            f", beyond the area's {diagonal_m / 1000:.3g} km diagonal: "
            "every site reaches every receiver"
        )
    return text
