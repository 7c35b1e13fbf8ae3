"""Command line: `python -m colourise_core` (installed as `colourise`).

    colourise IMAGE... [--model cnn|cgan|cvae|all] [--weights SET_OR_RUN_DIR] [--out DIR]
                       [--samples N --temperature T --seed S] [--render-size PX]
    train --model M --dataset D [--data PATH] [--classes NAME...] [--epochs N] [--out DIR] [--resume]
          [--distribute none|mirrored|multiworker] [--precision float32|mixed_float16|mixed_bfloat16]
    evaluate --model M --weights W --dataset D [--data PATH] [--split test]
    weights list|verify|download|publish
    data pack SOURCE --out DIR [--shard-size 256MB] [--dataset D] [--classes NAME...]
    reproduce [--quick] [--out reports/]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from colourise_core.errors import ColouriseError

MODEL_CHOICES = ("cnn", "cgan", "cvae")


def _load_model(name: str, weights: str | None):
    from colourise_core import weights as weights_mod

    return weights_mod.load_pretrained(name, weights or weights_mod.DEFAULT_SET)


def cmd_colourise(args) -> int:
    from colourise_core import imageio, inference

    names = MODEL_CHOICES if args.model == "all" else (args.model,)
    out = Path(args.out)
    failures = 0
    loaded_models = {name: _load_model(name, args.weights) for name in names}
    for path in args.images:
        try:
            image = imageio.load_rgb(path)
        except ColouriseError as e:
            print(f"error: {e}", file=sys.stderr)
            failures += 1
            continue
        stem = Path(path).stem
        for name, model in loaded_models.items():
            samples = args.samples if name == "cvae" else 1
            temperature = args.temperature if name == "cvae" else 0.0
            result = inference.colourise_image(image, model, samples=samples, temperature=temperature,
                                               seed=args.seed, render_size=args.render_size)
            rgbs = [result.rgb] if samples == 1 else list(result.rgb)
            for i, rgb in enumerate(rgbs):
                suffix = f".{name}.{i}.png" if samples > 1 else f".{name}.png"
                target = out / f"{stem}{suffix}"
                imageio.save_png_atomic(target, rgb, result.alpha)
                print(target)
    return 1 if failures else 0


class _ProgressBar:
    """A Keras callback drawing a progress bar per epoch (the CLI's view of training)."""

    def __new__(cls, *args, **kwargs):
        import keras

        class ProgressBar(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                print(f"Epoch {epoch + 1}/{self.params['epochs']}", flush=True)
                self.bar = keras.utils.Progbar(self.params["steps"], stateful_metrics=None)

            def on_train_batch_end(self, batch, logs=None):
                self.bar.update(batch + 1, values=[(k, v) for k, v in (logs or {}).items()], finalize=False)

            def on_epoch_end(self, epoch, logs=None):
                shown = ", ".join(f"{k} {v:.5g}" for k, v in (logs or {}).items() if k != "epoch")
                print(f"\n  {shown}", flush=True)

        return ProgressBar()


def cmd_train(args) -> int:
    from colourise_core import training

    config = training.TrainConfig(
        model=args.model, dataset=args.dataset, data=args.data, classes=tuple(args.classes) if args.classes else None,
        resolution=args.resolution, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        augment=args.augment, dropout=args.dropout, latent_dim=args.latent_dim, recon_weight=args.recon_weight,
        luma_matched=args.luma_matched, limit=args.limit, val_limit=args.val_limit, early_stopping=args.early_stopping, init_weights=args.init_weights, seed=args.seed,
        distribute=args.distribute, precision=args.precision)
    out = args.out or os.path.join("runs", f"{args.model}-{args.dataset}")
    result = training.train(config, out, callbacks=[_ProgressBar()], resume=args.resume)
    print(json.dumps({"run_dir": str(result.run_dir), "epochs": result.epochs_done,
                      "train_seconds": round(result.train_seconds, 2),
                      "seconds_per_epoch": round(result.train_seconds / max(1, len(result.history)), 2),
                      "last": result.history[-1] if result.history else None}, indent=2))
    return 0


def cmd_evaluate(args) -> int:
    from colourise_core import evaluation
    from colourise_core.data import datasets

    model = _load_model(args.model, args.weights)
    data = datasets.load_dataset(args.dataset, data=args.data, split=args.split, classes=args.classes,
                                 resolution=model.resolution, limit=args.limit, seed=args.seed)
    result = evaluation.evaluate_model(model, data, temperature=args.temperature, full=args.full)
    print(json.dumps({"model": args.model, "weights": args.weights, "dataset": args.dataset, "split": args.split, **result}, indent=2))
    return 0


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes/no, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="colourise", description="Colourise greyscale images with a CNN, a CGAN or a CVAE.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("colourise", help="colourise images (a colour input is turned to grey first)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", choices=MODEL_CHOICES + ("all",), default="cnn")
    p.add_argument("--weights", default=None, help="a weight set name (see `weights list`) or a run folder; default imagenette")
    p.add_argument("--out", default="colourised")
    p.add_argument("--samples", type=int, default=1, help="CVAE samples per image")
    p.add_argument("--temperature", type=float, default=0.0, help="CVAE latent std scale (0: the mean)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--render-size", type=int, default=None, help="longer side the CNN/CGAN sees (default: training size)")
    p.set_defaults(func=cmd_colourise)

    p = sub.add_parser("train", help="train a model; checkpoints every epoch, --resume continues")
    p.add_argument("--model", choices=MODEL_CHOICES, required=True)
    p.add_argument("--dataset", choices=("shapes", "cifar10", "imagenette", "faces", "folder"), required=True)
    p.add_argument("--data", default=None, help="folder or .zip/.tar archive in split/class/image layout")
    p.add_argument("--classes", nargs="+", default=None)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--resolution", type=int, choices=(32, 64, 128), default=None)
    p.add_argument("--augment", type=_bool, default=None)
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--latent-dim", type=int, default=None)
    p.add_argument("--recon-weight", type=float, default=None)
    p.add_argument("--luma-matched", action="store_true", help="Shape Set: all colours share one luma range")
    p.add_argument("--limit", type=int, default=None, help="train on a seeded subset of N images")
    p.add_argument("--val-limit", type=int, default=1000)
    p.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE")
    p.add_argument("--init-weights", default=None, help="fine-tune from this .weights.h5 (same model and resolution)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default runs/MODEL-DATASET)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--distribute", choices=("none", "mirrored", "multiworker"), default="none",
                   help="mirrored: every local GPU; multiworker: the machines of TF_CONFIG (docs/DISTRIBUTED.md); "
                        "--batch-size is then the global batch")
    p.add_argument("--precision", choices=("float32", "mixed_float16", "mixed_bfloat16"), default="float32",
                   help="mixed precision on GPUs (weights stay float32)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="UV MSE, PSNR and colourfulness beside the all-grey baseline, as JSON")
    p.add_argument("--model", choices=MODEL_CHOICES, required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--dataset", choices=("shapes", "cifar10", "imagenette", "faces", "folder"), required=True)
    p.add_argument("--data", default=None)
    p.add_argument("--split", default="test")
    p.add_argument("--classes", nargs="+", default=None)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--full", action="store_true", help="also SSIM, CDF AUC, within-5 and colourfulness gap")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_evaluate)

    from colourise_core import weights as weights_mod

    weights_mod.register_cli(sub)
    from colourise_core.data import shards  # `data pack` (issue 14)

    shards.register_cli(sub)
    try:
        from colourise_core import reproduce

        reproduce.register_cli(sub)
    except ImportError:
        pass
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ColouriseError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
