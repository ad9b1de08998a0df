"""Paired folders: discovery, errors, scoring, and what the saver writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorecli.errors import InputNotFoundError, OutputExistsError, UnsupportedInputError
from restorecli.evaluate.paired import (
    OutputSaver,
    evaluate_pairs,
    find_pairs,
    load_pair,
    natural_key,
)


class Identity:
    """Returns its input: the output scores must equal the input's."""

    def __init__(self) -> None:
        self.calls = 0

    def restore_array(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        return image


def test_natural_order_and_limit(tmp_path: Path, make_pairs) -> None:
    root = make_pairs(tmp_path / "p", n=12)
    names = [p.name for p in find_pairs(root)]
    assert names[:3] == ["0.png", "1.png", "2.png"] and names[-1] == "11.png"
    assert [p.name for p in find_pairs(root, limit=2)] == ["0.png", "1.png"]
    assert sorted(["b10", "b2", "a"], key=natural_key) == ["a", "b2", "b10"]


def test_same_stem_other_extension_pairs(tmp_path: Path, make_pairs) -> None:
    root = make_pairs(tmp_path / "p", n=1)
    (root / "target" / "0.png").rename(root / "target" / "0.bmp")
    Image.open(root / "target" / "0.bmp")  # still an image
    pairs = find_pairs(root)
    assert pairs[0].target.name == "0.bmp"


@pytest.mark.parametrize("missing", ["input", "target"])
def test_missing_side_is_a_clear_error(tmp_path: Path, make_pairs, missing: str) -> None:
    root = make_pairs(tmp_path / "p", n=1)
    for f in (root / missing).iterdir():
        f.unlink()
    (root / missing).rmdir()
    with pytest.raises(InputNotFoundError, match=f"{missing}: no such folder"):
        find_pairs(root)
    with pytest.raises(InputNotFoundError, match="no such folder"):
        find_pairs(tmp_path / "nowhere")


def test_mismatched_names(tmp_path: Path, make_pairs) -> None:
    root = make_pairs(tmp_path / "p", n=2)
    (root / "target" / "1.png").rename(root / "target" / "x.png")
    with pytest.raises(InputNotFoundError, match=r"no target for 1\.png"):
        find_pairs(root)
    (root / "input" / "1.png").unlink()
    with pytest.raises(InputNotFoundError, match=r"no input for x\.png"):
        find_pairs(root)


def test_empty_input_folder(tmp_path: Path) -> None:
    (tmp_path / "p" / "input").mkdir(parents=True)
    (tmp_path / "p" / "target").mkdir()
    with pytest.raises(InputNotFoundError, match="no images"):
        find_pairs(tmp_path / "p")


def test_size_mismatch(tmp_path: Path, make_pairs) -> None:
    root = make_pairs(tmp_path / "p", n=1)
    Image.new("RGB", (5, 5)).save(root / "target" / "0.png")
    with pytest.raises(UnsupportedInputError, match="same size"):
        load_pair(find_pairs(root)[0])


def test_identity_scores_like_the_input(paired_dir: Path) -> None:
    pairs = find_pairs(paired_dir)
    model = Identity()
    cache: dict = {}
    result = evaluate_pairs(model, pairs, setting={"init": "x"}, input_cache=cache)
    assert model.calls == 3 and len(result.images) == 3 and len(cache) == 3
    for r in result.images:
        assert r.output == r.input
    assert result.mean == result.input_mean
    assert result.mean.psnr < 40  # the inputs really are noisy
    d = result.as_dict()
    assert d["setting"] == {"init": "x"} and len(d["images"]) == 3
    assert set(d["images"][0]) >= {"image", "psnr", "ssim_y", "input_psnr", "seconds"}


def test_saver_writes_outputs_and_sheets(paired_dir: Path, tmp_path: Path) -> None:
    pairs = find_pairs(paired_dir)
    saver = OutputSaver(tmp_path / "out", label="init=zq")
    saver.check(pairs)
    evaluate_pairs(Identity(), pairs, on_image=saver)
    assert saver.finish() == tmp_path / "out" / "contact_sheet.png"
    for p in pairs:
        out = np.asarray(Image.open(tmp_path / "out" / f"{p.stem}.png"))
        np.testing.assert_array_equal(out, np.asarray(Image.open(p.input).convert("RGB")))
        sheet = Image.open(tmp_path / "out" / "sheets" / f"{p.stem}.png")
        assert sheet.width >= 3 * 32 and sheet.height > 24  # three panels and captions
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left
    with pytest.raises(OutputExistsError):
        OutputSaver(tmp_path / "out").check(pairs)
    OutputSaver(tmp_path / "out", overwrite=True).check(pairs)
