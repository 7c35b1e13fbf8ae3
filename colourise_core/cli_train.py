"""The `train` command: its options (one per TrainConfig field) and the run it starts."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from colourise_core.cli_config import add_config_arguments, config_from_args, yes_no
from colourise_core.data import DATASET_NAMES
from colourise_core.errors import ColouriseError
from colourise_core.family_names import FAMILY_NAMES

MODEL_CHOICES = FAMILY_NAMES  # colourise_core.models.FAMILIES' names, without importing Keras
SEED_MAX = 2**32 - 1  # --seed upper bound (numpy's seeds are 32-bit)


def cmd_train(args) -> int:
    from colourise_core import training
    from colourise_core.progress import ProgressBar

    config = config_from_args(training.TrainConfig, args)
    out = args.out or os.path.join("runs", f"{args.model}-{args.dataset}")
    _check_run_folder(out, args.resume, args.overwrite)
    result = training.train(config, out, callbacks=[ProgressBar()], resume=args.resume)
    print(json.dumps({"run_dir": str(result.run_dir), "epochs": result.epochs_done,
                      "train_seconds": round(result.train_seconds, 2),
                      "seconds_per_epoch": round(result.train_seconds / max(1, len(result.history)), 2),
                      "last": result.history[-1] if result.history else None}, indent=2))
    return 0


def _check_run_folder(out: str, resume: bool, overwrite: bool) -> None:
    """A run folder that already holds trained epochs is continued (--resume) or replaced
    (--overwrite), never silently started afresh over (that would delete its checkpoints)."""
    from colourise_core.run_folder import RunFolder

    if resume and overwrite:
        raise ColouriseError("--resume continues the run in --out and --overwrite replaces it: give one of them")
    state = Path(out) / RunFolder.STATE
    if resume or overwrite or not state.is_file():
        return
    try:
        epochs = RunFolder(out).read(RunFolder.STATE).get("epoch")
    except (OSError, ValueError, AttributeError):
        epochs = None
    held = f"{epochs} trained epoch(s)" if isinstance(epochs, int) else "a training run"
    raise ColouriseError(f"{out} already holds {held}; pass --resume to continue it, --overwrite to start afresh "
                         "(its checkpoints are deleted), or choose another --out")


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The `train` options: one per TrainConfig field (range-checked here, the rest generated)."""
    from colourise_core import argcheck, training

    added = set()

    def arg(*flags, **options) -> None:
        added.add(p.add_argument(*flags, **options).dest)

    arg("--model", choices=MODEL_CHOICES, required=True)
    arg("--dataset", choices=DATASET_NAMES, required=True)
    arg("--data", default=None, help="folder or .zip/.tar archive in split/class/image layout")
    arg("--classes", nargs="+", default=None)
    arg("--epochs", type=argcheck.int_in(1, 100_000), default=10, help="1..100000")
    arg("--batch-size", type=argcheck.int_in(1, 65_536), default=None, help="1..65536")
    arg("--learning-rate", type=argcheck.float_in(0.0, 10.0), default=None, help="[0, 10] (0 keeps the weights: a check)")
    arg("--resolution", type=argcheck.int_in(16, 4096), default=None, help="32, 64 or 128 for the dissertation's models; unet: any multiple of 16 (16..4096)")
    arg("--augment", type=yes_no, metavar="yes|no", default=None)
    arg("--dropout", type=argcheck.float_in(0.0, 1.0, high_open=True), default=None, help="[0, 1)")
    arg("--latent-dim", type=argcheck.int_in(1, 65_536), default=None, help="1..65536")
    arg("--recon-weight", type=argcheck.float_in(0.0, 1e6), default=None, help="0..1e+06")
    arg("--rebalance", type=argcheck.float_in(0.0, 1.0), default=None, help="unet: class-rebalancing lambda, 0..1 (default 0.5; 1 turns it off)")
    arg("--extra", action="append", default=None, metavar="NAME:PATH",
        help="another training dataset (repeatable), e.g. folder:../shared/datasets/photos-extra.zip; "
             "NAME*N:PATH sees its training images N times per pass (a small, varied set weighted up)")
    arg("--crops", action="store_true", help="train on random square crops of the images at native size (multi-scale)")
    arg("--crop-min", type=argcheck.float_in(0.0, 1.0, low_open=True), default=0.5, help="smallest crop side, as a share of the shorter side, (0, 1]")
    arg("--steps-per-epoch", type=argcheck.int_in(1), default=None, help="at most N >= 1 batches an epoch (each epoch checkpoints)")
    arg("--model-config", type=_json_object, default=None, metavar="JSON",
        help='more model config fields as a JSON object, e.g. \'{"widths": [16, 32, 32, 64, 64]}\'')
    arg("--mdn", type=argcheck.int_in(1, 64), nargs="?", const=8, default=None, metavar="K", dest="mdn_components",
        help="CVAE: conditional encoder as a K-component mixture density network (default K 8)")
    arg("--rarity-mix", type=argcheck.float_in(0.0, 1.0), default=None, help="CVAE: weight pixels by chroma rarity, uniform mix lambda (0.5)")
    arg("--grad-weight", type=argcheck.float_in(0.0, 1e6), default=None, help="CVAE: weight of the chroma-gradient term")
    arg("--free-bits", type=argcheck.float_in(0.0, 1e3), default=None, help="CVAE: KL nats per latent dimension not charged")
    arg("--kl-anneal-steps", type=argcheck.int_in(0), default=None, help="CVAE: steps over which the KL weight ramps from 0 to 1")
    arg("--conditional-discriminator", action="store_true", default=None,
        help="CGAN: the discriminator sees Y beside UV (pix2pix); default: UV only, as the dissertation")
    arg("--l1-weight", type=argcheck.float_in(0.0, 1e6), default=None, help="CGAN: add w * mean |UV - UV_true| to the generator loss (pix2pix: 100)")
    arg("--disc-lr-scale", type=argcheck.float_in(0.0, 10.0, low_open=True), default=None,
        help="CGAN: the discriminator's learning rate as a multiple of the generator's, (0, 10] (default 1)")
    arg("--label-smoothing", type=argcheck.float_in(0.0, 0.5), default=None,
        help="CGAN: one-sided label smoothing, the discriminator's real label 1 - s, [0, 0.5] (Salimans et al. 2016: 0.1)")
    arg("--adv-weight", type=argcheck.float_in(0.0, 1e3), default=None,
        help="CGAN: weight of the adversarial term in the generator's loss (default 1; 0 with --l1-weight: an L1 warm start)")
    arg("--luma-matched", action="store_true", help="Shape Set: all colours share one luma range")
    arg("--limit", type=argcheck.int_in(1), default=None, help="train on a seeded subset of N >= 1 images")
    arg("--val-limit", type=argcheck.int_in(1), default=1000, help=">= 1")
    arg("--early-stopping", type=argcheck.int_in(0), default=0, metavar="PATIENCE", help=">= 0 epochs (0: off)")
    arg("--init-weights", default=None, help="fine-tune from this .weights.h5 (same model and resolution)")
    arg("--seed", type=argcheck.int_in(0, SEED_MAX), default=0, help=f"0..{SEED_MAX}")
    arg("--distribute", choices=("none", "mirrored", "multiworker"), default="none",
        help="mirrored: every local GPU; multiworker: the machines of TF_CONFIG (docs/DISTRIBUTED.md); "
             "--batch-size is then the global batch")
    arg("--precision", choices=("float32", "mixed_float16", "mixed_bfloat16"), default="float32",
        help="mixed precision on GPUs (weights stay float32)")
    add_config_arguments(p, training.TrainConfig, skip=added)  # the fields not above, e.g. --beta-1
    p.add_argument("--out", default=None, help="run folder (default runs/MODEL-DATASET)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last finished epoch")
    p.add_argument("--overwrite", action="store_true", help="start afresh in an --out that already holds a run")


def _json_object(text: str) -> dict:
    """argparse type: a JSON object (--model-config)."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--model-config must be a JSON object, got {text!r} ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"--model-config must be a JSON object, got {text!r}")
    return value
