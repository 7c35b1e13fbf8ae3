"""`unet`: a U-Net over chroma classes with class rebalancing and optional user hints.

Past the dissertation (its 6.1.2-6.1.3 future work), as the field later did it:
- Zhang, Isola, Efros, "Colorful Image Colorization" (ECCV 2016): logits over Q quantised chroma
  bins, cross-entropy against soft-encoded targets, class rebalancing, annealed-mean decoding
  (maths in `chroma`);
- Zhang et al., "Real-Time User-Guided Image Colorization with Learned Deep Priors"
  (SIGGRAPH 2017): a UV hint map and a mask as extra inputs, hints simulated in training;
  optionally (`propagate`), Levin et al.'s propagation of the hints as a dense first guess
  beside them (`unet_inputs`);
- Ronneberger et al. (U-Net): skip connections; dilated convolutions in the bottleneck widen
  the receptive field (ECCV16's conv5-6);
- optionally (off by default), Iizuka et al. (SIGGRAPH 2016) global features: a classifier on the
  dataset's class labels fused into the bottleneck, the dissertation's 6.1.2 (`unet_global`);
- optionally (`encoder`), the same 6.1.2 with features learnt elsewhere: a frozen ImageNet network
  reads the luma, and its maps join the decoder at H/4, H/8 and H/16 (`unet_encoder`).

Network: x = [Y - 0.5, hint U, hint V, hint mask] (N, H, W, 4), H and W multiples of 16
    (with `propagate` 4 more channels, `unet_inputs`, also fed, 4 x 4 average-pooled, to the H/4 decoder)
    -> stride-2 convs to H/16 -> dilated convs -> 2x upsampling with skips from H/8 and H/4
    -> logits (N, H/4, W/4, Q). Chroma is smooth; the full-resolution luma carries the detail.
The bin prior (from the training data) and the decoding settings (temperature, how much of the
rebalancing to undo) are non-trainable weights, so they travel with the weight file.
"""

from __future__ import annotations

import dataclasses

import cv2
import keras
import numpy as np
from keras import layers, ops

from colourise_core import unet_inputs
from colourise_core.models import chroma, unet_encoder, unet_global
from colourise_core.models.family import Family

OUTPUT_STRIDE = unet_inputs.OUTPUT_STRIDE  # logits at 1/4 of the input's size
STRIDE = 16  # input sides must be multiples of this (4 stride-2 stages)
OPTION = {"optional": True}  # config fields dropped from the spec when at their default
BN_MOMENTUM = 0.9  # batch-norm moving statistics settle within ~30 steps (Keras' 0.99 needs ~300)
LOSSES = ("ce", "uv_mse")  # UNetConfig.loss


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    resolution: int = 128  # training crop side; also the default longer side seen at inference
    widths: tuple = (16, 32, 64, 128, 256)  # channels at H/2, H/2 (2nd conv), H/4, H/8, H/16
    dilations: tuple = (2, 2, 4)  # the bottleneck's 3x3 convs at H/16 (receptive field)
    decoder_widths: tuple = (128, 128)  # convs after upsampling to H/8 and to H/4
    bin_step: float = 0.05  # UV grid spacing: ECCV16's 10 ab units (chroma.AB_TO_UV); 347 bins in gamut
    soft_sigma: float = 0.025  # soft-encoding Gaussian: ECCV16's 5 ab units
    soft_k: int = 5  # nearest bins sharing a target's mass (ECCV16)
    prior_sigma: float = 0.025  # smoothing of the empirical prior (ECCV16: 5 ab units)
    rebalance: float = 0.5  # lambda of ECCV16 eq. 4 (0.5 there); 1.0 turns rebalancing off
    temperature: float = 0.38  # annealed-mean T at inference (ECCV16); tuned on validation after training
    unrebalance: float = 0.0  # fraction of log w subtracted from the logits at decode time (tuned likewise)
    hint_none: float = 0.5  # training: share of images given no hints (SIGGRAPH17: 50%)
    hint_p: float = 0.125  # training: hint count ~ Geometric(p) otherwise (SIGGRAPH17: 1/8)
    hint_max: int = 32  # training: at most this many hints per image
    hint_patch: int = 5  # training: a hint is the mean UV of a square of 1..hint_patch pixels
    seed: int = 0  # seeds the simulated hints
    # Options: a field at its default is left out of the spec, so older specs (shipped weights) still match.
    global_classes: int = dataclasses.field(default=0, metadata=OPTION)  # Iizuka global branch on this many class labels (0: off; Imagenette: 10)
    global_width: int = dataclasses.field(default=128, metadata=OPTION)  # the global feature vector fused at every bottleneck position
    global_weight: float = dataclasses.field(default=0.1, metadata=OPTION)  # class CE weight beside the chroma CE (Iizuka: 1/300 of an MSE)
    propagate: bool = dataclasses.field(default=False, metadata=OPTION)  # also feed Levin's propagation of the hints (unet_inputs)
    train_only: tuple = dataclasses.field(default=(), metadata=OPTION)  # fine-tune: only these layers learn, the rest frozen with its prior; (): all
    loss: str = dataclasses.field(default="ce", metadata=OPTION)  # "ce"; "uv_mse": squared error of the decoded chroma (PSNR's), at the stored decoding
    encoder: str = dataclasses.field(default="", metadata=OPTION)  # "efficientnet-lite0": frozen ImageNet maps fused into the decoder (""; off)
    hint_skip: bool = dataclasses.field(default=False, metadata=OPTION)  # also feed the hint map, 4 x 4 average-pooled, to the H/4 decoder

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"unet loss must be one of {LOSSES}, got {self.loss!r}")
        if self.encoder not in unet_encoder.ENCODERS:
            raise ValueError(f"unet encoder must be one of {[e for e in unet_encoder.ENCODERS if e]} (or left out), got {self.encoder!r}")

    @classmethod
    def for_resolution(cls, resolution: int, **overrides) -> "UNetConfig":
        if resolution % STRIDE:
            raise ValueError(f"unet needs a resolution that is a multiple of {STRIDE}, got {resolution}")
        return cls(resolution=resolution, **overrides)

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        d = dict(d)
        for k in ("widths", "dilations", "decoder_widths", "train_only"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


def _conv(x, filters, name, stride=1, dilation=1):
    x = layers.Conv2D(filters, 3, strides=stride, dilation_rate=dilation, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_network(config: UNetConfig, centres: np.ndarray) -> keras.Model:
    """x (N, H, W, C) -> logits (N, H/4, W/4, Q); with global features, [logits, class logits (N, K)].

    C = `unet_inputs.input_channels(config.propagate)`; with `propagate` the propagated channels
    (constant per 4 x 4 block) also join the H/4 decoder, and the logits take them as a likelihood
    (`chroma.PropagatedPrior`) at a confidence a 1 x 1 conv reads from the decoder (zero at the start)."""
    q = len(centres)
    w = config.widths
    x_in = keras.Input(shape=(None, None, unet_inputs.input_channels(config.propagate)), name="x")
    maps = unet_encoder.maps(x_in, w, BN_MOMENTUM) if config.encoder else None  # [H/4, H/8, H/16] or None
    x = _conv(x_in, w[0], "e1", stride=2)  # (N, H/2, W/2, w0)
    x = _conv(x, w[1], "e1b")
    x = _conv(x, w[2], "e2", stride=2)  # (N, H/4, W/4, w2)
    skip4 = x = _conv(x, w[2], "e2b")
    x = _conv(x, w[3], "e3", stride=2)  # (N, H/8, W/8, w3)
    skip8 = x = _conv(x, w[3], "e3b")
    x = _conv(x, w[4], "e4", stride=2)  # (N, H/16, W/16, w4)
    for i, d in enumerate(config.dilations):
        x = _conv(x, w[4], f"mid{i}", dilation=d)
    if config.global_classes:  # (N, H/16, W/16, w4) fused with the global features (Iizuka 2016)
        x, class_logits = unet_global.fuse(x, w[4], config.global_width, config.global_classes, BN_MOMENTUM)
    if maps:  # (N, H/16, W/16, 2 w4): the ImageNet features beside the bottleneck's
        x = layers.Concatenate(name="encoder_fuse16")([x, maps[2]])
    x = layers.UpSampling2D(2, interpolation="bilinear", name="up8")(x)  # (N, H/8, W/8, w4)
    x = layers.Concatenate(name="skip8")([x, skip8] + (maps[1:2] if maps else []))
    x = _conv(x, config.decoder_widths[0], "d8")
    x = layers.UpSampling2D(2, interpolation="bilinear", name="up4")(x)  # (N, H/4, W/4, .)
    skips = [x, skip4] + (maps[:1] if maps else [])  # widened inputs (hint_skip, propagated) come last (`load_widened`)
    if config.hint_skip:  # (N, H/4, W/4, 3): the hints' U, V and mask, block by block: a short path past the encoder
        skips.append(layers.AveragePooling2D(OUTPUT_STRIDE, name="hint_skip")(x_in[..., 1:1 + unet_inputs.HINT_CHANNELS]))
    if config.propagate:  # (N, H/4, W/4, 4): the propagated UV, the any-hint flag and closeness, block by block
        propagated = layers.AveragePooling2D(OUTPUT_STRIDE, name="propagated")(x_in[..., 1 + unet_inputs.HINT_CHANNELS:])
        skips.append(propagated)
    x = layers.Concatenate(name="skip4")(skips)
    x = _conv(x, config.decoder_widths[1], "d4")
    logits = layers.Conv2D(q, 1, name="logits")(x)  # (N, H/4, W/4, Q)
    if config.propagate:
        confidence = layers.Conv2D(1, 1, kernel_initializer="zeros", name="propagated_confidence")(
            layers.Concatenate(name="confidence_in")([x, propagated]))  # (N, H/4, W/4, 1), 0 at the start
        logits = chroma.PropagatedPrior(centres, config.bin_step, name="propagated_prior")(logits, propagated, confidence)
    if config.global_classes:
        return keras.Model(x_in, [logits, class_logits], name="unet_net_global")
    return keras.Model(x_in, logits, name="unet_net")


class UNet(keras.Model):
    """The network plus its chroma bins, prior and decoding settings.

    `model(x)` gives logits (N, H/4, W/4, Q); x is (N, H, W, 4), or Y alone (N, H, W, 1) (no hints).
    `train_on_batch(x, target)` trains on soft-encoded targets (N, H/4, W/4, 2k) from `encode_target`:
    the k nearest bins of each output pixel's true UV, then their weights (then, with global
    features, the image's class label, -1 for none: (N, H/4, W/4, 2k + 1)).
    With global features `model(x)` gives (logits, class logits (N, K)); `net` stays the chroma
    logits alone (the inference graph), `net_train` has both outputs (shared layers).
    """

    colourise_name = "unet"

    def __init__(self, config: UNetConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.resolution = config.resolution
        self.grid = chroma.BinGrid(config.bin_step)
        self.centres = self.grid.centres  # (Q, 2)
        q = len(self.centres)
        full = build_network(config, self.centres)
        if config.global_classes:
            self.net_train = full
            self.net = keras.Model(full.input, full.outputs[0], name="unet_net")  # the same layers
        else:
            self.net = full
        self.cls_tracker = keras.metrics.Mean(name="cls") if config.global_classes else None
        self.prior = self.add_weight(shape=(q,), initializer=keras.initializers.Constant(1.0 / q),
                                     trainable=False, name="prior")  # p~ of ECCV16 eq. 4
        self.decode = self.add_weight(shape=(2,), trainable=False, name="decode",  # (T, unrebalance)
                                      initializer=keras.initializers.Constant([config.temperature, config.unrebalance]))
        self.ce_tracker = keras.metrics.Mean(name="ce")

    def call(self, x, training=False):
        if x.shape[-1] == 1:  # Y alone: no hints
            x = ops.concatenate([x] + [ops.zeros_like(x)] * (unet_inputs.input_channels(self.config.propagate) - 1), axis=-1)
        y = x[..., :1] - 0.5
        net = self.net_train if self.config.global_classes else self.net
        return net(ops.concatenate([y, x[..., 1:]], axis=-1), training=training)

    def encode_target(self, uv: np.ndarray, labels=None) -> np.ndarray:
        """True UV (N, H, W, 2) -> the loss's target (N, H/4, W/4, 2k): the k nearest bins of each
        4 x 4 block's mean UV (as floats), then their Gaussian weights (ECCV16 soft encoding); with
        global features one more channel, each image's class label (N,) (-1: none, the default);
        with `loss` "uv_mse" two more, the blocks' mean UV itself."""
        idx, w = self.grid.soft_encode_sparse(unet_inputs.block_mean(uv, OUTPUT_STRIDE), self.config.soft_sigma, self.config.soft_k)
        parts = [idx.astype(np.float32), w]
        if self.config.global_classes:
            lab = np.full(len(uv), -1.0, np.float32) if labels is None else np.asarray(labels, np.float32)
            parts.append(np.broadcast_to(lab[:, None, None, None], idx.shape[:3] + (1,)))
        if self.config.loss == "uv_mse":
            parts.append(unet_inputs.block_mean(uv, OUTPUT_STRIDE).astype(np.float32))
        return np.concatenate(parts, axis=-1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Rebalanced cross-entropy against soft-encoded targets (ECCV16 eq. 2), weighted per pixel
        by w of the nearest bin (eq. 3-4); with global features, plus `global_weight` x the class
        cross-entropy of the labelled images (Iizuka 2016's joint loss). With `loss` "uv_mse" the
        loss is instead the squared error of the chroma decoded at the stored settings (what PSNR
        measures), e.g. to fit the propagation's confidence (`train_only`)."""
        k = self.config.soft_k
        if self.config.global_classes:
            y_pred, class_logits = y_pred
        index = ops.cast(y[..., :k], "int32")  # (N, h, w, k), nearest first
        ce = chroma.sparse_cross_entropy(ops.cast(y_pred, "float32"), index, ops.cast(y[..., k:2 * k], "float32"))  # (N, h, w)
        w = chroma.rebalance_weights_ops(ops.convert_to_tensor(self.prior), self.config.rebalance)  # (Q,)
        self.ce_tracker.update_state(ops.mean(ce))
        loss = ops.mean(ce * ops.take(w, index[..., 0]))
        if self.config.loss == "uv_mse":  # (N, h, w, 2) decoded at the stored (T, unrebalance)
            uv = chroma.decode_ops(ops.cast(y_pred, "float32"), ops.log(w), self.decode[1], self.decode[0], self.centres)
            loss = ops.mean(ops.sum(ops.square(uv - ops.cast(y[..., -2:], "float32")), axis=-1))
        if self.config.global_classes:
            labels = ops.cast(y[:, 0, 0, 2 * k], "int32")  # (N,), -1: unlabelled
            cls = unet_global.class_cross_entropy(ops.cast(class_logits, "float32"), labels)
            self.cls_tracker.update_state(cls)
            loss = loss + self.config.global_weight * cls
        return loss

    def bin_weights(self) -> np.ndarray:
        """The rebalancing weights w (Q,) of the stored prior."""
        return chroma.rebalance_weights(keras.ops.convert_to_numpy(self.prior), self.config.rebalance)

    def set_decoding(self, temperature: float, unrebalance: float) -> None:
        """Store the decoding settings chosen on a validation split (they are saved with the weights)."""
        self.decode.assign(np.array([temperature, unrebalance], "float32"))


def build(config: UNetConfig = UNetConfig()) -> UNet:
    """Build the unet from its config (built: weights exist)."""
    model = UNet(config, name="unet")
    r = config.resolution
    model(np.zeros((1, r, r, unet_inputs.input_channels(config.propagate)), "float32"))
    return model


simulate_hints = unet_inputs.simulate_hints  # (the training hints; kept here for callers of unet.simulate_hints)


def _pack(model, y, hints=None) -> np.ndarray:
    """(y (N, H, W, 1), optional (hint_uv, mask)) -> the model's x (N, H, W, C) (`unet_inputs.pack`)."""
    return unet_inputs.pack(y, hints, propagate_hints=model.config.propagate)


class UNetFamily(Family):
    """Training: Adam on the rebalanced soft cross-entropy, hints simulated per batch, flips only.
    Inference: logits -> annealed mean (the stored temperature, or the caller's) -> UV, upsampled."""

    name = "unet"
    config_cls = UNetConfig
    defaults = dict(batch_size=32, learning_rate=1e-3, beta_1=0.9, augment=True)
    train_options = ("rebalance",)
    takes_hints = True
    training_fields = ("rebalance", "temperature", "unrebalance", "hint_none", "hint_p", "hint_max", "hint_patch",
                       "seed", "global_weight", "train_only", "loss")
    widening_fields = ("propagate", "hint_skip")  # a fine-tune may add these inputs (load_widened)
    temperature_default = UNetConfig.temperature  # predict_uv with None uses the model's stored (tuned) one
    eager_graphs = True  # TensorFlow's traced bilinear upsampling fails once a graph is generalised to any size

    def build(self, config):
        return build(config)

    def load_widened(self, model, path, stored_spec):
        """Start a `propagate` or `hint_skip` model from weights without it: every stored weight copied by
        its path, the kernels that read the new channels (e1, d4) given zeros there (`unet_inputs.widen_kernel`);
        the propagation's confidence keeps its zero initialisation, so the logits start unchanged."""
        from colourise_core.models import stored

        old_config = UNetConfig.from_dict(stored_spec["config"])
        if old_config.propagate and not old_config.hint_skip and model.config.hint_skip:
            raise ValueError("hint_skip's channels come before the propagated ones: add hint_skip before propagate")
        old = build(old_config)
        stored.load(old, path, self)
        by_path = {v.path: v for v in model.weights}
        unpaired = sorted(set(v.path for v in old.weights) - set(by_path))
        if unpaired:
            raise ValueError(f"the stored network's weights {unpaired} have no place in the model")
        for v in old.weights:
            target = by_path[v.path]
            target.assign(unet_inputs.widen_kernel(keras.ops.convert_to_numpy(v), tuple(target.shape)))

    def pretrained_layers(self, model):
        """The frozen ImageNet encoder, when the config has one (`unet_encoder`)."""
        return [model.net.get_layer(unet_encoder.LAYER)] if model.config.encoder else []

    def load_pretrained(self, model):
        unet_encoder.load_pretrained(model.net)

    def config_overrides(self, train_config):
        return {**super().config_overrides(train_config), "seed": train_config.seed}

    def augment_config(self):
        from colourise_core.data.pipeline import AugmentConfig

        return AugmentConfig(flip=True, shift=0.0, rotation=0.0)  # crops give the rest

    def compile(self, model, learning_rate, beta_1):
        """Adam; with `train_only`, every other layer of the network frozen first (its batch norm
        then runs on its moving statistics), so only those layers' weights reach the optimizer."""
        only = set(model.config.train_only)
        if only:
            names = {layer.name for layer in model.net.layers}
            if only - names:
                raise ValueError(f"train_only names layers the network lacks: {sorted(only - names)}")
            for layer in model.net.layers:
                layer.trainable = layer.name in only
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1))

    def batch_target(self, train_config) -> str:
        """"uvl" (UV and the class label) when the run trains the global branch, else "uv"."""
        return "uvl" if (train_config.model_config or {}).get("global_classes") else "uv"

    def prepare(self, model, train_batches, max_images: int = 4000) -> None:
        """Set the bin prior from the training data's chroma (at the output resolution); check that
        a global branch has class labels to learn from. A `train_only` fine-tune keeps the prior
        it started from: the frozen network's decoding (the rebalancing it undoes) stays its own.
        With an `encoder`, its ImageNet weights are read first (`unet_encoder.load_pretrained`)."""
        if model.config.encoder and not model.config.train_only:
            self.load_pretrained(model)
        if model.config.global_classes:
            data = train_batches.dataset
            unet_global.check_labels(data.labels, model.config.global_classes, data.name)
        if model.config.train_only:
            return
        counts = np.zeros(len(model.centres), np.float64)
        seen = 0
        for i in range(len(train_batches)):
            _, uv = train_batches[i]
            small = unet_inputs.block_mean(uv[..., :2], OUTPUT_STRIDE)
            counts += np.bincount(chroma.nearest_bin(small, model.centres).ravel(), minlength=len(counts))
            seen += len(uv)
            if seen >= max_images:
                break
        prior = chroma.smooth_prior(counts, model.centres, model.config.prior_sigma)
        model.prior.assign(prior.astype("float32"))

    def _rng(self, model):
        if not hasattr(model, "_hint_rng"):
            model._hint_rng = np.random.default_rng(model.config.seed)
        return model._hint_rng

    def train_step(self, model, y, target):
        """target: UV (B, H, W, 2), or "uvl" (B, H, W, 3): UV then the class label in every pixel."""
        uv, labels = _split_target(target)
        x = _pack(model, y, simulate_hints(uv, self._rng(model), model.config))
        logs = model.train_on_batch(x, model.encode_target(uv, labels), return_dict=True)
        return {k: float(v) for k, v in logs.items()}

    def test_step(self, model, y, target):  # validation: automatic colouring, no hints
        uv, labels = _split_target(target)
        logs = model.test_on_batch(_pack(model, y), model.encode_target(uv, labels), return_dict=True)
        return {k: float(v) for k, v in logs.items()}

    def stride(self, model):
        return STRIDE

    def input_size(self, model, height, width, render_size=None):
        """The longer side scaled to `render_size` (default: the training resolution), aspect kept."""
        return super().input_size(model, height, width, render_size or model.resolution)

    def inference_graphs(self, model):
        return {"logits": model.net}

    def decode_logits(self, model, logits: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """Logits (N, h, w, Q) -> UV (N, h, w, 2) by the annealed mean, after subtracting the stored
        fraction of log w (undoing part of the rebalancing)."""
        t_stored, alpha = (float(v) for v in keras.ops.convert_to_numpy(model.decode))
        t = t_stored if temperature is None else float(temperature)
        log_p = chroma.log_softmax_np(np.asarray(logits, np.float64)) - alpha * np.log(model.bin_weights())
        return chroma.annealed_mean(log_p, model.centres, t)

    def logits(self, model, y, hints=None) -> np.ndarray:
        """The network's logits (N, h/4, w/4, Q) for luma y (N, h, w, 1) and optional (hint_uv, mask)."""
        x = _pack(model, np.asarray(y, np.float32), hints)
        x[..., :1] -= 0.5  # the graph is the bare network: centre Y as UNet.call does
        return self.run_graph(model, "logits", x)

    def chroma_probabilities(self, model, y, hints=None) -> np.ndarray:
        """(N, h/4, w/4, Q) the distribution over chroma bins that the decoding averages: the softmax
        with the stored fraction of the rebalancing undone (ideepcolor's suggested colours read it)."""
        _, alpha = (float(v) for v in keras.ops.convert_to_numpy(model.decode))
        z = np.asarray(self.logits(model, y, hints), np.float64) - alpha * np.log(model.bin_weights())
        return np.exp(chroma.log_softmax_np(z))

    def predict_uv(self, model, y, samples=1, temperature=None, seed=0, hints=None):
        """UV (S, N, h, w, 2) at the input's size; `temperature` is the annealed-mean T ("vividness")."""
        y = np.asarray(y, np.float32)
        logits = self.logits(model, y, hints)  # (N, h/4, w/4, Q)
        small = self.decode_logits(model, logits, temperature)  # (N, h/4, w/4, 2)
        h, w = y.shape[1:3]
        uv = np.stack([cv2.resize(s, (w, h), interpolation=cv2.INTER_LINEAR) for s in small])  # (N, h, w, 2)
        return np.repeat(uv[None], samples, axis=0) if samples > 1 else uv[None]


def _split_target(target: np.ndarray):
    """(B, H, W, 2) -> (uv, None); (B, H, W, 3) "uvl" -> (uv, labels (B,))."""
    target = np.asarray(target, np.float32)
    if target.shape[-1] == 3:
        return target[..., :2], target[:, 0, 0, 2]
    return target, None


FAMILY = UNetFamily()
