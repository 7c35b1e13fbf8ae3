"""Command line: `python -m colourise_core` (installed as `colourise`).

    colourise IMAGE|FOLDER... [--model cnn|cgan|cvae|unet|all] [--weights SET_OR_RUN_DIR] [--out DIR]
                       [--samples N --temperature T --seed S] [--render-size PX]
                       [--hints HINTS.json] [--vividness T]
                       [--runtime keras|onnx] [--verbose]
    colourise IMAGE... --model levin --hints HINTS.json | --model welsh --reference REF.jpg
    train --model M --dataset D [--data PATH] [--classes NAME...] [--epochs N] [--out DIR] [--resume]
          [--distribute none|mirrored|multiworker] [--precision float32|mixed_float16|mixed_bfloat16]
    evaluate --model M --weights W --dataset D [--data PATH] [--split test]
    weights list|verify|download|publish|export
    data pack SOURCE --out DIR [--shard-size 256MB] [--dataset D] [--classes NAME...]
    reproduce [--quick] [--out reports/]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from colourise_core.cli_config import LazyParser
from colourise_core.cli_train import MODEL_CHOICES, SEED_MAX, add_train_arguments, cmd_train
from colourise_core.data import DATASET_NAMES
from colourise_core.errors import ColouriseError


def _load_model(name: str, weights: str | None):
    from colourise_core import weights as weights_mod

    return weights_mod.load_pretrained(name, weights or weights_mod.DEFAULT_SET)


SAMPLES_MAX = 64  # --samples upper bound (a CVAE sample is one full-size output each)
RENDER_SIZE_RANGE = (32, 4096)  # --render-size: smaller is meaningless, larger costs minutes
TEMPERATURE_MAX = 100.0
WORK_BUDGET_ENV = "COLOURISE_CLI_MEMORY_BUDGET"  # bytes the full-size outputs may take at once
WORK_BUDGET = 2 * 1024**3  # default: 2 GiB of uint8 (S, H, W, 3) outputs per image


def _work_budget() -> int:
    try:
        return int(float(os.environ.get(WORK_BUDGET_ENV) or WORK_BUDGET))
    except ValueError:
        return WORK_BUDGET


def _check_samples_fit(label: str, samples: int, height: int, width: int) -> None:
    """Refuse a sample count whose full-size outputs (S, H, W, 3) uint8 exceed the budget."""
    per_sample = height * width * 3
    budget = _work_budget()
    if samples * per_sample > budget:
        fit = max(1, budget // per_sample)
        raise ColouriseError(
            f"{label}: {samples} samples of a {width} x {height} image need "
            f"{samples * per_sample / 1024**3:.1f} GiB; at most {fit} fit in the memory budget of "
            f"{budget / 1024**3:.1f} GiB (set {WORK_BUDGET_ENV} to change it). Use --samples {fit} or fewer.")


def _prepare_out(out: Path) -> None:
    """Create --out, or say in one line why it cannot be used."""
    if out.exists() and not out.is_dir():
        raise ColouriseError(f"--out {out} is an existing file, not a folder; choose a folder name")
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK | os.X_OK):
        raise ColouriseError(f"--out {out} is not writable (permission denied); choose another folder")


def model_sources(model: str, weights: str | None) -> dict[str, str]:
    """{model: weight set or run folder} that `colourise --model MODEL [--weights W]` uses.

    Named weights serve every model (`all`: those they hold). Without --weights each model comes
    from the default set or, when it lacks that model, from the set `weights.set_holding` picks
    (the U-Net: `general`), so `--model unet` and `--model all` work with the shipped weights.
    Reads the manifest only (no Keras import).
    """
    from colourise_core import runtime
    from colourise_core import weights as weights_mod

    wanted = MODEL_CHOICES if model == "all" else (model,)
    if weights is not None:
        return dict.fromkeys(runtime.models_in(weights, wanted) if model == "all" else wanted, weights)
    default, found = weights_mod.DEFAULT_SET, {}  # found: {model: the set that holds it}
    try:
        entry = weights_mod.read_manifest()["sets"].get(default)
        for name in wanted:
            if entry is not None and name in entry["models"]:
                found[name] = default
            elif (other := weights_mod.set_holding(name, entry["dataset"] if entry else None)) is not None:
                found[name] = other
    except ColouriseError:  # no usable manifest: loading says what is wrong
        pass
    if model != "all":  # a model no set holds: loading the default set's names what is missing
        return {model: found.get(model, default)}
    return found or dict.fromkeys(wanted, default)


def cmd_colourise(args) -> int:
    import time

    from colourise_core import argcheck, guided, imageio, inference, outputs, runtime
    from colourise_core.weights import DEFAULT_SET

    guided.check_args(args.model, args.hints, args.reference)
    args.images = outputs.expand_folders(args.images)  # a folder: the images in it (models and classic methods alike)
    if args.model in guided.METHODS:  # the classic methods: no network
        argcheck.check_flags_apply(args, ())
        return guided.cmd_colourise(args)

    sources = model_sources(args.model, args.weights)  # {model: weight set or run}
    names = tuple(sources)
    for name, source in sources.items():
        if args.weights is None and source != DEFAULT_SET:
            print(f"note: {name} from weight set {source!r} ({DEFAULT_SET!r} has none; --weights chooses)", file=sys.stderr)
    argcheck.check_flags_apply(args, names)
    if args.hints is not None:  # a model that takes no hints refuses them (never a silent ignore)
        from colourise_core.family_names import HINT_FAMILIES  # no Keras import (the ONNX runtime)

        for name in names:
            if name not in HINT_FAMILIES:
                raise ColouriseError(f"the {name} model takes no hints; use a model that does "
                                     f"({', '.join(HINT_FAMILIES)}, or levin: Levin et al.'s classic propagation)")
    out = Path(args.out)
    _prepare_out(out)
    bases = outputs.plan_names(args.images)  # unique per input: same stems never collide
    failures, written = 0, {}
    start = time.perf_counter()
    loaded_models = runtime.load_models(names, sources, args.runtime)  # in parallel
    if args.verbose:
        print(f"runtime: {runtime.describe(args.runtime)}; {len(loaded_models)} model(s) loaded in "
              f"{time.perf_counter() - start:.2f} s", file=sys.stderr)
    from colourise_core.family_names import FIXED_SIZE_FAMILIES, SAMPLING_FAMILIES

    samples = {name: args.samples for name in names if name in SAMPLING_FAMILIES}
    temperature = {name: args.temperature for name in names if name in SAMPLING_FAMILIES}
    if args.vividness is not None:  # (argcheck.check_flags_apply: some model in `names` takes it)
        from colourise_core.family_names import VIVIDNESS_FAMILIES

        vivid = [name for name in names if name in VIVIDNESS_FAMILIES]
        if not 0.0 < args.vividness <= 1.0:
            raise ColouriseError(f"--vividness must be in (0, 1] (1: the muted mean, small: vivid), got {args.vividness}")
        temperature.update({name: args.vividness for name in vivid})
    hints = {name: args.hints for name in names} if args.hints is not None else None
    render_size = {name: args.render_size for name in names if name not in FIXED_SIZE_FAMILIES}
    def targets_of(base: str) -> dict[str, list[Path]]:
        return {name: [out / f"{base}.{name}.{i}.png" for i in range(samples[name])] if samples.get(name, 1) > 1
                else [out / f"{base}.{name}.png"] for name in names}

    try:
        for path, base in zip(args.images, bases):
            targets = targets_of(base)
            existing = [t for ts in targets.values() for t in ts if t.exists()]
            if existing and not args.overwrite:
                if not args.skip_existing:
                    print(f"error: not overwriting {', '.join(str(t) for t in existing)} (from {path}); "
                          "pass --overwrite to replace, or --skip-existing to keep them", file=sys.stderr)
                    failures += 1
                    continue
                print(f"skipped {path}: {', '.join(t.name for t in existing)} already in {out}", file=sys.stderr)
            todo = {n: m for n, m in loaded_models.items()
                    if args.overwrite or not all(t.exists() for t in targets[n])}
            if not todo:
                continue
            try:
                image = imageio.load_rgb(path)
                _check_samples_fit(image.name, max(samples.values(), default=1), *image.shape[:2])
            except ColouriseError as e:
                print(f"error: {e}", file=sys.stderr)
                failures += 1
                continue
            results = inference.colourise_each(image, todo, samples=samples, temperature=temperature,
                                               seed=args.seed, render_size=render_size, hints=hints)  # decoded once, luma once
            del image
            for name, result in results:  # one model's full-size result at a time: written, then dropped
                n = samples.get(name, 1)
                rgbs = [result.rgb8] if n == 1 else list(result.rgb8)
                for target, rgb in zip(targets[name], rgbs):
                    if target.exists() and not args.overwrite:
                        continue  # --skip-existing: this one is kept
                    imageio.save_png_atomic(target, rgb, result.alpha, compress_level=1)  # fast encoder
                    written[target.name] = str(path)
                    print(target)
                if args.verbose:
                    steps = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.steps.items())
                    print(f"  {name}: saw {result.seen[1]}x{result.seen[0]}; {steps}", file=sys.stderr)
                result = rgbs = rgb = None  # the next model's result is made after this one is freed
            del results
    finally:
        if written:
            outputs.write_name_map(out, written)
    return 1 if failures else 0


def cmd_evaluate(args) -> int:
    from colourise_core import evaluation
    from colourise_core.data import datasets

    if args.luma_matched and args.dataset != "shapes":
        raise ColouriseError(f"--luma-matched is a Shape Set option (--dataset shapes), not for {args.dataset}")
    model = _load_model(args.model, args.weights)
    shapes_config = datasets.ShapeSetConfig(luma_matched=True) if args.luma_matched else None
    data = datasets.load_dataset(args.dataset, data=args.data, split=args.split, classes=args.classes,
                                 resolution=model.resolution, limit=args.limit, seed=args.seed, shapes_config=shapes_config)
    result = evaluation.evaluate_model(model, data, temperature=args.temperature, full=args.full)
    print(json.dumps({"model": args.model, "weights": args.weights, "dataset": args.dataset, "split": args.split, **result}, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from colourise_core import argcheck, outputs

    parser = argparse.ArgumentParser(
        prog="colourise", description="Colourise greyscale images: the dissertation's CNN, CGAN and CVAE, a U-Net, "
                                      "and the classic guided methods of Levin and Welsh.",
        epilog="`colourise IMAGE ...` is short for `colourise colourise IMAGE ...`.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=LazyParser)

    p = sub.add_parser("colourise", help="colourise images (a colour input is turned to grey first)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, or folders: the images directly in each")
    p.add_argument("--model", choices=MODEL_CHOICES + ("levin", "welsh", "all"), default="cnn")
    p.add_argument("--hints", default=None, metavar="HINTS.json",
                   help='colour hints {"points": [{"x": X, "y": Y, "rgb": [R, G, B]}], "radius": PX}, in the '
                        "image's pixels after EXIF orientation (levin, and models that take hints)")
    p.add_argument("--reference", default=None, metavar="REF.jpg", help="welsh: a colour photo to take the colours from")
    p.add_argument("--weights", default=None, help="a weight set name (see `weights list`) or a run folder; default: imagenette, and for a "
                        "model it lacks (the U-Net) the set that has one (general)")
    p.add_argument("--out", default="colourised",
                   help=f"output folder (created); {outputs.NAME_MAP} there maps outputs to inputs")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: keep them, report, exit 1)")
    p.add_argument("--skip-existing", action="store_true", help="keep existing outputs, each reported as skipped (resume a batch; exit 0)")
    p.add_argument("--samples", type=argcheck.int_in(1, SAMPLES_MAX), default=1,
                   help=f"CVAE samples per image, 1..{SAMPLES_MAX}, and at most what fits in "
                        f"{WORK_BUDGET // 1024**3} GiB at the image's size (uint8 RGB per sample)")
    p.add_argument("--temperature", type=argcheck.float_in(0.0, TEMPERATURE_MAX), default=0.0,
                   help=f"CVAE latent std scale, 0..{TEMPERATURE_MAX:g} (0: the mean)")
    p.add_argument("--vividness", type=float, default=None, metavar="T",
                   help="unet: the annealed-mean temperature in (0, 1]: 1 the muted mean, towards 0 the most "
                        "likely colour (vivid); default: the value chosen on validation, stored with the weights")
    p.add_argument("--seed", type=argcheck.int_in(0, SEED_MAX), default=0, help=f"0..{SEED_MAX}")
    p.add_argument("--render-size", type=argcheck.int_in(*RENDER_SIZE_RANGE), default=None,
                   help=f"longer side the CNN/CGAN sees, {RENDER_SIZE_RANGE[0]}..{RENDER_SIZE_RANGE[1]} "
                        "(default: training size)")
    p.add_argument("--runtime", choices=("keras", "onnx"), default="keras",
                   help="keras (default; TensorFlow) or onnx (onnxruntime, the `onnx` extra; export the set first "
                        "with `weights export SET --format onnx`; an export in another folder: set COLOURISE_ONNX_DIR)")
    p.add_argument("--verbose", action="store_true", help="say which runtime and device run the models, and the time of each step")
    p.set_defaults(func=cmd_colourise)

    p = sub.add_parser("train", help="train a model; checkpoints every epoch, --resume continues",
                       setup=add_train_arguments)  # its options are added when `train` is used: they import Keras
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="UV MSE, PSNR and colourfulness beside the all-grey baseline, as JSON")
    p.add_argument("--model", choices=MODEL_CHOICES, required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--dataset", choices=DATASET_NAMES, required=True)
    p.add_argument("--data", default=None)
    p.add_argument("--split", default="test")
    p.add_argument("--classes", nargs="+", default=None)
    p.add_argument("--limit", type=argcheck.int_in(1), default=None, help=">= 1")
    p.add_argument("--temperature", type=argcheck.float_in(0.0, TEMPERATURE_MAX), default=None,
                   help=f"0..{TEMPERATURE_MAX:g}; CVAE latent std scale (default 0), unet vividness (default: stored)")
    p.add_argument("--full", action="store_true", help="also SSIM, CDF AUC, within-5 and colourfulness gap")
    p.add_argument("--luma-matched", action="store_true",
                   help="the luma-matched Shape Set (every shape's shade of equal luma), as the shipped shapes sets were trained on")
    p.add_argument("--seed", type=argcheck.int_in(0, SEED_MAX), default=0, help=f"0..{SEED_MAX}")
    p.set_defaults(func=cmd_evaluate)

    from colourise_core import weights as weights_mod

    weights_mod.register_cli(sub)
    from colourise_core.data import shards  # `data pack` (issue 14)

    shards.register_cli(sub)
    try:
        from colourise_core import reproduce
    except ImportError as e:  # an optional part: say why it is missing when it is asked for
        _unavailable(sub, "reproduce", e)
    else:
        reproduce.register_cli(sub)
    return parser


def _os_message(e: OSError) -> str:
    """One line for an OS error: what failed, on which path, and what to do."""
    import errno

    where = f" {e.filename}" if e.filename else ""
    if e.filename2:
        where += f" -> {e.filename2}"
    what = e.strerror or str(e)
    hint = {errno.ENOSPC: "free some disk space or choose another --out",
            errno.EDQUOT: "free some disk space or choose another --out",
            errno.EACCES: "check the permissions or choose another folder",
            errno.EPERM: "check the permissions or choose another folder",
            errno.EROFS: "the file system is read-only; choose another folder",
            errno.EEXIST: "a file is in the way of a folder; choose another name",
            errno.ENOTDIR: "a file is in the way of a folder; choose another name",
            errno.EISDIR: "a folder is in the way of a file; choose another name"}.get(e.errno)
    return f"{what}:{where}" + (f" ({hint})" if hint else "")


def _unavailable(sub, name: str, error: ImportError) -> None:
    """A sub-command that could not be imported: listed, and explains itself when run."""

    def explain(args) -> int:
        print(f"error: `{name}` is unavailable: {type(error).__name__}: {error}. Install the project's "
              "requirements (`pip install -r requirements.txt -e .`) to use it.", file=sys.stderr)
        return 2

    p = sub.add_parser(name, help=f"(unavailable: {error})", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=explain)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse a command line; `colourise IMAGE ...` is `colourise colourise IMAGE ...`.

    A first argument that is neither an option nor a command, and looks like a path (it exists,
    has a file extension or a slash), is an image or a folder (the short form the usage above and
    the issues give). A photo named like a command (`train`) needs the long form; a mistyped
    command is still reported as one.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    first = argv[0] if argv else ""
    looks_like_a_path = bool(Path(first).suffix) or "/" in first or os.sep in first or Path(first).exists()
    if first and not first.startswith("-") and first not in commands and looks_like_a_path:
        argv.insert(0, "colourise")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return args.func(args)
    except (ColouriseError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; use a smaller --render-size or fewer --samples, or resize the image",
              file=sys.stderr)
        return 3
    except OSError as e:
        print(f"error: {_os_message(e)}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
