"""The receiver-by-receiver pass of a study, tile by tile (pure).

A study's receivers are cut into tiles: the regular grid by raster blocks of
``tile_cells`` x ``tile_cells`` cells, and each street receiver into the block it lies
in. One tile needs only its receivers and what every tile shares (:class:`TileContext`:
building prisms, the visibility raster, sites, their radius, the bands' cells and the
radio settings), so tiles can run in any order, in this process or on dask workers
(:mod:`twin.cluster`). A tile computes:

1. the LoS of its receivers to the sites whose radius reaches the tile's bounding box
   (pairs beyond a site's radius are left NLoS and carry nothing);
2. for each band, each receiver's best server, its power, loss, distance and LoS, and the
   co-channel interference (:func:`twin.radio.network.serve_bands`: every band in one
   compiled pass, by blocks of the tile).

In process, a study runs the tiles twice (:func:`twin.study.run_study`): once with no
band (step 1 only, with the raster), then with the bands, the LoS of step 1 given as
known (:attr:`TileContext.known_sites`) and no raster, so that the raster and the radio
results are not in memory together. On dask, each task does both steps for its tile,
step 2 by square blocks (:func:`radio_blocks`, :attr:`TileContext.radio_block_m`).

What needs every receiver (best-server areas -> users -> bandwidth -> SINR, capacity) is
done once all tiles are in (:func:`twin.radio.network.finish_band`). Every value of a
receiver depends only on that receiver, so the result does not depend on the tiling.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

from twin.arrays import ArrayAlloc, full
from twin.city.ground import CityGround
from twin.grid import ReceiverGrid
from twin.radio.network import (
    CHUNK_ELEMENTS,
    BandCells,
    RadioParams,
    Serving,
    serve_bands,
)
from twin.sites import Site
from twin.visibility import BuildingPrisms
from twin.visibility.fast import FastRaster
from twin.visibility.ground import los_on_ground

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: default side of a tile, grid cells (256 x 256 cells of 5 m: 1.28 km)
TILE_CELLS = 256


@dataclass(frozen=True, eq=False)
class TileContext:
    """What every tile shares (sent once to each dask worker).

    Attributes
    ----------
    prisms
        The city's building prisms; None when every site's LoS is known (the radio pass).
    raster
        The fast visibility raster of the prisms (``visibility="fast"``), else None.
    visibility
        {"fast", "exact"}.
    sites
        The study's M sites (their ids seed the shadow fields).
    tx_xyz_m
        (M, 3) antenna positions (x, y, height above ground).
    site_radius_m
        (M,) radius of each site (inf: no limit).
    bands
        Label -> cells of each band.
    params
        Radio settings.
    known_sites
        Increasing indices of the sites whose LoS the tasks bring (:attr:`TileTask.known_los`)
        and that are not traced again; None: none.
    radio_origin_m, radio_block_m
        The radio work of a tile is done by square blocks of ``radio_block_m`` metres,
        aligned on the point ``radio_origin_m`` (x, y): a block's radio work is its
        receivers times the sites reaching any of them, and a small block is reached by
        fewer far sites than a large tile. None: the whole tile at once.
    ground
        The terrain and the buildings' ground when the city stands on terrain
        (:func:`twin.city.ground.city_ground`; the prisms then stand on its datum and
        the sites carry their ``ground_m``), None on flat ground.
    """

    prisms: BuildingPrisms | None
    raster: FastRaster | None
    visibility: str
    sites: list[Site]
    tx_xyz_m: FloatArray
    site_radius_m: FloatArray
    bands: dict[str, BandCells]
    params: RadioParams
    known_sites: IntArray | None = None
    radio_origin_m: tuple[float, float] = (0.0, 0.0)
    radio_block_m: float | None = None
    ground: CityGround | None = None


class LoSBlocks:
    """Which sites' LoS each receiver keeps: those whose radius reaches its block.

    The receivers go by square blocks of ``block_cells`` raster cells (as
    :func:`tile_indices`); a block keeps the sites whose radius reaches the bounding box
    of its receivers, in increasing order, the only ones any of them can see (a pair
    beyond its site's radius is NLoS). With a fixed radius a block keeps about as many
    sites as a circle of the radius holds, whatever the size of the city, so
    :class:`PackedLoS` grows with the receivers, not with receivers x sites.
    """

    def __init__(
        self,
        grid: ReceiverGrid,
        block_cells: int,
        tx_xyz_m: FloatArray,
        site_radius_m: FloatArray,
        alloc: ArrayAlloc = full,
    ) -> None:
        order, start, box = receiver_blocks(grid, block_cells, alloc)
        self.grid = grid
        self.alloc = alloc
        self.block_cells = block_cells
        rows, cols = grid.spec.shape
        self._block_cols = -(-cols // block_cells)
        n_blocks = -(-rows // block_cells) * self._block_cols
        row, col = _receiver_cells(grid, order[start[:-1]])
        del order
        #: raster block -> its position among the blocks with receivers (-1: none)
        self.slot_of_block = np.full(n_blocks, -1, dtype=np.int32)
        self.slot_of_block[self._block_id(row, col)] = np.arange(row.size, dtype=np.int32)
        tx = np.asarray(tx_xyz_m, dtype=float).reshape(-1, 3)
        radius = np.asarray(site_radius_m, dtype=float)
        n_sites = tx.shape[0]
        counts, lists = [], []
        # by chunks of blocks: (blocks x sites) grows with the square of the area
        step = max(1, CHUNK_ELEMENTS // max(n_sites, 1))
        for lo in range(0, box.shape[0], step):
            b = box[lo : lo + step]
            near = box_distance_m(
                b[:, 0, None], b[:, 1, None], b[:, 2, None], b[:, 3, None], tx[:, 0], tx[:, 1]
            )
            reach = near <= radius
            counts.append(reach.sum(axis=1))
            lists.append(np.nonzero(reach)[1].astype(np.int32))
        count = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
        #: the sites of block slot ``s`` are ``site_list[site_start[s]:site_start[s + 1]]``
        self.site_start = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
        self.site_list = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int32)
        self.n_sites = n_sites
        #: bytes per receiver: the most sites a block keeps, one bit each
        self.width_bytes = -(-int(count.max()) // 8) if count.size else 0

    def _block_id(
        self, row: npt.NDArray[np.int32], col: npt.NDArray[np.int32]
    ) -> npt.NDArray[np.int32]:
        return _block_numbers(row, col, self.block_cells, self._block_cols)

    @property
    def every_site(self) -> bool:
        """Whether every block keeps every site (then the layout is the dense one)."""
        return bool(np.all(np.diff(self.site_start) == self.n_sites))

    def slots(self, index: IntArray) -> npt.NDArray[np.int32]:
        """The block slot of each receiver of ``index``."""
        row, col = _receiver_cells(self.grid, index)
        return self.slot_of_block[self._block_id(row, col)]

    def sites(self, slot: int) -> npt.NDArray[np.int32]:
        """The sites block ``slot`` keeps, increasing."""
        return self.site_list[self.site_start[slot] : self.site_start[slot + 1]]

    def site_position(self, j: int) -> npt.NDArray[np.int64]:
        """(slots,) where site ``j`` is among each block's sites, -1 where not kept."""
        at = np.flatnonzero(self.site_list == j)
        slot = np.searchsorted(self.site_start, at, side="right") - 1
        pos = np.full(self.site_start.size - 1, -1, dtype=np.int64)
        pos[slot] = at - self.site_start[slot]
        return pos

    def receivers_by_block(self) -> tuple[IntArray, IntArray]:
        """The receivers block by block (in slot order) and where each slot starts in
        that order, the end appended (:func:`receiver_blocks`; the order made by the
        blocks' ``alloc``)."""
        return _block_order(self.grid, self.block_cells, "block_cells", self.alloc)

    def groups(self, index: IntArray) -> list[tuple[int, slice | IntArray]]:
        """The receivers of ``index`` by block: (slot, their positions in ``index``)."""
        if index.size == 0:
            return []
        slot = self.slots(index)
        if slot.min() == slot.max():  # a tile within one block
            return [(int(slot[0]), slice(None))]
        order = np.argsort(slot, kind="stable")
        cuts = np.flatnonzero(np.diff(slot[order])) + 1
        return [(int(slot[part[0]]), part) for part in np.split(order, cuts)]


def _positions(kept: npt.NDArray[np.int32], site_cols: IntArray) -> tuple[IntArray, IntArray]:
    """Where each of ``site_cols`` is among ``kept`` (both increasing): the positions in
    ``kept`` of those it holds, and their positions in ``site_cols``."""
    at = np.searchsorted(kept, site_cols)
    hit = at < kept.size
    hit[hit] = kept[at[hit]] == site_cols[hit]
    return at[hit].astype(np.int64), np.flatnonzero(hit)


class PackedLoS:
    """An (N, M) bool matrix of LoS, receivers x sites, stored 1 bit per element kept.

    Without ``blocks`` every element is kept: the rows are bit-packed along the sites
    (:func:`numpy.packbits`, big-endian bit order), N x ceil(M / 8) bytes, an eighth of
    the bool matrix (memory grows with receivers x sites). With ``blocks``
    (:class:`LoSBlocks`) a receiver keeps only the sites its block keeps, the bits of
    row i in the order of those sites; the others are NLoS (False), and writing True
    there is an error. A study's LoS pass writes into one, its radio pass reads the
    tiles' rows from it, and :class:`twin.study.StudyResult` keeps it.
    """

    def __init__(
        self,
        n_receivers: int,
        n_sites: int,
        blocks: LoSBlocks | None = None,
        alloc: ArrayAlloc = full,
    ) -> None:
        self.n_sites = n_sites
        self.blocks = blocks
        width = -(-n_sites // 8) if blocks is None else blocks.width_bytes
        #: (N, width) uint8, made by ``alloc`` (in memory, or in a scratch file)
        self.bits = alloc(n_receivers * width, np.uint8, 0).reshape(n_receivers, width)

    @classmethod
    def of(cls, los: BoolArray, *, chunk_rows: int = 1 << 16) -> PackedLoS:
        """The packed form of an (N, M) bool matrix."""
        los = np.asarray(los, dtype=np.bool_)
        out = cls(los.shape[0], los.shape[1])
        for lo in range(0, los.shape[0], chunk_rows):
            out.bits[lo : lo + chunk_rows] = np.packbits(los[lo : lo + chunk_rows], axis=1)
        return out

    @property
    def shape(self) -> tuple[int, int]:
        """(N, M)."""
        return (int(self.bits.shape[0]), self.n_sites)

    def rows(self, index: IntArray, site_cols: IntArray | None = None) -> BoolArray:
        """(len(index), K) bool: the LoS of the receivers ``index`` to the sites
        ``site_cols`` (increasing; None: all M sites). Only the bytes from the first to
        the last of those sites are unpacked."""
        if self.blocks is not None:
            cols = np.arange(self.n_sites) if site_cols is None else site_cols
            out = np.zeros((index.size, cols.size), dtype=np.bool_)
            for slot, sel in self.blocks.groups(index):
                kept = self.blocks.sites(slot)
                at, hit = _positions(kept, cols)
                if hit.size == 0:
                    continue
                bits = np.unpackbits(self.bits[index[sel]], axis=1, count=kept.size)
                part = bits.view(np.bool_)[:, at]
                if isinstance(sel, slice):
                    out[:, hit] = part
                else:
                    out[np.ix_(sel, hit)] = part
            return out
        if site_cols is None or self._all_sites(site_cols):
            return np.unpackbits(self.bits[index], axis=1, count=self.n_sites).view(np.bool_)
        out = np.empty((index.size, site_cols.size), dtype=np.bool_)
        if site_cols.size == 0:
            return out
        _, block, runs = self._block(self.bits[index], site_cols)
        for k0, k1, p0 in runs:
            out[:, k0:k1] = block[:, p0 : p0 + k1 - k0]
        return out

    def put(self, index: IntArray, site_cols: IntArray, los: BoolArray) -> None:
        """Write ``los`` (len(index), len(site_cols)) at the receivers ``index`` and sites
        ``site_cols`` (increasing); the other sites of these receivers keep their values.
        Only the bytes from the first to the last of those sites are unpacked and packed
        again.

        Raises
        ------
        ValueError
            With ``blocks``, when ``los`` is True for a site a receiver's block does not
            keep (beyond the site's radius).
        """
        if self.blocks is not None:
            self._put_blocks(index, site_cols, los)
            return
        if self._all_sites(site_cols):
            self.bits[index] = np.packbits(los, axis=1)
            return
        if site_cols.size == 0:
            return
        rows = self.bits[index]
        b0, block, runs = self._block(rows, site_cols)
        for k0, k1, p0 in runs:
            block[:, p0 : p0 + k1 - k0] = los[:, k0:k1]
        rows[:, b0 : b0 + block.shape[1] // 8] = np.packbits(block, axis=1)
        self.bits[index] = rows

    def _put_blocks(self, index: IntArray, site_cols: IntArray, los: BoolArray) -> None:
        assert self.blocks is not None
        for slot, sel in self.blocks.groups(index):
            kept = self.blocks.sites(slot)
            at, hit = _positions(kept, site_cols)
            part = los[sel]
            if hit.size < site_cols.size:
                dropped = np.ones(site_cols.size, dtype=np.bool_)
                dropped[hit] = False
                if part[:, dropped].any():
                    raise ValueError(
                        "PackedLoS.put: LoS to a site whose radius does not reach the "
                        f"receivers' block (sites {site_cols[dropped].tolist()[:5]})"
                    )
            rx = index[sel]
            if at.size == kept.size:  # every site the block keeps is given
                block = np.empty((part.shape[0], kept.size), dtype=np.bool_)
            else:
                block = np.unpackbits(self.bits[rx], axis=1, count=kept.size).view(np.bool_)
            block[:, at] = part[:, hit]
            packed = np.packbits(block, axis=1)
            self.bits[rx, : packed.shape[1]] = packed

    def _all_sites(self, site_cols: IntArray) -> bool:
        """Whether ``site_cols`` are all the sites in order."""
        return site_cols.size == self.n_sites and bool(
            np.array_equal(site_cols, np.arange(self.n_sites))
        )

    @staticmethod
    def _block(
        rows: npt.NDArray[np.uint8], site_cols: IntArray
    ) -> tuple[int, BoolArray, list[tuple[int, int, int]]]:
        """The bytes of ``rows`` from the first to the last site of ``site_cols``
        (increasing, not empty) unpacked: the first byte, the bits, and the runs of
        consecutive sites (k0, k1, p0): ``site_cols[k0:k1]`` are the bits from ``p0`` on.
        Copies by these slices take half the time of a fancy index over whole rows: for
        65 000 receivers and 56 of 203 sites, :meth:`put` 20 ms against 39 ms and
        :meth:`rows` 13 ms against 24 ms (the 2-core VM of BENCHMARKS.md)."""
        cols = np.asarray(site_cols, dtype=np.int64)
        b0 = int(cols[0]) >> 3
        b1 = (int(cols[-1]) >> 3) + 1
        block = np.unpackbits(rows[:, b0:b1], axis=1).view(np.bool_)
        pos = cols - 8 * b0
        cut = np.flatnonzero(np.diff(pos) != 1) + 1
        k0 = np.concatenate([[0], cut])
        k1 = np.concatenate([cut, [cols.size]])
        runs = list(zip(k0.tolist(), k1.tolist(), pos[k0].tolist(), strict=True))
        return b0, block, runs

    def put_packed(self, index: IntArray, site_cols: IntArray, bits: np.ndarray) -> None:
        """:meth:`put` from the LoS packed along ``site_cols`` (:attr:`TileOutput.los_bits`);
        written as is when ``site_cols`` are all the sites in order."""
        if self.blocks is None and self._all_sites(site_cols):
            self.bits[index] = bits
        else:
            los = np.unpackbits(bits, axis=1, count=site_cols.size).view(np.bool_)
            self.put(index, site_cols, los)

    def column(self, j: int) -> BoolArray:
        """(N,) bool: the LoS of every receiver to site ``j``."""
        if self.blocks is not None:
            return self.column_at(j, np.arange(self.shape[0]))
        return np.asarray((self.bits[:, j >> 3] >> (7 - (j & 7))) & 1, dtype=np.bool_)

    def column_at(self, j: int, index: IntArray) -> BoolArray:
        """(len(index),) bool: the LoS of the receivers ``index`` to site ``j`` (reads one
        byte per receiver: no whole column)."""
        if self.blocks is not None:
            rx, pos = self._kept(j, index)
            out = np.zeros(index.size, dtype=np.bool_)
            out[rx] = (self.bits[index[rx], pos >> 3] >> (7 - (pos & 7))) & 1
            return out
        return np.asarray((self.bits[index, j >> 3] >> (7 - (j & 7))) & 1, dtype=np.bool_)

    def kept_receivers(self, j: int, by_block: tuple[IntArray, IntArray] | None = None) -> IntArray:
        """The receivers that keep site ``j``: every receiver in order without blocks;
        with blocks those of the blocks that keep ``j``, block by block (``by_block``:
        :meth:`LoSBlocks.receivers_by_block`, made here when None). The cost grows with
        the receivers kept, not with the city."""
        if self.blocks is None:
            return np.arange(self.shape[0])
        return self._kept_by_block(j, by_block)[0]

    def kept_count(self, j: int, by_block: tuple[IntArray, IntArray] | None = None) -> int:
        """How many receivers keep site ``j`` (the size of :meth:`kept_receivers`)."""
        if self.blocks is None:
            return self.shape[0]
        _, start = self.blocks.receivers_by_block() if by_block is None else by_block
        slots = np.flatnonzero(self.blocks.site_position(j) >= 0)
        return int((start[slots + 1] - start[slots]).sum())

    def kept_column(self, j: int, by_block: tuple[IntArray, IntArray] | None = None) -> BoolArray:
        """The LoS to site ``j`` of :meth:`kept_receivers`, in their order (the form the
        cache stores)."""
        if self.blocks is None:
            return self.column(j)
        rx, pos = self._kept_by_block(j, by_block)
        return np.asarray((self.bits[rx, pos >> 3] >> (7 - (pos & 7))) & 1, dtype=np.bool_)

    def set_kept_column(
        self, j: int, los: BoolArray, by_block: tuple[IntArray, IntArray] | None = None
    ) -> None:
        """Set the LoS to site ``j`` of :meth:`kept_receivers`, in their order.

        Raises
        ------
        ValueError
            When ``los`` has not one value per receiver that keeps ``j``.
        """
        if self.blocks is None:
            rx, pos = np.arange(self.shape[0]), None
        else:
            rx, pos = self._kept_by_block(j, by_block)
        if los.shape != rx.shape:
            raise ValueError(
                f"PackedLoS.set_kept_column: {los.size} values for the {rx.size} receivers "
                f"that keep site {j}"
            )
        if pos is None:
            self.set_column(j, los)
        else:
            self._set_bits(rx, pos, los)

    def _kept_by_block(
        self, j: int, by_block: tuple[IntArray, IntArray] | None
    ) -> tuple[IntArray, IntArray]:
        """The receivers that keep site ``j``, block by block, and the bit of ``j`` in
        their rows."""
        assert self.blocks is not None
        order, start = self.blocks.receivers_by_block() if by_block is None else by_block
        at = self.blocks.site_position(j)
        slots = np.flatnonzero(at >= 0)
        count = start[slots + 1] - start[slots]
        rx = (
            np.concatenate([order[start[s] : start[s + 1]] for s in slots.tolist()])
            if slots.size
            else np.empty(0, dtype=np.int64)
        )
        return rx, np.repeat(at[slots], count)

    def _set_bits(self, rx: IntArray, pos: IntArray, los: BoolArray) -> None:
        """Set bit ``pos`` of rows ``rx`` to ``los`` (each receiver once)."""
        byte_at = pos >> 3
        bit = (np.uint8(1) << (7 - (pos & 7))).astype(np.uint8)
        old = self.bits[rx, byte_at]
        self.bits[rx, byte_at] = np.where(los, old | bit, old & ~bit)

    def _kept(self, j: int, index: IntArray) -> tuple[IntArray, IntArray]:
        """Which of the receivers ``index`` keep site ``j`` (positions in ``index``), and
        the bit of ``j`` in their rows."""
        assert self.blocks is not None
        pos = self.blocks.site_position(j)[self.blocks.slots(index)]
        rx = np.flatnonzero(pos >= 0)
        return rx, pos[rx]

    def set_column(self, j: int, los: BoolArray) -> None:
        """Set the LoS of every receiver to site ``j``.

        Raises
        ------
        ValueError
            With ``blocks``, when ``los`` is True at a receiver whose block does not keep
            site ``j``.
        """
        if self.blocks is not None:
            rx, pos = self._kept(j, np.arange(self.shape[0]))
            if np.count_nonzero(los) != np.count_nonzero(los[rx]):
                raise ValueError(
                    f"PackedLoS.set_column: LoS to site {j} beyond the blocks its radius reaches"
                )
            self._set_bits(rx, pos, los[rx])
            return
        mask = np.uint8(1 << (7 - (j & 7)))
        byte = self.bits[:, j >> 3]
        self.bits[:, j >> 3] = np.where(los, byte | mask, byte & ~mask)

    def unpack(self, *, chunk_rows: int = 1 << 16) -> BoolArray:
        """The (N, M) bool matrix (unpacked by chunks of rows: no larger temporaries)."""
        n = self.shape[0]
        out = np.empty((n, self.n_sites), dtype=np.bool_)
        for lo in range(0, n, chunk_rows):
            hi = min(n, lo + chunk_rows)
            if self.blocks is not None:
                out[lo:hi] = self.rows(np.arange(lo, hi))
            else:
                out[lo:hi] = np.unpackbits(self.bits[lo:hi], axis=1, count=self.n_sites).view(
                    np.bool_
                )
        return out


def los_blocks(
    grid: ReceiverGrid,
    block_cells: int,
    tx_xyz_m: FloatArray,
    site_radius_m: FloatArray,
    alloc: ArrayAlloc = full,
) -> LoSBlocks | None:
    """The :class:`LoSBlocks` of a study's receivers, or None when every block keeps
    every site (an unlimited radius): the dense layout then holds the same bits.
    ``alloc`` makes the receivers' orders by block (:meth:`LoSBlocks.receivers_by_block`).
    When every site's radius covers the receivers' bounding box (:func:`radius_covers`,
    the automatic radius in a city) no block is made at all."""
    tx = np.asarray(tx_xyz_m, dtype=float).reshape(-1, 3)
    if len(grid) and _radius_covers_box(grid.x_m, grid.y_m, tx, np.asarray(site_radius_m)):
        return None
    blocks = LoSBlocks(grid, block_cells, tx_xyz_m, site_radius_m, alloc)
    return None if blocks.every_site else blocks


@dataclass(frozen=True, eq=False)
class TileTask:
    """The receivers of one tile: their indices in the study's grid and attributes, and
    their LoS to the sites ``known_sites`` (None: ``TileContext.known_sites``) when
    known already (a cache, or the LoS pass before the radio pass)."""

    index: IntArray
    x_m: FloatArray
    y_m: FloatArray
    rx_height_m: FloatArray
    indoor: BoolArray
    building_id: IntArray
    known_los: BoolArray | None = None
    known_sites: IntArray | None = None
    #: the receivers' d_2D-in (``ReceiverGrid.indoor_distance_m``); None: 0 m
    indoor_distance_m: FloatArray | None = None

    @classmethod
    def of(
        cls,
        grid: ReceiverGrid,
        index: IntArray,
        known_los: BoolArray | PackedLoS | None = None,
        known_sites: IntArray | None = None,
        reach: tuple[FloatArray, FloatArray] | None = None,
    ) -> TileTask:
        """The tile of ``grid`` made of the receivers ``index``; ``known_los`` (N, M),
        bool or bit-packed, with valid columns ``known_sites`` gives the LoS already
        known. With ``reach`` (the sites' antennas (M, 3) and radius (M,)) the task
        takes only the known sites whose radius reaches the tile's box, the only ones
        :func:`compute_tile` reads: its copy grows with the sites near the tile, not
        with every site of the city."""
        x_m = grid.x_m[index]
        y_m = grid.y_m[index]
        cols = None
        if reach is not None and known_los is not None and known_sites is not None:
            cols = np.intersect1d(known_sites, sites_reaching(x_m, y_m, *reach))
            known_sites = cols
        return cls(
            index=index,
            x_m=x_m,
            y_m=y_m,
            rx_height_m=grid.rx_height_m[index],
            indoor=grid.indoor[index],
            building_id=grid.building_id[index],
            known_los=known_rows(known_los, known_sites, index),
            known_sites=cols,
            indoor_distance_m=(
                None if grid.indoor_distance_m is None else grid.indoor_distance_m[index]
            ),
        )


def known_rows(
    known_los: BoolArray | PackedLoS | None, known_sites: IntArray | None, index: IntArray
) -> BoolArray | None:
    """The rows ``index`` of ``known_los`` (N, M) at the columns ``known_sites`` (bool,
    (n, K)); None when nothing is known."""
    if known_los is None or known_sites is None or not known_sites.size:
        return None
    if isinstance(known_los, PackedLoS):
        return known_los.rows(index, known_sites)
    return np.ascontiguousarray(known_los[index][:, known_sites])


class TileTasks(Sequence[TileTask]):
    """The tasks of a study's tiles, each made (its receivers copied out of the grid)
    only when asked for, so that an in-process run holds one tile's copy at a time.

    ``known_los`` is read when a task is made; the rows of a tile are written only once
    its own task has run, so a task made late sees the same values as one made first.
    ``reach`` (antennas, radius) limits each task's known columns to the sites reaching
    its tile (:meth:`TileTask.of`).
    """

    def __init__(
        self,
        grid: ReceiverGrid,
        indices: Sequence[IntArray],
        known_los: BoolArray | PackedLoS | None = None,
        known_sites: IntArray | None = None,
        reach: tuple[FloatArray, FloatArray] | None = None,
    ) -> None:
        self._grid = grid
        self._indices = list(indices)
        self._known_los = known_los
        self._known_sites = known_sites
        self._reach = reach

    def __len__(self) -> int:
        return len(self._indices)

    @property
    def grid(self) -> ReceiverGrid:
        """The grid whose receivers the tiles are."""
        return self._grid

    def receivers(self, i: int) -> IntArray:
        """The receivers (grid indices) of tile ``i``."""
        return self._indices[i]

    def known_rows(self, index: IntArray) -> BoolArray | None:
        """The LoS already known of the receivers ``index`` (as :meth:`TileTask.of`)."""
        return known_rows(self._known_los, self._known_sites, index)

    @overload
    def __getitem__(self, i: int) -> TileTask: ...

    @overload
    def __getitem__(self, i: slice) -> list[TileTask]: ...

    def __getitem__(self, i: int | slice) -> TileTask | list[TileTask]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return TileTask.of(
            self._grid,
            self._indices[i],
            known_los=self._known_los,
            known_sites=self._known_sites,
            reach=self._reach,
        )


@dataclass(frozen=True, eq=False)
class TileOutput:
    """What one tile gives back.

    Attributes
    ----------
    index
        (n,) receivers of the tile.
    site_cols
        (K,) increasing indices of the sites evaluated for the tile.
    los_bits
        (n, ceil(K / 8)) uint8: the LoS of the tile's receivers to those sites, packed
        along the sites as in :class:`PackedLoS` (an eighth of the bytes to send back);
        :attr:`los` unpacks it.
    serving
        Label -> best server of each receiver on each band.
    visibility_s, radio_s
        Seconds spent on LoS and on the radio pass.
    pairs
        (receiver, site) pairs within reach, whose LoS was traced.
    """

    index: IntArray
    site_cols: IntArray
    los_bits: npt.NDArray[np.uint8]
    serving: dict[str, Serving]
    visibility_s: float
    radio_s: float
    pairs: int

    @property
    def los(self) -> BoolArray:
        """(n, K) bool LoS of the tile's receivers to the sites ``site_cols``."""
        return np.unpackbits(self.los_bits, axis=1, count=self.site_cols.size).view(np.bool_)


def _receiver_cells(
    grid: ReceiverGrid, index: IntArray | None = None
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """(row, col) raster cell of every receiver, or of the receivers ``index`` (int32, as
    the grid's ``cell``): a street point's cell is the one it falls in, clamped to the
    raster."""
    rows, cols = grid.spec.shape
    t = grid.spec.transform
    cell = grid.cell if index is None else grid.cell[index]
    row, col = np.divmod(cell, np.int32(cols))  # new int32 arrays
    street = cell < 0
    if street.any():
        at = np.flatnonzero(street) if index is None else index[street]
        col[street] = np.clip(np.floor((grid.x_m[at] - t.c) / t.a), 0, cols - 1)
        row[street] = np.clip(np.floor((grid.y_m[at] - t.f) / t.e), 0, rows - 1)
    return row, col


def _block_numbers(
    row: npt.NDArray[np.int32], col: npt.NDArray[np.int32], block_cells: int, n_block_cols: int
) -> npt.NDArray[np.int32]:
    """The block of ``block_cells`` x ``block_cells`` raster cells of each (row, col), in
    raster order (``n_block_cols`` blocks a row), computed in place in ``row`` (and
    ``col``), which it returns: no int64 temporaries of the city's size."""
    row //= block_cells
    row *= n_block_cols
    col //= block_cells
    row += col
    return row


def _chunk_blocks(
    grid: ReceiverGrid, lo: int, hi: int, block_cells: int, n_block_cols: int
) -> npt.NDArray[np.int32]:
    """The block (:func:`_block_numbers`) of receivers ``lo:hi``."""
    row, col = _receiver_cells(grid, np.arange(lo, hi, dtype=np.int64))
    return _block_numbers(row, col, block_cells, n_block_cols)


def _block_order(
    grid: ReceiverGrid, block_cells: int, name: str, alloc: ArrayAlloc = full
) -> tuple[IntArray, IntArray]:
    """The receivers in order of their block of ``block_cells`` x ``block_cells`` raster
    cells (stable within a block, blocks in raster order), and where each block starts
    in that order, the end appended; ``name`` names ``block_cells`` in the error. The
    order is made by ``alloc`` (in memory by default, or in a scratch file).

    A counting sort by chunks of receivers: one pass counts the blocks' receivers, a
    second one puts each chunk's receivers at their blocks' next free places (a stable
    sort of the chunk's int32 block numbers). Besides the order and one int64 per
    block, the memory is a chunk's, not the city's: a whole-city argsort took about 12
    bytes per receiver of temporaries, and glibc's heap kept them (the radio pass's
    peak at 160 km² with ``--scratch``, BENCHMARKS.md)."""
    if block_cells < 1:
        raise ValueError(f"{name} must be >= 1, got {block_cells}")
    n = len(grid)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
    n_block_cols = -(-grid.spec.shape[1] // block_cells)
    n_blocks = -(-grid.spec.shape[0] // block_cells) * n_block_cols
    count = np.zeros(n_blocks, dtype=np.int64)
    for lo in range(0, n, BINCOUNT_CHUNK):
        block = _chunk_blocks(grid, lo, min(lo + BINCOUNT_CHUNK, n), block_cells, n_block_cols)
        count += np.bincount(block, minlength=n_blocks)
    # where each block's next receiver goes
    free = np.concatenate([[0], np.cumsum(count[:-1])]).astype(np.int64)
    order = alloc(n, np.int64, 0)
    for lo in range(0, n, BINCOUNT_CHUNK):
        hi = min(lo + BINCOUNT_CHUNK, n)
        block = _chunk_blocks(grid, lo, hi, block_cells, n_block_cols)
        by_block = np.argsort(block, kind="stable")
        sorted_block = block[by_block]
        # rank of each receiver among the chunk's receivers of its block
        first = np.flatnonzero(np.r_[True, sorted_block[1:] != sorted_block[:-1]])
        run = np.diff(np.r_[first, sorted_block.size])
        rank = np.arange(sorted_block.size) - np.repeat(first, run)
        order[free[sorted_block] + rank] = by_block + lo
        free[sorted_block[first]] += run
    return order, np.concatenate([[0], np.cumsum(count[count > 0])]).astype(np.int64)


def tile_indices(
    grid: ReceiverGrid, tile_cells: int = TILE_CELLS, alloc: ArrayAlloc = full
) -> list[IntArray]:
    """Receivers of each tile (increasing indices), tiles in raster-block order.

    Grid points go by their block of ``tile_cells`` x ``tile_cells`` raster cells; street
    points by the cell they fall in (clamped to the raster). Empty blocks give no tile.
    The tiles are views of one array of the city's receivers made by ``alloc``.
    """
    order, start = _block_order(grid, tile_cells, "tile_cells", alloc)
    return [order[a:b] for a, b in zip(start[:-1].tolist(), start[1:].tolist(), strict=True)]


#: side (grid cells) below which :func:`guided_tiles` cuts no tile
MIN_TILE_CELLS = 32


def guided_tiles(
    grid: ReceiverGrid,
    slots: int,
    tile_cells: int = TILE_CELLS,
    min_cells: int = MIN_TILE_CELLS,
    alloc: ArrayAlloc = full,
) -> list[IntArray]:
    """Tiles for ``slots`` tiles run at once, in the order to run them: large tiles
    first, smaller and smaller ones at the end (guided self-scheduling).

    The blocks of ``tile_cells`` are taken largest first; a block with more receivers
    than those left to do (itself included) over ``slots`` is cut into its four
    quadrants (down to ``min_cells``), which go back among the blocks to take. So the
    first tiles are as large as a tile may be (few tasks, little overhead) and the last
    ones are small: the slots run out of work within about one small tile of each other
    instead of one large tile. The receivers are the cost measure. Each tile's indices
    increase; ``slots <= 1`` gives the blocks of ``tile_cells``, largest first. The
    blocks are views of one array made by ``alloc`` (:func:`tile_indices`).
    """
    if tile_cells < 1 or min_cells < 1:
        raise ValueError(f"tile_cells and min_cells must be >= 1, got {tile_cells}, {min_cells}")
    blocks = tile_indices(grid, tile_cells, alloc)
    if slots <= 1 or not blocks:
        return sorted(blocks, key=lambda i: -i.size)
    import heapq

    # each block's top left cell, from its first receiver's
    row, col = _receiver_cells(grid, np.array([idx[0] for idx in blocks], dtype=np.int64))
    row -= row % tile_cells
    col -= col % tile_cells
    # (-receivers, top row, left col, side, indices): the largest first, ties by position
    heap = [
        (-idx.size, int(r0), int(c0), tile_cells, idx)
        for idx, r0, c0 in zip(blocks, row, col, strict=True)
    ]
    heapq.heapify(heap)
    left = len(grid)
    out: list[IntArray] = []
    while heap:
        neg_size, r0, c0, side, idx = heapq.heappop(heap)
        if -neg_size * slots > left and side > min_cells:
            half = -(-side // 2)
            r, c = _receiver_cells(grid, idx)
            quadrant = (r - r0 >= half).astype(np.int64) * 2 + (c - c0 >= half)
            for q in range(4):
                part = idx[quadrant == q]
                if part.size:
                    heapq.heappush(
                        heap, (-part.size, r0 + half * (q // 2), c0 + half * (q % 2), half, part)
                    )
            continue
        out.append(idx)
        left -= idx.size
    return out


def box_distance_m(
    x0_m: npt.ArrayLike,
    y0_m: npt.ArrayLike,
    x1_m: npt.ArrayLike,
    y1_m: npt.ArrayLike,
    x_m: npt.ArrayLike,
    y_m: npt.ArrayLike,
) -> FloatArray:
    """Distance from the box(es) ``[x0, x1] x [y0, y1]`` to the point(s) ``(x, y)``
    (0 inside), broadcast: no point of a box is nearer to the point than this."""
    dx = np.maximum(np.maximum(np.subtract(x0_m, x_m), np.subtract(x_m, x1_m)), 0.0)
    dy = np.maximum(np.maximum(np.subtract(y0_m, y_m), np.subtract(y_m, y1_m)), 0.0)
    return np.asarray(np.hypot(dx, dy), dtype=float)


def sites_reaching(
    x_m: FloatArray, y_m: FloatArray, tx_xyz_m: FloatArray, site_radius_m: FloatArray
) -> IntArray:
    """Indices of the sites whose radius reaches the bounding box of the points."""
    if x_m.size == 0 or tx_xyz_m.size == 0:
        return np.empty(0, dtype=np.int64)
    near = box_distance_m(x_m.min(), y_m.min(), x_m.max(), y_m.max(), tx_xyz_m[:, 0],
                          tx_xyz_m[:, 1])  # fmt: skip
    return np.flatnonzero(near <= site_radius_m).astype(np.int64)


#: receivers whose block boxes :func:`receiver_blocks` computes at once
BOX_CHUNK = 1 << 18
#: receivers whose blocks :func:`_block_order` counts at once
BINCOUNT_CHUNK = 1 << 18


def receiver_blocks(
    grid: ReceiverGrid, block_cells: int, alloc: ArrayAlloc = full
) -> tuple[IntArray, IntArray, FloatArray]:
    """The receivers by square blocks of ``block_cells`` raster cells (as
    :func:`tile_indices`): ``order`` (the receivers block by block, made by ``alloc``),
    ``start`` (block b is ``order[start[b]:start[b + 1]]``) and each block's bounding box
    (xmin, ymin, xmax, ymax of its receivers, metres), shape (blocks, 4)."""
    order, start = _block_order(grid, block_cells, "block_cells", alloc)
    n_blocks = start.size - 1
    box = np.empty((n_blocks, 4))
    # by runs of blocks of about BOX_CHUNK receivers: the coordinates gathered in block
    # order would be 16 bytes per receiver of the city at once
    b = 0
    while b < n_blocks:
        e = int(np.searchsorted(start, start[b] + BOX_CHUNK, side="right")) - 1
        e = min(max(e, b + 1), n_blocks)
        members = order[start[b] : start[e]]
        first = start[b:e] - start[b]
        x = grid.x_m[members]
        y = grid.y_m[members]
        box[b:e, 0] = np.minimum.reduceat(x, first)
        box[b:e, 1] = np.minimum.reduceat(y, first)
        box[b:e, 2] = np.maximum.reduceat(x, first)
        box[b:e, 3] = np.maximum.reduceat(y, first)
        b = e
    return order, start, box


def unreached_receivers(
    grid: ReceiverGrid,
    site_x_m: FloatArray,
    site_y_m: FloatArray,
    radius_m: FloatArray,
    *,
    chunk_elements: int = 1 << 18,
    alloc: ArrayAlloc = full,
) -> IntArray:
    """Receivers (increasing indices) that no site reaches: farther than ``radius_m``
    from every site, by the distance ``np.hypot(dx, dy)``.

    The receivers go by square blocks a quarter of the smallest radius wide: a block
    that some site's radius covers up to the farthest corner of its bounding box
    (:func:`radius_covers`) is reached whole, and the others test their receivers
    against the sites whose radius reaches their box (:func:`sites_reaching`'s test).
    So the work grows with the receivers and the blocks times the sites, not with the
    receivers times the sites, and the answer is that of the test of every pair (points
    inside a box are no nearer to a site than the box, and no farther than its farthest
    corner). Sites and blocks, then receivers and sites, are taken in chunks of about
    ``chunk_elements`` pairs (bounds memory); ``alloc`` makes the receivers' order by
    block (:func:`receiver_blocks`).
    """
    sx = np.asarray(site_x_m, dtype=float)
    sy = np.asarray(site_y_m, dtype=float)
    radius = np.asarray(radius_m, dtype=float)
    if len(grid) == 0:
        return np.empty(0, dtype=np.int64)
    if sx.size == 0:
        return np.arange(len(grid), dtype=np.int64)
    spacing_m = abs(float(grid.spec.transform.a))
    side_m = float(radius.min()) / 4.0
    block_cells = int(
        np.clip(side_m // spacing_m if np.isfinite(side_m) else TILE_CELLS, 1, TILE_CELLS)
    )
    order, start, box = receiver_blocks(grid, block_cells, alloc)
    n_blocks = box.shape[0]
    step = max(1, chunk_elements // sx.size)
    short: list[IntArray] = []
    for b0 in range(0, n_blocks, step):
        bx = box[b0 : b0 + step]
        x0, y0, x1, y1 = (bx[:, k : k + 1] for k in range(4))
        far = np.hypot(
            np.maximum(np.abs(x0 - sx), np.abs(x1 - sx)),
            np.maximum(np.abs(y0 - sy), np.abs(y1 - sy)),
        )
        covered = radius_covers(far, radius).any(axis=1)
        reaching = box_distance_m(x0, y0, x1, y1, sx, sy) <= radius
        for k in np.flatnonzero(~covered):
            members = order[start[b0 + k] : start[b0 + k + 1]]
            cols = np.flatnonzero(reaching[k])
            if cols.size == 0:
                short.append(members)
                continue
            rows = max(1, chunk_elements // cols.size)  # bounds the distances in memory
            for lo in range(0, members.size, rows):
                part = members[lo : lo + rows]
                d = np.hypot(grid.x_m[part, None] - sx[cols], grid.y_m[part, None] - sy[cols])
                short.append(part[~(d <= radius[cols]).any(axis=1)])
    if not short:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate(short)).astype(np.int64)


def link_shadow_units(
    x_m: FloatArray,
    y_m: FloatArray,
    sites: Sequence[Site],
    los: BoolArray,
    seed: int,
    indoor: BoolArray | None = None,
) -> FloatArray:
    """(n, K) unit-variance, spatially correlated shadow fading of each (receiver, site).

    One field per site for its outdoor receivers' LoS links, one for their NLoS links and
    one for its indoor receivers' links, each with the decorrelation distance of the
    site's model (TR 38.901 Table 7.5-6; O2I for the indoor ones), seeded by ``seed`` and
    a hash of the site id, so a site's field stays the same when other sites are added,
    moved or removed, and a receiver's value does not depend on the other receivers
    evaluated with it.
    """
    from twin.propagation.shadowing import site_shadow_fields_db

    out = np.empty(los.shape)
    models = np.array([s.model for s in sites])
    for model in sorted(set(models.tolist())):
        cols = np.flatnonzero(models == model)
        ids = [_site_seed(sites[int(c)].site_id) for c in cols]
        out[:, cols] = site_shadow_fields_db(
            x_m, y_m, los[:, cols], sigma_db=1.0, model=model, seed=seed, site_ids=ids,
            indoor=indoor,
        )  # fmt: skip
    return out


def _site_seed(site_id: str) -> int:
    return int(hashlib.sha256(site_id.encode()).hexdigest()[:8], 16)


def farthest_corner_m(
    x_m: FloatArray, y_m: FloatArray, site_x_m: FloatArray, site_y_m: FloatArray
) -> FloatArray:
    """Distance from each site to the farthest corner of the points' bounding box, m."""
    dx = np.maximum(np.abs(x_m.min() - site_x_m), np.abs(x_m.max() - site_x_m))
    dy = np.maximum(np.abs(y_m.min() - site_y_m), np.abs(y_m.max() - site_y_m))
    return np.asarray(np.hypot(dx, dy), dtype=float)


def radius_covers(far_m: FloatArray, radius_m: FloatArray) -> BoolArray:
    """Whether each radius reaches ``far_m`` with a margin for rounding (1e-9 relative
    and 1 um): then it reaches every point of the box with the per-pair arithmetic."""
    return np.asarray(radius_m >= far_m * (1.0 + 1e-9) + 1e-6)


def _radius_covers_box(
    x_m: FloatArray, y_m: FloatArray, tx_xyz_m: FloatArray, radius_m: FloatArray
) -> bool:
    """True when every site's radius reaches the farthest corner of the points' bounding
    box (:func:`radius_covers`): then no pair is out of reach and none need be tested."""
    if x_m.size == 0:
        return True
    far = farthest_corner_m(x_m, y_m, tx_xyz_m[:, 0], tx_xyz_m[:, 1])
    return bool(radius_covers(far, radius_m).all())


def tile_los(ctx: TileContext, task: TileTask, site_cols: IntArray) -> tuple[BoolArray, int]:
    """(n, K) LoS of the tile's receivers to the sites ``site_cols`` within their radius
    (False beyond it), and the number of pairs within reach (whose LoS was traced)."""
    n = task.index.size
    if site_cols.size == 0:
        return np.zeros((n, 0), dtype=np.bool_), 0
    if ctx.prisms is None:
        raise ValueError("tile_los: the context has no prisms; its sites' LoS must be known")
    tx = ctx.tx_xyz_m[site_cols]
    radius = ctx.site_radius_m[site_cols]
    r_max = float(radius.max())
    # 1 m slack: the radius test below decides, with the same arithmetic as the radio pass
    limit = r_max + 1.0 if np.isfinite(r_max) else None
    rx = np.column_stack([task.x_m, task.y_m, task.rx_height_m])
    mode: Literal["fast", "exact"] = "fast" if ctx.visibility == "fast" else "exact"
    los = los_on_ground(
        ctx.prisms, ctx.ground, rx, task.building_id, tx,
        None if ctx.ground is None else [ctx.sites[int(j)].ground_m for j in site_cols],
        mode=mode, raster=ctx.raster if mode == "fast" else None, max_distance_m=limit,
    )  # fmt: skip
    if _radius_covers_box(task.x_m, task.y_m, tx, radius):
        return los, int(los.size)
    # by chunks of receivers: a (n, K) float array per tile would grow with the sites
    pairs = 0
    step = max(1, CHUNK_ELEMENTS // site_cols.size)
    for lo in range(0, n, step):
        rows = slice(lo, min(n, lo + step))
        d2d = np.hypot(task.x_m[rows, None] - tx[None, :, 0], task.y_m[rows, None] - tx[None, :, 1])
        reach = d2d <= radius[None, :]
        los[rows] &= reach
        pairs += int(np.count_nonzero(reach))
    return los, pairs


def radio_blocks(
    x_m: FloatArray, y_m: FloatArray, origin_m: tuple[float, float], block_m: float | None
) -> list[IntArray]:
    """Positions of the points in each square block of ``block_m`` metres aligned on
    ``origin_m`` (blocks in row-major order, positions increasing); None: one block."""
    n = x_m.size
    if block_m is None or n == 0:
        return [np.arange(n, dtype=np.int64)]
    bx = np.floor((x_m - origin_m[0]) / block_m).astype(np.int64)
    by = np.floor((y_m - origin_m[1]) / block_m).astype(np.int64)
    bx -= bx.min()
    by -= by.min()
    key = by * (int(bx.max()) + 1) + bx
    order = np.argsort(key, kind="stable")
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    return [np.asarray(part, dtype=np.int64) for part in np.split(order, cuts)]


def _serve_block(
    ctx: TileContext, task: TileTask, rows: IntArray, site_cols: IntArray, los: BoolArray
) -> dict[str, Serving]:
    """Best server of the receivers ``rows`` of a tile on every band, from their LoS
    (len(rows), K) to the sites ``site_cols``."""
    x_m, y_m = task.x_m[rows], task.y_m[rows]
    shadow = None
    if ctx.params.shadowing == "field" and site_cols.size:
        shadow = link_shadow_units(
            x_m, y_m, [ctx.sites[int(j)] for j in site_cols], los, ctx.params.seed,
            task.indoor[rows],
        )  # fmt: skip
    served = serve_bands(
        list(ctx.bands.values()),
        los,
        site_cols,
        x_m,
        y_m,
        task.rx_height_m[rows],
        task.indoor[rows],
        ctx.params,
        shadow_unit=shadow,
        site_radius_m=ctx.site_radius_m,
        indoor_distance_m=(
            None if task.indoor_distance_m is None else task.indoor_distance_m[rows]
        ),
        rx_ground_m=(
            None if ctx.ground is None else ctx.ground.receivers_m(x_m, y_m, task.building_id[rows])
        ),
    )
    return dict(zip(ctx.bands, served, strict=True))


def compute_tile(ctx: TileContext, task: TileTask) -> TileOutput:
    """LoS and best server of the receivers of one tile (see the module notes)."""
    t0 = time.perf_counter()
    site_cols = sites_reaching(task.x_m, task.y_m, ctx.tx_xyz_m, ctx.site_radius_m)
    known = task.known_sites if task.known_sites is not None else ctx.known_sites
    if known is None:
        known = np.empty(0, dtype=np.int64)
    if task.known_los is None or known.size == 0:
        los, pairs = tile_los(ctx, task, site_cols)
    else:
        is_known = np.isin(site_cols, known)
        los = np.empty((task.index.size, site_cols.size), dtype=np.bool_)
        los[:, is_known] = task.known_los[:, np.searchsorted(known, site_cols[is_known])]
        los[:, ~is_known], pairs = tile_los(ctx, task, site_cols[~is_known])
    t1 = time.perf_counter()
    serving: dict[str, Serving] = {}
    if ctx.bands:
        blocks = radio_blocks(task.x_m, task.y_m, ctx.radio_origin_m, ctx.radio_block_m)
        if len(blocks) == 1:
            serving = _serve_block(ctx, task, np.arange(task.index.size), site_cols, los)
        else:
            serving = {label: Serving.empty(task.index.size) for label in ctx.bands}
            for rows in blocks:
                # the sites reaching this block, as positions in the tile's columns
                cols = sites_reaching(
                    task.x_m[rows],
                    task.y_m[rows],
                    ctx.tx_xyz_m[site_cols],
                    ctx.site_radius_m[site_cols],
                )
                part = _serve_block(ctx, task, rows, site_cols[cols], los[np.ix_(rows, cols)])
                for label, p in part.items():
                    serving[label].put(rows, p)
    t2 = time.perf_counter()
    return TileOutput(
        index=task.index,
        site_cols=site_cols,
        los_bits=np.packbits(los, axis=1),
        serving=serving,
        visibility_s=t1 - t0,
        radio_s=t2 - t1,
        pairs=pairs,
    )
