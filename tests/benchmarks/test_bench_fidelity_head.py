"""benchmarks/bench_fidelity_head.py: the fidelity head's layouts timed against the decoder."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.weights, pytest.mark.usefixtures("torch_one_thread")]


def test_every_layout_is_timed_beside_the_plain_decoder(load_repo_script, capsys) -> None:
    bench = load_repo_script("benchmarks/bench_fidelity_head.py")
    if not bench.AUTOENCODER.is_file():
        pytest.skip("the shipped autoencoder is not in this checkout")
    assert bench.main(["--size", "64", "--repeats", "1", "--threads", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    names = [row.split("|")[1].strip() for row in rows]
    assert names == ["plain decoder", *bench.LAYOUTS]
    assert all(float(row.split("|")[2]) > 0 for row in rows)


def test_the_shipped_layout_is_the_shipped_heads(load_repo_script) -> None:
    # The row called "shipped" must time the head the package ships for derain and dehaze.
    import dataclasses
    import json

    from restorecli.models import read_metadata

    bench = load_repo_script("benchmarks/bench_fidelity_head.py")
    shipped = bench.AUTOENCODER.parent / "fidelity.safetensors"
    if not shipped.is_file():
        pytest.skip("the shipped fidelity head is not in this checkout")
    config = json.loads(read_metadata(shipped)["restorecli.config"])
    assert config == dataclasses.asdict(bench.LAYOUTS["shipped (1x1, 1x1, 1 block)"])
