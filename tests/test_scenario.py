"""Scenario validation messages (twin.scenario, twin.sources.scenario_file): each names
the file, the key, what is wrong and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from twin.cli.main import cli
from twin.errors import ScenarioError, SourceError
from twin.sources.scenario_file import read_scenario
from twin.sources.sites_file import read_sites_file

SCENARIO = """name = "t"
[city]
source = "city.osm"
[sites]
list = [{{ site_id = "A", lon = 24.9, lat = 60.1, height_m = 20, power_dbm = {power} }}]
[grid]
{grid}
[radio]
bands_ghz = {bands}
"""


def _scenario(tmp_path: Path, *, power: str = "46", grid: str = "", bands: str = "[3.5]") -> Path:
    f = tmp_path / "s.toml"
    f.write_text(SCENARIO.format(power=power, grid=grid, bands=bands))
    return f


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"grid": "spacng_m = 5"},
            "grid.spacng_m: unknown key; did you mean 'spacing_m'? (keys of [grid]: spacing_m, "
            "indoor_height_m, outdoor_height_m, roof_clearance_m, street_step_m, water)",
        ),
        ({"grid": "colour = 5"}, "grid.colour: unknown key (keys of [grid]: spacing_m,"),
        (
            {"bands": "[3500]"},
            "radio.bands_ghz.0: must be a number from 0.15 to 100 GHz; a frequency in MHz? "
            "give GHz (3500 MHz = 3.5 GHz) (got 3500)",
        ),
        ({"bands": "[0.1]"}, "radio.bands_ghz.0: must be a number from 0.15 to 100 GHz (got 0.1)"),
        (
            {"power": "nan"},
            "sites.list.0.power_dbm: must be a number from -30 to 80 dBm (got nan)",
        ),
        (
            {"grid": "spacing_m = 0"},
            "grid.spacing_m: must be a number greater than 0 and at most 1000 m (got 0)",
        ),
    ],
)
def test_a_bad_key_or_value_says_what_is_allowed(
    tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    f = _scenario(tmp_path, **changes)
    with pytest.raises(ScenarioError) as err:
        read_scenario(f)
    assert f"{f}: {message}" in str(err.value)


def test_a_variants_value_out_of_range_says_what_is_allowed(tmp_path: Path) -> None:
    f = _scenario(tmp_path)
    f.write_text(f.read_text() + "[variants.v]\nradio = { bands_ghz = [28000] }\n")
    with pytest.raises(ScenarioError, match=r"variants\.v\.radio\.bands_ghz\.0: must be a number "
                       r"from 0\.15 to 100 GHz; a frequency in MHz\? give GHz \(28000 MHz = 28 GHz\)"):  # fmt: skip
        read_scenario(f)


def test_a_sites_file_value_out_of_range_says_what_is_allowed(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("site_id,lon,lat,height_m,power_dbm,bands_ghz\nA,24.9,60.1,20,nan,3.5\n")
    with pytest.raises(
        SourceError,
        match=r"site 1 \(A\): power_dbm: must be a number from -30 to 80 dBm \(got 'nan'\)",
    ):
        read_sites_file(f)
    f.write_text("site_id,lon,lat,height_m,power_dbm,bands_ghz\nA,24.9,60.1,20,46,3500\n")
    with pytest.raises(SourceError, match=r"bands_ghz.0: must be a number from 0.15 to 100 GHz; a frequency in MHz"):  # fmt: skip
        read_sites_file(f)
    # a sector's bearing past a full turn, or NaN (the radio pass's "omnidirectional"),
    # is refused, not wrapped or run as an omni cell
    for bad, got in (("0;400", "400.0"), ("nan", "nan")):
        f.write_text(f"site_id,lon,lat,height_m,power_dbm,azimuths_deg\nA,24.9,60.1,20,46,{bad}\n")
        with pytest.raises(
            SourceError,
            match=rf"azimuths_deg.\d: must be a number from -360 to 360 degrees \(got {got}\)",
        ):
            read_sites_file(f)
    f.write_text("site_id,lon,lat,height_m,power_dbm,azimuths_deg\nA,24.9,60.1,20,46,-90;350\n")
    assert read_sites_file(f)[0].azimuths_deg == (-90.0, 350.0)


def test_the_cli_refuses_a_band_in_mhz_with_exit_code_2(tmp_path: Path) -> None:
    f = _scenario(tmp_path, bands="[3500]")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["run", str(f), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "a frequency in MHz? give GHz" in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5", 'radio.channel_bandwidth_mhz: give one number of MHz for every band (greater '
               'than 0, at most 10000) or a table of one per band, e.g. { "3.5" = 100, "28" = '
               "400 } (got -5)"),
        ('"wide"', "radio.channel_bandwidth_mhz: give one number of MHz for every band"),
        ('{ "3.5" = 0 }', "radio.channel_bandwidth_mhz.3p5: must be a number greater than 0 "
                          "and at most 10000 MHz (got 0)"),
    ],
)  # fmt: skip
def test_a_bad_channel_bandwidth_says_both_forms(tmp_path: Path, value: str, message: str) -> None:
    """A number or a table: pydantic reported both branches with their internal tags
    ('constrained-float', 'dict[str,constrained-float]'); one line now says what the
    value took and what is allowed."""
    text = SCENARIO.format(power="46", grid="", bands="[3.5]")
    f = tmp_path / "s.toml"
    f.write_text(text + f'bandwidth = "fixed"\nchannel_bandwidth_mhz = {value}\n')
    with pytest.raises(ScenarioError) as err:
        read_scenario(f)
    text = str(err.value)
    assert message in text
    assert "constrained-float" not in text and "dict[" not in text
    assert len(text.strip().splitlines()) == 1
