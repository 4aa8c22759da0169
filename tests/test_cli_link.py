"""``twin link``: JSON keys and values against hand-worked formulas, and bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from twin.cli.main import cli


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["link", *args])
    return res.exit_code, res.stdout, res.stderr


def test_json_single_distance_uma_nlos() -> None:
    code, out, _ = run(
        "--model",
        "uma",
        "--freq-ghz",
        "3.5",
        "--d2d",
        "300",
        "--h-bs",
        "25",
        "--h-ut",
        "1.5",
        "--nlos",
        "--json",
    )
    assert code == 0
    row = json.loads(out)
    assert {"d2d_m", "path_loss_db", "o2i_db", "total_db"} <= row.keys()
    d3 = math.sqrt(300**2 + 23.5**2)
    los = 28 + 22 * math.log10(d3) + 20 * math.log10(3.5)  # d'BP = 560 m
    nlos = 13.54 + 39.08 * math.log10(d3) + 20 * math.log10(3.5)
    assert row["d2d_m"] == 300.0
    assert row["path_loss_db"] == pytest.approx(max(los, nlos), abs=0.01)
    assert row["o2i_db"] == 0.0
    assert row["total_db"] == pytest.approx(row["path_loss_db"])
    assert row["los"] is False
    assert row["breakpoint_m"] == pytest.approx(560.0)
    assert row["d3d_m"] == pytest.approx(d3, abs=0.001)
    assert row["shadow_sigma_db"] == 6.0


def test_json_several_distances_with_o2i() -> None:
    code, out, _ = run(
        "--model",
        "umi",
        "--freq-ghz",
        "28",
        "--d2d",
        "22.2,66.7,400",
        "--h-bs",
        "10",
        "--h-ut",
        "9",
        "--los",
        "--o2i",
        "low",
        "--d-in",
        "4",
        "--json",
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["d2d_m"] for r in rows] == [22.2, 66.7, 400.0]
    o2i = 5 - 10 * math.log10(0.3 * 10 ** (-(2 + 0.2 * 28) / 10) + 0.7 * 10 ** (-(5 + 4 * 28) / 10))
    for r in rows:
        d3 = math.sqrt(r["d2d_m"] ** 2 + 1.0)
        pl = 32.4 + 21 * math.log10(d3) + 20 * math.log10(28)  # d'BP = 26.88 km
        assert r["path_loss_db"] == pytest.approx(pl, abs=0.01)
        assert r["o2i_db"] == pytest.approx(o2i + 0.5 * 4, abs=0.01)
        assert r["total_db"] == pytest.approx(pl + o2i + 2.0, abs=0.01)
        # an indoor receiver's link: UMi's O2I sigma_SF (TR 38.901 Table 7.5-6, 7 dB, not
        # the 4 dB of its outdoor LoS) and the low-loss model's sigma_P (Table 7.4.3-2)
        assert r["shadow_sigma_db"] == 7.0 and r["o2i_sigma_db"] == 4.4


def _table_row(out: str) -> dict[str, float]:
    """The first row of ``twin link``'s table, by its column heads."""
    header, row = out.strip().splitlines()[1:3]
    heads = [h.strip() for h in header.split("  ") if h.strip()]
    return {h: float(v) for h, v in zip(heads, row.split(), strict=True)}


def test_the_table_prints_the_o2i_sigmas() -> None:
    """RMa LoS at 500 m (its breakpoint 770 m): an indoor receiver's link takes the O2I sigma_SF (8 dB, Table
    7.5-6) and the high-loss model's sigma_P (6.5 dB, Table 7.4.3-2); outdoors, the LoS
    sigma_SF before the breakpoint (4 dB, Table 7.4.1-1) and no sigma_P."""
    args = ("--model", "rma", "--freq-ghz", "0.7", "--d2d", "500", "--h-bs", "35",
            "--h-ut", "1.5", "--los")  # fmt: skip
    code, out, _ = run(*args, "--o2i", "high")
    assert code == 0
    got = _table_row(out)
    assert got["sigma_SF (dB)"] == 8.0 and got["sigma_P (dB)"] == 6.5
    code, out, _ = run(*args)
    assert code == 0 and "sigma_P" not in out
    assert _table_row(out)["sigma_SF (dB)"] == 4.0


def test_json_hata_and_sui() -> None:
    code, out, _ = run(
        "--model",
        "hata",
        "--freq-ghz",
        "0.9",
        "--d2d",
        "2000",
        "--h-bs",
        "50",
        "--h-ut",
        "1.5",
        "--area",
        "suburban",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["path_loss_db"] == pytest.approx(123.561, abs=0.01)
    code, out, _ = run(
        "--model",
        "sui",
        "--freq-ghz",
        "3.5",
        "--d2d",
        "1000",
        "--h-bs",
        "30",
        "--h-ut",
        "2",
        "--terrain",
        "B",
        "--json",
    )
    assert code == 0
    row = json.loads(out)
    assert row["path_loss_db"] == pytest.approx(128.537, abs=0.01)
    assert row["terrain"] == "B"


def test_human_table() -> None:
    code, out, _ = run(
        "--model",
        "rma",
        "--freq-ghz",
        "3.5",
        "--d2d",
        "100,5000",
        "--h-bs",
        "35",
        "--h-ut",
        "1.5",
        "--los",
    )
    assert code == 0
    assert "PL (dB)" in out and "total (dB)" in out and "d_BP (m)" in out
    assert len(out.strip().splitlines()) == 4


@pytest.mark.parametrize(("on_range", "far_m"), [("clamp", 5000.0), ("clamp-min", 7000.0)])
def test_clamp_reports_the_evaluated_distance(on_range: str, far_m: float) -> None:
    code, out, _ = run(
        "--model", "umi", "--freq-ghz", "3.5", "--d2d", "3,7000", "--h-bs", "10",
        "--h-ut", "1.5", "--los", "--on-range", on_range, "--json",
    )  # fmt: skip
    assert code == 0
    near, far = json.loads(out)
    assert near["d2d_m"] == 3.0 and near["d2d_evaluated_m"] == 10.0
    assert far["d2d_m"] == 7000.0 and far["d2d_evaluated_m"] == far_m


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["--model", "rma", "--freq-ghz", "40", "--h-bs", "35", "--h-ut", "1.5"],
            "--freq-ghz=40 GHz is outside the validity range of RMa (0.5-30 GHz",
        ),
        (
            ["--model", "umi", "--freq-ghz", "3.5", "--h-bs", "10", "--h-ut", "30"],
            "--h-ut=30 m is outside the validity range of UMi street canyon (1.5-22.5 m",
        ),
        (
            [
                "--model",
                "sui",
                "--freq-ghz",
                "0.9",
                "--h-bs",
                "30",
                "--h-ut",
                "2",
                "--terrain",
                "A",
            ],
            "--freq-ghz=0.9 GHz is outside the validity range of SUI (1.5-11 GHz",
        ),
        (
            ["--model", "hata", "--freq-ghz", "0.9", "--h-bs", "20", "--h-ut", "1.5"],
            "--h-bs=20 m is outside the validity range of Okumura-Hata (30-200 m",
        ),
        (
            [
                "--model",
                "uma",
                "--freq-ghz",
                "3.5",
                "--h-bs",
                "25",
                "--h-ut",
                "1.5",
                "--terrain",
                "A",
            ],
            "--terrain applies only to --model sui",
        ),
        (
            [
                "--model",
                "umi",
                "--freq-ghz",
                "3.5",
                "--h-bs",
                "10",
                "--h-ut",
                "1.5",
                "--area",
                "urban",
            ],
            "--area applies only to --model hata",
        ),
        (
            ["--model", "hata", "--freq-ghz", "0.9", "--h-bs", "50", "--h-ut", "1.5", "--los"],
            "--los/--nlos applies only to the TR 38.901 models",
        ),
        (
            ["--model", "sui", "--freq-ghz", "3.5", "--h-bs", "30", "--h-ut", "2"],
            "--terrain is required with --model sui",
        ),
        (
            ["--model", "uma", "--freq-ghz", "3.5", "--h-bs", "25", "--h-ut", "1.5", "--d-in", "5"],
            "--d-in needs --o2i low or high",
        ),
    ],
)
def test_bad_input_names_parameter_and_range(args: list[str], needle: str) -> None:
    full = [*args, "--d2d", "2000"] if "--d2d" not in args else args
    code, _, err = run(*full)
    assert code == 2
    assert needle in err


@pytest.mark.parametrize(
    ("d", "needle"),
    [
        ("0", "--d2d=0 m is outside"),
        ("-5", "--d2d=-5 m is not allowed"),
        ("abc", "'abc' is not a distance"),
    ],
)
def test_bad_distances(d: str, needle: str) -> None:
    code, _, err = run(
        "--model", "uma", "--freq-ghz", "3.5", f"--d2d={d}", "--h-bs", "25", "--h-ut", "1.5"
    )
    assert code == 2
    assert needle in err


def test_unknown_model() -> None:
    code, _, err = run(
        "--model", "cost", "--freq-ghz", "3.5", "--d2d", "100", "--h-bs", "25", "--h-ut", "1.5"
    )
    assert code == 2
    assert "--model" in err


def test_console_script_exit_code() -> None:
    twin = Path(sys.executable).with_name("twin")
    ok = subprocess.run(
        [
            str(twin),
            "link",
            "--model",
            "umi",
            "--freq-ghz",
            "3.5",
            "--d2d",
            "50",
            "--h-bs",
            "10",
            "--h-ut",
            "1.5",
            "--los",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["total_db"] > 0
    bad = subprocess.run(
        [
            str(twin),
            "link",
            "--model",
            "umi",
            "--freq-ghz",
            "200",
            "--d2d",
            "50",
            "--h-bs",
            "10",
            "--h-ut",
            "1.5",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "--freq-ghz=200 GHz" in bad.stderr
