"""``twin optimize``: choose K sites for one band among generated candidates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from twin.cli.options import (
    check_interrupt,
    default_scenario_path,
    mark_written,
    scenario_inputs,
)


def _fmt(objective: str, value: float) -> str:
    return f"{value:.2f} Mbps" if objective == "capacity" else f"{100 * value:.2f} %"


@click.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sites", "k", type=int, required=True, help="Number of sites K to choose.")
@click.option("--band", "band", type=float, required=True, help="Band in GHz (e.g. 3.5).")
@click.option(
    "--objective",
    type=click.Choice(["coverage", "capacity", "indoor"]),
    default="coverage",
    show_default=True,
    help="coverage: share of receivers with SINR >= threshold; capacity: mean capacity; "
    "indoor: share of indoor points covered.",
)
@click.option(
    "--candidates",
    type=click.Choice(["rooftops", "streets", "both"]),
    default="both",
    show_default=True,
    help="rooftops: roofs and roof corners of the tallest buildings (UMa); streets: "
    "intersections and OSM street furniture (UMi poles).",
)
@click.option(
    "--keep-existing",
    is_flag=True,
    help="Keep the scenario's sites and add K sites to them (default: K sites replace them).",
)
@click.option("--spacing", type=float, help="Grid spacing in metres (> 0).")
@click.option(
    "--max-roofs",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Tallest roofs with a candidate in the area considered (1 or more).",
)
@click.option("--name", "name", help="Name of the written variant (default opt_<obj>_<band>_k<K>).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default out/<scenario>-optimize-<variant name>: not the folder "
    "`twin run --variant` writes, out/<scenario>-<variant name>).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing non-empty output folder.")
def optimize(
    scenario: Path | None,
    k: int,
    band: float,
    objective: str,
    candidates: str,
    keep_existing: bool,
    spacing: float | None,
    max_roofs: int,
    name: str | None,
    out: Path | None,
    overwrite: bool,
) -> None:
    """Choose K sites for band F that maximise an objective on SCENARIO's city.

    Candidates are generated on the city; the search is greedy with a swap search after
    it, on the received power of every candidate (real LoS and link budget). Writes the
    chosen sites (GeoJSON), a variant for `twin run --variant`, the objective after each
    site and the hexagonal and random reference layouts.
    """
    from twin.bands import band_label, parse_bands
    from twin.errors import InputError
    from twin.io.atomic import check_not_inside, check_output_dir
    from twin.io.optimize_outputs import write_optimization
    from twin.scenario import VARIANT_NAME
    from twin.sources.scenario_file import read_scenario
    from twin.whatif import optimize_scenario

    path = scenario if scenario is not None else default_scenario_path()
    sc = read_scenario(path)
    (freq,) = parse_bands([band], name="--band")
    if spacing is not None and spacing <= 0:
        raise InputError(f"--spacing: {spacing} m is not allowed; give a spacing > 0 m")
    if k < 1:
        raise InputError(f"--sites: {k} is not allowed; give 1 or more sites")
    vname = name or f"opt_{objective}_{band_label(freq)}_k{k}"
    if not re.match(VARIANT_NAME, vname):
        raise InputError(f"--name: {vname!r} is not allowed; use letters, digits, _ . -")
    # not out/<scenario>-<variant>: that is where `twin run --variant` writes the variant
    out_dir = out if out is not None else Path("out") / f"{sc.name}-optimize-{vname}"
    check_not_inside(out_dir, scenario_inputs(path, sc))
    check_output_dir(out_dir, overwrite=overwrite)

    def show(row: dict[str, Any]) -> None:
        what = f"replaces {row['replaced']}" if row.get("replaced") else "added"
        cls = f"({row['class']})"
        click.echo(
            f"  {row['phase']:>6} {row['step']:>2}: {row['candidate']:<9} {cls:<21} "
            f"{what:<17} {objective} {_fmt(objective, row['value'])}, mean capacity "
            f"{row['mean_capacity_mbps']:.2f} Mbps"
        )

    words = {"rooftops": "rooftop", "streets": "street", "both": "rooftop and street"}
    click.echo(
        f"optimising {k} sites for {objective} at {freq:g} GHz ({words[candidates]} candidates)"
    )
    opt = optimize_scenario(
        sc,
        k=k,
        band_ghz=freq,
        objective=objective,
        candidates=candidates,
        keep_existing=keep_existing,
        spacing_m=spacing,
        max_roofs=max_roofs,
        variant_name=vname,
        progress=show,
    )
    check_interrupt()
    summary = write_optimization(opt, out_dir, overwrite=overwrite, before_commit=check_interrupt)
    mark_written(out_dir)
    p = opt.placement
    click.echo(f"wrote {out_dir}/ ({p.n_candidates} candidates, {p.evaluations} exact evaluations)")
    click.echo(f"  chosen:   {_fmt(objective, p.score.value)}")
    click.echo(f"  hex:      {_fmt(objective, opt.hex.value)}")
    click.echo(
        f"  random:   mean {_fmt(objective, summary['random_mean_value'])}, best "
        f"{_fmt(objective, summary['random_best_value'])} ({len(opt.random)} seeds)"
    )
    layouts = [p.score, opt.hex, *opt.random.values()]
    if objective != "capacity" and all(s.value >= 1.0 for s in layouts):
        # a share every layout fills: the search ranked by its tie-breaker alone
        what = "receivers" if objective == "coverage" else "indoor grid points"
        tie = "mean capacity" if objective == "coverage" else "indoor mean capacity"
        best_random = max(s.tie for s in opt.random.values()) if opt.random else float("nan")
        click.echo(
            f"  note:     every layout covers all {what} (SINR >= "
            f"{opt.scenario.radio.sinr_threshold_db:g} dB), so {objective} cannot tell them "
            f"apart and the sites were ranked by {tie}: chosen {p.score.tie:.2f}, hex "
            f"{opt.hex.tie:.2f}, best random {best_random:.2f} Mbps; --objective capacity "
            "ranks by capacity alone"
        )
    click.echo(
        f"  run it:   append {out_dir}/variant.toml to {path}, then "
        f"twin run {path} --variant {vname} --spacing {opt.scenario.grid.spacing_m:g} "
        f"(it writes out/{sc.name}-{vname}/)"
    )
