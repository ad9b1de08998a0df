"""Bench on tiny sizes: the rows carry every stage, throughput and memory."""

from __future__ import annotations

import pytest

from restorecli.evaluate.speed import (
    BENCH_STAGES,
    bench,
    bench_table,
    environment,
    parse_size,
    peak_rss_mib,
    synthetic_image,
)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_parse_size() -> None:
    assert parse_size("1920x1080") == (1920, 1080)
    assert parse_size("64") == (64, 64)
    for bad in ("x", "0x5", "1x2x3"):
        with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
            parse_size(bad)


def test_synthetic_image_is_deterministic() -> None:
    a, b = synthetic_image(20, 10), synthetic_image(20, 10)
    assert a.shape == (10, 20, 3) and (a == b).all() and a.min() >= 0 and a.max() <= 1


def test_bench_rows(restorer) -> None:
    before = restorer.config
    rows = bench(restorer, sizes=[(40, 24), (16, 16)], steps=[1, 2], repeats=1, frames=2)
    assert [(r.width, r.height, r.steps) for r in rows] == [
        (16, 16, 1),
        (16, 16, 2),
        (40, 24, 1),
        (40, 24, 2),
    ]  # smallest size first
    for r in rows:
        assert set(r.stages) == set(BENCH_STAGES)
        assert r.stages["sample"] > 0 and r.stages["read"] > 0 and r.stages["write"] > 0
        assert r.images_per_s > 0 and r.frames_per_s > 0 and r.frames == 2
        assert r.peak_rss_mib > 0 and r.peak_cuda_mib is None
    assert restorer.config is before and restorer.profile is False
    result = {"environment": environment(restorer), "rows": [r.as_dict() for r in rows]}
    table = bench_table(result)
    assert table.rows[0][0] == "16x16" and "sample s" in table.header
    assert bench(restorer, sizes=[(16, 16)], steps=[1], repeats=1, frames=0)[0].frames_per_s is None
    assert peak_rss_mib() > 10
