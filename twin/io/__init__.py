"""Writing outputs: files for GIS users and an offline web map for planners.

One module per kind of output; each writer is atomic (:mod:`twin.io.atomic`) and carries
provenance and the OSM attribution. Import the submodule you need (they load GDAL or the
deck.gl bundle only when used):

- :mod:`twin.io.atomic`: atomic output folders and files;
- :mod:`twin.io.vector`: GeoJSON (RFC 7946) and GeoPackage;
- :mod:`twin.io.rasters`: cloud-optimised GeoTIFF and scattering points into a raster;
- :mod:`twin.io.styles`: QGIS ``.qml`` styles and the colour ramps shared with the web map;
- :mod:`twin.io.webmap`: the self-contained deck.gl page;
- :mod:`twin.io.outputs`: the run's output contract, composed from the above.

See ``docs/outputs.md``.
"""

#: grid points the web map draws at most (``twin run --map-max-points``); a larger grid is
#: drawn by a regular sample of it (:func:`twin.io.outputs.map_points`). Here, not in
#: :mod:`twin.io.outputs`, so that the command line reads it without loading GDAL.
MAP_MAX_POINTS = 1 << 20
