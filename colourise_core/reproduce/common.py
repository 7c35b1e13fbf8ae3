"""Shared pieces of `reproduce`: settings, the dissertation's numbers, the result store,
hardware facts, and loading the shipped models and held-out data."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from colourise_core import atomic, hardware
from colourise_core.family_names import FIXED_BUDGET_FAMILIES
from colourise_core.run_folder import RunFolder


REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "datasets"
DEFAULT_EXPORT_DIR = REPO / "runs" / "gpu" / "export"
ARCHIVES = {"cifar10": "cifar10.zip", "faces": "faces-128.zip", "imagenette": "imagenette-128.zip"}
SECTIONS = ("hardware", "timing", "curves", "shapes", "grids", "diversity", "diversity128", "metrics", "hints",
            "sweep", "families")
TEMPERATURES = (0.5, 1.0, 2.0)
BEST_OF = 8  # CVAE samples per image for best-of-N and the pairwise distance
FRESH_SHAPES_SEED = 20_200  # Figure 5.2: Shape Set images no model was trained or tested on
# Weight set -> (dataset, classes) when the manifest does not say; the Shape Set is luma-matched.
SET_DATA = {"shapes": ("shapes", None), "cifar10": ("cifar10", None), "cifar10-horse": ("cifar10", ["horse"]),
            "faces": ("faces", None), "imagenette": ("imagenette", None)}
SETS = tuple(SET_DATA)

# The dissertation's numbers: (batch size, final loss after 100 epochs, training time in s).
TABLE_4_1 = ((1024, 0.0039, 147), (512, 0.0038, 152), (128, 0.0036, 223), (32, 0.0035, 330), (16, 0.0034, 426))
TABLE_4_2 = ((1024, 15.66, 55), (512, 5.78, 66), (128, 0.62, 82), (32, 0.21, 188), (16, 0.04, 342))
TABLE_5_1 = {"cnn": 9 * 60 + 41, "cgan": 29 * 60 + 54, "cvae": 2 * 60 + 45}  # Horse class, Colab GPU
MODELS = tuple(TABLE_5_1)  # the dissertation's three models, in its order (a subset of models.MODEL_NAMES)
LABEL = {m: m.upper() for m in MODELS}  # CNN, CGAN, CVAE
DISSERTATION_EPOCHS = 100  # Tables 4.1 and 4.2
SWEEP_TABLES = {"cnn": TABLE_4_1, "cvae": TABLE_4_2}  # the models whose batch size Tables 4.1 and 4.2 sweep


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much work each section does (full report or --quick)."""

    train_data: str  # "cifar10-horse" (Tables 4.1, 4.2, 5.1 as in the dissertation) or "shapes"
    train_resolution: int
    train_limit: int | None  # training images (None: all 5,000 of the Horse class)
    val_limit: int
    sweep_batch_sizes: tuple
    sweep_epochs: int
    timing_max_epochs: int  # CNN and CVAE: at most this many epochs ...
    timing_patience: int  # ... stopping early after this many epochs without a better val loss
    cgan_epochs: int  # CGAN: a fixed epoch budget
    timing_cap_s: float  # wall-clock cap per model (StopAtDeadline)
    eval_limit: int  # held-out images per data set for the metrics (32 and 64 px sets)
    eval_limit_large: int  # ... for the 128 px sets
    sample_limit: int  # of those, images for the CVAE sample metrics
    shapes_grid: int  # Figure 5.2 images
    shapes_hue: int  # images for the hue accuracy
    faces_grid: int
    horse_grid: int
    diversity_images: int
    diversity_samples: int  # samples per temperature in Figure 5.6
    metric_sets: tuple = SETS  # weight sets the metrics section evaluates
    grid_sets: tuple = ("cifar10", "cifar10-horse", "faces", "imagenette")  # sets of Figures 5.3-5.5
    hints_images: int = 100  # colour images per dataset of the hints curve (Imagenette val, photos-extra val)
    families_eval: int = 500  # families section: Imagenette val images (128 px) per family
    families_shapes: int = 1000  # ... luma-matched Shape Set test images (64 px)
    ablation_resolution: int = 64  # ablation runs: Imagenette train at this size (fast on a CPU)
    ablation_limit: int | None = None  # ... on at most this many training images (None: all)
    ablation_epochs: int = 3  # ... epochs (a checkpoint each) of ... (~10 min a run on a shared 2-core CPU)
    ablation_steps: int = 25  # ... this many steps of ...
    ablation_batch: int = 32  # ... this many images (the same for every run)
    ablation_val: int = 128  # ... validation images (held back from train)
    ablation_eval: int = 300  # ... Imagenette val images each run is evaluated on


FULL = Settings(train_data="cifar10-horse", train_resolution=32, train_limit=None, val_limit=1000,
                sweep_batch_sizes=(1024, 512, 128, 32, 16), sweep_epochs=5, timing_max_epochs=30,
                timing_patience=5, cgan_epochs=10, timing_cap_s=600.0, eval_limit=1000, eval_limit_large=500,
                sample_limit=200, shapes_grid=6, shapes_hue=500, faces_grid=6, horse_grid=8,
                diversity_images=4, diversity_samples=3)
QUICK = Settings(train_data="shapes", train_resolution=32, train_limit=64, val_limit=32,
                 sweep_batch_sizes=(32, 8), sweep_epochs=2, timing_max_epochs=2, timing_patience=1,
                 cgan_epochs=2, timing_cap_s=60.0, eval_limit=16, eval_limit_large=8, sample_limit=4,
                 shapes_grid=4, shapes_hue=16, faces_grid=4, horse_grid=4, diversity_images=2,
                 diversity_samples=2, metric_sets=("shapes", "cifar10-horse"), grid_sets=("cifar10", "faces"),
                 hints_images=2,
                 families_eval=4, families_shapes=16, ablation_resolution=32, ablation_limit=48, ablation_epochs=1,
                 ablation_steps=2, ablation_batch=8, ablation_val=8, ablation_eval=8)


@dataclasses.dataclass
class Options:
    out: Path
    quick: bool
    data_dir: Path
    weights_dir: Path
    work_dir: Path
    export_dir: Path
    sections: tuple = SECTIONS
    redo: tuple = ()
    settings: Settings = FULL
    manifest: dict = dataclasses.field(default_factory=dict)
    models: dict = dataclasses.field(default_factory=dict)  # (set, model) -> loaded keras.Model
    datasets: dict = dataclasses.field(default_factory=dict)  # held_out arguments -> ImageDataset
    notes: list = dataclasses.field(default_factory=list)


def log(message: str) -> None:
    print(f"[reproduce {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------------------------- storage


class Store:
    """The JSON results of each section under `<out>/data/`, written atomically."""

    def __init__(self, out: Path, redo: tuple = ()):
        self.dir = out / "data"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.redo = set(redo)

    def load(self, section: str) -> dict:
        path = self.dir / f"{section}.json"
        if section in self.redo or not path.is_file():
            return {}
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def save(self, section: str, data: dict) -> None:
        self.redo.discard(section)  # recomputed: later loads (the Markdown writer) read it back
        atomic.write_json(self.dir / f"{section}.json", _plain(data), indent=1)


def _plain(obj):
    """numpy scalars and tuples -> JSON types."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def fresh(entry: dict | None, key: dict, out: Path, figures=()) -> bool:
    """True if a cached entry was computed from `key` and its figures exist."""
    return bool(entry) and entry.get("key") == _plain(key) and all((out / f).is_file() for f in figures)


# ---------------------------------------------------------------------------------- hardware


def git_commit() -> str | None:
    """The repository's short HEAD commit (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def section_hardware(opts: Options, store: Store) -> None:
    data = store.load("hardware")
    info = hardware.describe()
    data.setdefault("first", info)  # the machine the report was started on
    data["latest"] = info
    data["generated"] = datetime.datetime.now().isoformat(timespec="seconds")
    data["commit"] = git_commit()
    data["command"] = " ".join(["python -m colourise_core"] + sys.argv[1:]) if sys.argv[0].endswith("__main__.py") else None
    store.save("hardware", data)


# ------------------------------------------------------------------------------------- models


def set_info(opts: Options, set_name: str) -> tuple[str, list | None, bool]:
    """(dataset, classes, luma_matched) of a weight set."""
    entry = opts.manifest.get("sets", {}).get(set_name)
    dataset, classes = SET_DATA.get(set_name, (set_name, None))
    luma = True
    if entry:
        dataset, classes = entry["dataset"], entry["classes"]
        commands = " ".join(m.get("command", "") for m in entry["models"].values())
        luma = entry["luma_matched"] if "luma_matched" in entry else ("--luma-matched" in commands or not commands)
    return dataset, classes, luma


def weights_source(opts: Options, set_name: str, model: str) -> dict | None:
    """Where the `model` of `set_name` comes from: {"origin", "sha256", "path"}, or None.

    The shipped weights when the manifest lists them and the file is in the weights folder; in
    --quick, the Shape Set falls back to the quick timing runs (tiny models trained here).
    """
    entry = opts.manifest.get("sets", {}).get(set_name, {}).get("models", {}).get(model)
    if entry and (opts.weights_dir / entry["file"]).is_file():
        return {"origin": "shipped", "sha256": entry["sha256"], "path": str(opts.weights_dir / entry["file"])}
    if opts.quick and set_name == "shapes":
        run = timing_dir(opts, model)
        weights_file = RunFolder(run).weights_file
        if weights_file.is_file():
            digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
            return {"origin": "trained here (quick)", "sha256": digest, "path": str(run)}
    return None


def load_model(opts: Options, set_name: str, model: str):
    """The model of a set (cached), or None when it is neither shipped nor trained here."""
    from colourise_core import training, weights
    from colourise_core.errors import WeightsError

    if (set_name, model) in opts.models:
        return opts.models[(set_name, model)]
    src = weights_source(opts, set_name, model)
    net = None
    if src and src["origin"] == "shipped":
        try:
            net = weights.load_pretrained(model, set_name, weights_dir=opts.weights_dir)
        except WeightsError as e:
            opts.notes.append(f"{set_name}/{model}: the shipped weights were refused ({e})")
    elif src:
        net = training.load_run(src["path"])
    opts.models[(set_name, model)] = net
    return net


def trained_resolution(opts: Options, set_name: str, model: str) -> int | None:
    """The training resolution of a set's model, read from its spec (no model is built)."""
    src = weights_source(opts, set_name, model)
    if src is None:
        return None
    if src["origin"] == "shipped":
        return opts.manifest["sets"][set_name]["models"][model]["spec"]["resolution"]
    return RunFolder(src["path"]).read(RunFolder.SPEC)["resolution"]


def set_shas(opts: Options, set_name: str) -> dict:
    return {m: (s or {}).get("sha256") for m in MODELS for s in [weights_source(opts, set_name, m)]}


def held_out(opts: Options, set_name: str, resolution: int, limit: int | None, seed: int = 0,
              classes=None, split: str = "test"):
    """The held-out images of a set at `resolution` (None when its archive is missing); cached."""

    cache_key = (set_name, resolution, limit, seed, tuple(classes or ()), split)
    if cache_key not in opts.datasets:
        opts.datasets[cache_key] = _held_out_uncached(opts, set_name, resolution, limit, seed, classes, split)
    return opts.datasets[cache_key]


def _held_out_uncached(opts: Options, set_name: str, resolution: int, limit, seed, classes, split):
    from colourise_core.data import ShapeSetConfig, load_dataset

    dataset, set_classes, luma = set_info(opts, set_name)
    if dataset == "shapes":
        return load_dataset("shapes", split=split, limit=limit or 500, resolution=resolution, seed=seed,
                            shapes_config=ShapeSetConfig(luma_matched=luma))
    archive = opts.data_dir / ARCHIVES[dataset]
    if not archive.exists():
        return None
    return load_dataset(dataset, data=str(archive), split=split, classes=classes or set_classes,
                        resolution=resolution, limit=limit, seed=seed)

def timing_dir(opts: Options, model: str) -> Path:
    s = opts.settings
    tag = f"{s.train_data}-e{s.cgan_epochs}" if model in FIXED_BUDGET_FAMILIES else f"{s.train_data}-e{s.timing_max_epochs}-p{s.timing_patience}"
    return opts.work_dir / "timing" / f"{model}-{tag}"
