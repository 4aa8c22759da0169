"""What a column of twin's outputs holds, read from its name (pure).

A column's name ends in its unit (``sinr_db``, ``capacity_mbps``, ``height_m``), then,
for a per-band column, the band's label (``sinr_db_3p5``: :func:`twin.bands.band_label`),
then, in what ``twin compare`` writes, the run (``_a``, ``_b``, or ``_delta``: B - A).
:func:`column_unit` gives the unit (one table of suffixes, :data:`UNITS`, for the CSV
tables' CSVW metadata, :mod:`twin.io.tables`, and the GeoPackage's, :mod:`twin.io.vector`);
:func:`column_text` a title and a description, hand-written for the fields of the run's
and the comparison's layers (docs/outputs.md), from the unit alone for any other column.
No unit is guessed for a name without a suffix of :data:`UNITS` (a count: ``users``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from twin.bands import MAX_FREQ_GHZ, MIN_FREQ_GHZ

__all__ = [
    "FRACTION",
    "UNITS",
    "ColumnName",
    "ColumnText",
    "column_text",
    "column_unit",
    "split_name",
]

#: the unit of a fraction from 0 to 1
FRACTION = "fraction (0 to 1)"

#: Column-name suffix -> unit (CSVW's ``schema:unitText``); the longest suffix that
#: matches wins (``_dbm`` over ``_m``)
UNITS = {
    "_mbps": "Mbit/s",
    "_dbm": "dBm",
    "_db": "dB",
    "_dbi": "dBi",
    "_ghz": "GHz",
    "_mhz": "MHz",
    "_km2": "km2",
    "_km": "km",
    "_m": "m",
    "_s": "s",
    "_deg": "degrees",
    "_share": FRACTION,
}

#: fractions from 0 to 1 whatever their names end in: the word ``share`` (``share``,
#: ``covered_share``, ``los_share_city``), a building's ``indoor_covered_<b>``, a
#: probability ``p_los_...`` (not a count such as ``buildings_indoor_covered``)
_FRACTION = re.compile(r"(?:^|_)share(?:_|$)|^indoor_covered(?:_|$)|^p_los_")

#: the run a column of ``twin compare`` is of: its name's last part -> words
_RUNS = {"a": "run A", "b": "run B", "delta": "run B minus run A"}
_RUN = re.compile(r"_(a|b|delta)$")
#: a band's label at the end of a name (``_3p5``, ``_28``)
_BAND = re.compile(r"_(\d+(?:p\d+)?)$")


@dataclass(frozen=True)
class ColumnName:
    """A column's name in its parts: ``indoor_capacity_mbps_3p5_delta`` is the stem
    ``indoor_capacity_mbps`` of band ``3p5``, run ``delta``."""

    stem: str
    band: str | None = None
    run: str | None = None

    @property
    def band_ghz(self) -> float | None:
        """The band's frequency, GHz (``3p5`` -> 3.5), or None."""
        return None if self.band is None else float(self.band.replace("p", "."))


def split_name(name: str) -> ColumnName:
    """``name`` in its parts (:class:`ColumnName`): a last part ``a``, ``b`` or ``delta``
    is the run, then a band label between :data:`twin.bands.MIN_FREQ_GHZ` and
    :data:`~twin.bands.MAX_FREQ_GHZ` GHz the band (``p_los_umi_38901`` has none)."""
    stem, run, band = name, None, None
    m = _RUN.search(stem)
    if m and m.start() > 0:
        stem, run = stem[: m.start()], m.group(1)
    m = _BAND.search(stem)
    if m and m.start() > 0 and MIN_FREQ_GHZ <= float(m.group(1).replace("p", ".")) <= MAX_FREQ_GHZ:
        stem, band = stem[: m.start()], m.group(1)
    return ColumnName(stem, band, run)


def column_unit(name: str) -> str | None:
    """The unit of column ``name`` from its stem (:func:`split_name`): :data:`FRACTION`
    for a share, a probability or a building's indoor coverage, else that of the
    longest suffix of :data:`UNITS` it ends in, else None."""
    stem = split_name(name).stem
    if _FRACTION.search(stem):
        return FRACTION
    hits = [s for s in UNITS if stem.endswith(s)]
    return UNITS[max(hits, key=len)] if hits else None


@dataclass(frozen=True)
class ColumnText:
    """What a GeoPackage records of a column (:func:`twin.io.vector.write_gpkg`):
    ``title`` (GDAL's alternative name, QGIS's alias) and ``description`` (GDAL's
    comment, QGIS's too), both with the unit where there is one; ``unit``
    (:func:`column_unit`)."""

    title: str
    description: str
    unit: str | None


#: stem -> (title, meaning) of the fields of the run's and the comparison's layers; a title
#: is never the field's name but for its case (GDAL then reads no alternative name)
_TEXTS: dict[str, tuple[str, str]] = {
    "building_id": (
        "Building id",
        "The building's number in the city model (0 to n-1); null for none",
    ),
    "osm_id": ("OSM id", "The OpenStreetMap element (way/123, relation/4055); null for none"),
    "name": ("OSM name", "OSM name; null where OSM gives none"),
    "site_id": ("Site id", "The site's id"),
    "band": (
        "Band label",
        "Band label: the frequency in GHz, p for the decimal point (3p5: 3.5 GHz)",
    ),
    "freq_ghz": ("Frequency", "Carrier frequency"),
    "indoor": ("Indoor receiver", "True inside a building"),
    "height_m": ("Height", "Height above the ground"),
    "min_height_m": (
        "Bottom height",
        "Bottom of a raised part above the ground (0 for a part on the ground)",
    ),
    "height_source": (
        "Height source",
        "Where the height comes from: height, levels, type_default or default",
    ),
    "ground_m": ("Ground", "The ground under it, on the DEM's datum (SRTM's: the EGM96 geoid)"),
    "indoor_points": (
        "Indoor points",
        "Number of grid points inside the building (street receivers not counted)",
    ),
    "indoor_covered": (
        "Indoor coverage",
        "Share of the building's indoor grid points whose SINR is at least the threshold; "
        "null without indoor points",
    ),
    "indoor_capacity_mbps": (
        "Indoor capacity",
        "Mean capacity of the building's indoor grid points; null without indoor points",
    ),
    "best_band": (
        "Best band",
        "The band of the highest indoor mean capacity; null without indoor points",
    ),
    "model": ("Propagation model", "TR 38.901 scenario: uma, umi or rma"),
    "placed_by": (
        "Placed by",
        "What placed the site: a layout, file, scenario, variant, moved or optimizer",
    ),
    "power_dbm": ("Transmit power", "Transmit power per cell"),
    "gain_dbi": ("Antenna gain", "Antenna gain"),
    "azimuths_deg": (
        "Sector azimuths",
        "Sector azimuths separated by ';'; null for one omnidirectional cell",
    ),
    "bands_ghz": (
        "Bands",
        "The bands the site transmits, separated by ';'; null for every band of the run",
    ),
    "drawn": ("Drawn as", "area (as drawn) or line (an open way, buffered by its width)"),
    "width_m": ("Width", "The width a line was buffered by; null for an area"),
    "rx_height_m": ("Receiver height", "Receiver above the ground"),
    "row": (
        "Raster row",
        "Raster row of a grid point (the GeoTIFFs' cell); null for a street receiver",
    ),
    "col": (
        "Raster column",
        "Raster column of a grid point (the GeoTIFFs' cell); null for a street receiver",
    ),
    "indoor_distance_m": (
        "Indoor distance",
        "Distance to the block's facade (TR 38.901's d_2D-in); null outdoors",
    ),
    "serving": ("Serving site", "site_id of the serving cell's site; null where no cell serves"),
    "los": ("Line of sight", "True when the serving site is in line of sight"),
    "path_loss_db": ("Path loss", "Path loss to the serving site"),
    "rsrp_dbm": (
        "Received power",
        "The serving cell's received power over its whole carrier "
        "(not 3GPP's per-resource-element RSRP)",
    ),
    "sinr_db": ("SINR", "Signal to interference plus noise ratio of the serving cell"),
    "capacity_mbps": ("Capacity", "Shannon capacity"),
    "user_type": ("User type", "User type 1 to 8 (NLoS/LoS, indoor/outdoor, edge/centre)"),
    "cell_id": (
        "Cell id",
        "The cell's id: the site's id, <site_id>/<k> for the k-th sector of a sectored site",
    ),
    "azimuth_deg": ("Sector azimuth", "Sector azimuth; null for an omnidirectional cell"),
    "subband": ("Sub-band", "Reuse sub-band, 0 to reuse - 1"),
    "area_km2": (
        "Best-server area",
        "The area the cell serves best (grid points served x the grid's cell)",
    ),
    "users": (
        "Users of the cell",
        "Users in the cell's area (radio.bandwidth = seed); null with fixed",
    ),
    "bandwidth_mhz": ("Bandwidth", "The cell's bandwidth; null where it serves no receiver"),
    "receivers": ("Receivers served", "Receivers (grid and street) the cell serves"),
    "highway": ("Street kind", "OSM highway tag (values joined by ';' where an edge has several)"),
    "length_m": ("Length", "Length of the street edge"),
    "drive": ("Drivable", "True for a street cars may use (what the hex-street layout reads)"),
    "under_cover": (
        "Under cover",
        "True for a way with no open sky above it (OSM tunnel, covered or indoor other than "
        "no): it takes no street receiver and no street pole",
    ),
    "on_bridge": (
        "On a bridge",
        "True for a way on a bridge (OSM bridge other than no): its street receivers stand "
        "on the deck",
    ),
    "change": (
        "Coverage change",
        "gained (covered in run B, not in run A) or lost (the other way round); "
        "covered: SINR at least the threshold",
    ),
}

#: (layer, stem) -> (title, meaning) where a layer's field means more than :data:`_TEXTS` says
_LAYER_TEXTS: dict[tuple[str, str], tuple[str, str]] = {
    ("grid", "kind"): (
        "Receiver kind",
        "grid (a point of the regular grid) or street (a street receiver)",
    ),
    ("coverage_changes", "kind"): (
        "Receiver kind",
        "grid (a point of the regular grid) or street (a street receiver)",
    ),
    ("buildings", "kind"): ("Building kind", "OSM building tag (yes, apartments, roof, ...)"),
    ("water", "kind"): (
        "Water kind",
        "sea (from OSM's coastline, within the city's extent) or water (a water area)",
    ),
    ("buildings", "height_m"): ("Height", "Top of the building (or of the part) above the ground"),
    ("sites", "height_m"): ("Antenna height", "Antenna above the ground"),
    ("grid", "building_id"): (
        "Building id",
        "The building the receiver stands in; null outdoors and for a street receiver",
    ),
    ("coverage_changes", "building_id"): (
        "Building id",
        "The building the receiver stands in; null outdoors and for a street receiver",
    ),
    ("sites", "building_id"): (
        "Building id",
        "The building whose roof the antenna stands on; null for none",
    ),
}


def column_text(name: str, *, layer: str | None = None) -> ColumnText | None:
    """The title and description of column ``name`` of ``layer`` (pure).

    A field of the run's or the comparison's layers gets its hand-written title and
    meaning (a layer's own where its field means more: ``kind``, ``height_m``), with the
    band, the run and the unit added: ``sinr_db_3p5`` -> "SINR at 3.5 GHz (dB)",
    "Signal to interference plus noise ratio of the serving cell. Band 3.5 GHz.
    Unit: dB."; ``capacity_mbps_a`` -> "Capacity, run A (Mbit/s)". Any other column
    with a unit (:func:`column_unit`) gets its name and unit, "foo_db (dB)", "Unit: dB.";
    one with neither, None.
    """
    parts = split_name(name)
    unit = column_unit(name)
    text = _LAYER_TEXTS.get((layer, parts.stem)) if layer else None
    text = text or _TEXTS.get(parts.stem)
    shown = "0 to 1" if unit == FRACTION else unit
    if text is None:
        if unit is None:
            return None
        return ColumnText(f"{name} ({shown})", f"Unit: {unit}.", unit)
    label, meaning = text
    title, sentences = label, [meaning.rstrip(".") + "."]
    if parts.band_ghz is not None:
        title += f" at {parts.band_ghz:g} GHz"
        sentences.append(f"Band {parts.band_ghz:g} GHz.")
    if parts.run is not None:
        title += f", {_RUNS[parts.run]}"
        sentences.append(_RUNS[parts.run][0].upper() + _RUNS[parts.run][1:] + ".")
    if unit is not None:
        title += f" ({shown})"
        sentences.append(f"Unit: {unit}.")
    return ColumnText(title, " ".join(sentences), unit)
