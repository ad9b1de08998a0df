"""Chebyshev centers: checked against an independent per-cell LP over all codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

import restorecli.geometry.chebyshev as cheb
from restorecli.geometry import ChebyshevStats, chebyshev_centers, codebook_box

MARGIN = 0.1


def _reference_radii(codes: np.ndarray, margin: float = MARGIN) -> np.ndarray:
    """One scipy LP per distinct code over ALL other codes and the box faces."""
    uniq, inverse = np.unique(codes, axis=0, return_inverse=True)
    lo, hi = codebook_box(uniq, margin)
    k, dim = uniq.shape
    radii = np.empty(k)
    for i in range(k):
        v = np.delete(uniq, i, axis=0) - uniq[i]
        d = np.linalg.norm(v, axis=1)
        normals = np.vstack([v / d[:, None], np.eye(dim), -np.eye(dim)])
        a_ub = np.hstack([normals, np.ones((len(normals), 1))])
        b_ub = np.concatenate([d / 2, hi - uniq[i], uniq[i] - lo])  # local frame: x = c_i + u
        res = linprog(-np.eye(dim + 1)[dim], A_ub=a_ub, b_ub=b_ub, bounds=(None, None))
        assert res.status == 0
        radii[i] = res.x[dim]
    return radii[inverse.reshape(-1)]


def _facet_distance(codes: np.ndarray, centers: np.ndarray, margin: float = MARGIN) -> np.ndarray:
    """Distance from each center to the nearest facet of its own cell (< 0: outside the cell)."""
    uniq = np.unique(codes, axis=0)
    lo, hi = codebook_box(uniq, margin)
    v = uniq[None, :, :] - codes[:, None, :]  # c_j - c_i for every distinct c_j
    d = np.linalg.norm(v, axis=2)
    u = centers - codes
    with np.errstate(invalid="ignore", divide="ignore"):
        bisector = 0.5 * d - np.einsum("kjd,kd->kj", v, u) / d
    bisector[d == 0] = np.inf  # the code itself (and its duplicates)
    box = np.minimum(centers - lo, hi - centers).min(axis=1)
    return np.minimum(bisector.min(axis=1), box)


def _assert_exact(codes: np.ndarray, centers: np.ndarray, radii: np.ndarray) -> None:
    scale = float(np.ptp(codes, axis=0).max())
    # Each radius is exactly the distance to the nearest facet: the ball is inside and touches.
    np.testing.assert_allclose(_facet_distance(codes, centers), radii, rtol=0, atol=1e-9 * scale)
    assert (radii > 0).all()
    # Each center's nearest code is its own code (or an identical copy of it).
    d = np.linalg.norm(centers[:, None, :] - codes[None, :, :], axis=2)
    np.testing.assert_array_equal(codes[d.argmin(axis=1)], codes)


@pytest.mark.parametrize(("dim", "k"), [(1, 60), (2, 120), (3, 150), (5, 120), (8, 100)])
def test_matches_per_cell_linprog(dim: int, k: int) -> None:
    codes = np.random.default_rng(dim).standard_normal((k, dim))
    centers, radii = chebyshev_centers(codes, box_margin=MARGIN)
    assert centers.shape == (k, dim) and radii.shape == (k,)
    assert centers.dtype == np.float64 and radii.dtype == np.float64
    np.testing.assert_allclose(radii, _reference_radii(codes), rtol=0, atol=1e-7)
    _assert_exact(codes, centers, radii)


def test_gaussian_mixture_codebook() -> None:
    rng = np.random.default_rng(7)
    means = rng.standard_normal((6, 3)) * 3
    codes = means[rng.integers(0, 6, 150)] + 0.3 * rng.standard_normal((150, 3))
    centers, radii = chebyshev_centers(codes)
    np.testing.assert_allclose(radii, _reference_radii(codes), rtol=0, atol=1e-7)
    _assert_exact(codes, centers, radii)


def test_grid_codebook_is_exact_despite_degeneracy() -> None:
    # Cube cells: every vertex is shared by 8 cells, the classic degenerate LP.
    codes = np.stack(np.meshgrid(*[np.arange(4.0)] * 3, indexing="ij"), -1).reshape(-1, 3)
    centers, radii = chebyshev_centers(codes, box_margin=MARGIN)
    inner = (codes > 0).all(axis=1) & (codes < 3).all(axis=1)
    np.testing.assert_allclose(radii[inner], 0.5, atol=1e-12)
    np.testing.assert_allclose(centers[inner], codes[inner], atol=1e-12)
    np.testing.assert_allclose(radii, _reference_radii(codes), atol=1e-7)
    _assert_exact(codes, centers, radii)


def test_duplicates_share_their_cell() -> None:
    rng = np.random.default_rng(3)
    base = rng.standard_normal((40, 3))
    codes = np.concatenate([base, base[:5], base[2:3]])
    perm = rng.permutation(len(codes))
    codes = codes[perm]
    centers, radii = chebyshev_centers(codes)
    ref_centers, ref_radii = chebyshev_centers(base)
    original = np.concatenate([np.arange(40), np.arange(5), [2]])[perm]
    np.testing.assert_allclose(centers, ref_centers[original], atol=1e-12)
    np.testing.assert_allclose(radii, ref_radii[original], atol=1e-12)
    _assert_exact(codes, centers, radii)


@pytest.mark.parametrize("shape", ["coplanar", "coplanar_rotated", "collinear"])
def test_flat_codebooks_in_3d(shape: str) -> None:
    rng = np.random.default_rng(11)
    if shape == "collinear":
        codes = np.outer(rng.standard_normal(40), [1.0, 2.0, -0.5]) + 3.0
    else:
        codes = np.c_[rng.standard_normal((80, 2)), np.zeros(80)]
        if shape == "coplanar_rotated":
            rot, _ = np.linalg.qr(rng.standard_normal((3, 3)))
            codes = codes @ rot.T
    stats = ChebyshevStats()
    centers, radii = chebyshev_centers(codes, stats=stats)
    assert stats.seeding == "nearest"  # Qhull refuses flat input; the fallback must be exact too
    np.testing.assert_allclose(radii, _reference_radii(codes), rtol=0, atol=1e-7)
    _assert_exact(codes, centers, radii)


@pytest.mark.parametrize(("k", "dim"), [(2, 3), (3, 8), (2, 1)])
def test_fewer_codes_than_a_simplex(k: int, dim: int) -> None:
    codes = np.random.default_rng(k + dim).standard_normal((k, dim))
    centers, radii = chebyshev_centers(codes)
    np.testing.assert_allclose(radii, _reference_radii(codes), atol=1e-7)
    _assert_exact(codes, centers, radii)


def test_equivariant_under_scaling_and_shift() -> None:
    codes = np.random.default_rng(5).standard_normal((100, 3))
    centers, radii = chebyshev_centers(codes)
    scale = 2.0**-20  # exact in binary; the shift then rounds the codes by ~1e-13
    moved_centers, moved_radii = chebyshev_centers(codes * scale + 1e3)
    np.testing.assert_allclose(moved_radii, radii * scale, rtol=0, atol=1e-12)
    np.testing.assert_allclose(moved_centers, centers * scale + 1e3, rtol=0, atol=1e-12)


def test_seeding_and_verification_paths_agree(monkeypatch) -> None:
    codes = np.random.default_rng(9).standard_normal((300, 3))
    stats = ChebyshevStats()
    centers, radii = chebyshev_centers(codes, stats=stats)
    assert stats.seeding == "delaunay" and stats.rounds == 1
    monkeypatch.setattr(cheb, "_SEEDING", "nearest")
    stats = ChebyshevStats()
    near_centers, near_radii = chebyshev_centers(codes, stats=stats)
    assert stats.seeding == "nearest" and stats.rounds > 1
    np.testing.assert_allclose(near_radii, radii, atol=1e-12)
    np.testing.assert_allclose(near_centers, centers, atol=1e-9)
    monkeypatch.setattr(cheb, "_KDTREE_MAX_QUERY", 8)  # every full check through the dense path
    monkeypatch.setattr(cheb, "_LOCAL_QUERY", 0)
    _, dense_radii = chebyshev_centers(codes)
    np.testing.assert_allclose(dense_radii, radii, atol=1e-12)


def test_box_margin_only_grows_hull_cells() -> None:
    codes = np.random.default_rng(2).standard_normal((150, 2))
    _, small = chebyshev_centers(codes, box_margin=0.05)
    _, large = chebyshev_centers(codes, box_margin=0.5)
    assert (large >= small - 1e-12).all() and (large > small + 1e-6).any()


def test_dtypes_and_torch() -> None:
    codes = np.random.default_rng(4).standard_normal((64, 3))
    centers, radii = chebyshev_centers(codes)
    c32, r32 = chebyshev_centers(codes.astype(np.float32))
    assert c32.dtype == np.float32 and r32.dtype == np.float32
    np.testing.assert_allclose(r32, radii, rtol=1e-5)
    c_int, _ = chebyshev_centers(np.arange(12).reshape(6, 2))
    assert c_int.dtype == np.float64

    t_centers, t_radii = chebyshev_centers(torch.from_numpy(codes).float().requires_grad_())
    assert isinstance(t_centers, torch.Tensor) and isinstance(t_radii, torch.Tensor)
    assert t_centers.dtype == torch.float32 and t_centers.device == torch.device("cpu")
    np.testing.assert_allclose(t_radii.numpy(), r32, rtol=1e-6)
    t64, _ = chebyshev_centers(torch.from_numpy(codes))
    assert t64.dtype == torch.float64
    np.testing.assert_allclose(t64.numpy(), centers)


@pytest.mark.parametrize(
    ("codebook", "message"),
    [
        (np.zeros((1, 3)), "fewer than two distinct codes"),
        (np.ones((5, 3)), "fewer than two distinct codes"),
        (np.zeros((0, 3)), "non-empty K x D"),
        (np.zeros(5), "non-empty K x D"),
        (np.array([[0.0, 1.0], [np.nan, 0.0]]), "NaN or infinite"),
        (np.array([["a", "b"], ["c", "d"]]), "real numeric"),
    ],
)
def test_clear_errors(codebook: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chebyshev_centers(codebook)


@pytest.mark.parametrize("margin", [0.0, -1.0, float("nan")])
def test_bad_margin(margin: float) -> None:
    with pytest.raises(ValueError, match="box_margin"):
        chebyshev_centers(np.eye(3), box_margin=margin)
