"""TrainingRun: the bookkeeping shared by the training loops."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from restorecli.train.run import TrainingRun


@dataclass
class _Cfg:
    data: str
    out: str
    steps: int = 5
    batch_size: int = 2
    lr: float = 0.1
    ema_decay: float = 0.5
    log_every: int = 2
    val_every: int = 10
    ckpt_every: int = 3
    seed: int = 0
    device: str = "cpu"
    progress: bool = False


def _train(cfg: _Cfg) -> TrainingRun:
    run = TrainingRun(cfg, "toy")
    net = run.attach(torch.nn.Conv2d(1, 1, 1))
    for _ in run.steps():
        loss = net(torch.ones(1, 1, 2, 2)).pow(2).mean()
        run.update(loss)
        run.log_step(float(loss.detach()), extra=1.0)
        if run.due(cfg.ckpt_every):
            run.save(note="x")
    run.close()
    return run


def test_steps_logging_checkpoints_and_resume(tmp_path: Path) -> None:
    cfg = _Cfg(data=str(tmp_path), out=str(tmp_path / "run"))
    run = _train(cfg)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    # Logged every 2nd step and at the last one; checkpoints at 3 and 5 (the last).
    assert [r["step"] for r in records] == [2, 4, 5]
    assert all(r["extra"] == 1.0 and r["crops_per_s"] > 0 for r in records)
    assert run.info["step"] == 5 and run.info["note"] == "x"
    # EMA moved towards the trained weights but lags them.
    assert not torch.equal(run.ema.weight, run.model.weight)

    resumed = _train(_Cfg(data=str(tmp_path), out=str(tmp_path / "run"), steps=7))
    assert resumed.info["step"] == 7
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert steps == [2, 4, 5, 6, 7]


def test_best_weights_follow_the_best_validation(tmp_path: Path) -> None:
    from safetensors import safe_open

    cfg = _Cfg(data=str(tmp_path), out=str(tmp_path / "run"), steps=4)
    run = TrainingRun(cfg, "toy")
    net = run.attach(torch.nn.Conv2d(1, 1, 1))
    run.extra_info["source"] = "test"
    scores = iter([10.0, 12.0, 11.0, 12.0])  # improves at steps 1 and 2 only
    weights_at = {}
    for _ in run.steps():
        run.update(net(torch.ones(1, 1, 2, 2)).pow(2).mean())
        weights_at[run.step_count] = run.ema.weight.detach().clone()
        run.record({"val_psnr": next(scores)}, best="val_psnr")
    run.close()

    best = tmp_path / "run" / "best.safetensors"
    with safe_open(str(best), framework="pt") as f:
        info = json.loads(f.metadata()["info"])
        assert not any(k.startswith("optim.") for k in f.keys())  # noqa: SIM118
        torch.testing.assert_close(f.get_tensor("ema.weight"), weights_at[2])
    assert (info["step"], info["val_psnr"], info["source"]) == (2, 12.0, "test")
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()  # no regular save asked


def test_best_compares_only_validations_of_the_same_setup(tmp_path: Path) -> None:
    cfg = _Cfg(data=str(tmp_path), out=str(tmp_path / "run"), steps=3)
    run = TrainingRun(cfg, "toy")
    net = run.attach(torch.nn.Conv2d(1, 1, 1))
    plan = iter([(30.0, "crops"), (20.0, "photos"), (25.0, "photos")])
    for _ in run.steps():
        run.update(net(torch.ones(1, 1, 2, 2)).pow(2).mean())
        score, setup = next(plan)
        run.record({"val_psnr": score}, best="val_psnr", setup=setup)
    run.close()
    # The 30 dB of another setup does not block the photos' best (25 dB at step 3).
    from safetensors import safe_open

    with safe_open(str(tmp_path / "run" / "best.safetensors"), framework="pt") as f:
        info = json.loads(f.metadata()["info"])
    assert (info["step"], info["val_psnr"]) == (3, 25.0)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [r["val_setup"] for r in records if "val_psnr" in r] == ["crops", "photos", "photos"]
