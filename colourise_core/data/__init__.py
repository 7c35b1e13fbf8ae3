"""Datasets: the Shape Set generator, image folders/archives, named datasets, YUV batches.

`pipeline` (YUVBatches, AugmentConfig, augment_batch, Subset, split_train_val) imports keras,
so its names are loaded on first use only.
"""

from .datasets import DEFAULT_RESOLUTION, ImageDataset, load_dataset
from .datasets import NAMES as DATASET_NAMES  # the one tuple of dataset names
from .shapes import SHAPE_NAMES, ShapeSetConfig, classify_hue, generate_shapes, hue_accuracy
from .sources import Entry, ImageSource, open_source

_PIPELINE = ("YUVBatches", "AugmentConfig", "augment_batch", "Subset", "split_train_val")

__all__ = [
    "DATASET_NAMES", "DEFAULT_RESOLUTION", "ImageDataset", "load_dataset", "SHAPE_NAMES", "ShapeSetConfig", "classify_hue",
    "generate_shapes", "hue_accuracy", "Entry", "ImageSource", "open_source", *_PIPELINE,
]


def __getattr__(name: str):
    if name in _PIPELINE:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
