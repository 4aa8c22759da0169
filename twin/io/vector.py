"""Vector outputs: GeoJSON (RFC 7946) and GeoPackage, written atomically through GDAL.

GeoJSON is for the web and for quick looks: always lon/lat (EPSG:4326), right-hand rings,
7 decimals (about 1 cm), with the OSM attribution, its licence and the run's provenance as
foreign members of the FeatureCollection (RFC 7946, section 6.1). GeoPackage is for GIS
work: one file, several layers each in its own CRS (the grid stays in the local UTM CRS,
metres), provenance as GDAL layer metadata and as a ``provenance`` table that QGIS lists
next to the layers, and each field's title and description, with its unit, in the
GeoPackage's ``gpkg_data_columns`` (GDAL's field alternative name and comment, QGIS's
alias and comment).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from twin import OSM_ATTRIBUTION, OSM_LICENSE, __version__
from twin.errors import InputError, OutputError
from twin.io.atomic import atomic_path
from twin.io.columns import column_text
from twin.io.scratch import DEFAULT_BUDGET_SHARE

__all__ = ["PROVENANCE_TABLE", "ArrowLayer", "json_safe", "write_geojson", "write_gpkg"]

#: Name of the attribute-only table of :func:`write_gpkg` that holds the provenance.
PROVENANCE_TABLE = "provenance"


#: types whose values are JSON values as they are (exact types: not numpy's, not NaN)
_PLAIN = frozenset({int, str, bool, type(None)})


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars, NaN/inf, paths and dates turned into JSON values.

    NaN and infinities become ``None`` (``null``), numpy scalars and arrays become Python
    numbers and lists, paths and other objects their ``str``, dates ISO 8601 strings;
    mappings and sequences are converted recursively (mapping keys become strings).
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biu":  # bools and integers: the same Python values
            return value.tolist()
        if value.dtype.kind == "f":  # floats at C speed, NaN and infinities as None
            finite = np.isfinite(value)
            if finite.all():
                return value.tolist()
            cells = value.astype(object)
            cells[~finite] = None
            return cells.tolist()
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        # a list of plain values (the web map's columns) is already JSON: one pass
        if all(type(v) in _PLAIN or (type(v) is float and math.isfinite(v)) for v in items):
            return items
        return [json_safe(v) for v in items]
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _cell_text(value: Any) -> str | None:
    """One value of an object column as text: JSON for containers, ``None`` for nulls."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple | set | frozenset | np.ndarray):
        return json.dumps(json_safe(value), ensure_ascii=False)
    return str(value)


def _prepare(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """A copy ready for GDAL: named index kept as a column, object columns as text."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{what}: expected a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise InputError(f"{what}: the GeoDataFrame has no CRS; set one with .set_crs()")
    out = gdf.copy()
    if any(name is not None for name in out.index.names):
        out = out.reset_index()
    geom = out.geometry.name
    out.columns = [str(c) for c in out.columns]
    out = out.set_geometry(str(geom))
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
            out[col] = pd.Series([_cell_text(v) for v in s], index=out.index, dtype=object)
        elif pd.api.types.is_float_dtype(s.dtype) and s.dtype.itemsize < 4:
            out[col] = s.astype(np.float32)
    return out


def write_geojson(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    provenance: Mapping[str, Any] | None = None,
    attribution: str = OSM_ATTRIBUTION,
    license: str | None = OSM_LICENSE,
    precision: int = 7,
) -> Path:
    """Write ``gdf`` as an RFC 7946 GeoJSON FeatureCollection.

    The geometries are reprojected to EPSG:4326 (lon, lat), polygon exteriors made
    counter-clockwise and holes clockwise (the right-hand rule, RFC 7946 section 3.1.6),
    single parts made multi-part where the layer mixes both (:func:`promote_mixed`),
    coordinates rounded to ``precision`` decimals (7 is about 1 cm). NaN and other missing
    values are written as ``null``; a named index (``building_id``) becomes a property.

    Parameters
    ----------
    gdf
        Features in any CRS (it must be set).
    path
        Output file, replaced atomically.
    provenance
        Written as the foreign member ``"twin"`` of the collection (version, scenario,
        input hash, ...). ``None`` writes only the tool version.
    attribution
        Written as the foreign member ``"attribution"``.
    license
        Written as the foreign member ``"license"`` (the ODbL of OSM's data by default;
        None: none, for data that is not OSM's).
    precision
        Decimals of the coordinates.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        When ``gdf`` is not a GeoDataFrame or has no CRS.
    OutputError
        When the folder of ``path`` is missing or GDAL fails.
    """
    import pyogrio

    out = _prepare(gdf, f"write_geojson({os.fspath(path)!r})").to_crs(4326)
    out = out.set_geometry(
        promote_mixed(shapely.orient_polygons(out.geometry.values, exterior_cw=False))
    )
    prov = {"version": __version__, **(dict(provenance) if provenance else {})}
    members: dict[str, Any] = {"attribution": attribution}
    if license is not None:
        members["license"] = license
    members["twin"] = json_safe(prov)
    options: dict[str, str] = {
        "RFC7946": "YES",
        "COORDINATE_PRECISION": str(int(precision)),
        "WRITE_NAME": "NO",
        "WRITE_NON_FINITE_VALUES": "NO",
    }
    native_members = pyogrio.__gdal_version__ >= (3, 9, 0)
    if native_members:
        options["FOREIGN_MEMBERS_COLLECTION"] = json.dumps(members, ensure_ascii=False)
    final = Path(path)
    with atomic_path(final) as tmp:
        try:
            pyogrio.write_dataframe(
                out,
                tmp,
                layer=final.stem,
                driver="GeoJSON",
                layer_options=options,
                use_arrow=True,
            )
        except Exception as exc:  # GDAL errors come as several pyogrio classes
            raise OutputError(f"cannot write GeoJSON {str(final)!r}: {exc}") from exc
        if not native_members:  # GDAL < 3.9: add the members ourselves
            doc = json.loads(tmp.read_text(encoding="utf-8"))
            doc = {"type": doc.pop("type"), **members, **doc}
            tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return final


#: shapely type id of a single geometry -> of its multi-part kind
_MULTI_OF = {0: 4, 1: 5, 3: 6}
_MAKE_MULTI: dict[int, Callable[..., Any]] = {
    0: shapely.multipoints,
    1: shapely.multilinestrings,
    3: shapely.multipolygons,
}


def promote_mixed(geoms: Any) -> np.ndarray:
    """``geoms`` (an array of shapely geometries) with the single parts made multi-part
    when the layer mixes both of one kind (Polygon and MultiPolygon, say), as GDAL does
    for a GeoPackage layer: GDAL then reads the GeoJSON as one geometry type, not
    "Unknown (any)". Otherwise (one type, or several kinds) ``geoms`` as they are."""
    arr = np.asarray(geoms, dtype=object)
    ids = shapely.get_type_id(arr)
    kinds = set(np.unique(ids[ids >= 0]).tolist())
    for single, multi in _MULTI_OF.items():
        if kinds == {single, multi}:
            out = arr.copy()
            one = ids == single
            out[one] = _MAKE_MULTI[single](arr[one].reshape(-1, 1))
            return out
    return arr


def write_gpkg(
    layers: Mapping[str, gpd.GeoDataFrame | Iterable[gpd.GeoDataFrame] | ArrowLayer],
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
    attribution: str = OSM_ATTRIBUTION,
    license: str | None = OSM_LICENSE,
    index_at_end: bool = False,
) -> Path:
    """Write several layers, each in its own CRS, into one GeoPackage.

    Provenance goes three ways, so that every tool finds it: as GDAL layer metadata of
    every layer (``ogrinfo``, QGIS: Layer Properties > Information), in the layer's
    description (``gpkg_contents.description``), and as an attribute-only table
    ``provenance`` (columns ``key``, ``value``) that QGIS lists beside the layers.
    (No GDAL *dataset* metadata: GDAL then writes a ``.gpkg.aux.xml`` beside the file
    each time it is merely read.)

    Each field of a layer with a unit or a known meaning gets a title and a description
    (:func:`twin.io.columns.column_text`: "SINR at 3.5 GHz (dB)") in the GeoPackage
    Schema extension's ``gpkg_data_columns`` (``name``, ``description``), in the form
    GDAL writes a field's alternative name and comment: GDAL 3.7 and later read them
    as such, and QGIS shows them as the field's alias and comment.

    Parameters
    ----------
    layers
        Layer name -> GeoDataFrame (CRS must be set), or an iterable of GeoDataFrames, the
        layer's parts in order, all with the same columns, dtypes, CRS and geometry
        type: they are written one after the other in one pass, so that a large layer
        (a city's grid) is never whole in memory; or an :class:`ArrowLayer`, such parts
        as Arrow tables. Names must be unique, non-empty and not ``provenance``.
    path
        Output file (``.gpkg``), replaced atomically: layers of an existing file are not kept.
    metadata
        Provenance (version, scenario, input sha256, CRS, date, ...); values are
        converted to text. ``attribution`` and the tool version are always added.
    attribution
        The data attribution written with the provenance.
    license
        The data's licence, written with the provenance as ``license`` and in each
        layer's description (the ODbL of OSM's data by default; None: none).
    index_at_end
        Build each layer's spatial index once its rows are written, in this thread,
        instead of in a thread of GDAL's beside the writing: that one holds the whole
        index in memory (:data:`THREADED_INDEX_BYTES` per feature: +204 MiB for the 6.6
        million points of a 160 km² grid), where this one takes the same memory at any
        size, for 0-25 % more time (:func:`index_at_end_for` chooses). The same file
        either way. GDAL's setting is the process's: writes with it are serialised.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        When there is no layer, a name is empty or reserved, a frame has no CRS, or the
        parts of a layer differ in columns, dtypes, CRS or geometry type.
    OutputError
        When the folder of ``path`` is missing or GDAL fails.
    """
    import pyogrio

    final = Path(path)
    if not layers:
        raise InputError(f"write_gpkg({str(final)!r}): no layer given")
    for name in layers:
        if not name or not str(name).strip():
            raise InputError(f"write_gpkg({str(final)!r}): empty layer name")
        if name.lower() == PROVENANCE_TABLE:
            raise InputError(
                f"write_gpkg({str(final)!r}): layer name {name!r} is reserved for the "
                "provenance table"
            )
    meta: dict[str, str] = {"tool": "twin", "version": __version__}
    for key, value in (metadata or {}).items():
        v = json_safe(value)
        meta[str(key)] = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    meta["attribution"] = attribution
    rights = attribution
    if license is not None:
        meta["license"] = license
        rights += f", {license}"
    whole = {
        name: _prepare(gdf, f"write_gpkg layer {name!r}")
        for name, gdf in layers.items()
        if isinstance(gdf, gpd.GeoDataFrame)
    }
    with atomic_path(final) as tmp, _gdal_config(_AT_END if index_at_end else {}):
        try:
            for name, layer in layers.items():
                options = {"DESCRIPTION": f"twin {__version__}: {name}; {rights}"}
                if name not in whole:
                    _write_parts(layer, tmp, name, meta=meta, options=options)
                    continue
                pyogrio.write_dataframe(
                    whole[name],
                    tmp,
                    layer=name,
                    driver="GPKG",
                    dataset_options=GPKG_DATASET_OPTIONS,
                    use_arrow=True,  # by Arrow batches: 2.4x as fast as feature by feature
                    layer_metadata=meta,
                    layer_options=options,
                )
            table = pd.DataFrame({"key": list(meta), "value": list(meta.values())})
            pyogrio.write_dataframe(
                table,
                tmp,
                layer=PROVENANCE_TABLE,
                driver="GPKG",
                dataset_options=GPKG_DATASET_OPTIONS,
                layer_options={"DESCRIPTION": f"provenance of this file; {rights}"},
            )
            _describe_columns(tmp, list(layers))
        except InputError:
            raise
        except Exception as exc:
            raise OutputError(f"cannot write GeoPackage {str(final)!r}: {exc}") from exc
    return final


#: the tables of the GeoPackage "Schema" extension (``gpkg_schema``) and the table of
#: extensions, as GDAL 3.12 creates them when a field has an alternative name or a comment
_SCHEMA_TABLES = {
    "gpkg_extensions": (
        "CREATE TABLE gpkg_extensions (table_name TEXT,column_name TEXT,"
        "extension_name TEXT NOT NULL,definition TEXT NOT NULL,scope TEXT NOT NULL,"
        "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"
    ),
    "gpkg_data_columns": (
        "CREATE TABLE gpkg_data_columns (table_name TEXT NOT NULL,column_name TEXT NOT NULL,"
        "name TEXT,title TEXT,description TEXT,mime_type TEXT,constraint_name TEXT,"
        "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),"
        "CONSTRAINT gdc_tn UNIQUE (table_name, name))"
    ),
    "gpkg_data_column_constraints": (
        "CREATE TABLE gpkg_data_column_constraints (constraint_name TEXT NOT NULL,"
        "constraint_type TEXT NOT NULL,value TEXT,min NUMERIC,min_is_inclusive BOOLEAN,"
        "max NUMERIC,max_is_inclusive BOOLEAN,description TEXT,"
        "CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value))"
    ),
}

#: the definition GDAL registers the Schema extension with
_SCHEMA_DEFINITION = "http://www.geopackage.org/spec121/#extension_schema"


def _describe_columns(path: Path, layers: Iterable[str]) -> int:
    """Record the title and description of each field of ``layers`` in the GeoPackage
    ``path`` (:func:`twin.io.columns.column_text`; a field with neither a unit nor a
    known meaning gets none) as GDAL 3.12 writes a field's alternative name and
    comment: a row of ``gpkg_data_columns`` with the title as ``name`` (unique in its
    table: a title two fields share gets the field's name after it) and the
    description as ``description`` (``title`` NULL); the table and
    ``gpkg_data_column_constraints`` made when missing, both registered in
    ``gpkg_extensions`` as the extension ``gpkg_schema`` (scope ``read-write``).
    GDAL 3.7 and later read ``name`` as the alternative name (unless it is the
    field's own name) and ``description`` as the comment; ``title`` they neither read
    nor write; GDAL 3.6 reads none of them. Meant for a file being written
    (:func:`write_gpkg`'s temporary one). Returns the rows written."""
    rows = []
    with closing(sqlite3.connect(path)) as db, db:
        for layer in layers:
            geometry = {
                r[0]
                for r in db.execute(
                    "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)
                )
            }
            quoted = '"' + layer.replace('"', '""') + '"'
            texts = {}
            for _, column, _, _, _, pk in db.execute(f"PRAGMA table_info({quoted})").fetchall():
                text = None if pk or column in geometry else column_text(column, layer=layer)
                if text is not None:
                    texts[column] = text
            titles = Counter(t.title for t in texts.values())
            for column, text in texts.items():
                title = text.title if titles[text.title] == 1 else f"{text.title} [{column}]"
                rows.append((layer, column, title, text.description))
        if not rows:
            return 0
        have = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, ddl in _SCHEMA_TABLES.items():
            if table not in have:
                db.execute(ddl)
        for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
            known = db.execute(
                "SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND column_name IS NULL "
                "AND extension_name = 'gpkg_schema'",
                (table,),
            ).fetchone()
            if known is None:
                db.execute(
                    "INSERT INTO gpkg_extensions VALUES (?, NULL, 'gpkg_schema', ?, 'read-write')",
                    (table, _SCHEMA_DEFINITION),
                )
        db.executemany(
            "INSERT INTO gpkg_data_columns (table_name, column_name, name, description) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (table_name, column_name) "
            "DO UPDATE SET name = excluded.name, description = excluded.description",
            rows,
        )
    return len(rows)


#: the GeoPackage version written: 1.2, not the 1.4 of GDAL >= 3.10 (GDAL 3.6, that of
#: QGIS 3.28 on Debian 12, warns that a 1.4 file "may only be partially supported", and
#: its validator misses the 1.4 R-tree triggers); GDAL applies it when the file is made
GPKG_DATASET_OPTIONS = {"VERSION": "1.2"}


#: memory of GDAL's threaded spatial index per feature of a layer, bytes (measured: the
#: grid layer's write took 57 MiB more with it at 1.7 million points, 204 MiB more at
#: 6.6 million): :func:`index_at_end_for` weighs it against the memory available
THREADED_INDEX_BYTES = 36


def index_at_end_for(
    n_features: int, available_bytes: int | None, *, share: float = DEFAULT_BUDGET_SHARE
) -> bool:
    """Whether a layer of ``n_features`` should get its spatial index at the end
    (``write_gpkg(index_at_end=True)``): when GDAL's threaded index would take more than
    ``share`` of the memory available (the memory budget's share, as the study's arrays),
    or when that is not known. The threaded index is faster where a core is free (the
    writer's alone is 20 % slower at 0.4 million points), the other takes the same
    memory at any size."""
    if available_bytes is None:
        return True
    return n_features * THREADED_INDEX_BYTES > share * available_bytes


#: GDAL's setting for ``index_at_end``
_AT_END = {"OGR_GPKG_ALLOW_THREADED_RTREE": "NO"}


#: held while GDAL's configuration is changed for a write (it is the process's)
_CONFIG_LOCK = threading.Lock()


@contextmanager
def _gdal_config(options: Mapping[str, str]) -> Iterator[None]:
    """GDAL configuration ``options`` set for the block, then what they were before.
    GDAL's configuration is the process's: blocks that change it run one at a time (a
    write of another thread meanwhile sees the setting; for ``index_at_end`` that only
    changes when its index is built, not the file)."""
    if not options:
        yield
        return
    from pyogrio import get_gdal_config_option, set_gdal_config_options

    with _CONFIG_LOCK:
        before = {key: get_gdal_config_option(key) for key in options}
        set_gdal_config_options(dict(options))
        try:
            yield
        finally:
            set_gdal_config_options(before)


#: a 2-D point in little-endian WKB: byte order 1, geometry type 1, x, y (21 bytes)
_POINT_WKB = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def point_wkb(x_m: npt.ArrayLike, y_m: npt.ArrayLike) -> Any:
    """Points as an Arrow binary array of their 2-D WKB, made from the coordinates at
    once: the bytes ``shapely.to_wkb`` writes on a little-endian machine, without a
    shapely point each (making those took 0.36 s for 0.4 million points). Fewer than
    2^31 / 21 points at once (the array's 32-bit offsets)."""
    import pyarrow as pa

    x = np.asarray(x_m, dtype=np.float64)
    y = np.asarray(y_m, dtype=np.float64)
    if x.size >= (1 << 31) // _POINT_WKB.itemsize:
        raise ValueError(f"point_wkb: {x.size} points; at most 102 million at once")
    wkb = np.empty(x.size, dtype=_POINT_WKB)
    wkb["order"] = 1
    wkb["type"] = 1
    wkb["x"] = x
    wkb["y"] = y
    offsets = np.arange(0, (x.size + 1) * _POINT_WKB.itemsize, _POINT_WKB.itemsize, dtype=np.int32)
    return pa.BinaryArray.from_buffers(
        pa.binary(), x.size, [None, pa.py_buffer(offsets), pa.py_buffer(wkb.view(np.uint8))]
    )


def _arrow_part(gdf: gpd.GeoDataFrame, what: str) -> tuple[Any, str, Any, str]:
    """A part of a layer as an Arrow table (geometry as WKB), its geometry type, its CRS
    and the name of its geometry column."""
    import pyarrow as pa

    out = _prepare(gdf, what)
    geom = out.geometry.name
    kinds = pd.unique(out.geometry.geom_type.dropna())
    if len(kinds) > 1:
        raise InputError(f"{what}: one geometry type per layer part, got {sorted(kinds)}")
    df = pd.DataFrame(out, copy=False)
    df[geom] = shapely.to_wkb(out.geometry.values)
    table = pa.Table.from_pandas(df, preserve_index=False)
    return table, (str(kinds[0]) if len(kinds) else "Unknown"), out.crs, str(geom)


@dataclass(frozen=True)
class ArrowLayer:
    """A layer given as Arrow tables, its parts in order, all with the same schema:
    for a large layer made straight from arrays (a city's grid), without a GeoDataFrame
    per part. The geometry is WKB in the column ``geometry_name``, of ``geometry_type``
    (``"Point"``, ...) in ``crs`` (a :class:`pyproj.CRS`)."""

    parts: Iterable[Any]
    crs: Any
    geometry_type: str
    geometry_name: str = "geometry"


def _tables(layer: Iterable[gpd.GeoDataFrame] | ArrowLayer, what: str) -> Iterator[Any]:
    """``(table, geometry type, CRS, geometry name)`` of each part of a layer."""
    if isinstance(layer, ArrowLayer):
        for table in layer.parts:
            yield table, layer.geometry_type, layer.crs, layer.geometry_name
        return
    for k, gdf in enumerate(layer):
        yield _arrow_part(gdf, f"{what}, part {k}")


def _write_parts(
    parts: Iterable[gpd.GeoDataFrame] | ArrowLayer,
    path: Path,
    name: str,
    *,
    meta: Mapping[str, str],
    options: Mapping[str, str],
) -> None:
    """A layer given by parts, streamed to GDAL as Arrow record batches in one pass (one
    layer creation, the spatial index built once at the end: appending part by part in
    separate passes took twice as long, the index being updated row by row)."""
    import pyarrow as pa
    from pyogrio.raw import write_arrow

    what = f"write_gpkg layer {name!r}"
    it = _tables(parts, what)
    try:
        first, geometry_type, crs, geometry_name = next(it)
    except StopIteration:
        raise InputError(f"{what}: no part given") from None
    schema = first.schema
    failed: list[BaseException] = []  # GDAL reports only that the stream failed

    def batches() -> Iterator[Any]:
        # anything raised here (a part that disagrees, an error making a part, Ctrl-C)
        # reaches GDAL as a failed stream: it is kept and raised as itself below
        try:
            yield from first.to_batches()
            for k, (table, kind, part_crs, _) in enumerate(it, start=1):
                same = table.schema == schema and part_crs == crs
                if not same or kind not in (geometry_type, "Unknown"):
                    raise InputError(
                        f"{what}, part {k}: its columns, dtypes, CRS or geometry type "
                        f"({kind}) differ from part 0's ({geometry_type})"
                    )
                yield from table.to_batches()
        except BaseException as exc:
            failed.append(exc)
            raise

    epsg = crs.to_epsg()
    try:
        write_arrow(
            pa.RecordBatchReader.from_batches(schema, batches()),
            path,
            layer=name,
            driver="GPKG",
            dataset_options=GPKG_DATASET_OPTIONS,
            geometry_name=geometry_name,
            geometry_type=geometry_type,
            crs=f"EPSG:{epsg}" if epsg else crs.to_wkt("WKT1_GDAL"),
            layer_metadata=dict(meta),
            layer_options=dict(options),
        )
    except Exception as exc:
        if failed:
            raise failed[0] from exc
        raise
    finally:
        # Arrow's allocator (mimalloc) keeps the freed batches' pages for reuse: give
        # them back (21 MiB after the grid layer of a 10 km² city)
        pa.default_memory_pool().release_unused()
