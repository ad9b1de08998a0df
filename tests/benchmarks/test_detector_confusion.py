"""benchmarks/detector_confusion.py: the tables count what the detector said, per class."""

from __future__ import annotations

import numpy as np
from PIL import Image

from detector_confusion import held_out_table, real_table
from restorecli.detect import load_detector


def photo(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)


def test_tables_count_each_class(tmp_path, detector_file):
    corpus = tmp_path / "corpus"
    for i in range(40):  # enough that the 5 % hash split holds some out
        photo(corpus / f"p{i}.png", i)
    detector = load_detector(detector_file({"derain": 0.9}), device="cpu")
    rows = held_out_table(detector, corpus, 0.5)
    assert rows[0].startswith("| true class | files | derain | dehaze")
    clean = rows[2].split(" | ")
    held = int(clean[1])
    assert held >= 1 and clean[2] == str(held)  # every clean photo called rain
    assert rows[2].endswith("| 0 (0 %) |")
    rain = rows[3].split(" | ")
    assert rain[0] == "| derain" and rain[-1] == f"{3 * held} (100 %) |"

    data = tmp_path / "bench"
    photo(data / "Rain100H_MSPFN/input/a.png")
    photo(data / "Noise_clean_Kodak24_FFDNet/target/k.png")
    real = real_table(detector, data, 0.5)
    assert real[2] == "| `Rain100H_MSPFN/input` | derain | 1 | 1 | 1 | derain (1) |"
    assert real[3] == "| `Noise_clean_Kodak24_FFDNet/target` | clean | 1 | 0 | 0 | derain (1) |"
