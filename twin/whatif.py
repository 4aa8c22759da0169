"""What-if studies: run a scenario or one of its variants, or place sites (orchestration).

:func:`run_variant` is what ``twin run SCENARIO --variant NAME`` does: it applies the
variant's grid and radio changes (:func:`twin.variants.apply_variant`), resolves the
scenario's sites on the city and applies the site edits of the variant chain
(:func:`variant_sites`), then runs :func:`twin.study.run_study` with those sites.

:func:`optimize_scenario` is what ``twin optimize`` does: candidates on the scenario's
city (:mod:`twin.candidates`), their line of sight and received power, the greedy and
swap search of :mod:`twin.optimize`, the hexagonal and random reference layouts, and the
chosen sites as a variant.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np

from twin.city.ground import city_ground, sites_on_ground
from twin.city.model import CityModel
from twin.compare import Comparison
from twin.errors import InputError
from twin.layouts import generate_layout
from twin.optimize import Placement, PlacementProblem, Score
from twin.scenario import Scenario, with_overrides
from twin.sites import Site, check_sites_in_area, roofs_under
from twin.study import (
    StudyResult,
    given_sites_on_roofs,
    load_scenario_city,
    run_study,
    scenario_sites,
    study_bounds,
    study_grid,
    with_indoor_distance,
)
from twin.variants import apply_variant, resolve_sites, variant_chain

__all__ = [
    "Optimization",
    "compare_run_folders",
    "optimize_scenario",
    "run_variant",
    "variant_sites",
]

_CLASS_WORDS = {"rooftops": "rooftop", "streets": "street", "both": "rooftop and street"}


def variant_sites(
    scenario: Scenario,
    variant: str,
    city: CityModel,
    bounds: tuple[float, float, float, float],
) -> list[Site]:
    """The sites of ``variant``: the scenario's sites resolved on ``city``, then the site
    edits of each variant of the chain (first base first), each with the sites its
    ``add_layouts`` generate on the city.

    Raises
    ------
    ScenarioError
        When the variant is missing.
    InputError
        When an edit names a site that is not there, ids repeat, or a site ends outside
        ``bounds`` or inside a building, below its roof.
    """
    sites = scenario_sites(scenario, city, bounds)
    for name, v in variant_chain(scenario, variant):
        generated: list[Site] = []
        for k, layout in enumerate(v.add_layouts):
            generated += generate_layout(layout, city, bounds, index=k)
        where = f"variants.{name}"
        sites = resolve_sites(sites, v, city.crs, generated=generated, where=where)
        check_sites_in_area(sites, bounds, where=where, crs=city.crs)
        # a moved site records the roof it now stands on (the tallest at or below its
        # antenna), if any
        roofs = roofs_under(sites, city.buildings)
        sites = [
            replace(s, building_id=int(r)) if s.placed_by == "moved" else s
            for s, r in zip(sites, roofs, strict=True)
        ]
        sites = given_sites_on_roofs(scenario, sites, city, where=where)
    return sites


def run_variant(
    scenario: Scenario,
    variant: str | None = None,
    *,
    city: CityModel | None = None,
    spacing_m: float | None = None,
    bands_ghz: tuple[float, ...] | None = None,
    visibility: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> StudyResult:
    """Run ``scenario`` or its ``variant``.

    Parameters
    ----------
    scenario
        The scenario as read from its file (with its variants).
    variant
        Name of one of its variants; ``None`` runs the scenario itself.
    city
        The city, when already built (else read from the scenario's source).
    spacing_m, bands_ghz, visibility
        Overrides applied after the variant (as the command-line options do).
    progress
        Called with the name of each stage as it starts.
    """
    say = progress or (lambda stage: None)
    if variant is None:
        run_sc = with_overrides(
            scenario, spacing_m=spacing_m, bands_ghz=bands_ghz, visibility=visibility
        )
        return run_study(run_sc, city=city, progress=progress)
    applied = with_overrides(
        apply_variant(scenario, variant),
        spacing_m=spacing_m,
        bands_ghz=bands_ghz,
        visibility=visibility,
    )
    t0 = time.perf_counter()
    say("city")
    if city is None:
        city = load_scenario_city(applied)
    bounds = study_bounds(city, applied)
    sites = variant_sites(scenario, variant, city, bounds)
    load_s = time.perf_counter() - t0

    def later_stages(stage: str) -> None:
        if stage != "city":
            say(stage)

    result = run_study(applied, city=city, sites=sites, progress=later_stages)
    result.timings_s["city"] = round(result.timings_s.get("city", 0.0) + load_s, 3)
    return result


@dataclass
class Optimization:
    """What :func:`optimize_scenario` found, with its reference layouts.

    ``hex`` and ``random`` are the exact objective of the hexagonal layout and of random
    picks (one per seed) of the same number of candidates; ``variant`` is the TOML
    snippet (a ``[variants.NAME]`` table) that runs the chosen sites with
    ``twin run SCENARIO --variant NAME``.
    """

    scenario: Scenario
    city: CityModel
    bounds: tuple[float, float, float, float]
    problem: PlacementProblem
    placement: Placement
    hex: Score
    random: dict[int, Score]
    variant_name: str
    variant: str
    keep_existing: bool
    timings_s: dict[str, float] = field(default_factory=dict)


def optimize_scenario(
    scenario: Scenario,
    *,
    k: int,
    band_ghz: float,
    objective: str = "coverage",
    candidates: str = "both",
    keep_existing: bool = False,
    city: CityModel | None = None,
    furniture: gpd.GeoDataFrame | None = None,
    spacing_m: float | None = None,
    max_roofs: int = 60,
    shortlist: int = 6,
    swap_rounds: int = 3,
    random_seeds: Sequence[int] = (1, 2, 3, 4, 5),
    variant_name: str | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> Optimization:
    """Choose ``k`` sites for band ``band_ghz`` among generated candidates.

    Parameters
    ----------
    scenario
        The scenario: city, area, grid and radio settings (its sites are replaced by the
        chosen ones, or kept and added to with ``keep_existing``).
    k
        Number of sites to choose.
    band_ghz
        The band the objective is computed on.
    objective
        {"coverage", "capacity", "indoor"}: see :mod:`twin.optimize`.
    candidates
        {"rooftops", "streets", "both"}: see :mod:`twin.candidates`.
    furniture
        Street furniture (:func:`twin.sources.osm_furniture.read_street_furniture`) for
        street candidates; None reads it from the scenario's OSM file when there is one.
    spacing_m
        Grid spacing override.
    random_seeds
        Seeds of the random reference picks.
    variant_name
        Name of the written variant (default ``opt_<objective>_<band>_k<k>``).
    """
    from twin.bands import band_label
    from twin.candidates import candidate_sites
    from twin.optimize import build_problem, chosen_id, hex_pick, optimise, random_pick
    from twin.sources.osm import is_osm_file
    from twin.sources.osm_furniture import read_street_furniture
    from twin.study import radio_params, shadow_unit_fields
    from twin.variants import variant_toml
    from twin.visibility.ground import los_on_ground
    from twin.visibility.prisms import city_prisms

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    sc = with_overrides(scenario, spacing_m=spacing_m, bands_ghz=(band_ghz,))
    if city is None:
        city = load_scenario_city(sc)
    bounds = study_bounds(city, sc)
    if furniture is None and candidates != "rooftops" and is_osm_file(sc.city.source):
        furniture = read_street_furniture(sc.city.source)
    existing = scenario_sites(sc, city, bounds)
    fixed = existing if keep_existing else []
    cands = candidate_sites(
        city, bounds, which=candidates, furniture=furniture, max_roofs=max_roofs, exclude=fixed
    )
    # each site on its ground, as run_study stands it (0 m on flat ground)
    fixed = sites_on_ground(fixed, city)
    cands = sites_on_ground(cands, city)
    if k > len(cands):
        # what would offer more: more roofs where the roof limit was reached, the other class
        roofs = {c.site_id.partition("c")[0] for c in cands if c.site_id.startswith("R")}
        more = [f"a larger --max-roofs (now {max_roofs})"] if len(roofs) >= max_roofs else []
        if candidates != "both":
            more.append("--candidates both")
        hint = f" or give {' or '.join(more)}" if more else ""
        raise InputError(
            f"--sites: {k} is more than the {len(cands)} {_CLASS_WORDS[candidates]} candidates of "
            f"{city.name}; choose at most {len(cands)}{hint}"
        )
    # the study's grid (no receiver on water with grid.water = "drop"), so that a layout's
    # exact objective is what twin run gives for the same sites
    g = sc.grid
    grid = with_indoor_distance(study_grid(city, bounds, sc), city, sc)
    timings["setup"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    all_sites = [*cands, *fixed]
    ground = city_ground(city)
    rx = np.column_stack([grid.x_m, grid.y_m, grid.rx_height_m])
    tx = np.array([(s.x_m, s.y_m, s.height_m) for s in all_sites], dtype=float).reshape(-1, 3)
    mode: Literal["fast", "exact"] = "fast" if sc.radio.visibility == "fast" else "exact"
    # the study's rule (twin.tiles.tile_los): the prisms on the terrain's datum, then the
    # terrain itself
    los = los_on_ground(
        city_prisms(city), ground, rx, grid.building_id, tx,
        [s.ground_m for s in all_sites], mode=mode,
    )  # fmt: skip
    rx_ground = None if ground is None else ground.receivers_m(grid.x_m, grid.y_m, grid.building_id)
    timings["visibility"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    params = radio_params(sc)
    # the candidates' fading fields under the ids they take when chosen (chosen_id), so the
    # written variant meets the fading the search scored
    named = [replace(c, site_id=chosen_id(c)) for c in cands]
    shadow = shadow_unit_fields(grid, [*named, *fixed], los, params)
    problem = build_problem(
        grid, los, cands, freq_ghz=band_ghz, params=params, objective=objective, fixed=fixed,
        shadow_unit=shadow, rx_ground_m=rx_ground,
    )  # fmt: skip
    timings["link_budget"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    placement = optimise(
        problem, k, shortlist=shortlist, swap_rounds=swap_rounds, progress=progress
    )
    timings["search"] = round(time.perf_counter() - t0, 3)
    hex_score = problem.evaluate(hex_pick(problem, k, bounds))
    rand = {seed: problem.evaluate(random_pick(problem, k, seed=seed)) for seed in random_seeds}
    label = band_label(band_ghz)
    name = variant_name or f"opt_{objective}_{label}_k{k}"
    how = "added to the existing sites" if keep_existing else "replacing the scenario's sites"
    text = variant_toml(
        name,
        description=(
            f"{k} sites chosen by twin optimize for {objective} at {band_ghz:g} GHz among "
            f"{len(cands)} {_CLASS_WORDS[candidates]} candidates, {how}"
        ),
        add_sites=placement.sites,
        remove_sites=[] if keep_existing else [s.site_id for s in existing],
        crs=city.crs,
        radio={"bands_ghz": [float(band_ghz)]},
        comment=(
            f"{objective} at {band_ghz:g} GHz with {k} sites: {placement.score.value:.6g} "
            f"(grid spacing {g.spacing_m:g} m)\n"
            f"append to the scenario file, then: twin run SCENARIO --variant {name} "
            f"--spacing {g.spacing_m:g}"
        ),
    )
    return Optimization(
        scenario=sc, city=city, bounds=bounds, problem=problem, placement=placement,
        hex=hex_score, random=rand, variant_name=name, variant=text,
        keep_existing=keep_existing, timings_s=timings,
    )  # fmt: skip


def compare_run_folders(
    run_a: str | Path,
    run_b: str | Path,
    *,
    threshold_db: float | None = None,
    building_share: float = 0.9,
) -> Comparison:
    """Read two ``twin run`` folders and compare B with A (:func:`twin.compare.compare`).

    Raises
    ------
    InputError
        When the runs are of different cities or grids or their receivers differ (the
        message names both folders and what differs), or share no band.
    """
    from twin.compare import DELTA_METRICS, check_runs, common_bands, compare
    from twin.sources.run_folder import read_run_folder

    # of the grid layer only what the comparison reads (not the serving cells, LoS, path
    # loss and power of every band)
    needed = ("sinr_db", "capacity_mbps", "user_type")
    a = read_run_folder(run_a, grid_metrics=needed)
    b = read_run_folder(run_b, grid_metrics=needed)
    # the checks before the rasters are read (compare repeats them: 0.06 s)
    check_runs(a.meta, b.meta, a.grid, b.grid, threshold_db=threshold_db)
    bands = common_bands(a.meta, b.meta)
    ra = {(m, band): a.raster(m, band) for band in bands for m in DELTA_METRICS}
    rb = {(m, band): b.raster(m, band) for band in bands for m in DELTA_METRICS}
    return compare(
        a.meta, b.meta, ra, rb, a.grid, b.grid, a.buildings, b.buildings,
        threshold_db=threshold_db, building_share=building_share,
    )  # fmt: skip
