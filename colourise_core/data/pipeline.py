"""Batches for training: RGB images -> (Y, UV) pairs, shuffled and optionally augmented.

Augmentation follows dissertation 4.1.3, which kept horizontal flips, width/height shifts of
20% and rotations within 60 degrees, the equivalent of Keras
`ImageDataGenerator(horizontal_flip=True, width_shift_range=0.2, height_shift_range=0.2,
rotation_range=60)` with fill mode 'nearest' (here cv2.warpAffine with BORDER_REPLICATE).
It is applied to RGB, before the colour conversion, and is seeded per (seed, epoch, batch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import keras
import numpy as np

from ..colour import rgb_to_yuv
from ..errors import DatasetError


@dataclass(frozen=True)
class AugmentConfig:
    """Random transforms of each training image (dissertation 4.1.3)."""

    flip: bool = True  # mirror left-right with probability 1/2
    shift: float = 0.2  # shift by up to this fraction of the width and of the height
    rotation: float = 60.0  # rotate by an angle uniform in [-rotation, rotation] degrees

    def describe(self) -> str:
        """The transforms this config applies, in words ("flip, shift, rotate"; "none")."""
        parts = [word for word, on in (("flip", self.flip), ("shift", self.shift), ("rotate", self.rotation)) if on]
        return ", ".join(parts) or "none"


def augment_batch(
    rgb: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()
) -> np.ndarray:
    """Randomly flip, shift and rotate each image, filling borders with the nearest pixel.

    Args:
        rgb: float32 (B, H, W, 3) in [0, 1].
        rng: numpy Generator that decides every transform.
        config: which transforms and how strong.
    Returns:
        float32 (B, H, W, 3), a new array.
    """
    out = np.array(rgb, dtype=np.float32, copy=True)
    _, h, w, _ = out.shape
    for k in range(len(out)):
        flip = config.flip and rng.random() < 0.5
        angle = rng.uniform(-config.rotation, config.rotation) if config.rotation else 0.0
        tx = rng.uniform(-config.shift, config.shift) * w if config.shift else 0.0
        ty = rng.uniform(-config.shift, config.shift) * h if config.shift else 0.0
        img = out[k, :, ::-1] if flip else out[k]  # (H, W, 3)
        if angle or tx or ty:
            m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)  # (2, 3)
            m[:, 2] += (tx, ty)
            img = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
        out[k] = img
    return out


class YUVBatches(keras.utils.PyDataset):
    """(Y, UV) batches of an ImageDataset for `model.fit`.

    Args:
        dataset: an ImageDataset or Subset.
        batch_size: images per batch; the last batch may be smaller.
        shuffle: new order every epoch, from (seed, epoch).
        augment: False, True (AugmentConfig()) or an AugmentConfig.
        seed: seed of the order and of the augmentation.
        target: "uv" -> (y (B,H,W,1), uv (B,H,W,2)); "yuv" -> (y, yuv (B,H,W,3)); "uvl" -> (y, uv
            and each image's class label (-1 when the dataset has none) in a third channel (B,H,W,3)).
        random_crops: for a dataset that crops (`crops` True, see data.crops), random crops
            seeded per (seed, epoch, batch); otherwise its central squares.
        **pydataset_kwargs: workers, use_multiprocessing, max_queue_size.
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = True, augment=False, seed: int = 0,
                 target: str = "uv", random_crops: bool = False, **pydataset_kwargs):
        super().__init__(**pydataset_kwargs)
        if target not in ("uv", "yuv", "uvl"):
            raise DatasetError(f"YUVBatches: target must be 'uv', 'yuv' or 'uvl', got {target!r}")
        if batch_size < 1 or len(dataset) == 0:
            raise DatasetError(f"YUVBatches: need batch_size >= 1 and a non-empty dataset, got "
                               f"batch_size={batch_size}, {len(dataset)} images")
        self.dataset, self.batch_size, self.shuffle = dataset, int(batch_size), shuffle
        self.augment = AugmentConfig() if augment is True else (augment or None)
        self.seed, self.target, self.epoch = seed, target, 0
        self.random_crops = bool(random_crops) and getattr(dataset, "crops", False)
        self._order = self._make_order()

    def _make_order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range for {len(self)} batches")
        idx = self._order[i * self.batch_size : (i + 1) * self.batch_size]
        if self.random_crops:
            rgb = self.dataset.load(idx, rng=np.random.default_rng([self.seed, self.epoch, i, 1]))  # (B, H, W, 3)
        else:
            rgb = self.dataset.load(idx)  # (B, H, W, 3)
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            rgb = augment_batch(rgb, rng, self.augment)
        yuv = rgb_to_yuv(rgb, compute_dtype=np.float32)  # (B, H, W, 3)
        y = np.ascontiguousarray(yuv[..., :1])
        if self.target == "uvl":  # the class label of each image, in every pixel of a third channel
            labels = getattr(self.dataset, "labels", None)
            lab = np.full(len(idx), -1.0, np.float32) if labels is None else labels[idx].astype(np.float32)
            return y, np.concatenate([yuv[..., 1:], np.broadcast_to(lab[:, None, None, None], y.shape)], axis=-1)
        return y, (np.ascontiguousarray(yuv[..., 1:]) if self.target == "uv" else yuv)

    def on_epoch_end(self) -> None:
        """Advance the epoch: a new (seeded) order and new augmentations."""
        self.epoch += 1
        self._order = self._make_order()


class Subset:
    """Some items of a dataset, by index, with the dataset's interface."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, np.int64)  # (n,) indices into `dataset`
        self.name, self.resolution = dataset.name, dataset.resolution
        self.class_names = dataset.class_names
        self.labels = None if dataset.labels is None else dataset.labels[self.indices]
        masks = getattr(dataset, "masks", None)
        self.masks = None if masks is None else masks[self.indices]
        self.crops = getattr(dataset, "crops", False)  # load takes rng= (random crops)

    @property
    def skipped_grey(self) -> int:
        """Greyscale images skipped by the underlying dataset."""
        return self.dataset.skipped_grey

    def __len__(self) -> int:
        return len(self.indices)

    def load(self, indices, **kwargs) -> np.ndarray:
        """float32 (n, res, res, 3) of the given subset positions (kwargs: e.g. rng of a cropping dataset)."""
        return self.dataset.load(self.indices[np.asarray(indices, np.int64)], **kwargs)

    def load_all(self, max_items: int | None = None) -> np.ndarray:
        """float32 (n, res, res, 3) of the first `max_items` subset items (all by default)."""
        n = len(self) if max_items is None else min(len(self), int(max_items))
        return self.load(np.arange(n))


def split_train_val(dataset, val_fraction: float = 0.1, seed: int = 0):
    """Split a dataset into seeded random train and validation subsets.

    Args:
        dataset: an ImageDataset (or Subset) of at least 2 images.
        val_fraction: share of images for validation, in (0, 1); at least one image each side.
        seed: random seed.
    Returns:
        (train Subset, val Subset), each with indices in increasing order.
    """
    n = len(dataset)
    if not 0.0 < val_fraction < 1.0 or n < 2:
        raise DatasetError(f"split_train_val: need 0 < val_fraction < 1 and 2+ images, got "
                           f"{val_fraction} and {n} images")
    n_val = min(n - 1, max(1, round(n * val_fraction)))
    perm = np.random.default_rng(seed).permutation(n)
    return Subset(dataset, np.sort(perm[n_val:])), Subset(dataset, np.sort(perm[:n_val]))
