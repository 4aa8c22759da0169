"""The on-disk cache of city, grid and visibility raster (twin.io.cache, twin.study)."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.scale_inputs import write_footprint_scenario
from twin.cli.main import cli
from twin.io.cache import (
    CACHE_FORMAT,
    OUT_OF_BAND_BYTES,
    StudyCache,
    default_cache_dir,
    read_entry,
    write_entry,
)
from twin.scenario import with_overrides
from twin.sources.scenario_file import read_scenario
from twin.study import StudyOptions, run_study, study_options


def _same_band(a, b) -> None:  # type: ignore[no-untyped-def]
    for name in ("serving_cell", "rsrp_dbm", "sinr_db", "capacity_mbps", "user_type"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


def test_a_what_if_rerun_takes_city_grid_and_raster_from_the_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sc = read_scenario(write_footprint_scenario(tmp_path / "in"))
    cache = StudyCache(tmp_path / "cache")
    caplog.set_level(logging.INFO, logger="twin")
    first = run_study(sc, options=StudyOptions(cache=cache))
    assert cache.hits == []
    kinds = [p.name.split("-")[0] for p in (tmp_path / "cache").glob("*.pkl")]
    assert sorted(set(kinds)) == ["city", "grid", "los", "raster"]
    assert kinds.count("los") == len(first.sites)
    # what-if: other bands, one site fewer
    whatif = with_overrides(sc, bands_ghz=(3.5,))
    caplog.clear()
    again = run_study(whatif, sites=first.sites[1:], options=StudyOptions(cache=cache))
    assert cache.hits == ["city", "grid", "raster", "los"]
    assert sum("cache hit" in r.getMessage() for r in caplog.records) == 4
    assert any(
        f"LoS of {len(first.sites) - 1} of {len(first.sites) - 1} sites" in r.getMessage()
        for r in caplog.records
    )
    assert again.timings_s["city"] < max(first.timings_s["city"], 0.05)
    ref = run_study(whatif, sites=first.sites[1:])  # no cache
    assert np.array_equal(again.los, ref.los)
    _same_band(again.bands["3p5"], ref.bands["3p5"])
    assert again.grid.x_m.tobytes() == first.grid.x_m.tobytes()


def test_moving_one_site_traces_only_that_site(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from dataclasses import replace

    sc = read_scenario(write_footprint_scenario(tmp_path / "in"))
    cache = StudyCache(tmp_path / "cache")
    first = run_study(sc, options=StudyOptions(cache=cache))
    moved = [replace(first.sites[0], x_m=first.sites[0].x_m + 30.0), *first.sites[1:]]
    caplog.set_level(logging.INFO, logger="twin")
    again = run_study(sc, sites=moved, options=StudyOptions(cache=cache))
    m = len(first.sites)
    assert any(f"LoS of {m - 1} of {m} sites" in r.getMessage() for r in caplog.records)
    ref = run_study(sc, sites=moved)
    assert np.array_equal(again.los, ref.los)
    for label in ref.bands:
        _same_band(again.bands[label], ref.bands[label])
    # a fixed radius is part of the key: other radius, traced again
    cache.hits.clear()
    radius = with_overrides(sc)
    data = radius.model_dump(mode="python")
    data["radio"]["max_site_distance_m"] = 300.0
    small = type(sc).model_validate(data)
    r300 = run_study(small, sites=moved, options=StudyOptions(cache=cache))
    assert "los" not in cache.hits
    assert np.array_equal(r300.los, run_study(small, sites=moved).los)


def test_changed_input_or_options_miss_the_cache(tmp_path: Path) -> None:
    path = write_footprint_scenario(tmp_path / "in")
    sc = read_scenario(path)
    cache = StudyCache(tmp_path / "cache")
    run_study(sc, options=StudyOptions(cache=cache))
    # grid settings: the city is reused, the grid is not
    run_study(with_overrides(sc, spacing_m=20.0), options=StudyOptions(cache=cache))
    assert cache.hits == ["city", "raster"]
    # city options: nothing is reused
    cache.hits.clear()
    data = sc.model_dump(mode="python")
    data["city"]["default_height_m"] = 12.0
    run_study(type(sc).model_validate(data), options=StudyOptions(cache=cache))
    assert "city" not in cache.hits
    # the input file's bytes
    cache.hits.clear()
    geojson = tmp_path / "in" / "city.geojson"
    geojson.write_text(geojson.read_text().replace('"height_m": 9.0', '"height_m": 9.5', 1))
    run_study(sc, options=StudyOptions(cache=cache))
    assert cache.hits == []


def test_stale_or_broken_entries_are_ignored_and_replaced(tmp_path: Path) -> None:
    sc = read_scenario(write_footprint_scenario(tmp_path / "in"))
    cache = StudyCache(tmp_path / "cache")
    ref = run_study(sc, options=StudyOptions(cache=cache))
    files = sorted((tmp_path / "cache").glob("*.pkl"))
    city_file = next(p for p in files if p.name.startswith("city-"))
    grid_file = next(p for p in files if p.name.startswith("grid-"))
    entry = read_entry(city_file)
    entry["format"] = CACHE_FORMAT + 1  # written by another version of the format
    city_file.unlink()  # (mapped by ``entry``: a new file, as the cache writes)
    with open(city_file, "wb") as fh:
        write_entry(fh, entry)
    grid_file.write_bytes(b"not a pickle")
    cache.hits.clear()
    again = run_study(sc, options=StudyOptions(cache=cache))
    assert cache.hits == ["raster", "los"]
    assert np.array_equal(again.los, ref.los)
    # replaced by good entries
    cache.hits.clear()
    run_study(sc, options=StudyOptions(cache=cache))
    assert cache.hits == ["city", "grid", "raster", "los"]


def test_an_unwritable_cache_only_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sc = read_scenario(write_footprint_scenario(tmp_path / "in"))
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    caplog.set_level(logging.WARNING, logger="twin")
    r = run_study(sc, options=StudyOptions(cache=StudyCache(blocker / "cache")))
    assert len(r.grid) > 0
    assert any("could not write" in rec.getMessage() for rec in caplog.records)


def test_cache_folder_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("TWIN_CACHE_DIR")
    monkeypatch.chdir(tmp_path)
    assert default_cache_dir() == tmp_path / ".twin-cache"


def test_study_options_reach_nested_runs(tmp_path: Path) -> None:
    """Functions that call run_study (what-if variants) get the options of the block."""
    from twin.whatif import run_variant

    sc = read_scenario(write_footprint_scenario(tmp_path / "in"))
    cache = StudyCache(tmp_path / "cache")
    with study_options(StudyOptions(cache=cache)):
        run_variant(sc)
        run_variant(sc, bands_ghz=(28.0,))
    assert cache.hits == ["city", "grid", "raster", "los"]


def test_twin_run_caches_unless_told_not_to(tmp_path: Path) -> None:
    scenario = write_footprint_scenario(tmp_path / "in")
    runner = CliRunner()
    env = {"TWIN_CACHE_DIR": str(tmp_path / "cache")}
    base = ["run", str(scenario), "--no-progress"]
    r1 = runner.invoke(cli, [*base, "--out", str(tmp_path / "o1")], env=env)
    assert r1.exit_code == 0, r1.output
    assert "cache hit" not in r1.output
    r2 = runner.invoke(cli, [*base, "--out", str(tmp_path / "o2"), "--bands", "28"], env=env)
    assert r2.exit_code == 0, r2.output
    assert r2.output.count("cache hit") == 4
    r3 = runner.invoke(cli, [*base, "--out", str(tmp_path / "o3"), "--no-cache"], env=env)
    assert r3.exit_code == 0, r3.output
    assert "twin.io.cache" not in r3.output
    assert (tmp_path / "o2" / "rasters" / "sinr_db_28.tif").is_file()


def test_the_study_raster_has_the_default_cell_size_and_its_key_names_it(tmp_path: Path) -> None:
    """The study builds the fast engine's raster at RASTER_RES_M (the size measured in
    BENCHMARKS.md), and the cache keys it by that size: a raster of another size under
    another key is never taken for it."""
    from twin.study import load_scenario_city, visibility_raster
    from twin.visibility import BuildingPrisms
    from twin.visibility.fast import RASTER_RES_M, build_fast_raster

    sc = read_scenario(write_footprint_scenario(tmp_path / "in"))
    city = load_scenario_city(sc)
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    cache = StudyCache(tmp_path / "cache")
    raster = visibility_raster(city, prisms, cache=cache, fingerprint="f")
    assert raster.grid.res_m == RASTER_RES_M
    assert cache.path("raster", {"city": "f", "res_m": RASTER_RES_M}).is_file()
    # an entry of 1 m cells (as written before the default changed) is not read
    cache.put("raster", {"city": "f", "res_m": 1.0}, build_fast_raster(prisms, res_m=1.0))
    again = visibility_raster(city, prisms, cache=cache, fingerprint="f")
    assert again.grid.res_m == RASTER_RES_M
    assert np.array_equal(again.code, raster.code)


def test_a_fixed_radius_caches_each_sites_los_where_it_reaches(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With a fixed radius each receiver keeps only the sites reaching its block, and a
    site's cached LoS holds only those receivers: a re-run with one site moved reads the
    others' from the cache and equals a run without it."""
    from dataclasses import replace

    from twin.benchmark import synthetic_scenario
    from twin.city.synthetic import synthetic_city

    city = synthetic_city(2.25, seed=7)
    sc = synthetic_scenario(420.0, spacing_m=10.0)
    cache = StudyCache(tmp_path / "cache")
    first = run_study(sc, city=city, options=StudyOptions(cache=cache))
    blocks = first.los_bits.blocks
    assert blocks is not None
    n, m = len(first.grid), len(first.sites)
    entries = [read_entry(p) for p in (tmp_path / "cache").glob("los-*.pkl")]
    kept = sorted(e["value"].size for e in entries)
    assert len(kept) == m and kept[0] < -(-n // 8)  # the nearer sites hold fewer receivers
    by_block = blocks.receivers_by_block()
    expect = sorted(-(-first.los_bits.kept_count(j, by_block) // 8) for j in range(m))
    assert kept == expect
    moved = [replace(first.sites[0], x_m=first.sites[0].x_m + 30.0), *first.sites[1:]]
    caplog.set_level(logging.INFO, logger="twin")
    again = run_study(sc, city=city, sites=moved, options=StudyOptions(cache=cache))
    assert any(f"LoS of {m - 1} of {m} sites" in r.getMessage() for r in caplog.records)
    ref = run_study(sc, city=city, sites=moved)
    assert np.array_equal(again.los, ref.los)
    for label in ref.bands:
        _same_band(again.bands[label], ref.bands[label])


def test_large_arrays_of_an_entry_are_mapped_copy_on_write(tmp_path: Path) -> None:
    """An entry's large arrays come back equal, backed by the cache file (no copy),
    writable without changing the file; small ones and other objects ride in the
    pickle; a truncated or foreign file is no entry."""
    import mmap

    rng = np.random.default_rng(3)
    big = rng.random(OUT_OF_BAND_BYTES // 8 * 3)
    strided = np.arange(2 * OUT_OF_BAND_BYTES, dtype=np.int32)[::2]  # not contiguous
    value = {"big": big, "ints": big.astype(np.int32), "small": np.arange(5), "s": strided,
             "text": "Helsinki"}  # fmt: skip
    cache = StudyCache(tmp_path / "cache")
    path = cache.put("grid", {"k": 1}, value)
    assert path is not None
    got = cache.get("grid", {"k": 1})
    for name in ("big", "ints", "small", "s"):
        assert np.array_equal(got[name], value[name]), name
    assert got["text"] == "Helsinki"

    def mapped(a: np.ndarray) -> bool:
        base = a
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
        return isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)

    assert mapped(got["big"]) and mapped(got["ints"])
    assert not mapped(got["small"]) and not mapped(got["s"])
    before = path.read_bytes()
    got["big"][:10] = -1.0  # a private copy of the page
    assert path.read_bytes() == before
    assert np.array_equal(cache.get("grid", {"k": 1})["big"], big)
    path.write_bytes(before[: len(before) // 2])  # truncated in the buffers
    assert cache.get("grid", {"k": 1}) is None
    path.write_bytes(before[:40])  # truncated in the pickle
    assert cache.get("grid", {"k": 1}) is None
    path.write_bytes(pickle.dumps({"format": CACHE_FORMAT}))  # the format before
    assert cache.get("grid", {"k": 1}) is None
