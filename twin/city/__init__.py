"""The city model: 2.5D buildings with heights, the streets and (OSM) their graph, in UTM."""

from __future__ import annotations

from twin.city.model import CityModel, RawCity, SourceInfo, build_city

__all__ = ["CityModel", "RawCity", "SourceInfo", "build_city", "load_city"]


def load_city(path: str, **kwargs: object) -> CityModel:
    """Read a city file (OSM XML/PBF or GeoJSON/GeoPackage footprints) and build the model.

    Keyword arguments go to :func:`build_city` (``storey_height_m``, ``default_height_m``,
    ``min_area_m2``, ...).
    """
    from twin.sources.load import read_city

    return build_city(read_city(path), **kwargs)  # type: ignore[arg-type]
