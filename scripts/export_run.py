"""Export a CPU training run as a weight set for scripts/build_manifest.py, and add diversity figures.

    python scripts/export_run.py export --run RUN_DIR --set SET --model cvae --command "python -m ..." \\
        [--export runs/cpu/export] [--best]
writes EXPORT/SET/MODEL.weights.h5 (the last epoch's; with --best the best validation epoch's), as
small as moves no output by more than one level (`train_sets.export_small`: float16, else float16
with the small arrays in float32, else float32), and EXPORT/SET/MODEL.json (epochs,
seconds, hardware, the exact command), the layout build_manifest.py installs from.

    python scripts/export_run.py diversity --set SET --json reports/diversity/diversity.json --label mdn
copies one model's figures from benchmarks/diversity.py into the manifest entry's
metrics["diversity"] (what the app's diversity page shows beside the weights).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIVERSITY_KEYS = ("spread", "single_uv_mse", "best_uv_mse", "average_uv_mse", "mean_uv_mse", "grey_uv_mse",
                  "colourfulness", "truth_colourfulness", "colourfulness_ratio", "best_over_single")


def export(args) -> None:
    import numpy as np

    from colourise_core import atomic, training
    from colourise_core.run_folder import RunFolder
    from train_sets import export_small, hardware

    run = RunFolder(args.run)
    if args.best and not run.best_file.exists():  # before loading: load_run would fall back to the last epoch
        raise SystemExit(f"{run.path} has no {RunFolder.BEST} (a run keeps one only with --early-stopping)")
    model = training.load_run(run.path, best=args.best)
    state, history = run.read(RunFolder.STATE), run.read(RunFolder.HISTORY)
    target = Path(args.export) / args.set / f"{args.model}.weights.h5"
    target.parent.mkdir(parents=True, exist_ok=True)
    train_set, _ = training.make_datasets(training.TrainConfig.of_run(run.path))
    dtype, diff = export_small(model, target, train_set.load(np.arange(min(64, len(train_set)))))
    info = {"set": args.set, "model": args.model, "epochs": state["epoch"], "best_epoch": state["best"]["epoch"],
            "train_seconds": round(state["train_seconds"], 1), "hardware": hardware(),
            "dtype": dtype, "float16_max_rgb_diff": diff,
            "command": args.command, "driver": "python scripts/export_run.py " + " ".join(sys.argv[1:]),
            "history": history}
    atomic.write_json(target.with_suffix("").with_suffix(".json"), info, indent=1)
    print(f"exported {target} ({info['dtype']}, {state['epoch']} epochs, {state['train_seconds']:.0f} s)")


def add_diversity(args) -> None:
    from colourise_core import atomic, weights

    result = json.loads(Path(args.json).read_text())
    figures = result["models"][args.label]
    path = Path(args.weights_dir) / weights.MANIFEST_NAME
    manifest = json.loads(path.read_text())
    entry = manifest["sets"][args.set]["models"][args.model]
    entry["metrics"]["diversity"] = {"dataset": result["dataset"], "split": result["split"], "n": result["n"],
                                     "samples": result["samples"], "temperature": result["temperature"],
                                     "seed": result["seed"], **{k: figures[k] for k in DIVERSITY_KEYS},
                                     "measured_by": "python benchmarks/diversity.py " + args.how}
    weights.validate_manifest(manifest)
    atomic.write_json(path, manifest, indent=2)  # as weights/manifest.json is kept
    print(f"{args.set}/{args.model}: diversity figures added")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("export")
    p.add_argument("--run", required=True)
    p.add_argument("--set", required=True)
    p.add_argument("--model", default="cvae")
    p.add_argument("--command", required=True, help="the exact training command, as recorded in the manifest")
    p.add_argument("--export", default="runs/cpu/export")
    p.add_argument("--best", action="store_true", help="export the run's best epoch (best.weights.h5), not its last")
    p.set_defaults(func=export)
    p = sub.add_parser("diversity")
    p.add_argument("--set", required=True)
    p.add_argument("--model", default="cvae")
    p.add_argument("--json", required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--how", default="", help="the benchmark's arguments, recorded beside the figures")
    p.add_argument("--weights-dir", default="weights")
    p.set_defaults(func=add_diversity)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
