"""CSV tables with their provenance: each ``NAME.csv`` gets a ``NAME.csv-metadata.json``
beside it, in the W3C's *Metadata Vocabulary for Tabular Data* (CSVW, 2015), the file
name a CSVW processor looks for first.

The CSV stays a plain table of one header row (spreadsheets, pandas and QGIS's delimited
text layer read it as before); the metadata carries what every other output carries
inside itself: the OSM attribution (``dc:rights``, with the ODbL as ``dc:license``), the
run's provenance (``dc:creator``, ``dc:created``, ``dc:source`` and, key by key, in
``notes``), and each column's data type and unit (from its name: ``_mbps``, ``_db``,
``_ghz``, ``_m`` ...: :func:`twin.io.columns.column_unit`), so a CSVW reader (the ``csvw``
package, for one) gets typed values.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twin import OSM_LICENSE_URL
from twin.io.columns import column_unit

__all__ = [
    "ODBL_URL",
    "csv_text",
    "csvw_metadata",
    "metadata_path",
    "metadata_text",
    "write_csv",
    "write_csv_text",
]

#: The licence of data derived from OpenStreetMap (:data:`twin.OSM_LICENSE_URL`).
ODBL_URL = OSM_LICENSE_URL

#: columns that are labels whatever their cells look like (a band named ``28``, a user
#: type ``1`` beside ``all``, an id ``007``); and every column whose name ends in ``_id``
STRING_COLUMNS = frozenset(
    {"band", "user_type", "label", "metric", "phase", "kind", "change", "class", "model",
     "candidate", "replaced", "scenario", "terrain", "site", "placed_by"}
)  # fmt: skip

#: a CSVW column name (CSVW 2015, 5.6: ``name`` is a URI template variable)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


def _cell(value: Any) -> Any:
    """A value as a CSV cell: None and NaN empty (a null), infinities in XML Schema's
    lexical form (``INF``, ``-INF``), the rest as ``csv`` writes it."""
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "INF" if value > 0 else "-INF"
    return value


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as CSV text: a header of ``columns``, then one line per row (None, NaN
    and a missing key: an empty cell; infinities ``INF``, ``-INF``)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return buf.getvalue()


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _cell_kind(text: str) -> str | None:
    """CSVW datatype of one cell's text (None: an empty cell)."""
    t = text.strip()
    if not t:
        return None
    if t in ("True", "False"):
        return "boolean"
    if _INTEGER.fullmatch(t):
        return "integer"
    try:
        float(t)
    except ValueError:
        return "string"
    return "number"


def _column(name: str, cells: Sequence[str]) -> dict[str, Any]:
    """A column's CSVW description: ``string`` for the label columns
    (:data:`STRING_COLUMNS`, ``*_id``), else from its cells as written: ``boolean``
    (``True`` / ``False``, as Python writes them), ``integer``, ``number`` or ``string``."""
    kinds = {k for k in (_cell_kind(c) for c in cells) if k is not None}
    if name in STRING_COLUMNS or name.endswith("_id"):
        kinds = {"string"}
    col: dict[str, Any] = {"name": name, "titles": name}
    if kinds == {"boolean"}:
        col["datatype"] = {"base": "boolean", "format": "True|False"}
    elif kinds == {"integer"}:
        col["datatype"] = "integer"
    elif kinds and kinds <= {"integer", "number"}:
        col["datatype"] = "number"
        # a NaN a caller's own text holds (``csv_text`` writes none): a null
        if any(c.strip().lower() == "nan" for c in cells):
            col["null"] = ["", *sorted({c.strip() for c in cells if c.strip().lower() == "nan"})]
    else:
        col["datatype"] = "string"
    unit = column_unit(name)
    if unit is not None:
        col["schema:unitText"] = unit
    return col


def csvw_metadata(
    file_name: str,
    text: str,
    *,
    title: str,
    provenance: Mapping[str, str],
) -> dict[str, Any]:
    """The CSVW metadata document of the table ``file_name`` whose content is ``text``
    (pure): each column's data type from its cells as written, its unit from its name.

    ``provenance`` is the run's (``version``, ``created``, ``input``, ``input_sha256``,
    ``attribution`` ...: :func:`twin.summary.provenance`); with an ``attribution`` (data
    derived from OSM) the document carries it as ``dc:rights`` with the ODbL as
    ``dc:license``.
    """
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValueError(f"{file_name}: no header row")
    header, body = rows[0], rows[1:]
    bad = [n for n in header if not _NAME.fullmatch(n)]
    if bad:
        raise ValueError(
            f"{file_name}: column name(s) {', '.join(repr(n) for n in bad)} are not CSVW "
            "names (letters, digits and '_', not starting with '_')"
        )
    twice = sorted({n for n in header if header.count(n) > 1})
    if twice:
        raise ValueError(f"{file_name}: column(s) {', '.join(twice)} repeated")
    cols = [
        _column(name, [r[k] if k < len(r) else "" for r in body]) for k, name in enumerate(header)
    ]
    source = provenance.get("input", "")
    if provenance.get("input_sha256"):
        source += f" (sha256 {provenance['input_sha256']})"
    doc: dict[str, Any] = {
        "@context": ["http://www.w3.org/ns/csvw", {"@language": "en"}],
        "url": file_name,
        "dc:title": title,
        "dc:creator": f"{provenance.get('tool', 'twin')} {provenance.get('version', '')}".strip(),
        "dc:created": {"@value": provenance.get("created", ""), "@type": "xsd:dateTime"},
        "dc:source": source,
        "notes": [{"rdfs:label": k, "rdf:value": str(v)} for k, v in provenance.items()],
        "dialect": {"header": True, "delimiter": ",", "lineTerminators": ["\n"]},
        "tableSchema": {"columns": cols, "null": ""},
    }
    if not doc["dc:created"]["@value"]:
        del doc["dc:created"]
    if provenance.get("attribution"):
        doc["dc:rights"] = provenance["attribution"]
        doc["dc:license"] = {"@id": ODBL_URL}
    return doc


def metadata_text(file_name: str, text: str, *, title: str, provenance: Mapping[str, str]) -> str:
    """:func:`csvw_metadata` as the JSON text of ``NAME.csv-metadata.json``."""
    meta = csvw_metadata(file_name, text, title=title, provenance=provenance)
    return json.dumps(meta, indent=2) + "\n"


def metadata_path(csv_path: Path) -> Path:
    """Where a CSVW processor looks for ``csv_path``'s metadata first."""
    return csv_path.with_name(csv_path.name + "-metadata.json")


def write_csv_text(path: Path, text: str, *, title: str, provenance: Mapping[str, str]) -> None:
    """Write the CSV ``text`` to ``path`` and its CSVW metadata beside it
    (:func:`metadata_path`). Meant for a folder written atomically
    (:func:`twin.io.atomic.atomic_output_dir`)."""
    path.write_text(text, encoding="utf-8", newline="")  # "\n" as declared, on Windows too
    metadata_path(path).write_text(
        metadata_text(path.name, text, title=title, provenance=provenance),
        encoding="utf-8",
        newline="",
    )


def write_csv(
    path: Path,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    title: str,
    provenance: Mapping[str, str],
) -> None:
    """Write ``rows`` (:func:`csv_text`) to ``path`` and the CSVW metadata beside it
    (:func:`write_csv_text`)."""
    write_csv_text(path, csv_text(rows, columns), title=title, provenance=provenance)
