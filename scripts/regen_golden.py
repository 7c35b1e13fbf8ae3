"""Regenerate the golden colour fixture tests/data/golden/expected.npz, on purpose only.

    python scripts/regen_golden.py            # recompute expected.npz from the shipped weights
    python scripts/regen_golden.py --images   # (once) also redraw/cut the committed images
    python scripts/regen_golden.py --sets general   # only these weight sets; the other entries kept as they are

Run it when the shipped weights change on purpose (a retrained set, a new family in
tests/golden_cases.py CASES), look at the figures it prints (hue accuracy, UV MSE beside grey),
and commit expected.npz with the weights. Never run it to make a failing test pass without
knowing why the colours changed.

`--images` needs ../shared/datasets (the photos are cut from its archives) and writes the
Shape Set images (luma-matched, 64 px, seed 2026, never a training seed) and their labels.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import golden_cases as g  # noqa: E402
from colourise_core import atomic  # noqa: E402

DATASETS = REPO.parent / "shared" / "datasets"
SHAPES_SEED = 2026  # not a seed the trainer draws the Shape Set with (0 + split offsets)
# group -> (archive, member prefix, images per folder, how many): the first colour images of each
# folder (class), folders and files in name order. A fixed rule, not a choice of easy images.
PHOTOS = {"cifar10": ("cifar10.zip", "test/", 3, 30), "faces": ("faces-128.zip", "test/", 4, 4),
          "imagenette": ("imagenette-128.zip", "val/", 2, 20), "photos": ("photos-extra.zip", "val/imagenet-sample/", 4, 4)}


def _is_colour(data: bytes) -> bool:
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.int16)
    return np.abs(rgb - rgb.mean(-1, keepdims=True)).max() > 8


def write_images() -> None:
    from colourise_core.data.shapes import ShapeSetConfig, generate_shapes

    g.GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    rgb, labels = generate_shapes(6, ShapeSetConfig(size=64, luma_matched=True), seed=SHAPES_SEED)
    for i in range(len(rgb)):
        Image.fromarray(rgb[i]).save(g.GOLDEN_DIR / f"shapes-{i}.png", optimize=True)
        Image.fromarray(labels[i]).save(g.GOLDEN_DIR / f"shapes-{i}.labels.png", optimize=True)
    for group, (archive, prefix, per_folder, n) in PHOTOS.items():
        with zipfile.ZipFile(DATASETS / archive) as z:
            names = sorted(m for m in z.namelist() if m.startswith(prefix) and m.lower().endswith(".jpg"))
            picked, count = [], {}
            for name in names:
                folder = name.rsplit("/", 1)[0]
                if len(picked) == n:
                    break
                if count.get(folder, 0) >= per_folder:
                    continue
                data = z.read(name)
                if _is_colour(data):
                    count[folder] = count.get(folder, 0) + 1
                    picked.append((name, data))
        for old in g.GOLDEN_DIR.glob(f"{group}-*.jpg"):
            old.unlink()
        for i, (name, data) in enumerate(picked):
            target = g.GOLDEN_DIR / f"{group}-{i:02d}.jpg"
            if group == "photos":  # 256 px short side: a 128 x 128 centre cut, re-encoded once
                img = Image.open(io.BytesIO(data)).convert("RGB")
                w, h = img.size
                img = img.resize((round(w * 128 / min(w, h)), round(h * 128 / min(w, h))), Image.LANCZOS)
                w, h = img.size
                img.crop(((w - 128) // 2, (h - 128) // 2, (w - 128) // 2 + 128, (h - 128) // 2 + 128)).save(target, quality=90)
            else:
                target.write_bytes(data)  # the archive's own bytes: the truth is the dataset's
            print(f"{target.name} <- {archive}:{name}")


def compute(sets=None) -> dict[str, np.ndarray]:
    """Expected pooled UV per (set, model) (of `sets` only, when given), and the figures to read before committing."""
    from colourise_core import colour, inference, metrics, weights
    from colourise_core.data.shapes import hue_accuracy

    out = {}
    for set_name, group, model_name in g.all_cases():
        if sets and set_name not in sets:
            continue
        model = weights.load_pretrained(model_name, set_name, weights_dir=g.WEIGHTS_DIR)
        pooled, hue, mse, grey = [], [], [], []
        for image in g.group_images(group):
            rgb = inference.colourise(image, model)
            truth = g.truth_rgb(image)
            pooled.append(g.pooled_uv(rgb))
            if group == "shapes":
                hue.append(hue_accuracy(colour.rgb_to_yuv(rgb)[..., 1:], g.labels_of(image)))
            mse.append(metrics.uv_mse(rgb, truth))
            grey.append(metrics.uv_mse(colour.rgb_to_y(truth).repeat(3, -1), truth))
        out[g.expected_key(set_name, model_name)] = np.stack(pooled)
        extra = f"hue accuracy {np.mean(hue):.3f} (min {np.min(hue):.3f})" if hue else ""
        print(f"{set_name}/{model_name}: UV MSE {np.mean(mse):.5f} vs grey {np.mean(grey):.5f} "
              f"(beats grey on test split: {g.beats_grey(set_name, model_name)}) {extra} "
              f"max|UV| {np.abs(out[g.expected_key(set_name, model_name)]).max():.4f}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", action="store_true", help="also redraw the Shape Set images and cut the photos")
    parser.add_argument("--sets", nargs="+", choices=list(g.CASES), help="regenerate only these weight sets' entries")
    args = parser.parse_args(argv)
    if args.images:
        write_images()
    expected = compute(args.sets)
    if args.sets:  # the other sets' entries stay exactly as committed; stale keys of these sets go
        kept = {k: v for k, v in g.load_expected().items() if k.split("/")[0] not in args.sets}
        expected = {**kept, **expected}
    with atomic.replacing(g.EXPECTED, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **expected)
    print(f"wrote {g.EXPECTED.relative_to(REPO)} ({g.EXPECTED.stat().st_size} bytes, {len(expected)} arrays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
