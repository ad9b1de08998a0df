"""Exact Chebyshev centers of the Voronoi cells of a codebook (seed 000, Algorithm 1).

Cell ``i`` is ``V_i = {x : |x - c_i| <= |x - c_j| for all j}``. Its Chebyshev center is the center
of the largest ball inside the cell, the solution of a linear program in ``D + 1`` variables::

    maximise r  subject to  n_j . x + r <= h_j  for every facet (unit normal n_j, offset h_j).

Cells of codes on the hull of the codebook are unbounded, so every cell is intersected with an
axis-aligned box around the codebook: its bounding box grown on every side by ``box_margin`` times
its largest side (one scalar for all axes, so a flat or collinear codebook still gets a box with
volume). Every code lies strictly inside the box.

How it is solved (all cells at once, no Python loop over cells):

1. Candidate facets per cell: its Delaunay neighbours in 2-D and 3-D (exactly its facets; one
   Qhull call), otherwise (1-D, 4-D and up, flat or collinear codebooks) its ``2 D^2 + 2``
   nearest codes; plus the ``2 D`` box faces.
2. A batched dual simplex solves every cell's LP over its candidates. It starts from the simplex
   made of the upper box faces and one redundant slanted face, which is dual feasible, so no
   phase one is needed; each pivot brings in the most violated constraint (Bland's rule after
   many pivots, which cannot cycle). Each optimum comes with a dual certificate.
3. Exact verification against *all* codes: the ball ``B(x, r)`` can only cross the bisector of
   code ``j`` if ``|x - c_j| <= |x - c_i| + 2 r`` (triangle inequality), so a kd-tree query
   around ``x`` (or a dense pass for balls that reach many codes) finds every possible violator.
   The most violated codes are added and the simplex resumes from its last basis (adding
   constraints keeps a basis dual feasible). The loop ends when no code cuts any cell's ball,
   so the result is LP-optimal over all codes, not only over the candidates. With nearest-code
   seeds, each round first checks the codes nearest to every ball's center, which finds the
   worst violators cheaply.

The measurements behind these choices are in docs/benchmarks.md.

Identical codes share one cell: the table is computed on the distinct codes and mapped back, so
duplicates get the same center and radius. Exactness is up to rounding: every facet holds to
``2e-12`` times the box's largest side.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scipy loads when a table is built, not when a cached one is read
    from scipy.spatial import cKDTree

__all__ = [
    "ALGORITHM_VERSION",
    "DEFAULT_BOX_MARGIN",
    "ChebyshevStats",
    "chebyshev_centers",
    "codebook_box",
]

# Bump when a change can alter the numbers, so cached tables are rebuilt.
ALGORITHM_VERSION = 1
# Hull cells reach the box, so their centers move outward with it; a tenth of the codebook's
# extent keeps them near the codebook.
DEFAULT_BOX_MARGIN = 0.1


def _qhull_error() -> type[Exception]:
    from scipy.spatial import QhullError

    return QhullError


# Candidate seeding: "auto" (Delaunay in 2-D and 3-D, else nearest), "nearest" or "delaunay".
_SEEDING = "auto"
# Violations (in units of the box's largest side) below this are rounding, not geometry.
_REL_TOL = 1e-12
# Violated codes added per cell per verification round (most violated first).
_ADD_PER_ROUND = 32
# Each round first checks the balls against this many codes nearest to their centers.
_LOCAL_QUERY = 16
# Verification asks the kd-tree for at most this many neighbours, then switches to the dense
# test (balls that reach many codes: large hull cells, high dimension).
_KDTREE_MAX_QUERY = 256
# Working-set sizes (float64 elements) of the chunked simplex and of the dense test.
_SIMPLEX_CHUNK_ELEMENTS = 1 << 20
_DENSE_CHUNK_ELEMENTS = 1 << 20
# Safety stops (a few dozen pivots per cell and about ten rounds are typical).
_MAX_PIVOTS = 10_000
_MAX_ROUNDS = 1_000


@dataclass
class ChebyshevStats:
    """What a build did (for benchmarks and debugging)."""

    unique_codes: int = 0
    seeding: str = ""
    rounds: int = 0
    round_cells: list[int] = field(default_factory=list)
    pivots: int = 0
    added_constraints: int = 0


def chebyshev_centers(
    codebook: Any,
    *,
    box_margin: float = DEFAULT_BOX_MARGIN,
    stats: ChebyshevStats | None = None,
) -> tuple[Any, Any]:
    """Chebyshev center and inscribed-ball radius of every code's Voronoi cell.

    Args:
        codebook: ``K x D`` numpy array or torch tensor of code vectors.
        box_margin: unbounded cells are closed by the codebook's bounding box grown on every side
            by ``box_margin`` times the box's largest side; must be positive.
        stats: optional object filled with counters about the build.

    Returns:
        ``(centers, radii)`` of shapes ``K x D`` and ``K``, of the same kind as ``codebook``:
        torch tensors on the codebook's device, or numpy arrays; floating inputs keep their dtype,
        integer inputs give float64 (numpy) or float32 (torch). Computed in float64.

    Raises:
        ValueError: not a finite non-empty 2-D array, a non-positive margin, or fewer than two
            distinct codes (then the cell is the whole box and has no meaningful center).
    """
    codes, restore = _to_float64(codebook)
    centers, radii = _chebyshev_float64(codes, box_margin, stats or ChebyshevStats())
    return restore(centers), restore(radii)


def codebook_box(codes: np.ndarray, box_margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The closing box ``(lo, hi)`` for a float64 ``K x D`` codebook (see module docstring)."""
    cmin, cmax = codes.min(axis=0), codes.max(axis=0)
    pad = box_margin * float((cmax - cmin).max())
    return cmin - pad, cmax + pad


# --------------------------------------------------------------------------- input / output


def _to_float64(codebook: Any) -> tuple[np.ndarray, Any]:
    """float64 numpy copy of ``codebook`` and a function mapping results back to its kind."""
    torch = sys.modules.get("torch")  # a tensor implies torch is loaded; never import it here
    if torch is not None and isinstance(codebook, torch.Tensor):
        device = codebook.device
        dtype = codebook.dtype if codebook.is_floating_point() else torch.get_default_dtype()
        codes = codebook.detach().to("cpu", torch.float64).numpy()

        def restore(a: np.ndarray) -> Any:
            return torch.from_numpy(a).to(device=device, dtype=dtype)

        return codes, restore
    arr = np.asarray(codebook)
    out_dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(np.float64)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"codebook must be a real numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float64), lambda a: a.astype(out_dtype, copy=False)


def _validate(codes: np.ndarray, box_margin: float) -> None:
    if codes.ndim != 2 or codes.shape[0] < 1 or codes.shape[1] < 1:
        raise ValueError(f"codebook must be a non-empty K x D array, got shape {codes.shape}")
    if not np.isfinite(codes).all():
        raise ValueError("codebook contains NaN or infinite values")
    if not (np.isfinite(box_margin) and box_margin > 0):
        raise ValueError(f"box_margin must be a positive finite number, got {box_margin}")


def _chebyshev_float64(
    codes: np.ndarray, box_margin: float, stats: ChebyshevStats
) -> tuple[np.ndarray, np.ndarray]:
    _validate(codes, box_margin)
    uniq, inverse = np.unique(codes, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    stats.unique_codes = len(uniq)
    if len(uniq) < 2:
        raise ValueError(
            "codebook has fewer than two distinct codes: the single cell is all of space, "
            "so it has no Chebyshev center"
        )
    lo, hi = codebook_box(uniq, box_margin)
    centers, radii = _solve_unique(uniq, lo, hi, stats)
    return centers[inverse], radii[inverse]


# --------------------------------------------------------------------------- constraints


def _candidate_rows(
    codes: np.ndarray, lo: np.ndarray, hi: np.ndarray, cells: np.ndarray, nbrs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """LP rows ``[n, 1] . (u, r) <= h`` for ``cells``, in each cell's frame (origin at its code).

    Columns: the slanted face, the ``D`` upper and ``D`` lower box faces, then one bisector per
    entry of ``nbrs`` (``B x m`` code indices, ``-1`` = padding, an always-satisfied row). The
    bisector with code ``j`` is ``n . u <= |c_j - c_i| / 2`` with ``n`` the unit vector to ``c_j``.
    The slanted face (normal ``-(1, ..., 1)/sqrt(D)``) lies outside the box, so it never binds at
    an optimum, but with the upper faces it bounds a simplex whose inscribed ball is a dual-feasible
    starting basis for every cell.
    """
    dim = codes.shape[1]
    own = codes[cells]
    n_cells, n_box = len(cells), 2 * dim + 1
    rows = np.empty((n_cells, n_box + nbrs.shape[1], dim + 1))
    offsets = np.empty(rows.shape[:2])
    rows[:, :, dim] = 1.0
    eye = np.eye(dim)
    rows[:, :n_box, :dim] = np.concatenate([-np.ones((1, dim)) / np.sqrt(dim), eye, -eye])
    offsets[:, 0] = (own - lo).sum(axis=1) / np.sqrt(dim) + float((hi - lo).max())
    offsets[:, 1 : dim + 1] = hi - own
    offsets[:, dim + 1 : n_box] = own - lo

    valid = nbrs >= 0
    v = codes[np.where(valid, nbrs, 0)] - own[:, None, :]
    d = np.sqrt(np.einsum("bmd,bmd->bm", v, v))
    rows[:, n_box:, :dim] = np.where(valid[..., None], v / np.where(valid, d, 1.0)[..., None], 0.0)
    offsets[:, n_box:] = np.where(valid, 0.5 * d, np.inf)
    return rows, offsets


# --------------------------------------------------------------------------- batched dual simplex


def _dual_simplex(
    rows: np.ndarray, offsets: np.ndarray, basis: np.ndarray, tol: float, stats: ChebyshevStats
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``max r s.t. rows . (u, r) <= offsets`` for a batch of cells.

    Warm-started from ``basis`` (``B x (D+1)`` row indices), which must be dual feasible. This is
    the dual simplex method: the current vertex is the inscribed ball of the ``D + 1`` basic faces;
    the most violated row enters and the ratio test on the dual values picks the row that leaves,
    so the radius only shrinks. The basis inverse gets rank-one updates and is recomputed every few
    pivots, and the returned vertex is solved afresh, so rounding does not accumulate.

    Returns the optimal ``(u, r)`` per cell (``B x (D+1)``) and the optimal bases.
    """
    n_cells, _, p = rows.shape
    sol = np.empty((n_cells, p))
    basis_out = basis.copy()
    ids = np.arange(n_cells)
    a, h, bas = rows, offsets, basis.copy()
    inv = hb = None
    bland_after = 50 + 20 * p  # Dantzig's rule first (fast); Bland's rule cannot cycle
    for it in range(_MAX_PIVOTS):
        n = len(ids)
        ar = np.arange(n)
        if it % 8 == 0:  # fresh inverse: bounds the drift of the rank-one updates
            inv = np.linalg.inv(a[ar[:, None], bas])
            hb = np.take_along_axis(h, bas, axis=1)
        z = np.matmul(inv, hb[..., None])
        slack = h - np.matmul(a, z)[..., 0]
        violated = slack < -tol
        if it < bland_after:
            enter = np.argmin(slack, axis=1)
            done = ~violated[ar, enter]
        else:
            enter = np.argmax(violated, axis=1)  # lowest violated index
            done = ~violated.any(axis=1)
        if done.any():
            fin, mat = ids[done], a[ar[done, None], bas[done]]
            sol[fin] = np.linalg.solve(mat, hb[done][..., None])[..., 0]
            basis_out[fin] = bas[done]
            # Optimality certificate: the vertex is feasible (checked above) and the basis is
            # dual feasible (non-negative multipliers), so no larger ball exists.
            last = np.broadcast_to(np.eye(p)[p - 1][:, None], (len(fin), p, 1))
            dual = np.linalg.solve(np.swapaxes(mat, 1, 2), last)
            if dual.min(initial=0.0) < -1e-9:
                raise RuntimeError("Chebyshev LP ended without an optimality certificate")
            keep = ~done
            if not keep.any():
                return sol, basis_out
            ids, a, h, bas, inv, hb, enter = (t[keep] for t in (ids, a, h, bas, inv, hb, enter))
            n = len(ids)
            ar = np.arange(n)
        a_q = a[ar, enter]
        lam = np.matmul(a_q[:, None, :], inv)[:, 0, :]  # entering row in basis coordinates
        y = np.maximum(inv[:, p - 1, :], 0.0)  # current dual values: last row of the inverse
        pos = lam > 1e-11
        if not pos.any(axis=1).all():
            raise RuntimeError("Chebyshev LP found an empty cell; this is a bug")
        ratio = np.where(pos, y / np.where(pos, lam, 1.0), np.inf)
        best = ratio.min(axis=1, keepdims=True)
        # Ties (degenerate pivots) go to the lowest row index, as Bland's rule requires.
        tied = ratio <= best * (1 + 1e-12)
        leave = np.argmin(np.where(tied, bas, np.iinfo(bas.dtype).max), axis=1)
        lam_l = lam[ar, leave]
        step = lam / lam_l[:, None]
        step[ar, leave] -= 1.0 / lam_l
        inv -= inv[ar, :, leave][:, :, None] * step[:, None, :]
        bas[ar, leave] = enter
        hb[ar, leave] = h[ar, enter]
        stats.pivots += n
    raise RuntimeError("Chebyshev LP did not converge; please report this codebook")


# --------------------------------------------------------------------------- candidate facets


def _seed_candidates(
    codes: np.ndarray, tree: cKDTree, stats: ChebyshevStats
) -> tuple[np.ndarray, np.ndarray]:
    """Initial candidate facets per cell as CSR ``(indptr, code indices)``."""
    k, dim = codes.shape
    if _SEEDING in ("auto", "delaunay") and 2 <= dim <= 3 and k >= dim + 2:
        try:
            from scipy.spatial import Delaunay

            indptr, indices = Delaunay(codes).vertex_neighbor_vertices
        except _qhull_error():  # flat or collinear codebook: fall back to the nearest codes
            pass
        else:
            stats.seeding = "delaunay"
            return indptr.astype(np.int64), indices.astype(np.int64)
    stats.seeding = "nearest"
    n_near = min(k - 1, 2 * dim * dim + 2)
    _, idx = tree.query(codes, k=n_near + 1)
    idx = idx.reshape(k, -1)
    # Drop the code itself (not always first if rounding made another code tie at distance 0).
    order = np.argsort(idx == np.arange(k)[:, None], axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)[:, :n_near]
    return np.arange(0, k * n_near + 1, n_near, dtype=np.int64), idx.reshape(-1).astype(np.int64)


def _csr_append(
    indptr: np.ndarray, indices: np.ndarray, cells: np.ndarray, new: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Append ``new[i]`` to the list of ``cells[i]``, keeping existing positions unchanged."""
    k = len(indptr) - 1
    owner = np.concatenate([np.repeat(np.arange(k), np.diff(indptr)), cells])
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=k)
    return np.concatenate([[0], np.cumsum(counts)]), np.concatenate([indices, new])[order]


def _csr_padded(indptr: np.ndarray, indices: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The lists of ``cells`` as a ``B x max_len`` array padded with ``-1``."""
    start, count = indptr[cells], indptr[cells + 1] - indptr[cells]
    col = np.arange(int(count.max()) if len(cells) else 0)
    valid = col < count[:, None]
    flat = np.minimum(start[:, None] + col, max(len(indices) - 1, 0))
    return np.where(valid, indices[flat], -1)


def _local_violations(
    codes: np.ndarray,
    centered: np.ndarray,
    tree: cKDTree,
    cells: np.ndarray,
    sol: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Violators among the codes nearest to each ball's center: cheap, and where the worst are.

    A ball that strays out of its cell (early candidate sets can miss whole directions, e.g. at
    the edge of a cluster) has its worst violators next to its center, so they are found here
    without gathering every code within its (then large) reach. Not exhaustive; see
    ``_find_violations``.
    """
    dim = codes.shape[1]
    n_query = min(len(codes), _LOCAL_QUERY)
    _, idx = tree.query(centered[cells] + sol[:, :dim], k=n_query)
    idx = idx.reshape(len(cells), -1)
    rows, cols = np.nonzero(idx != cells[:, None])
    code = idx[rows, cols]
    slack = _bisector_slack(codes, cells[rows], code, sol[rows])
    bad = slack < -tol
    return rows[bad], code[bad], slack[bad]


def _find_violations(
    codes: np.ndarray,
    centered: np.ndarray,
    tree: cKDTree,
    cells: np.ndarray,
    sol: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (cell, code) pair whose bisector cuts the cell's ball by more than ``tol``.

    Returns ``(cell position in cells, code index, slack)``. Exact: only codes within
    ``reach = |u| + 2 r`` of the center ``x = c_i + u`` can cut ``B(x, r)``. A kd-tree query (on
    the ``centered`` codes, which keep rounding small) finds them while the reach holds few codes;
    cells whose reach holds many (large hull cells, high dimension) go through a dense filter over
    all codes instead. The reach is padded well above rounding, then the exact test decides.
    Work is done in blocks, keeping only violators, so memory stays bounded.
    """
    k, dim = codes.shape
    u, r = sol[:, :dim], sol[:, dim]
    centers = centered[cells] + u
    scale = float(np.sqrt(np.einsum("kd,kd->k", centered, centered).max()))
    reach = np.linalg.norm(u, axis=1) + 2.0 * r + 4.0 * tol + 1e-12 * scale
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def keep_violators(pos: np.ndarray, code: np.ndarray) -> None:
        slack = _bisector_slack(codes, cells[pos], code, sol[pos])
        bad = slack < -tol
        found.append((pos[bad], code[bad], slack[bad]))

    block = max(1, _DENSE_CHUNK_ELEMENTS // _KDTREE_MAX_QUERY)
    for start in range(0, len(cells), block):
        todo = np.arange(start, min(len(cells), start + block))
        n_query = 16
        while todo.size and n_query <= _KDTREE_MAX_QUERY:
            n_query = min(n_query, k)
            dist, idx = tree.query(centers[todo], k=n_query)
            dist, idx = dist.reshape(len(todo), -1), idx.reshape(len(todo), -1)
            complete = (n_query >= k) | (dist[:, -1] > reach[todo])
            near = (dist <= reach[todo, None]) & (idx != cells[todo, None]) & complete[:, None]
            rows, cols = np.nonzero(near)  # incomplete cells are asked again with a larger k
            keep_violators(todo[rows], idx[rows, cols])
            todo = todo[~complete]
            n_query *= 4
        # Balls reaching many codes: a dense pass over all codes, a few rows at a time.
        dense_rows = max(1, _DENSE_CHUNK_ELEMENTS // k)
        for first in range(0, len(todo), dense_rows):
            sel = todo[first : first + dense_rows]
            keep_violators(*_dense_candidates(centered, cells[sel], centers[sel], reach[sel], sel))
    return tuple(np.concatenate([f[i] for f in found]) for i in range(3))


def _bisector_slack(
    codes: np.ndarray, cell: np.ndarray, code: np.ndarray, sol: np.ndarray
) -> np.ndarray:
    """Distance from the ball ``(u, r)`` of ``cell`` to its bisector with ``code`` (< 0: cut)."""
    dim = codes.shape[1]
    v = codes[code] - codes[cell]
    d = np.sqrt(np.einsum("bd,bd->b", v, v))
    return 0.5 * d - np.einsum("bd,bd->b", v, sol[:, :dim]) / d - sol[:, dim]


def _dense_candidates(
    centered: np.ndarray,
    cells: np.ndarray,
    centers: np.ndarray,
    reach: np.ndarray,
    labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels[row], code)`` for every code within ``reach`` of a ball center (dense test).

    ``|x - c_j|^2 <= reach^2`` is ``|c_j|^2 / 2 - x . c_j <= (reach^2 - |x|^2) / 2``: one matrix
    product and a comparison per code. The threshold is padded by a bound on the rounding of
    those sums of products, so a code within reach always passes.
    """
    dim = centered.shape[1]
    sq = np.einsum("kd,kd->k", centered, centered)
    xx = np.einsum("bd,bd->b", centers, centers)
    scale = max(float(sq.max()), float(xx.max()))
    eps = 1e-12 * (dim + 1) * scale  # far above float64 rounding of these sums of products
    lhs = np.subtract(0.5 * sq, centers @ centered.T)
    rows, cols = np.nonzero(lhs <= (0.5 * (reach**2 - xx) + eps)[:, None])
    other = cols != cells[rows]
    return labels[rows[other]], cols[other]


# --------------------------------------------------------------------------- driver


def _solve_unique(
    codes: np.ndarray, lo: np.ndarray, hi: np.ndarray, stats: ChebyshevStats
) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev centers of ``K >= 2`` distinct codes inside the box ``[lo, hi]``."""
    k, dim = codes.shape
    tol = _REL_TOL * float((hi - lo).max())
    # Constraints use the codes as given (differences of nearby codes are then exact); searches
    # use coordinates around the box center, where distances round less.
    centered = codes - 0.5 * (lo + hi)
    from scipy.spatial import cKDTree

    tree = cKDTree(centered)
    indptr, indices = _seed_candidates(centered, tree, stats)
    basis = np.tile(np.arange(dim + 1), (k, 1))  # slanted face + upper box faces
    sol = np.empty((k, dim + 1))
    todo = np.arange(k)
    # The verification flags only what the simplex would not have accepted (twice its
    # tolerance), so a candidate row is never flagged again because of rounding.
    check_tol = 2.0 * tol
    while todo.size:
        stats.rounds += 1
        if stats.rounds > _MAX_ROUNDS:
            raise RuntimeError("Chebyshev verification did not settle; please report this codebook")
        stats.round_cells.append(len(todo))
        # Similar list lengths share a chunk, so little work goes to padding rows.
        counts = indptr[todo + 1] - indptr[todo]
        todo = todo[np.argsort(counts, kind="stable")]
        mean_rows = 2 * dim + 1 + float(counts.mean())
        chunk = max(64, int(_SIMPLEX_CHUNK_ELEMENTS / (mean_rows * (dim + 1))))
        for start in range(0, len(todo), chunk):
            cells = todo[start : start + chunk]
            rows, offsets = _candidate_rows(
                codes, lo, hi, cells, _csr_padded(indptr, indices, cells)
            )
            sol[cells], basis[cells] = _dual_simplex(rows, offsets, basis[cells], tol, stats)
        if _LOCAL_QUERY and stats.seeding != "delaunay":
            pos, add, slack = _local_violations(codes, centered, tree, todo, sol[todo], check_tol)
        else:  # Delaunay seeds are the exact facets: there is nothing local left to find
            pos = add = np.empty(0, dtype=np.int64)
            slack = np.empty(0)
        # The full check (all codes within reach) only for balls that passed the local check.
        clean = np.setdiff1d(np.arange(len(todo)), pos)
        pos2, add2, slack2 = _find_violations(
            codes, centered, tree, todo[clean], sol[todo[clean]], check_tol
        )
        pos = np.concatenate([pos, clean[pos2]])
        add, slack = np.concatenate([add, add2]), np.concatenate([slack, slack2])
        if pos.size == 0:
            break
        # Give each cell with violators its most violated codes as new candidate rows.
        order = np.lexsort((slack, pos))
        pos, add = pos[order], add[order]
        rank = np.arange(len(pos)) - np.searchsorted(pos, pos, side="left")
        keep = rank < _ADD_PER_ROUND
        hit, add = todo[pos[keep]], add[keep]
        stats.added_constraints += len(add)
        indptr, indices = _csr_append(indptr, indices, hit, add)
        todo = np.unique(hit)
    return codes + sol[:, :dim], sol[:, dim].copy()
