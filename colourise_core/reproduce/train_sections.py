"""The sections that train: Table 5.1 (timing) and Tables 4.1/4.2 (sweep)."""

from __future__ import annotations

import json
import os
import statistics
import time

from colourise_core import hardware
from colourise_core.family_names import FIXED_BUDGET_FAMILIES
from colourise_core.reproduce import report
from colourise_core.run_folder import RunFolder
from colourise_core.reproduce.common import (
    ARCHIVES, MODELS, SWEEP_TABLES, Options, Store, fresh, log, timing_dir,
)

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


def describe_training(opts: Options) -> str:
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


def describe_split(split: dict | None) -> str:
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


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _epoch_seconds(history: list) -> list[float]:
    """Training seconds of each epoch (history 'seconds' is cumulative)."""
    cumulative = [h["seconds"] for h in history]
    return [b - a for a, b in zip([0.0] + cumulative[:-1], cumulative)]




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


def _section_data(opts: Options, store: Store, section: str, items: str) -> dict:
    """A training section's stored results (`items`: per model or row), with this run's data described."""
    data = store.load(section)
    data.setdefault(items, {})
    data["data"] = describe_training(opts)
    _split_sizes(opts, data)
    return data


def section_timing(opts: Options, store: Store) -> None:
    """Table 5.1: train each model on the training data to the stopping rule, timing it."""
    from colourise_core import training

    s = opts.settings
    data = _section_data(opts, store, "timing", "models")
    data["rule"] = (f"CNN and CVAE: early stopping when the validation loss has not improved for "
                    f"{s.timing_patience} epochs, at most {s.timing_max_epochs} epochs; CGAN: a fixed budget of "
                    f"{s.cgan_epochs} epochs (its validation generator loss does not settle, 5.1); every model "
                    f"also stops after the epoch that would pass {report.duration(s.timing_cap_s)} of wall time")
    for model in MODELS:
        patience = 0 if model in FIXED_BUDGET_FAMILIES else s.timing_patience
        epochs = s.cgan_epochs if model in FIXED_BUDGET_FAMILIES else s.timing_max_epochs
        key = {"data": data["data"], "epochs": epochs, "patience": patience, "cap": s.timing_cap_s}
        entry = data["models"].get(model)
        if fresh(entry, key, opts.out):
            entry["gpu"] = _gpu_figures(opts, model)  # the manifest may have changed since
            continue
        log(f"timing: training {model} ({data['data']})")
        config = _train_config(opts, model, epochs=epochs, early_stopping=patience)
        run = timing_dir(opts, model)
        load0, t0 = os.getloadavg()[0], time.time()
        result = training.train(config, run, callbacks=[training.StopAtDeadline(time.time() + s.timing_cap_s),
                                                         _epoch_logger(model)], resume=True)
        wall = time.time() - t0
        state = RunFolder(run).read(RunFolder.STATE)
        done, best = result.epochs_done, state["best"]
        if patience and best["wait"] >= patience:
            stopped = f"early stopping (no better validation loss for {_epochs(patience)})"
        elif done >= epochs:
            stopped = "epoch budget" if model in FIXED_BUDGET_FAMILIES else f"epoch cap ({epochs})"
        else:
            stopped = f"wall-clock cap ({report.duration(s.timing_cap_s)})"
        per_epoch = _epoch_seconds(result.history)
        median = statistics.median(per_epoch[1:]) if len(per_epoch) > 1 else (per_epoch[0] if per_epoch else None)
        gpu = _gpu_figures(opts, model)
        entry = {"key": key, "epochs": done, "best_epoch": best["epoch"], "stopped_by": stopped,
                 "train_seconds": result.train_seconds, "wall_seconds": wall, "first_epoch_seconds": per_epoch[0] if per_epoch else None,
                 "median_epoch_seconds": median, "batch_size": config.resolved().batch_size,
                 "load_average": [load0, os.getloadavg()[0]], "hardware": hardware.describe()["summary"],
                 "projected_seconds_to_gpu_epochs": (median * gpu["epochs"]) if (gpu and median and gpu.get("epochs")) else None,
                 "history": [slim_logs(h) for h in result.history], "gpu": gpu}
        data["models"][model] = entry
        store.save("timing", data)
    store.save("timing", data)


_HISTORY_KEYS = ("epoch", "seconds", "loss", "val_loss", "d_loss", "g_loss", "val_d_loss", "val_g_loss",
                 "recon", "kl", "val_recon", "val_kl")


def slim_logs(logs: dict) -> dict:
    return {k: float(f"{float(logs[k]):.6g}") for k in _HISTORY_KEYS if k in logs}


def section_sweep(opts: Options, store: Store) -> None:
    """Tables 4.1 and 4.2: final loss and training time against the batch size."""
    from colourise_core import training

    s = opts.settings
    data = _section_data(opts, store, "sweep", "rows")
    data["epochs"] = s.sweep_epochs
    for model in SWEEP_TABLES:
        for bs in s.sweep_batch_sizes:
            name = f"{model}-bs{bs}"
            key = {"data": data["data"], "epochs": s.sweep_epochs, "batch_size": bs}
            if fresh(data["rows"].get(name), key, opts.out):
                continue
            log(f"sweep: {model} batch size {bs}, {s.sweep_epochs} epochs")
            config = _train_config(opts, model, epochs=s.sweep_epochs, batch_size=bs, early_stopping=0)
            run = opts.work_dir / "sweep" / f"{name}-{s.train_data}-e{s.sweep_epochs}"
            load0, t0 = os.getloadavg()[0], time.time()
            result = training.train(config, run, callbacks=[_epoch_logger(name)], resume=True)
            last = result.history[-1]
            per_epoch = _epoch_seconds(result.history)
            data["rows"][name] = {
                "key": key, "model": model, "batch_size": bs, "epochs": result.epochs_done,
                "final_loss": last["loss"], "final_val_loss": last.get("val_loss"),
                "train_seconds": result.train_seconds, "wall_seconds": time.time() - t0,
                "median_epoch_seconds": statistics.median(per_epoch[1:]) if len(per_epoch) > 1 else per_epoch[0],
                "load_average": [load0, os.getloadavg()[0]], "hardware": hardware.describe()["summary"],
                "history": [slim_logs(h) for h in result.history]}
            store.save("sweep", data)
    store.save("sweep", data)
