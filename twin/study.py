"""One study, end to end: city -> grid -> sites -> visibility -> radio.

This module orchestrates; the computation lives in the stage modules and the file
writing in :mod:`twin.io.outputs`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from twin.bands import band_label
from twin.city.model import CityModel, build_city
from twin.errors import InputError
from twin.grid import ReceiverGrid, build_grid
from twin.layouts import generate_layout
from twin.radio.network import BandResult, RadioParams, analyse_band
from twin.scenario import Scenario
from twin.sites import Site, check_sites_in_area, sites_from_entries
from twin.visibility import BuildingPrisms, los_matrix

log = logging.getLogger(__name__)


@dataclass
class StudyResult:
    """Everything one run computed; :func:`twin.io.outputs.write_run` writes it."""

    scenario: Scenario
    city: CityModel
    bounds: tuple[float, float, float, float]
    grid: ReceiverGrid
    sites: list[Site]
    los: np.ndarray  # (N, M) bool, receivers x sites
    bands: dict[str, BandResult]
    timings_s: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - t0, 3)


def load_scenario_city(scenario: Scenario) -> CityModel:
    """Read and build the scenario's city."""
    from twin.sources.load import read_city

    raw = read_city(scenario.city.source)
    if scenario.city.name:
        raw.name = scenario.city.name
    return build_city(
        raw,
        storey_height_m=scenario.city.storey_height_m,
        default_height_m=scenario.city.default_height_m,
        min_area_m2=scenario.city.min_area_m2,
    )


def study_bounds(city: CityModel, scenario: Scenario) -> tuple[float, float, float, float]:
    """The analysis area in the city CRS: the buildings' extent, cut to ``city.area``."""
    bounds = city.bounds
    if scenario.city.area is None:
        return bounds
    aoi = gpd.GeoSeries([shapely.box(*scenario.city.area)], crs=4326).to_crs(city.crs)
    a = aoi.total_bounds
    cut = (max(bounds[0], a[0]), max(bounds[1], a[1]), min(bounds[2], a[2]), min(bounds[3], a[3]))
    if not (cut[0] < cut[2] and cut[1] < cut[3]):
        raise InputError(
            f"city.area {scenario.city.area} does not overlap the city's buildings "
            f"(they span {city.bounds_wgs84()} in lon/lat)"
        )
    return (float(cut[0]), float(cut[1]), float(cut[2]), float(cut[3]))


def scenario_sites(
    scenario: Scenario, city: CityModel, bounds: tuple[float, float, float, float]
) -> list[Site]:
    """The scenario's sites: file + inline list + generated layouts, checked to lie in the area."""
    from twin.sources.sites_file import read_sites_file

    cfg = scenario.sites
    sites: list[Site] = []
    if cfg.file is not None:
        file_sites = sites_from_entries(read_sites_file(cfg.file), city.crs, placed_by="file")
        check_sites_in_area(file_sites, bounds, where=cfg.file)
        sites += file_sites
    if cfg.list:
        inline = sites_from_entries(cfg.list, city.crs, placed_by="scenario")
        check_sites_in_area(inline, bounds, where="sites.list")
        sites += inline
    for k, layout in enumerate(cfg.generate):
        sites += generate_layout(layout, city, bounds, index=k)
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
        shadowing=r.shadowing,
        shadow_k=r.shadow_k,
        noise_figure_db=r.noise_figure_db,
        bandwidth=r.bandwidth,
        channel_bandwidth_mhz=dict(r.channel_bandwidth_mhz),
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
    site's field stays the same when other sites are added, moved or removed. The radio
    stage multiplies it by the link's sigma (Table 7.4.1-1).
    """
    if params.shadowing != "field":
        return None
    import hashlib

    from twin.propagation.shadowing import site_shadow_fields_db

    out = np.empty(los.shape)
    models = np.array([s.model for s in sites])
    for model in sorted(set(models)):
        cols = np.flatnonzero(models == model)
        ids = [int(hashlib.sha256(sites[int(c)].site_id.encode()).hexdigest()[:8], 16) for c in cols]
        out[:, cols] = site_shadow_fields_db(
            grid.x_m, grid.y_m, los[:, cols], sigma_db=1.0, model=model, seed=params.seed,
            site_ids=ids,
        )  # fmt: skip
    return out


def run_study(
    scenario: Scenario,
    *,
    city: CityModel | None = None,
    sites: Sequence[Site] | None = None,
    progress: Callable[[str], None] | None = None,
) -> StudyResult:
    """Run one study. ``city`` and ``sites`` override what the scenario would build;
    ``progress`` is called with the name of each stage as it starts."""
    timings: dict[str, float] = {}
    say = progress or (lambda stage: None)
    say("city")
    with _timed(timings, "city"):
        if city is None:
            city = load_scenario_city(scenario)
        bounds = study_bounds(city, scenario)
    g = scenario.grid
    say("grid")
    with _timed(timings, "grid"):
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
        )
    say("sites")
    with _timed(timings, "sites"):
        site_list = list(sites) if sites is not None else scenario_sites(scenario, city, bounds)
        if sites is not None:
            check_sites_in_area(site_list, bounds)
    log.info(
        "%s: %d receivers (%d grid, %.0f%% indoor), %d sites",
        city.name,
        len(grid),
        int(grid.is_grid.sum()),
        100 * grid.indoor[grid.is_grid].mean(),
        len(site_list),
    )
    say("visibility")
    with _timed(timings, "visibility"):
        prisms = BuildingPrisms.from_geodataframe(city.buildings)
        rx = np.column_stack([grid.x_m, grid.y_m, grid.rx_height_m])
        tx = np.array([(s.x_m, s.y_m, s.height_m) for s in site_list], dtype=float)
        los = los_matrix(prisms, rx, grid.building_id, tx, mode=scenario.radio.visibility)
    params = radio_params(scenario)
    bands: dict[str, BandResult] = {}
    say("radio")
    with _timed(timings, "radio"):
        shadow = shadow_unit_fields(grid, site_list, los, params)
        for f in scenario.radio.bands_ghz:
            bands[band_label(f)] = analyse_band(
                f,
                site_list,
                los,
                grid.x_m,
                grid.y_m,
                grid.rx_height_m,
                grid.indoor,
                grid.is_grid,
                (g.spacing_m / 1000.0) ** 2,
                params,
                shadow_db=shadow,
            )
    return StudyResult(
        scenario=scenario,
        city=city,
        bounds=bounds,
        grid=grid,
        sites=site_list,
        los=los,
        bands=bands,
        timings_s=timings,
    )
