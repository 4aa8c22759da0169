"""``bandwidth = "fixed"``: one channel for every band or one per band, checked when the
scenario is read, and the capacity it gives (Shannon over the cell's share of the channel).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import EXTRACTS, ROOT
from twin.cli.main import cli
from twin.errors import InputError, ScenarioError
from twin.radio.network import RadioParams
from twin.scenario import RadioConfig, with_overrides
from twin.sources.scenario_file import read_scenario


def _toml(value: Any) -> str:
    """A number, list or table of the tests' keys as TOML."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _radio(**keys: Any) -> RadioConfig:
    return RadioConfig.model_validate({"bandwidth": "fixed", **keys})


def test_channel_keys_name_a_band_by_ghz_or_label() -> None:
    r = _radio(bands_ghz=[0.7, 3.5, 28.0], channel_bandwidth_mhz={"0.7": 10, "3p5": 40, 28: 400})
    assert r.channel_bandwidth_mhz == {"0p7": 10.0, "3p5": 40.0, "28": 400.0}
    assert _radio(channel_bandwidth_mhz=20).channel_bandwidth_mhz == 20.0


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"channel_bandwidth_mhz": {"x": 10}}, "key 'x' is not a band"),
        ({"channel_bandwidth_mhz": {"500": 10}}, "0.15 to 100 GHz"),
        (
            {"bands_ghz": [3.5], "channel_bandwidth_mhz": {"3.5": 10, "3p5": 20}},
            "band 3p5 is given twice",
        ),
        (
            {"bands_ghz": [0.7, 3.5], "channel_bandwidth_mhz": {"3.5": 10}},
            "none for 0p7 (given for: ['3p5'])",
        ),
        ({"bands_ghz": [3.5]}, "none for 3p5 (given for: none)"),
        (
            {
                "bands_ghz": [3.5],
                "channel_bandwidth_mhz": {"3.5": 10},
                "sweep_ghz": [1.0, 10.0, 1.0],
            },
            "give channel_bandwidth_mhz as a number",
        ),
        ({"channel_bandwidth_mhz": 0}, "greater than 0"),
    ],
)
def test_fixed_bandwidth_is_checked_when_read(
    tmp_path: Path, keys: dict[str, Any], message: str
) -> None:
    """The scenario file is refused before any city is loaded, the key named."""
    p = tmp_path / "s.toml"
    radio = "".join(f"{k} = {_toml(v)}\n" for k, v in keys.items())
    p.write_text(
        f'name = "s"\n[city]\nsource = "{EXTRACTS["helsinki"]}"\n'
        '[[sites.generate]]\nlayout = "hex-rooftop"\n'
        f'[radio]\nbandwidth = "fixed"\n{radio}',
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as err:
        read_scenario(p)
    text = str(err.value)
    assert message in text and f"{p}: radio" in text
    assert "Value error" not in text


def test_the_seed_bandwidth_needs_no_channel() -> None:
    assert RadioConfig.model_validate({"channel_bandwidth_mhz": {}}).bandwidth == "seed"


def test_channel_mhz_of_each_band() -> None:
    assert RadioParams(bandwidth="fixed", channel_bandwidth_mhz=20.0).channel_mhz(3.5) == 20.0
    per_band = RadioParams(bandwidth="fixed", channel_bandwidth_mhz={"3p5": 40.0})
    assert per_band.channel_mhz(3.5) == 40.0
    with pytest.raises(InputError, match=r"band 28 \(given for: \['3p5'\]\)"):
        per_band.channel_mhz(28.0)


def test_a_band_override_that_leaves_a_band_without_channel(tmp_path: Path) -> None:
    """``--bands`` with a per-band channel: the override is named, nothing is written."""
    scenario = ROOT / "scenarios" / "hotspot_28ghz.toml"
    sc = read_scenario(scenario)
    with pytest.raises(ScenarioError, match=r"with bands 3\.5 GHz: radio: .* none for 3p5"):
        with_overrides(sc, bands_ghz=(3.5,))
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["run", str(scenario), "--bands", "3.5", "--out", str(out)])
    assert res.exit_code == 2 and "none for 3p5 (given for: ['28'])" in res.output
    assert not out.exists()


@pytest.fixture(scope="module")
def fixed_studies(helsinki_city, default_scenario):  # type: ignore[no-untyped-def]
    """The default scenario on a 20 m grid with 20 MHz channels: given as one number
    (with a sweep over two of the bands) and as one value per band."""
    from twin.study import run_study

    data = with_overrides(default_scenario, spacing_m=20.0).model_dump()
    data["radio"].update(bandwidth="fixed", channel_bandwidth_mhz=20.0, sweep_ghz=(3.5, 28.0, 24.5))
    one = run_study(type(default_scenario).model_validate(data), city=helsinki_city)
    data["radio"].update(
        channel_bandwidth_mhz={"0.7": 20.0, "3.5": 20.0, "28": 20.0}, sweep_ghz=None
    )
    per_band = run_study(type(default_scenario).model_validate(data), city=helsinki_city)
    return one, per_band


def test_one_number_is_the_same_channel_for_every_band(fixed_studies) -> None:  # type: ignore[no-untyped-def]
    one, per_band = fixed_studies
    for label in ("0p7", "3p5", "28"):
        assert np.array_equal(one.bands[label].capacity_mbps, per_band.bands[label].capacity_mbps)


def test_fixed_capacity_is_shannon_over_the_cells_share(fixed_studies) -> None:  # type: ignore[no-untyped-def]
    """C = B / reuse * log2(1 + SINR), B = 20 MHz, reuse 3, worked from the stored SINR."""
    one, _ = fixed_studies
    reuse = one.scenario.radio.reuse
    for label in ("0p7", "3p5", "28"):
        res = one.bands[label]
        sinr = 10.0 ** (np.asarray(res.sinr_db, dtype=float) / 10.0)
        want_mbps = 20.0 / reuse * np.log2(1.0 + sinr)
        assert np.allclose(res.capacity_mbps, want_mbps, rtol=1e-5), label


def test_the_sweep_with_a_fixed_channel_matches_the_band_runs(fixed_studies) -> None:  # type: ignore[no-untyped-def]
    """Every swept frequency has the one channel, so the sweep at 3.5 and 28 GHz gives
    the study's bands' capacity per user type."""
    from twin.study import city_sweep

    one, _ = fixed_studies
    sweep = city_sweep(one)
    assert sweep is not None and sweep.freq_ghz.tolist() == [3.5, 28.0]
    for k, label in enumerate(["3p5", "28"]):
        res = one.bands[label]
        for t in range(1, 9):
            sel = res.user_type == t
            if sel.any():
                assert sweep.mean_mbps[t - 1, k] == pytest.approx(res.capacity_mbps[sel].mean())
