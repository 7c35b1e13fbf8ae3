"""Pack any training source into TFRecord shards with an index, for streaming with tf.data.

    python -m colourise_core data pack SOURCE --out DIR --shard-size 256MB

SOURCE is an image folder or a .zip/.tar archive (split/class/image layout, see `sources`), or
a dataset name the trainer generates or downloads ("shapes", "cifar10"). DIR may be a local path
or any URL `tf.io.gfile` writes (gs://, s3:// with the TensorFlow I/O plug-in, hdfs://).

Layout of DIR:
    index.json                      counts per split and class, the shard list, what was skipped
    {split}-{k:05d}.tfrecord        tf.train.Example records (see FEATURES), about shard_size each

Each record keeps the source file's own bytes (JPEG/PNG/GIF/BMP, which `tf.io.decode_image`
reads; other formats and generated arrays are stored as lossless PNG), so a shard yields exactly
the source's images. The image checks of the trainer apply while packing, through `imageio`:
the pixel limit is checked on the header before decoding (too large: counted, skipped), corrupt
files are counted and skipped, greyscale images (by mode or equal channels) are counted and
skipped, as `datasets` does. TFRecord, not WebDataset tars: tf.data reads it natively (no
Python in the input loop), `tf.io.gfile` streams it from buckets, and interleave/shard work on it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .. import imageio
from ..errors import DatasetError, ImageError
from . import datasets
from .sources import open_source

INDEX = "index.json"
FORMAT = "colourise-shards/1"
FEATURES = ("image", "key", "split", "label", "holdout")  # bytes, str, str, str ("" none), int 0/1
HOLDOUT_MOD = 10  # crc32(key) % 10 == 0: the training split's validation hold-out (10%)
NATIVE = {"JPEG", "PNG", "GIF", "BMP"}  # formats tf.io.decode_image reads: stored as is
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'256MB', '64M', '1.5GB', '1000' -> bytes (k/M/G are powers of 1024)."""
    m = _SIZE.match(str(text))
    if not m:
        raise DatasetError(f"shard size {text!r} is not a size such as 256MB, 64MB or 1GB")
    value = float(m.group(1)) * 1024 ** " kmg".index((m.group(2) or " ").lower())
    if value < 1024:
        raise DatasetError(f"shard size {text!r} is too small; use at least 1KB")
    return int(value)


def is_holdout(key: str) -> bool:
    """True for the ~10% of training records held back for validation (stable across runs)."""
    return zlib.crc32(key.encode()) % HOLDOUT_MOD == 0


@dataclass
class PackReport:
    """What `pack` wrote and skipped."""

    out: str
    shards: list = field(default_factory=list)  # {"path", "split", "count", "bytes"}
    counts: dict = field(default_factory=dict)  # split -> {"count", "holdout", "classes": {c: n}}
    skipped: dict = field(default_factory=lambda: {"grey": 0, "corrupt": 0, "too_large": 0})
    reencoded: int = 0  # images stored as PNG (arrays, or formats tf.io.decode_image lacks)


def _example(data: bytes, key: str, split: str, label: str | None):
    import tensorflow as tf

    def b(v: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))

    feats = {"image": b(data), "key": b(key.encode()), "split": b(split.encode()),
             "label": b((label or "").encode()),
             "holdout": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(is_holdout(key))]))}
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def _png(rgb_uint8: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb_uint8).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _checked(data: bytes, key: str, report: PackReport) -> bytes | None:
    """The bytes to store for one source file, or None (skipped and counted)."""
    try:
        loaded = imageio.load_rgb(data, name=key)  # pixel limit on the header, then a full decode
    except ImageError as e:
        report.skipped["too_large" if "too large to decode" in str(e) else "corrupt"] += 1
        return None
    if loaded.was_grey or datasets.is_grey(loaded.rgb):
        report.skipped["grey"] += 1
        return None
    with Image.open(io.BytesIO(data)) as im:
        fmt = im.format
    if fmt in NATIVE and loaded.alpha is None:
        return data
    report.reencoded += 1
    return _png(loaded.rgb8)  # 8-bit sources: their own bytes


class _Writer:
    """Rolls TFRecord files of one split at about `shard_size` bytes; each file written atomically."""

    def __init__(self, out: str, split: str, shard_size: int, report: PackReport):
        self.out, self.split, self.shard_size, self.report = out, split, shard_size, report
        self.k, self.writer, self.size, self.count = 0, None, 0, 0

    def _name(self) -> str:
        return f"{self.split}-{self.k:05d}.tfrecord"

    def write(self, record: bytes) -> None:
        import tensorflow as tf

        if self.writer is None:
            self.writer = tf.io.TFRecordWriter(f"{self.out}/.{self._name()}.tmp")
        self.writer.write(record)
        self.size += len(record) + 16  # + TFRecord framing (length, CRCs)
        self.count += 1
        if self.size >= self.shard_size:
            self.close()

    def close(self) -> None:
        import tensorflow as tf

        if self.writer is None:
            return
        self.writer.close()
        tf.io.gfile.rename(f"{self.out}/.{self._name()}.tmp", f"{self.out}/{self._name()}", overwrite=True)
        self.report.shards.append({"path": self._name(), "split": self.split, "count": self.count, "bytes": self.size})
        self.k, self.writer, self.size, self.count = self.k + 1, None, 0, 0


def _items(source: str, dataset: str, classes, limit, seed, report: PackReport):
    """Yield (split, key, label, bytes-or-None) of every image of the source."""
    if dataset in ("shapes", "cifar10") and source in ("shapes", "cifar10"):
        splits = ("train", "val", "test") if dataset == "shapes" else ("train", "test")
        for split in splits:
            ds = datasets.load_dataset(dataset, split=split, classes=classes, limit=limit, seed=seed)
            report.skipped["grey"] += ds.skipped_grey
            for i in range(len(ds)):
                rgb = np.round(ds.load([i])[0] * 255).astype(np.uint8)  # (R, R, 3)
                label = ds.class_names[ds.labels[i]] if ds.labels is not None else None
                report.reencoded += 1
                yield split, f"{split}/{label + '/' if label else ''}{i:06d}.png", label, _png(rgb)
        return
    src = open_source(source)
    if classes is not None and dataset == "imagenette":
        classes = datasets._imagenette_wnids(classes, src.classes())
    splits = src.splits or [None]
    for split in splits:
        for e in src.entries(split, classes):
            try:
                data = src.read(e.key)
            except Exception:  # unreadable member (corrupt archive entry): counted, not fatal
                report.skipped["corrupt"] += 1
                continue
            yield split or "train", e.key, e.label, _checked(data, e.key, report)


def pack(source: str, out: str, shard_size: int | str = "256MB", dataset: str = "folder",
         classes=None, limit: int | None = None, seed: int = 0) -> PackReport:
    """Write a source as TFRecord shards plus index.json (written last: its presence marks a complete pack).

    Args:
        source: image folder or .zip/.tar archive, or "shapes" / "cifar10".
        out: output folder, local or a tf.io.gfile URL.
        shard_size: target bytes per shard (int, or text such as "256MB").
        dataset: the dataset name the trainer knows it by (imagenette maps class names to wnids).
        classes: class names to keep; None for all.
        limit: Shape Set / CIFAR-10 only: images per split.
        seed: Shape Set seed (and CIFAR-10 subset seed).
    Returns:
        A PackReport (also written, with the shard list, to out/index.json).
    """
    import tensorflow as tf

    size = parse_size(shard_size) if isinstance(shard_size, str) else int(shard_size)
    out = str(out).rstrip("/")
    tf.io.gfile.makedirs(out)
    report = PackReport(out=out)
    writers: dict[str, _Writer] = {}
    for split, key, label, data in _items(source, dataset, classes, limit, seed, report):
        if data is None:
            continue
        w = writers.setdefault(split, _Writer(out, split, size, report))
        w.write(_example(data, key, split, label))
        c = report.counts.setdefault(split, {"count": 0, "holdout": 0, "classes": {}})
        c["count"] += 1
        c["holdout"] += int(is_holdout(key))
        if label:
            c["classes"][label] = c["classes"].get(label, 0) + 1
    for w in writers.values():
        w.close()
    if not report.counts:
        raise DatasetError(f"{source}: no colour images to pack (skipped: {report.skipped})")
    class_names = sorted({c for s in report.counts.values() for c in s["classes"]})
    index = {"format": FORMAT, "dataset": dataset, "source": str(source), "shard_size": size,
             "class_names": class_names, "splits": report.counts, "skipped": report.skipped,
             "reencoded_png": report.reencoded, "shards": report.shards}
    with tf.io.gfile.GFile(f"{out}/.{INDEX}.tmp", "w") as f:
        f.write(json.dumps(index, indent=2))
    tf.io.gfile.rename(f"{out}/.{INDEX}.tmp", f"{out}/{INDEX}", overwrite=True)
    return report


def is_shard_dir(path) -> bool:
    """True if `path` (local or URL) holds a packed index.json."""
    if path is None:
        return False
    import tensorflow as tf

    return tf.io.gfile.exists(f"{str(path).rstrip('/')}/{INDEX}")


def read_index(path) -> dict:
    """The index of a packed folder; DatasetError if it is missing or not ours."""
    import tensorflow as tf

    where = f"{str(path).rstrip('/')}/{INDEX}"
    if not tf.io.gfile.exists(where):
        raise DatasetError(f"{path} holds no {INDEX}; pack it with `python -m colourise_core data pack`")
    with tf.io.gfile.GFile(where) as f:
        index = json.load(f)
    if index.get("format") != FORMAT:
        raise DatasetError(f"{where} is not a colourise shard index (format {index.get('format')!r})")
    return index


def iter_records(path, split: str | None = None):
    """Yield (key, split, label, image bytes) of every record, shard by shard (tests, tools)."""
    import tensorflow as tf

    index = read_index(path)
    files = [f"{str(path).rstrip('/')}/{s['path']}" for s in index["shards"] if split in (None, s["split"])]
    for raw in tf.data.TFRecordDataset(files).as_numpy_iterator():
        ex = tf.train.Example.FromString(raw).features.feature
        yield (ex["key"].bytes_list.value[0].decode(), ex["split"].bytes_list.value[0].decode(),
               ex["label"].bytes_list.value[0].decode() or None, ex["image"].bytes_list.value[0])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cmd_pack(args) -> int:
    name = args.dataset or (args.source if args.source in ("shapes", "cifar10") else "folder")
    report = pack(args.source, args.out, args.shard_size, dataset=name,
                  classes=tuple(args.classes) if args.classes else None, limit=args.limit, seed=args.seed)
    print(json.dumps({"out": report.out, "shards": len(report.shards), "splits": report.counts,
                      "skipped": report.skipped, "reencoded_png": report.reencoded}, indent=2))
    return 0


def register_cli(sub) -> None:
    """Add `data pack SOURCE --out DIR --shard-size 256MB` to the CLI's subcommands."""
    p = sub.add_parser("data", help="dataset tools: pack a source into TFRecord shards for streaming")
    verbs = p.add_subparsers(dest="data_command", required=True)
    q = verbs.add_parser("pack", help="write a folder/archive (or shapes, cifar10) as TFRecord shards + index.json")
    q.add_argument("source", help="image folder, .zip/.tar archive, or 'shapes' / 'cifar10'")
    q.add_argument("--out", required=True, help="output folder, local or a tf.io.gfile URL (gs://...)")
    q.add_argument("--shard-size", default="256MB", help="target shard size, e.g. 256MB (default)")
    q.add_argument("--dataset", choices=datasets.NAMES, default=None,
                   help="the dataset name the source is (imagenette maps class names); default folder")
    q.add_argument("--classes", nargs="+", default=None)
    q.add_argument("--limit", type=int, default=None, help="shapes/cifar10: images per split")
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=_cmd_pack)
