"""Disk cache of Chebyshev tables: hits, keys, corrupt files, concurrent builders."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import restorecli.geometry.cache as cache
from restorecli.geometry import cache_path, chebyshev_centers, load_or_build, table_key


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RESTORE_CACHE_DIR", str(tmp_path))
    return tmp_path / "chebyshev"


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts real builds (cache misses)."""
    calls: list[int] = []
    real = cache._chebyshev_float64

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "_chebyshev_float64", counting)
    return calls


def _codes(seed: int = 0, k: int = 80, dim: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((k, dim)).astype(np.float32)


def test_miss_then_hit(cache_root: Path, builds: list[int]) -> None:
    codes = _codes()
    centers, radii = load_or_build(codes)
    path = cache_path(codes)
    assert path.parent == cache_root and path.is_file()
    assert [p.name for p in cache_root.iterdir()] == [path.name]  # no temp files left
    again_centers, again_radii = load_or_build(codes)
    assert len(builds) == 1
    np.testing.assert_array_equal(again_centers, centers)
    np.testing.assert_array_equal(again_radii, radii)
    ref_centers, ref_radii = chebyshev_centers(codes)
    np.testing.assert_array_equal(centers, ref_centers)
    np.testing.assert_array_equal(radii, ref_radii)
    assert centers.dtype == np.float32


def test_explicit_cache_dir_wins(tmp_path: Path, cache_root: Path) -> None:
    codes = _codes()
    load_or_build(codes, cache_dir=tmp_path / "mine")
    assert (tmp_path / "mine" / f"{table_key(codes)}.safetensors").is_file()
    assert not cache_root.exists()


def test_keys_differ_by_content_dtype_and_margin() -> None:
    a, b = _codes(0), _codes(1)
    keys = {
        table_key(a),
        table_key(b),
        table_key(a.astype(np.float64)),
        table_key(a, box_margin=0.2),
        table_key(a.reshape(40, 6)),
    }
    assert len(keys) == 5
    assert table_key(a) == table_key(a.copy())
    assert table_key(torch.from_numpy(a)) == table_key(a)  # same bytes, same table


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "tamper"])
def test_damaged_file_is_rebuilt(cache_root: Path, builds: list[int], damage: str) -> None:
    codes = _codes()
    centers, radii = load_or_build(codes)
    path = cache_path(codes)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # valid file, one value changed: caught by the stored checksum
        path.write_bytes(data[:-8] + np.float64(123.0).tobytes())
    again_centers, again_radii = load_or_build(codes)
    assert len(builds) == 2
    np.testing.assert_array_equal(again_centers, centers)
    np.testing.assert_array_equal(again_radii, radii)
    assert cache._read(path, table_key(codes), codes.shape) is not None  # replaced by a good file
    load_or_build(codes)
    assert len(builds) == 2


def test_torch_in_torch_out(cache_root: Path, builds: list[int]) -> None:
    codes = torch.from_numpy(_codes())
    centers, radii = load_or_build(codes)
    assert isinstance(centers, torch.Tensor) and centers.device == codes.device
    assert centers.dtype == torch.float32 and radii.shape == (codes.shape[0],)
    again, _ = load_or_build(codes)
    assert len(builds) == 1
    torch.testing.assert_close(again, centers, rtol=0, atol=0)


def test_concurrent_builders_leave_a_valid_file(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = _codes(k=60)
    real = cache._chebyshev_float64
    both_building = threading.Barrier(2, timeout=30)

    def slow_build(*args, **kwargs):
        both_building.wait()  # both threads missed the cache and build at the same time
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "_chebyshev_float64", slow_build)
    results: list[tuple[np.ndarray, np.ndarray]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(load_or_build(codes))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 2
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert [p.name for p in cache_root.iterdir()] == [cache_path(codes).name]
    monkeypatch.setattr(cache, "_chebyshev_float64", real)
    hit = cache._read(cache_path(codes), table_key(codes), codes.shape)
    assert hit is not None
    np.testing.assert_array_equal(hit[0].astype(np.float32), results[0][0])


def test_unwritable_cache_still_returns_the_table(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    codes = _codes()
    centers, _ = load_or_build(codes, cache_dir=blocker / "sub")
    np.testing.assert_array_equal(centers, chebyshev_centers(codes)[0])


def test_invalid_codebook_is_not_cached(cache_root: Path) -> None:
    with pytest.raises(ValueError, match="NaN"):
        load_or_build(np.array([[0.0, np.nan], [1.0, 1.0]]))
    assert not cache_root.exists() or not any(cache_root.iterdir())
