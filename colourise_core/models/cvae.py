"""The dissertation's conditional VAE (section 4.3; Figure 4.10).

- Training encoder: YUV (N, R, R, 3) -> stride-2 ReLU convs down to 2x2 -> flatten (N, 512)
  -> dense 512 -> mean and log-variance of p(z | YUV), (N, latent) each.
- Conditional encoder: the same on Y (N, R, R, 1) -> q(z | Y).
- Decoder: z (N, latent) -> dense -> (N, 2, 2, 128) -> stride-2 transposed convs up to
  (N, R, R, 2) UV -> concatenated with Y -> two transposed convs -> YUV (N, R, R, 3).
- Loss (equations 4.5-4.7): W * MSE(YUV, decoded YUV) + KL(p(z|YUV) || q(z|Y)), the KL summed
  over the latent dimensions and averaged over the batch.

Training decodes a reparametrised sample of p(z | YUV); inference decodes samples of q(z | Y)
whose standard deviation is scaled by a temperature (0 gives the mean). Resolution rule: one
stride-2 stage per halving from the resolution down to 2x2 (4 at 32 px, 5 at 64, 6 at 128).

Options past the dissertation (6.1.3, after Deshpande et al., CVPR 2017), all off by default so
the dissertation's CVAE and its shipped weights are unchanged:
- `mdn_components` K > 0: the conditional encoder is a Mixture Density Network (models/mdn.py)
  giving K Gaussians over z and their weights; the training encoder's KL is then taken against
  N(0, I) (the VAE prior) and the MDN learns the training encoder's codes by their negative
  log-likelihood under the mixture. Sampling picks a component by weight (or the one asked for)
  and draws within it, the temperature scaling its spread.
- `rarity_mix` > 0: the reconstruction error of each pixel weighted by its chroma's rarity in the
  training data; `grad_weight` > 0: a chroma-gradient term against blur (models/chroma_loss.py).
- `free_bits` / `kl_anneal_steps`: the KL is not charged below a floor per dimension / ramps up
  from 0, so the latent carries the colour field instead of being ignored.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers, ops

from colourise_core.distribute import replica_scaled
from colourise_core.models import chroma_loss, mdn
from colourise_core.models.family import Family, layout
from colourise_core.models.family import from_dict as config_from_dict

# Encoder conv filters (down to 2x2) and decoder transposed-conv filters (up from 2x2).
_LAYOUTS = {
    32: ((8, 16, 64, 128), (128, 64, 16, 8)),
    64: ((8, 16, 32, 64, 128), (128, 64, 32, 16, 8)),
    128: ((8, 16, 32, 64, 128, 128), (128, 128, 64, 32, 16, 8)),
}


OPTION = {"optional": True}  # config fields dropped from the spec when at their default


@dataclasses.dataclass(frozen=True)
class CVAEConfig:
    resolution: int = 32  # training image size; the network takes exactly R x R
    encoder_filters: tuple = _LAYOUTS[32][0]  # stride-2 3x3 convs down to 2x2
    decoder_filters: tuple = _LAYOUTS[32][1]  # stride-2 3x3 transposed convs up from 2x2
    dense_units: int = 512  # the dense layer before the latent heads
    latent_dim: int = 1024  # 4.3.6: the final choice (1024 to 5120 was best)
    head_filters: int = 8  # transposed conv after joining Y
    recon_weight: float = 1.0  # W of equation 4.5 (1: the dissertation's unweighted final model)
    seed: int = 0  # seeds the reparametrisation noise in training
    # Options (6.1.3); a field at its default is left out of the spec, so older specs still match.
    mdn_components: int = dataclasses.field(default=0, metadata=OPTION)  # 0: one Gaussian q(z|Y); K: an MDN (CLI --mdn: 8)
    mdn_weight: float = dataclasses.field(default=1.0, metadata=OPTION)  # weight of the mixture NLL term
    rarity_mix: float = dataclasses.field(default=0.0, metadata=OPTION)  # 0: unweighted MSE; lambda of ECCV16's uniform mix (0.5)
    rarity_bins: int = dataclasses.field(default=16, metadata=OPTION)  # UV histogram bins per axis for the rarity weights
    grad_weight: float = dataclasses.field(default=0.0, metadata=OPTION)  # weight of the chroma-gradient term (0: off)
    free_bits: float = dataclasses.field(default=0.0, metadata=OPTION)  # KL nats per latent dimension not charged (0: off)
    kl_anneal_steps: int = dataclasses.field(default=0, metadata=OPTION)  # steps of the KL weight's 0 -> 1 ramp (0: off)

    @classmethod
    def from_dict(cls, d: dict) -> "CVAEConfig":
        """The config of a spec (JSON lists back to tuples)."""
        return config_from_dict(cls, d, ("encoder_filters", "decoder_filters"))

    @classmethod
    def for_resolution(cls, resolution: int, **overrides) -> "CVAEConfig":
        """The encoder/decoder layout for 32, 64 or 128 px."""
        enc, dec = layout(_LAYOUTS, resolution, "CVAE")
        return cls(resolution=resolution, encoder_filters=enc, decoder_filters=dec, **overrides)


def kl_per_dim(mu_p, logvar_p, mu_q, logvar_q):
    """KL(N(mu_p, var_p) || N(mu_q, var_q)) of equation 4.7 per dimension (shape of mu_p).

    log(s_q / s_p) + (s_p^2 + (mu_p - mu_q)^2) / (2 s_q^2) - 1/2.
    """
    return 0.5 * (logvar_q - logvar_p) + (ops.exp(logvar_p) + ops.square(mu_p - mu_q)) / (2.0 * ops.exp(logvar_q)) - 0.5


def kl_divergence(mu_p, logvar_p, mu_q, logvar_q):
    """KL(N(mu_p, var_p) || N(mu_q, var_q)) of equation 4.7, summed over the last axis.

    Returns: (N,) tensor.
    """
    return ops.sum(kl_per_dim(mu_p, logvar_p, mu_q, logvar_q), axis=-1)


class CVAE(keras.Model):
    """Training encoder + conditional encoder + decoder.

    `model(y)` with Y (N, R, R, 1) gives the UV decoded at the conditional mean (temperature 0;
    with an MDN, the mean of each image's heaviest component); `model(yuv)` with (N, R, R, 3)
    is the training pass used by `fit` and `compute_loss`.
    """

    colourise_name = "cvae"

    def __init__(self, train_encoder, cond_encoder, decoder, config: CVAEConfig, **kwargs):
        super().__init__(**kwargs)
        self.train_encoder, self.cond_encoder, self.decoder = train_encoder, cond_encoder, decoder
        self.config = config
        self.resolution = config.resolution
        self.recon_weight = config.recon_weight
        self.latent_dim = config.latent_dim
        self.components = max(1, config.mdn_components)  # K: 1 for the dissertation's Gaussian
        self.is_mdn = config.mdn_components > 0
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        self.recon_tracker = keras.metrics.Mean(name="recon")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        if self.is_mdn:
            self.nll_tracker = keras.metrics.Mean(name="nll")
        if config.grad_weight > 0:
            self.grad_tracker = keras.metrics.Mean(name="grad")
        self.chroma_weights = None
        if config.rarity_mix > 0:  # (B, B) rarity weights of the UV bins, saved with the weights
            b = config.rarity_bins
            self.chroma_weights = self.add_weight(shape=(b, b), initializer="ones", trainable=False, name="chroma_weights")

    def call(self, inputs, training=False):
        if inputs.shape[-1] == 1:  # inference: Y (N, R, R, 1) -> UV (N, R, R, 2)
            if self.is_mdn:
                logits, means, _ = self.cond_encoder(inputs, training=training)  # (N, K), (N, K, L)
                top = ops.one_hot(ops.argmax(logits, axis=-1), self.components)  # (N, K)
                mu_q = ops.sum(ops.expand_dims(top, -1) * means, axis=1)  # (N, L)
            else:
                mu_q, _ = self.cond_encoder(inputs, training=training)
            return self.decoder([mu_q, inputs], training=training)[..., 1:]
        y = inputs[..., :1]  # training: YUV (N, R, R, 3)
        mu_p, logvar_p = self.train_encoder(inputs, training=training)  # (N, latent) each
        q = self.cond_encoder(y, training=training)  # (mu_q, logvar_q), or MDN (logits, means, logvars)
        eps = keras.random.normal(ops.shape(mu_p), seed=self.seed_generator)
        z = mu_p + ops.exp(0.5 * logvar_p) * eps  # reparametrisation trick (3.11)
        yuv = self.decoder([z, y], training=training)  # (N, R, R, 3)
        if self.is_mdn:
            return (yuv, mu_p, logvar_p, z, *q)
        return (yuv, mu_p, logvar_p, *q)

    def _reconstruction(self, target, yuv_pred):
        """Equation 4.6's MSE over YUV, or with per-pixel chroma-rarity weights."""
        if self.chroma_weights is None:
            return ops.mean(ops.square(target - yuv_pred))
        weights = chroma_loss.pixel_weights(target[..., 1:], ops.cast(self.chroma_weights, target.dtype))  # (N, R, R)
        return chroma_loss.weighted_mse(target, yuv_pred, weights)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """W * reconstruction + KL (equation 4.5), with metric updates; the options add terms.

        Faithful: W * MSE(YUV, decoded) + mean KL(p(z|YUV) || q(z|Y)). With an MDN the KL is
        against N(0, I) and the MDN's NLL of the (gradient-stopped) training code z is added,
        weighted by `mdn_weight`; `grad_weight` adds the chroma-gradient term; `free_bits` and
        `kl_anneal_steps` change how the KL is charged.
        """
        cfg = self.config
        yuv_pred, mu_p, logvar_p = y_pred[:3]
        target = ops.cast(x if y is None else y, yuv_pred.dtype)  # (N, R, R, 3)
        recon = self._reconstruction(target, yuv_pred)
        if self.is_mdn:
            z, logits, means, logvars = y_pred[3:]
            kl_dims = mdn.kl_to_standard_normal(mu_p, logvar_p)  # (N, L)
        else:
            mu_q, logvar_q = y_pred[3:]
            kl_dims = kl_per_dim(mu_p, logvar_p, mu_q, logvar_q)
        kl = ops.mean(ops.sum(kl_dims, axis=-1))
        charged = mdn.free_bits_kl(kl_dims, cfg.free_bits) if cfg.free_bits > 0 else kl
        if cfg.kl_anneal_steps > 0 and self.optimizer is not None:
            charged = mdn.kl_anneal_factor(self.optimizer.iterations, cfg.kl_anneal_steps) * charged
        self.recon_tracker.update_state(recon)
        self.kl_tracker.update_state(kl)
        loss = self.recon_weight * recon + charged
        if cfg.grad_weight > 0:
            grad = chroma_loss.gradient_loss(target[..., 1:], yuv_pred[..., 1:])
            self.grad_tracker.update_state(grad)
            loss = loss + cfg.grad_weight * grad
        if self.is_mdn:
            nll = ops.mean(mdn.mixture_nll(ops.stop_gradient(z), logits, means, logvars))
            self.nll_tracker.update_state(nll)
            loss = loss + cfg.mdn_weight * nll
        return replica_scaled(loss)  # / replicas under tf.distribute, as Keras' losses (distribute.py)

    def mixture(self, y: np.ndarray):
        """The conditional encoder's mixture for each image, numpy.

        Args:
            y: (N, R, R, 1) luma.
        Returns:
            (logits (N, K), means (N, K, L), logvars (N, K, L)); K = 1 without an MDN.
        """
        out = FAMILY.run_graph(self, "cond_encoder", np.asarray(y, "float32"))
        if self.is_mdn:
            return tuple(out)
        mu, logvar = out
        return np.zeros((len(mu), 1), "float32"), mu[:, None], logvar[:, None]

    def mixture_weights(self, y: np.ndarray) -> np.ndarray:
        """(N, K) weight of each component per image (all 1 without an MDN)."""
        return mdn.mixture_weights(self.mixture(y)[0])

    def sample_uv(self, y: np.ndarray, n: int = 1, temperature: float = 1.0, seed: int = 0,
                  component: int | None = None) -> np.ndarray:
        """Decode n samples of q(z | Y) per image (`CVAEFamily.predict_uv`); returns (n, N, R, R, 2)."""
        return FAMILY.predict_uv(self, y, samples=n, temperature=temperature, seed=seed, component=component)

    def fit_chroma_prior(self, batches, max_images: int = 4000, sigma: float = 1.0) -> np.ndarray | None:
        """Set the rarity weights from the training data's UV histogram (before training).

        Args:
            batches: (y, yuv) batches of the training split (a YUVBatches).
            max_images: stop after about this many images (the histogram settles quickly).
            sigma: Gaussian smoothing of the prior, in bins.
        Returns:
            the (B, B) weights set, or None when the model has no rarity weighting.
        """
        if self.chroma_weights is None:
            return None
        counts, seen = np.zeros((self.config.rarity_bins,) * 2), 0
        for i in range(len(batches)):
            _, yuv = batches[i]
            counts += chroma_loss.uv_histogram(yuv[..., 1:], self.config.rarity_bins)
            seen += len(yuv)
            if seen >= max_images:
                break
        weights = chroma_loss.rarity_weights(counts, self.config.rarity_mix, sigma)
        self.chroma_weights.assign(weights)
        return weights


def _encoder(channels: int, config: CVAEConfig, name: str) -> keras.Model:
    r = config.resolution
    x_in = keras.Input(shape=(r, r, channels), name=f"{name}_in")
    x = x_in
    for i, f in enumerate(config.encoder_filters):  # (N, R / 2^(i+1), ..., f) down to 2x2
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"{name}_conv{i}")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)  # (N, 2 * 2 * f)
    x = layers.Dense(config.dense_units, activation="relu", name=f"{name}_dense")(x)
    if channels == 1 and config.mdn_components > 0:  # the conditional encoder as an MDN (6.1.3)
        return keras.Model(x_in, mdn.mixture_head(x, config.mdn_components, config.latent_dim, name), name=name)
    mu = layers.Dense(config.latent_dim, name=f"{name}_mu")(x)
    logvar = layers.Dense(config.latent_dim, name=f"{name}_logvar")(x)
    return keras.Model(x_in, [mu, logvar], name=name)


def _decoder(config: CVAEConfig) -> keras.Model:
    r, top = config.resolution, config.decoder_filters[0]
    z = keras.Input(shape=(config.latent_dim,), name="z")
    y = keras.Input(shape=(r, r, 1), name="y")
    x = layers.Dense(2 * 2 * top, activation="relu", name="dec_dense")(z)
    x = layers.Reshape((2, 2, top), name="dec_reshape")(x)  # (N, 2, 2, top)
    for i, f in enumerate(config.decoder_filters):  # (N, 2^(i+2), 2^(i+2), f) up to R
        x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu", name=f"dec_up{i}")(x)
    uv = layers.Conv2DTranspose(2, 3, padding="same", activation="tanh", name="dec_uv")(x)  # (N, R, R, 2)
    x = layers.Concatenate(name="dec_join")([uv, y])
    x = layers.Conv2DTranspose(config.head_filters, 3, padding="same", activation="relu", name="dec_head")(x)
    x = layers.Conv2DTranspose(3, 3, padding="same", name="dec_yuv")(x)  # (N, R, R, 3) YUV
    # Channel order Y, U, V: the head learns it; the loss compares with YUV.
    return keras.Model([z, y], x, name="decoder")


def build(config: CVAEConfig = CVAEConfig()) -> CVAE:
    """Build the CVAE from its config.

    Returns:
        A built `CVAE`: `model(y)` gives the mean UV, `model.sample_uv` draws samples.
    """
    if 2 ** len(config.encoder_filters) * 2 != config.resolution:
        raise ValueError(f"{config.resolution} px needs encoder stages down to 2x2")
    model = CVAE(_encoder(3, config, "train_encoder"), _encoder(1, config, "cond_encoder"), _decoder(config), config, name="cvae")
    r = config.resolution
    model(np.zeros((1, r, r, 3), "float32"))  # build the training path
    model(np.zeros((1, r, r, 1), "float32"))
    return model


class CVAEFamily(Family):
    """The CVAE: Adam on equation 4.5 (CVAE.compute_loss), batch 32, trained on YUV (4.3.6).

    Inference decodes samples of q(z | Y): the conditional encoder, then the decoder.
    """

    name = "cvae"
    config_cls = CVAEConfig
    defaults = dict(batch_size=32, learning_rate=1e-3, beta_1=0.9, augment=False)
    target = "yuv"
    train_options = ("latent_dim", "recon_weight", "mdn_components", "rarity_mix", "grad_weight", "free_bits", "kl_anneal_steps")
    samples = True
    training_fields = ("recon_weight", "seed", "mdn_weight", "rarity_mix", "rarity_bins", "grad_weight", "free_bits",
                       "kl_anneal_steps")
    fixed_size = True  # dense layers: exactly R x R

    def build(self, config: CVAEConfig) -> CVAE:
        return build(config)

    def config_overrides(self, train_config):
        return {**super().config_overrides(train_config), "seed": train_config.seed}

    def compile(self, model, learning_rate, beta_1):
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1))  # loss: compute_loss

    def train_step(self, model, y, target):
        return {k: float(v) for k, v in model.train_on_batch(target, target, return_dict=True).items()}

    def test_step(self, model, y, target):
        return {k: float(v) for k, v in model.test_on_batch(target, target, return_dict=True).items()}

    def replica_step(self, model, y, target, training):
        return (model.train_step if training else model.test_step)((target, target))  # trained on YUV

    def stride(self, model):
        return model.resolution

    def inference_graphs(self, model):
        return {"cond_encoder": model.cond_encoder, "decoder": model.decoder}

    def prepare(self, model, train_batches):
        model.fit_chroma_prior(train_batches)  # rarity weights from the training UV (no-op when off)

    def predict_uv(self, model, y, samples=1, temperature=None, seed=0, hints=None, component=None):
        """Decode `samples` draws of q(z | Y), the standard deviation scaled by `temperature`.

        Without an MDN, temperature 0 (or None) gives the conditional mean, drawn once and
        repeated. With an MDN each sample's component is chosen by its weight (`component`
        None) or is `component` (0-based), and temperature 0 gives that component's mean.
        The noise is `default_rng(seed)`: the same seed gives the same samples.
        Returns (S, N, R, R, 2).
        """
        self.check_hints(hints)
        t = self.temperature_default if temperature is None else temperature
        y = np.asarray(y, "float32")
        if model.is_mdn:
            logits, means, logvars = model.mixture(y)
            n = samples if (t > 0 or (component is None and model.components > 1)) else 1  # else all alike
            z = mdn.sample_latent(logits, means, logvars, n=n, temperature=t, seed=seed, component=component)
        else:
            if component not in (None, 0):
                raise ValueError(f"component {component}: this CVAE has one Gaussian (component 0), not a mixture")
            mu, logvar = self.run_graph(model, "cond_encoder", y)  # (N, latent) each
            n = samples if t > 0 else 1
            eps = np.random.default_rng(seed).standard_normal((n,) + mu.shape).astype("float32")
            z = (mu[None] + t * np.exp(0.5 * logvar)[None] * eps) if t > 0 else mu[None]  # (n, N, latent)
        y_rep = np.broadcast_to(y[None], (n,) + y.shape).reshape((-1,) + y.shape[1:])
        yuv = self.run_graph(model, "decoder", [z.reshape((-1, z.shape[-1])), y_rep])  # (n N, R, R, 3)
        uv = yuv[..., 1:].reshape((n,) + y.shape[:-1] + (2,))
        return np.repeat(uv, samples, axis=0) if n < samples else uv


FAMILY = CVAEFamily()
