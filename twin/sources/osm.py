"""Read OpenStreetMap files (XML ``.osm``/``.osm.gz``/``.osm.bz2`` and ``.osm.pbf``).

pyosmium reads every format and writes sanitised OSM XML copies in a temporary directory:
ways that reference nodes missing from the extract and relations that reference missing
ways are dropped (clipped extracts always have some, and osmnx cannot build geometries
from them). One copy holds the building elements alone, with the ways of building
relations and the nodes they need (:func:`is_building_element`), the other the streets
alone (:func:`is_street_way`) and their nodes. osmnx then parses the first copy into
building features and the second into the street graph (osmnx parses every element of a
file it reads, and makes an edge of every way and a node of every node), so every OSM
file goes through the same parser;
the graph is simplified without merging streets of different kinds, nor a street under
cover with one under open sky (:func:`simplify_streets`), as is that of an online query.
osmnx keeps on the edges only the way tags it lists in ``settings.useful_tags_way``: the
readers add to them those that put a street under cover
(:data:`twin.city.model.COVER_TAGS`) and on a bridge (:data:`twin.city.model.BRIDGE_TAG`)
while they build the graph (:func:`keeping_way_tags`).
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import shapely

from twin.city.model import (
    BRIDGE_TAG,
    COVER_TAGS,
    RawCity,
    SourceInfo,
    is_bridge,
    is_under_cover,
    water_extent_wgs84,
)
from twin.errors import SourceError
from twin.sources.files import sha256_file

log = logging.getLogger(__name__)

#: File name endings read as OSM data.
OSM_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".pbf", ".osm.xml", ".xml")

#: each OSM file name ending (in lower case, the longest first): the format libosmium
#: reads it as, and what its bytes are (:func:`sniff_osm_bytes`)
OSM_ENDINGS: tuple[tuple[str, str, str], ...] = (
    (".osm.pbf", "pbf", "pbf"),
    (".osm.bz2", "osm.bz2", "bzip2"),
    (".osm.gz", "osm.gz", "gzip"),
    (".osm.xml", "osm", "xml"),
    (".pbf", "pbf", "pbf"),
    (".osm", "osm", "xml"),
    (".xml", "osm", "xml"),
)

#: what each kind of bytes is, in words, and the name ending it takes
_CONTENT: dict[str, tuple[str, str]] = {
    "gzip": ("gzip-compressed data", ".osm.gz"),
    "bzip2": ("bzip2-compressed data", ".osm.bz2"),
    "pbf": ("an OSM PBF file", ".osm.pbf"),
    "xml": ("uncompressed OSM XML", ".osm"),
}

#: Tags that make an OSM element a building (or a building part).
BUILDING_TAGS: dict[str, bool | str | list[str]] = {"building": True, "building:part": True}


def is_osm_file(path: str | Path) -> bool:
    """True when the file name ends like an OSM file this module reads (in any case)."""
    name = Path(path).name.lower()
    return any(name.endswith(s) for s in OSM_SUFFIXES)


def sniff_osm_bytes(head: bytes) -> str | None:
    """What the first bytes of a file are: ``gzip`` (``1f 8b``), ``bzip2`` (``BZh``),
    ``pbf`` (a 4-byte big-endian length, then the first BlobHeader, which names its
    blob ``OSMHeader``), ``xml`` (``<`` after an optional byte order mark and blanks),
    or None (none of them)."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if len(head) >= 4:
        length = int.from_bytes(head[:4], "big")
        if 0 < length <= 64 * 1024 and b"OSMHeader" in head[4 : 4 + length]:
            return "pbf"
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        return "xml"
    return None


def osm_format(path: str | Path) -> str:
    """The libosmium format of an OSM file (``pbf``, ``osm``, ``osm.gz``, ``osm.bz2``),
    told from its name's ending in any case (libosmium knows only lower-case endings),
    once its first bytes are found to match that ending.

    Raises
    ------
    SourceError
        When the name ends like no OSM file, or the first bytes are another format's
        (a gzip file named ``.osm``): the message says which ending the file needs.
    """
    src = Path(path)
    name = src.name.lower()
    found_ending = [e for e in OSM_ENDINGS if name.endswith(e[0])]
    if not found_ending:
        raise SourceError(f"{src}: not an OSM file name; allowed: {', '.join(OSM_SUFFIXES)}")
    ending, fmt, kind = found_ending[0]
    with open(src, "rb") as fh:
        head = fh.read(256)
    found = sniff_osm_bytes(head)
    if found is not None and found != kind:
        what, wanted = _CONTENT[found]
        stem = src.name[: len(src.name) - len(ending)]
        raise SourceError(
            f"{src} looks like {what}, but its name ends in {src.name[len(stem) :]}: rename "
            f"it to end in {wanted} ({stem}{wanted})"
        )
    return fmt


def osm_file(path: str | Path, fmt: str) -> Any:
    """The ``osmium.io.File`` of ``path`` read as ``fmt`` (:func:`osm_format`)."""
    import osmium

    return osmium.io.File(str(path), fmt)


def declared_bounds_wgs84(path: str | Path) -> tuple[float, float, float, float] | None:
    """The area an OSM file declares it holds, (west, south, east, north) in degrees: an
    XML file's ``<bounds>``, a PBF header's bbox; None when it declares none.

    Raises
    ------
    SourceError
        When the file cannot be read as its name says (:func:`osm_format`).
    """
    import osmium

    src = Path(path)
    fmt = osm_format(src)
    if fmt != "pbf":
        # libosmium's header keeps only the first <bounds>; JOSM writes one per download
        boxes = _xml_bounds(src, fmt)
        if not boxes:
            return None
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    try:
        reader = osmium.io.Reader(osm_file(src, fmt), osmium.osm.NOTHING)
        try:
            box = reader.header().box()
        finally:
            reader.close()
    except RuntimeError as exc:
        raise SourceError(f"{src}: not a readable OSM file ({exc})") from exc
    if not box.valid():
        return None
    west, south = box.bottom_left.lon, box.bottom_left.lat
    east, north = box.top_right.lon, box.top_right.lat
    if not (west < east and south < north):
        return None
    return (west, south, east, north)


_BOUNDS_RE = re.compile(rb"<bounds?\b[^>]*>")
_ATTR_RE = re.compile(rb"""(\w+)\s*=\s*["']([^"']*)["']""")


def _xml_bounds(src: Path, fmt: str) -> list[tuple[float, float, float, float]]:
    """Every ``<bounds minlat= minlon= maxlat= maxlon=>`` (and osmosis's ``<bound
    box="s,w,n,e">``) before an OSM XML file's first element, (west, south, east,
    north) each; the valid ones."""
    import bz2
    import gzip

    openers: dict[str, Callable[..., Any]] = {"osm.gz": gzip.open, "osm.bz2": bz2.open}
    opener = openers.get(fmt, open)
    head = b""
    with opener(src, "rb") as fh:
        while len(head) < 1 << 20:
            chunk = fh.read(1 << 14)
            if not chunk:
                break
            head += chunk
            if re.search(rb"<(node|way|relation)\b", head):
                break
    first = re.search(rb"<(node|way|relation)\b", head)
    head = head[: first.start()] if first else head
    boxes = []
    for tag in _BOUNDS_RE.findall(head):
        attrs = {k.decode(): v.decode() for k, v in _ATTR_RE.findall(tag)}
        try:
            if "box" in attrs:
                south, west, north, east = (float(v) for v in attrs["box"].split(","))
            else:
                west, south = float(attrs["minlon"]), float(attrs["minlat"])
                east, north = float(attrs["maxlon"]), float(attrs["maxlat"])
        except (KeyError, ValueError):
            continue
        if -180 <= west < east <= 180 and -90 <= south < north <= 90:
            boxes.append((west, south, east, north))
    return boxes


#: ``highway`` values that are no street (osmnx's filter for ``network_type="all"``)
NOT_STREETS = frozenset(
    {"abandoned", "construction", "no", "planned", "platform", "proposed", "raceway", "razed"}
)


def is_street_way(tags: Any) -> bool:
    """Whether OSM tags make a way a street of the street graph: a ``highway`` that is
    not an area (``area=yes``: a square) nor one of :data:`NOT_STREETS`."""
    highway = tags.get("highway")
    return bool(highway) and highway not in NOT_STREETS and tags.get("area") != "yes"


def is_building_element(tags: Any) -> bool:
    """Whether OSM tags make an element a building feature (:data:`BUILDING_TAGS`)."""
    return any(key in tags for key in BUILDING_TAGS)


def sanitise_osm(
    src: Path,
    dst: Path | None = None,
    streets_dst: Path | None = None,
    *,
    buildings_dst: Path | None = None,
) -> dict[str, int]:
    """Copy ``src`` (any format pyosmium reads) to OSM XML without dangling references.

    Each path given gets a copy: ``dst`` the whole file; ``streets_dst`` the streets
    alone (:func:`is_street_way`) and their nodes, the input of the street graph (osmnx
    makes an edge of every way and a node of every node of an XML file, buildings and
    fences included); ``buildings_dst`` the building elements alone
    (:func:`is_building_element`: nodes, ways and relations), every way of a building
    relation and the nodes of those ways, the input of the building features (osmnx
    parses every element of a file before it filters them by tag).

    Returns counts of what was dropped: ``ways_missing_nodes``, ``relations_missing_members``.
    """
    import osmium

    node_ids: set[int] = set()
    way_ids: set[int] = set()
    street_ways: set[int] = set()
    street_nodes: set[int] = set()
    building_ways: set[int] = set()
    building_nodes: set[int] = set()
    member_ways: set[int] = set()
    kinds = osmium.osm.NODE | osmium.osm.WAY
    if buildings_dst is not None:
        kinds |= osmium.osm.RELATION
    fmt = osm_format(src)
    try:
        for obj in osmium.FileProcessor(osm_file(src, fmt), kinds):
            if isinstance(obj, osmium.osm.Node):
                node_ids.add(obj.id)
            elif isinstance(obj, osmium.osm.Way):
                if not all(n.ref in node_ids for n in obj.nodes):
                    continue
                way_ids.add(obj.id)
                if streets_dst is not None and is_street_way(obj.tags):
                    street_ways.add(obj.id)
                    street_nodes.update(n.ref for n in obj.nodes)
                if buildings_dst is not None and is_building_element(obj.tags):
                    building_ways.add(obj.id)
                    building_nodes.update(n.ref for n in obj.nodes)
            elif isinstance(obj, osmium.osm.Relation) and is_building_element(obj.tags):
                ways = [m.ref for m in obj.members if m.type == "w"]
                if all(w in way_ids for w in ways):
                    member_ways.update(ways)
        extra_ways = member_ways - building_ways
        if extra_ways:
            # the nodes of a building relation's ways that are no building themselves
            # (ways come before relations in an OSM file: a pass over the ways again)
            for way in osmium.FileProcessor(osm_file(src, fmt), osmium.osm.WAY).with_filter(
                osmium.filter.IdFilter(extra_ways)
            ):
                if isinstance(way, osmium.osm.Way):
                    building_nodes.update(n.ref for n in way.nodes)
    except RuntimeError as exc:
        raise SourceError(f"{src}: not a readable OSM file ({exc})") from exc
    building_ways |= member_ways
    dropped_ways = 0
    dropped_relations = 0
    writers: list[Any] = []

    def open_writer(path: Path | None) -> Any:
        if path is None:
            return None
        writers.append(osmium.SimpleWriter(str(path), overwrite=True))
        return writers[-1]

    try:
        whole = open_writer(dst)
        streets = open_writer(streets_dst)
        buildings = open_writer(buildings_dst)
        for obj in osmium.FileProcessor(osm_file(src, fmt)):
            if isinstance(obj, osmium.osm.Node):
                if streets is not None and obj.id in street_nodes:
                    streets.add(obj)
                if buildings is not None and obj.id in building_nodes:
                    buildings.add(obj)
                elif buildings is not None and is_building_element(obj.tags):
                    buildings.add(obj)
            elif isinstance(obj, osmium.osm.Way):
                if obj.id not in way_ids:
                    dropped_ways += 1
                    continue
                if streets is not None and obj.id in street_ways:
                    streets.add(obj)
                if buildings is not None and obj.id in building_ways:
                    buildings.add(obj)
            elif isinstance(obj, osmium.osm.Relation):
                if any(m.type == "w" and m.ref not in way_ids for m in obj.members):
                    dropped_relations += 1
                    continue
                if buildings is not None and is_building_element(obj.tags):
                    buildings.add(obj)
            if whole is not None:
                whole.add(obj)
    finally:
        for writer in writers:
            writer.close()
    return {"ways_missing_nodes": dropped_ways, "relations_missing_members": dropped_relations}


#: the way tags the street graph's edges keep besides osmnx's own: those that put a
#: street under cover or on a bridge
KEPT_WAY_TAGS = (*COVER_TAGS, BRIDGE_TAG)


class _SharedSetting:
    """One of osmnx's settings (``osmnx.settings.NAME``: a process-wide value) changed
    by ``change`` while any block of :meth:`held` is open, in any thread: each block
    applies ``change`` (which leaves a value it already changed as it is) on the way
    in, and the last one out gives back the value the first one in found (with the
    first one out giving it back, the blocks still open in other threads would run
    without the change)."""

    def __init__(self, name: str, change: Callable[[Any], Any]) -> None:
        self.name = name
        self.change = change
        self._lock = threading.Lock()
        self._open = 0
        self._before: Any = None

    @contextmanager
    def held(self) -> Iterator[None]:
        import osmnx as ox

        with self._lock:
            if self._open == 0:
                self._before = getattr(ox.settings, self.name)
            self._open += 1
            setattr(ox.settings, self.name, self.change(getattr(ox.settings, self.name)))
        try:
            yield
        finally:
            with self._lock:
                self._open -= 1
                if self._open == 0:
                    setattr(ox.settings, self.name, self._before)


_way_tags = _SharedSetting(
    "useful_tags_way", lambda tags: list(dict.fromkeys([*tags, *KEPT_WAY_TAGS]))
)


def keeping_way_tags() -> AbstractContextManager[None]:
    """osmnx keeps on the graph's edges the way tags of :data:`KEPT_WAY_TAGS` too while
    in the block (``osmnx.settings.useful_tags_way`` holds ``tunnel`` and ``bridge`` by
    default but not ``covered`` nor ``indoor``); its setting is given back as it was on
    the way out. Blocks open at once in several threads (two cities loaded side by
    side) share the setting (:class:`_SharedSetting`)."""
    return _way_tags.held()


class OverpassIncompleteError(Exception):
    """An Overpass reply that says the server stopped the query before its end (its
    ``remark`` a "runtime error": out of time or memory); the elements it holds are
    those found so far, a part of the area's. ``remark`` is the server's words.
    Raised from within ``requests`` (:func:`refuse_incomplete_reply`), through osmnx."""

    def __init__(self, remark: str, url: str) -> None:
        super().__init__(f"{url}: {remark}")
        self.remark = remark


#: how Overpass begins the remark of a query it stopped (a reply of status 200 whose
#: elements are those found so far); other remarks ("runtime remark: ...") are notes
OVERPASS_STOPPED = "runtime error"


def refuse_incomplete_reply(response: Any, *args: Any, **kwargs: Any) -> None:
    """A response hook of ``requests`` (osmnx makes its Overpass requests with
    ``settings.requests_kwargs``): raises :class:`OverpassIncompleteError` for an
    Overpass reply whose top-level ``remark`` says the query was stopped
    (:data:`OVERPASS_STOPPED`), which osmnx only logs, reading the elements found so far
    as the area's (buildings, streets or water missing without a word); logs any other
    remark. Replies without the word ``"remark"`` are not parsed here."""
    if b'"remark"' not in response.content:
        return
    try:
        reply = response.json()
    except ValueError:
        return  # not JSON: osmnx says what it got
    remark = reply.get("remark") if isinstance(reply, dict) else None
    if not isinstance(remark, str):
        return
    if remark.strip().lower().startswith(OVERPASS_STOPPED):
        raise OverpassIncompleteError(remark.strip(), response.url)
    log.warning("%s remarked: %s", response.url, remark.strip())


def _with_reply_check(kwargs: dict[str, Any]) -> dict[str, Any]:
    hooks = dict(kwargs.get("hooks") or {})
    response = hooks.get("response") or []
    response = list(response) if isinstance(response, list | tuple) else [response]
    if refuse_incomplete_reply not in response:
        response.append(refuse_incomplete_reply)
    return {**kwargs, "hooks": {**hooks, "response": response}}


_reply_check = _SharedSetting("requests_kwargs", _with_reply_check)


def refusing_incomplete_replies() -> AbstractContextManager[None]:
    """While in the block, osmnx's requests (Overpass and Nominatim) go through
    :func:`refuse_incomplete_reply`: an Overpass query the server stopped raises
    :class:`OverpassIncompleteError` instead of giving a part of the area. Shared by
    the threads in such blocks at once (:class:`_SharedSetting`)."""
    return _reply_check.held()


def simplify_streets(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """osmnx's simplification of a street graph (a chain of edges through nodes where
    nothing else meets becomes one edge), except that streets of different kinds are not
    merged (a footway into a service road would make it drivable: ``highway`` is
    ``footway;service``), nor a street under cover with one under open sky (each edge's
    ``under_cover``, :func:`twin.city.model.is_under_cover` of its tags, set here: osmnx
    gives a merged edge the tags of any of its parts, so a road merged with the tunnel it
    runs into would be a tunnel all along), nor a bridge with the road it leads to (each
    edge's ``on_bridge``, :func:`twin.city.model.is_bridge`, set here: the road's
    receivers on water would stand on a deck), and a ring of streets that meets no other
    street stays."""
    import osmnx as ox

    for _, _, data in graph.edges(data=True):
        data["under_cover"] = is_under_cover(data)
        data["on_bridge"] = is_bridge(data)
    return ox.simplify_graph(
        graph, edge_attrs_differ=["highway", "under_cover", "on_bridge"], remove_rings=False
    )


def read_osm(path: str | Path, *, name: str | None = None) -> RawCity:
    """Read an OSM file into raw building features (WGS84) and the street graph.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.gz``, ``.osm.bz2`` (OSM XML) or ``.osm.pbf``.
    name
        City name for reports; defaults to the file name without its suffixes.
    """
    import osmnx as ox

    from twin.sources.osm_water import read_osm_water

    src = Path(path)
    if not src.is_file():
        raise SourceError(f"{src}: no such file (expected an OSM file: {', '.join(OSM_SUFFIXES)})")
    if not is_osm_file(src):
        raise SourceError(
            f"{src}: unknown city file type; allowed: OSM {', '.join(OSM_SUFFIXES)}, "
            "or footprints .geojson/.gpkg"
        )
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="twin-osm-") as tmp:
        building_file = Path(tmp) / "buildings.osm"
        street_file = Path(tmp) / "streets.osm"
        counts.update(sanitise_osm(src, streets_dst=street_file, buildings_dst=building_file))
        try:
            features = ox.features_from_xml(building_file, tags=BUILDING_TAGS)
        except ox._errors.InsufficientResponseError:
            features = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
        try:
            with keeping_way_tags():
                raw_graph = ox.graph_from_xml(street_file, simplify=False, retain_all=True)
            graph: nx.MultiDiGraph | None = simplify_streets(raw_graph)
        except ox._errors.InsufficientResponseError:
            # osmnx's words for a query that found nothing ("No data elements in server
            # response"): here the streets copy holds no way, as the file holds no street
            log.warning(
                "%s holds no streets (no way tagged highway=* that one can drive or walk "
                "along): the city has its buildings alone, with no street receivers and no "
                "street sites",
                src,
            )
            graph = None
        except ValueError as exc:
            log.warning("%s: no street graph (%s)", src, exc)
            graph = None
    water = read_osm_water(src)
    water_counts = water.counts
    counts.update(water_counts)
    if water_counts["coastline_ways_clipped"]:
        log.warning(
            "%s: %d coastline ways (natural=coastline) have nodes outside the extract and "
            "were dropped: the sea cannot be told from the land, and the city has no sea; "
            "the water areas stand",
            src.name,
            water_counts["coastline_ways_clipped"],
        )
    if counts["ways_missing_nodes"] or counts["relations_missing_members"]:
        log.info(
            "%s: dropped %d ways with nodes outside the extract and %d relations with "
            "missing members",
            src.name,
            counts["ways_missing_nodes"],
            counts["relations_missing_members"],
        )
    features = features.reset_index()
    if "element" in features.columns and "id" in features.columns:
        features["osm_id"] = features["element"].astype(str) + "/" + features["id"].astype(str)
    fmt = "osm-pbf" if src.name.lower().endswith(".pbf") else "osm-xml"
    city_name = name or src.name.split(".")[0]
    return RawCity(
        name=city_name,
        buildings=features,
        graph=graph,
        source=SourceInfo(
            path=str(src),
            sha256=sha256_file(src),
            format=fmt,
            declared_bounds_wgs84=declared_bounds_wgs84(src),
        ),
        counts=counts,
        water_areas=water.areas,
        coastline=None if water_counts["coastline_ways_clipped"] else water.coastline,
        piers=water.piers,
    )


def read_place(
    query: str | tuple[float, float, float, float], *, name: str | None = None
) -> RawCity:
    """Download buildings, streets and water for a place name or a (west, south, east,
    north) bbox.

    Needs network access (Overpass API through osmnx; Nominatim for a place name). The
    buildings and the streets are those touching the place's polygon or the bbox. The
    water is that of a file (:mod:`twin.sources.osm_water`): the water areas, the
    coastline ways (each whole, as Overpass sends every node of a way that touches the
    area) and the piers touching that area or the extent the city builds its sea over
    (:func:`water_area`); an area with none has no water. A download
    that fails (no network, a server's error, a place the geocoder does not know, an
    area with no building, a query the Overpass server stopped before its end: its reply
    would hold a part of the area, :func:`refuse_incomplete_reply`) raises
    :class:`SourceError` naming the source.
    """
    ident = f"place:{query}" if isinstance(query, str) else "bbox:" + ",".join(map(str, query))
    if isinstance(query, str) and not query.strip():
        raise SourceError("place: give a place name, e.g. place:Kallio, Helsinki, Finland")
    if not isinstance(query, str):
        west, south, east, north = query
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise SourceError(
                f"{ident}: expected bbox:west,south,east,north in degrees, west < east and "
                "south < north, longitudes -180 to 180, latitudes -90 to 90"
            )
    import requests
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    try:
        with refusing_incomplete_replies():
            return _download(query, name=name)
    except (
        requests.RequestException,
        ResponseStatusCodeError,
        InsufficientResponseError,
        OverpassIncompleteError,
    ) as exc:
        raise SourceError(_download_failure(ident, exc)) from exc
    except TypeError as exc:
        if "geocode" not in str(exc):
            raise
        # osmnx: the place is a point (a neighbourhood's node), not an area to download
        raise SourceError(
            f"{ident}: the geocoder finds this place as a point, not an area ({exc}); give "
            "a more specific name (a district, a city) or bbox:west,south,east,north"
        ) from exc


def _download_failure(ident: str, exc: Exception) -> str:
    """What went wrong with a download, in words, and what to do instead."""
    import requests
    from osmnx._errors import InsufficientResponseError

    local = "use a local OSM extract instead (--city FILE.osm.pbf; see README 'City sources')"
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return (
            f"{ident}: cannot download: no connection to the OpenStreetMap servers "
            f"({type(exc).__name__}); check the network, or {local}"
        )
    if isinstance(exc, OverpassIncompleteError):
        return (
            f"{ident}: the Overpass server stopped a query before its end ({exc.remark!r}), "
            "so its reply holds a part of the area's elements; the city is not built from "
            f"it: try a smaller area, or later, or {local}"
        )
    if isinstance(exc, InsufficientResponseError):
        return (
            f"{ident}: the servers found nothing there ({exc}); check the place's spelling "
            "or give a larger area"
        )
    return f"{ident}: the OpenStreetMap server refused the download ({exc}); try later, or {local}"


def _download(query: str | tuple[float, float, float, float], *, name: str | None) -> RawCity:
    """The buildings and the street graph of a place's polygon (geocoded once) or a bbox,
    and the water (:func:`download_osm_water`) of that area and of the extent the city
    builds its sea over (:func:`water_area`)."""
    import osmnx as ox

    from twin.sources.osm_water import download_osm_water

    if isinstance(query, str):
        polygon = ox.geocode_to_gdf(query).union_all()
        label = name or query
        ident = f"place:{query}"
    else:
        west, south, east, north = query
        polygon = ox.utils_geo.bbox_to_poly((west, south, east, north))
        label = name or "bbox"
        ident = f"bbox:{west},{south},{east},{north}"
    features = ox.features_from_polygon(polygon, tags=BUILDING_TAGS)
    with keeping_way_tags():
        raw_graph = ox.graph_from_polygon(
            polygon, network_type="all", retain_all=True, simplify=False
        )
    graph = simplify_streets(raw_graph)
    water = download_osm_water(water_area(polygon, features))
    if not (len(water.areas) or len(water.coastline) or len(water.piers)):
        log.info("%s: no water area, coastline nor pier mapped there", ident)
    features = features.reset_index()
    if "element" in features.columns and "id" in features.columns:
        features["osm_id"] = features["element"].astype(str) + "/" + features["id"].astype(str)
    import hashlib

    digest = hashlib.sha256(ident.encode()).hexdigest()
    return RawCity(
        name=label,
        buildings=features,
        graph=graph,
        source=SourceInfo(path=ident, sha256=digest, format="overpass"),
        counts=dict(water.counts),
        water_areas=water.areas,
        coastline=water.coastline,
        piers=water.piers,
    )


def water_area(polygon: Any, buildings: gpd.GeoDataFrame) -> Any:
    """The area an online source's water is downloaded over: the query's ``polygon`` (a
    place's, a bbox's; lon/lat) and the lon/lat box that covers the extent the city
    model builds the sea over and cuts the water areas to
    (:func:`twin.city.model.water_extent_wgs84` of the downloaded ``buildings``: their
    bounds in the city's CRS and :data:`twin.city.water.EXTENT_MARGIN_M` around them),
    together.

    The buildings that touch the polygon stick out of it, an irregular place's far, and
    the coastline ways that touch the polygon alone (Overpass sends those, each whole, and
    none beyond) would end inside that extent and leave the city with no sea; the ways
    that touch the extent's box reach past its edge (unless OSM's coastline itself ends
    there). The water areas and the piers come over the same area: a pier past the
    polygon would be sea, a pond there would hold outdoor receivers. Only the water is
    downloaded over the larger area; the buildings and the streets stay the polygon's.
    """
    box = water_extent_wgs84(buildings)
    if box is None:
        return polygon
    return shapely.union_all([polygon, shapely.box(*box)])
