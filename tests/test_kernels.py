"""The kernels compiled by helper processes while the city loads (twin.kernels), on a
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


#: `twin run` in this process (its command function, as the console script calls it),
#: then numba's own count of the kernels each dispatcher of twin loaded from the cache
#: and compiled, as the last line of stdout
_RUN_AND_COUNT = """
import json, sys
from numba.core.registry import CPUDispatcher
from twin.cli.main import cli
cli(["-v", "run", "--spacing", "25", "--bands", "3.5", "--no-cache", "--no-progress",
     "--out", sys.argv[1]], standalone_mode=False)
counts = {}
for name, mod in list(sys.modules.items()):
    for attr, obj in vars(mod).items() if name.startswith("twin") else ():
        if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == name:
            st = obj.stats
            counts[name + "." + attr] = [sum(st.cache_hits.values()), sum(st.cache_misses.values())]
print(json.dumps(counts))
"""


def test_cold_cache_is_filled_by_the_helpers_while_the_city_loads(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    cached = "from twin.kernels import kernels_cached; print(kernels_cached())"
    assert _python(cached, env) == "False"
    first = subprocess.run(
        [sys.executable, "-c", _RUN_AND_COUNT, str(tmp_path / "first")],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    assert "compiling the kernels in 2 helper processes" in first.stderr
    assert "kernels compiled by the helper processes" in first.stderr
    # the two helpers compiled every kernel the run called: it loaded them all from the
    # cache and compiled none itself
    counts = json.loads(first.stdout.strip().splitlines()[-1])
    compiled = {name: c for name, c in counts.items() if c[1]}
    assert not compiled, compiled
    for name in (
        "twin.visibility.fast._fast_kernel",
        "twin.visibility.fast._edge_cells_kernel",
        "twin.visibility.dsm._spans_kernel",
        "twin.radio.compiled._serve_kernel",
    ):
        assert counts[name][0] >= 1, (name, counts[name])
    # the helpers filled the cache: the next run starts none, and computes the same
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


def test_warm_up_wait_reports_a_failed_or_slow_helper() -> None:
    """Real helper processes: one that fails makes the wait say False (the run then
    compiles what is missing itself); one over the time limit is stopped."""
    from twin.kernels import WarmUp

    ok = subprocess.Popen([sys.executable, "-c", "pass"])
    failed = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert WarmUp(processes=[ok, failed], started_s=0.0).wait() is False
    assert failed.returncode == 3
    slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert WarmUp(processes=[slow], started_s=0.0).wait(timeout_s=0.5) is False
    assert slow.returncode is not None  # killed, not left running
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    assert WarmUp(processes=[done], started_s=0.0).wait() is True


def test_warm_up_names_its_parts() -> None:
    from twin.kernels import warm_up

    with pytest.raises(ValueError, match="part: 'radio' is not one of walk, raster-radio"):
        warm_up("radio")
