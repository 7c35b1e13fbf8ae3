"""Train the shipped weight sets within a wall-clock budget, then export float16 weights.

Runs one worker process per set (in parallel), each training CNN, CGAN and CVAE in turn, each
model given an equal share of the budget (training stops at the end of the epoch that would
overrun it; early stopping on the validation loss keeps the best epoch). Works on the CPU
(TensorFlow) and on a GPU machine (KERAS_BACKEND=jax).

    python scripts/train_sets.py --data-dir .gpu_data --out OUT --budget 400 [--sets ...]

Writes OUT/runs/<set>/<model>/ (run folders) and OUT/export/<set>/<model>.weights.h5 +
OUT/export/<set>/<model>.json (epochs, seconds, hardware, command, float16 check).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from weight_sets import ARCHIVES, MODELS, SETS  # noqa: E402

CPU_RUN_SETS = ("cifar10-frog-diverse", "shapes-pix2pix")  # trained by their own command (the manifest's), not here

from colourise_core import atomic  # noqa: E402
from colourise_core.family_names import FIXED_BUDGET_FAMILIES  # noqa: E402
from colourise_core.run_folder import RunFolder  # noqa: E402


def hardware() -> str:
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        dev = jax.devices()[0]
        return f"{dev.device_kind} ({dev.platform}, JAX {jax.__version__}, Keras {keras.__version__})"
    return f"{platform.processor() or platform.machine()} x{os.cpu_count()} CPU ({backend}, Keras {keras.__version__})"


def train_command(set_name: str, model: str, data_dir: str, epochs: int, early: int, lr: float | None = None) -> str:
    spec = SETS[set_name]
    parts = ["python -m colourise_core train", f"--model {model}", f"--dataset {spec['dataset']}"]
    if spec["dataset"] in ARCHIVES:
        parts.append(f"--data {data_dir}/{ARCHIVES[spec['dataset']]}")
    if spec["classes"]:
        parts.append("--classes " + " ".join(spec["classes"]))
    if spec["extra"].get("recon_weight"):
        parts.append(f"--recon-weight {spec['extra']['recon_weight']:g}")
    if spec["extra"].get("luma_matched"):
        parts.append("--luma-matched")
    if spec["extra"].get("limit"):
        parts.append(f"--limit {spec['extra']['limit']}")
    if lr is not None:
        parts.append(f"--learning-rate {lr}")
    parts += [f"--resolution {spec['resolution']}", f"--epochs {epochs}", f"--early-stopping {early}",
              f"--out runs/{set_name}/{model}"]
    return " ".join(parts)


KEEP_FLOAT32_BELOW = 100_000  # arrays smaller than this stay float32 when all-float16 moves outputs too far


def export_small(model, path: Path, images) -> tuple[str, float]:
    """Write `model`'s weights as small as keeps its outputs within one level (1/255) of float32's
    on `images`: all float16; else float16 with the small arrays (batch-norm statistics, biases,
    the unet's bin prior) in float32, a few percent more bytes; else float32.

    Returns:
        (the manifest's dtype label, max |RGB difference| of the last half-precision file tried).
    """
    from colourise_core import models

    for keep in (0, KEEP_FLOAT32_BELOW):
        models.export_weights(model, path, dtype="float16", keep_float32_below=keep)
        diff = float16_check(model, path, images)
        if diff <= 1 / 255:
            return ("float16" if not keep else f"float16, float32 below {keep:,} values"), diff
    models.export_weights(model, path, dtype="float32")
    return "float32", diff


def float16_check(model, export_path: Path, images) -> float:
    """Max |RGB(float16 weights) - RGB(float32 weights)| over a few training images."""
    from colourise_core import evaluation, models

    half = models.build_from_spec(model.spec)
    models.load_weights_checked(half, export_path)
    a = evaluation.predict_rgb(model, images)
    b = evaluation.predict_rgb(half, images)
    return float(abs(a - b).max())


def worker(args) -> None:
    import numpy as np  # noqa: F401

    from colourise_core import models, training

    set_name = args.worker
    spec = SETS[set_name]
    start = time.time()
    out = Path(args.out)
    names = [m for m in args.models if m in spec.get("models", MODELS)]
    for k, model_name in enumerate(names):
        deadline = start + args.budget * (k + 1) / len(names)
        data = str(Path(args.data_dir) / ARCHIVES[spec["dataset"]]) if spec["dataset"] in ARCHIVES else None
        config = training.TrainConfig(model=model_name, dataset=spec["dataset"], data=data, classes=spec["classes"],
                                      resolution=spec["resolution"], epochs=args.max_epochs,
                                      early_stopping=0 if model_name in FIXED_BUDGET_FAMILIES else args.early_stopping, seed=0,
                                      learning_rate=args.learning_rate,
                                      **{**spec["extra"], **({"limit": args.limit} if args.limit else {})})
        init = None
        if args.init_from:
            init = str(Path(args.init_from) / set_name / f"{model_name}.weights.h5")
            config = dataclasses.replace(config, init_weights=init)
        run_dir = out / "runs" / set_name / model_name
        t0 = time.time()
        result = training.train(config, run_dir, callbacks=[training.StopAtDeadline(deadline)], resume=True)
        wall = time.time() - t0
        model = training.load_run(run_dir, best=model_name not in FIXED_BUDGET_FAMILIES)  # the CGAN ships its last epoch (5.1)
        export = out / "export" / set_name / f"{model_name}.weights.h5"
        export.parent.mkdir(parents=True, exist_ok=True)
        train_set, _ = training.make_datasets(config.resolved())
        dtype, diff = export_small(model, export, train_set.load(np.arange(min(64, len(train_set)))))
        best = RunFolder(run_dir).read(RunFolder.STATE)["best"]
        previous = json.loads(Path(init).with_suffix("").with_suffix(".json").read_text()) if init else None
        info = {"set": set_name, "model": model_name, "epochs": result.epochs_done, "best_epoch": best["epoch"],
                "train_seconds": round(result.train_seconds, 1), "wall_seconds": round(wall, 1),
                "hardware": hardware(), "dtype": dtype,
                "float16_max_rgb_diff": diff,
                "command": train_command(set_name, model_name, args.data_dir, result.epochs_done,
                                          0 if model_name in FIXED_BUDGET_FAMILIES else args.early_stopping, args.learning_rate),
                "driver": "python scripts/train_sets.py " + " ".join(sys.argv[1:]),
                "history": result.history}
        if previous:  # fine-tuned: the whole training is the previous run plus this one
            info.update(epochs=previous["epochs"] + result.epochs_done, best_epoch=previous["epochs"] + best["epoch"],
                        train_seconds=round(previous["train_seconds"] + result.train_seconds, 1),
                        hardware=f"{previous['hardware']}, then {info['hardware']}",
                        command=previous["command"] + " && " + info["command"] + f" --init-weights {init}",
                        driver=previous["driver"] + " && " + info["driver"],
                        history=previous["history"] + result.history)
        atomic.write_json(export.with_suffix("").with_suffix(".json"), info, indent=1)
        print(f"[{set_name}] {model_name}: {result.epochs_done} epochs in {result.train_seconds:.0f}s, "
              f"last {result.history[-1] if result.history else None}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", nargs="+", default=[s for s in SETS if s not in CPU_RUN_SETS])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    parser.add_argument("--out", default="runs/sets")
    parser.add_argument("--budget", type=float, default=600, help="seconds per set (all its models)")
    parser.add_argument("--max-epochs", type=int, default=500)
    parser.add_argument("--early-stopping", type=int, default=15)
    parser.add_argument("--parallel", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="smoke tests: train on N images per set")
    parser.add_argument("--learning-rate", type=float, default=None, help="override the chapter-4 learning rate")
    parser.add_argument("--init-from", default=None, help="fine-tune: start from EXPORT/<set>/<model>.weights.h5")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    pending = list(args.sets)
    running = []
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            log = open(Path(args.out).mkdir(parents=True, exist_ok=True) or Path(args.out) / f"{name}.log", "w")
            cmd = [sys.executable, __file__, *sys.argv[1:], "--worker", name]
            running.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
        time.sleep(2)
        for item in list(running):
            if item[1].poll() is not None:
                print(f"{item[0]} finished with code {item[1].returncode}", flush=True)
                item[2].close()
                running.remove(item)


if __name__ == "__main__":
    main()
