"""``twin compare``: what changes from run A to run B (two ``twin run`` output folders)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("run_a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default out/compare-<A>-vs-<B>); not one of the runs, nor inside "
    "or around one.",
)
@click.option(
    "--threshold",
    "threshold_db",
    type=float,
    help="SINR threshold of coverage in dB, for receivers and buildings alike, from -30 "
    "to 60 as in a scenario (default: the runs' own; needed when they differ).",
)
@click.option(
    "--building-share",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.9,
    show_default=True,
    help="A building counts as covered indoors when at least this share of its indoor "
    "points is covered.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing non-empty output folder.")
def compare(
    run_a: Path,
    run_b: Path,
    out: Path | None,
    threshold_db: float | None,
    building_share: float,
    overwrite: bool,
) -> None:
    """Compare RUN_B with RUN_A (output folders of `twin run` on the same city and grid).

    Writes B - A GeoTIFFs of capacity and SINR per band (with QGIS styles and PNG maps), a
    GeoPackage of the receivers that gained or lost coverage and of the buildings'
    indoor coverage, and a table (CSV and markdown) with A, B and B - A. Runs of
    different cities or grids, or whose receivers differ, are refused. Only the bands
    of both runs are compared; a note names the others. Each run is named by its
    scenario, or, for two runs of one scenario, by the scenario and the command-line
    options in which their recorded commands differ (--terrain flat; not those that
    change no result, such as --out or --workers, nor any when both runs record the same
    settings), else by the settings in which their summary.json differs, else by their
    folders.
    """
    from twin.cli.options import check_interrupt, mark_written
    from twin.compare import check_threshold
    from twin.io.atomic import check_not_inside, check_output_dir
    from twin.io.compare_outputs import write_comparison
    from twin.whatif import compare_run_folders

    if threshold_db is not None:
        check_threshold(threshold_db, name="--threshold")
    out_dir = out if out is not None else Path("out") / f"compare-{run_a.name}-vs-{run_b.name}"
    check_not_inside(out_dir, {"run A": run_a, "run B": run_b})
    check_output_dir(out_dir, overwrite=overwrite)
    cmp = compare_run_folders(
        run_a, run_b, threshold_db=threshold_db, building_share=building_share
    )
    check_interrupt()
    write_comparison(cmp, out_dir, overwrite=overwrite, before_commit=check_interrupt)
    mark_written(out_dir)
    label_a, label_b = cmp.labels
    click.echo(f"wrote {out_dir}/ (B = {label_b} minus A = {label_a})")
    note = cmp.band_note()
    if note is not None:
        click.echo(f"  note: {note}")
    t = cmp.table
    for band, counts in cmp.counts().items():
        row = t[(t["band"] == band) & (t["user_type"] == "all")].set_index("metric")
        cov = row.loc["covered_share"]
        cap = row.loc["mean_capacity_mbps"]
        click.echo(
            f"  {band:>4} GHz: covered {100 * cov['a']:5.1f} % -> {100 * cov['b']:5.1f} %, "
            f"mean capacity {cap['a']:8.2f} -> {cap['b']:8.2f} Mbps "
            f"({cap['delta']:+.2f}); receivers gained {counts['gained']}, lost {counts['lost']}"
        )
