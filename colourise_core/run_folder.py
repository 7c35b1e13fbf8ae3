"""The layout of a training run's folder, and its readers: the one place that knows the file names.

A run folder (written by `training.train`, read by `training.load_run`, the weights resolver,
the app and the reproduction harness) holds:
    spec.json            the model spec (rebuilds the architecture)
    train_config.json    the TrainConfig
    history.json         per-epoch train and validation losses
    state.json           last finished epoch, wall time, early-stopping state (written last)
    model.weights.h5     weights after the last finished epoch
    best.weights.h5      with early stopping: the best validation epoch
    checkpoints/         epoch-NNNN.weights.h5 + epoch-NNNN.optimizer.npz for --resume
    train.lock           held by the training writing the folder (colourise_core.runlock)
    distribution.json    with --distribute: how the run was spread (colourise_core.distribute)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from colourise_core import atomic


class RunFolder:
    """A training run's folder: the paths of its files, and readers and writers for them.

    Args:
        path: the folder (it need not exist yet).
    """

    SPEC = "spec.json"  # the model spec
    CONFIG = "train_config.json"  # the TrainConfig, as a dict
    HISTORY = "history.json"  # one dict of logs per finished epoch
    STATE = "state.json"  # {"epoch", "train_seconds", "best"}: the commit point of an epoch
    WEIGHTS = "model.weights.h5"  # the last finished epoch
    BEST = "best.weights.h5"  # the best validation epoch (early stopping only)
    CHECKPOINTS = "checkpoints"  # epoch-NNNN.weights.h5 and epoch-NNNN.optimizer.npz
    LOCK = "train.lock"  # the lock of the training writing the folder
    DISTRIBUTION = "distribution.json"  # with --distribute: the plan (workers, replicas, global batch)
    FILES = (SPEC, CONFIG, HISTORY, STATE, WEIGHTS, BEST)  # the run's own files (a download of it)

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.spec_file = self.path / self.SPEC
        self.weights_file = self.path / self.WEIGHTS
        self.best_file = self.path / self.BEST
        self.checkpoints = self.path / self.CHECKPOINTS

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def checkpoint(self, epoch: int) -> tuple[Path, Path]:
        """`(weights, optimizer state)` files of the checkpoint after `epoch` finished epochs."""
        stem = self.checkpoints / f"epoch-{epoch:04d}"
        return Path(f"{stem}.weights.h5"), Path(f"{stem}.optimizer.npz")

    def stale_checkpoints(self, epoch: int) -> list[Path]:
        """The checkpoint files of every epoch but `epoch`."""
        keep = f"epoch-{epoch:04d}."
        return [p for p in self.checkpoints.glob("epoch-*") if not p.name.startswith(keep)]

    def is_run(self) -> bool:
        """True when the folder has a spec (training has started writing it)."""
        return self.spec_file.is_file()

    def weights_for(self, best: bool = False) -> Path:
        """The weight file to load: best.weights.h5 when asked for and present, else model.weights.h5."""
        return self.best_file if best and self.best_file.exists() else self.weights_file

    def read(self, name: str) -> Any:
        """The parsed JSON file `name` (e.g. `RunFolder.STATE`).

        Raises:
            OSError: it is missing or unreadable.
            ValueError: it is not JSON (json.JSONDecodeError, UnicodeDecodeError).
        """
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def read_dict(self, name: str) -> dict:
        """The JSON object in `name`, or {} when it is missing, unreadable or not an object."""
        try:
            data = self.read(name)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, name: str, data: Any) -> Path:
        """Write `data` as JSON to `name`, atomically."""
        return atomic.write_json(self.path / name, data)
