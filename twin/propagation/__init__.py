"""Radio propagation models (pure, vectorised over points x sites x bands).

- :mod:`twin.propagation.tr38901`: TR 38.901 Table 7.4.1-1 path loss (UMa, UMi street
  canyon, RMa), breakpoint distances, shadow-fading sigmas, Table 7.4.2-1 LoS probability;
- :mod:`twin.propagation.o2i`: clause 7.4.3 outdoor-to-indoor penetration loss;
- :mod:`twin.propagation.shadowing`: shadow fading off / margin / correlated field
  (Table 7.5-6 decorrelation distances);
- :mod:`twin.propagation.antenna`: clause 7.3 sector element pattern;
- :mod:`twin.propagation.hata`: Okumura-Hata and COST-231 Hata;
- :mod:`twin.propagation.sui`: SUI / Erceg (IEEE 802.16.3c-01/29r4).

See ``docs/physics.md`` for the formulas, validity ranges and how they are enforced.
"""

from __future__ import annotations

from twin.propagation.antenna import element_gain_dbi, element_pattern_db, sector_gain_dbi
from twin.propagation.hata import hata_path_loss_db
from twin.propagation.o2i import o2i_loss_db
from twin.propagation.shadowing import shadow_field_db, shadowing_db
from twin.propagation.sui import sui_path_loss_db
from twin.propagation.tr38901 import (
    breakpoint_distance_m,
    distance_3d_m,
    los_probability,
    path_loss_db,
    rma_path_loss_db,
    shadow_fading_sigma_db,
    uma_path_loss_db,
    umi_path_loss_db,
)

__all__ = [
    "breakpoint_distance_m",
    "distance_3d_m",
    "element_gain_dbi",
    "element_pattern_db",
    "hata_path_loss_db",
    "los_probability",
    "o2i_loss_db",
    "path_loss_db",
    "rma_path_loss_db",
    "sector_gain_dbi",
    "shadow_fading_sigma_db",
    "shadow_field_db",
    "shadowing_db",
    "sui_path_loss_db",
    "uma_path_loss_db",
    "umi_path_loss_db",
]
