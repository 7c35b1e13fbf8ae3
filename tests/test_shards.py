"""`data pack` and shard streaming (issue 14): real archives in, real TFRecord shards out."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colourise_core.data import shards
from colourise_core.errors import DatasetError

REPO = Path(__file__).resolve().parents[1]


def _jpeg(seed: int, size=(24, 24), fmt="JPEG") -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, size + (3,), dtype=np.uint8)
    rgb[..., 0] = np.linspace(0, 255, size[1], dtype=np.uint8)  # colour, never grey
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def archive(tmp_path, make_large_png):
    """A zip in split/class layout: 14 colour images (JPEG and PNG), 1 grey, 1 corrupt, 1 too large."""
    colour = {}
    for i in range(6):
        colour[f"train/cat/{i}.jpg"] = _jpeg(i)
        colour[f"train/dog/{i}.png"] = _jpeg(100 + i, fmt="PNG")
    colour["test/cat/t0.jpg"] = _jpeg(200)
    colour["test/dog/t1.jpg"] = _jpeg(201)
    grey = io.BytesIO()
    Image.fromarray(np.full((24, 24), 90, np.uint8)).save(grey, format="JPEG")
    path = tmp_path / "src.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for key, data in colour.items():
            zf.writestr(key, data)
        zf.writestr("train/cat/grey.jpg", grey.getvalue())
        zf.writestr("train/dog/broken.jpg", _jpeg(7)[:60])
        zf.writestr("train/dog/huge.png", make_large_png(20000, 20000).read_bytes())
    return path, colour


def test_pack_round_trip_yields_exactly_the_source_images(archive, tmp_path):
    path, colour = archive
    out = tmp_path / "packed"
    report = shards.pack(str(path), str(out), shard_size="2KB")
    got = {key: data for key, _split, _label, data in shards.iter_records(out)}
    assert {k: shards.sha256(v) for k, v in got.items()} == {k: shards.sha256(v) for k, v in colour.items()}
    assert report.skipped == {"grey": 1, "corrupt": 1, "too_large": 1}
    index = json.loads((out / "index.json").read_text())
    assert index["splits"]["train"]["classes"] == {"cat": 6, "dog": 6}
    assert index["splits"]["test"]["classes"] == {"cat": 1, "dog": 1}
    assert index["splits"]["train"]["count"] == 12 and index["class_names"] == ["cat", "dog"]
    assert index["splits"]["train"]["holdout"] == sum(shards.is_holdout(k) for k in colour if k.startswith("train/"))
    assert len(index["shards"]) > 2  # 2KB shards: the set is split
    assert sum(s["count"] for s in index["shards"]) == 14
    assert sorted(p.name for p in out.iterdir()) == sorted(["index.json"] + [s["path"] for s in index["shards"]])
    labels = {key: label for key, _s, label, _d in shards.iter_records(out)}
    assert labels["train/dog/0.png"] == "dog" and labels["test/cat/t0.jpg"] == "cat"


def test_pack_cli_with_classes(archive, tmp_path):
    path, colour = archive
    out = tmp_path / "cats"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "colourise_core", "data", "pack", str(path), "--out", str(out),
                           "--shard-size", "256MB", "--classes", "cat"], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["shards"] == 2 and summary["skipped"]["grey"] == 1
    keys = sorted(k for k, *_ in shards.iter_records(out))
    assert keys == sorted(k for k in colour if "/cat/" in k)


def test_bad_shard_size_and_missing_index(tmp_path):
    with pytest.raises(DatasetError, match="256MB"):
        shards.parse_size("lots")
    assert shards.parse_size("256MB") == 256 * 2**20
    with pytest.raises(DatasetError, match="data pack"):
        shards.read_index(tmp_path)


def test_shapes_pack_round_trip_pixels(tmp_path):
    """Generated sets are stored as lossless PNG: the streamed pixels equal the generator's."""
    from colourise_core.data import datasets

    shards.pack("shapes", str(tmp_path / "s"), dataset="shapes", limit=5)
    ds = datasets.load_dataset("shapes", split="val", limit=5)
    want = {shards.sha256(np.round(ds.load([i])[0] * 255).astype(np.uint8).tobytes()) for i in range(5)}
    got = {shards.sha256(np.asarray(Image.open(io.BytesIO(d)).convert("RGB")).tobytes())
           for _k, split, _l, d in shards.iter_records(tmp_path / "s") if split == "val"}
    assert got == want


def test_stream_epoch_larger_than_shuffle_buffer_visits_each_record_once(tmp_path):
    from colourise_core.data.stream import StreamBatches

    shards.pack("shapes", str(tmp_path / "s"), dataset="shapes", limit=120, shard_size="8KB")
    index = shards.read_index(tmp_path / "s")
    train_keys = [k for k, split, *_ in shards.iter_records(tmp_path / "s") if split == "train" and not shards.is_holdout(k)]
    stream = StreamBatches(tmp_path / "s", batch_size=16, resolution=64, shuffle_buffer=8, seed=3)
    assert len(index["shards"]) >= 4 and stream.count == len(train_keys) > stream.shuffle_buffer
    first = [k.decode() for k, _ in stream.records().as_numpy_iterator()]
    assert Counter(first) == Counter(train_keys)  # each record exactly once
    assert first != train_keys  # shuffled
    stream.on_epoch_end()
    second = [k.decode() for k, _ in stream.records().as_numpy_iterator()]
    assert sorted(second) == sorted(first) and second != first  # a new order each epoch
    batches = list(stream)
    assert len(batches) == len(stream) == -(-len(train_keys) // 16)
    y, uv = batches[0]
    assert y.shape == (16, 64, 64, 1) and uv.shape == (16, 64, 64, 2) and np.abs(uv).max() > 0.05


def test_two_workers_split_the_records(tmp_path):
    from colourise_core.data.stream import StreamBatches

    shards.pack("shapes", str(tmp_path / "s"), dataset="shapes", limit=60, shard_size="8KB")
    parts = [[k for k, _ in StreamBatches(tmp_path / "s", 8, 64, num_workers=2, worker=w).records().as_numpy_iterator()]
             for w in (0, 1)]
    assert not set(parts[0]) & set(parts[1]) and len(parts[0]) + len(parts[1]) == StreamBatches(tmp_path / "s", 8, 64).count


def test_training_streams_a_packed_set_larger_than_the_shuffle_buffer(tmp_path, monkeypatch):
    from colourise_core import training
    from colourise_core.data import stream

    monkeypatch.setattr(stream, "SHUFFLE_BUFFER", 16)
    shards.pack("shapes", str(tmp_path / "s"), dataset="shapes", limit=96, shard_size="16KB")
    config = training.TrainConfig(model="cnn", dataset="shapes", data=str(tmp_path / "s"), epochs=1, batch_size=16)
    result = training.train(config, tmp_path / "run")
    last = result.history[-1]
    assert result.epochs_done == 1 and np.isfinite(last["loss"]) and np.isfinite(last["val_loss"])
    assert (tmp_path / "run" / "model.weights.h5").is_file()
