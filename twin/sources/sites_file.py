"""Read site tables: CSV (``lon``, ``lat`` columns) or GeoJSON points.

Required: ``lon``, ``lat`` (or a GeoJSON point), ``height_m`` (antenna above ground, m) and
``power_dbm``. Optional: ``site_id``, ``model`` (uma/umi/rma, default uma), ``gain_dbi``
(default 15), ``azimuths_deg`` (degrees clockwise from true north) and ``bands_ghz``
(lists separated by ``;``, empty or null = omni / every band). A CSV may start with a byte order
mark (spreadsheets write one); values are stripped of spaces, a blank optional cell takes
the default, a blank required one, a file separated by ``;`` and a row with more or
fewer fields than the header (azimuths separated by ``,``) are refused with a message
that says so. Other columns are ignored (logged; a run's ``sites.geojson``, with
``placed_by`` and ``building_id``, reads back as a sites file), except one that looks
like a misspelt known column (``azimuth``, ``Lon``, ``power``), which is refused. A
GeoJSON file is a FeatureCollection of Points (or one Feature).
"""

from __future__ import annotations

import csv
import difflib
import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twin.errors import SourceError
from twin.scenario import SiteEntry, describe_error

log = logging.getLogger(__name__)

REQUIRED = ("lon", "lat", "height_m", "power_dbm")
OPTIONAL = ("site_id", "model", "gain_dbi", "azimuths_deg", "bands_ghz")
#: columns a run's or an optimisation's ``sites.geojson`` writes that are not site
#: settings: such a file reads back as a sites file with them ignored
WRITTEN = ("placed_by", "building_id", "ground_m", "rank", "candidate", "class")
#: common names of the coordinates that difflib does not find close
_ALIASES = {"longitude": "lon", "lng": "lon", "long": "lon", "latitude": "lat"}


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
                f"{'.'.join(str(p) for p in e['loc'])}: {describe_error(e, SiteEntry)} "
                f"({_got(e.get('input'))})"
                for e in exc.errors()
            )
        else:
            msg = str(exc)
        raise SourceError(f"{where}: site {i + 1} ({data['site_id']}): {msg}") from None


def _read_csv(p: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows of a sites CSV; a row whose number of fields is not the
    header's is refused (commas inside a list cell split it into fields)."""
    # utf-8-sig: a spreadsheet's byte order mark is not part of the first column's name
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            columns = [c.strip() for c in header]
            if len(columns) == 1 and ";" in columns[0]:
                raise SourceError(
                    f"{p}: the columns are separated by ';' ({columns[0]!r}); a sites CSV is "
                    "separated by ',' with '.' as the decimal point (required columns: "
                    f"{', '.join(REQUIRED)})"
                )
            repeated = sorted({c for c in columns if c and columns.count(c) > 1})
            if repeated:
                raise SourceError(
                    f"{p}: column(s) {', '.join(repr(c) for c in repeated)} appear more than "
                    "once in the header; give each column once (which one holds the value "
                    "is not known)"
                )
            rows: list[dict[str, Any]] = []
            for fields in reader:
                if not fields:
                    continue  # a blank line
                if len(fields) != len(columns):
                    more = len(fields) > len(columns)
                    hint = (
                        "; lists inside a cell are separated by ';' (0;120;240), not ','"
                        if more
                        else "; give every column a cell (an empty one for a default)"
                    )
                    raise SourceError(
                        f"{p}: row {len(rows) + 1} (line {reader.line_num}) has "
                        f"{len(fields)} fields but the header has {len(columns)} "
                        f"({', '.join(columns)}){hint}"
                    )
                rows.append(dict(zip(columns, fields, strict=True)))
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{p}: not UTF-8 text (a byte {exc.object[exc.start]:#04x} that UTF-8 does "
            'not allow there: Latin-1 or a Windows code page?); save it as "CSV UTF-8" '
            "or UTF-8 text"
        ) from None
    return columns, rows


def _read_geojson(p: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns (properties) and rows of a GeoJSON FeatureCollection of Points (or of
    one Feature); ``lon`` and ``lat`` from each point."""
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{p}: not valid UTF-8 JSON ({exc})") from None
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "Feature":
        features: Any = [doc]
    elif kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise SourceError(
                f"{p}: the FeatureCollection's 'features' is {_json_kind(features)}, not a "
                "list of Point features"
            )
        if not features:
            raise SourceError(f"{p}: holds no sites (a FeatureCollection with no features)")
    else:
        what = f"a GeoJSON {kind}" if isinstance(kind, str) else _json_kind(doc)
        raise SourceError(
            f"{p}: holds {what}, not a GeoJSON FeatureCollection of Point features "
            "(one per site, its settings in the properties)"
        )
    rows = []
    for n, feat in enumerate(features, start=1):
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            raise SourceError(f"{p}: feature {n} is {_json_kind(feat)}, not a GeoJSON Feature")
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            raise SourceError(f"{p}: feature {n}: properties is {_json_kind(props)}, not an object")
        props = dict(props)
        named = f" ({props['site_id']})" if props.get("site_id") is not None else ""
        geom = feat.get("geometry")
        gtype = geom.get("type") if isinstance(geom, dict) else None
        if gtype != "Point":
            got = f"a {gtype}" if isinstance(gtype, str) else "none"
            raise SourceError(
                f"{p}: feature {n}{named} has no Point geometry (got {got}); every site is "
                "a Point [lon, lat]"
            )
        coords = geom.get("coordinates")  # type: ignore[union-attr]
        if not (
            isinstance(coords, list)
            and len(coords) >= 2
            and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords[:2])
        ):
            raise SourceError(
                f"{p}: feature {n}{named}: a Point needs 2 coordinates [lon, lat] in "
                f"degrees, got {json.dumps(coords)}"
            )
        props["lon"], props["lat"] = coords[:2]
        rows.append(props)
    return sorted({k for r in rows for k in r}), rows


def _json_kind(value: Any) -> str:
    """What a JSON value is, for a message: 'a list', 'a number', 'null', ..."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        kind = value.get("type")
        return f"an object of type {kind!r}" if isinstance(kind, str) else "an object"
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _check_columns(p: Path, columns: list[str], *, geojson: bool = False) -> None:
    """Refuse a column that looks like a misspelt known one (``azimuth``, ``Lon``,
    ``power``); log the other unknown ones, which are ignored. In GeoJSON the position
    is the geometry's: a property that looks like a coordinate (``Longitude``, ``lat``
    of a QGIS export) is ignored, not refused."""
    known = REQUIRED + OPTIONAL
    # a known name without its unit (``azimuth``, ``power``, ``power_w``): its stem
    # (``azimuths`` of ``azimuths_deg``) begins with the column, or the column is the stem
    # and another unit (not ``bandwidth``, ``owner``: difflib finds those close to a stem)
    stems = {k.rsplit("_", 1)[0]: k for k in known if "_" in k and k != "site_id"}
    unknown = [c for c in columns if c not in known and c not in WRITTEN]
    for c in unknown:
        name = c.lower().strip()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        by_stem = [
            k
            for stem, k in stems.items()
            if (len(name) >= 4 and stem.startswith(name)) or name.startswith(f"{stem}_")
        ]
        meant = _ALIASES.get(name) or (close or by_stem or [None])[0]
        if name == "site":
            meant = "site_id"
        if geojson and meant in ("lon", "lat"):
            continue
        if meant is not None:
            raise SourceError(
                f"{p}: column {c!r} is not known; did you mean {meant!r}? known columns: "
                f"{', '.join(known)} (required: {', '.join(REQUIRED)})"
            )
    ignored = [c for c in columns if c not in known]
    if ignored:
        log.info(
            "%s: column(s) %s ignored (not site settings; known: %s)",
            p, ", ".join(ignored), ", ".join(known),
        )  # fmt: skip


def read_sites_file(path: str | Path) -> list[SiteEntry]:
    """Read a CSV or GeoJSON sites file into validated entries (lon/lat in degrees).

    Columns other than the known ones are ignored (logged), unless one looks like a
    misspelt known column (``azimuth`` for ``azimuths_deg``), which is refused.
    """
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"{p}: no such sites file")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        columns, rows = _read_csv(p)
    elif suffix in (".geojson", ".json"):
        columns, rows = _read_geojson(p)
    else:
        raise SourceError(f"{p}: sites file must be .csv or .geojson, not {suffix or 'no suffix'}")
    if not rows:
        raise SourceError(f"{p}: holds no sites")
    _check_columns(p, columns, geojson=suffix in (".geojson", ".json"))
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise SourceError(
            f"{p}: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED)}; "
            f"optional: {', '.join(OPTIONAL)}"
        )
    entries = [_entry(r, str(p), i) for i, r in enumerate(rows)]
    ids = [e.site_id for e in entries]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SourceError(f"{p}: duplicate site_id {', '.join(dup)}")
    return entries
