"""``twin bench``: timings, throughput, memory and scaling of the twin on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--synthetic-km2",
    type=click.FloatRange(min=0.05, max=100.0),
    default=2.5,
    show_default=True,
    help="Area of the synthetic city; the scaling measure also runs 4x this area.",
)
@click.option(
    "--radius",
    "radius_m",
    type=click.FloatRange(min=1.0),
    default=1000.0,
    show_default=True,
    help="Fixed site radius (m) of the scaling and dask runs; they also run with the "
    "automatic one (the dask target is checked on the automatic one, the default study).",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1, max=10),
    default=2,
    show_default=True,
    help=(
        "Runs of each scaling case, the cases taking turns; the fastest counts (the "
        "machine may be shared), and the run-again ratio is the median of the turns."
    ),
)
@click.option(
    "--save",
    "save_to",
    type=click.Path(dir_okay=True, file_okay=True, path_type=Path),
    default=None,
    help=(
        "Also write the JSON report to this .json file (it must not exist), or into this "
        "folder as <date>.json (e.g. benchmarks/results/); written whole or not at all."
    ),
)
@click.option("--no-embedded", is_flag=True, help="Skip the runs on the embedded city.")
@click.option("--no-viewshed", is_flag=True, help="Skip the viewshed engines comparison.")
@click.option("--no-scaling", is_flag=True, help="Skip the synthetic-city scaling runs.")
def bench(
    as_json: bool,
    synthetic_km2: float,
    radius_m: float,
    repeat: int,
    no_embedded: bool,
    no_viewshed: bool,
    no_scaling: bool,
    save_to: Path | None,
) -> None:
    """Measure the twin: `twin run` on the embedded city (first run and cached what-if
    re-run), LoS pairs per second, seconds per stage, peak memory (resident, and the
    anonymous memory the studies allocate, without the libraries' mapped files), twin's
    viewshed and gdal_viewshed (when installed) against the exact LoS, 4x the area of a
    synthetic city, and 1 vs 2 local dask workers (automatic and fixed radius). Each case runs in
    its own process; the in-process scaling studies also run a second time there,
    without the process's first-call costs, to show how the work itself grows. The full
    benchmark takes a few minutes; see BENCHMARKS.md for recorded figures.
    """
    from twin.benchmark import check_save_path, format_report, run_benchmark, save_report

    if save_to is not None:
        check_save_path(save_to)  # before minutes of measuring

    def say(step: str) -> None:
        if not as_json:
            click.echo(f"... {step}", err=True)

    report = run_benchmark(
        synthetic_km2=synthetic_km2,
        radius_m=radius_m,
        repeat=repeat,
        embedded=not no_embedded,
        viewshed=not no_viewshed,
        scaling=not no_scaling,
        say=say,
    )
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
    if save_to is not None:
        click.echo(f"report saved to {save_report(report, save_to)}", err=True)
