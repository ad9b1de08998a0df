import pytest
import torch

from restorecli.geometry import chebyshev_centers
from restorecli.init_state import (
    INIT_MODES,
    auto_lambda,
    code_neighbors,
    initial_state,
)
from restorecli.models.quantizer import nearest_code


def requantize(z: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pipeline's hard re-quantization: nearest codes and their indices."""
    b, d, h, w = z.shape
    idx = nearest_code(z.permute(0, 2, 3, 1).reshape(-1, d), codebook).view(b, h, w)
    return codebook[idx].permute(0, 3, 1, 2).to(z.dtype), idx


def _nearest64(z: torch.Tensor, codebook: torch.Tensor, rank: int = 0) -> torch.Tensor:
    """Exact (float64, all codes) index of the rank-th nearest code, B x h x w."""
    b, d, h, w = z.shape
    flat = z.permute(0, 2, 3, 1).reshape(-1, d).double()
    dist = torch.cdist(flat, codebook.double())
    return dist.argsort(1)[:, rank].view(b, h, w)


def _margin64(y: torch.Tensor, indices: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Exact signed distance of each pixel of y to the boundary of its code's Voronoi cell."""
    d = y.shape[1]
    x = y.permute(0, 2, 3, 1).reshape(-1, d).double()
    cb = codebook.double()
    c_k = cb[indices.reshape(-1)]
    normal = c_k[:, None] - cb[None]  # N x K x D
    length = normal.norm(dim=2)
    f = ((x[:, None] - 0.5 * (c_k[:, None] + cb[None])) * normal).sum(2) / length.clamp_min(1e-300)
    f = torch.where(length > 0, f, torch.inf)
    return f.amin(1).view(indices.shape)


def _setup(seed=0, k=48, d=3, shape=(2, 5, 6), dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    codebook = torch.randn(k, d, generator=g, dtype=dtype)
    b, h, w = shape
    # Wider than the codebook so unbounded (hull) cells are exercised too.
    z_e = 1.5 * torch.randn(b, d, h, w, generator=g, dtype=dtype)
    indices = _nearest64(z_e, codebook)
    centers, radii = chebyshev_centers(codebook)
    return z_e, indices, codebook, centers, radii


def _state(mode, z_e, indices, codebook, centers, radii, **kw):
    return initial_state(mode, z_e, indices, codebook, centers=centers, radii=radii, **kw)


# --- each mode ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", INIT_MODES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_shape_dtype_device(mode, dtype):
    z_e, indices, codebook, centers, radii = _setup()
    z_e = z_e.to(dtype)
    out = _state(mode, z_e, indices, codebook.float(), centers.float(), radii.float())
    assert out.shape == z_e.shape
    assert out.dtype == dtype
    assert out.device == z_e.device
    assert bool(torch.isfinite(out).all())


def test_zq_is_the_code():
    z_e, indices, codebook, centers, radii = _setup()
    out = _state("zq", z_e, indices, codebook, centers, radii)
    assert torch.equal(out, codebook[indices].permute(0, 3, 1, 2))


def test_ze_is_the_encoder_output():
    z_e, indices, codebook, centers, radii = _setup()
    assert torch.equal(_state("ze", z_e, indices, codebook, centers, radii), z_e)


def test_chebyshev_is_the_center():
    z_e, indices, codebook, centers, radii = _setup()
    out = _state("chebyshev", z_e, indices, codebook, centers, radii)
    assert torch.equal(out, centers[indices].permute(0, 3, 1, 2))


def test_lerp_endpoints_and_midpoint():
    z_e, indices, codebook, _, _ = _setup()
    z_q = codebook[indices].permute(0, 3, 1, 2)
    torch.testing.assert_close(_state("lerp", z_e, indices, codebook, None, None, lam=0.0), z_q)
    torch.testing.assert_close(_state("lerp", z_e, indices, codebook, None, None, lam=1.0), z_e)
    mid = _state("lerp", z_e, indices, codebook, None, None, lam=0.5)
    torch.testing.assert_close(mid, 0.5 * (z_e + z_q))
    with pytest.raises(ValueError, match="lam"):
        _state("lerp", z_e, indices, codebook, None, None, lam=1.5)


# --- every state stays in its cell -----------------------------------------------------------


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("mode", "kw"),
    [
        ("zq", {}),
        ("lerp", {"lam": 0.3}),
        ("lerp", {"lam": 0.5}),
        ("lerp", {"lam": 0.9}),
        ("chebyshev", {}),
        ("auto", {"rho": 0.1}),
        ("auto", {"rho": 0.5}),
        ("auto", {"rho": 0.9}),
    ],
)
def test_requantize_gives_back_the_indices(d, seed, mode, kw):
    z_e, indices, codebook, centers, radii = _setup(seed=seed, d=d, dtype=torch.float32)
    y0 = _state(mode, z_e, indices, codebook, centers, radii, **kw)
    z_q, idx = requantize(y0, codebook)
    assert torch.equal(idx, indices)
    assert torch.equal(z_q, codebook[indices].permute(0, 3, 1, 2))


# --- the auto rule -----------------------------------------------------------------------------


def _exact_tables(codebook):
    """Tables that list every facet: Delaunay neighbours, and simply every other code."""
    return [
        code_neighbors(codebook, method="delaunay"),
        code_neighbors(codebook, 10**6, method="knn"),
    ]


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("rho", [0.25, 0.5, 0.8])
def test_auto_lambda_range_margin_and_optimality(d, rho):
    z_e, indices, codebook, centers, radii = _setup(seed=5, d=d, shape=(2, 8, 8))
    r = radii[indices]
    s = centers[indices].permute(0, 3, 1, 2)
    d_e = _margin64(z_e, indices, codebook)
    for table in _exact_tables(codebook):
        assert table.facets
        lam = auto_lambda(z_e, indices, codebook, centers, radii, rho=rho, neighbors=table)
        assert lam.shape == indices.shape
        assert bool(((lam >= 0) & (lam <= 1)).all())
        y0 = _state("auto", z_e, indices, codebook, centers, radii, rho=rho, neighbors=table)
        torch.testing.assert_close(y0, s + lam.unsqueeze(1) * (z_e - s))
        margin = _margin64(y0, indices, codebook)
        assert bool((margin >= rho * r - 1e-9).all())
        # Exact line search: lam stops short of 1 only where the margin is exactly rho r_k.
        short = lam < 1
        assert bool(short.any()) and bool((~short).any())
        torch.testing.assert_close(margin[short], rho * r[short], atol=1e-9, rtol=1e-9)
        # Never worse than the concavity bound lam = (1 - rho) r / (r - d_e).
        bound = ((1 - rho) * r / (r - d_e).clamp_min(1e-12)).clamp(0, 1)
        assert bool((lam >= bound - 1e-9).all())


@pytest.mark.parametrize("m", [1, 2, 4, 16])
def test_auto_with_small_tables_is_conservative_but_safe(m):
    rho = 0.5
    z_e, indices, codebook, centers, radii = _setup(seed=6, shape=(2, 8, 8))
    table = code_neighbors(codebook, m, method="knn")
    assert not table.facets and table.table.shape == (codebook.shape[0], m)
    exact = auto_lambda(z_e, indices, codebook, centers, radii, rho=rho)
    lam = auto_lambda(z_e, indices, codebook, centers, radii, rho=rho, neighbors=table)
    assert bool((lam <= exact + 1e-12).all())
    y0 = _state("auto", z_e, indices, codebook, centers, radii, rho=rho, neighbors=table)
    assert bool((_margin64(y0, indices, codebook) >= rho * radii[indices] - 1e-9).all())
    assert torch.equal(requantize(y0, codebook)[1], indices)


def test_auto_default_table_is_delaunay_in_low_dimension():
    z_e, indices, codebook, centers, radii = _setup(seed=6)
    assert code_neighbors(codebook).facets
    a = auto_lambda(z_e, indices, codebook, centers, radii)
    b = auto_lambda(z_e, indices, codebook, centers, radii, neighbors=code_neighbors(codebook))
    assert torch.equal(a, b)


def test_auto_rho_zero_keeps_z_e():
    z_e, indices, codebook, centers, radii = _setup(seed=7)
    for table in _exact_tables(codebook):
        lam = auto_lambda(z_e, indices, codebook, centers, radii, rho=0.0, neighbors=table)
        assert bool((lam == 1).all())


@pytest.mark.parametrize("method", ["delaunay", "knn"])
def test_auto_pulls_a_misassigned_z_e_back_inside(method):
    # z_e outside the indexed cell (index = second-nearest code): auto still lands in that cell.
    z_e, _, codebook, centers, radii = _setup(seed=8)
    indices = _nearest64(z_e, codebook, rank=1)
    table = code_neighbors(codebook, method=method)
    y0 = _state("auto", z_e, indices, codebook, centers, radii, rho=0.5, neighbors=table)
    assert bool((_margin64(y0, indices, codebook) >= 0.5 * radii[indices] - 1e-9).all())
    assert torch.equal(requantize(y0, codebook)[1], indices)


@pytest.mark.parametrize(("method", "m"), [("knn", 1), ("knn", 4), ("knn", 32), ("delaunay", 0)])
def test_auto_pulls_a_far_z_e_into_an_arbitrary_cell(method, m):
    # Indices unrelated to z_e, so z_e is mostly far outside the cell and many of its facets are
    # left out of a small table: the bound for the left-out codes must still hold.
    z_e, _, codebook, centers, radii = _setup(seed=11, shape=(4, 8, 8))
    g = torch.Generator().manual_seed(12)
    indices = torch.randint(0, codebook.shape[0], (4, 8, 8), generator=g)
    table = code_neighbors(codebook, m, method=method)
    y0 = _state("auto", z_e, indices, codebook, centers, radii, rho=0.5, neighbors=table)
    assert bool((_margin64(y0, indices, codebook) >= 0.5 * radii[indices] - 1e-9).all())
    assert torch.equal(requantize(y0, codebook)[1], indices)


def test_auto_in_higher_dimension_uses_nearest_codes():
    z_e, indices, codebook, centers, radii = _setup(seed=16, k=40, d=4, shape=(1, 6, 6))
    table = code_neighbors(codebook)
    assert not table.facets
    y0 = _state("auto", z_e, indices, codebook, centers, radii, neighbors=table)
    assert bool((_margin64(y0, indices, codebook) >= 0.5 * radii[indices] - 1e-9).all())


def test_auto_with_duplicate_codes():
    z_e, _, codebook, _, _ = _setup(seed=9)
    codebook = torch.cat([codebook, codebook[:4]])  # codes 48..51 duplicate 0..3
    indices = _nearest64(z_e, codebook)
    centers, radii = chebyshev_centers(codebook)
    lam = auto_lambda(z_e, indices, codebook, centers, radii)
    assert bool(torch.isfinite(lam).all())
    knn = auto_lambda(
        z_e, indices, codebook, centers, radii, neighbors=code_neighbors(codebook, 8, method="knn")
    )
    assert bool(torch.isfinite(knn).all())
    y0 = _state("auto", z_e, indices, codebook, centers, radii)
    # Identical codes share one cell: either index may come back, with the same vector.
    z_q, _ = requantize(y0, codebook)
    assert torch.equal(z_q, codebook[indices].permute(0, 3, 1, 2))
    assert bool((_margin64(y0, indices, codebook) >= 0.5 * radii[indices] - 1e-9).all())


def test_auto_chunking_does_not_change_the_result():
    z_e, indices, codebook, centers, radii = _setup(seed=10)
    a = auto_lambda(z_e, indices, codebook, centers, radii)
    b = auto_lambda(z_e, indices, codebook, centers, radii, chunk_elements=1)
    assert torch.equal(a, b)


# --- nearest-code search --------------------------------------------------------------------


def test_knn_table_lists_the_nearest_other_codes():
    g = torch.Generator().manual_seed(13)
    codebook = torch.randn(30, 3, generator=g, dtype=torch.float64)
    nb = code_neighbors(codebook, 5, method="knn", chunk_elements=30 * 4)  # several blocks
    assert nb.table.shape == (30, 5) and nb.table.dtype == torch.long and not nb.facets
    dist = torch.cdist(codebook, codebook)
    dist.fill_diagonal_(float("inf"))
    torch.testing.assert_close(dist.gather(1, nb.table), dist.sort(1).values[:, :5])
    # reach bounds the distance to every unlisted code from below, tightly.
    listed = torch.zeros_like(dist, dtype=torch.bool).scatter_(1, nb.table, True)
    unlisted = dist.masked_fill(listed, float("inf")).amin(1)
    assert bool((nb.reach.double() <= unlisted).all())
    torch.testing.assert_close(nb.reach.double(), dist.sort(1).values[:, 4], rtol=1e-5, atol=0)
    full = code_neighbors(codebook, 100, method="knn")
    assert full.table.shape == (30, 29) and full.facets  # every other code


def test_delaunay_table_lists_the_facets():
    g = torch.Generator().manual_seed(17)
    codebook = torch.randn(40, 2, generator=g, dtype=torch.float64)
    codebook = torch.cat([codebook, codebook[:3]])  # duplicates share the table of their twin
    nb = code_neighbors(codebook, method="delaunay")
    assert nb.facets
    assert torch.equal(nb.table[40:43], nb.table[:3])
    # The second-nearest code of any point is a Voronoi neighbour of the nearest one (shrink
    # the empty ball through both), so random points find facets the table must list.
    pts = 3 * torch.rand(20000, 2, generator=g, dtype=torch.float64) - 1.5
    two = torch.cdist(pts, codebook[:40]).topk(2, largest=False).indices
    for k, j in two.tolist():
        assert j in nb.table[k].tolist()
    with pytest.raises(ValueError, match="cannot triangulate"):
        code_neighbors(torch.randn(10, 5, generator=g), method="delaunay")
    with pytest.raises(ValueError, match="unknown neighbour method"):
        code_neighbors(codebook, method="kd")


# --- errors --------------------------------------------------------------------------------------


def test_unknown_mode():
    z_e, indices, codebook, _, _ = _setup()
    with pytest.raises(ValueError, match="unknown initial state 'nearest'"):
        initial_state("nearest", z_e, indices, codebook)


@pytest.mark.parametrize("mode", ["chebyshev", "auto"])
def test_missing_centers(mode):
    z_e, indices, codebook, _, radii = _setup()
    with pytest.raises(ValueError, match="needs the Chebyshev centers"):
        initial_state(mode, z_e, indices, codebook, radii=radii)


def test_missing_radii():
    z_e, indices, codebook, centers, _ = _setup()
    with pytest.raises(ValueError, match="needs the Chebyshev radii"):
        initial_state("auto", z_e, indices, codebook, centers=centers)


def test_bad_shapes_and_parameters():
    z_e, indices, codebook, centers, radii = _setup()
    with pytest.raises(ValueError, match="indices must have shape"):
        initial_state("zq", z_e, indices[:, :-1], codebook)
    with pytest.raises(ValueError, match="codebook must be"):
        initial_state("zq", z_e, indices, codebook[:, :2])
    with pytest.raises(ValueError, match="centers must have shape"):
        initial_state("chebyshev", z_e, indices, codebook, centers=centers[:-1])
    with pytest.raises(ValueError, match="rho"):
        _state("auto", z_e, indices, codebook, centers, radii, rho=1.5)
    with pytest.raises(ValueError, match="neighbors must come from code_neighbors"):
        _state("auto", z_e, indices, codebook, centers, radii, neighbors=indices)
    other = code_neighbors(codebook[:-1])
    with pytest.raises(ValueError, match="neighbors must be built for this codebook"):
        _state("auto", z_e, indices, codebook, centers, radii, neighbors=other)
