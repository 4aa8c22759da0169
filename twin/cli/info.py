"""``twin info``: what a city file holds."""

from __future__ import annotations

import json
from typing import Any

import click


@click.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(source: str, as_json: bool) -> None:
    """What a city SOURCE holds: buildings, height sources, streets, bounds, CRS.

    SOURCE is an OSM file (.osm, .osm.gz, .osm.bz2, .osm.pbf), a footprint file
    (.geojson, .gpkg) or place:NAME / bbox:W,S,E,N (downloads).

    \b
    It prints the city's name, the source's format and sha256, then one line each:
      CRS             the city's UTM zone, in which everything is computed
      bounds lon/lat  the buildings' extent: west, south - east, north
      extent          its width x height in metres
      file's bounds   the bounds the file declares (an OSM XML file's <bounds>, a
                      PBF header's bbox), lon/lat; only when it declares some
      study area      the default study area, width x height in metres: the
                      extent cut to the file's bounds; only with them (a
                      scenario's city.area replaces it)
      buildings       how many, after the cleaning
      height from     how many buildings took their height from each source
      height_m        the buildings' heights: min, median, max
      street edges    how many, drivable, under cover (no street receiver), on
                      bridges (their street receivers stand on the deck)
      water           the water in the study area, the sea (yes, none, unknown),
                      the water areas, the piers taken out of it (land), the 5 m
                      grid points on it
      cleaning        the loader's counts (repairs, drops, parts, coastline,
                      piers and their widths, street edges on bridges)

    --json prints the same as one object: bounds_wgs84, bounds_m (the extent),
    declared_bounds_wgs84 (null when the file declares none), area_m (the study
    area), and the others by the same names.
    """
    from twin.city import load_city

    city = load_city(source)
    doc: dict[str, Any] = {
        "name": city.name,
        "source": city.source.path,
        "format": city.source.format,
        "sha256": city.source.sha256,
        "crs": city.crs.to_string(),
        "buildings": len(city.buildings),
        "height_sources": city.height_source_counts(),
        "height_m": {
            "min": float(city.buildings["height_m"].min()),
            "median": float(city.buildings["height_m"].median()),
            "max": float(city.buildings["height_m"].max()),
        },
        "street_edges": len(city.streets),
        "drivable_street_edges": int(city.streets["drive"].sum()) if len(city.streets) else 0,
        "street_edges_under_cover": int(city.streets["under_cover"].sum()),
        "street_edges_on_bridges": int(city.streets["on_bridge"].sum()),
        "bounds_m": list(city.bounds),
        "bounds_wgs84": list(city.bounds_wgs84()),
        # the area the file says it holds, and the study area it leaves by default
        "declared_bounds_wgs84": (
            list(city.source.declared_bounds_wgs84)
            if city.source.declared_bounds_wgs84 is not None
            else None
        ),
        "area_m": list(city.default_area()),
        "water": water_info(city),
        "cleaning": city.counts,
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    w, s, e, n = doc["bounds_wgs84"]
    hs = doc["height_sources"]
    click.echo(f"{doc['name']} ({doc['format']}, sha256 {doc['sha256'][:12]}...)")
    click.echo(f"  CRS            {doc['crs']}")
    click.echo(f"  bounds lon/lat {w:.5f}, {s:.5f} - {e:.5f}, {n:.5f}")
    minx, miny, maxx, maxy = doc["bounds_m"]
    click.echo(f"  extent         {maxx - minx:.0f} m x {maxy - miny:.0f} m")
    if doc["declared_bounds_wgs84"] is not None:
        w, s, e, n = doc["declared_bounds_wgs84"]
        click.echo(f"  file's bounds  {w:.5f}, {s:.5f} - {e:.5f}, {n:.5f} (lon/lat)")
        minx, miny, maxx, maxy = doc["area_m"]
        click.echo(
            f"  study area     {maxx - minx:.0f} m x {maxy - miny:.0f} m (the extent within "
            "the file's bounds)"
        )
    click.echo(f"  buildings      {doc['buildings']}")
    click.echo("  height from    " + ", ".join(f"{k} {v}" for k, v in hs.items()))
    h = doc["height_m"]
    click.echo(f"  height_m       min {h['min']:.1f}, median {h['median']:.1f}, max {h['max']:.1f}")
    click.echo(
        f"  street edges   {doc['street_edges']} ({doc['drivable_street_edges']} drivable, "
        f"{doc['street_edges_under_cover']} under cover: tunnels, building passages, "
        f"covered ways; {doc['street_edges_on_bridges']} on bridges)"
    )
    wi = doc["water"]
    click.echo(
        f"  water          {wi['km2']:.3f} km^2 of the study area (sea {wi['sea']}, "
        f"{wi['areas']} water areas, {wi['piers']} piers taken out of it): "
        f"{wi['receivers_on_water']:,} of its {wi['grid_spacing_m']:g} m grid points on it"
    )
    click.echo("  cleaning       " + ", ".join(f"{k} {v}" for k, v in doc["cleaning"].items()))


def water_info(city: Any) -> dict[str, Any]:
    """The city's water in its default study area: its area (``km2``), whether the sea is
    known (``sea``: ``yes``, ``none``, or ``unknown`` where the extract clips the
    coastline), its water areas, its piers (``piers``: land, taken out of it), and the
    points of a grid of the default spacing that stand on it outdoors
    (``receivers_on_water``: the grid points ``grid.water = "drop"`` leaves out, those
    inside a footprint on water kept, street receivers not counted)."""
    from twin.city.water import water_area_m2, water_union
    from twin.grid import grid_spec, water_cells
    from twin.scenario import GridConfig

    area = city.default_area()
    spacing_m = GridConfig().spacing_m
    c = city.counts
    unknown = c.get("coastline_incomplete", 0) or c.get("coastline_ways_clipped", 0)
    sea = "yes" if c.get("sea_polygons", 0) else ("unknown" if unknown else "none")
    on_water = water_cells(
        grid_spec(area, spacing_m, city.crs),
        water_union(city.water),
        city.buildings,
        street_level_m=GridConfig().outdoor_height_m,
    )
    return {
        "km2": water_area_m2(city.water, area) / 1e6,
        "sea": sea,
        "areas": int(c.get("water_areas", 0)),
        # piers are land: taken out of the water
        "piers": len(city.piers) if city.piers is not None else 0,
        "grid_spacing_m": spacing_m,
        "receivers_on_water": int(on_water.sum()),
    }
