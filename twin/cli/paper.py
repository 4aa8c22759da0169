"""``twin paper``: the seed study's analytic model, side by side with its published Table 5.

Examples::

    twin paper                          # UMa and UMi, Table-5-shaped text
    twin paper --scenario all --json    # plus the suburban Hata/SUI ratios
    twin paper --scenario all --out results/paper   # CSV, PNG, reproduction_report.md
    twin paper --assume interferer_los=false        # another reading of an unstated choice
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from twin.cli.options import mark_written
from twin.errors import InputError
from twin.paper import (
    PaperAssumptions,
    SuburbanCurves,
    UrbanReproduction,
    reproduce_urban,
    run_suburban,
    suburban_summary,
    urban_summary,
)

SCENARIO_CHOICES = ("uma", "umi", "suburban", "all")


def _parse_value(name: str, raw: str, current: object) -> object:
    if isinstance(current, bool):
        low = raw.strip().lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        raise InputError(f"--assume {name}: {raw!r} is not a boolean (true/false)")
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise InputError(f"--assume {name}: {raw!r} is not an integer") from None
    if isinstance(current, float):
        try:
            return float(raw)
        except ValueError:
            raise InputError(f"--assume {name}: {raw!r} is not a number") from None
    return raw


def parse_assumptions(items: tuple[str, ...]) -> PaperAssumptions:
    """Build :class:`PaperAssumptions` from ``KEY=VALUE`` overrides of the defaults."""
    base = PaperAssumptions()
    fields = {f.name for f in dataclasses.fields(PaperAssumptions)}
    changes: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"--assume: {item!r} is not KEY=VALUE")
        key, raw = (s.strip() for s in item.split("=", 1))
        if key not in fields:
            raise InputError(
                f"--assume: {key!r} is not an assumption; use one of {', '.join(sorted(fields))}"
            )
        changes[key] = _parse_value(key, raw, getattr(base, key))
    if changes.get("o2i_model", "low") not in ("low", "high"):
        raise InputError("--assume o2i_model: use low or high")
    if changes.get("on_range", "error") not in ("error", "clamp", "extrapolate"):
        raise InputError("--assume on_range: use error, clamp or extrapolate")
    return dataclasses.replace(base, **changes)


@click.command("paper")
@click.option(
    "--scenario",
    "scenarios",
    type=click.Choice(SCENARIO_CHOICES, case_sensitive=False),
    multiple=True,
    help="Scenario(s) to run (repeatable); default uma and umi; all adds suburban.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write curves (CSV), plots (PNG) and reproduction_report.md into this directory.",
)
@click.option(
    "--assume",
    "assume",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override an unstated choice of twin.paper.PaperAssumptions (repeatable).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0.0, 1.0),
    default=0.05,
    show_default=True,
    help="Relative tolerance for counting a published value as reproduced.",
)
def paper(
    scenarios: tuple[str, ...],
    as_json: bool,
    out_dir: Path | None,
    assume: tuple[str, ...],
    tolerance: float,
) -> None:
    """Run the seed study's analytic model and compare it with its published Table 5.

    Every choice the study leaves unstated is an explicit assumption (see
    docs/physics.md); the standard's formulas are never adjusted to the published values.
    """
    chosen = {s.lower() for s in scenarios} or {"uma", "umi"}
    if "all" in chosen:
        chosen = {"uma", "umi", "suburban"}
    assumptions = parse_assumptions(assume)
    urban: dict[str, UrbanReproduction] = {}
    for key in ("uma", "umi"):
        if key in chosen:
            urban[key] = reproduce_urban(
                key, assumptions, rel_tol=tolerance, with_sensitivity=out_dir is not None
            )
    suburban: SuburbanCurves | None = run_suburban() if "suburban" in chosen else None

    if as_json:
        doc: dict[str, Any] = {key: urban_summary(list(rep.rows)) for key, rep in urban.items()}
        if suburban is not None:
            doc["suburban"] = suburban_summary(suburban)
        click.echo(json.dumps(doc, indent=2))
    else:
        from twin.io.paper_report import format_table5_text

        blocks = [format_table5_text(rep) for rep in urban.values()]
        if suburban is not None:
            blocks.append(_suburban_text(suburban))
        click.echo("\n\n".join(blocks))

    if out_dir is not None:
        from twin.io.paper_report import write_paper_outputs

        parts = ["twin paper", *(f"--scenario {s}" for s in scenarios)]
        parts += [f"--assume {a}" for a in assume]
        if tolerance != 0.05:
            parts.append(f"--tolerance {tolerance:g}")
        command = " ".join([*parts, f"--out {out_dir}"])
        written = write_paper_outputs(out_dir, urban, suburban, command=command)
        mark_written(out_dir)
        for path in written:
            click.echo(f"wrote {path}", err=True)


def _suburban_text(result: SuburbanCurves) -> str:
    summary = suburban_summary(result)
    lines = ["Suburban: DataRate(2f)/DataRate(f) at distance (km); '-' = outside validity"]
    hata = summary["hata"]
    sui = summary["sui"]
    assert isinstance(hata, dict) and isinstance(sui, dict)

    def fmt(entry: dict[str, Any]) -> str:
        vals = entry["ratio_at_km"]
        return "  ".join(f"{k}:{'-' if v is None else f'{v:.3f}'}" for k, v in vals.items())

    for f, entry in hata["pairs"].items():
        lines.append(f"  Hata {hata['area']:<9} {f:>4} -> {entry['f2_ghz']:g} GHz  {fmt(entry)}")
    for terrain, pairs in sui["terrains"].items():
        for f, entry in pairs.items():
            lines.append(f"  SUI {terrain:<10} {f:>4} -> {entry['f2_ghz']:g} GHz  {fmt(entry)}")
    return "\n".join(lines)
