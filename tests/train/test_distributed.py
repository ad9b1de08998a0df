"""Multi-process training: the single-process no-ops, and a real 2-process gloo job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import restorecli
from restorecli.models import load_model
from restorecli.train.distributed import (
    DistInfo,
    all_mean,
    cleanup_distributed,
    init_distributed,
    is_main_process,
)


def test_a_single_process_needs_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_distributed(torch.device("cpu")) == DistInfo(rank=0, world_size=1, local_rank=0)
    monkeypatch.setenv("WORLD_SIZE", "1")
    info = init_distributed(torch.device("cpu"))
    assert info.is_main and info.world_size == 1
    assert not torch.distributed.is_initialized()
    assert all_mean(2.5, info) == 2.5
    cleanup_distributed()  # nothing to leave: must not raise


def test_is_main_process_follows_the_rank_torchrun_sets(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    assert is_main_process()
    monkeypatch.setenv("RANK", "0")
    assert is_main_process()
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process()
    assert not DistInfo(rank=1, world_size=2).is_main


# Runs `restore train autoencoder` under torchrun. Each rank records the live model it trained
# (by wrapping ema_update, which sees it every step) and saves its state after the command ends,
# so the test can compare the ranks' weights and codebooks exactly.
WORKER = """
import os, sys
from safetensors.torch import save_file
import restorecli.train.run as training
from restorecli.cli import main

seen = {}
real_ema_update = training.ema_update

def spy(ema, model, decay):
    seen["model"] = model
    real_ema_update(ema, model, decay)

training.ema_update = spy
code = 0
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
state = {k: v.detach().contiguous() for k, v in seen["model"].state_dict().items()}
save_file(state, os.path.join(sys.argv[1], "rank%s.safetensors" % os.environ["RANK"]))
sys.exit(code)
"""


@pytest.mark.slow
def test_two_gloo_processes_train_one_model(photos: Path, tmp_path: Path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    run, export = tmp_path / "run", tmp_path / "ae.safetensors"
    src = str(Path(restorecli.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])),
    }
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(script), str(tmp_path),
        "train", "autoencoder", str(photos), "-o", str(run), "--steps", "3",
        "--batch-size", "2", "--crop", "32", "--channels", "8", "--blocks", "1",
        "--codebook-size", "64", "--device", "cpu", "--val-every", "3", "--ckpt-every", "3",
        "--vq-start", "1",
        "--export", str(export),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    rank0 = load_file(tmp_path / "rank0.safetensors")
    rank1 = load_file(tmp_path / "rank1.safetensors")
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert bool(rank0["quantizer.initialized"])

    ckpt = run / "checkpoint.safetensors"
    with safe_open(str(ckpt), framework="pt") as f:
        info = json.loads(f.metadata()["info"])
        for key in rank0:
            assert torch.equal(f.get_tensor(f"model.{key}"), rank0[key]), key
        ema_codebook = f.get_tensor("ema.quantizer.codebook")
    assert info["step"] == 3 and info["world_size"] == 2

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 3]  # one loss record, one validation: rank 0 only
    # Exported once, by rank 0, after the last checkpoint was written.
    exported = load_model(export, kind="autoencoder")
    torch.testing.assert_close(exported.codebook, ema_codebook.half().float())
