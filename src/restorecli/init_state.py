"""Latent initial states: the ``y0`` the residual-shift chain starts from (seed 000).

Given the encoder output ``z_e`` and its code index ``k`` (``z_q = c_k``), every mode returns a
point of code k's Voronoi cell ``V_k``, so re-quantizing the state gives ``k`` back:

- ``zq``: the code ``c_k`` (the original VQ-LDM).
- ``ze``: the encoder output itself.
- ``lerp``: ``lam z_e + (1 - lam) z_q``, inside ``V_k`` because cells are convex.
- ``chebyshev``: the Chebyshev center ``s_k`` of ``V_k`` (farthest from every facet), looked up
  by code index with one gather on the tensors' device.
- ``auto``: a per-pixel ``lam`` chosen from the cell's geometry, the paper's open problem.

The ``auto`` rule
-----------------
``s_k`` is the most robust point of the cell (margin ``r_k`` to its boundary, the largest any
point has) but it discards what ``z_e`` knows below the code's resolution; ``z_e`` keeps that but
may sit on a facet, where a small sampling error flips the re-quantized code. ``auto`` moves from
``s_k`` towards ``z_e`` as far as possible while keeping a margin of at least ``rho r_k``::

    y0 = s_k + lam (z_e - s_k),   lam = the largest value in [0, 1] with
                                  dist(y0, boundary of V_k) >= rho r_k

``rho = 0`` gives ``z_e`` (when it is in the cell), ``rho = 1`` gives (nearly) ``s_k``. The
distance of a point x of ``V_k`` to its boundary is the smallest facet distance over codes j::

    f_j(x) = n_j . (x - (c_j + c_k) / 2) = n_j . (x - c_k) + |c_j - c_k| / 2,
    n_j = (c_k - c_j) / |c_k - c_j|

Each ``f_j`` is affine, so along the segment it is ``(1 - lam) f_j(s_k) + lam f_j(z_e)``, and
facet j allows ``lam <= (f_j(s_k) - rho r_k) / (f_j(s_k) - f_j(z_e))`` when
``f_j(z_e) < rho r_k`` (no limit otherwise). This is an exact line search against each facet,
never smaller than the plain concavity bound ``(1 - lam) r_k + lam d_e`` (``d_e`` = margin of
``z_e``), because ``f_j(s_k) >= r_k`` and ``f_j(z_e) >= d_e`` for every j.

Which codes j: a per-code table of candidates (``code_neighbors``, built once per codebook).
In 2-D and 3-D it holds the Delaunay neighbours of each code, which are exactly the facets of its
cell (a few tens at most in 3-D), so ``lam`` is the exact optimum: codes that are not neighbours
have redundant bisectors, which cannot reach within ``rho r_k`` of a point before a facet does.
Otherwise (higher dimension, degenerate codebooks) it holds the ``m`` nearest codes of ``c_k``,
and the codes left out are covered by a bound instead of being ignored, so the margin guarantee
still holds: a left-out code is at least ``R_k`` (the m-th neighbour distance) from ``c_k``, so
from the second form of ``f_j``, ``f_j(x) >= R_k / 2 - |x - c_k|``; also ``f_j(s_k) >= r_k`` (the
inscribed ball lies on c_k's side of every bisector). All left-out codes together therefore act
as one extra facet with ``f(s_k) = max(r_k, R_k / 2 - |s_k - c_k|)`` and
``f(z_e) = R_k / 2 - |z_e - c_k|``, conservative: when it is the one limiting ``lam``, ``lam`` is
smaller than the exact optimum. ``z_e`` outside ``V_k`` (an index from another rounding of the
distances, or any index at all) is handled by the same formula: its facet distances are negative
and ``y0`` still lands inside ``V_k`` with the margin.

The margin holds with ``r_k`` as given, so it relies on ``radii`` being correct lower bounds on
each center's facet distances, which the Chebyshev table (``restorecli.geometry``) guarantees
up to its LP tolerance. Codes identical to ``c_k`` have no bisector and are skipped; they share
the cell, so requantizing may return any of the duplicate indices (all give the same vector).

Cost: ``auto`` is gathers only, ``N x m x D`` per frame, all on the device; no search over the
whole codebook per pixel. Re-quantizing the chain's output is the pipeline's
(``Restorer.requantize``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from restorecli.config import INIT_MODES

__all__ = [
    "CHUNK_ELEMENTS",
    "INIT_MODES",
    "CodeNeighbors",
    "auto_lambda",
    "code_neighbors",
    "initial_state",
]


# Working-set budget in elements per block (32 MB of float32): distance blocks hold
# rows x K entries, neighbour gathers rows x m x D.
CHUNK_ELEMENTS = 1 << 23
# Neighbours per code in a nearest-codes table (Delaunay tables take what the cells need).
DEFAULT_NEIGHBORS = 32
# Delaunay triangulations are cheap up to 3-D; their size and cost explode beyond.
_MAX_DELAUNAY_DIM = 3


@dataclass(frozen=True)
class CodeNeighbors:
    """Candidate facet codes of every code's Voronoi cell (see ``code_neighbors``).

    Attributes:
        table: K x m code indices per cell, ``-1`` for padding.
        reach: K distances; every code missing from row k is at least ``reach[k]`` from c_k.
        facets: True when every row lists all the facets of its cell (Delaunay neighbours, or
            every other code), so the codes missing from a row never constrain the cell.
    """

    table: torch.Tensor
    reach: torch.Tensor
    facets: bool

    def to(self, device: torch.device | str) -> CodeNeighbors:
        """The same table on another device."""
        return CodeNeighbors(self.table.to(device), self.reach.to(device), self.facets)


def initial_state(
    mode: str,
    z_e: torch.Tensor,
    indices: torch.Tensor,
    codebook: torch.Tensor,
    *,
    centers: torch.Tensor | None = None,
    radii: torch.Tensor | None = None,
    lam: float = 0.5,
    rho: float = 0.5,
    neighbors: CodeNeighbors | None = None,
) -> torch.Tensor:
    """The latent initial state y0 (B x D x h x w, z_e's dtype and device) for ``mode``.

    Args:
        mode: one of ``INIT_MODES``.
        z_e: encoder output, B x D x h x w.
        indices: code index per latent pixel, B x h x w (int64).
        codebook: K x D code vectors.
        centers: K x D Chebyshev centers (``chebyshev`` and ``auto``), indexed by code.
        radii: K inscribed-ball radii (``auto``).
        lam: interpolation weight of ``lerp``, in [0, 1] (1 = z_e, 0 = z_q).
        rho: margin kept by ``auto``, as a fraction of each cell's radius, in [0, 1].
        neighbors: ``code_neighbors(codebook)`` for ``auto``; built on the fly when omitted,
            which repeats a host-side triangulation per call: build it once per codebook.

    The lookup tables should already live on z_e's device (they are moved otherwise). ``ze``
    returns ``z_e`` itself, not a copy.
    """
    if mode not in INIT_MODES:
        raise ValueError(f"unknown initial state {mode!r}: use one of {', '.join(INIT_MODES)}")
    _check_shapes(z_e, indices, codebook)
    if mode == "ze":
        return z_e
    if mode == "zq":
        return _gather(codebook, indices, z_e)
    if mode == "lerp":
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"lerp weight lam must be in [0, 1], got {lam}")
        z_q = _gather(codebook, indices, z_e)
        return torch.lerp(z_q, z_e, lam)
    if centers is None:
        raise ValueError(f"initial state {mode!r} needs the Chebyshev centers of the codebook")
    _check_table("centers", centers, codebook.shape)
    if mode == "chebyshev":
        return _gather(centers, indices, z_e)
    # auto
    if radii is None:
        raise ValueError("initial state 'auto' needs the Chebyshev radii of the codebook")
    lam_map = auto_lambda(z_e, indices, codebook, centers, radii, rho=rho, neighbors=neighbors)
    work = lam_map.dtype
    s = _gather(centers, indices, z_e).to(work)
    y0 = s + lam_map.unsqueeze(1) * (z_e.to(work) - s)
    return y0.to(z_e.dtype)


def auto_lambda(
    z_e: torch.Tensor,
    indices: torch.Tensor,
    codebook: torch.Tensor,
    centers: torch.Tensor,
    radii: torch.Tensor,
    *,
    rho: float = 0.5,
    neighbors: CodeNeighbors | None = None,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> torch.Tensor:
    """Per-pixel weight of ``auto`` (B x h x w, in [0, 1]): y0 = s_k + lam (z_e - s_k).

    Computed in float32 (float64 if z_e is float64) on z_e's device; see the module docstring
    for the rule and its guarantee. ``neighbors`` comes from ``code_neighbors`` (built here if
    omitted); with a facet table (``neighbors.facets``) the result is the exact optimum.
    """
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"auto margin rho must be in [0, 1], got {rho}")
    _check_shapes(z_e, indices, codebook)
    _check_table("centers", centers, codebook.shape)
    _check_table("radii", radii, codebook.shape[:1])
    if neighbors is None:
        neighbors = code_neighbors(codebook, chunk_elements=chunk_elements)
    _check_neighbors(neighbors, codebook.shape[0])
    b, d, h, w = z_e.shape
    work = _work_dtype(z_e.dtype)
    dev = z_e.device
    cb = codebook.to(dev, work)
    cen = centers.to(dev, work)
    rad = radii.to(dev, work)
    table = neighbors.table.to(dev)
    tiny = torch.finfo(work).tiny
    inf = torch.tensor(float("inf"), dtype=work, device=dev)

    # Everything that depends on the code only, per (code, table slot), computed once: the unit
    # normal n_j, and with q = (z_e - c_k) . n_j the facet reads
    #   f_z = q + |c_j - c_k| / 2,  active when q < rho r_k - |c_j - c_k| / 2,
    #   limit = (f_s - rho r_k) / (f_s - f_z) = num / (den - q).
    step = cb.unsqueeze(1) - cb[table.clamp_min(0)]  # K x m x D, = |c_k - c_j| n_j
    length = step.norm(dim=2)
    valid = (table >= 0) & (length > 0)  # padding and identical codes have no bisector
    normal = step / torch.where(valid, length, 1.0).unsqueeze(2)
    half = 0.5 * length
    target = rho * rad
    den = ((cen - cb).unsqueeze(1) * normal).sum(2)  # (s_k - c_k) . n_j = f_s - half
    num = (den + half - target.unsqueeze(1)).clamp_min(0)
    thr = torch.where(valid, target.unsqueeze(1) - half, -inf)
    per_slot = torch.cat([normal, torch.stack([thr, num, den], 2)], 2)  # K x m x (D + 3)
    if not neighbors.facets:
        # The codes left out of row k, as one conservative facet (module docstring).
        out_half = 0.5 * neighbors.reach.to(dev, work)
        out_s = torch.maximum(rad, out_half - (cen - cb).norm(dim=1))
        per_code = torch.stack([out_half, out_s, (out_s - target).clamp_min(0), target], 1)

    flat = z_e.permute(0, 2, 3, 1).reshape(-1, d).to(work)
    idx = indices.reshape(-1).to(dev)
    out = torch.empty(flat.shape[0], dtype=work, device=dev)
    rows = _rows_per_block(per_slot.shape[1] * per_slot.shape[2], chunk_elements)
    for start in range(0, flat.shape[0], rows):
        k = idx[start : start + rows]
        rel = flat[start : start + rows] - cb[k]  # z_e - c_k
        slot = per_slot[k]
        q = torch.bmm(slot[..., :d], rel.unsqueeze(2)).squeeze(2)
        thr_k, num_k, den_k = slot[..., d], slot[..., d + 1], slot[..., d + 2]
        limit = torch.where(q < thr_k, num_k / (den_k - q).clamp_min(tiny), inf).amin(1)
        if not neighbors.facets:
            o_half, o_s, o_num, o_target = per_code[k].unbind(1)
            o_z = o_half - rel.norm(dim=1)
            o_limit = torch.where(o_z < o_target, o_num / (o_s - o_z).clamp_min(tiny), inf)
            limit = torch.minimum(limit, o_limit)
        out[start : start + rows] = limit.clamp(0.0, 1.0)
    return out.view(b, h, w)


def code_neighbors(
    codebook: torch.Tensor,
    m: int = DEFAULT_NEIGHBORS,
    *,
    method: str = "auto",
    chunk_elements: int = CHUNK_ELEMENTS,
) -> CodeNeighbors:
    """Candidate facet codes of every cell, for ``auto``.

    ``method``: ``delaunay`` lists each code's Delaunay neighbours, exactly the facets of its cell
    (2-D and 3-D only; scipy's Qhull on the host, -1 padded to the largest count); ``knn`` lists
    the ``m`` nearest other codes (a chunked K x K search in float64 on the host; any
    dimension); ``auto`` uses ``delaunay`` where it applies and ``knn`` otherwise (higher D, or
    codebooks too degenerate to triangulate). The table lands on the codebook's device. Build
    it once per codebook and reuse it.
    """
    if codebook.dim() != 2 or codebook.shape[0] < 2:
        raise ValueError(f"codebook must be K x D with K >= 2, got shape {tuple(codebook.shape)}")
    if method not in ("auto", "delaunay", "knn"):
        raise ValueError(f"unknown neighbour method {method!r}: use auto, delaunay or knn")
    if method != "knn":
        table = _delaunay_table(codebook)
        if table is not None:
            return CodeNeighbors(table, torch.zeros(len(table), device=table.device), True)
        if method == "delaunay":
            raise ValueError(
                "cannot triangulate this codebook (needs 2-D or 3-D codes not all on one plane "
                "or line): use method='knn'"
            )
    return _knn_table(codebook, m, chunk_elements)


def _knn_table(codebook: torch.Tensor, m: int, chunk_elements: int) -> CodeNeighbors:
    """The m nearest other codes of every code, nearest first, and a bound on the rest.

    Searched once in float64 on the host, so the order is exact up to a rounding bound, and
    ``reach`` (the m-th distance, less that bound) is safe to build guarantees on.
    """
    n_codes = codebook.shape[0]
    m = max(1, min(m, n_codes - 1))
    cb = codebook.detach().to("cpu", torch.float64)
    c_sq = cb.pow(2).sum(1)
    table = torch.empty(n_codes, m, dtype=torch.long)
    rows = _rows_per_block(n_codes, chunk_elements)
    for start in range(0, n_codes, rows):
        part = torch.addmm(c_sq, cb[start : start + rows], cb.t(), alpha=-2.0)
        own = torch.arange(start, start + part.shape[0])
        part[torch.arange(part.shape[0]), own] = float("inf")  # not itself
        table[start : start + rows] = part.topk(m, dim=1, largest=False, sorted=True).indices
    # Unlisted codes have expanded squared distances >= the m-th one's; the expansion errs by at
    # most a few ulps of |c|^2 terms, so subtract a generous multiple of that.
    err = 16 * torch.finfo(torch.float64).eps * (c_sq + c_sq.max())
    d_m2 = (cb[table[:, -1]] - cb).pow(2).sum(1)
    reach = (d_m2 - 2 * err).clamp_min(0).sqrt() * (1 - 2.0**-20)  # stays a bound in float32
    dev = codebook.device
    return CodeNeighbors(table.to(dev), reach.float().to(dev), m >= n_codes - 1)


def _delaunay_table(codebook: torch.Tensor) -> torch.Tensor | None:
    """Delaunay neighbours of every code (-1 padded), or None where they cannot be computed."""
    codes = codebook.detach().to("cpu", torch.float64).numpy()
    dim = codes.shape[1]
    if not 2 <= dim <= _MAX_DELAUNAY_DIM:
        return None
    # Identical codes share one cell: triangulate the distinct codes and map back.
    uniq, first, inverse = np.unique(codes, axis=0, return_index=True, return_inverse=True)
    if len(uniq) < dim + 2:
        return None
    from scipy.spatial import Delaunay, QhullError  # only when a table is built

    try:
        tri = Delaunay(uniq)
    except QhullError:
        return None
    indptr, nbrs = tri.vertex_neighbor_vertices
    counts = np.diff(indptr)
    if len(tri.coplanar) or (counts == 0).any():
        return None  # some code was left out of the triangulation: its facets are unknown
    rows = np.repeat(np.arange(len(uniq)), counts)
    cols = np.arange(len(nbrs)) - np.repeat(indptr[:-1], counts)
    table = np.full((len(uniq), int(counts.max())), -1, dtype=np.int64)
    table[rows, cols] = first[nbrs]
    table = table[inverse.reshape(-1)]
    return torch.from_numpy(table).to(codebook.device)


def _gather(table: torch.Tensor, indices: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``table[indices]`` as B x D x h x w, on like's device and in its dtype (one gather)."""
    table = table.to(device=like.device, dtype=like.dtype)
    return F.embedding(indices.to(like.device), table).permute(0, 3, 1, 2)


def _rows_per_block(row_elements: int, chunk_elements: int) -> int:
    return max(1, chunk_elements // max(row_elements, 1))


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    # Half precision cannot separate nearby codes reliably; distances are cheap in fp32 (D = 3).
    return torch.float64 if dtype == torch.float64 else torch.float32


def _check_shapes(z_e: torch.Tensor, indices: torch.Tensor, codebook: torch.Tensor) -> None:
    if z_e.dim() != 4:
        raise ValueError(f"z_e must be B x D x h x w, got shape {tuple(z_e.shape)}")
    b, d, h, w = z_e.shape
    if tuple(indices.shape) != (b, h, w):
        raise ValueError(f"indices must have shape {(b, h, w)}, got {tuple(indices.shape)}")
    if codebook.dim() != 2 or codebook.shape[1] != d:
        raise ValueError(f"codebook must be K x {d}, got shape {tuple(codebook.shape)}")


def _check_table(name: str, table: torch.Tensor, shape: torch.Size) -> None:
    if tuple(table.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(table.shape)}")


def _check_neighbors(neighbors: CodeNeighbors, n_codes: int) -> None:
    if not isinstance(neighbors, CodeNeighbors):
        raise ValueError("neighbors must come from code_neighbors(codebook)")
    table = neighbors.table
    if table.dim() != 2 or table.shape[0] != n_codes or table.shape[1] < 1:
        raise ValueError(
            f"neighbors must be built for this codebook of {n_codes} codes, "
            f"got a table of shape {tuple(table.shape)}"
        )
