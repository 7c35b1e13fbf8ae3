"""Named datasets: decoding, stretching, greyscale skipping, classes, subsets, caching."""

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colourise_core.data.datasets import load_dataset
from colourise_core.data.shapes import ShapeSetConfig
from colourise_core.errors import DatasetError

CIFAR_ZIP = Path(__file__).resolve().parents[2] / "shared/datasets/cifar10.zip"


def encode(rgb: np.ndarray, fmt="PNG", mode=None) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(rgb)
    (im.convert(mode) if mode else im).save(buf, fmt)
    return buf.getvalue()


def solid(colour, size=(10, 10)) -> np.ndarray:
    return np.full(size + (3,), colour, np.uint8)


def write_zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def colour_zip(tmp_path):
    files = {f"train/red/{i}.png": encode(solid((200, 20 + i, 20))) for i in range(4)}
    files |= {f"train/blue/{i}.png": encode(solid((20, 20 + i, 200))) for i in range(3)}
    files["train/blue/grey_header.jpg"] = encode(solid((90, 90, 90)), "JPEG", mode="L")
    files["train/red/2b_grey_rgb.png"] = encode(solid((77, 77, 77)))  # RGB, equal channels
    files["test/red/t.png"] = encode(solid((150, 0, 0)))
    return write_zip(tmp_path / "colours.zip", files)


def test_folder_dataset_decodes_and_skips_greyscale(colour_zip):
    ds = load_dataset("folder", colour_zip, resolution=4)
    assert ds.class_names == ("blue", "red") and ds.resolution == 4
    assert len(ds) == 8 and ds.skipped_grey == 1  # the 'L' JPEG, found from its header
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    x = ds.load_all()
    assert x.shape == (8, 4, 4, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    # Keys sort as red/0, 1, 2, 2b_grey_rgb, 3: the equal-channel RGB image is found on decode,
    # counted, and the next colour image (red/3) is served in its place.
    assert ds.skipped_grey == 2
    np.testing.assert_allclose(x[6], x[7])
    np.testing.assert_allclose(x[7, 0, 0], np.array([200, 23, 20]) / 255, atol=1e-6)
    test = load_dataset("folder", colour_zip, split="test", resolution=4)
    assert test.load([0]).shape == (1, 4, 4, 3)
    assert test.class_names == ("blue", "red") and test.labels.tolist() == [1]  # as in train


def test_images_are_stretched_not_cropped(tmp_path):
    wide = np.zeros((10, 20, 3), np.uint8)
    wide[:, :10] = (255, 0, 0)
    wide[:, 10:] = (0, 0, 255)
    (tmp_path / "img").mkdir()
    (tmp_path / "img/wide.png").write_bytes(encode(wide))
    x = load_dataset("folder", tmp_path / "img", resolution=8).load([0])[0]  # (8, 8, 3)
    np.testing.assert_allclose(x[:, :4], np.broadcast_to([1, 0, 0], (8, 4, 3)))
    np.testing.assert_allclose(x[:, 4:], np.broadcast_to([0, 0, 1], (8, 4, 3)))


def test_limit_is_a_seeded_subset_and_cache_is_transparent(colour_zip):
    a = load_dataset("folder", colour_zip, limit=3, seed=1, resolution=4)
    b = load_dataset("folder", colour_zip, limit=3, seed=1, resolution=4, cache_budget=0)
    assert len(a) == 3
    np.testing.assert_array_equal(a.load_all(), b.load_all())
    np.testing.assert_array_equal(a.load_all(), a.load([0, 1, 2]))  # second read from the cache
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.load([-1]), a.load([2]))
    subsets = {tuple(load_dataset("folder", colour_zip, limit=3, seed=s).labels) for s in range(6)}
    assert len(subsets) > 1
    with pytest.raises(DatasetError, match="index out of range"):
        a.load([3])


def test_imagenette_names_and_val_for_test(tmp_path):
    files = {
        f"{split}/{wnid}/{i}.jpg": encode(solid((40 * i + 10, 120, 30)), "JPEG")
        for split in ("train", "val")
        for wnid in ("n03445777", "n03394916", "n03888257")
        for i in range(2)
    }
    data = write_zip(tmp_path / "imagenette.zip", files)
    ds = load_dataset("imagenette", data, split="test", classes=["golf-ball", "French_horn"])
    assert ds.class_names == ("French horn", "golf ball") and len(ds) == 4 and ds.resolution == 128
    assert ds.labels.tolist() == [0, 0, 1, 1]
    assert len(load_dataset("imagenette", data, classes=["N03888257"])) == 2
    with pytest.raises(DatasetError, match=r"unknown class 'tench'.*golf ball \(n03445777\)"):
        load_dataset("imagenette", data, classes=["tench"])


def test_faces_and_folder_layouts(tmp_path):
    files = {f"train/{i}.jpg": encode(solid((200, 150, 120)), "JPEG") for i in range(3)}
    files["test/x.jpg"] = encode(solid((190, 140, 110)), "JPEG")
    faces = write_zip(tmp_path / "faces.zip", files)
    ds = load_dataset("faces", faces, split="test", resolution=16)
    assert len(ds) == 1 and ds.labels is None and ds.class_names == ()
    with pytest.raises(DatasetError, match="faces has no classes"):
        load_dataset("faces", faces, classes=["a"])
    pngs = {f"{i}.png": encode(solid((9, 99, 199))) for i in range(2)}
    flat = write_zip(tmp_path / "flat.zip", pngs)
    assert len(load_dataset("folder", flat, split="test")) == 2  # no split folders: every image


def test_shapes_dataset():
    train = load_dataset("shapes", limit=6)
    test = load_dataset("shapes", split="test", limit=6)
    assert len(train) == 6 and train.resolution == 64 and train.masks.shape == (6, 64, 64)
    assert not np.array_equal(train.masks, test.masks)  # the test split is drawn with another seed
    assert load_dataset("shapes", limit=2, resolution=32).load_all().shape == (2, 32, 32, 3)
    config = ShapeSetConfig(size=24, luma_matched=True)
    small = load_dataset("shapes", limit=2, shapes_config=config)
    assert small.resolution == 24 and small.masks.shape == (2, 24, 24)
    assert len(load_dataset("shapes", split="val")) == 500


def test_bad_requests(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset 'mnist'.*shapes, cifar10"):
        load_dataset("mnist")
    with pytest.raises(DatasetError, match=r"imagenette: give data=<image folder or .zip/.tar archive> \(on the command line: --data PATH\)"):
        load_dataset("imagenette")
    with pytest.raises(DatasetError, match="shapes has no image classes"):
        load_dataset("shapes", classes=["circle"])
    grey = write_zip(tmp_path / "grey.zip", {"a.jpg": encode(solid((5, 5, 5)), "JPEG", mode="L")})
    with pytest.raises(DatasetError, match=r"grey.zip.*no colour images to load \(1 greyscale"):
        load_dataset("folder", grey)


@pytest.mark.skipif(not CIFAR_ZIP.exists(), reason=f"{CIFAR_ZIP} not present (shared datasets)")
def test_cifar10_zip_reads_20_images():
    ds = load_dataset("cifar10", CIFAR_ZIP, split="test", classes=["ship", "cat"], limit=20, seed=3)
    assert ds.class_names == ("cat", "ship") and len(ds) == 20 and ds.resolution == 32
    x = ds.load_all()
    assert x.shape == (20, 32, 32, 3) and set(ds.labels.tolist()) == {0, 1}
    assert np.abs(x[..., 0] - x[..., 2]).max() > 0.1  # real colour images


def test_cifar10_without_data_uses_keras(monkeypatch):
    """The keras download path, with keras' loader replaced by tiny arrays (no network)."""
    import keras

    x = np.zeros((6, 32, 32, 3), np.uint8)
    x[..., 0] = np.arange(6)[:, None, None] * 40 + 20  # colour images (R differs from G, B)
    x[5] = 128  # a greyscale one
    y = np.array([[7], [1], [7], [9], [1], [7]])
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: ((x, y), (x[:1], y[:1])))
    ds = load_dataset("cifar10", classes=["truck", "horse"], resolution=16)
    assert ds.class_names == ("horse", "truck") and ds.labels.tolist() == [0, 0, 1]
    assert ds.skipped_grey == 1 and ds.load_all().shape == (3, 16, 16, 3)
