"""benchmarks/crop_sheets.py: 100 % crops of input, the paper's pipeline and the default."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_one_row_of_three_unscaled_crops_per_photo(
    load_repo_script, make_tiny_models, tmp_path
) -> None:
    from restorecli.models.fidelity import FidelityConfig, FidelityNet
    from restorecli.pipeline import save_pretrained_folder

    sheets = load_repo_script("benchmarks/crop_sheets.py")
    ae, unet = make_tiny_models()
    fid = FidelityNet(FidelityConfig(ae.config.channels, ae.config.half_channels, 8))
    weights = save_pretrained_folder(tmp_path / "w", ae, unet, fidelity=fid)
    rng = np.random.default_rng(0)
    for i in range(3):
        pixels = (rng.random((40, 60, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    out = tmp_path / "sheet.png"
    args = [str(tmp_path), "--task", "derain", "--weights", str(weights), "--out", str(out)]
    code = sheets.main([*args, "--limit", "2", "--crop", "32", "--device", "cpu"])
    assert code == 0
    sheet = Image.open(out)
    assert sheet.width >= 3 * 32 and sheet.height >= 2 * 32  # unscaled crops, two rows
    assert sheets.centre_crop(np.zeros((40, 60, 3)), 32).shape == (32, 32, 3)
