"""Shared fixtures that build bad image files for real, as bytes on disk in tmp_path."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _write_large_png(path: Path, width: int, height: int) -> Path:
    """A valid, all-black 1-bit grey PNG of any size, streamed: a few KB for 20000x20000."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grey
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    path.write_bytes(png + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b""))
    return path


@pytest.fixture
def make_large_png(tmp_path):
    """Factory (width, height, name="large.png") -> path of a cheap PNG with a huge header."""

    def make(width: int, height: int, name: str = "large.png") -> Path:
        return _write_large_png(tmp_path / name, width, height)

    return make


@pytest.fixture
def bad_image_files(tmp_path) -> dict[str, Path]:
    """Broken image files: {"empty", "text_as_jpg", "truncated_jpeg", "missing"} -> path."""
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="JPEG", quality=95)
    jpeg = buffer.getvalue()
    files = {
        "empty": tmp_path / "empty.png",
        "text_as_jpg": tmp_path / "notes.jpg",
        "truncated_jpeg": tmp_path / "cut.jpg",
        "missing": tmp_path / "nowhere.png",
    }
    files["empty"].write_bytes(b"")
    files["text_as_jpg"].write_text("These are my holiday notes, not a photo.\n")
    files["truncated_jpeg"].write_bytes(jpeg[: len(jpeg) // 2])
    return files


# --- tiny trained models, shared by the model, inference and CLI tests -------------------------

@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> dict[str, Path]:
    """One real run folder per model: 1 epoch on 64 Shape Set images at 32 px. {name: run_dir}."""
    from colourise_core import training

    root = tmp_path_factory.mktemp("tiny_runs")
    runs = {}
    for name in ("cnn", "cgan", "cvae"):
        config = training.TrainConfig(model=name, dataset="shapes", resolution=32, epochs=1, limit=64,
                                      batch_size=32, val_limit=32, latent_dim=64 if name == "cvae" else None)
        training.train(config, root / name)
        runs[name] = root / name
    return runs


@pytest.fixture(scope="session")
def tiny_models(tiny_runs) -> dict:
    """The tiny runs loaded back as models. {name: keras.Model}."""
    from colourise_core import training

    return {name: training.load_run(path) for name, path in tiny_runs.items()}
