"""Stream packed shards (see `shards`) as (Y, target) training batches with tf.data.

Per epoch: the shard files are shuffled (seed, epoch), each worker keeps its share of them
(`input_context`, or of the records when there are fewer shards than workers), records are read
with a parallel interleave, shuffled in a bounded buffer (so a dataset of any size streams in
fixed memory), decoded and resized in tf.data (no Python per image), batched, augmented
(dissertation 4.1.3 as Keras preprocessing layers: flip, 20% shifts, 60 degree rotations, nearest
fill), converted to YUV with `colour.RGB_TO_YUV`, and prefetched.

Validation is the training split's stable 10% hold-out (`shards.is_holdout`), never a test split.
Decoding and resizing use TensorFlow's JPEG decoder and area resize: close to, not bit-equal
with, the Pillow + cv2.INTER_AREA path of `datasets` (the packed bytes are the source's own).
"""

from __future__ import annotations

import math

import numpy as np

from ..colour import RGB_TO_YUV
from ..errors import DatasetError
from .shards import read_index

SHUFFLE_BUFFER = 2048  # records: the memory bound of the shuffle (images of any size)
CYCLE = 4  # shard files read at once by the interleave


class StreamBatches:
    """(Y, target) batches of a packed folder, one tf.data pipeline per epoch.

    Args:
        path: packed folder (local or tf.io.gfile URL).
        batch_size: images per batch of this pipeline (per worker under multi-worker training).
        resolution: side of the square training images.
        part: "train" (the train split minus the hold-out) or "val" (the hold-out).
        target: "uv" -> (y (B,R,R,1), uv (B,R,R,2)); "yuv" -> (y, yuv (B,R,R,3)).
        augment: flip/shift/rotate (training only).
        seed: seed of the shard order, the shuffle and the augmentation (with the epoch).
        shuffle_buffer: records held by the shuffle.
        limit: at most this many records (the validation limit).
        num_workers, worker: this pipeline's share (tf.distribute.InputContext values).
        steps: batches per epoch; None: all of this worker's records (the last batch may be
            smaller). Multi-worker training sets it so every worker runs the same number.
    """

    stream = True  # the trainer iterates it rather than indexing it

    def __init__(self, path, batch_size: int, resolution: int, part: str = "train", target: str = "uv",
                 augment: bool = False, seed: int = 0, shuffle_buffer: int = SHUFFLE_BUFFER,
                 limit: int | None = None, num_workers: int = 1, worker: int = 0, steps: int | None = None,
                 split: str = "train"):
        if part not in ("train", "val") or target not in ("uv", "yuv"):
            raise DatasetError(f"StreamBatches: part must be train/val and target uv/yuv, got {part!r}, {target!r}")
        self.path, self.index = str(path).rstrip("/"), read_index(path)
        if split not in self.index["splits"]:
            raise DatasetError(f"{path}: no {split!r} split in the packed index; it has {', '.join(self.index['splits'])}")
        counts = self.index["splits"][split]
        n = counts["holdout"] if part == "val" else counts["count"] - counts["holdout"]
        if limit is not None:
            n = min(n, int(limit))
        if n == 0:
            raise DatasetError(f"{path}: the {part} part of split {split!r} is empty")
        self.files = [f"{self.path}/{s['path']}" for s in self.index["shards"] if s["split"] == split]
        self.count, self.part, self.split, self.limit = n, part, split, limit
        self.batch_size, self.resolution, self.target = int(batch_size), int(resolution), target
        self.augment, self.seed, self.shuffle_buffer = augment and part == "train", seed, int(shuffle_buffer)
        self.num_workers, self.worker, self.epoch = int(num_workers), int(worker), 0
        self._steps = steps

    def __len__(self) -> int:
        if self._steps is not None:
            return self._steps
        return math.ceil(math.ceil(self.count / self.num_workers) / self.batch_size)

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def records(self):
        """tf.data of (key, image bytes) of this worker's share for the current epoch."""
        import tensorflow as tf

        seed = int(np.random.default_rng([self.seed, self.epoch]).integers(2**31))
        training = self.part == "train"
        files = tf.data.Dataset.from_tensor_slices(self.files)
        if training:
            files = files.shuffle(len(self.files), seed=seed, reshuffle_each_iteration=False)
        by_file = len(self.files) >= self.num_workers
        if by_file and self.num_workers > 1:
            files = files.shard(self.num_workers, self.worker)
        ds = files.interleave(tf.data.TFRecordDataset, cycle_length=min(CYCLE, len(self.files)),
                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        spec = {"image": tf.io.FixedLenFeature([], tf.string), "key": tf.io.FixedLenFeature([], tf.string),
                "holdout": tf.io.FixedLenFeature([], tf.int64)}
        ds = ds.map(lambda r: tf.io.parse_single_example(r, spec), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.filter(lambda e: tf.equal(e["holdout"], 1 if self.part == "val" else 0))
        if self.limit is not None:
            ds = ds.take(self.limit)
        if not by_file and self.num_workers > 1:
            ds = ds.shard(self.num_workers, self.worker)
        if training:
            ds = ds.shuffle(self.shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
        return ds.map(lambda e: (e["key"], e["image"]))

    def dataset(self):
        """tf.data of (y, target) float32 batches for the current epoch, prefetched."""
        import tensorflow as tf

        r = self.resolution
        matrix = tf.constant(RGB_TO_YUV.T, tf.float32)  # yuv = rgb @ RGB_TO_YUV.T

        def decode(_key, data):
            img = tf.io.decode_image(data, channels=3, expand_animations=False)  # uint8 (h, w, 3)
            img.set_shape([None, None, 3])
            size = tf.shape(img)[:2]
            same = tf.reduce_all(tf.equal(size, [r, r]))
            return tf.cond(same, lambda: tf.cast(img, tf.float32) / 255.0,
                           lambda: tf.image.resize(tf.cast(img, tf.float32) / 255.0, [r, r], method="area"))

        ds = self.records().map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.map(lambda x: tf.ensure_shape(x, [r, r, 3]))
        if self._steps is not None:  # every worker the same number of full batches
            ds = ds.repeat().batch(self.batch_size, drop_remainder=True).take(self._steps)
        else:
            ds = ds.batch(self.batch_size)
        if self.augment:
            ds = ds.map(self._augmenter(), num_parallel_calls=tf.data.AUTOTUNE)

        def to_yuv(rgb):  # (B, R, R, 3) -> y (B, R, R, 1), target
            yuv = tf.tensordot(tf.clip_by_value(rgb, 0.0, 1.0), matrix, axes=1)
            return yuv[..., :1], (yuv[..., 1:] if self.target == "uv" else yuv)

        return ds.map(to_yuv, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def _augmenter(self):
        import keras
        import tensorflow as tf

        seed = self.seed * 1009 + self.epoch
        layers = [keras.layers.RandomFlip("horizontal", seed=seed),
                  keras.layers.RandomTranslation(0.2, 0.2, fill_mode="nearest", seed=seed + 1),
                  keras.layers.RandomRotation(60 / 360, fill_mode="nearest", seed=seed + 2)]

        def augment(rgb):
            for layer in layers:
                rgb = layer(rgb, training=True)
            return tf.cast(rgb, tf.float32)

        return augment

    def __iter__(self):
        """numpy (y, target) batches of the current epoch."""
        for y, t in self.dataset().as_numpy_iterator():
            yield y, t

    def __getitem__(self, i: int):
        """Batch i of the current epoch, for code that loops `for i in range(len(b)): b[i]` (a
        family's data statistics): in order it streams; any other index starts the epoch again."""
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range for {len(self)} batches")
        if getattr(self, "_cursor", None) is None or self._cursor[0] != i:
            self._cursor = (0, iter(self))
            for _ in range(i):
                next(self._cursor[1])
        batch = next(self._cursor[1])
        self._cursor = (i + 1, self._cursor[1])
        return batch


def for_config(config, target: str, num_workers: int = 1, worker: int = 0, global_batch: int | None = None):
    """(train, val) StreamBatches when `config.data` is a packed folder, else None.

    Args:
        config: a resolved TrainConfig.
        target: "uv" or "yuv" (what the model family trains on).
        num_workers, worker: this process's share of the shards (multi-worker training).
        global_batch: set under multi-worker training: every worker then runs the same number
            of full batches of global_batch / num_workers images.
    """
    from .shards import is_shard_dir

    if not is_shard_dir(config.data):
        return None
    per_worker = config.batch_size if global_batch is None else global_batch // num_workers
    kw = dict(resolution=config.resolution, target=target, seed=config.seed, num_workers=num_workers, worker=worker)
    probe = StreamBatches(config.data, per_worker, **kw)
    steps = None
    if global_batch is not None and num_workers > 1:
        steps = max(1, probe.count // global_batch)
    train = StreamBatches(config.data, per_worker, augment=bool(config.augment), steps=steps, **kw)
    # Validation: every worker reads the whole hold-out in the same order (global batches), so
    # the distributed test step can cut each batch into replica slices as for in-memory data.
    kw.update(num_workers=1, worker=0)
    val = StreamBatches(config.data, global_batch or config.batch_size, part="val", limit=config.val_limit, **kw)
    return train, val
