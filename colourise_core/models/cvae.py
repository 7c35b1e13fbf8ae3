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
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers, ops

from colourise_core.distribute import replica_scaled
from colourise_core.models.family import Family

# Encoder conv filters (down to 2x2) and decoder transposed-conv filters (up from 2x2).
_LAYOUTS = {
    32: ((8, 16, 64, 128), (128, 64, 16, 8)),
    64: ((8, 16, 32, 64, 128), (128, 64, 32, 16, 8)),
    128: ((8, 16, 32, 64, 128, 128), (128, 128, 64, 32, 16, 8)),
}


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

    @classmethod
    def for_resolution(cls, resolution: int, **overrides) -> "CVAEConfig":
        if resolution not in _LAYOUTS:
            raise ValueError(f"no CVAE layout for {resolution} px; choose one of {sorted(_LAYOUTS)}")
        enc, dec = _LAYOUTS[resolution]
        return cls(resolution=resolution, encoder_filters=enc, decoder_filters=dec, **overrides)

    @classmethod
    def from_dict(cls, d: dict) -> "CVAEConfig":
        d = dict(d)
        d["encoder_filters"], d["decoder_filters"] = tuple(d["encoder_filters"]), tuple(d["decoder_filters"])
        return cls(**d)


def kl_divergence(mu_p, logvar_p, mu_q, logvar_q):
    """KL(N(mu_p, var_p) || N(mu_q, var_q)) of equation 4.7, summed over the last axis.

    log(s_q / s_p) + (s_p^2 + (mu_p - mu_q)^2) / (2 s_q^2) - 1/2, per dimension.
    Returns: (N,) tensor.
    """
    per_dim = 0.5 * (logvar_q - logvar_p) + (ops.exp(logvar_p) + ops.square(mu_p - mu_q)) / (2.0 * ops.exp(logvar_q)) - 0.5
    return ops.sum(per_dim, axis=-1)


class CVAE(keras.Model):
    """Training encoder + conditional encoder + decoder.

    `model(y)` with Y (N, R, R, 1) gives the UV decoded at the conditional mean (temperature 0);
    `model(yuv)` with (N, R, R, 3) is the training pass used by `fit` and `compute_loss`.
    """

    colourise_name = "cvae"

    def __init__(self, train_encoder, cond_encoder, decoder, config: CVAEConfig, **kwargs):
        super().__init__(**kwargs)
        self.train_encoder, self.cond_encoder, self.decoder = train_encoder, cond_encoder, decoder
        self.resolution = config.resolution
        self.recon_weight = config.recon_weight
        self.latent_dim = config.latent_dim
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        self.recon_tracker = keras.metrics.Mean(name="recon")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def call(self, inputs, training=False):
        if inputs.shape[-1] == 1:  # inference: Y (N, R, R, 1) -> UV (N, R, R, 2)
            mu_q, _ = self.cond_encoder(inputs, training=training)
            return self.decoder([mu_q, inputs], training=training)[..., 1:]
        y = inputs[..., :1]  # training: YUV (N, R, R, 3)
        mu_p, logvar_p = self.train_encoder(inputs, training=training)  # (N, latent) each
        mu_q, logvar_q = self.cond_encoder(y, training=training)
        eps = keras.random.normal(ops.shape(mu_p), seed=self.seed_generator)
        z = mu_p + ops.exp(0.5 * logvar_p) * eps  # reparametrisation trick (3.11)
        yuv = self.decoder([z, y], training=training)  # (N, R, R, 3)
        return yuv, mu_p, logvar_p, mu_q, logvar_q

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """W * MSE(YUV, decoded) + KL(p(z|YUV) || q(z|Y)) (equation 4.5), with metric updates."""
        yuv_pred, mu_p, logvar_p, mu_q, logvar_q = y_pred
        target = x if y is None else y  # (N, R, R, 3)
        recon = ops.mean(ops.square(ops.cast(target, yuv_pred.dtype) - yuv_pred))
        kl = ops.mean(kl_divergence(mu_p, logvar_p, mu_q, logvar_q))
        self.recon_tracker.update_state(recon)
        self.kl_tracker.update_state(kl)
        return replica_scaled(self.recon_weight * recon + kl)  # / replicas under tf.distribute, as Keras' losses

    def sample_uv(self, y: np.ndarray, n: int = 1, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
        """Decode n samples of q(z | Y) per image, the standard deviation scaled by temperature.

        Args:
            y: (N, R, R, 1) luma.
            n: samples per image.
            temperature: 0 gives the conditional mean, 1 the learnt spread, > 1 more.
            seed: numpy seed of the noise, so a sample set is reproducible.
        Returns:
            (n, N, R, R, 2) UV.
        """
        y = np.asarray(y, "float32")
        mu, logvar = (np.asarray(a) for a in self.cond_encoder.predict_on_batch(y))
        eps = np.random.default_rng(seed).standard_normal((n,) + mu.shape).astype("float32")
        z = mu[None] + temperature * np.exp(0.5 * logvar)[None] * eps  # (n, N, latent)
        z = z.reshape((-1, mu.shape[-1]))
        y_rep = np.broadcast_to(y[None], (n,) + y.shape).reshape((-1,) + y.shape[1:])
        yuv = np.asarray(self.decoder.predict_on_batch([z, y_rep]))
        return yuv[..., 1:].reshape((n,) + y.shape[:-1] + (2,))


def _encoder(channels: int, config: CVAEConfig, name: str) -> keras.Model:
    r = config.resolution
    x_in = keras.Input(shape=(r, r, channels), name=f"{name}_in")
    x = x_in
    for i, f in enumerate(config.encoder_filters):  # (N, R / 2^(i+1), ..., f) down to 2x2
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"{name}_conv{i}")(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)  # (N, 2 * 2 * f)
    x = layers.Dense(config.dense_units, activation="relu", name=f"{name}_dense")(x)
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
    train_options = ("latent_dim", "recon_weight")
    samples = True
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

    def predict_uv(self, model, y, samples=1, temperature=None, seed=0, hints=None):
        """Decode `samples` draws of q(z | Y), its standard deviation scaled by `temperature`
        (0 or None: the conditional mean, drawn once and repeated). Returns (S, N, R, R, 2)."""
        self.check_hints(hints)
        t = self.temperature_default if temperature is None else temperature
        y = np.asarray(y, "float32")
        mu, logvar = self.run_graph(model, "cond_encoder", y)  # (N, latent) each
        n = samples if t > 0 else 1
        eps = np.random.default_rng(seed).standard_normal((n,) + mu.shape).astype("float32")
        z = (mu[None] + t * np.exp(0.5 * logvar)[None] * eps) if t > 0 else mu[None]  # (n, N, latent)
        y_rep = np.broadcast_to(y[None], (n,) + y.shape).reshape((-1,) + y.shape[1:])
        yuv = self.run_graph(model, "decoder", [z.reshape((-1, mu.shape[-1])), y_rep])  # (n N, R, R, 3)
        uv = yuv[..., 1:].reshape((n,) + y.shape[:-1] + (2,))
        return np.repeat(uv, samples, axis=0) if n < samples else uv


FAMILY = CVAEFamily()
