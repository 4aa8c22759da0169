"""The bounds an OSM file declares, read by hand (no pyosmium): an XML file's
``<bounds>`` element, a PBF file's ``HeaderBBox`` (OSM PBF format: a 4-byte big-endian
length, a ``BlobHeader``, its ``Blob`` zlib-compressed or raw, holding the
``HeaderBlock`` whose field 1 is the bbox in nanodegrees)."""

from __future__ import annotations

import bz2
import gzip
import re
import zlib
from pathlib import Path


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _fields(buf: bytes) -> dict[int, list[int | bytes]]:
    """The fields of a protobuf message: number -> values (varints, length-delimited)."""
    out: dict[int, list[int | bytes]] = {}
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        else:
            raise ValueError(f"wire type {wire} not expected in an OSM PBF header")
        out.setdefault(number, []).append(value)
    return out


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def pbf_bounds(path: Path) -> tuple[float, float, float, float] | None:
    data = path.read_bytes()
    n = int.from_bytes(data[:4], "big")
    header = _fields(data[4 : 4 + n])
    assert header[1] == [b"OSMHeader"]
    size = header[3][0]
    assert isinstance(size, int)
    blob = _fields(data[4 + n : 4 + n + size])
    raw = blob[1][0] if 1 in blob else zlib.decompress(blob[3][0])  # type: ignore[arg-type]
    assert isinstance(raw, bytes)
    block = _fields(raw)
    if 1 not in block:
        return None
    box = _fields(block[1][0])  # type: ignore[arg-type]
    left, right, top, bottom = (_zigzag(box[k][0]) / 1e9 for k in (1, 2, 3, 4))  # type: ignore[arg-type]
    return (left, bottom, right, top)


def xml_bounds(path: Path) -> tuple[float, float, float, float] | None:
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    with opener(path, "rb") as fh:
        head = fh.read(4096).decode()
    m = re.search(r"<bounds\s[^>]*>", head)
    if m is None:
        return None
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(0)))
    return (
        float(attrs["minlon"]),
        float(attrs["minlat"]),
        float(attrs["maxlon"]),
        float(attrs["maxlat"]),
    )


def declared_bounds(path: Path) -> tuple[float, float, float, float] | None:
    return pbf_bounds(path) if path.suffix == ".pbf" else xml_bounds(path)
