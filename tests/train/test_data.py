"""Training crops: image listing, the held-out split, crop shapes and values, small photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorecli.errors import InputNotFoundError
from restorecli.train.data import (
    CropConfig,
    PhotoCrops,
    is_validation,
    list_images,
    load_rgb,
    split_images,
)


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def _solid(path: Path, size: tuple[int, int], rgb: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path)
    return path


def test_list_images_is_recursive_sorted_and_skips_the_contact_sheet(tmp_path: Path):
    _touch(
        tmp_path,
        "b.png",
        "a.JPG",
        "deep/er/c.webp",
        "contact_sheet.jpg",
        "manifest.csv",
        "notes.txt",
    )
    (tmp_path / "folder.png").mkdir()  # a directory with an image suffix is not an image
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert found == ["a.JPG", "b.png", "deep/er/c.webp"]


def test_split_is_disjoint_deterministic_and_follows_the_path_hash(tmp_path: Path):
    names = [f"d{i % 3}/img{i:02d}.png" for i in range(40)]
    _touch(tmp_path, *names)
    train, val = split_images(tmp_path, 0.3)
    assert (train, val) == split_images(tmp_path, 0.3)
    assert not set(train) & set(val)
    assert sorted(train + val) == list_images(tmp_path)
    assert 0 < len(val) < len(names)
    for p in val:
        assert is_validation(p.relative_to(tmp_path).as_posix(), 0.3)
    for p in train:
        assert not is_validation(p.relative_to(tmp_path).as_posix(), 0.3)


def test_split_of_existing_files_is_stable_when_files_are_added(tmp_path: Path):
    _touch(tmp_path, *(f"img{i:02d}.png" for i in range(30)))
    _, val_before = split_images(tmp_path, 0.3)
    _touch(tmp_path, *(f"new/extra{i:02d}.jpg" for i in range(30)))
    _, val_after = split_images(tmp_path, 0.3)
    old = [p for p in val_after if p.parent == tmp_path]
    assert old == val_before


def test_a_small_folder_still_holds_out_one_photo(tmp_path: Path):
    names = [f"photo{i}.png" for i in range(5)]
    assert not any(is_validation(n, 0.05) for n in names)  # the hash alone picks none
    _touch(tmp_path, *names)
    train, val = split_images(tmp_path, 0.05)
    assert len(val) == 1 and len(train) == 4
    assert val == split_images(tmp_path, 0.05)[1]


def test_a_fraction_of_one_leaves_a_photo_to_train_on(tmp_path: Path):
    _touch(tmp_path, "a.png", "b.png", "c.png")
    train, val = split_images(tmp_path, 1.0)
    assert len(train) == 1 and len(val) == 2


def test_missing_or_empty_folders_are_clear_errors(tmp_path: Path):
    with pytest.raises(InputNotFoundError, match="does not exist"):
        PhotoCrops(tmp_path / "nope", "train")
    _touch(tmp_path, "readme.txt")
    with pytest.raises(InputNotFoundError, match="no images"):
        PhotoCrops(tmp_path, "train")


def test_a_single_photo_trains_but_cannot_be_held_out(tmp_path: Path):
    _solid(tmp_path / "only.png", (40, 40), (10, 20, 30))
    assert len(PhotoCrops(tmp_path, "train", CropConfig(size=32)).paths) == 1
    with pytest.raises(InputNotFoundError, match="at least 2"):
        PhotoCrops(tmp_path, "val", CropConfig(size=32))


def test_unknown_split_name_is_rejected(photos: Path):
    with pytest.raises(ValueError, match="split"):
        PhotoCrops(photos, "test")


def test_crops_have_the_size_dtype_and_range_and_follow_the_generator(photos: Path):
    crops = PhotoCrops(photos, "train", CropConfig(size=32))
    batch = crops.batch(5, np.random.default_rng(3))
    assert batch.shape == (5, 32, 32, 3)
    assert batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() <= 1.0
    assert batch.std() > 0.01  # real image content, not a constant
    np.testing.assert_array_equal(batch, crops.batch(5, np.random.default_rng(3)))
    assert not np.array_equal(batch, crops.batch(5, np.random.default_rng(4)))


def test_crop_values_are_rgb_scaled_to_unit_range(tmp_path: Path):
    _solid(tmp_path / "a.png", (80, 64), (255, 0, 128))
    _solid(tmp_path / "b.png", (80, 64), (255, 0, 128))
    crops = PhotoCrops(tmp_path, "train", CropConfig(size=32))
    crop = crops.crop(np.random.default_rng(0))
    np.testing.assert_allclose(crop.reshape(-1, 3), [[1.0, 0.0, 128 / 255]] * 32 * 32, atol=1e-6)


def test_fixed_crops_are_the_same_every_call(photos: Path):
    held_out = PhotoCrops(photos, "val", CropConfig(size=32))
    a = held_out.fixed_crops(3, 48)
    assert a.shape == (3, 48, 48, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, held_out.fixed_crops(3, 48))
    assert a.min() >= 0.0 and a.max() <= 1.0


def test_photos_smaller_than_the_crop_are_enlarged(tmp_path: Path):
    rng = np.random.default_rng(0)
    for name, (h, w) in {"tiny.png": (20, 24), "thin.png": (12, 90)}.items():
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(tmp_path / name)
    crops = PhotoCrops(tmp_path, "train", CropConfig(size=32, val_fraction=0.0))
    assert len(crops.paths) == 2
    batch = crops.batch(6, np.random.default_rng(0))
    assert batch.shape == (6, 32, 32, 3)
    assert batch.min() >= 0.0 and batch.max() <= 1.0
    fixed = crops.fixed_crops(2, 64)
    assert fixed.shape == (2, 64, 64, 3)
    assert fixed.min() >= 0.0 and fixed.max() <= 1.0


def test_load_rgb_applies_exif_rotation_and_downscales(tmp_path: Path):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to display
    Image.new("RGB", (96, 64), (50, 100, 150)).save(tmp_path / "rot.jpg", exif=exif)
    assert load_rgb(tmp_path / "rot.jpg").shape == (96, 64, 3)
    small = load_rgb(tmp_path / "rot.jpg", max_side=48)
    assert max(small.shape[:2]) == 48 and small.dtype == np.uint8
    Image.new("LA", (10, 8)).save(tmp_path / "grey.png")  # grey + alpha -> RGB
    assert load_rgb(tmp_path / "grey.png").shape == (8, 10, 3)
