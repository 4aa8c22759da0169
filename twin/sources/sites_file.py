"""Read site tables: CSV (``lon``, ``lat`` columns) or GeoJSON points.

Required: ``lon``, ``lat`` (or a GeoJSON point), ``height_m`` (antenna above ground, m) and
``power_dbm``. Optional: ``site_id``, ``model`` (uma/umi/rma, default uma), ``gain_dbi``
(default 15), ``azimuths_deg`` (degrees clockwise from true north) and ``bands_ghz``
(lists separated by ``;``, empty = omni / every band). A CSV may start with a byte order
mark (spreadsheets write one); values are stripped of spaces, a blank optional cell takes
the default, a blank required one and a file separated by ``;`` are refused with a
message that says so.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twin.errors import SourceError
from twin.scenario import SiteEntry

REQUIRED = ("lon", "lat", "height_m", "power_dbm")
OPTIONAL = ("site_id", "model", "gain_dbi", "azimuths_deg", "bands_ghz")


def _split(value: Any, key: str) -> tuple[float, ...]:
    """A list cell (``0;120;240``, a JSON list or one number) as floats; empty: ()."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    if isinstance(value, list | tuple):
        parts = list(value)
    elif isinstance(value, int | float):
        parts = [value]
    else:
        parts = [v for v in str(value).replace(",", ";").split(";") if v.strip()]
    out = []
    for v in parts:
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            empty = "omnidirectional" if key == "azimuths_deg" else "every band"
            raise ValueError(
                f"{key}: {v!r} is not a number (numbers separated by ';'; empty: {empty})"
            ) from None
    return tuple(out)


def _got(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "the cell is empty"
    return f"got {value!r}"


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _entry(row: dict[str, Any], where: str, i: int) -> SiteEntry:
    data: dict[str, Any] = {
        "site_id": _text(row.get("site_id")) or f"F{i + 1:02d}",
        "lon": row["lon"],
        "lat": row["lat"],
        "height_m": row["height_m"],
        "power_dbm": row["power_dbm"],
    }
    for key in ("model", "gain_dbi"):
        if _text(row.get(key)):
            data[key] = row[key].strip() if isinstance(row[key], str) else row[key]
    try:
        data["azimuths_deg"] = _split(row.get("azimuths_deg"), "azimuths_deg")
        data["bands_ghz"] = _split(row.get("bands_ghz"), "bands_ghz")
        return SiteEntry.model_validate(data)
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, ValidationError):
            msg = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} ({_got(e.get('input'))})"
                for e in exc.errors()
            )
        else:
            msg = str(exc)
        raise SourceError(f"{where}: site {i + 1} ({data['site_id']}): {msg}") from None


def read_sites_file(path: str | Path) -> list[SiteEntry]:
    """Read a CSV or GeoJSON sites file into validated entries (lon/lat in degrees)."""
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"{p}: no such sites file")
    rows: list[dict[str, Any]]
    suffix = p.suffix.lower()
    if suffix == ".csv":
        # utf-8-sig: a spreadsheet's byte order mark is not part of the first column's name
        try:
            with open(p, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                columns = [c.strip() for c in (reader.fieldnames or [])]
                rows = [{k.strip(): v for k, v in r.items() if k is not None} for r in reader]
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{p}: not UTF-8 text (a byte {exc.object[exc.start]:#04x} that UTF-8 does "
                'not allow there: Latin-1 or a Windows code page?); save it as "CSV UTF-8" '
                "or UTF-8 text"
            ) from None
        if len(columns) == 1 and ";" in columns[0]:
            raise SourceError(
                f"{p}: the columns are separated by ';' ({columns[0]!r}); a sites CSV is "
                "separated by ',' with '.' as the decimal point (required columns: "
                f"{', '.join(REQUIRED)})"
            )
    elif suffix in (".geojson", ".json"):
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceError(f"{p}: not valid UTF-8 JSON ({exc})") from None
        rows = []
        for feat in doc.get("features", []):
            geom = feat.get("geometry") or {}
            if geom.get("type") != "Point":
                raise SourceError(f"{p}: every feature must be a Point (lon, lat)")
            props = dict(feat.get("properties") or {})
            props["lon"], props["lat"] = geom["coordinates"][:2]
            rows.append(props)
        columns = sorted({k for r in rows for k in r})
    else:
        raise SourceError(f"{p}: sites file must be .csv or .geojson, not {suffix or 'no suffix'}")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise SourceError(
            f"{p}: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED)}; "
            f"optional: {', '.join(OPTIONAL)}"
        )
    if not rows:
        raise SourceError(f"{p}: holds no sites")
    entries = [_entry(r, str(p), i) for i, r in enumerate(rows)]
    ids = [e.site_id for e in entries]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SourceError(f"{p}: duplicate site_id {', '.join(dup)}")
    return entries
