"""The targets of ``twin bench`` over several saved reports: how often each one held.

Not a test: it reads reports saved by ``twin bench --json > FILE`` (the project keeps
its own in ``benchmarks/results/``) and prints one Markdown row per target and per
reading of it: the threshold, in how many runs it held, the latest value, the median and
the range. Every value is read from the reports' ``targets`` (computed by
:func:`twin.benchmark.check_targets` when the run was measured); whether it holds is
decided here, against :data:`twin.benchmark.TARGETS`, the same way for every reading,
so the stricter readings that ``twin bench`` reports beside a target (the scaling
studies run again in their process, anonymous memory, dask with a 1 km radius) are
counted too.

Usage::

    .venv/bin/python benchmarks/targets_over_runs.py [benchmarks/results/*.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.benchmark import TARGETS

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Reading:
    """One way of reading a target: where its value is in a report's ``targets``, and
    the side of the threshold that holds."""

    target: str
    how: str
    key: str
    field: str
    threshold: float
    at_most: bool = True
    unit: str = "x"
    #: ``under`` the threshold (the times: "under 30 s"), not ``at most``
    strict: bool = False

    def value(self, targets: dict[str, Any]) -> float | None:
        got = targets.get(self.key, {}).get(self.field)
        return None if got is None else float(got)

    def holds(self, value: float) -> bool:
        if not self.at_most:
            return value >= self.threshold
        return value < self.threshold if self.strict else value <= self.threshold

    def fmt(self, value: float) -> str:
        """``value`` as the table shows it, with the reading's unit."""
        return _number(value, self.unit) + (" %" if self.unit == "" else self.unit)


T = TARGETS
READINGS = (
    Reading("embedded city, cold first run < 30 s", "`twin run`, empty numba cache",
            "cold_first_run_under_30_s", "value_s", T["first_run_s"], unit=" s", strict=True),
    Reading("embedded city, first run < 30 s", "`twin run`, numba cache warm",
            "first_run_under_30_s", "value_s", T["first_run_s"], unit=" s", strict=True),
    Reading("cached what-if re-run: a few seconds (< 10 s)", "`twin run --bands 3.5,28`",
            "cached_rerun_few_s", "value_s", T["rerun_s"], unit=" s", strict=True),
    Reading(">= 1.0x gdal_viewshed per site", "wall time, both cores",
            "visibility_vs_gdal_per_site", "value", T["visibility_speedup"], at_most=False),
    Reading(">= 1.0x gdal_viewshed per site", "CPU time",
            "visibility_vs_gdal_per_site", "cpu_value", T["visibility_speedup"], at_most=False),
    Reading(">= 99.5 % agreement with exact LoS", "fewest agreeing of the sites",
            "visibility_vs_gdal_per_site", "agreement_min", T["visibility_agreement"],
            at_most=False, unit=""),
    Reading("4x the area <= 4.5x the time, 1 km radius", "as users run it (fresh processes)",
            "4x_area_time_fixed_radius", "value", T["area_time_ratio"]),
    Reading("4x the area <= 4.5x the time, 1 km radius", "run again in its process",
            "4x_area_time_fixed_radius", "warm_value", T["area_time_ratio"]),
    Reading("4x the area <= 4.5x the time, automatic radius", "as users run it",
            "4x_area_time_auto_radius", "value", T["area_time_ratio"]),
    Reading("4x the area <= 4.5x the time, automatic radius", "run again in its process",
            "4x_area_time_auto_radius", "warm_value", T["area_time_ratio"]),
    Reading("4x the area <= 1.3x the peak memory, 1 km radius", "resident (`VmHWM`)",
            "4x_area_peak_memory_fixed_radius", "value", T["area_peak_ratio"]),
    Reading("4x the area <= 1.3x the peak memory, 1 km radius", "anonymous (`RssAnon`)",
            "4x_area_peak_memory_fixed_radius", "anon_value", T["area_peak_ratio"]),
    Reading("4x the area <= 1.3x the peak memory, 1 km radius", "anonymous, `--scratch`",
            "4x_area_peak_memory_fixed_radius", "scratch_anon_value", T["area_peak_ratio"]),
    Reading("4x the area <= 1.3x the peak memory, automatic radius", "resident (`VmHWM`)",
            "4x_area_peak_memory_auto_radius", "value", T["area_peak_ratio"]),
    Reading("4x the area <= 1.3x the peak memory, automatic radius", "anonymous (`RssAnon`)",
            "4x_area_peak_memory_auto_radius", "anon_value", T["area_peak_ratio"]),
    Reading("2 dask workers >= 1.7x one worker", "automatic radius, median of paired turns",
            "2_vs_1_dask_workers", "value", T["dask_speedup"], at_most=False),
    Reading("2 dask workers >= 1.7x one worker", "automatic radius, fastest of each",
            "2_vs_1_dask_workers", "best_of_each", T["dask_speedup"], at_most=False),
    Reading("2 dask workers >= 1.7x one worker", "1 km radius, median of paired turns",
            "2_vs_1_dask_workers", "fixed_radius_value", T["dask_speedup"], at_most=False),
)  # fmt: skip


def load_reports(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The reports in ``paths`` (files, or folders of ``*.json``), oldest first by the
    date each one records."""
    files: list[Path] = []
    for p in paths:
        if not p.exists():
            raise SystemExit(f"{p}: no such file or folder")
        files.extend(sorted(p.glob("*.json")) if p.is_dir() else [p])
    if not files:
        raise SystemExit(f"no report found in {', '.join(map(str, paths))}")
    reports = []
    for f in files:
        try:
            report = json.loads(f.read_text(encoding="utf-8"))
            if not isinstance(report["machine"]["date"], str):
                raise ValueError("no date")
            targets = report["targets"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{f}: not a `twin bench --json` report ({exc})") from exc
        if not targets:
            raise SystemExit(
                f"{f}: a report of no target (every case skipped: --no-embedded "
                "--no-viewshed --no-scaling)"
            )
        reports.append(report)
    return sorted(reports, key=lambda r: str(r["machine"]["date"]))


def rows(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per reading measured in at least one report: its values in the reports'
    order, how many hold, the latest, median and range."""
    out = []
    for r in READINGS:
        values = [v for rep in reports if (v := r.value(rep["targets"])) is not None]
        if not values:
            continue
        out.append({
            "reading": r,
            "values": values,
            "held": sum(r.holds(v) for v in values),
            "latest": values[-1],
            "median": statistics.median(values),
            "low": min(values),
            "high": max(values),
        })  # fmt: skip
    return out


def _number(value: float, unit: str) -> str:
    if unit == "":  # a share, shown in per cent
        return f"{100 * value:.2f}"
    return f"{value:.1f}" if unit == " s" else f"{value:.2f}"


def markdown(reports: Sequence[dict[str, Any]]) -> str:
    """The rows as a Markdown table, after a line naming the runs."""
    first, last = reports[0]["machine"], reports[-1]["machine"]
    lines = [
        f"{len(reports)} runs of `twin bench --json`, {first['date']} to {last['date']}",
        "",
        "| target | reading | threshold | runs holding | latest | median | range |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows(reports):
        r: Reading = row["reading"]
        sign = ">=" if not r.at_most else "<" if r.strict else "<="
        lines.append(
            f"| {r.target} | {r.how} | {sign} {r.fmt(r.threshold)} | "
            f"{row['held']} of {len(row['values'])} | {r.fmt(row['latest'])} | "
            f"{r.fmt(row['median'])} | {_number(row['low'], r.unit)}-{r.fmt(row['high'])} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "reports", nargs="*", type=Path, default=[RESULTS_DIR],
        help="`twin bench --json` reports, or folders of them (default: benchmarks/results)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    print(markdown(load_reports(args.reports)))


if __name__ == "__main__":
    main(sys.argv[1:])
