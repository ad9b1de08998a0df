"""The results generator end to end on a tiny benchmark folder and tiny weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorecli.errors import OutputExistsError
from results_report import MARKER, ResultsOptions, ResultsPlan, make_results

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY_PLAN = ResultsPlan(
    steps=(1, 2),
    robust_seeds=2,
    robust_images=1,
    severities=(0.0, 1.0),
    level_images=1,
    bench_sizes=((32, 32),),
    bench_steps=(1,),
    bench_repeats=1,
    sheet_images=1,
    sheet_side=64,
)


@pytest.fixture
def bench_root(tmp_path: Path, make_pairs) -> Path:
    root = tmp_path / "bench"
    make_pairs(root / "Rain100H_MSPFN", n=2)
    kodak = root / "Noise_clean_Kodak24_FFDNet" / "target"
    kodak.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in (1, 2):
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(
            kodak / f"kodim{i:02d}.png"
        )
    hazy = root / "RealHazy_misc_PyTorchDehazing" / "input"
    hazy.mkdir(parents=True)
    for name in ("a.jpg", "b.png", "notes.txt"):
        if name.endswith(".txt"):
            (hazy / name).write_text("not an image")
        else:
            Image.fromarray((rng.random((20, 28, 3)) * 255).astype(np.uint8)).save(hazy / name)
    return root


def test_make_results(bench_root: Path, tiny_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "docs" / "results.md"
    options = ResultsOptions(
        data=bench_root,
        out=out,
        weights={"derain": str(tiny_weights), "dehaze": str(tiny_weights)},
        limit=1,
        plan=TINY_PLAN,
        device="cpu",
        command="python benchmarks/make_results.py --quick",
    )
    messages: list[str] = []
    assert make_results(options, log=messages.append) == out
    text = out.read_text()
    assert text.startswith(MARKER)
    assert "python benchmarks/make_results.py --quick" in text
    for heading in (
        "### derain: default settings",
        "### derain: initial states",
        "### derain: diffusion steps",
        "### derain: robustness to the sampling seed",
        "### derain: PSNR against severity",
        "### dehaze: default settings",
        "### dehaze: real photos (no ground truth)",
        "### Speed (derain model)",
    ):
        assert heading in text
    from restorecli.weights import sha256_file

    assert sha256_file(tiny_weights / "denoiser.safetensors") in text
    assert "restore eval --task derain" in text and "restore bench --task derain" in text
    assert "restore degrade dehaze KODAK24 -o PAIRS --pairs --seed 0" in text
    assert "| nan |" not in text and "nan" not in text.split("initial states")[1][:2000]
    assert "PSNR vs chebyshev | seconds/image |" in text
    assert "derain: real photos" not in text  # no real derain folder in this benchmark root
    assert "restore batch DATA/RealHazy_misc_PyTorchDehazing/input --task dehaze" in text
    real = Image.open(out.parent / "results" / "dehaze_real.png")
    assert real.height > 20  # one row (limit=1): input | output with its caption
    for name in ("derain_sheet.png", "derain_levels.png", "dehaze_sheet.png", "dehaze_levels.png"):
        assert (out.parent / "results" / name).is_file()
        assert f"(results/{name})" in text
    assert messages and messages[-1].startswith("bench")

    # Regenerating its own file is fine; a file it did not write is refused.
    options.bench = False
    make_results(options)
    foreign = tmp_path / "mine.md"
    foreign.write_text("my notes")
    options.out = foreign
    with pytest.raises(OutputExistsError, match="--overwrite"):
        make_results(options)
    assert foreign.read_text() == "my notes"


def test_trained_with_rows_compare_with_the_chebyshev_trained_model() -> None:
    from restorecli.evaluate.inits import TRAIN_FREE, TRAINED, InitRow
    from restorecli.evaluate.metrics import Metrics
    from results_report import _versus_chebyshev

    m = Metrics(0.0, 0.0, 0.0, 0.0)

    def row(kind, trained_with, init, psnrs):
        return InitRow(kind, trained_with, None, init, m, m, len(psnrs), {}, 0.0, psnrs)

    free_cheb = row(TRAIN_FREE, None, "chebyshev", [20.0, 21.0, 22.0])
    free_zq = row(TRAIN_FREE, None, "zq", [19.0, 20.5, 21.0])
    zq_model = row(TRAINED, "zq", "zq", [21.0, 22.0, 23.0])
    rows = [free_zq, free_cheb, zq_model]
    assert _versus_chebyshev(free_cheb, rows, "chebyshev") == "-"
    assert _versus_chebyshev(free_zq, rows, "chebyshev").startswith("-0.83 ± ")
    # No model trained with chebyshev among the trained-with rows: the train-free model is it.
    assert _versus_chebyshev(zq_model, rows, "chebyshev") == "+1.00 ± 0.00"
    assert _versus_chebyshev(zq_model, rows, "zq") == "-"  # no chebyshev-trained reference
    cheb_model = row(TRAINED, "chebyshev", "chebyshev", [20.5, 21.5, 22.5])
    assert _versus_chebyshev(zq_model, [*rows, cheb_model], "chebyshev") == "+0.50 ± 0.00"
