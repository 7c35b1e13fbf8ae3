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
    diversity128  Figure 5.6 at 128 px (issue 12): the W = 1 and MDN CVAEs on Imagenette val and
               faces test: spread, best-of-8 and one sample's UV MSE, colourfulness.
    metrics    UV MSE, PSNR, SSIM, colourfulness (+ gap), UV-error CDF AUC, within-5 per model and
               data set beside the all-grey baseline; best-of-8 and sample diversity for the CVAE.
    hints      the hints curve (issue 15): PSNR and colourfulness against N random true hints for
               Levin's method and the hint-taking unet, Imagenette val and photos-extra val.
    sweep      Tables 4.1 and 4.2: batch size against final loss and training time (CNN, CVAE).
    families   issue 10: the four families (CNN, CGAN, CVAE, U-Net) on the same held-out images, and
               small ablation runs (rebalancing, global features, conditional D + L1) on Imagenette.

Resuming: every section stores its results in `<out>/data/<section>.json`, per item (a table row,
a data set, a model) with a key naming what it was computed from (settings and the sha256 of the
weights); an item whose key and figure files are already there is skipped, so a killed or
repeated run only does what is missing. Training runs go to `--work-dir` (run folders with
checkpoints, outside the report) and resume from their last finished epoch. `--redo SECTION`
recomputes a section. Keras uses a GPU when there is one; nothing here forces the CPU.

Modules: `common` (settings, the dissertation's numbers, the result store, loading), `train_sections`
(Tables 4.1, 4.2, 5.1), `figures` (Figures 5.1-5.6), `scores` (the metrics table), `markdown` (the
report), `report` (its Markdown tables, charts and image grids). The machine's description comes
from `colourise_core.hardware`, shared with the benchmarks.

`--quick` (under two minutes on a 2-core CPU): tiny Shape Set data at 32 px, 2 epochs, 2 batch
sizes; figures and metrics use the shipped weights where they are present (with few images),
and freshly trained tiny models for the Shape Set when its weights are missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from colourise_core.reproduce.common import (
    DEFAULT_DATA_DIR, DEFAULT_EXPORT_DIR, FULL, QUICK, REPO, SECTIONS, TABLE_4_1, TABLE_4_2, TABLE_5_1, Options, Settings,
    Store, log, section_hardware,
)
from colourise_core.reproduce.diversity128 import section_diversity128
from colourise_core.reproduce.families import section_families
from colourise_core.reproduce.figures import section_curves, section_diversity, section_grids, section_shapes
from colourise_core.reproduce.hints_curve import section_hints
from colourise_core.reproduce.markdown import write_markdown
from colourise_core.reproduce.scores import section_metrics
from colourise_core.reproduce.train_sections import section_sweep, section_timing

__all__ = ["FULL", "QUICK", "SECTIONS", "TABLE_4_1", "TABLE_4_2", "TABLE_5_1", "Options", "Settings", "Store",
           "cmd_reproduce", "register_cli", "run"]

# ----------------------------------------------------------------------------------------- run


RUNNERS = {"hardware": section_hardware, "timing": section_timing, "curves": section_curves, "shapes": section_shapes,
           "grids": section_grids, "diversity": section_diversity, "diversity128": section_diversity128,
           "metrics": section_metrics, "hints": section_hints, "sweep": section_sweep, "families": section_families}


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
                                   ("hints_images", args.hints_images),
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
    p.add_argument("--hints-images", type=int, default=None, help="colour images per dataset of the hints curve (full: 100)")
    p.set_defaults(func=cmd_reproduce)
    return p
