"""The kernels compiled by a helper process while the city loads (twin.kernels), on a
real empty numba cache, through the real `twin run` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _twin_run(out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("twin")), "-v", "run", "--spacing", "25",
            "--bands", "3.5", "--no-cache", "--no-progress", "--out", str(out),
        ],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip


def test_cold_cache_is_filled_by_the_helper_while_the_city_loads(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    cached = "from twin.kernels import kernels_cached; print(kernels_cached())"
    assert _python(cached, env) == "False"
    first = _twin_run(tmp_path / "first", env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "compiling the kernels in a helper process" in first.stderr
    assert "kernels compiled by the helper process" in first.stderr
    # the helper filled the cache: the next run starts none, and computes the same
    assert _python(cached, env) == "True"
    second = _twin_run(tmp_path / "second", env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "helper" not in second.stderr
    a = json.loads((tmp_path / "first" / "summary.json").read_text())
    b = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert "kernels" in a["timings_s"] and "kernels" not in b["timings_s"]
    assert a["bands"] == b["bands"]
    import numpy as np
    import rasterio

    sinr = {}
    for run in ("first", "second"):
        with rasterio.open(tmp_path / run / "rasters" / "sinr_db_3p5.tif") as src:
            sinr[run] = src.read(1)
    assert np.isfinite(sinr["first"]).any()
    assert np.array_equal(sinr["first"], sinr["second"])
