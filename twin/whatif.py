"""What-if studies: run a scenario or one of its variants on a city (orchestration).

:func:`run_variant` is what ``twin run SCENARIO --variant NAME`` does: it applies the
variant's grid and radio changes (:func:`twin.variants.apply_variant`), resolves the
scenario's sites on the city and applies the site edits of the variant chain
(:func:`variant_sites`), then runs :func:`twin.study.run_study` with those sites.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from twin.city.model import CityModel
from twin.layouts import generate_layout
from twin.scenario import Scenario, with_overrides
from twin.sites import Site, check_sites_in_area
from twin.study import StudyResult, load_scenario_city, run_study, scenario_sites, study_bounds
from twin.variants import apply_variant, resolve_sites, variant_chain

__all__ = ["run_variant", "variant_sites"]


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
        ``bounds``.
    """
    sites = scenario_sites(scenario, city, bounds)
    for name, v in variant_chain(scenario, variant):
        generated: list[Site] = []
        for k, layout in enumerate(v.add_layouts):
            generated += generate_layout(layout, city, bounds, index=k)
        where = f"variants.{name}"
        sites = resolve_sites(sites, v, city.crs, generated=generated, where=where)
        check_sites_in_area(sites, bounds, where=where)
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
