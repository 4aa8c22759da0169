"""Benchmark of the visibility engines: fast vs exact vs gdal_viewshed, per site.

Not a test: it prints timings and agreement. For a city (default: the embedded central
Helsinki extract) it builds the study's receivers (5 m grid + street points, indoor and
outdoor, ``twin.grid.build_grid``) and the default rooftop (UMa, ISD 500 m) and street
(UMi, ISD 200 m) sites, then times per site

* ``los_matrix(mode="fast")`` and ``mode="exact"`` on the study receivers, and their
  agreement;
* ``los_matrix(mode="fast")`` on one outdoor receiver per 1 m DSM cell (the work of a
  viewshed);
* ``twin.visibility.viewshed`` (gdal_viewshed semantics, in-process) on the 1 m DSM and,
  when installed, the ``gdal_viewshed`` program (wall time, including its file I/O),
  with the cell agreement of the two.

Usage::

    .venv/bin/python benchmarks/bench_visibility.py [CITY] [--res 1.0] [--spacing 5.0]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

from twin.benchmark import gdal_compute_s
from twin.city import load_city
from twin.grid import build_grid
from twin.sites import rooftop_sites, street_sites
from twin.visibility import BuildingPrisms, los_matrix
from twin.visibility.dsm import rasterize_dsm
from twin.visibility.fast import build_fast_raster, los_fast
from twin.visibility.viewshed import viewshed

ROOT = Path(__file__).resolve().parent.parent


def _best(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls, seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("city", nargs="?", default=str(ROOT / "data" / "helsinki.osm.pbf"))
    parser.add_argument("--res", type=float, default=1.0, help="DSM cell size, m")
    parser.add_argument("--spacing", type=float, default=5.0, help="receiver grid spacing, m")
    parser.add_argument(
        "--viewsheds",
        type=int,
        default=8,
        help="sites to run viewsheds for (half rooftop, half street)",
    )
    args = parser.parse_args()

    print(
        f"# {date.today()}  {platform.node()}  {os.cpu_count()} cores  "
        f"{platform.processor() or platform.machine()}"
    )
    t0 = time.perf_counter()
    city = load_city(args.city)
    print(
        f"city {args.city}: {len(city.buildings)} buildings, "
        f"loaded in {time.perf_counter() - t0:.1f} s"
    )
    prisms = BuildingPrisms.from_geodataframe(city.buildings)
    grid = build_grid(
        city.buildings, city.bounds, city.crs, spacing_m=args.spacing, streets=city.streets
    )
    rx = np.c_[grid.x_m, grid.y_m, grid.rx_height_m]
    bid = np.asarray(grid.building_id)
    sites = rooftop_sites(city.buildings, city.bounds) + street_sites(
        city.streets, city.buildings, city.bounds
    )
    tx = np.array([[s.x_m, s.y_m, s.height_m] for s in sites])
    print(
        f"receivers: {len(rx)} ({int((bid >= 0).sum())} indoor), sites: {len(tx)} "
        f"({sum(s.model == 'uma' for s in sites)} rooftop)"
    )

    # compile once (numba caches to __pycache__, later runs skip this)
    los_matrix(prisms, rx[:10], bid[:10], tx[:1], mode="fast")
    los_matrix(prisms, rx[:10], bid[:10], tx[:1], mode="exact")
    t_raster = _best(lambda: build_fast_raster(prisms, res_m=args.res), 1)
    raster = build_fast_raster(prisms, res_m=args.res)
    print(
        f"fast raster: {raster.grid.n_cols} x {raster.grid.n_rows} cells, "
        f"{raster.n_mixed} mixed, built in {t_raster * 1e3:.0f} ms (once per city)"
    )

    n_roof = sum(s.model == "uma" for s in sites)
    for label, cols in (
        ("rooftop", slice(0, n_roof)),
        ("street", slice(n_roof, None)),
        ("all", slice(None)),
    ):
        tt = tx[cols]
        if len(tt) == 0:
            continue
        c0 = time.process_time()
        t_fast = _best(lambda tt=tt: los_fast(prisms, rx, bid, tt, raster=raster))
        cpu = (time.process_time() - c0) / 3
        print(
            f"study receivers, {label} sites ({len(tt)}): fast "
            f"{t_fast / len(tt) * 1e3:.1f} ms/site wall "
            f"({t_fast / rx.shape[0] / len(tt) * 1e9:.0f} ns/pair), "
            f"{cpu / len(tt) * 1e3:.1f} ms/site CPU (both threads, mean of 3 runs)"
        )
    # the exact engine is slow on long segments: compare on a fixed sample of receivers
    pick = np.random.default_rng(0).choice(len(rx), min(len(rx), 5000), replace=False)
    fast = los_fast(prisms, rx[pick], bid[pick], tx, raster=raster)
    t_exact = _best(lambda: los_matrix(prisms, rx[pick], bid[pick], tx, mode="exact"), 1)
    exact = los_matrix(prisms, rx[pick], bid[pick], tx, mode="exact")
    agree = (fast == exact).mean(axis=0)
    print(
        f"sample of {len(pick)} receivers: exact {t_exact / len(tx) * 1e3:.1f} ms/site "
        f"({t_exact / len(pick) / len(tx) * 1e9:.0f} ns/pair); fast vs exact agreement "
        f"per site min {agree.min() * 100:.3f} %, mean {agree.mean() * 100:.3f} %; "
        f"LoS {exact.mean() * 100:.1f} % of pairs"
    )

    dsm, dgrid = rasterize_dsm(prisms, args.res, bounds_m=city.bounds)
    transform = dgrid.transform
    rows, cols = dsm.shape
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    cx = transform.c + (cc.ravel() + 0.5) * transform.a
    cy = transform.f + (rr.ravel() + 0.5) * transform.e
    outdoor = dsm.ravel() == 0
    cells = np.c_[cx[outdoor], cy[outdoor], np.full(int(outdoor.sum()), 1.5)]
    no_bid = np.full(len(cells), -1)
    t_cells = _best(lambda: los_fast(prisms, cells, no_bid, tx[:4], raster=raster), 1)
    print(f"every outdoor 1 m cell ({len(cells)} receivers): fast {t_cells / 4 * 1e3:.1f} ms/site")

    gdal = shutil.which("gdal_viewshed")
    with tempfile.TemporaryDirectory() as tmp:
        dsm_path = Path(tmp) / "dsm.tif"
        from twin.io.dsm_file import write_dsm_geotiff

        write_dsm_geotiff(dsm_path, dsm, transform=transform, crs=city.crs)
        print(
            f"DSM {cols} x {rows} = {rows * cols} cells of {args.res} m; viewsheds of the "
            f"first {args.viewsheds} sites, target 1.5 m"
        )
        observers = []
        half = max(1, args.viewsheds // 2)
        picks = list(zip(sites, tx, strict=True))
        picks = picks[:n_roof][:half] + picks[n_roof:][: args.viewsheds - half]
        for s, (x, y, z) in picks:
            col, row = ~transform @ (x, y)
            if not (0 <= row < rows and 0 <= col < cols):
                continue
            oz = max(0.0, float(z) - float(dsm[int(row), int(col)]))
            observers.append((s.site_id, float(x), float(y), oz))
        gdal_compute = {k: v * 1e3 for k, v in gdal_compute_s(dsm_path, observers).items()}
        for site_id, x, y, oz in observers:

            def ours_of(x: float = x, y: float = y, oz: float = oz) -> np.ndarray:
                return viewshed(
                    dsm, transform, (x, y), observer_height_m=oz, target_height_m=1.5,
                    semi_major_m=6378137.0,
                )  # fmt: skip

            ours = ours_of()
            t_ours = _best(ours_of)
            site_tx = tx[[k for k, q in enumerate(sites) if q.site_id == site_id]]
            c0 = time.process_time()
            t_site = _best(
                lambda site_tx=site_tx: los_fast(prisms, rx, bid, site_tx, raster=raster)
            )
            cpu_site = (time.process_time() - c0) / 3
            line = (
                f"  site {site_id:>4}: fast LoS on the study receivers {t_site * 1e3:5.1f} ms "
                f"wall, {cpu_site * 1e3:5.1f} ms CPU; twin viewshed {t_ours * 1e3:5.1f} ms"
            )
            if gdal:
                out = Path(tmp) / "gv.tif"
                cmd = [gdal, "-q", "-ox", str(x), "-oy", str(y), "-oz", str(oz)]
                cmd += ["-tz", "1.5", "-vv", "1", "-iv", "0", "-ov", "0", str(dsm_path), str(out)]
                t_g = _best(lambda cmd=cmd: subprocess.run(cmd, check=True))
                import rasterio

                with rasterio.open(out) as src:
                    theirs = src.read(1)
                if site_id in gdal_compute:
                    line += f", GDAL compute {gdal_compute[site_id]:6.1f} ms"
                line += (
                    f", gdal_viewshed process {t_g * 1e3:6.1f} ms (with file I/O); "
                    f"cells agreeing {(theirs == ours).mean() * 100:.4f} %"
                )
            print(line)


if __name__ == "__main__":
    main()
