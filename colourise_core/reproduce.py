"""Regenerate the dissertation's evaluation (Tables 4.1, 4.2, 5.1; Figures 5.1-5.6) as a report.

    python -m colourise_core reproduce [--quick] [--out reports/] [--data-dir ../shared/datasets]
                                       [--weights-dir weights] [--work-dir DIR] [--sections ...]
                                       [--redo ...]

writes `<out>/report.md`, small PNG figures under `<out>/figures/` and the numbers behind every
table and figure under `<out>/data/<section>.json`. Each table and figure stands beside the
dissertation's own number or caption.

Sections (in the order they run):
    hardware   this machine: CPU model, cores, memory, Keras backend and devices.
    timing     Table 5.1: each model trained on the CIFAR-10 Horse class to a stopping rule
               (early stopping on the validation loss for the CNN and the CVAE, a fixed epoch
               budget for the CGAN), beside the GPU times of the shipped weights.
    curves     Figure 5.1: learning curves (the shipped runs' histories; the quick runs' in --quick).
    shapes     Figure 5.2: Shape Set results on a fresh luma-matched seed, and hue accuracy.
    grids      Figures 5.3-5.5: result grids on CIFAR-10, Faces and Imagenette.
    diversity  Figure 5.6: CVAE samples at temperatures 0.5, 1 and 2.
    metrics    UV MSE, PSNR, SSIM, colourfulness (+ gap), UV-error CDF AUC, within-5 per model and
               data set beside the all-grey baseline; best-of-8 and sample diversity for the CVAE.
    sweep      Tables 4.1 and 4.2: batch size against final loss and training time (CNN, CVAE).

Resuming: every section stores its results in `<out>/data/<section>.json`, per item (a table row,
a data set, a model) with a key naming what it was computed from (settings and the sha256 of the
weights); an item whose key and figure files are already there is skipped, so a killed or
repeated run only does what is missing. Training runs go to `--work-dir` (run folders with
checkpoints, outside the report) and resume from their last finished epoch. `--redo SECTION`
recomputes a section. Keras uses a GPU when there is one; nothing here forces the CPU.

`--quick` (under two minutes on a 2-core CPU): tiny Shape Set data at 32 px, 2 epochs, 2 batch
sizes; figures and metrics use the shipped weights where they are present (with few images),
and freshly trained tiny models for the Shape Set when its weights are missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from colourise_core import report

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "datasets"
DEFAULT_EXPORT_DIR = REPO / "runs" / "gpu" / "export"
ARCHIVES = {"cifar10": "cifar10.zip", "faces": "faces-128.zip", "imagenette": "imagenette-128.zip"}
MODELS = ("cnn", "cgan", "cvae")
LABEL = {"cnn": "CNN", "cgan": "CGAN", "cvae": "CVAE"}
SECTIONS = ("hardware", "timing", "curves", "shapes", "grids", "diversity", "metrics", "sweep")
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
DISSERTATION_EPOCHS = 100  # Tables 4.1 and 4.2


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


FULL = Settings(train_data="cifar10-horse", train_resolution=32, train_limit=None, val_limit=1000,
                sweep_batch_sizes=(1024, 512, 128, 32, 16), sweep_epochs=5, timing_max_epochs=30,
                timing_patience=5, cgan_epochs=10, timing_cap_s=600.0, eval_limit=1000, eval_limit_large=500,
                sample_limit=200, shapes_grid=6, shapes_hue=500, faces_grid=6, horse_grid=8,
                diversity_images=4, diversity_samples=3)
QUICK = Settings(train_data="shapes", train_resolution=32, train_limit=64, val_limit=32,
                 sweep_batch_sizes=(32, 8), sweep_epochs=2, timing_max_epochs=2, timing_patience=1,
                 cgan_epochs=2, timing_cap_s=60.0, eval_limit=16, eval_limit_large=8, sample_limit=4,
                 shapes_grid=4, shapes_hue=16, faces_grid=4, horse_grid=4, diversity_images=2,
                 diversity_samples=2, metric_sets=("shapes", "cifar10-horse"), grid_sets=("cifar10", "faces"))


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
    datasets: dict = dataclasses.field(default_factory=dict)  # _held_out arguments -> ImageDataset
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
        path = self.dir / f"{section}.json"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_plain(data), indent=1))
        os.replace(tmp, path)


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


def _fresh(entry: dict | None, key: dict, out: Path, figures=()) -> bool:
    """True if a cached entry was computed from `key` and its figures exist."""
    return bool(entry) and entry.get("key") == _plain(key) and all((out / f).is_file() for f in figures)


# ---------------------------------------------------------------------------------- hardware


def hardware_info() -> dict:
    """CPU model (/proc/cpuinfo), cores, memory, the Keras backend and its accelerators."""
    import keras

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    backend = keras.backend.backend()
    accelerators, engine = [], ""
    if backend == "tensorflow":
        import tensorflow as tf

        engine = f"TensorFlow {tf.__version__}"
        for dev in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(dev)
            accelerators.append(details.get("device_name", dev.name))
    elif backend == "jax":
        import jax

        engine = f"JAX {jax.__version__}"
        accelerators = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
    elif backend == "torch":
        import torch

        engine = f"PyTorch {torch.__version__}"
        if torch.cuda.is_available():
            accelerators = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    device = ", ".join(accelerators) if accelerators else "CPU only"
    summary = (f"{cpu}, {usable} cores usable ({os.cpu_count()} online), {mem_gb} GB RAM; "
               f"Keras {keras.__version__} on {engine or backend}; {device}")
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": usable, "memory_gb": mem_gb,
            "backend": backend, "engine": engine, "keras": keras.__version__, "accelerators": accelerators,
            "python": platform.python_version(), "summary": summary}


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def section_hardware(opts: Options, store: Store) -> None:
    data = store.load("hardware")
    info = hardware_info()
    data.setdefault("first", info)  # the machine the report was started on
    data["latest"] = info
    data["generated"] = datetime.datetime.now().isoformat(timespec="seconds")
    data["commit"] = _git_commit()
    data["command"] = " ".join(["python -m colourise_core"] + sys.argv[1:]) if sys.argv[0].endswith("__main__.py") else None
    store.save("hardware", data)


# ------------------------------------------------------------------------------------- models


def _set_info(opts: Options, set_name: str) -> tuple[str, list | None, bool]:
    """(dataset, classes, luma_matched) of a weight set."""
    entry = opts.manifest.get("sets", {}).get(set_name)
    dataset, classes = SET_DATA.get(set_name, (set_name, None))
    luma = True
    if entry:
        dataset, classes = entry["dataset"], entry["classes"]
        commands = " ".join(m.get("command", "") for m in entry["models"].values())
        luma = entry["luma_matched"] if "luma_matched" in entry else ("--luma-matched" in commands or not commands)
    return dataset, classes, luma


def _source(opts: Options, set_name: str, model: str) -> dict | None:
    """Where the `model` of `set_name` comes from: {"origin", "sha256", "path"}, or None.

    The shipped weights when the manifest lists them and the file is in the weights folder; in
    --quick, the Shape Set falls back to the quick timing runs (tiny models trained here).
    """
    entry = opts.manifest.get("sets", {}).get(set_name, {}).get("models", {}).get(model)
    if entry and (opts.weights_dir / entry["file"]).is_file():
        return {"origin": "shipped", "sha256": entry["sha256"], "path": str(opts.weights_dir / entry["file"])}
    if opts.quick and set_name == "shapes":
        run = _timing_dir(opts, model)
        weights_file = run / "model.weights.h5"
        if weights_file.is_file():
            digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
            return {"origin": "trained here (quick)", "sha256": digest, "path": str(run)}
    return None


def _load(opts: Options, set_name: str, model: str):
    """The model of a set (cached), or None when it is neither shipped nor trained here."""
    from colourise_core import training, weights
    from colourise_core.errors import WeightsError

    if (set_name, model) in opts.models:
        return opts.models[(set_name, model)]
    src = _source(opts, set_name, model)
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


def _resolution(opts: Options, set_name: str, model: str) -> int | None:
    """The training resolution of a set's model, read from its spec (no model is built)."""
    src = _source(opts, set_name, model)
    if src is None:
        return None
    if src["origin"] == "shipped":
        return opts.manifest["sets"][set_name]["models"][model]["spec"]["resolution"]
    return json.loads((Path(src["path"]) / "spec.json").read_text())["resolution"]


def _shas(opts: Options, set_name: str) -> dict:
    return {m: (s or {}).get("sha256") for m in MODELS for s in [_source(opts, set_name, m)]}


def _held_out(opts: Options, set_name: str, resolution: int, limit: int | None, seed: int = 0,
              classes=None, split: str = "test"):
    """The held-out images of a set at `resolution` (None when its archive is missing); cached."""
    from colourise_core.data import ShapeSetConfig, load_dataset

    cache_key = (set_name, resolution, limit, seed, tuple(classes or ()), split)
    if cache_key not in opts.datasets:
        opts.datasets[cache_key] = _held_out_uncached(opts, set_name, resolution, limit, seed, classes, split)
    return opts.datasets[cache_key]


def _held_out_uncached(opts: Options, set_name: str, resolution: int, limit, seed, classes, split):
    from colourise_core.data import ShapeSetConfig, load_dataset

    dataset, set_classes, luma = _set_info(opts, set_name)
    if dataset == "shapes":
        return load_dataset("shapes", split=split, limit=limit or 500, resolution=resolution, seed=seed,
                            shapes_config=ShapeSetConfig(luma_matched=luma))
    archive = opts.data_dir / ARCHIVES[dataset]
    if not archive.exists():
        return None
    return load_dataset(dataset, data=str(archive), split=split, classes=classes or set_classes,
                        resolution=resolution, limit=limit, seed=seed)


# ----------------------------------------------------------------------------------- training


def _train_config(opts: Options, model: str, **fields):
    """The TrainConfig of the training sections: CIFAR-10 Horse (full) or tiny Shape Set (quick)."""
    from colourise_core import training

    s = opts.settings
    if s.train_data == "shapes":
        base = dict(dataset="shapes", luma_matched=True, limit=s.train_limit)
    else:
        archive = opts.data_dir / ARCHIVES["cifar10"]
        if not archive.exists():
            raise FileNotFoundError(f"the CIFAR-10 archive {archive} is missing; pass --data-dir")
        base = dict(dataset="cifar10", data=str(archive), classes=("horse",), limit=s.train_limit)
    return training.TrainConfig(model=model, resolution=s.train_resolution, val_limit=s.val_limit, seed=0,
                                **base, **fields)


def _describe_training(opts: Options) -> str:
    """The training data of the timing and sweep sections, as configured (part of their cache keys)."""
    s = opts.settings
    if s.train_data == "shapes":
        return f"Shape Set (luma-matched), {s.train_limit} training-split images at {s.train_resolution} px"
    n = f"{s.train_limit}" if s.train_limit else "the 5,000"
    return f"CIFAR-10 Horse class ({n} training-split images), {s.train_resolution} px"


def _split_sizes(opts: Options, data: dict) -> dict:
    """How `training.make_datasets` splits the training data: {"train", "val", "val_from"} (cached in `data`)."""
    from colourise_core import training

    if not data.get("split"):
        train_set, val_set = training.make_datasets(_train_config(opts, "cnn").resolved())
        same = getattr(val_set, "dataset", None) is not None and getattr(val_set, "dataset", None) is getattr(train_set, "dataset", None)
        data["split"] = {"train": len(train_set), "val": len(val_set),
                         "val_from": "held back from the training split" if same else "the held-out split"}
    return data["split"]


def _describe_split(split: dict | None) -> str:
    if not split:
        return ""
    return (f"; `training.make_datasets` trains on {split['train']:,} of them and computes the validation loss on "
            f"{split['val']:,} images {split['val_from']}")


def _epoch_logger(label: str):
    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            shown = " ".join(f"{k} {v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss", "d_loss", "g_loss", "seconds"))
            log(f"  {label} epoch {epoch + 1}: {shown}")

    return EpochLog()


def _prebuild_optimizers():
    """A callback creating the optimizers' variables before the first step.

    Otherwise TensorFlow traces the first training step twice (once more when the optimizer
    creates its slots inside it): about 3 s more per run on a CPU, which would dominate the
    short runs of --quick. The maths is unchanged. (Recommended for `training.train` itself.)
    """
    import keras

    from colourise_core import training

    class PrebuildOptimizers(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if not any(opt.built for opt in training._optimizers(self.model)):
                training._build_optimizers(self.model)

    return PrebuildOptimizers()


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _epoch_seconds(history: list) -> list[float]:
    """Training seconds of each epoch (history 'seconds' is cumulative)."""
    cumulative = [h["seconds"] for h in history]
    return [b - a for a, b in zip([0.0] + cumulative[:-1], cumulative)]


def _timing_dir(opts: Options, model: str) -> Path:
    s = opts.settings
    tag = f"{s.train_data}-e{s.cgan_epochs}" if model == "cgan" else f"{s.train_data}-e{s.timing_max_epochs}-p{s.timing_patience}"
    return opts.work_dir / "timing" / f"{model}-{tag}"


def _gpu_figures(opts: Options, model: str) -> dict | None:
    """The shipped cifar10-horse run of `model`: epochs, seconds and hardware (manifest + export json)."""
    entry = opts.manifest.get("sets", {}).get("cifar10-horse", {}).get("models", {}).get(model)
    if not entry:
        return None
    out = {k: entry.get(k) for k in ("epochs", "best_epoch", "train_seconds", "hardware", "command", "driver")}
    export = opts.export_dir / "cifar10-horse" / f"{model}.json"
    if export.is_file():
        info = json.loads(export.read_text())
        out["wall_seconds"] = info.get("wall_seconds")
        seconds = _epoch_seconds(info.get("history", []))
        if len(seconds) > 1:
            out["median_epoch_seconds"] = statistics.median(seconds[1:])
    return out


def section_timing(opts: Options, store: Store) -> None:
    """Table 5.1: train each model on the training data to the stopping rule, timing it."""
    from colourise_core import training

    s = opts.settings
    data = store.load("timing")
    data.setdefault("models", {})
    data["data"] = _describe_training(opts)
    _split_sizes(opts, data)
    data["rule"] = (f"CNN and CVAE: early stopping when the validation loss has not improved for "
                    f"{s.timing_patience} epochs, at most {s.timing_max_epochs} epochs; CGAN: a fixed budget of "
                    f"{s.cgan_epochs} epochs (its validation generator loss does not settle, 5.1); every model "
                    f"also stops after the epoch that would pass {report.duration(s.timing_cap_s)} of wall time")
    for model in MODELS:
        patience = 0 if model == "cgan" else s.timing_patience
        epochs = s.cgan_epochs if model == "cgan" else s.timing_max_epochs
        key = {"data": data["data"], "epochs": epochs, "patience": patience, "cap": s.timing_cap_s}
        entry = data["models"].get(model)
        if _fresh(entry, key, opts.out):
            entry["gpu"] = _gpu_figures(opts, model)  # the manifest may have changed since
            continue
        log(f"timing: training {model} ({data['data']})")
        config = _train_config(opts, model, epochs=epochs, early_stopping=patience)
        run = _timing_dir(opts, model)
        load0, t0 = os.getloadavg()[0], time.time()
        result = training.train(config, run, callbacks=[_prebuild_optimizers(), training.StopAtDeadline(time.time() + s.timing_cap_s),
                                                         _epoch_logger(model)], resume=True)
        wall = time.time() - t0
        state = json.loads((run / "state.json").read_text())
        done, best = result.epochs_done, state["best"]
        if patience and best["wait"] >= patience:
            stopped = f"early stopping (no better validation loss for {_epochs(patience)})"
        elif done >= epochs:
            stopped = "epoch budget" if model == "cgan" else f"epoch cap ({epochs})"
        else:
            stopped = f"wall-clock cap ({report.duration(s.timing_cap_s)})"
        per_epoch = _epoch_seconds(result.history)
        median = statistics.median(per_epoch[1:]) if len(per_epoch) > 1 else (per_epoch[0] if per_epoch else None)
        gpu = _gpu_figures(opts, model)
        entry = {"key": key, "epochs": done, "best_epoch": best["epoch"], "stopped_by": stopped,
                 "train_seconds": result.train_seconds, "wall_seconds": wall, "first_epoch_seconds": per_epoch[0] if per_epoch else None,
                 "median_epoch_seconds": median, "batch_size": config.resolved().batch_size,
                 "load_average": [load0, os.getloadavg()[0]], "hardware": hardware_info()["summary"],
                 "projected_seconds_to_gpu_epochs": (median * gpu["epochs"]) if (gpu and median and gpu.get("epochs")) else None,
                 "history": [_slim(h) for h in result.history], "gpu": gpu}
        data["models"][model] = entry
        store.save("timing", data)
    store.save("timing", data)


_HISTORY_KEYS = ("epoch", "seconds", "loss", "val_loss", "d_loss", "g_loss", "val_d_loss", "val_g_loss",
                 "recon", "kl", "val_recon", "val_kl")


def _slim(logs: dict) -> dict:
    return {k: float(f"{float(logs[k]):.6g}") for k in _HISTORY_KEYS if k in logs}


def section_sweep(opts: Options, store: Store) -> None:
    """Tables 4.1 and 4.2: final loss and training time against the batch size."""
    from colourise_core import training

    s = opts.settings
    data = store.load("sweep")
    data.setdefault("rows", {})
    data["data"] = _describe_training(opts)
    _split_sizes(opts, data)
    data["epochs"] = s.sweep_epochs
    for model in ("cnn", "cvae"):
        for bs in s.sweep_batch_sizes:
            name = f"{model}-bs{bs}"
            key = {"data": data["data"], "epochs": s.sweep_epochs, "batch_size": bs}
            if _fresh(data["rows"].get(name), key, opts.out):
                continue
            log(f"sweep: {model} batch size {bs}, {s.sweep_epochs} epochs")
            config = _train_config(opts, model, epochs=s.sweep_epochs, batch_size=bs, early_stopping=0)
            run = opts.work_dir / "sweep" / f"{name}-{s.train_data}-e{s.sweep_epochs}"
            load0, t0 = os.getloadavg()[0], time.time()
            result = training.train(config, run, callbacks=[_prebuild_optimizers(), _epoch_logger(name)], resume=True)
            last = result.history[-1]
            per_epoch = _epoch_seconds(result.history)
            data["rows"][name] = {
                "key": key, "model": model, "batch_size": bs, "epochs": result.epochs_done,
                "final_loss": last["loss"], "final_val_loss": last.get("val_loss"),
                "train_seconds": result.train_seconds, "wall_seconds": time.time() - t0,
                "median_epoch_seconds": statistics.median(per_epoch[1:]) if len(per_epoch) > 1 else per_epoch[0],
                "load_average": [load0, os.getloadavg()[0]], "hardware": hardware_info()["summary"],
                "history": [_slim(h) for h in result.history]}
            store.save("sweep", data)
    store.save("sweep", data)


# ------------------------------------------------------------------------------------ figures


def _curve_panels(histories: dict, title_prefix: str):
    """One chart per model: train (solid) and validation (dashed) losses per epoch."""
    panels = []
    for model in MODELS:
        hist = histories.get(model)
        if not hist:
            continue
        x = [h["epoch"] for h in hist]
        if model == "cgan":
            names = {"D train": "d_loss", "G train": "g_loss", "D val": "val_d_loss", "G val": "val_g_loss"}
            dashed = ("D val", "G val")
        else:
            names = {"train": "loss", "validation": "val_loss"}
            dashed = ("validation",)
        series = {name: (x, [h.get(k) for h in hist]) for name, k in names.items()}
        ys = [y for _, v in series.values() for y in v if y is not None and y > 0]
        log_y = bool(ys) and max(ys) / min(ys) > 20
        ylabel = "BCE loss" if model == "cgan" else ("MSE (UV)" if model == "cnn" else "loss (eq. 4.5)")
        panels.append(report.line_chart(series, f"{title_prefix}{LABEL[model]}", ylabel=ylabel, log_y=log_y, dashed=dashed))
    return panels


def section_curves(opts: Options, store: Store) -> None:
    """Figure 5.1: the learning curves (shipped GPU runs; quick: the runs trained here)."""
    data = store.load("curves")
    timing = store.load("timing").get("models", {})
    here = {m: timing[m]["history"] for m in MODELS if m in timing}
    shipped = {}
    if not opts.quick:
        for model in MODELS:
            export = opts.export_dir / "cifar10-horse" / f"{model}.json"
            if export.is_file():
                info = json.loads(export.read_text())
                shipped[model] = {"history": [_slim(h) for h in info["history"]], "hardware": info.get("hardware"),
                                  "epochs": info.get("epochs"), "command": info.get("command")}
        if shipped:
            data["shipped"] = shipped  # the export folder is not committed: keep the numbers here
    figures = {}
    if data.get("shipped"):
        hist = {m: v["history"] for m, v in data["shipped"].items()}
        report.save_png(report.hstack(_curve_panels(hist, "")), opts.out / "figures" / "fig5_1_learning_curves.png")
        figures["shipped"] = "figures/fig5_1_learning_curves.png"
    if here:
        name = "fig5_1_learning_curves.png" if opts.quick else "fig5_1_learning_curves_cpu.png"
        report.save_png(report.hstack(_curve_panels(here, "")), opts.out / "figures" / name)
        figures["here"] = f"figures/{name}"
    data["figures"] = figures
    store.save("curves", data)


def _predict(model, rgb: np.ndarray) -> np.ndarray:
    """Predictions (N, R, R, 3) of a model on true images resized to its resolution."""
    from colourise_core import evaluation

    return evaluation.predict_rgb(model, _at(rgb, model.resolution))[0]


def _at(rgb: np.ndarray, resolution: int) -> np.ndarray:
    """A batch (N, r, r, 3) resized to resolution (no-op when equal)."""
    import cv2

    if rgb.shape[1] == resolution:
        return rgb
    method = cv2.INTER_AREA if rgb.shape[1] > resolution else cv2.INTER_CUBIC
    return np.clip(np.stack([cv2.resize(x, (resolution, resolution), interpolation=method) for x in rgb]), 0, 1)


def _grid_rows(opts: Options, set_name: str, true: np.ndarray):
    """Rows Grey, CNN, CGAN, CVAE, Truth for a batch of true images (missing models: None tiles)."""
    from colourise_core import metrics

    rows, labels = [list(metrics.grey_baseline(true))], ["Grey input"]
    for model in MODELS:
        net = _load(opts, set_name, model)
        rows.append(list(_predict(net, true)) if net is not None else [None] * len(true))
        labels.append(LABEL[model])
    rows.append(list(true))
    labels.append("Truth")
    return rows, labels


def section_shapes(opts: Options, store: Store) -> None:
    """Figure 5.2: Shape Set results on a fresh luma-matched seed, and hue accuracy per model."""
    from colourise_core.data import hue_accuracy
    from colourise_core.inference import predict_uv

    s = opts.settings
    data = store.load("shapes")
    figure = "figures/fig5_2_shapes.png"
    key = {"sha256": _shas(opts, "shapes"), "n": s.shapes_hue, "grid": s.shapes_grid, "seed": FRESH_SHAPES_SEED}
    if _fresh(data, key, opts.out, [figure]):
        return
    nets = {m: _load(opts, "shapes", m) for m in MODELS}
    resolution = next((n.resolution for n in nets.values() if n is not None), 64)
    log(f"shapes: {s.shapes_hue} fresh images at {resolution} px")
    ds = _held_out(opts, "shapes", resolution, s.shapes_hue, seed=FRESH_SHAPES_SEED)
    true = ds.load_all()
    from colourise_core.colour import rgb_to_yuv

    accuracy = {"truth": hue_accuracy(rgb_to_yuv(true)[..., 1:], ds.masks), "grey": 0.0}
    origin = {}
    for model, net in nets.items():
        if net is None:
            continue
        uv = predict_uv(net, _y(true, net.resolution))[0]  # (N, r, r, 2)
        accuracy[model] = hue_accuracy(uv, ds.masks if net.resolution == resolution else _masks_at(ds.masks, net.resolution))
        origin[model] = _source(opts, "shapes", model)["origin"]
    rows, labels = _grid_rows(opts, "shapes", true[: s.shapes_grid])
    image = report.image_grid(rows, labels, [f"#{i + 1}" for i in range(s.shapes_grid)], tile=64)
    report.save_png(image, opts.out / figure)
    data = {"key": key, "n": len(true), "resolution": resolution, "seed": FRESH_SHAPES_SEED, "luma_matched": _set_info(opts, "shapes")[2],
            "hue_accuracy": accuracy, "origin": origin, "figure": figure}
    store.save("shapes", data)


def _y(rgb: np.ndarray, resolution: int) -> np.ndarray:
    from colourise_core.colour import rgb_to_y

    return rgb_to_y(_at(rgb, resolution))


def _masks_at(masks: np.ndarray, resolution: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(m, (resolution, resolution), interpolation=cv2.INTER_NEAREST) for m in masks])


def _one_per_class(opts: Options, set_name: str, resolution: int, pool: int = 300):
    """One held-out image per class: the first of each class in a seeded random subset of `pool`
    images (all ten classes are in it unless a class is very rare). (rgb (C, r, r, 3), names) or None."""
    ds = _held_out(opts, set_name, resolution, pool, seed=0)
    if ds is None:
        return None
    labels = np.asarray(ds.labels)
    picks = [int(np.flatnonzero(labels == k)[0]) for k in range(len(ds.class_names)) if (labels == k).any()]
    return ds.load(picks), [ds.class_names[int(labels[i])] for i in picks]


GRIDS = {  # set -> (figure file, dissertation figure, tile px)
    "cifar10": ("fig5_3_cifar10.png", "Figure 5.3", 64),
    "cifar10-horse": ("fig5_3b_cifar10_horse.png", "Figure 5.3 (Horse class)", 64),
    "faces": ("fig5_4_faces.png", "Figure 5.4", 80),
    "imagenette": ("fig5_5_imagenette.png", "Figure 5.5", 80),
}


def section_grids(opts: Options, store: Store) -> None:
    """Figures 5.3-5.5: grey input / CNN / CGAN / CVAE / truth on held-out images per set."""
    s = opts.settings
    data = store.load("grids")
    data.setdefault("sets", {})
    for set_name, (fname, _, tile) in GRIDS.items():
        if set_name not in s.grid_sets:
            continue
        figure = f"figures/{fname}"
        shas = _shas(opts, set_name)
        if not any(shas.values()):
            data["sets"].pop(set_name, None)
            continue
        n = {"faces": s.faces_grid, "cifar10-horse": s.horse_grid}.get(set_name, "one per class")
        key = {"sha256": shas, "n": n}
        if _fresh(data["sets"].get(set_name), key, opts.out, [figure]):
            continue
        resolution = next(_resolution(opts, set_name, m) for m in MODELS if shas[m])
        log(f"grids: {set_name}")
        if set_name in ("cifar10", "imagenette"):
            picked = _one_per_class(opts, set_name, resolution)
            if picked is None:
                continue
            true, columns = picked
        else:
            ds = _held_out(opts, set_name, resolution, n, seed=0)
            if ds is None:
                continue
            true, columns = ds.load_all(), [f"#{i + 1}" for i in range(n)]
        rows, labels = _grid_rows(opts, set_name, true)
        report.save_png(report.image_grid(rows, labels, columns, tile=tile), opts.out / figure)
        data["sets"][set_name] = {"key": key, "figure": figure, "columns": columns, "resolution": resolution,
                                  "origin": {m: (_source(opts, set_name, m) or {}).get("origin") for m in MODELS}}
        store.save("grids", data)
    store.save("grids", data)


DIVERSITY_SETS = ("cifar10-frog-diverse", "cifar10", "cifar10-horse", "shapes")  # CVAEs for Figure 5.6, by preference


def section_diversity(opts: Options, store: Store) -> None:
    """Figure 5.6: several CVAE samples per image at temperatures 0.5, 1 and 2.

    The dissertation shows a CVAE trained on the Frog class with a re-weighted reconstruction
    loss; the shipped `cifar10-frog-diverse` set is that model. It is shown beside the
    unweighted (W = 1) CIFAR-10 CVAE on the same frog test images; without it, the first CVAE
    of DIVERSITY_SETS is shown alone.
    """
    from colourise_core import evaluation, metrics

    s = opts.settings
    data = store.load("diversity")
    figure = "figures/fig5_6_cvae_diversity.png"
    shown = [n for n in DIVERSITY_SETS if _source(opts, n, "cvae") is not None]
    if not shown:
        return
    if shown[0] == "cifar10-frog-diverse" and "cifar10" in shown and not opts.quick:
        shown = ["cifar10-frog-diverse", "cifar10"]
    else:
        shown = shown[:1]
    if len({_resolution(opts, n, "cvae") for n in shown}) > 1:
        shown = shown[:1]
    first = shown[0]
    dataset, classes, _ = _set_info(opts, first)
    if dataset == "cifar10" and not classes:
        classes = ["frog"]
    key = {"sets": shown, "sha256": [_source(opts, n, "cvae")["sha256"] for n in shown], "n": s.diversity_images,
           "samples": s.diversity_samples, "temperatures": TEMPERATURES, "classes": classes}
    if _fresh(data, key, opts.out, [figure]):
        return
    nets = {n: _load(opts, n, "cvae") for n in shown}
    if any(net is None for net in nets.values()):
        return
    log(f"diversity: {', '.join(shown)} CVAE")
    resolution = nets[first].resolution
    seed = FRESH_SHAPES_SEED if first == "shapes" else 0
    ds = _held_out(opts, first, resolution, s.diversity_images, seed=seed, classes=classes)
    if ds is None:
        return
    true = ds.load_all()
    rows, labels, per_model = [], [], {}
    outputs = {}
    for name in shown:
        net = nets[name]
        mean = evaluation.predict_rgb(net, true)[0]
        samples = {t: evaluation.predict_rgb(net, true, samples=s.diversity_samples, temperature=t, seed=1) for t in TEMPERATURES}
        outputs[name] = (mean, samples)
        per_model[name] = {"recon_weight": net.recon_weight,
                           "mean_pairwise_distance": {str(t): metrics.mean_pairwise_distance(samples[t]) for t in TEMPERATURES}}
    for i in range(len(true)):
        for name in shown:
            mean, samples = outputs[name]
            row = [metrics.grey_baseline(true[i]), mean[i]]
            for t in TEMPERATURES:
                row += [samples[t][k, i] for k in range(s.diversity_samples)]
            rows.append(row + [true[i]])
            labels.append(f"#{i + 1}  W={nets[name].recon_weight:g}")
    columns = ["Grey", "T=0"] + [f"T={t:g}" for t in TEMPERATURES for _ in range(s.diversity_samples)] + ["Truth"]
    tile = 64 if resolution <= 64 else 80
    report.save_png(report.image_grid(rows, labels, columns, tile=tile), opts.out / figure)
    data = {"key": key, "sets": shown, "classes": classes, "figure": figure, "models": per_model}
    store.save("diversity", data)


# ------------------------------------------------------------------------------------ metrics


def _cvae_sample_metrics(net, ds, n: int, batch: int = 32) -> dict:
    """Best-of-8 UV MSE and the mean pairwise distance of 8 samples, per temperature."""
    from colourise_core import evaluation, metrics

    sums = {str(t): {"best_of_8_uv_mse": 0.0, "mean_pairwise_distance": 0.0} for t in TEMPERATURES}
    mean_mse = 0.0
    for start in range(0, n, batch):
        idx = np.arange(start, min(n, start + batch))
        true = ds.load(idx)
        mean_mse += metrics.uv_mse(evaluation.predict_rgb(net, true)[0], true) * len(idx)
        for t in TEMPERATURES:
            smp = evaluation.predict_rgb(net, true, samples=BEST_OF, temperature=t, seed=start)  # (8, B, R, R, 3)
            sums[str(t)]["best_of_8_uv_mse"] += metrics.best_of_n_uv_mse(smp, true) * len(idx)
            sums[str(t)]["mean_pairwise_distance"] += metrics.mean_pairwise_distance(smp) * len(idx)
    return {t: {k: v / n for k, v in d.items()} for t, d in sums.items()} | {"n": n, "mean_uv_mse": mean_mse / n}


def section_metrics(opts: Options, store: Store) -> None:
    """Full metrics per data set and model on held-out images, beside the all-grey baseline."""
    from colourise_core import evaluation

    s = opts.settings
    data = store.load("metrics")
    data.setdefault("sets", {})
    extra = [] if opts.quick else [n for n in opts.manifest.get("sets", {}) if n not in s.metric_sets]
    for set_name in list(s.metric_sets) + extra:
        shas = _shas(opts, set_name)
        if not any(shas.values()):
            continue
        entry = data["sets"].setdefault(set_name, {"models": {}})
        for model in MODELS:
            if not shas[model]:
                entry["models"].pop(model, None)
                continue
            limit = s.eval_limit_large if _resolution(opts, set_name, model) >= 128 else s.eval_limit
            key = {"sha256": shas[model], "limit": limit, "sample_limit": s.sample_limit if model == "cvae" else None}
            if _fresh(entry["models"].get(model), key, opts.out):
                continue
            net = _load(opts, set_name, model)
            if net is None:
                entry["models"].pop(model, None)
                continue
            ds = _held_out(opts, set_name, net.resolution, limit, seed=0)
            if ds is None:
                break
            log(f"metrics: {set_name} {model} on {min(limit, len(ds))} held-out images")
            t0 = time.time()
            result = evaluation.evaluate_model(net, ds, batch_size=64 if net.resolution >= 128 else 256, full=True, limit=limit)
            row = {"key": key, **{k: v for k, v in result.items() if k != "baseline"}}
            if model == "cvae":
                row["samples"] = _cvae_sample_metrics(net, ds, min(s.sample_limit, len(ds)))
            row["seconds"] = time.time() - t0
            row["origin"] = _source(opts, set_name, model)["origin"]
            entry["models"][model] = row
            entry.update(n=result["n"], baseline=result["baseline"], truth_colourfulness=result["truth_colourfulness"],
                         resolution=net.resolution, split="val" if _set_info(opts, set_name)[0] == "imagenette" else "test")
            store.save("metrics", data)
        if not entry["models"]:
            data["sets"].pop(set_name, None)
    store.save("metrics", data)


# ----------------------------------------------------------------------------------- Markdown


def _sweep_table(rows: dict, model: str, paper) -> tuple[str, list]:
    ours = {r["batch_size"]: r for r in rows.values() if r["model"] == model}
    paper = {bs: (loss, t) for bs, loss, t in paper}
    sizes = sorted(set(ours) | set(paper), reverse=True)
    ref_paper = paper.get(max(paper)) if paper else None
    ref_ours = ours.get(max(ours)) if ours else None
    table = []
    for bs in sizes:
        p, o = paper.get(bs), ours.get(bs)
        table.append([
            bs, p[0] if p else None, report.duration(p[1]) if p else None,
            f"{p[1] / ref_paper[1]:.2f}x" if p else None,
            o["final_loss"] if o else None, o["final_val_loss"] if o else None,
            report.duration(o["train_seconds"]) if o else None,
            f"{o['train_seconds'] / ref_ours['train_seconds']:.2f}x" if o else None,
            f"{o['median_epoch_seconds']:.1f}" if o else None,
        ])
    headers = ["batch size", f"dissertation: loss after {DISSERTATION_EPOCHS} epochs", "dissertation: time",
               "dissertation: time vs largest batch", f"here: final train loss", "here: final val loss",
               "here: training time", "here: time vs largest batch", "here: s/epoch"]
    return report.md_table(headers, table), [ours[b] for b in sorted(ours, reverse=True)]


def _trend(rows: list, field: str) -> str:
    """Whether a quantity falls monotonically as the batch shrinks, in words."""
    values = [r[field] for r in rows]
    if len(values) < 2:
        return "too few rows to tell"
    falls = all(b <= a for a, b in zip(values, values[1:]))
    rises = all(b >= a for a, b in zip(values, values[1:]))
    return "falls monotonically" if falls else ("rises monotonically" if rises else "is not monotonic")


def write_markdown(opts: Options, store: Store) -> Path:
    """Assemble `<out>/report.md` from the cached section results."""
    s = opts.settings
    hw = store.load("hardware")
    timing, sweep, curves = store.load("timing"), store.load("sweep"), store.load("curves")
    shapes, grids, diversity, metrics = store.load("shapes"), store.load("grids"), store.load("diversity"), store.load("metrics")
    latest = hw.get("latest", {})
    md = ["# Reproducing the dissertation's evaluation" + (" (quick run)" if opts.quick else ""), ""]
    md += [f"Generated by `python -m colourise_core reproduce{' --quick' if opts.quick else ''}` "
           f"(commit {hw.get('commit') or 'unknown'}, {hw.get('generated', '')}). Every table and figure below stands "
           "beside the dissertation's own number or caption (*Deep Learning Methods to Solve the Inverse Problem of "
           "Artificial Image Colourisation*, Glasgow 2020; its figures were lost in the text, their captions remain). "
           "The numbers behind each section are in `data/<section>.json`.", ""]
    if opts.quick:
        md += ["**Quick run:** tiny Shape Set training data, a few epochs, a handful of evaluation images. The numbers "
               "show that the pipeline works, not how well the models colourise; see the full report for that.", ""]
    md += ["## Hardware", "", f"- This machine: {latest.get('summary', '–')}."]
    first = hw.get("first", {})
    if first and first.get("summary") != latest.get("summary"):
        md.append(f"- The report was started on: {first.get('summary')}.")
    trained_on = {}
    for set_name, entry in opts.manifest.get("sets", {}).items():
        for m in entry["models"].values():
            trained_on.setdefault(m.get("hardware") or "unknown hardware", set()).add(set_name)
    md += ["- Shipped weights (`weights/manifest.json`): " + ("; ".join(
        f"{hw}: {', '.join(sorted(names))}" for hw, names in trained_on.items()) or "none") + ". The GPU sets were "
           "trained by `scripts/train_sets.py`, five sets at once on the one GPU, each model given a third of a 420 s "
           "budget per set.",
           "- Dissertation: Google Colab's hosted GPU runtime (3.4).", ""]

    # Tables 4.1 and 4.2
    md += ["## Tables 4.1 and 4.2: batch size against final loss and training time", ""]
    if sweep.get("rows"):
        md += [f"Measured here on {sweep['data']}{_describe_split(sweep.get('split'))}, **{sweep['epochs']} epochs per row** (the dissertation ran "
               f"{DISSERTATION_EPOCHS} epochs per row; {sweep['epochs']} keeps the sweep within the time this shared "
               "CPU allows). Training time is the sum of the epochs' training passes (validation excluded). The "
               "absolute losses are not comparable with the dissertation's: the CNN's is the MSE of U and V in raw "
               "BT.601 units, and the CVAE's is equation 4.5 with a *mean* squared error plus the KL term, whereas the "
               "dissertation's CVAE losses (15.66 at batch 1024) are on another scale, presumably summed rather than "
               "averaged over the pixels. The trends are what to compare; "
               "the \"time vs largest batch\" columns put both on one scale.", ""]
        for model, paper, name in (("cnn", TABLE_4_1, "Table 4.1 (CNN)"), ("cvae", TABLE_4_2, "Table 4.2 (CVAE)")):
            table, rows = _sweep_table(sweep["rows"], model, paper)
            md += [f"### {name}", "", table, ""]
            if rows:
                md += [f"Here, as the batch shrinks, the final training loss {_trend(rows, 'final_loss')} and the training "
                       f"time {_trend(rows, 'train_seconds')}; in the dissertation the loss falls and the time rises "
                       "monotonically.", ""]
    else:
        md += ["Not run yet (section `sweep`).", ""]

    # Table 5.1
    md += ["## Table 5.1: training time on the CIFAR-10 Horse class", ""]
    if timing.get("models"):
        md += [f"Measured here on {timing['data']}{_describe_split(timing.get('split'))}. **Stopping rule:** {timing['rule']}. Batch sizes are the "
               "dissertation's (512 CNN and CGAN, 32 CVAE). Training time sums the epochs' training passes; wall time "
               "adds validation, data loading and graph tracing. The projection multiplies this machine's median epoch "
               "time by the number of epochs the shipped GPU run trained.", ""]
        rows = []
        for model in MODELS:
            t = timing["models"].get(model)
            if not t:
                continue
            gpu = t.get("gpu") or {}
            rows.append([LABEL[model], report.duration(TABLE_5_1[model]),
                         f"{report.duration(gpu.get('train_seconds'))} ({gpu.get('epochs', '–')} epochs)" if gpu else None,
                         f"{report.duration(t['train_seconds'])} ({t['epochs']} epochs)", report.duration(t["wall_seconds"]),
                         t["stopped_by"], f"{t['median_epoch_seconds']:.2f}" if t.get("median_epoch_seconds") else None,
                         f"{gpu['median_epoch_seconds']:.2f}" if gpu.get("median_epoch_seconds") else None,
                         report.duration(t.get("projected_seconds_to_gpu_epochs"))])
        md += [report.md_table(["model", "dissertation (Colab GPU)", "shipped weights (H200 GPU)", "here: training time",
                                "here: wall time", "here: stopped by", "here: s/epoch", "H200: s/epoch",
                                "here: projected to the GPU run's epochs"], rows), ""]
        gpu_cmd = next((t["gpu"] for t in timing["models"].values() if t.get("gpu")), None)
        if gpu_cmd:
            md += [f"The shipped runs' rule: early stopping with patience 25 on the validation loss for the CNN and "
                   "the CVAE, none for the CGAN, all within a wall-clock budget (each model a third of 420 s, five sets "
                   f"sharing the GPU), so the GPU figures are budget-bound rather than converged. Driver: `{gpu_cmd.get('driver')}`.", ""]
        md += [f"Hardware here: {next(iter(timing['models'].values())).get('hardware', '–')}; load average during the "
               "runs (other jobs share this CPU): " + ", ".join(
                   f"{LABEL[m]} {t['load_average'][0]:.1f}-{t['load_average'][1]:.1f}" for m, t in timing["models"].items()) + ".", ""]
        ranking = sorted(TABLE_5_1, key=TABLE_5_1.get)
        ours = {m: t.get("median_epoch_seconds") or 0 for m, t in timing["models"].items()}
        totals = {m: t.get("train_seconds") or 0 for m, t in timing["models"].items()}
        if len(ours) == 3:
            md += [f"Fastest to slowest. Dissertation, total time: {', '.join(LABEL[m] for m in ranking)}. Here, total "
                   f"time (to the rule above): {', '.join(LABEL[m] for m in sorted(totals, key=totals.get))}; per epoch: "
                   f"{', '.join(LABEL[m] for m in sorted(ours, key=ours.get))}. A CGAN step trains the discriminator "
                   "twice (real, generated) and the generator once through the discriminator, after a generator "
                   "forward pass; the CVAE's epoch has the most steps (batch 32) but the lightest ones.", ""]
    else:
        md += ["Not run yet (section `timing`).", ""]

    # Figure 5.1
    md += ["## Figure 5.1: learning curves", "",
           "> *Figure 5.1: Learning curves of each model when trained on the Horse class of Cifar-10.*", ""]
    figs = curves.get("figures", {})
    if figs.get("shipped"):
        shipped = curves.get("shipped", {})
        epochs = ", ".join(f"{LABEL[m]} {v.get('epochs')} epochs" for m, v in shipped.items())
        md += [f"Shipped weights (cifar10-horse set, {epochs}, "
               "H200): train loss solid, validation dashed; CGAN discriminator (D) and generator (G) losses.", "",
               f"![Figure 5.1]({figs['shipped']})", ""]
    if figs.get("here"):
        md += [f"{'The quick runs' if opts.quick else 'The Table 5.1 runs on this CPU'} ({timing.get('data', '')}):", "",
               f"![Figure 5.1, this machine]({figs['here']})", ""]
    if not figs:
        md += ["Not available (section `curves`).", ""]

    # Figure 5.2
    md += ["## Figure 5.2: the Shape Set", "", "> *Figure 5.2: Trained CNN results on unseen Shape Set images.*", ""]
    if shapes.get("figure"):
        acc = shapes["hue_accuracy"]
        md += [f"Fresh luma-matched Shape Set images (seed {shapes['seed']}, {shapes['resolution']} px; luma-matched: "
               "every colour's shades share one luma range, so only the shape tells the colour). Rows: grey input, "
               "CNN, CGAN, CVAE, truth. Hue accuracy: the share of shape pixels whose predicted hue is nearest the "
               f"shape's own hue (grey predictions count as wrong), on {shapes['n']} images.", "",
               f"![Figure 5.2]({shapes['figure']})", "",
               report.md_table(["", "grey input", "CNN", "CGAN", "CVAE", "truth"],
                               [["hue accuracy"] + [acc.get(k) for k in ("grey", "cnn", "cgan", "cvae", "truth")]]), ""]
        if any(o != "shipped" for o in shapes.get("origin", {}).values()):
            md += [f"Models: {', '.join(f'{LABEL[m]} {o}' for m, o in shapes['origin'].items())}.", ""]
    else:
        md += ["Not available: no Shape Set weights (section `shapes`).", ""]

    # Figures 5.3-5.5
    md += ["## Figures 5.3-5.5: results per data set", "",
           "Rows: grey input, CNN, CGAN, CVAE (at its mean, temperature 0), truth; held-out images the models never saw. "
           "The dissertation trained one model per class; the shipped CIFAR-10 and Imagenette models are trained on all "
           "ten classes (plus a Horse-only CIFAR-10 set, shown separately).", ""]
    captions = {"cifar10": "*Figure 5.3: Results on unseen Cifar-10 images from models trained for each specific class.*",
                "cifar10-horse": "*Figure 5.3, Horse class only (the weights of Table 5.1).*",
                "faces": "*Figure 5.4: Trained model results on unseen Face images.*",
                "imagenette": "*Figure 5.5: Results on unseen Imagenette images from models trained for each specific class.*"}
    for set_name, (fname, fig_name, _) in GRIDS.items():
        g = grids.get("sets", {}).get(set_name)
        md += [f"### {fig_name}: {set_name}", "", f"> {captions[set_name]}", ""]
        if g:
            missing = [LABEL[m] for m, o in g["origin"].items() if not o]
            what = "one held-out image per class" if set_name in ("cifar10", "imagenette") else "held-out images"
            md += [f"{what.capitalize()} ({g['resolution']} px)" + (f"; not shipped yet: {', '.join(missing)}" if missing else "") + ".", "",
                   f"![{fig_name}]({g['figure']})", ""]
        else:
            md += ["Not available: the weights (or the data archive) are missing.", ""]

    # Figure 5.6
    md += ["## Figure 5.6: CVAE diversity", "",
           "> *Figure 5.6: Multiple outputs which a CVAE produced for unseen Cifar-10 images. The CVAE was trained with a "
           "low-weighted reconstruction loss to increase the diversity of each sample.*", ""]
    if diversity.get("figure") and diversity.get("models"):
        described = "; ".join(f"`{n}` (reconstruction weight W = {m['recon_weight']:g})" for n, m in diversity["models"].items())
        md += [f"Shipped CVAEs: {described}"
               + (f", on {', '.join(diversity['classes'])} test images" if diversity.get("classes") else "")
               + f". Per row: grey input, the mean (T=0), {s.diversity_samples} samples at each temperature, truth. "
                 "W multiplies the reconstruction term of equation 4.5 (a *mean* squared error here), so a large W "
                 "plays the part of the dissertation's re-weighted loss against the KL term.", "",
               f"![Figure 5.6]({diversity['figure']})", "",
               "Mean pairwise RMS UV distance between the samples of an image (0 = all samples alike):", "",
               report.md_table(["CVAE", "W"] + [f"T={t:g}" for t in TEMPERATURES],
                               [[n, m["recon_weight"]] + [m["mean_pairwise_distance"][str(t)] for t in TEMPERATURES]
                                for n, m in diversity["models"].items()]), ""]
    else:
        md += ["Not available: no CVAE weights (section `diversity`).", ""]

    # Metrics
    md += _metrics_markdown(metrics, s)

    md += ["## How this report was made", "",
           f"- Command: `python -m colourise_core reproduce{' --quick' if opts.quick else ''} --out {opts.out}`; it resumes, "
           "skipping every item whose results are in `data/`; `--redo SECTION` recomputes one.",
           f"- Training sections: {_describe_training(opts)}; seed 0; the library's trainer (`colourise_core.training.train`).",
           "- Metrics: `colourise_core.evaluation.evaluate_model(full=True)` and `colourise_core.metrics`."]
    md += [f"- Note: {n}" for n in opts.notes]
    path = opts.out / "report.md"
    tmp = path.with_name(f".report.md.{os.getpid()}.tmp")
    tmp.write_text("\n".join(md) + "\n")
    os.replace(tmp, path)
    return path


def _metrics_markdown(metrics: dict, s: Settings) -> list[str]:
    md = ["## Metrics on held-out images", ""]
    sets = metrics.get("sets", {})
    if not sets:
        return md + ["Not run yet (section `metrics`).", ""]
    md += ["Per data set: each model (the CVAE at its mean, temperature 0) beside the all-grey baseline (the input's "
           "luma, U = V = 0). UV MSE in raw BT.601 units; PSNR of RGB in dB; SSIM (Wang et al. 2004, RGB mean); "
           "colourfulness of Hasler and Süsstrunk (2003) and its gap to the truth (negative: duller); AUC: area under "
           "the per-pixel UV-error CDF for thresholds 0-150 (0-255 scale), normalised to 1 (as Zhang et al. 2016 do "
           "for ab); within 5: the share of pixels whose UV error is at most 5 levels. ↑ higher is better, ↓ lower. "
           f"Evaluated images per set: up to {s.eval_limit} (32 and 64 px sets) and {s.eval_limit_large} (128 px sets), "
           "a seeded random subset of the held-out split (test; Imagenette: val).", ""]
    headers = ["set (split, images)", "model", "UV MSE ↓", "UV MSE / grey's", "PSNR ↑", "SSIM ↑", "colourfulness",
               "gap ↑ (0 best)", "AUC ↑", "within 5 ↑"]
    rows, worse = [], []
    for set_name, entry in sets.items():
        where = f"{set_name} ({entry.get('split')}, {entry.get('n')}, {entry.get('resolution')} px)"
        base = entry.get("baseline", {})
        rows.append([where, "grey baseline", base.get("uv_mse"), "1.00x", base.get("psnr"), base.get("ssim"),
                     base.get("colourfulness"), base.get("colourfulness_gap"), base.get("auc"), base.get("within_5")])
        for model in MODELS:
            r = entry["models"].get(model)
            if r:
                ratio = r["uv_mse"] / base["uv_mse"] if base.get("uv_mse") else None
                if ratio is not None and ratio > 1:
                    worse.append(f"{LABEL[model]} on {set_name} ({ratio:.2f}x)")
                rows.append([where, LABEL[model] + ("" if r.get("origin") == "shipped" else f" ({r.get('origin')})"),
                             r["uv_mse"], f"{ratio:.2f}x" if ratio is not None else None, r["psnr"], r["ssim"],
                             r["colourfulness"], r["colourfulness_gap"], r["auc"], r["within_5"]])
        rows.append([where, "truth", 0.0, "0.00x", None, 1.0, entry.get("truth_colourfulness"), 0.0, 1.0, 1.0])
    md += [report.md_table(headers, rows), ""]
    if worse:
        md += [f"Worse than the grey baseline in UV MSE: {', '.join(worse)}. The dissertation reports the CGAN's "
               "over-saturated, misplaced colours (5.4.2); a UV MSE above the grey image's means the colours it adds are "
               "on average further from the truth than no colour at all.", ""]
    cvae = [(n, e["models"]["cvae"]) for n, e in sets.items() if "cvae" in e["models"]]
    if cvae:
        md += [f"CVAE samples: best-of-{BEST_OF} UV MSE (per image the closest of {BEST_OF} samples) and the mean pairwise "
               f"RMS UV distance between the {BEST_OF} samples, per temperature (first {s.sample_limit} images of each set).", ""]
        rows = []
        for set_name, r in cvae:
            smp = r.get("samples", {})
            rows.append([set_name, smp.get("n"), smp.get("mean_uv_mse")] + [smp.get(str(t), {}).get("best_of_8_uv_mse") for t in TEMPERATURES]
                        + [smp.get(str(t), {}).get("mean_pairwise_distance") for t in TEMPERATURES])
        md += [report.md_table(["set", "images", "UV MSE (mean, T=0)"] + [f"best-of-8 UV MSE, T={t:g}" for t in TEMPERATURES]
                               + [f"pairwise distance, T={t:g}" for t in TEMPERATURES], rows), ""]
    return md


# ----------------------------------------------------------------------------------------- run


RUNNERS = {"hardware": section_hardware, "timing": section_timing, "curves": section_curves, "shapes": section_shapes,
           "grids": section_grids, "diversity": section_diversity, "metrics": section_metrics, "sweep": section_sweep}


def run(opts: Options) -> Path:
    """Run the chosen sections (skipping what is cached) and write the report.

    Returns:
        The path of `report.md`.
    """
    from colourise_core import weights

    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "figures").mkdir(exist_ok=True)
    try:
        opts.manifest = weights.read_manifest(opts.weights_dir)
    except Exception as e:  # noqa: BLE001 - a missing manifest only removes the shipped-weights parts
        opts.manifest = {}
        opts.notes.append(f"no usable weights manifest in {opts.weights_dir} ({e})")
    store = Store(opts.out, opts.redo)
    for name in SECTIONS:
        if name not in opts.sections:
            continue
        t0, c0 = time.time(), time.process_time()
        try:
            RUNNERS[name](opts, store)
        except FileNotFoundError as e:
            opts.notes.append(f"section {name} skipped: {e}")
            log(f"{name}: skipped ({e})")
            continue
        log(f"{name}: done in {time.time() - t0:.1f} s (CPU {time.process_time() - c0:.1f} s)")
    return write_markdown(opts, store)


def cmd_reproduce(args) -> int:
    """The `reproduce` sub-command."""
    quick = bool(args.quick)
    settings = QUICK if quick else FULL
    overrides = {k: v for k, v in (("sweep_epochs", args.sweep_epochs), ("eval_limit", args.eval_limit),
                                   ("sweep_batch_sizes", tuple(args.batch_sizes) if args.batch_sizes else None)) if v is not None}
    if overrides:
        settings = dataclasses.replace(settings, **overrides)
    out = Path(args.out or ("reports/quick" if quick else "reports"))
    work = Path(args.work_dir) if args.work_dir else REPO / "runs" / "reproduce" / ("quick" if quick else "full")
    unknown = [s for s in (args.sections or []) + (args.redo or []) if s not in SECTIONS]
    if unknown:
        print(f"error: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    opts = Options(out=out, quick=quick, data_dir=Path(args.data_dir), weights_dir=Path(args.weights_dir),
                   work_dir=work, export_dir=Path(args.export_dir), sections=tuple(args.sections or SECTIONS),
                   redo=tuple(args.redo or ()), settings=settings)
    t0 = time.time()
    path = run(opts)
    print(f"report: {path} ({time.time() - t0:.1f} s)")
    return 0


def register_cli(subparsers) -> argparse.ArgumentParser:
    """Add `reproduce` to the CLI's sub-commands."""
    from colourise_core import weights

    p = subparsers.add_parser("reproduce", help="regenerate the dissertation's tables and figures as a Markdown report",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny data and few epochs (under two minutes on a CPU)")
    p.add_argument("--out", default=None, help="report folder (default reports/, or reports/quick/ with --quick)")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="folder with cifar10.zip, faces-128.zip, imagenette-128.zip")
    p.add_argument("--weights-dir", default=str(weights.resolve_weights_dir()), help="folder with manifest.json and the shipped weights")
    p.add_argument("--work-dir", default=None, help="run folders of the training sections (default runs/reproduce/full|quick)")
    p.add_argument("--export-dir", default=str(DEFAULT_EXPORT_DIR), help="the shipped runs' export folder (training histories)")
    p.add_argument("--sections", nargs="+", default=None, metavar="SECTION", help=f"run only these ({', '.join(SECTIONS)})")
    p.add_argument("--redo", nargs="+", default=None, metavar="SECTION", help="recompute these sections instead of resuming")
    p.add_argument("--sweep-epochs", type=int, default=None, help="epochs per batch-size row (full: 5; the dissertation: 100)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="batch sizes of Tables 4.1/4.2")
    p.add_argument("--eval-limit", type=int, default=None, help="held-out images per 32/64 px set for the metrics")
    p.set_defaults(func=cmd_reproduce)
    return p
