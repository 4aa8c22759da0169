"""Check a folder's CSV tables against their CSVW metadata with an independent CSVW
processor (the ``csvw`` package): every ``.csv`` has its ``-metadata.json``, the processor
finds it, reads the table with the declared types, and the metadata carries the folder's
provenance and the OSM attribution."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import csvw

from twin import OSM_ATTRIBUTION
from twin.io.tables import ODBL_URL


def _same(typed: Any, text: str) -> bool:
    if text == "" or text.lower() == "nan":  # NaN: declared a null (twin.io.tables)
        return typed is None
    if text in ("INF", "-INF"):
        return typed == float(text)
    if isinstance(typed, bool):
        return str(typed).lower() == text.lower()
    if isinstance(typed, int):
        return typed == int(text)
    if isinstance(typed, float):
        return typed == float(text)
    return str(typed) == text


def check_csv_tables(folder: Path, provenance: dict[str, str], *, osm: bool = True) -> list[str]:
    """Assert the CSVW contract for every CSV in ``folder``; return their names. ``osm``:
    the tables derive from OSM data (the attribution and licence are required)."""
    names = sorted(p.name for p in folder.glob("*.csv"))
    assert names, f"no CSV in {folder}"
    for name in names:
        path = folder / name
        meta = path.with_name(name + "-metadata.json")
        assert meta.is_file(), f"{name}: no {meta.name}"
        # the processor starting from the CSV looks the metadata up by itself; what it
        # only warns about (an invalid column name, say) fails the check
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            found = csvw.CSVW(str(path))
            table = found.tables[0]
            typed = list(table.iterdicts())
        assert found.is_valid, (name, found.warnings)
        assert not found.no_metadata, name
        props = table.common_props
        if osm:
            assert props["dc:rights"] == OSM_ATTRIBUTION == provenance["attribution"]
            assert props["dc:license"] == {"@id": ODBL_URL}
            assert provenance["input_sha256"] in props["dc:source"]
        else:
            assert "dc:rights" not in props and "dc:license" not in props
        assert props["dc:creator"] == f"twin {provenance['version']}"
        notes = {n["rdfs:label"]: n["rdf:value"] for n in table.notes}
        assert notes == {k: str(v) for k, v in provenance.items()}
        # typed rows equal the plain rows cell by cell, every column declared in order
        with path.open(newline="", encoding="utf-8") as f:
            plain = list(csv.DictReader(f))
        assert len(typed) == len(plain) > 0, name
        cols = [c.name for c in table.tableSchema.columns]
        assert cols == list(plain[0]), name
        for t_row, p_row in zip(typed, plain, strict=True):
            for c in cols:
                assert _same(t_row[c], p_row[c]), (name, c, t_row[c], p_row[c])
    return names
