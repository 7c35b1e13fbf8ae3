"""Command line: `python -m colourise_core` (installed as `colourise`).

    colourise IMAGE... [--model cnn|cgan|cvae|all] [--weights SET_OR_RUN_DIR] [--out DIR]
                       [--samples N --temperature T --seed S] [--render-size PX]
                       [--runtime keras|onnx] [--verbose]
    colourise IMAGE... --model levin --hints HINTS.json | --model welsh --reference REF.jpg
    train --model M --dataset D [--data PATH] [--classes NAME...] [--epochs N] [--out DIR] [--resume]
    evaluate --model M --weights W --dataset D [--data PATH] [--split test]
    weights list|verify|download|publish|export
    reproduce [--quick] [--out reports/]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from colourise_core.errors import ColouriseError

MODEL_CHOICES = ("cnn", "cgan", "cvae", "unet")  # the families of colourise_core.models.FAMILIES


def _load_model(name: str, weights: str | None):
    from colourise_core import weights as weights_mod

    return weights_mod.load_pretrained(name, weights or weights_mod.DEFAULT_SET)


def cmd_colourise(args) -> int:
    import time

    from colourise_core import guided, imageio, inference, runtime
    from colourise_core.weights import DEFAULT_SET

    guided.check_args(args.model, args.hints, args.reference)
    if args.model in guided.METHODS:  # the classic methods: no network
        return guided.cmd_colourise(args)

    names = MODEL_CHOICES if args.model == "all" else (args.model,)
    if args.hints is not None:  # a model that takes no hints refuses them (never a silent ignore)
        from colourise_core import models

        for name in names:
            models.get_family(name).check_hints(args.hints)
    out = Path(args.out)
    failures = 0
    start = time.perf_counter()
    loaded_models = runtime.load_models(names, args.weights or DEFAULT_SET, args.runtime)  # in parallel
    if args.verbose:
        print(f"runtime: {runtime.describe(args.runtime)}; {len(loaded_models)} model(s) loaded in "
              f"{time.perf_counter() - start:.2f} s", file=sys.stderr)
    samples = {name: args.samples for name in names if name == "cvae"}
    temperature = {name: args.temperature for name in names if name == "cvae"}
    render_size = {name: args.render_size for name in names if name != "cvae"}
    for path in args.images:
        try:
            image = imageio.load_rgb(path)
        except ColouriseError as e:
            print(f"error: {e}", file=sys.stderr)
            failures += 1
            continue
        stem = Path(path).stem
        results = inference.colourise_many(image, loaded_models, samples=samples, temperature=temperature,
                                           seed=args.seed, render_size=render_size)  # decoded once, luma once
        for name, result in results.items():
            n = samples.get(name, 1)
            rgbs = [result.rgb8] if n == 1 else list(result.rgb8)
            for i, rgb in enumerate(rgbs):
                suffix = f".{name}.{i}.png" if n > 1 else f".{name}.png"
                target = out / f"{stem}{suffix}"
                imageio.save_png_atomic(target, rgb, result.alpha, compress_level=1)  # fast encoder
                print(target)
            if args.verbose:
                steps = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.steps.items())
                print(f"  {name}: saw {result.seen[1]}x{result.seen[0]}; {steps}", file=sys.stderr)
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
        rebalance=args.rebalance, extra=tuple(args.extra) if args.extra else None, crops=args.crops, crop_min=args.crop_min,
        steps_per_epoch=args.steps_per_epoch,
        luma_matched=args.luma_matched, limit=args.limit, val_limit=args.val_limit, early_stopping=args.early_stopping, init_weights=args.init_weights, seed=args.seed)
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
    p.add_argument("--model", choices=MODEL_CHOICES + ("levin", "welsh", "all"), default="cnn")
    p.add_argument("--hints", default=None, metavar="HINTS.json",
                   help='colour hints {"points": [{"x": X, "y": Y, "rgb": [R, G, B]}], "radius": PX}, in the '
                        "image's pixels after EXIF orientation (levin, and models that take hints)")
    p.add_argument("--reference", default=None, metavar="REF.jpg", help="welsh: a colour photo to take the colours from")
    p.add_argument("--weights", default=None, help="a weight set name (see `weights list`) or a run folder; default imagenette")
    p.add_argument("--out", default="colourised")
    p.add_argument("--samples", type=int, default=1, help="CVAE samples per image")
    p.add_argument("--temperature", type=float, default=0.0, help="CVAE latent std scale (0: the mean)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--render-size", type=int, default=None, help="longer side the CNN/CGAN sees (default: training size)")
    p.add_argument("--runtime", choices=("keras", "onnx"), default="keras",
                   help="keras (default; TensorFlow) or onnx (onnxruntime, the `onnx` extra; export the set first "
                        "with `weights export SET --format onnx`)")
    p.add_argument("--verbose", action="store_true", help="say which runtime and device run the models, and the time of each step")
    p.set_defaults(func=cmd_colourise)

    p = sub.add_parser("train", help="train a model; checkpoints every epoch, --resume continues")
    p.add_argument("--model", choices=MODEL_CHOICES, required=True)
    p.add_argument("--dataset", choices=("shapes", "cifar10", "imagenette", "faces", "folder"), required=True)
    p.add_argument("--data", default=None, help="folder or .zip/.tar archive in split/class/image layout")
    p.add_argument("--classes", nargs="+", default=None)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--resolution", type=int, default=None, help="32, 64 or 128 for the dissertation's models; unet: any multiple of 16")
    p.add_argument("--augment", type=_bool, default=None)
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--latent-dim", type=int, default=None)
    p.add_argument("--recon-weight", type=float, default=None)
    p.add_argument("--rebalance", type=float, default=None, help="unet: class-rebalancing lambda (default 0.5; 1 turns it off)")
    p.add_argument("--extra", action="append", default=None, metavar="NAME:PATH",
                   help="another training dataset (repeatable), e.g. folder:../shared/datasets/photos-extra.zip")
    p.add_argument("--crops", action="store_true", help="train on random square crops of the images at native size (multi-scale)")
    p.add_argument("--crop-min", type=float, default=0.5, help="smallest crop side, as a share of the shorter side")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="at most N batches an epoch (each epoch checkpoints)")
    p.add_argument("--luma-matched", action="store_true", help="Shape Set: all colours share one luma range")
    p.add_argument("--limit", type=int, default=None, help="train on a seeded subset of N images")
    p.add_argument("--val-limit", type=int, default=1000)
    p.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE")
    p.add_argument("--init-weights", default=None, help="fine-tune from this .weights.h5 (same model and resolution)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default runs/MODEL-DATASET)")
    p.add_argument("--resume", action="store_true")
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
