"""Training on several datasets at once, from random square crops of the images at native size.

`CropDataset` decodes each image at its own size and cuts a square: in training a random one
whose side is uniform in [low, m] (m the shorter side; low = max(crop_min m, min(m, 3/4 R)), so
a 256 px photo gives crops from 128 to 256 px and a 128 px Imagenette image from 96 to 128 px),
resized to the resolution R: the model sees objects at several scales (multi-scale). Without a
random generator (validation) the crop is the central square of side m.
`ConcatDataset` joins datasets of one resolution; `Subset`/`split_train_val` work on both.
Datasets with `crops = True` take `load(indices, rng=...)`; `YUVBatches(random_crops=True)` passes it.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import DatasetError
from . import policy
from .datasets import is_grey, load_dataset


class CropDataset:
    """The images of an ImageDataset read at native size and cropped (see the module docstring)."""

    crops = True

    def __init__(self, base, crop_min: float = 0.5):
        if getattr(base, "_source", None) is None:
            raise DatasetError(f"{base.name}: random crops need images read from a folder or archive")
        self.base, self.crop_min = base, float(crop_min)
        self.name, self.resolution = base.name, base.resolution
        self.class_names, self.labels, self.masks = base.class_names, base.labels, None

    @property
    def skipped_grey(self) -> int:
        return self.base.skipped_grey

    def __len__(self) -> int:
        return len(self.base)

    def _native(self, i: int) -> np.ndarray:
        # the decoding policy of every training image (header checked first; data.policy)
        return policy.decode_rgb(self.base._source.read(self.base._keys[i]), self.base._label(i))

    def crop(self, rgb: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        """uint8 (H, W, 3) -> uint8 (R, R, 3): a random square (rng) or the central one (None)."""
        h, w = rgb.shape[:2]
        m, r = min(h, w), self.resolution
        if rng is None:
            side = m
            top, left = (h - side) // 2, (w - side) // 2
        else:
            low = max(self.crop_min * m, min(m, 0.75 * r))
            side = int(round(rng.uniform(low, m)))
            top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        square = rgb[top:top + side, left:left + side]
        if side == r:
            return np.ascontiguousarray(square)
        interp = cv2.INTER_AREA if side > r else cv2.INTER_LINEAR
        return cv2.resize(square, (r, r), interpolation=interp)

    def load(self, indices, rng: np.random.Generator | None = None) -> np.ndarray:
        """float32 (n, R, R, 3) in [0, 1]: random crops with `rng`, central squares without.
        An image found greyscale when decoded is replaced by the next one."""
        idx = np.asarray(indices, np.int64).reshape(-1)
        out = np.empty((idx.size, self.resolution, self.resolution, 3), np.float32)
        n = len(self)
        for k, i in enumerate(idx % max(n, 1)):
            for step in range(n):
                rgb = self._native(int((i + step) % n))
                if not is_grey(rgb):
                    break
            out[k] = self.crop(rgb, rng)
        return out / np.float32(255.0)

    def load_all(self, max_items: int | None = None) -> np.ndarray:
        n = len(self) if max_items is None else min(len(self), int(max_items))
        return self.load(np.arange(n))


class ConcatDataset:
    """Several datasets of one resolution as one (labels dropped: their classes differ)."""

    def __init__(self, parts):
        parts = list(parts)
        if not parts or len({p.resolution for p in parts}) != 1:
            raise DatasetError("ConcatDataset: need one or more datasets of the same resolution")
        self.parts = parts
        self.name = "+".join(p.name for p in parts)
        self.resolution = parts[0].resolution
        self.class_names, self.labels, self.masks = (), None, None
        self.crops = any(getattr(p, "crops", False) for p in parts)
        self._ends = np.cumsum([len(p) for p in parts])  # (P,) end index of each part

    @property
    def skipped_grey(self) -> int:
        return sum(p.skipped_grey for p in self.parts)

    def __len__(self) -> int:
        return int(self._ends[-1])

    def part_of(self, indices) -> np.ndarray:
        """(n,) which part (0..P-1) each of `indices` (0..len-1) falls in."""
        return np.searchsorted(self._ends, np.asarray(indices, np.int64).reshape(-1), side="right")

    def load(self, indices, rng: np.random.Generator | None = None) -> np.ndarray:
        idx = np.asarray(indices, np.int64).reshape(-1) % len(self)
        out = np.empty((idx.size, self.resolution, self.resolution, 3), np.float32)
        which = self.part_of(idx)  # (n,) part of each index
        starts = np.concatenate([[0], self._ends[:-1]])
        for p in np.unique(which):
            sel = np.flatnonzero(which == p)
            part, local = self.parts[p], idx[sel] - starts[p]
            out[sel] = part.load(local, rng=rng) if getattr(part, "crops", False) else part.load(local)
        return out

    def load_all(self, max_items: int | None = None) -> np.ndarray:
        n = len(self) if max_items is None else min(len(self), int(max_items))
        return self.load(np.arange(n))


def parse_source(text: str) -> tuple[str, str]:
    """'NAME:PATH' (e.g. 'folder:../shared/datasets/photos-extra.zip') -> (name, path); a repeat
    count ('NAME*N:PATH', `parse_repeat`) is left out."""
    name, sep, path = text.partition(":")
    if not sep or not name or not path:
        raise DatasetError(f"expected NAME:PATH for an extra dataset (e.g. folder:photos.zip), got {text!r}")
    return name.partition("*")[0], path


def parse_repeat(text: str) -> int:
    """How many times an extra dataset's training images are seen per pass: N of 'NAME*N:PATH'
    (e.g. 'folder*3:photos-extra.zip': a small, varied set weighted up beside a large one); 1 without."""
    name = text.partition(":")[0]
    if "*" not in name:
        return 1
    count = name.partition("*")[2]
    if not count.isdigit() or not 1 <= int(count) <= 100:
        raise DatasetError(f"a repeat count is a whole number from 1 to 100 (NAME*N:PATH), got {text!r}")
    return int(count)


def repeat_parts(train, repeats) -> "object":
    """The training subset of a `ConcatDataset` with each part's images listed `repeats[p]` times.

    Repeating after the train/validation split keeps every copy of an image on one side of it.

    Args:
        train: a `pipeline.Subset` of a `ConcatDataset` (the trainer's training split).
        repeats: (P,) how many times each part's images appear; 1 leaves a part as it is.
    Returns:
        The same Subset when nothing repeats, else a larger Subset of the same dataset.
    """
    from colourise_core.data.pipeline import Subset

    if all(r == 1 for r in repeats):
        return train
    which = train.dataset.part_of(train.indices)  # (n,) part of each image
    extra = [np.repeat(train.indices[which == p], r - 1) for p, r in enumerate(repeats) if r > 1]
    return Subset(train.dataset, np.sort(np.concatenate([train.indices] + extra)))


def load_mixture(sources, split: str = "train", resolution: int = 128, crops: bool = True,
                 crop_min: float = 0.5, limit: int | None = None, seed: int = 0):
    """Several datasets' `split` as one dataset, each image read as random (or central) crops.

    Args:
        sources: (name, data path) pairs, e.g. [("imagenette", "imagenette-128.zip"),
            ("folder", "photos-extra.zip")].
        split: the split of each source ("train": validation is then cut from it by the trainer).
        resolution: side R of the crops.
        crops: read at native size and crop (False: each dataset's stretched R x R images).
        crop_min: smallest random crop side as a share of the shorter side.
        limit: at most this many images per source (seeded subset).
    Returns:
        A ConcatDataset.
    """
    parts = []
    for name, data in sources:
        base = load_dataset(name, data=data, split=split, resolution=resolution, limit=limit, seed=seed)
        parts.append(CropDataset(base, crop_min) if crops else base)
    return ConcatDataset(parts)
