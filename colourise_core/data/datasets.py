"""Named datasets -> `ImageDataset`: a lazy, indexable set of RGB images at one resolution.

Names: "shapes" (generated), "cifar10", "imagenette", "faces", "folder" (any image folder or
archive, see `sources`). Images are decoded with Pillow, converted to RGB and resized (stretched,
not cropped, as the dissertation did) with cv2 INTER_AREA to resolution x resolution.

Greyscale images carry no colour to learn and are skipped and counted (`skipped_grey`): first by
their header mode when the dataset is built (no pixel decoding), then, if an RGB image turns out
to have equal channels when it is decoded, it is replaced by the next colour image. Images that
break the decoding policy (`policy`: too large, corrupt, truncated) are skipped and counted the
same way (`skipped_bad`, named in `bad`); too many of them stop the run with a summary.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import cv2
import numpy as np

from ..errors import DatasetError, ImageError
from . import policy
from .shapes import ShapeSetConfig, generate_shapes
from .sources import ImageSource, open_source

NAMES = ("shapes", "cifar10", "imagenette", "faces", "folder")
DEFAULT_RESOLUTION = {"shapes": 64, "cifar10": 32, "imagenette": 128, "faces": 128, "folder": 128}
SHAPES_COUNT = {"train": 2000, "val": 500, "test": 500}  # default Shape Set sizes per split
SHAPES_SEED_OFFSET = {"train": 0, "val": 1_000_003, "test": 2_000_003}  # disjoint images per split
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
IMAGENETTE_CLASSES = {
    "n01440764": "tench", "n02102040": "English springer", "n02979186": "cassette player",
    "n03000684": "chain saw", "n03028079": "church", "n03394916": "French horn",
    "n03417042": "garbage truck", "n03425413": "gas pump", "n03445777": "golf ball",
    "n03888257": "parachute",
}
GREY_MODES = policy.GREY_MODES  # single-channel modes
GREY_TOLERANCE = 2.0 / 255  # decoded RGB with all |R-G|, |G-B| at most this is greyscale
CACHE_BUDGET = 1.5e9  # bytes: decoded images are kept in memory when the whole set fits


def _decode(data: bytes, resolution: int, key: str) -> np.ndarray:
    """Image bytes -> uint8 (res, res, 3) RGB, stretched with INTER_AREA (policy: `policy`).

    Raises:
        ImageError: naming `key`, when the image breaks the decoding policy.
    """
    rgb = policy.decode_rgb(data, key)
    if rgb.shape[:2] != (resolution, resolution):
        rgb = cv2.resize(rgb, (resolution, resolution), interpolation=cv2.INTER_AREA)
    return rgb


def _resize_all(rgb: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (N, h, w, 3) -> uint8 (N, res, res, 3)."""
    if rgb.shape[1:3] == (resolution, resolution):
        return rgb
    size = (resolution, resolution)
    return np.stack([cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in rgb])


def is_grey(rgb: np.ndarray) -> bool:
    """True if a uint8 or [0, 1] float RGB image (H, W, 3) has (nearly) equal channels."""
    x = rgb.astype(np.float32) / (255.0 if rgb.dtype == np.uint8 else 1.0)  # (H, W, 3)
    spread = max(np.abs(x[..., 0] - x[..., 1]).max(), np.abs(x[..., 1] - x[..., 2]).max())
    return bool(spread <= GREY_TOLERANCE + 1e-6)


class ImageDataset:
    """RGB images at one resolution, read lazily from a source or held as arrays.

    Attributes:
        name: dataset name; resolution: side in pixels; class_names: tuple of class names
        (empty when unlabelled); labels: int64 (N,) indices into class_names, or None;
        masks: uint8 (N, res, res) per-pixel Shape Set labels, or None; skipped_grey: greyscale
        images left out so far.

    An image found greyscale only when decoded is served as the next colour item (and its
    label stays that of the requested item), so `len` never changes after construction.
    """

    def __init__(self, name, resolution, *, class_names=(), labels=None, source=None, keys=None,
                 arrays=None, masks=None, skipped_grey=0, cache_budget=CACHE_BUDGET, bad=None):
        self.name, self.resolution = name, int(resolution)
        self.class_names = tuple(class_names)
        self.labels = None if labels is None else np.asarray(labels, np.int64)
        self.masks = masks
        self.skipped_grey = int(skipped_grey)
        self.bad = bad if bad is not None else policy.BadImages(name)  # skipped: they break the policy
        self._source, self._keys, self._arrays = source, keys, arrays  # arrays: uint8 (N,r,r,3)
        n = len(arrays) if arrays is not None else len(keys)
        self._n = n
        self._grey: set[int] = set()  # items found greyscale on decode; the next one is served
        self._lock = threading.Lock()
        self._cache_fits = arrays is None and n * self.resolution**2 * 3 <= cache_budget
        self._cache = self._cached = None  # uint8 (N, r, r, 3) and bool (N,), made on first use

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"ImageDataset({self.name!r}, {len(self)} images, {self.resolution}px)"

    def __getstate__(self) -> dict:  # workers get the index, not the cache or the lock
        state = self.__dict__.copy()
        del state["_lock"]
        state["_cache"] = state["_cached"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _item(self, i: int) -> np.ndarray | None:
        """uint8 (res, res, 3) of item i, or None if it decodes greyscale."""
        if self._arrays is not None:
            return self._arrays[i]
        if self._cache_fits and self._cache is None:
            with self._lock:
                if self._cache is None:  # np.empty: memory is only taken as rows are filled
                    self._cached = np.zeros(self._n, bool)
                    self._cache = np.empty((self._n, self.resolution, self.resolution, 3), np.uint8)
        if self._cache is not None and self._cached[i]:
            return self._cache[i]
        rgb = _decode(self._source.read(self._keys[i]), self.resolution, self._label(i))
        if is_grey(rgb):
            return None
        if self._cache is not None:
            self._cache[i] = rgb
            self._cached[i] = True
        return rgb

    @property
    def skipped_bad(self) -> int:
        """Images skipped for breaking the decoding policy (corrupt, too large, truncated)."""
        return len(self.bad)

    def _label(self, i: int) -> str:
        return f"{self._source.path.name}: {self._keys[i]}"

    def _get(self, i: int) -> np.ndarray:
        """Item i, or the next colour item when i is greyscale (counted once in skipped_grey)
        or bad (counted once in skipped_bad; too many stop with a summary)."""
        j = i
        for _ in range(self._n):
            if j not in self._grey:
                try:
                    rgb = self._item(j)
                except policy.BAD as err:
                    with self._lock:
                        if j not in self._grey:
                            self._grey.add(j)
                            self.bad.add(self._label(j), err)
                    self.bad.check(self._n)
                    rgb = None
                    j = (j + 1) % self._n
                    continue
                if rgb is not None:
                    return rgb
                with self._lock:
                    if j not in self._grey:
                        self._grey.add(j)
                        self.skipped_grey += 1
            j = (j + 1) % self._n
        raise DatasetError(f"{self.name}: every image is greyscale; a colour dataset is needed")

    def load(self, indices) -> np.ndarray:
        """Images by index.

        Args:
            indices: int sequence (negative allowed).
        Returns:
            float32 (n, res, res, 3) RGB in [0, 1].
        """
        idx = np.asarray(indices, np.int64).reshape(-1)
        if idx.size and (idx.max() >= self._n or idx.min() < -self._n):
            raise DatasetError(f"{self.name}: index out of range for {self._n} images")
        out = np.empty((idx.size, self.resolution, self.resolution, 3), np.float32)
        for k, i in enumerate(idx % max(self._n, 1)):
            out[k] = self._get(int(i))
        return out / np.float32(255.0)

    def load_all(self, max_items: int | None = None, chunk: int = 1024) -> np.ndarray:
        """The first `max_items` images (all by default): float32 (n, res, res, 3)."""
        n = self._n if max_items is None else min(self._n, int(max_items))
        out = np.empty((n, self.resolution, self.resolution, 3), np.float32)
        for s in range(0, n, chunk):
            out[s : s + chunk] = self.load(range(s, min(n, s + chunk)))
        return out


def _pick(order, keep, limit, where: str, bad: policy.BadImages | None = None, label=str):
    """First `limit` positions of `order` (a permutation) for which keep(pos) is True.

    keep(pos) raising one of `policy.BAD` skips pos and records it in `bad` (label(pos) names
    it); too many bad images stop with a summary.
    """
    chosen, dropped = [], 0
    bad = bad if bad is not None else policy.BadImages(where)
    for pos in order:
        if limit is not None and len(chosen) >= limit:
            break
        try:
            wanted = keep(int(pos))
        except policy.BAD as err:
            bad.add(label(int(pos)), err)
            continue
        if wanted:
            chosen.append(int(pos))
        else:
            dropped += 1
    bad.check(len(chosen) + dropped + len(bad))
    if not chosen:
        raise DatasetError(f"{where}: no colour images to load ({dropped} greyscale skipped); "
                           "choose another split or classes, or a colour dataset")
    return sorted(chosen), dropped


def _header_grey(source: ImageSource, key: str) -> bool:
    """True if the image's header says it has a single channel (decodes no pixels).

    Raises:
        ImageError, ArchiveError: the member breaks the decoding policy (see `policy`).
    """
    return policy.header_grey(source.read(key), f"{source.path.name}: {key}")


def _canon(name: str) -> str:
    return name.lower().replace("-", " ").replace("_", " ").strip()


def _imagenette_wnids(classes, available) -> list[str]:
    """Human names or wnids -> wnids present in the source, in sorted wnid order."""
    lookup = {_canon(w): w for w in IMAGENETTE_CLASSES}
    lookup |= {_canon(h): w for w, h in IMAGENETTE_CLASSES.items()}
    wnids = set()
    for c in classes:
        w = lookup.get(_canon(c))
        if w is None or w not in available:
            names = [f"{IMAGENETTE_CLASSES.get(a, a)} ({a})" for a in available]
            raise DatasetError(f"imagenette: unknown class {c!r}; available: {', '.join(names)}")
        wnids.add(w)
    return sorted(wnids)


def _from_source(name, data, split, classes, resolution, limit, seed, cache_budget) -> ImageDataset:
    source = open_source(data)
    splits = source.splits
    if split is not None and split.lower() == "test" and "test" not in splits and "val" in splits:
        split = "val"  # e.g. Imagenette: its val split is the held-out set
    if split is not None and not splits:
        split = None  # a folder with no split folders: all its images
    if name == "faces" and classes:
        raise DatasetError(f"{name} has no classes; leave classes unset")
    available = source.classes(split)
    if name == "imagenette" and classes is not None:
        classes = _imagenette_wnids(classes, available)
    entries = source.entries(split, classes)
    # Class indices from every split, so train and test label the same class alike.
    folders = sorted(set(classes)) if classes is not None else source.classes()
    class_names = [IMAGENETTE_CLASSES.get(f, f) if name == "imagenette" else f for f in folders]
    index = {f: k for k, f in enumerate(folders)}
    n = len(entries)
    order = range(n) if limit is None else np.random.default_rng(seed).permutation(n)
    where = f"{name} in {source.path} (split {split}, classes {classes})"
    bad = policy.BadImages(where)
    chosen, grey = _pick(order, lambda p: not _header_grey(source, entries[p].key), limit, where, bad,
                         label=lambda p: entries[p].key)
    labels = [index[entries[p].label] for p in chosen] if folders else None
    keys = [entries[p].key for p in chosen]
    return ImageDataset(name, resolution, class_names=class_names, labels=labels, source=source,
                        keys=keys, skipped_grey=grey, cache_budget=cache_budget, bad=bad)


def _cifar10_keras(split, classes, resolution, limit, seed) -> ImageDataset:
    """CIFAR-10 through keras.datasets (downloads ~163 MB on first use)."""
    import keras  # deferred: only this path needs it

    (x_tr, y_tr), (x_te, y_te) = keras.datasets.cifar10.load_data()
    x, y = (x_tr, y_tr) if split == "train" else (x_te, y_te)
    y = y.reshape(-1)
    if classes is not None:
        bad = [c for c in classes if c not in CIFAR10_CLASSES]
        if bad:
            raise DatasetError(f"cifar10: unknown class {bad}; available: {list(CIFAR10_CLASSES)}")
        keep = np.isin(y, [CIFAR10_CLASSES.index(c) for c in classes])
        x, y = x[keep], y[keep]
    order = range(len(x)) if limit is None else np.random.default_rng(seed).permutation(len(x))
    where = f"cifar10 {split} (classes {classes})"
    chosen, grey = _pick(order, lambda p: not is_grey(x[p]), limit, where)
    names = [c for c in CIFAR10_CLASSES if classes is None or c in classes]
    remap = np.array([names.index(c) if c in names else -1 for c in CIFAR10_CLASSES])
    return ImageDataset("cifar10", resolution, class_names=names, labels=remap[y[chosen]],
                        arrays=_resize_all(x[chosen], resolution), skipped_grey=grey)


def load_dataset(name: str, data=None, split: str | None = "train", classes=None, resolution=None,
                 limit=None, seed: int = 0, shapes_config: ShapeSetConfig | None = None,
                 cache_budget: float = CACHE_BUDGET) -> ImageDataset:
    """Load a named dataset lazily.

    Args:
        name: "shapes", "cifar10", "imagenette", "faces" or "folder".
        data: image folder or .zip/.tar archive (split/class/img, class/img, split/img or flat);
            unused for "shapes"; None for "cifar10" downloads it through keras.
        split: "train", "val" or "test" ("test" falls back to "val" when the source has no test
            split); ignored by sources without split folders; None for every image.
        classes: class folder names to keep (Imagenette: wnids or human names such as
            "golf ball", "golf-ball", "French_horn"); None for all.
        resolution: side of the square images; default per dataset (DEFAULT_RESOLUTION, or
            shapes_config.size).
        limit: keep a seeded random subset of this many images (Shape Set: how many to draw).
        seed: random seed of the subset (and of the Shape Set drawing).
        shapes_config: Shape Set drawing parameters; a given `resolution` replaces its size.
        cache_budget: keep decoded images in memory when all of them fit in this many bytes.
    Returns:
        an ImageDataset.
    Raises:
        DatasetError: unknown name, split or class, or data missing.
        ArchiveError: the data folder or archive is unsafe, unreadable or holds no images.
    """
    if name not in NAMES:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
    if resolution is None:
        shapes = name == "shapes" and shapes_config is not None
        resolution = shapes_config.size if shapes else DEFAULT_RESOLUTION[name]
    resolution = int(resolution)
    if limit is not None and int(limit) < 1:
        raise DatasetError(f"{name}: limit must be a positive number of images, got {limit!r}")
    if name == "shapes":
        if classes is not None:
            raise DatasetError("shapes has no image classes; leave classes unset")
        part = "train" if split is None else split.lower()
        if part not in SHAPES_COUNT:
            raise DatasetError(f"shapes: no split {split!r}; available splits: train, val, test")
        config = replace(shapes_config or ShapeSetConfig(), size=resolution)
        n = int(limit or SHAPES_COUNT[part])
        rgb, masks = generate_shapes(n, config, seed + SHAPES_SEED_OFFSET[part])
        return ImageDataset("shapes", resolution, arrays=rgb, masks=masks)
    if data is None:
        if name == "cifar10":
            if split not in ("train", "test"):
                raise DatasetError(f"cifar10 from keras has splits train and test, not {split!r}")
            return _cifar10_keras(split, classes, resolution, limit, seed)
        raise DatasetError(f"{name}: give data=<image folder or .zip/.tar archive> (on the command line: --data PATH)")
    return _from_source(name, data, split, classes, resolution, limit, seed, cache_budget)
