"""Overlapping tiles with smooth blending, so large frames run in bounded memory.

Along each axis the frame gets as few tiles as the requested size and overlap need, each shrunk
to the smallest size (on the alignment grid) that still overlaps its neighbours by the overlap,
spread evenly from edge to edge: a 1080p frame in 512-pixel tiles with 128 of overlap is 3 x 5
tiles of 448 x 496 pixels (3.3 megapixels of work) instead of 3.9 with full tiles whose last
one is pushed against the edge. Each tile's weight is 1 in its interior and falls to 0 with a
raised cosine over the middle half of every overlap it shares with a neighbour, and is 0 in the
quarter of the overlap next to its own edge. A tile's border pixels, which see padding instead of
their true neighbours, therefore never contribute: when the network's receptive-field radius is
at most a quarter of the overlap, the blended result equals the untiled one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tile:
    y0: int
    y1: int
    x0: int
    x1: int


def tile_starts(length: int, tile: int, overlap: int, align: int = 1) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` overlapping by >= ``overlap``.

    Starts are multiples of ``align`` except possibly the last, which ends at ``length``; it is
    aligned too when ``length`` and ``tile`` are multiples of ``align``.
    """
    if tile < 1 or overlap < 0 or align < 1:
        raise ValueError(
            f"need tile >= 1, overlap >= 0, align >= 1: got {tile}, {overlap}, {align}"
        )
    if tile >= length:
        return [0]
    if tile - overlap < align:
        # The step between starts would have to be smaller than the alignment grid allows.
        raise ValueError(f"tile - overlap must be >= align, got {tile} - {overlap} < {align}")
    step = (tile - overlap) // align * align
    count = math.ceil((length - tile) / step) + 1
    starts = [min(i * step, length - tile) for i in range(count)]
    # The edge-aligned last tile may not sit on the alignment grid; keep it only if the frame
    # length itself is aligned (callers pad frames to a multiple of ``align``).
    return sorted(set(starts))


def even_layout(length: int, tile: int, overlap: int, align: int = 1) -> tuple[int, list[int]]:
    """(size, starts) of the tiles along one axis: as many as :func:`tile_starts` places, each
    ``size`` <= ``tile`` long, the smallest multiple of ``align`` for which evenly spread,
    aligned starts keep every overlap >= ``overlap``. A ``length`` off the alignment grid keeps
    :func:`tile_starts`' layout (its last tile could not be aligned otherwise)."""
    starts = tile_starts(length, tile, overlap, align)
    n = len(starts)
    if n == 1 or length % align or tile % align:
        return min(tile, length), starts
    size = -(-(length + (n - 1) * overlap) // n)  # total coverage shared out, rounded up
    size = -(-size // align) * align
    while size < tile:
        units = (length - size) / align / (n - 1)  # the mean step, in alignment units
        even = [round(i * units) * align for i in range(n)]
        if all(b - a <= size - overlap for a, b in itertools.pairwise(even)):
            return size, even
        size += align
    return tile, starts


def tiles(height: int, width: int, tile: int, overlap: int, align: int = 1) -> Iterator[Tile]:
    """The tiles of a ``height`` x ``width`` frame, row by row (:func:`even_layout`)."""
    size_y, ys = even_layout(height, tile, overlap, align)
    size_x, xs = even_layout(width, tile, overlap, align)
    for y in ys:
        for x in xs:
            yield Tile(y, min(y + size_y, height), x, min(x + size_x, width))


def _ramp(length: int, lo_overlap: int, hi_overlap: int, device: torch.device) -> torch.Tensor:
    """1-D weight along one axis of a tile; an overlap of 0 means a frame edge (no fade)."""
    pos = torch.arange(length, dtype=torch.float32, device=device) + 0.5
    w = torch.ones(length, dtype=torch.float32, device=device)
    for overlap, dist in ((lo_overlap, pos), (hi_overlap, length - pos)):
        if overlap <= 0:
            continue
        # 0 over the first quarter of the overlap, cosine rise over the middle half.
        t = ((dist - overlap / 4) / (overlap / 2)).clamp(0, 1)
        w = w * (0.5 - 0.5 * torch.cos(math.pi * t))
    return w


def tile_ramps(t: Tile, all_tiles: list[Tile], device: torch.device) -> tuple[torch.Tensor, ...]:
    """The two 1-D factors (along H, along W) of tile ``t``'s blending weight."""
    top = max((o.y1 - t.y0 for o in all_tiles if o.y0 < t.y0 < o.y1 and _cols(o, t)), default=0)
    bottom = max((t.y1 - o.y0 for o in all_tiles if o.y0 < t.y1 < o.y1 and _cols(o, t)), default=0)
    left = max((o.x1 - t.x0 for o in all_tiles if o.x0 < t.x0 < o.x1 and _rows(o, t)), default=0)
    right = max((t.x1 - o.x0 for o in all_tiles if o.x0 < t.x1 < o.x1 and _rows(o, t)), default=0)
    return _ramp(t.y1 - t.y0, top, bottom, device), _ramp(t.x1 - t.x0, left, right, device)


def tile_weight(t: Tile, all_tiles: list[Tile], device: torch.device) -> torch.Tensor:
    """H x W blending weight of tile ``t`` given its neighbours."""
    wy, wx = tile_ramps(t, all_tiles, device)
    return wy[:, None] * wx[None, :]


def weight_profiles(
    all_tiles: list[Tile], height: int, width: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed weight of a grid of tiles as two 1-D profiles: at (y, x) it is
    ``along_h[y] * along_w[x]``, since every tile of a row has the same factor along H and
    every tile of a column the same along W. Blending then needs no frame-sized weight map."""
    along_h = torch.zeros(height, device=device)
    along_w = torch.zeros(width, device=device)
    for t in {(t.y0, t.y1): t for t in all_tiles}.values():  # one tile per row of the grid
        along_h[t.y0 : t.y1] += tile_ramps(t, all_tiles, device)[0]
    for t in {(t.x0, t.x1): t for t in all_tiles}.values():  # one per column
        along_w[t.x0 : t.x1] += tile_ramps(t, all_tiles, device)[1]
    return along_h, along_w


def _cols(a: Tile, b: Tile) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1


def _rows(a: Tile, b: Tile) -> bool:
    return a.y0 < b.y1 and b.y0 < a.y1
