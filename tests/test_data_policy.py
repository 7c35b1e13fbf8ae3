"""Training data follows the single-image decoding policy, checked before decoding (issue 11)."""

import io
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from colourise_core import imageio, training
from colourise_core.data import datasets, policy
from colourise_core.errors import DatasetError

REPO = Path(__file__).resolve().parents[1]
BOMB_SIDE = 13_000  # 169 MP: over imageio.MAX_PIXELS, under Pillow's own bomb error (2 x 89 MP)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A valid 1-bit palette PNG (mode P, red and blue: a colour image) of side x side; ~30 KB."""
    header = struct.pack(">IIBBBBB", side, side, 1, 3, 0, 0, 0)
    row = b"\x00" + b"\x55" * ((side + 7) // 8)  # filter byte + alternating palette indices
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"PLTE", b"\xff\x00\x00\x00\x00\xff")
            + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))


def colour_png(seed: int, side: int = 16) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def make_zip(path: Path, members: dict) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def no_big_decode(monkeypatch):
    """Fail the test if Pillow decodes the pixels of any image over imageio.MAX_PIXELS."""
    real = ImageFile.ImageFile.load

    def load(self):
        assert self.size[0] * self.size[1] <= imageio.MAX_PIXELS, f"decoded a {self.size} image"
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.fixture(scope="module")
def bombs_zip(tmp_path_factory) -> Path:
    bomb = bomb_png()
    members = {f"train/things/big{i}.png": bomb for i in range(3)}
    members |= {f"train/things/ok{i}.png": colour_png(i) for i in range(2)}
    path = make_zip(tmp_path_factory.mktemp("bombs") / "bombs.zip", members)
    assert path.stat().st_size < 200_000  # three 169 MP images in a tiny zip
    return path


def test_bomb_header_is_169_megapixels_and_refused_from_it(no_big_decode):
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(bomb_png())) as im:
        assert (im.mode, im.size) == ("P", (BOMB_SIDE, BOMB_SIDE))
    with pytest.raises(Exception, match="big.png is too large to decode safely: 169,000,000 pixels"):
        imageio.read_header(bomb_png(), "big.png")


def test_train_refuses_a_169_mp_zip_before_decoding(bombs_zip, tmp_path, no_big_decode):
    config = training.TrainConfig(model="cnn", dataset="folder", data=str(bombs_zip), resolution=32, epochs=1,
                                  batch_size=2, val_limit=1)
    with pytest.raises(DatasetError) as err:
        training.train(config, tmp_path / "run")
    message = str(err.value)
    assert "3 of 5 images examined cannot be used" in message
    assert ("bombs.zip: train/things/big0.png is too large to decode safely: 169,000,000 pixels (13000 x 13000), "
            "over the limit of 100,000,000 pixels") in message
    assert "BytesIO" not in message and "object at 0x" not in message


def test_train_cli_reports_the_bombs_in_one_line(bombs_zip, tmp_path):
    done = subprocess.run([sys.executable, "-m", "colourise_core", "train", "--model", "cnn", "--dataset", "folder",
                           "--data", str(bombs_zip), "--resolution", "32", "--epochs", "1", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error: folder in " in done.stderr and "3 of 5 images examined cannot be used" in done.stderr


def test_one_corrupt_and_one_non_image_member_are_skipped_and_counted(tmp_path, no_big_decode):
    good = {f"train/things/ok{i:02d}.png": colour_png(i) for i in range(20)}
    whole = colour_png(99, side=64)
    members = {**good, "train/things/notes.jpg": b"these are my holiday notes",
               "train/things/cut.png": whole[: len(whole) // 2]}  # a valid header, truncated pixels
    data = make_zip(tmp_path / "data.zip", members)
    ds = datasets.load_dataset("folder", data=str(data), split="train", resolution=16)
    # Built from headers: the text file is caught now, the truncated PNG only when decoded.
    assert len(ds) == 21 and ds.skipped_bad == 1
    assert ds.bad.found[0][1] == ("data.zip: train/things/notes.jpg is not an image Pillow can read "
                                  "(unknown or unsupported format).")
    images = ds.load_all()
    assert images.shape == (21, 16, 16, 3) and ds.skipped_bad == 2
    assert ds.bad.found[1][0] == "data.zip: train/things/cut.png"
    assert "cut.png is truncated or corrupt" in ds.bad.found[1][1]
    expected = {name: np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.float32) / 255 for name, png in good.items()}
    order = sorted(good)  # cut.png sorts first: it is served as the next good image, ok00
    np.testing.assert_array_equal(images[0], expected[order[0]])
    np.testing.assert_array_equal(images[1:], np.stack([expected[k] for k in order]))

    config = training.TrainConfig(model="cnn", dataset="folder", data=str(data), resolution=32, epochs=1,
                                  batch_size=8, val_limit=2)
    result = training.train(config, tmp_path / "run")
    assert result.epochs_done == 1


def test_too_many_corrupt_members_stop_with_a_summary(tmp_path):
    members = {f"train/x/ok{i}.png": colour_png(i) for i in range(3)}
    members |= {f"train/x/bad{i}.jpg": b"\xff\xd8\xff\xe0 junk" for i in range(3)}
    data = make_zip(tmp_path / "d.zip", members)
    with pytest.raises(DatasetError, match=r"3 of 6 images examined cannot be used \(over 10% allowed\): d.zip: "
                                           r"train/x/bad0.jpg is"):
        datasets.load_dataset("folder", data=str(data), split="train", resolution=16)


def test_oversized_member_refused_from_the_index(tmp_path, monkeypatch):
    from colourise_core.data import sources

    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", 1000)
    members = {f"train/x/ok{i}.png": colour_png(i) for i in range(9)}  # ~800 bytes each
    members["train/x/huge.png"] = colour_png(1, side=64)  # ~12 KB
    ds = datasets.load_dataset("folder", data=str(make_zip(tmp_path / "m.zip", members)), split="train", resolution=16)
    assert len(ds) == 9 and ds.skipped_bad == 1
    assert "'train/x/huge.png' is larger than 1000 bytes" in ds.bad.found[0][1]


def test_policy_jpeg_frame_reads_size_without_decoding():
    buf = io.BytesIO()
    Image.fromarray(np.zeros((30, 50, 3), np.uint8)).save(buf, format="JPEG")
    assert policy.jpeg_frame(buf.getvalue()) == (3, 50, 30)


def test_jpeg_decoded_straight_to_the_size_needed(tmp_path, monkeypatch):
    """A JPEG over max_pixels is decoded at a DCT scale (never at full size, then shrunk)."""
    import cv2

    yy, xx = np.mgrid[0:400, 0:600]
    rgb = np.stack([xx * 255 // 600, yy * 255 // 400, np.full_like(xx, 128)], -1).astype(np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    sizes = []
    real = ImageFile.ImageFile.load

    def load(self):
        sizes.append(self.size)
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    small = imageio.load_rgb(path, max_pixels=80_000)
    assert small.rgb.shape == (200, 300, 3)  # 1/2 scale: between max/4 and max pixels
    assert sizes and max(w * h for w, h in sizes) <= 80_000  # the full 600 x 400 was never decoded
    full = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
    expected = cv2.resize(full, (300, 200), interpolation=cv2.INTER_AREA)
    assert np.abs(small.rgb - expected).mean() < 0.01
