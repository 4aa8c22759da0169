"""Pick the reader for a city source (file path, ``place:NAME`` or ``bbox:W,S,E,N``)."""

from __future__ import annotations

from pathlib import Path

from twin.city.model import RawCity
from twin.errors import SourceError
from twin.sources.footprints import FOOTPRINT_SUFFIXES, is_footprint_file, read_footprints
from twin.sources.osm import OSM_SUFFIXES, is_osm_file, read_osm, read_place


def read_city(source: str | Path) -> RawCity:
    """Read any supported city source into a :class:`RawCity`.

    ``source`` is an OSM file, a footprint file, ``place:Some Town, Country`` or
    ``bbox:west,south,east,north`` (lon/lat; the last two download through osmnx).
    """
    text = str(source)
    if text.startswith("place:"):
        return read_place(text[len("place:") :].strip())
    if text.startswith("bbox:"):
        try:
            w, s, e, n = (float(v) for v in text[len("bbox:") :].split(","))
        except ValueError:
            raise SourceError(f"{text}: expected bbox:west,south,east,north in degrees") from None
        return read_place((w, s, e, n))
    path = Path(text)
    if is_osm_file(path):
        return read_osm(path)
    if is_footprint_file(path):
        return read_footprints(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    raise SourceError(
        f"{path}: unknown city file type; allowed: {', '.join(OSM_SUFFIXES + FOOTPRINT_SUFFIXES)}, "
        "place:NAME or bbox:W,S,E,N"
    )
