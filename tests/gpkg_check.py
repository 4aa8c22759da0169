"""A GeoPackage's field titles and descriptions as GDAL reads them back (each field's
alternative name and comment, which QGIS shows as its alias and comment), and the
GeoPackage Schema extension that holds them as registered in ``gpkg_extensions``."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pyogrio


def field_texts(path: Path, layer: str) -> dict[str, tuple[str | None, str | None]]:
    """Each field of ``layer`` -> (alternative name, comment) as GDAL reads them: the
    field metadata of the layer's Arrow schema (``GDAL:OGR:alternative_name``,
    ``GDAL:OGR:comment``), None where GDAL has none."""
    meta, table = pyogrio.raw.read_arrow(path, layer=layer, max_features=0)
    out: dict[str, tuple[str | None, str | None]] = {}
    for field in table.schema:
        if field.name == meta["geometry_name"]:
            continue
        md = field.metadata or {}
        alt, comment = md.get(b"GDAL:OGR:alternative_name"), md.get(b"GDAL:OGR:comment")
        out[field.name] = (
            None if alt is None else alt.decode(),
            None if comment is None else comment.decode(),
        )
    return out


def schema_extension(path: Path) -> list[tuple[str, str | None, str, str, str]]:
    """The rows of ``gpkg_extensions`` that register the Schema extension, sorted."""
    with closing(sqlite3.connect(path)) as db:
        return sorted(
            db.execute(
                "SELECT table_name, column_name, extension_name, definition, scope "
                "FROM gpkg_extensions WHERE extension_name = 'gpkg_schema'"
            )
        )


#: what :func:`schema_extension` gives for a file with described fields, as GDAL writes it
SCHEMA_ROWS = [
    (table, None, "gpkg_schema", "http://www.geopackage.org/spec121/#extension_schema",
     "read-write")
    for table in ("gpkg_data_column_constraints", "gpkg_data_columns")
]  # fmt: skip
