"""Small real inputs for the scaling tests: a synthetic city written as a footprint file
and a scenario on it (no OSM parsing, so a study takes about a second)."""

from __future__ import annotations

from pathlib import Path

from twin.city.synthetic import synthetic_city


def write_footprint_scenario(
    folder: Path, *, area_km2: float = 0.25, seed: int = 3, bands: str = "[3.5, 28.0]"
) -> Path:
    """Write ``city.geojson`` (lon/lat footprints with ``height_m``) and ``scenario.toml``
    (10 m grid, UMa rooftop sites every 250 m) into ``folder``; return the scenario."""
    city = synthetic_city(area_km2, seed=seed)
    b = city.buildings[["height_m", "geometry"]].to_crs(4326)
    folder.mkdir(parents=True, exist_ok=True)
    b.to_file(folder / "city.geojson", driver="GeoJSON")
    scenario = folder / "scenario.toml"
    scenario.write_text(
        f"""name = "scale"
[city]
source = "city.geojson"
name = "Synthetic"
[grid]
spacing_m = 10.0
[[sites.generate]]
layout = "hex-rooftop"
isd_m = 250.0
[radio]
bands_ghz = {bands}
""",
        encoding="utf-8",
    )
    return scenario
