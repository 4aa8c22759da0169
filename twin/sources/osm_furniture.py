"""Street furniture from an OSM file: points where a small cell could be mounted.

The city model holds buildings and streets only; the placement optimiser also considers
the poles and structures that OSM maps as nodes:

=======================  ===========================  =======================
kind                     OSM tag                      typical mounting height
=======================  ===========================  =======================
``street_lamp``          ``highway=street_lamp``      lamp post
``utility_pole``         ``man_made=utility_pole``    pole
``advertising_column``   ``advertising=column``       column
``mast``                 ``man_made=mast``            its ``height`` tag
``tower``                ``man_made=tower``           its ``height`` tag
=======================  ===========================  =======================

Only nodes are read (a tower mapped as a building outline is a building of the city),
and none under cover: tagged ``tunnel``/``covered``/``indoor`` (or ``location`` underground
or indoor), or a node of a way so tagged (a tunnel's lamps): a pole there has no open sky,
as a street under cover takes no street pole.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from twin.city.heights import parse_length_m
from twin.city.model import is_under_cover
from twin.errors import SourceError
from twin.sources.osm import is_osm_file, osm_file, osm_format

__all__ = ["FURNITURE_TAGS", "read_street_furniture"]

#: (key, value) of an OSM node -> furniture kind
FURNITURE_TAGS: dict[tuple[str, str], str] = {
    ("highway", "street_lamp"): "street_lamp",
    ("man_made", "utility_pole"): "utility_pole",
    ("advertising", "column"): "advertising_column",
    ("man_made", "mast"): "mast",
    ("man_made", "tower"): "tower",
}


def read_street_furniture(path: str | Path) -> gpd.GeoDataFrame:
    """The street-furniture nodes of an OSM file (:data:`FURNITURE_TAGS`), in lon/lat.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.gz``, ``.osm.bz2`` or ``.osm.pbf``.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 points with ``kind``, ``osm_id`` (``node/<id>``), ``height_m`` (from the
        ``height`` tag, NaN when absent or unreadable) and ``name``.

    Raises
    ------
    SourceError
        When the file is missing, not an OSM file or unreadable.
    """
    import osmium

    src = Path(path)
    if not src.is_file():
        raise SourceError(f"{src}: no such file")
    if not is_osm_file(src):
        raise SourceError(f"{src}: street furniture is read from OSM files only")
    kinds: list[str] = []
    ids: list[str] = []
    heights: list[float] = []
    names: list[str | None] = []
    lons: list[float] = []
    lats: list[float] = []
    fmt = osm_format(src)
    covered_nodes: set[int] = set()  # nodes of ways under cover (a tunnel's lamps)
    under_cover: list[bool] = []
    try:
        for obj in osmium.FileProcessor(osm_file(src, fmt), osmium.osm.NODE | osmium.osm.WAY):
            if isinstance(obj, osmium.osm.Way):
                if is_under_cover({t.k: t.v for t in obj.tags}):
                    covered_nodes.update(n.ref for n in obj.nodes)
                continue
            node = obj
            if not isinstance(node, osmium.osm.Node):
                continue
            tags = node.tags
            if not len(tags):
                continue
            kind = None
            for (key, value), name in FURNITURE_TAGS.items():
                if tags.get(key) == value:
                    kind = name
                    break
            if kind is None or not node.location.valid():
                continue
            kinds.append(kind)
            ids.append(f"node/{node.id}")
            under_cover.append(
                is_under_cover({t.k: t.v for t in tags})
                or tags.get("location") in ("underground", "indoor")
            )
            h = parse_length_m(tags.get("height"))
            heights.append(float(h) if h is not None else np.nan)
            names.append(tags.get("name"))
            lons.append(node.location.lon)
            lats.append(node.location.lat)
    except RuntimeError as exc:
        raise SourceError(f"{src}: not a readable OSM file ({exc})") from exc
    # no open sky over it: tagged so, or a node of a tunnel, a covered way, a passage
    keep = [
        not (covered or int(i.removeprefix("node/")) in covered_nodes)
        for covered, i in zip(under_cover, ids, strict=True)
    ]
    kinds = [v for v, k in zip(kinds, keep, strict=True) if k]
    ids = [v for v, k in zip(ids, keep, strict=True) if k]
    heights = [v for v, k in zip(heights, keep, strict=True) if k]
    names = [v for v, k in zip(names, keep, strict=True) if k]
    lons = [v for v, k in zip(lons, keep, strict=True) if k]
    lats = [v for v, k in zip(lats, keep, strict=True) if k]
    return gpd.GeoDataFrame(
        {"kind": kinds, "osm_id": ids, "height_m": heights, "name": names},
        geometry=shapely.points(np.array(lons, dtype=float), np.array(lats, dtype=float))
        if lons
        else [],
        crs="EPSG:4326",
    )
