"""Would an ImageNet encoder give the `general` U-Net the colour target 1 needs? (issue 10, target 1)

Target 1 needs the automatic colouring to explain more of the true colour (rho^2 about 0.22 on
both val splits; the shipped U-Net gives 0.20 / 0.14, `weights/README.md`). Iizuka et al. (2016)
and Larsson et al. (2016) reach it with features of a network pretrained on ImageNet or Places;
the dissertation's 6.1.2 proposes the same. `colourise_core/models/efficientnet_lite.py` reads the one such network
this workplace can reach. This script measures what its features give, trained, not only as the
linear probe of `semantic_probe.py`:

- each image's central square crop at 96 px (the U-Net's input); the encoder sees its luma
  upsampled to 192 px (0-255, copied to three channels), as a fused model would see it, so its
  stride-8, -16 and -32 maps lie on the U-Net's 24 x 24 output grid and its 12 x 12 and 6 x 6;
- a decoder (1 x 1 convs on each map, a 3 x 3 conv at 12 x 12, a 3 x 3 conv on the luma's 4 x 4
  blocks, three 3 x 3 convs at 24 x 24, then the U-Net's 347 chroma bins; 1.8 M parameters) trained with the U-Net's own loss (soft-encoded, rebalanced cross-entropy, its
  stored prior) for a fixed time on training crops of Imagenette and photos-extra; variant
  "+ U-Net" also reads the shipped U-Net's mean and stored decodings;
- scored after each epoch on val crops, on the grid (pooled, as `semantic_probe.py`), decoded at
  the mean (T = 1, a = 1) and at the U-Net's stored (T, a), beside the shipped U-Net itself.

    python scripts/pretrained_decoder.py --pth efficientnet-lite0-57934424.pth --out decoder.json
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from colourise_core.models import efficientnet_lite  # noqa: E402
from semantic_probe import _crops, score  # noqa: E402

# Imagenette's ten WordNet ids -> their ImageNet-1k class indices (for --check-classes)
IMAGENETTE_CLASSES = {"n01440764": 0, "n02102040": 217, "n02979186": 482, "n03000684": 491, "n03028079": 497,
                      "n03394916": 566, "n03417042": 569, "n03425413": 571, "n03445777": 574, "n03888257": 701}
VARIANTS = ("encoder", "encoder + U-Net")


def collect(unet, encoder, rgb96: np.ndarray) -> dict[str, np.ndarray]:
    """Per crop: luma (96 px), the loss's target and the true UV on the grid, the U-Net's mean and
    stored decodings, and the encoder's three maps (float16 to save memory)."""
    import tensorflow as tf

    from colourise_core import colour, models
    from colourise_core.unet_inputs import block_mean

    family = models.family_of(unet)
    stored = [float(v) for v in np.asarray(unet.decode)]
    out: dict[str, list] = {k: [] for k in ("y", "target", "truth", "unet", "f8", "f16", "f32")}
    for i in range(0, len(rgb96), 32):
        rgb = rgb96[i:i + 32]
        y = colour.rgb_to_y(rgb).astype(np.float32)  # (B, 96, 96, 1)
        uv = colour.rgb_to_yuv(rgb)[..., 1:].astype(np.float32)
        logits = family.logits(unet, y)
        unet.set_decoding(1.0, 1.0)
        mean_uv = family.decode_logits(unet, logits)
        unet.set_decoding(*stored)
        out["unet"].append(np.concatenate([mean_uv, family.decode_logits(unet, logits)], -1))  # (B, 24, 24, 4)
        out["y"].append(y)
        out["target"].append(unet.encode_target(uv))
        out["truth"].append(block_mean(uv, 4))
        grey = tf.image.resize(np.repeat(y * 255.0, 3, -1), (192, 192), "bilinear").numpy()
        for key, f in zip(("f8", "f16", "f32"), encoder.predict(efficientnet_lite.normalise(grey), verbose=0)):
            out[key].append(f.astype(np.float16))
    return {k: np.concatenate(v) for k, v in out.items()}


def decoder(bins: int, width: int, with_unet: bool):
    """[luma (96, 96, 1), maps (24, 24, 40), (12, 12, 112), (6, 6, 320)(, U-Net UV (24, 24, 4))] -> logits (24, 24, bins)."""
    import keras
    from keras import layers

    def cbr(x, f, k=3, d=1):
        return layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(f, k, padding="same", dilation_rate=d, use_bias=False)(x)))

    y, f8, f16, f32 = (keras.Input(s) for s in ((96, 96, 1), (24, 24, 40), (12, 12, 112), (6, 6, 320)))
    luma = layers.Reshape((24, 24, 16))(keras.ops.transpose(keras.ops.reshape(y - 0.5, (-1, 24, 4, 24, 4)), (0, 1, 3, 2, 4)))
    h = layers.UpSampling2D(2)(cbr(f32, 2 * width, 1))
    h = layers.UpSampling2D(2, interpolation="bilinear")(cbr(layers.Concatenate()([h, cbr(f16, width, 1)]), 2 * width))
    inputs, parts = [y, f8, f16, f32], [h, cbr(f8, width // 2, 1), cbr(luma, width // 2)]
    if with_unet:
        inputs.append(keras.Input((24, 24, 4)))
        parts.append(inputs[-1])
    h = cbr(layers.Concatenate()(parts), width)
    h = cbr(cbr(h, width, d=2), width)
    return keras.Model(inputs, layers.Conv2D(bins, 1)(h))


def train_and_score(unet, train: dict, vals: dict, with_unet: bool, seconds: float, width: int, seed: int = 0) -> list[dict]:
    """Train one decoder for about `seconds` (whole epochs); its scores on each val split after each epoch."""
    import keras
    from keras import ops

    from colourise_core.models import chroma

    keras.utils.set_random_seed(seed)
    centres = np.asarray(unet.centres, np.float32)
    w = chroma.rebalance_weights(ops.convert_to_numpy(unet.prior), unet.config.rebalance).astype(np.float32)
    k = unet.config.soft_k
    stored = [float(v) for v in np.asarray(unet.decode)]

    def loss(target, logits):  # the U-Net's loss (`UNet.compute_loss`): ECCV16 eq. 2-4
        index = ops.cast(target[..., :k], "int32")
        ce = chroma.sparse_cross_entropy(ops.cast(logits, "float32"), index, target[..., k:2 * k])
        return ops.mean(ce * ops.take(ops.convert_to_tensor(w), index[..., 0]))

    def inputs(d):
        return [d["y"], d["f8"], d["f16"], d["f32"]] + ([d["unet"]] if with_unet else [])

    model = decoder(len(centres), width, with_unet)
    model.compile(keras.optimizers.Adam(1e-3), loss)
    history, start = [], time.time()
    while time.time() - start < seconds:
        model.fit(inputs(train), train["target"][..., :2 * k], batch_size=32, epochs=1, verbose=0, shuffle=True)
        row = {"epoch": len(history) + 1, "seconds": round(time.time() - start)}
        for name, d in vals.items():
            logits = model.predict(inputs(d), verbose=0)
            row[name] = {label: score(ops.convert_to_numpy(chroma.decode_ops(logits, np.log(w), a, t, centres)), d["truth"])
                         for label, (t, a) in (("mean", (1.0, 1.0)), ("stored", stored))}
        history.append(row)
        print(f"  epoch {row['epoch']} ({row['seconds']} s): " + "  ".join(
            f"{n} {row[n]['mean']['db_over_grey']:+.2f} dB rho^2 {row[n]['mean']['rho2']:.3f}" for n in vals), flush=True)
    return history


def check_classes(pth: str, archive: str, n: int) -> dict:
    """Top-1 over ImageNet's 1,000 classes on `n` Imagenette val images at 224 px, colour and grey."""
    from PIL import Image

    net = efficientnet_lite.load_state_dict(efficientnet_lite.build((224, 224, 3)), efficientnet_lite.read_legacy_pth(pth))
    with zipfile.ZipFile(archive) as z:
        names = sorted(x for x in z.namelist() if x.startswith("val/") and x.split("/")[1] in IMAGENETTE_CLASSES)
        np.random.default_rng(0).shuffle(names)
        names = names[:n]
        rgb = np.stack([np.asarray(Image.open(io.BytesIO(z.read(x))).convert("RGB").resize((224, 224), Image.BICUBIC), np.float32)
                        for x in names])
    labels = np.array([IMAGENETTE_CLASSES[x.split("/")[1]] for x in names])
    grey = np.repeat(rgb.mean(-1, keepdims=True), 3, -1)
    return {src: float((net.predict(efficientnet_lite.normalise(a), verbose=0).argmax(1) == labels).mean())
            for src, a in (("colour", rgb), ("grey", grey))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pth", required=True, help="efficientnet-lite0-57934424.pth (see efficientnet_lite.py)")
    p.add_argument("--weights", default="general", help="the U-Net's weight set")
    p.add_argument("--datasets", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"),
                   help="folder with imagenette-128.zip and photos-extra.zip")
    p.add_argument("--train", type=int, nargs=2, default=(5000, 5000), help="training crops at most (Imagenette, photos-extra)")
    p.add_argument("--val", type=int, nargs=2, default=(300, 97), help="val crops (Imagenette, photos-extra)")
    p.add_argument("--seconds", type=float, default=600, help="training time per decoder (whole epochs)")
    p.add_argument("--width", type=int, default=128, help="the decoder's channels")
    p.add_argument("--check-classes", type=int, default=0, metavar="N", help="also the ImageNet top-1 on N Imagenette val images")
    p.add_argument("--out", help="write the figures here as JSON")
    args = p.parse_args(argv)

    from colourise_core import runtime

    results: dict = {"command": "python scripts/pretrained_decoder.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    if args.check_classes:
        results["imagenet_top1"] = check_classes(args.pth, str(Path(args.datasets) / "imagenette-128.zip"), args.check_classes)
        print("ImageNet top-1 on Imagenette val:", results["imagenet_top1"], flush=True)
    unet = runtime.load_one("unet", args.weights)
    encoder = efficientnet_lite.feature_extractor(args.pth, (192, 192, 3))
    train, vals = [], {}
    for k, (name, archive) in enumerate((("imagenette", "imagenette-128.zip"), ("photos-extra", "photos-extra.zip"))):
        path = str(Path(args.datasets) / archive)
        train.append(collect(unet, encoder, np.stack([c[0] for c in _crops(path, "train", args.train[k], 0)])))
        vals[name] = collect(unet, encoder, np.stack([c[0] for c in _crops(path, "val", args.val[k], 1)]))
    train = {key: np.concatenate([t[key] for t in train]) for key in train[0]}
    results["train_crops"] = len(train["y"])
    for name, d in vals.items():
        results.setdefault("U-Net mean decoding (as is)", {})[name] = score(d["unet"][..., :2], d["truth"])
        results.setdefault("U-Net stored decoding (as is)", {})[name] = score(d["unet"][..., 2:], d["truth"])
        print(f"U-Net as is, {name}: mean {results['U-Net mean decoding (as is)'][name]['db_over_grey']:+.2f} dB "
              f"rho^2 {results['U-Net mean decoding (as is)'][name]['rho2']:.3f}", flush=True)
    for variant in VARIANTS:
        print(f"decoder on {variant}:", flush=True)
        results[variant] = train_and_score(unet, train, vals, variant != "encoder", args.seconds, args.width)
    if args.out:
        from colourise_core import atomic

        atomic.write_json(args.out, results, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
