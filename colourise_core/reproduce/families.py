"""The families section (issue 10, past the dissertation): the four model families on the same
held-out images, and ablations of the choices the fourth one (`unet`) and the CGAN options make.

1. Families: the shipped CNN, CGAN and CVAE (the dissertation's chapter 4) and the `unet`
   (ECCV16 chroma classes + rebalancing, SIGGRAPH17 hints, a U-Net) on the luma-matched Shape Set
   test split (with hue accuracy) and on Imagenette val at 128 px (`unet` from the `general` set,
   which sees the luma at its own 96 px and paints its chroma back at 128, as it would colour a
   user's photo), beside the all-grey baseline: UV MSE, PSNR, SSIM, colourfulness and its gap to the truth.
2. Ablations: small runs trained here, all with the same data (Imagenette train at
   `ablation_resolution`, seed 0), batch size and number of steps, evaluated on the same
   Imagenette val images: class rebalancing on/off (ECCV16 eq. 4, lambda 0.5 against 1 = off),
   global features on/off (Iizuka 2016, the dissertation's 6.1.2), and the CGAN's conditional
   discriminator + L1 (pix2pix) on/off. The runs are small (minutes on a 2-core CPU): they
   compare choices at one small budget, they do not measure what each choice gives fully trained.
"""

from __future__ import annotations

from colourise_core.reproduce import report
from colourise_core.run_folder import RunFolder
from colourise_core.reproduce.common import ARCHIVES, Options, Store, fresh, held_out, load_model, log, weights_source

FAMILIES = ("cnn", "cgan", "cvae", "unet")
LABEL = {"cnn": "CNN (dissertation)", "cgan": "CGAN (dissertation)", "cvae": "CVAE (dissertation, T=0)", "unet": "U-Net"}
# split -> (weight set of each family, resolution, dataset split)
SPLITS = {"shapes": ({"cnn": "shapes", "cgan": "shapes", "cvae": "shapes", "unet": "shapes"}, 64, "test"),
          "imagenette": ({"cnn": "imagenette", "cgan": "imagenette", "cvae": "imagenette", "unet": "general"}, 128, "val")}
# Variants past the dissertation, each a row beside the families where its weight set is shipped:
# split -> {row key: (family, weight set, label)}
VARIANTS = {"shapes": {"cgan-pix2pix": ("cgan", "shapes-pix2pix", "CGAN, conditional D + L1 (pix2pix)")}}
# ablation name -> (family, TrainConfig fields beyond the shared ones; "GLOBAL" is replaced by the class count)
ABLATIONS = {
    "unet": ("unet", {}),
    "unet, no rebalancing": ("unet", {"rebalance": 1.0}),
    "unet + global features": ("unet", {"model_config": {"global_classes": "GLOBAL"}}),
    "cgan": ("cgan", {}),
    "cgan, conditional D + L1 100": ("cgan", {"conditional_discriminator": True, "l1_weight": 100.0}),
}
PAIRS = (("rebalancing (lambda 0.5) vs off", "unet", "unet, no rebalancing"),
         ("global features on vs off", "unet + global features", "unet"),
         ("conditional D + L1 vs the dissertation's CGAN", "cgan, conditional D + L1 100", "cgan"))
# Measured on the luma-matched Shape Set (1,000 test images, 64 px; sessions 8, 10 and 11; the issue
# 10 notes): hue accuracy of the CGAN variants on the way to `shapes-pix2pix`, too long to retrain
# inside this report. (variant, hue accuracy or None: this report's own families row, how it was trained)
_P2P = ("`train --model cgan --dataset shapes --luma-matched --limit 8000 --resolution 64 --conditional-discriminator "
        "--batch-size 64 --steps-per-epoch 25 --val-limit 128")
SHAPES_CGAN = (("cgan (shipped `shapes`)", None, "55 epochs on the GPU (weights/manifest.json); measured by this report's families table"),
               ("conditional D + L1 100, lr 2e-4", 0.3594, f"{_P2P} --l1-weight 100 --epochs 100`, 1,248 s"),
               ("conditional D + L1 1000, lr 1e-3: its best epoch (68)", 0.696, f"{_P2P} --l1-weight 1000 --learning-rate 1e-3 --epochs 100`"),
               ("the same run's last epoch (100): the discriminator won", 0.076, "as above"),
               ("+ D at 0.1x the learning rate, label smoothing 0.1: best by validation L1 (epoch 47)", 0.7438,
                f"{_P2P} --l1-weight 1000 --learning-rate 1e-3 --disc-lr-scale 0.1 --label-smoothing 0.1 --early-stopping 1000`; collapsed at epoch 53"),
               ("the same at lr 5e-4: best by validation L1 (epoch 47)", 0.7433, "as above, `--learning-rate 5e-4`; collapsed at epoch 48"),
               ("+ D at 0.03x: best by validation L1 (epoch 118), shipped as `shapes-pix2pix`", 0.9779,
                f"{_P2P} --l1-weight 1000 --learning-rate 5e-4 --disc-lr-scale 0.03 --label-smoothing 0.1 --epochs 120 "
                "--early-stopping 1000`, 1,542 s (last epoch: 97.3%)"),
               ("its epoch 49 fine-tuned at lr 1e-4 for 40 epochs: best (epoch 39)", 0.9544,
                "`--init-weights` of epoch 49 (87.4%), `--learning-rate 1e-4 --epochs 40`, otherwise as above (last: 94.9%)"))
# What each split's images are, beside the model card's figures (weights/manifest.json).
DRAW_NOTE = {
    "shapes": "The images are this report's draw of the luma-matched Shape Set (test split, seed 0); the model card's "
              "figures (`weights/manifest.json`) use another draw (seed 2026), so they differ from these by sampling.",
    "imagenette": "Each model sees the 128 px images at its own input size, as it colours a user's photo: the "
                  "dissertation's three at 128 px, the U-Net (trained at 96 px) at 96 px with its chroma resized back "
                  "to 128 px. The model card measures the U-Net on full-size photos (`scripts/unet_eval.py`).",
}
METRIC_KEYS = ("uv_mse", "psnr", "ssim", "colourfulness", "colourfulness_gap")


def _scores(net, ds, limit: int) -> dict:
    from colourise_core import evaluation

    r = evaluation.evaluate_model(net, ds, batch_size=32, full=True, limit=limit)
    return {"n": r["n"], "truth_colourfulness": r["truth_colourfulness"], "baseline": r["baseline"],
            **{k: r[k] for k in METRIC_KEYS}}


def _hue(net, ds, limit: int) -> float:
    from colourise_core import colour, evaluation
    from colourise_core.data.shapes import hue_accuracy

    rgb = ds.load_all(limit) if hasattr(ds, "load_all") else ds.load(range(limit))
    pred = evaluation.predict_rgb(net, rgb)[0]
    return hue_accuracy(colour.rgb_to_yuv(pred)[..., 1:], ds.masks[: len(rgb)])


def _families(opts: Options, store: Store, data: dict) -> None:
    s = opts.settings
    for split, (sets, resolution, which) in SPLITS.items():
        entry = data.setdefault("splits", {}).setdefault(split, {"models": {}})
        limit = s.families_shapes if split == "shapes" else s.families_eval
        members = [(f, f, sets[f]) for f in FAMILIES] + [(k, f, w) for k, (f, w, _) in VARIANTS.get(split, {}).items()]
        for name, fam, weight_set in members:
            src = weights_source(opts, weight_set, fam)
            if src is None:
                entry["models"].pop(name, None)
                continue
            # Each model sees the images at its own input size (evaluation.predict_rgb), as a user's.
            key = {"sha256": src["sha256"], "limit": limit, "resolution": resolution, "input": "own input size"}
            if fresh(entry["models"].get(name), key, opts.out):
                continue
            ds = held_out(opts, split, resolution, limit, seed=0, split=which)
            net = load_model(opts, weight_set, fam)
            if ds is None or net is None:
                continue
            log(f"families: {fam} ({weight_set}) on {split} {which}, {min(limit, len(ds))} images")
            row = {"key": key, "set": weight_set, **_scores(net, ds, limit)}
            if split == "shapes":
                row["hue_accuracy"] = _hue(net, ds, min(limit, len(ds)))
            entry["models"][name] = row
            entry.update(split=which, resolution=resolution, n=row["n"])
            store.save("families", data)


def _ablation_config(opts: Options, fields: dict):
    from colourise_core import training

    s = opts.settings
    archive = opts.data_dir / ARCHIVES["imagenette"]
    if not archive.exists():
        raise FileNotFoundError(f"the Imagenette archive {archive} is missing; pass --data-dir")
    return training.TrainConfig(dataset="imagenette", data=str(archive), resolution=s.ablation_resolution,
                                limit=s.ablation_limit, epochs=s.ablation_epochs, steps_per_epoch=s.ablation_steps,
                                batch_size=s.ablation_batch, val_limit=s.ablation_val, seed=0, **fields)


def _class_count(opts: Options) -> int:
    from colourise_core import training

    train_set, _ = training.make_datasets(_ablation_config(opts, {"model": "unet"}).resolved())
    return len(train_set.class_names)


def _ablations(opts: Options, store: Store, data: dict) -> None:
    from colourise_core import training

    s = opts.settings
    entry = data.setdefault("ablations", {"runs": {}})
    classes = None
    for name, (fam, fields) in ABLATIONS.items():
        if "model_config" in fields:
            classes = classes or _class_count(opts)
            fields = {**fields, "model_config": {"global_classes": classes}}
        config = _ablation_config(opts, {"model": fam, **fields})
        # unset (None) fields left out, so a new option of TrainConfig keeps the runs made before it fresh
        key = {k: v for k, v in config.__dict__.items() if k != "data" and v is not None} | {"eval": s.ablation_eval}
        run = opts.work_dir / "families" / _run_name(name)
        if fresh(entry["runs"].get(name), key, opts.out):
            if (run / RunFolder.STATE).is_file():  # the run's own total (a resumed run's parts summed)
                entry["runs"][name]["train_seconds"] = round(RunFolder(run).read(RunFolder.STATE)["train_seconds"], 1)
            continue
        log(f"families: ablation {name!r}: {s.ablation_epochs} x {s.ablation_steps} steps of {s.ablation_batch}")
        result = training.train(config, run, resume=True)
        train_seconds = RunFolder(run).read(RunFolder.STATE)["train_seconds"]  # every part of a resumed run
        ds = held_out(opts, "imagenette", s.ablation_resolution, s.ablation_eval, seed=0, split="val")
        last = result.history[-1] if result.history else {}
        entry["runs"][name] = {"key": key, "family": fam, "options": fields, "train_seconds": round(train_seconds, 1),
                               "steps": s.ablation_epochs * s.ablation_steps, "final_loss": last.get("loss", last.get("g_loss")),
                               "command": _command(config), **_scores(result.model, ds, s.ablation_eval)}
        entry.update(resolution=s.ablation_resolution, batch=s.ablation_batch, steps=s.ablation_epochs * s.ablation_steps)
        store.save("families", data)


def _run_name(name: str) -> str:
    """An ablation's run-folder name ("unet + global features" -> "unet_plus_global_features")."""
    return name.replace(",", "").replace("+", "plus").replace(" ", "_")


def _command(config) -> str:
    """The CLI command that trains the same run."""
    parts = [f"python -m colourise_core train --model {config.model} --dataset imagenette --data {config.data}",
             f"--resolution {config.resolution} --epochs {config.epochs} --steps-per-epoch {config.steps_per_epoch}",
             f"--batch-size {config.batch_size} --val-limit {config.val_limit} --seed {config.seed}"]
    if config.limit:
        parts.append(f"--limit {config.limit}")
    if config.rebalance is not None:
        parts.append(f"--rebalance {config.rebalance}")
    if config.conditional_discriminator:
        parts.append("--conditional-discriminator")
    if config.l1_weight:
        parts.append(f"--l1-weight {config.l1_weight:g}")
    if config.model_config:
        parts.append("--model-config '" + ", ".join(f'"{k}": {v}' for k, v in config.model_config.items()).join("{}") + "'")
    return " ".join(parts)


def section_families(opts: Options, store: Store) -> None:
    """The four families on the same held-out images, then the ablation runs."""
    data = store.load("families")
    try:
        _ablations(opts, store, data)  # the long part first (resumable run folders)
    except FileNotFoundError as e:
        opts.notes.append(f"families: ablations skipped ({e})")
        log(f"families: ablations skipped ({e})")
    _families(opts, store, data)
    store.save("families", data)


# ------------------------------------------------------------------------------------ markdown


def _row(label: str, r: dict, base: dict, extra=()) -> list:
    ratio = r["uv_mse"] / base["uv_mse"] if base.get("uv_mse") else None
    return [label, r["uv_mse"], f"{ratio:.2f}x" if ratio is not None else None, r["psnr"], r["ssim"],
            r["colourfulness"], r["colourfulness_gap"], *extra]


def _percent(v: float | None) -> str:
    return "–" if v is None else f"{v:.2%}"


def families_markdown(data: dict) -> list[str]:
    """The section's Markdown: the families table per split, the ablation table and verdicts."""
    md = ["## Model families on the same held-out images (issue 10)", ""]
    splits = data.get("splits", {})
    if not any(e.get("models") for e in splits.values()):
        md += ["Not run yet (section `families`), or no shipped weights.", ""]
    headers = ["model (weight set)", "UV MSE ↓", "UV MSE / grey's", "PSNR ↑", "SSIM ↑", "colourfulness", "gap ↑ (0 best)"]
    for split, entry in splits.items():
        models = entry.get("models", {})
        if not models:
            continue
        first = next(iter(models.values()))
        base = first["baseline"]
        hue = split == "shapes"
        md += [f"### {split} ({entry.get('split')}, {entry.get('n')} images, {entry.get('resolution')} px)", ""]
        rows = [_row("grey baseline", {**base, "colourfulness_gap": base.get("colourfulness_gap")}, base, [0.0] if hue else [])]
        labels = {**LABEL, **{k: v[2] for k, v in VARIANTS.get(split, {}).items()}}
        rows += [_row(f"{labels[f]} (`{models[f]['set']}`)", models[f], base, [models[f]["hue_accuracy"]] if hue else [])
                 for f in labels if f in models]
        rows.append(["truth", 0.0, "0.00x", None, 1.0, first["truth_colourfulness"], 0.0] + ([1.0] if hue else []))
        md += [report.md_table(headers + (["hue accuracy ↑"] if hue else []), rows), ""]
        md += [DRAW_NOTE[split], ""] if split in DRAW_NOTE else []
    ab = data.get("ablations", {})
    runs = ab.get("runs", {})
    md += ["## Ablations (issue 10)", ""]
    if not runs:
        return md + ["Not run yet (section `families`).", ""]
    md += [f"Each run: Imagenette train at {ab.get('resolution')} px, {ab.get('steps')} steps of {ab.get('batch')} images, "
           "seed 0, the family's own optimiser settings; evaluated on the same Imagenette val images beside the grey "
           "baseline. Small runs: they compare the choices at one small budget.", ""]
    base = next(iter(runs.values()))["baseline"]
    rows = [_row("grey baseline", base, base, [None, None])]
    rows += [_row(name, r, base, [r["final_loss"], report.duration(r["train_seconds"])]) for name, r in runs.items()]
    truth = next(iter(runs.values()))["truth_colourfulness"]
    rows.append(["truth", 0.0, "0.00x", None, 1.0, truth, 0.0, None, None])
    md += [report.md_table(["run"] + headers[1:] + ["final train loss", "training time"], rows), ""]
    for what, on, off in PAIRS:
        if on in runs and off in runs:
            a, b = runs[on], runs[off]
            md.append(f"- {what}: PSNR {a['psnr'] - b['psnr']:+.2f} dB, UV MSE {a['uv_mse'] / b['uv_mse']:.3f}x, "
                      f"colourfulness gap {a['colourfulness_gap']:.1f} against {b['colourfulness_gap']:.1f}.")
    md += ["", "Shape Set hue accuracy of the CGAN variants on the way to `shapes-pix2pix` (luma-matched, 1,000 test "
           "images of seed 0, 64 px; runs of sessions 8, 10 and 11). The adversarial term is what broke the earlier "
           "runs: the same generator on L1 alone reached 93.2% in 2,000 steps; a slower discriminator, one-sided label "
           "smoothing and keeping the best epoch by validation L1 (not by the adversarial loss) made it train:", ""]
    shipped = splits.get("shapes", {}).get("models", {}).get("cgan", {}).get("hue_accuracy")
    md += [report.md_table(["CGAN", "hue accuracy", "training"],
                           [[n, _percent(shipped if v is None else v), how] for n, v, how in SHAPES_CGAN]), ""]
    md += ["Commands (the same runs from the CLI):", ""] + [f"- {n}: `{r['command']}`" for n, r in runs.items()] + [""]
    return md
