"""Shared fixtures: real OSM extracts (data/ and tests/data/), built once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"

#: every real extract the twin must handle
EXTRACTS = {
    "helsinki": DATA / "helsinki.osm.pbf",
    "monaco": TEST_DATA / "monaco.osm.gz",
    "moscow": TEST_DATA / "moscow.osm.gz",
    "west-oakland": TEST_DATA / "west-oakland.osm.bz2",
}


@pytest.fixture(scope="session", autouse=True)
def _cache_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``twin run`` caches into ``./.twin-cache`` by default: the suite's runs cache in a
    temporary folder instead, so that they leave nothing in the checkout and find
    nothing there from an earlier run (a stale hit would skip the parsing under test)."""
    before = os.environ.get("TWIN_CACHE_DIR")
    os.environ["TWIN_CACHE_DIR"] = str(tmp_path_factory.mktemp("twin-cache"))
    yield
    if before is None:
        os.environ.pop("TWIN_CACHE_DIR", None)
    else:
        os.environ["TWIN_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def helsinki_city():  # type: ignore[no-untyped-def]
    from twin.city import load_city

    return load_city(str(EXTRACTS["helsinki"]))


@pytest.fixture(scope="session")
def oakland_city():  # type: ignore[no-untyped-def]
    from twin.city import load_city

    return load_city(str(EXTRACTS["west-oakland"]))


@pytest.fixture(scope="session")
def default_scenario():  # type: ignore[no-untyped-def]
    from twin.sources.scenario_file import read_scenario

    return read_scenario(ROOT / "scenarios" / "default.toml")


@pytest.fixture(scope="session")
def helsinki_study(helsinki_city, default_scenario):  # type: ignore[no-untyped-def]
    """The default scenario on a 20 m grid (fast enough for the suite)."""
    from twin.scenario import with_overrides
    from twin.study import run_study

    sc = with_overrides(default_scenario, spacing_m=20.0)
    return run_study(sc, city=helsinki_city)


@pytest.fixture
def mount_point(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An empty tmpfs mounted at ``tmp_path / "mnt"`` (a Docker volume's situation);
    skipped where mounting is not permitted."""
    import shutil
    import subprocess

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
