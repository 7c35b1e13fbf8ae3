"""Record an exported unet weight file in weights/manifest.json (issue 10's `general` set).

    python scripts/unet_manifest.py --set general --file weights/general/unet.weights.h5 \
        --run /work/runs/unet-general/run --figures figures.json --command "$(cat command.txt)" --commit SHA

The entry says how the weights were made (exact command, data, epochs, best epoch, train time,
hardware, commit), the decoding chosen on validation, and the figures of `scripts/unet_eval.py`
beside the grey baseline on Imagenette val and photos-extra val, with the file's sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", default="general")
    p.add_argument("--file", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--figures", required=True, help="JSON written by scripts/unet_eval.py --out")
    p.add_argument("--command", required=True)
    p.add_argument("--commit", required=True)
    p.add_argument("--dataset", default="imagenette+photos-extra+faces")
    p.add_argument("--hardware", default=f"CPU: {os.cpu_count()} cores ({platform.machine()}), shared with other jobs, TensorFlow")
    p.add_argument("--stages", default=None,
                   help="JSON list of the earlier stages this run fine-tuned from (--init-weights): "
                        "[{\"command\", \"epochs\", \"train_seconds\", \"note\"}]; epochs and time are totalled")
    p.add_argument("--evaluate", default=None,
                   help="`colourise evaluate --full` JSON: its split's figures are the entry's metrics "
                        "(a set for one dataset), instead of the Imagenette/photos-extra val figures")
    p.add_argument("--data", default="train splits only: Imagenette train, photos-extra train (imagenet-sample + bsds500), "
                                     "faces train; random multi-scale square crops; validation = 10% of these training images")
    p.add_argument("--manifest", default=None, help="default: the weights folder's manifest")
    args = p.parse_args(argv)

    from colourise_core import atomic, models, weights
    from colourise_core.run_folder import RunFolder

    run = RunFolder(args.run)
    state, history = run.read(RunFolder.STATE), run.read(RunFolder.HISTORY)
    figures = json.loads(Path(args.figures).read_text())
    spec = models.read_spec(args.file)
    manifest_path = Path(args.manifest or Path(weights.resolve_weights_dir()) / weights.MANIFEST_NAME)
    manifest = json.loads(manifest_path.read_text())
    weights_dir = manifest_path.parent
    rel = Path(args.file).resolve().relative_to(weights_dir.resolve()).as_posix()
    decoding = figures.get("decoding", {})
    entry = {
        "file": rel,
        "sha256": hashlib.sha256(Path(args.file).read_bytes()).hexdigest(),
        "spec": spec,
        "epochs": int(state["epoch"]),
        "best_epoch": state["best"]["epoch"],
        "weights_of_epoch": state["best"]["epoch"] if figures.get("best") else int(state["epoch"]),  # what ships
        "command": args.command,
        "commit": args.commit,
        "train_seconds": round(float(history[state["best"]["epoch"] - 1]["seconds"] if figures.get("best") else state["train_seconds"]), 1),
        "hardware": args.hardware,
        "dtype": "float16",
        "data": args.data,
        "decoding": {k: decoding[k] for k in ("chosen", "truth_colourfulness", "grey", "n") if k in decoding},
        "metrics": {"imagenette_val": figures["imagenette_val"], "photos_extra_val": figures["photos_extra_val"]},
    }
    if args.evaluate:  # one dataset's held-out split, as `colourise evaluate` measured it
        ev = json.loads(Path(args.evaluate).read_text())
        keys = ("uv_mse", "psnr", "ssim", "colourfulness")
        entry["metrics"] = {f"{ev['dataset']}_{ev['split']}": {
            "n": ev["n"], "model": {k: ev[k] for k in keys}, "grey": {k: ev["baseline"][k] for k in keys},
            "truth": {"colourfulness": ev["truth_colourfulness"]}, "psnr_over_grey": ev["psnr"] - ev["baseline"]["psnr"],
            "colourfulness_gap": ev["truth_colourfulness"] - ev["colourfulness"]}}
    if args.stages:  # a chain of fine-tunes: the entry's command, epochs and time are the whole chain's
        this = {k: entry[k] for k in ("command", "epochs", "train_seconds")}
        stages = json.loads(Path(args.stages).read_text()) + [this]
        entry["stages"] = stages
        entry["command"] = " && ".join(st["command"] for st in stages)
        entry["epochs"] = sum(int(st["epochs"]) for st in stages)
        entry["train_seconds"] = round(sum(float(st["train_seconds"]) for st in stages), 1)
        offset = entry["epochs"] - this["epochs"]
        entry["best_epoch"] += offset
        entry["weights_of_epoch"] += offset
    sets = manifest["sets"]
    sets.setdefault(args.set, {"dataset": args.dataset, "classes": None, "resolution": spec["resolution"], "models": {}})
    held_out = f"{ev['split']} ({ev['dataset']})" if args.evaluate else "val (Imagenette val, photos-extra val)"
    sets[args.set].update(dataset=args.dataset, classes=None, resolution=spec["resolution"], held_out={"split": held_out})
    sets[args.set]["models"]["unet"] = entry
    atomic.write_json(manifest_path, manifest)
    print(json.dumps({k: entry[k] for k in ("file", "sha256", "epochs", "best_epoch", "train_seconds")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
