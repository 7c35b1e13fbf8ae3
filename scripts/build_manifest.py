"""Install exported weight sets into weights/, evaluate them on the held-out splits, write the manifest.

    python scripts/build_manifest.py --export runs/gpu/export --commit SHA [--data-dir ../shared/datasets]
                                     [--sets SET ...] [--models MODEL ...] [--revision vX.Y.Z]

For each set and model: copies <export>/<set>/<model>.weights.h5 to weights/<set>/, computes its
sha256, evaluates it (temperature 0 for the CVAE) on the held-out split beside the all-grey
baseline (CIFAR-10 test, Imagenette val, faces test, a fresh luma-matched Shape Set seed), and
records the training facts from <model>.json. The Shape Set models also get their hue accuracy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from weight_sets import ARCHIVES, MODELS, SETS  # noqa: E402

from colourise_core import atomic, colour, evaluation, models, weights  # noqa: E402
from colourise_core.data import load_dataset  # noqa: E402
from colourise_core.data.shapes import ShapeSetConfig, hue_accuracy  # noqa: E402

HELD_OUT = {"cifar10": "test", "imagenette": "val", "faces": "test", "shapes": "test"}
SHAPES_SEED = 2026  # a seed no training run used
HUB = {"repo_id": "colourise/colourise-weights", "revision": "v0.1.0"}


def held_out(set_name: str, data_dir: Path, limit: int | None):
    spec = SETS[set_name]
    if spec["dataset"] == "shapes":
        return load_dataset("shapes", split="test", resolution=spec["resolution"], limit=limit or 1000, seed=SHAPES_SEED,
                            shapes_config=ShapeSetConfig(luma_matched=True))
    return load_dataset(spec["dataset"], data=str(data_dir / ARCHIVES[spec["dataset"]]), split=HELD_OUT[spec["dataset"]],
                        classes=spec["classes"], resolution=spec["resolution"], limit=limit, seed=0)


def shapes_hue_accuracy(model, dataset) -> float:
    rgb = dataset.load_all()
    pred = evaluation.predict_rgb(model, rgb)[0]
    return hue_accuracy(colour.rgb_to_yuv(pred)[..., 1:], dataset.masks[: len(rgb)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--export", default="runs/gpu/export")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    parser.add_argument("--weights-dir", default="weights")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on at most N held-out images")
    parser.add_argument("--commit", required=True, help="the commit the weights were trained at")
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--models", nargs="+", default=None,
                        help="install only these models of each set; the set's other entries stay as they are")
    parser.add_argument("--revision", default=None, help="the Hub revision these weights will be published as")
    args = parser.parse_args()
    export, out = Path(args.export), Path(args.weights_dir)
    manifest_path = out / weights.MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"format": 1, "hub": HUB, "sets": {}}
    if args.revision:
        manifest["hub"] = {**manifest.get("hub", HUB), "revision": args.revision}
    for set_name in args.sets:
        spec = SETS[set_name]
        data = held_out(set_name, Path(args.data_dir), args.limit)
        entry = {"dataset": spec["dataset"], "classes": list(spec["classes"]) if spec["classes"] else None,
                 "resolution": spec["resolution"], "luma_matched": bool(spec["extra"].get("luma_matched")),
                 "recon_weight": spec["extra"].get("recon_weight", 1.0),
                 "held_out": {"split": HELD_OUT[spec["dataset"]], "n": len(data), "skipped_grey": data.skipped_grey},
                 "models": {}}
        names = spec.get("models", MODELS)
        if args.models:  # replace only these; keep the others' entries (their own commits and metrics)
            entry["models"] = dict(manifest["sets"].get(set_name, {}).get("models", {}))
            # a named model beyond the set's three (e.g. the Shape Set unet, issue 10) when it was exported
            names = [m for m in args.models if m in names or (export / set_name / f"{m}.weights.h5").is_file()]
        for model_name in names:
            info = json.loads((export / set_name / f"{model_name}.json").read_text())
            target = out / set_name / f"{model_name}.weights.h5"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(export / set_name / f"{model_name}.weights.h5", target)
            model = models.build_from_spec(models.read_spec(target))
            models.load_weights_checked(model, target)
            t0 = time.time()
            scores = evaluation.evaluate_model(model, data, batch_size=128)
            if spec["dataset"] == "shapes":
                scores["hue_accuracy"] = shapes_hue_accuracy(model, data)
            print(f"{set_name}/{model_name}: {json.dumps(scores)} ({time.time() - t0:.0f}s)", flush=True)
            entry["models"][model_name] = {
                "file": f"{set_name}/{model_name}.weights.h5", "sha256": weights.sha256_file(target),
                "spec": model.spec, "epochs": info["epochs"], "best_epoch": info["best_epoch"],
                "command": info["command"], "driver": info["driver"], "commit": args.commit,
                "train_seconds": info["train_seconds"], "hardware": info["hardware"], "dtype": info["dtype"],
                "float16_max_rgb_diff": info["float16_max_rgb_diff"],
                "metrics": {"split": HELD_OUT[spec["dataset"]], **{k: v for k, v in scores.items()}},
            }
        manifest["sets"][set_name] = entry
        atomic.write_json(manifest_path, manifest, indent=2)  # as weights/manifest.json is kept
    weights.validate_manifest(manifest)
    print("manifest written:", manifest_path)


if __name__ == "__main__":
    main()
