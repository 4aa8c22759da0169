"""Monaco's harbour as an online area: the bbox, and the check that a city loaded from
it has its water and no outdoor receiver on it (``tests/test_online.py`` against
Overpass, ``tests/test_online_local.py`` against a stand-in on this machine)."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

#: Port Hercule, Monaco's harbour, and the sea off it (west, south, east, north)
HARBOUR = "bbox:7.4195,43.7315,7.431,43.7395"


def check_harbour_water(city: Any, scenario: Any) -> None:
    """The harbour's sea (from the coastline ways touching the area or the city's extent)
    and piers are the city's, and with ``grid.water = "drop"`` (a 20 m grid) no outdoor
    receiver stands on the water but a street one on a bridge's deck (Monaco's drivable
    ones cross none)."""
    from twin.study import study_bounds, study_grid

    assert "sea" in set(city.water["kind"])
    assert city.water.geometry.area.sum() > 100_000  # m2: the harbour and the sea off it
    assert len(city.piers) > 0 and city.counts["coastline_ways"] > 0
    scenario = scenario.model_copy(
        update={"grid": scenario.grid.model_copy(update={"spacing_m": 20.0})}
    )
    assert scenario.grid.water == "drop"
    grid = study_grid(city, study_bounds(city, scenario), scenario)
    assert grid.receivers_on_water > 0
    water = shapely.union_all(city.water.geometry.to_numpy())
    outdoor_on_water = shapely.intersects_xy(water, grid.x_m, grid.y_m) & ~grid.indoor
    assert np.count_nonzero(outdoor_on_water) == grid.receivers_on_bridges == 0
