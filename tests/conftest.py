"""Fixtures shared by the whole suite: tiny random models written by the tests themselves."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restorecli.models import (
    AutoencoderConfig,
    LatentUNet,
    UNetConfig,
    VQAutoencoder,
    save_model,
)
from restorecli.models.detector import DegradationDetector, DetectorConfig
from restorecli.pipeline import save_pretrained_folder

# The docs generators live outside the package (scripts/, benchmarks/), run from a checkout;
# their tests import them by module name.
_ROOT = Path(__file__).resolve().parents[1]
for _folder in ("scripts", "benchmarks"):
    if str(_ROOT / _folder) not in sys.path:
        sys.path.append(str(_ROOT / _folder))
# Test helpers one folder shares with others are imported as packages of tests/ (``jobs.fakes``):
# pytest's default import mode puts this folder on sys.path (it is not a package); so does this,
# for the others.
if str(_ROOT / "tests") not in sys.path:
    sys.path.append(str(_ROOT / "tests"))


def _import_file(path: Path, name: str):
    """Import the file at ``path`` as the module ``name``, by path (so under any pytest import
    mode). Registered first, as an import would: dataclasses look their module up by name."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The local fake Hugging Face Hub of tests/weights, for tests/weights and tests/cli: their test
# modules import it by this name.
fake_hub = _import_file(_ROOT / "tests" / "weights" / "fake_hub.py", "restorecli_tests_fake_hub")


def tiny_models(seed: int = 0, *, levels: int = 2) -> tuple[VQAutoencoder, LatentUNet]:
    """A few-thousand-parameter autoencoder and denoiser with a spread-out random codebook."""
    torch.manual_seed(seed)
    ae = VQAutoencoder(
        AutoencoderConfig(codebook_size=64, channels=8, num_blocks=1, half_channels=8)
    )
    with torch.no_grad():
        ae.quantizer.codebook.copy_(torch.randn(64, 3))
        # Random non-zero output layers so the models are not identities.
        for module in (*ae.modules(),):
            if isinstance(module, torch.nn.Conv2d):
                module.weight.normal_(0, 0.3)
    unet = LatentUNet(
        UNetConfig(channels=8, channel_mults=(1, 2)[:levels], blocks_per_level=1, emb_dim=16)
    )
    with torch.no_grad():
        unet.out.weight.normal_(0, 0.1)
    return ae.eval(), unet.eval()


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with autoencoder.safetensors and denoiser.safetensors of tiny random models."""
    ae, unet = tiny_models()
    return save_pretrained_folder(tmp_path_factory.mktemp("tiny_weights"), ae, unet)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep Chebyshev tables and verification records out of the user's cache."""
    monkeypatch.setenv("RESTORE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def load_repo_script():
    """Import a script of the repository (``benchmarks/x.py``, ``scripts/y.py``) as a module:
    they are run from a checkout, not installed."""

    def load(relative: str):
        path = _ROOT / relative
        return _import_file(path, path.stem)

    return load


def write_pairs(root: Path, n: int = 3, size: tuple[int, int] = (24, 32), seed: int = 0) -> Path:
    """``root/input`` and ``root/target`` with ``n`` noisy/clean PNG pairs (H x W = size)."""
    rng = np.random.default_rng(seed)
    for sub in ("input", "target"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        clean = (rng.random((*size, 3)) * 255).astype(np.uint8)
        noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(clean).save(root / "target" / f"{i}.png")
        Image.fromarray(noisy).save(root / "input" / f"{i}.png")
    return root


@pytest.fixture(scope="session")
def make_pairs():
    """``write_pairs`` for test modules (importing a conftest.py by name is fragile)."""
    return write_pairs


@pytest.fixture(scope="session")
def make_tiny_models():
    """``tiny_models`` for test modules (several conftest.py exist, so importing one is fragile)."""
    return tiny_models


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_for_the_suite():
    """The suite's models are tiny: one thread is faster than two (see ``torch_one_thread``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def torch_one_thread():
    """Run torch on one thread for the test.

    Tiny convolutions gain nothing from threads, and on 2 cores shared with other processes
    OpenMP's thread hand-offs made them 10-30x slower (tiny autoencoder, 128 px: 10 ms on one
    thread, 0.1-0.3 s on two).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY_DETECTOR = DetectorConfig(width=4, crops=2, crop_size=16, global_size=16)


@pytest.fixture
def detector_file(tmp_path):
    """``make(confident)``: a tiny detector file that gives every photo the same confidences
    (``confident``: task -> p; the other tasks get 0.01)."""

    def make(confident: dict[str, float] | None = None, name: str = "det") -> Path:
        model = DegradationDetector(TINY_DETECTOR)
        last = model.head[-1]
        with torch.no_grad():
            last.weight.zero_()
            for i, task in enumerate(TINY_DETECTOR.labels):
                p = (confident or {}).get(task, 0.01)
                last.bias[i] = float(torch.logit(torch.tensor(p)))
        return save_model(model, tmp_path / f"{name}.safetensors")

    return make


@pytest.fixture
def isolated_caches(monkeypatch, tmp_path):
    """Every cache in tmp_path, and no environment that would change how weights resolve
    (autouse in tests/weights and tests/cli/test_models_cmd.py)."""
    fake_hub.isolate(monkeypatch, tmp_path)


@pytest.fixture
def hub(monkeypatch):
    """A local fake Hugging Face Hub (``restorecli_tests_fake_hub.FakeHub``), huggingface_hub
    pointed at it."""
    server = fake_hub.FakeHub().start()
    fake_hub.point_at(monkeypatch, server.url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    """One local Ray (2 CPUs) for every test that needs it; the engine joins it rather than
    starting its own. Skips when Ray is not installed (``pip install ".[ray]"``)."""
    import logging

    ray = pytest.importorskip("ray", reason='Ray is not installed: pip install ".[ray]"')
    cache = str(tmp_path_factory.getbasetemp() / "cache")  # as _isolated_cache, in the workers
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        runtime_env={"env_vars": {"RESTORE_CACHE_DIR": cache}},
    )
    yield ray
    ray.shutdown()
