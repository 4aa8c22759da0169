"""A column's unit, band, run, title and description from its name (twin.io.columns):
the units docs/outputs.md gives the fields of the layers, no unit for a name without
one."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from twin.io.columns import FRACTION, ColumnName, ColumnText, column_text, column_unit, split_name


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("sinr_db_3p5", ColumnName("sinr_db", "3p5")),
        ("capacity_mbps_28", ColumnName("capacity_mbps", "28")),
        ("indoor_capacity_mbps_0p7_delta", ColumnName("indoor_capacity_mbps", "0p7", "delta")),
        ("sinr_db_a", ColumnName("sinr_db", None, "a")),
        ("best_band_b", ColumnName("best_band", None, "b")),
        ("area_km2", ColumnName("area_km2")),  # km2 is a unit, not a band
        ("p_los_umi_38901", ColumnName("p_los_umi_38901")),  # 38901 GHz is no band
        ("a", ColumnName("a")),  # the comparison table's column of run A: a name only
    ],
)
def test_a_name_splits_into_its_stem_band_and_run(name: str, parts: ColumnName) -> None:
    assert split_name(name) == parts


def test_units_come_from_the_stem_and_none_is_guessed() -> None:
    assert column_unit("sinr_db_3p5") == "dB"
    assert column_unit("rsrp_dbm_28") == "dBm"  # the longest suffix wins
    assert column_unit("capacity_mbps_b") == "Mbit/s"
    assert column_unit("indoor_covered_3p5_delta") == FRACTION
    assert column_unit("azimuths_deg") == "degrees"
    # counts and labels have no suffix: no unit, though docs/outputs.md calls some counts
    for name in ("users", "indoor_points", "receivers", "row", "user_type_3p5", "band"):
        assert column_unit(name) is None, name


def test_titles_and_descriptions_carry_the_band_the_run_and_the_unit() -> None:
    assert column_text("sinr_db_3p5", layer="grid") == ColumnText(
        "SINR at 3.5 GHz (dB)",
        "Signal to interference plus noise ratio of the serving cell. Band 3.5 GHz. Unit: dB.",
        "dB",
    )
    delta = column_text("indoor_covered_28_delta", layer="buildings")
    assert delta is not None
    assert delta.title == "Indoor coverage at 28 GHz, run B minus run A (0 to 1)"
    assert delta.description.endswith(". Band 28 GHz. Run B minus run A. Unit: fraction (0 to 1).")
    # a layer's own meaning of a field before the common one
    assert column_text("kind", layer="water").title == "Water kind"  # type: ignore[union-attr]
    assert column_text("kind", layer="grid").title == "Receiver kind"  # type: ignore[union-attr]
    assert column_text("height_m", layer="sites").title == "Antenna height (m)"  # type: ignore[union-attr]
    # another column: its unit alone, or nothing
    assert column_text("margin_db") == ColumnText("margin_db (dB)", "Unit: dB.", "dB")
    assert column_text("note") is None and column_text("kind") is None


def _documented_units() -> dict[str, str]:
    """Each field of docs/outputs.md's tables of the layers (``<b>`` as ``3p5``) -> its
    unit there ("" for none)."""
    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    section = text.split("## Fields of the layers", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w<>]+)` \|([^|]*)\|", section, flags=re.M)
    return {name.replace("<b>", "3p5"): unit.strip() for name, unit in rows}


def test_the_units_are_those_docs_outputs_md_gives_the_fields() -> None:
    """The unit each layer's field gets from its name is the one docs/outputs.md gives
    it; a count there (``indoor_points``, ``users``, ``receivers``) has none in the
    files, its name saying no unit. No title is the field's name (GDAL would drop it)."""
    units = _documented_units()
    assert len(units) > 40
    counts = {name for name, unit in units.items() if unit == "count"}
    assert counts == {"indoor_points", "users", "receivers"}
    for name, unit in units.items():
        assert column_unit(name) == (None if unit in ("", "count") else unit), name
        # GDAL reads no alternative name equal to the field's name in any case
        text = column_text(name)
        assert text is None or text.title.lower() != name.lower(), name
