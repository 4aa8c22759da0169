"""Benchmark of the web map in a browser: how long ``map.html`` takes to appear.

Not a test: it prints what it measured. It runs a study of a synthetic city of the
scaling benchmark (UMa rooftop sites every 500 m, three bands, 5 m grid, a fixed site
radius), writes its ``map.html`` as ``twin run`` does with ``--map-max-points`` (0:
every grid point), opens it in Debian's headless Chromium (the driver of the browser
tests, ``tests/browser.py``: software WebGL, no GPU) and prints the page's size, the
seconds until the page says it has drawn the map (``data-twin-rendered``), the
seconds the page then takes to answer a first question (its JavaScript heap), and
saves a screenshot. A page too large for the browser stops answering: the script then
prints how long it waited.

Usage::

    .venv/bin/python benchmarks/bench_map_browser.py --area-km2 40 [--max-points 0]
        [--radius 1000] [--timeout 600] [--screenshot map.png]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from twin.benchmark import positive_float

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the browser driver of the tests


def main() -> None:
    from twin.io import MAP_MAX_POINTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--area-km2", type=positive_float, default=40.0, help="synthetic city area")
    ap.add_argument("--radius", type=positive_float, default=1000.0, help="site radius, m")
    ap.add_argument(
        "--max-points",
        type=int,
        default=MAP_MAX_POINTS,
        help="most grid points drawn (twin run --map-max-points; 0: all)",
    )
    ap.add_argument(
        "--timeout", type=positive_float, default=600.0, help="seconds to wait for the page"
    )
    ap.add_argument("--screenshot", type=Path, help="save a PNG of the page here")
    args = ap.parse_args()
    if args.max_points < 0:
        ap.error(f"--max-points: {args.max_points} must be >= 0 (0: every point)")

    from tests.browser import BrowserError, Chromium, find_chromium
    from twin.benchmark import synthetic_scenario
    from twin.city.synthetic import synthetic_city
    from twin.io.outputs import _write_map, building_frame
    from twin.sites import sites_to_geodataframe
    from twin.study import run_study
    from twin.summary import provenance, summarise

    chromium = find_chromium()
    if chromium is None:
        sys.exit("no chromium: apt-get install chromium (or set TWIN_CHROMIUM)")
    result = run_study(synthetic_scenario(args.radius), city=synthetic_city(args.area_km2, seed=1))
    summary = summarise(result)
    prov = provenance(result, created=summary["provenance"]["created"])
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "map.html"
        t0 = time.perf_counter()
        _write_map(
            result, page, prov=prov, buildings=building_frame(result),
            sites=sites_to_geodataframe(result.sites, result.city.crs),
            map_metric="capacity_mbps", max_points=args.max_points or None,
        )  # fmt: skip
        write_s = time.perf_counter() - t0
        print(
            f"{args.area_km2:g} km² synthetic city: {len(result.grid)} receivers; "
            f"--map-max-points {args.max_points}; map.html {page.stat().st_size / 2**20:.0f} MiB "
            f"written in {write_s:.1f} s; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
            f"{platform.node()}",
            flush=True,
        )
        with Chromium(chromium, width=1200, height=800) as browser:
            browser.open_page()
            t0 = time.perf_counter()
            browser.navigate(page.as_uri(), timeout=args.timeout)
            while True:  # the page may be too busy to answer for a while
                try:
                    if browser.evaluate(
                        "document.documentElement.getAttribute('data-twin-rendered')"
                    ):
                        break
                except BrowserError:
                    print(f"  no answer yet at {time.perf_counter() - t0:.0f} s", flush=True)
                if time.perf_counter() - t0 > args.timeout:
                    print(f"  not drawn in {args.timeout:g} s")
                    return
                time.sleep(0.5)
            print(f"  drawn in {time.perf_counter() - t0:.1f} s", flush=True)
            t1 = time.perf_counter()
            try:
                heap = browser.evaluate("performance.memory.usedJSHeapSize / 1048576")
                print(f"  then answered in {time.perf_counter() - t1:.1f} s: heap {heap:.0f} MiB")
            except BrowserError:
                print(f"  then did not answer for {time.perf_counter() - t1:.0f} s")
                return
            if args.screenshot:
                browser.screenshot(args.screenshot)


if __name__ == "__main__":
    main()
