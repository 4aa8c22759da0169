"""``twin link``: path loss of one link and its parts, for checking a model by hand.

Examples::

    twin link --model uma --freq-ghz 3.5 --d2d 100,500,1000 --h-bs 25 --h-ut 1.5 --nlos
    twin link --model umi --freq-ghz 28 --d2d 50 --h-bs 10 --h-ut 9 --los --o2i low --json
    twin link --model hata --freq-ghz 0.9 --d2d 2000 --h-bs 50 --h-ut 1.5 --area suburban
    twin link --model sui --freq-ghz 3.5 --d2d 1000 --h-bs 30 --h-ut 2 --terrain B
"""

from __future__ import annotations

import json
import math
from typing import Any

import click
import numpy as np

from twin.errors import InputError, ModelRangeError
from twin.propagation.hata import hata_path_loss_db
from twin.propagation.o2i import PENETRATION_SIGMA_DB, o2i_loss_db
from twin.propagation.shadowing import O2I_SF_SIGMA_DB
from twin.propagation.sui import SUI_DISTANCE_RANGE_M, sui_path_loss_db
from twin.propagation.tr38901 import (
    ON_RANGE_CHOICES,
    VALIDITY,
    breakpoint_distance_m,
    distance_3d_m,
    evaluated_distance_m,
    los_probability,
    path_loss_db,
    shadow_fading_sigma_db,
)

MODELS = ("uma", "umi", "rma", "hata", "sui")

#: library argument name -> command-line option, for error messages.
_OPTION_NAMES = {
    "freq_ghz": "--freq-ghz",
    "d2d_m": "--d2d",
    "h_bs_m": "--h-bs",
    "h_ut_m": "--h-ut",
    "h_e_m": "--h-e",
    "h_building_m": "--h-building",
    "street_width_m": "--street-width",
    "d_in_m": "--d-in",
}


def _parse_distances(text: str) -> list[float]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise InputError("--d2d: give one or more distances in m, e.g. 50,100,500")
    out = []
    for t in items:
        try:
            out.append(float(t))
        except ValueError:
            raise InputError(
                f"--d2d: {t!r} is not a distance; give numbers in m, e.g. 50,100"
            ) from None
    return out


def _cli_message(exc: InputError) -> str:
    msg = str(exc)
    for arg, opt in _OPTION_NAMES.items():
        if msg.startswith(arg):
            return opt + msg[len(arg) :]
    return msg


def _reject(option: str, value: object, allowed_for: str) -> None:
    if value is not None:
        raise InputError(f"{option} applies only to {allowed_for}")


def _round(x: float, digits: int = 4) -> float | None:
    return round(float(x), digits) if math.isfinite(float(x)) else None


def _compute(
    model: str,
    freq_ghz: float,
    d2d_m: list[float],
    h_bs_m: float,
    h_ut_m: float,
    los: bool,
    o2i: str,
    d_in_m: float,
    area: str,
    terrain: str,
    city_size: str,
    cost231: bool,
    h_e_m: float,
    h_building_m: float,
    street_width_m: float,
    on_range: Any,
) -> list[dict[str, Any]]:
    d = np.asarray(d2d_m, dtype=float)
    extra: dict[str, np.ndarray[Any, Any] | None] = {}
    if model in ("uma", "umi", "rma"):
        pl = path_loss_db(
            model,
            freq_ghz,
            d,
            h_bs_m,
            h_ut_m,
            los,
            h_e_m=h_e_m,
            h_building_m=h_building_m,
            street_width_m=street_width_m,
            on_range=on_range,
        )
        v = VALIDITY[model]
        lo = v.d2d_los_m if los else v.d2d_nlos_m
        d_eval = evaluated_distance_m(d, *lo, on_range)
        bp_kwargs = {"h_e_m": h_e_m} if model == "uma" else {}
        extra["breakpoint_m"] = np.broadcast_to(
            breakpoint_distance_m(model, freq_ghz, h_bs_m, h_ut_m, **bp_kwargs), d.shape
        )
        # an indoor receiver's link (O2I) takes Table 7.5-6's O2I sigma_SF, as the study
        # draws it; an outdoor one Table 7.4.1-1's LoS / NLoS sigma
        sigma_sf = (
            shadow_fading_sigma_db(
                model, los, d2d_m=d_eval, freq_ghz=freq_ghz, h_bs_m=h_bs_m, h_ut_m=h_ut_m
            )
            if o2i == "none"
            else O2I_SF_SIGMA_DB[model]
        )
        extra["shadow_sigma_db"] = np.broadcast_to(sigma_sf, d.shape)
        extra["los_probability"] = (
            los_probability(model, d_eval, h_ut_m=h_ut_m) if h_ut_m <= 23.0 else None
        )
    elif model == "hata":
        pl = hata_path_loss_db(
            freq_ghz,
            d,
            h_bs_m,
            h_ut_m,
            area=area,
            city_size=city_size,
            cost231=cost231,
            on_range=on_range,
        )
        d_eval = evaluated_distance_m(d, 1000.0, 20000.0, on_range)
    else:
        pl = sui_path_loss_db(freq_ghz, d, h_bs_m, h_ut_m, terrain=terrain, on_range=on_range)
        d_eval = evaluated_distance_m(d, *SUI_DISTANCE_RANGE_M, on_range)
    o2i_db = o2i_loss_db(o2i, freq_ghz, d_in_m=d_in_m) + np.zeros_like(d)
    d3d = distance_3d_m(d_eval, h_bs_m, h_ut_m)
    rows = []
    for k in range(d.size):
        row: dict[str, Any] = {
            "model": model,
            "freq_ghz": freq_ghz,
            "d2d_m": float(d[k]),
            "d2d_evaluated_m": float(d_eval[k]),
            "d3d_m": _round(d3d[k]),
            "h_bs_m": h_bs_m,
            "h_ut_m": h_ut_m,
        }
        if model in ("uma", "umi", "rma"):
            row["los"] = los
            for key, arr in extra.items():
                row[key] = None if arr is None else _round(arr[k])
        elif model == "hata":
            row["area"] = area
            row["city_size"] = city_size
            row["cost231"] = cost231
        else:
            row["terrain"] = terrain
        row["o2i"] = o2i
        row["d_in_m"] = d_in_m
        row["path_loss_db"] = _round(pl[k])
        row["o2i_db"] = _round(o2i_db[k])
        if o2i != "none":
            row["o2i_sigma_db"] = PENETRATION_SIGMA_DB[o2i]
        row["total_db"] = _round(pl[k] + o2i_db[k])
        rows.append(row)
    return rows


def _format_table(rows: list[dict[str, Any]]) -> str:
    r0 = rows[0]
    desc = [f"model {r0['model']}", f"{r0['freq_ghz']:g} GHz", f"h_BS {r0['h_bs_m']:g} m"]
    desc.append(f"h_UT {r0['h_ut_m']:g} m")
    if "los" in r0:
        desc.append("LoS" if r0["los"] else "NLoS")
    if "area" in r0:
        desc.append(f"{r0['area']} ({r0['city_size']}{', COST-231' if r0['cost231'] else ''})")
    if "terrain" in r0:
        desc.append(f"terrain {r0['terrain']}")
    desc.append(f"O2I {r0['o2i']}" + (f" (d_in {r0['d_in_m']:g} m)" if r0["o2i"] != "none" else ""))
    cols = [("d2D (m)", "d2d_m"), ("d3D (m)", "d3d_m")]
    if "breakpoint_m" in r0:
        cols.append(("d_BP (m)", "breakpoint_m"))
    cols += [("PL (dB)", "path_loss_db"), ("O2I (dB)", "o2i_db"), ("total (dB)", "total_db")]
    if "shadow_sigma_db" in r0:
        cols.append(("sigma_SF (dB)", "shadow_sigma_db"))
    if "o2i_sigma_db" in r0:
        cols.append(("sigma_P (dB)", "o2i_sigma_db"))
    if r0.get("los_probability") is not None:
        cols.append(("Pr(LoS)", "los_probability"))
    lines = [", ".join(desc), "  ".join(f"{h:>13}" for h, _ in cols)]
    for r in rows:
        cells = []
        for _, key in cols:
            v = r.get(key)
            cells.append(f"{'n/a':>13}" if v is None else f"{v:>13.2f}")
        if r["d2d_evaluated_m"] != r["d2d_m"]:
            cells.append(f"(evaluated at {r['d2d_evaluated_m']:g} m)")
        lines.append("  ".join(cells))
    return "\n".join(lines)


@click.command("link")
@click.option(
    "--model",
    required=True,
    type=click.Choice(MODELS, case_sensitive=False),
    help="Propagation model: TR 38.901 uma/umi/rma, Okumura-Hata, SUI.",
)
@click.option("--freq-ghz", required=True, type=float, help="Carrier frequency in GHz.")
@click.option("--d2d", "d2d", required=True, help="2D distance(s) in m, comma-separated.")
@click.option("--h-bs", "h_bs_m", required=True, type=float, help="BS antenna height in m.")
@click.option("--h-ut", "h_ut_m", required=True, type=float, help="UE antenna height in m.")
@click.option(
    "--los/--nlos",
    "los",
    default=None,
    help="Line of sight (TR 38.901 models only; default NLoS).",
)
@click.option(
    "--o2i",
    type=click.Choice(("none", "low", "high"), case_sensitive=False),
    default="none",
    show_default=True,
    help="TR 38.901 clause 7.4.3 O2I penetration model (mean loss, no random part: its "
    "sigma_P is printed, and sigma_SF is then the O2I one of Table 7.5-6).",
)
@click.option("--d-in", "d_in_m", type=float, default=None, help="Indoor distance in m (O2I).")
@click.option(
    "--area",
    type=click.Choice(("urban", "suburban", "open"), case_sensitive=False),
    default=None,
    help="Hata environment (hata only; default urban).",
)
@click.option(
    "--city-size",
    type=click.Choice(("small_medium", "large")),
    default=None,
    help="Hata mobile height correction (hata only; default small_medium).",
)
@click.option("--cost231", is_flag=True, default=False, help="COST-231 Hata, 1.5-2 GHz.")
@click.option(
    "--terrain",
    type=click.Choice(("A", "B", "C"), case_sensitive=False),
    default=None,
    help="SUI terrain category (required with --model sui).",
)
@click.option("--h-e", "h_e_m", type=float, default=None, help="UMa h_E in m (default 1).")
@click.option("--h-building", "h_building_m", type=float, default=None, help="RMa h (default 5).")
@click.option(
    "--street-width", "street_width_m", type=float, default=None, help="RMa W (default 20)."
)
@click.option(
    "--on-range",
    type=click.Choice(ON_RANGE_CHOICES),
    default="error",
    show_default=True,
    help="Values outside a model's validity: fail, clamp distances into the range, raise "
    "them to its minimum only (as twin run does), or evaluate as written.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def link(
    model: str,
    freq_ghz: float,
    d2d: str,
    h_bs_m: float,
    h_ut_m: float,
    los: bool | None,
    o2i: str,
    d_in_m: float | None,
    area: str | None,
    city_size: str | None,
    cost231: bool,
    terrain: str | None,
    h_e_m: float | None,
    h_building_m: float | None,
    street_width_m: float | None,
    on_range: str,
    as_json: bool,
) -> None:
    """Path loss of a link and its parts (basic path loss, O2I, total).

    With --json, prints one JSON object per distance (a list for several) with keys
    d2d_m, path_loss_db, o2i_db and total_db, and the model's other terms.
    """
    model = model.lower()
    o2i = o2i.lower()
    if model != "sui":
        _reject("--terrain", terrain, "--model sui")
    if model != "hata":
        _reject("--area", area, "--model hata")
        _reject("--city-size", city_size, "--model hata")
        if cost231:
            raise InputError("--cost231 applies only to --model hata")
    if model not in ("uma", "umi", "rma"):
        _reject("--los/--nlos", los, "the TR 38.901 models (uma, umi, rma)")
    if model != "uma":
        _reject("--h-e", h_e_m, "--model uma")
    if model != "rma":
        _reject("--h-building", h_building_m, "--model rma")
        _reject("--street-width", street_width_m, "--model rma")
    if model == "sui" and terrain is None:
        raise InputError("--terrain is required with --model sui (A, B or C)")
    if d_in_m is not None and o2i == "none":
        raise InputError("--d-in needs --o2i low or high")
    try:
        rows = _compute(
            model,
            freq_ghz,
            _parse_distances(d2d),
            h_bs_m,
            h_ut_m,
            bool(los) if los is not None else False,
            o2i,
            d_in_m if d_in_m is not None else 0.0,
            (area or "urban").lower(),
            (terrain or "B").upper(),
            city_size or "small_medium",
            cost231,
            1.0 if h_e_m is None else h_e_m,
            5.0 if h_building_m is None else h_building_m,
            20.0 if street_width_m is None else street_width_m,
            on_range,
        )
    except ModelRangeError as exc:
        raise ModelRangeError(_cli_message(exc)) from exc
    except InputError as exc:
        raise InputError(_cli_message(exc)) from exc
    if as_json:
        click.echo(json.dumps(rows[0] if len(rows) == 1 else rows, indent=2))
    else:
        click.echo(_format_table(rows))
