"""twin: a digital twin of a city for radio coverage and spectrum planning.

The data flows through one module (or small package) per stage::

    sources -> city -> grid -> sites -> visibility -> propagation -> radio -> io/outputs

See ``docs/design.md`` for what each module owns.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from twin.errors import (
    InputError,
    ModelRangeError,
    OutputError,
    ScenarioError,
    SourceError,
    TwinError,
)

try:
    __version__ = version("twin")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

#: Attribution every output derived from OSM data must carry (ODbL 1.0).
OSM_ATTRIBUTION = "(c) OpenStreetMap contributors"
#: The licence of OSM's data: its short name and where to read it.
OSM_LICENSE_NAME = "ODbL 1.0"
OSM_LICENSE_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
#: The licence as every output derived from OSM data carries it beside
#: :data:`OSM_ATTRIBUTION` (the ``license`` item of the provenance, GeoJSON member,
#: GeoPackage and GeoTIFF metadata, PNG text).
OSM_LICENSE = f"{OSM_LICENSE_NAME} ({OSM_LICENSE_URL})"

__all__ = [
    "OSM_ATTRIBUTION",
    "OSM_LICENSE",
    "OSM_LICENSE_NAME",
    "OSM_LICENSE_URL",
    "InputError",
    "ModelRangeError",
    "OutputError",
    "ScenarioError",
    "SourceError",
    "TwinError",
    "__version__",
]
