"""The dissertation's conditional GAN (section 4.2; Figure 4.9).

Generator: the CNN with batch normalisation and no dropout, Y (N, H, W, 1) -> UV (N, H, W, 2).
Discriminator: stride-2 ReLU convolutions on UV (N, H, W, 2) down to 2x2, then a sigmoid unit
(the probability that the UV is real). Its layer table was lost in the text; it is rebuilt here
with a higher capacity than the generator, as 4.2.1 asks (389,153 parameters at 32 px against
the dissertation's 408,129).

Training (4.2.3), one step per batch: the discriminator trains on the real UV (label 1), then on
the generated UV (label 0), with binary cross-entropy; then the generator trains through the
frozen discriminator, with label 1. The generated UV is the generator's training-mode output
(batch-normalisation batch statistics): the very output the generator's update then
differentiates, so the discriminator judges what the generator is trained to produce.

Two implementations of that step, one place (`CGAN.train_batch`):
    TensorFlow   one compiled function: the generator's forward pass is kept on a tape and
                 reused by its update (a CPU step is ~1.2-1.3x faster than three train_on_batch).
    other        (JAX, torch) ordinary compiled Keras models driven by `train_on_batch`: the
                 discriminator, and the combined model generator -> frozen discriminator.

Options past the dissertation (the field's later fixes; off by default, so the shipped weights'
specs are unchanged): a conditional discriminator that sees Y beside UV (N, H, W, 3), so it can
judge whether a colour fits its shape, and an L1 term in the generator's loss (pix2pix: Isola et
al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017, used 100).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers, ops

from colourise_core.errors import ColouriseError
from colourise_core.models import cnn
from colourise_core.models.family import Family, layout

OPTION = {"optional": True}  # config fields dropped from the spec when at their default
_DISC_FILTERS = {32: (32, 64, 128, 256), 64: (16, 32, 64, 128, 256), 128: (16, 32, 64, 128, 256, 256)}


@dataclasses.dataclass(frozen=True)
class CGANConfig:
    resolution: int = 32  # training image size; picks the generator's layout
    disc_filters: tuple = _DISC_FILTERS[32]  # stride-2 convs of the discriminator, down to 2x2
    # Options (pix2pix); a field at its default is left out of the spec, so older specs still match.
    conditional_discriminator: bool = dataclasses.field(default=False, metadata=OPTION)  # D sees Y beside UV
    l1_weight: float = dataclasses.field(default=0.0, metadata=OPTION)  # G loss += w * mean |UV - UV_true| (pix2pix: 100)
    # Stabilising the discriminator (training only; the faithful recipe trains D and G alike):
    disc_lr_scale: float = dataclasses.field(default=1.0, metadata=OPTION)  # D's learning rate = this x G's (< 1: a slower D)
    label_smoothing: float = dataclasses.field(default=0.0, metadata=OPTION)  # one-sided: D's real label 1 - this (Salimans 2016: 0.1)
    adv_weight: float = dataclasses.field(default=1.0, metadata=OPTION)  # weight of the adversarial BCE in G's loss (0: an L1 warm start, as SRGAN's MSE one)

    @classmethod
    def for_resolution(cls, resolution: int, **overrides) -> "CGANConfig":
        return cls(resolution=resolution, disc_filters=layout(_DISC_FILTERS, resolution, "CGAN"), **overrides)

    @classmethod
    def from_dict(cls, d: dict) -> "CGANConfig":
        return cls(**{**d, "disc_filters": tuple(d["disc_filters"])})


class _Untracked:
    """Holds the combined model out of Keras' tracking, so weight files store each layer once."""

    def __init__(self, model):
        self.model = model


class _TrainingMode(keras.Model):
    """`net` called with training=True whatever the caller asks (batch-norm batch statistics)."""

    def __init__(self, net: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.net = net

    def call(self, y):
        return self.net(y, training=True)


class CGAN(keras.Model):
    """Generator + discriminator. `model(y)` is the generator's UV."""

    colourise_name = "cgan"
    fused_step = True  # TensorFlow: the step as one compiled function (False: the train_on_batch path)

    def __init__(self, generator: keras.Model, discriminator: keras.Model, resolution: int,
                 conditional: bool = False, l1_weight: float = 0.0, disc_lr_scale: float = 1.0,
                 label_smoothing: float = 0.0, adv_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.resolution = resolution
        self.conditional, self.l1_weight = bool(conditional), float(l1_weight)
        self.disc_lr_scale, self.real_label = float(disc_lr_scale), 1.0 - float(label_smoothing)
        self.adv_weight = float(adv_weight)
        if not self.adv_weight and not self.l1_weight:
            raise ColouriseError("a CGAN with adv_weight 0 needs an L1 weight: its generator would have no loss")
        y = keras.Input(shape=(resolution, resolution, 1))  # shares the two networks' layers
        uv = generator(y)  # (N, R, R, 2)
        p = discriminator(self.disc_input(y, uv))  # (N, 1)
        outputs = [p, uv] if self.l1_weight else p  # the L1 term is a loss on the generator's UV
        self._held = _Untracked(keras.Model(y, outputs, name="combined"))

    def disc_input(self, y, uv):
        """What the discriminator sees: UV (N, H, W, 2), or Y beside UV (N, H, W, 3) when conditional."""
        return ops.concatenate([y, uv], axis=-1) if self.conditional else uv

    def generator_loss(self, p_fake, generated, uv):
        """The generator's loss: BCE of the discriminator's P(real) against 1 (4.2.3), plus
        l1_weight * mean |UV - UV_true| when the L1 option is on (pix2pix); the BCE weighted by
        adv_weight (1; 0 during an L1 warm start).

        Args:
            p_fake: (N, 1) the discriminator's output on the generated UV.
            generated: (N, H, W, 2) the generator's UV.
            uv: (N, H, W, 2) the true UV.
        """
        loss = self.adv_weight * self.loss_fn(ops.ones_like(p_fake), p_fake)
        if self.l1_weight:  # a Keras loss, so it is scaled per replica like the BCE under tf.distribute
            loss = loss + self.l1_weight * keras.losses.MeanAbsoluteError()(ops.cast(uv, generated.dtype), generated)
        return loss

    def combined(self) -> keras.Model:
        """Generator -> discriminator, compiled with the generator's optimizer."""
        return self._held.model

    def call(self, y, training=False):
        return self.generator(y, training=training)  # (N, H, W, 2)

    def compile(self, d_optimizer, g_optimizer, loss_fn=None, **kwargs):
        """Compile the discriminator and the combined model (generator -> frozen discriminator).

        Args:
            d_optimizer: optimizer of the discriminator.
            g_optimizer: optimizer of the generator (through the combined model).
            loss_fn: defaults to binary cross-entropy (equation 4.4).
        """
        super().compile(optimizer=None, **kwargs)
        loss_fn = loss_fn or keras.losses.BinaryCrossentropy()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn
        self.__dict__.pop("_tf_step_fn", None)  # a new compile: a new step
        self.discriminator.compile(optimizer=d_optimizer, loss=loss_fn)
        if self.l1_weight:  # outputs (P(real), UV): BCE + l1_weight * MAE (mean over pixels and channels)
            self.combined().compile(optimizer=g_optimizer, loss=[loss_fn, keras.losses.MeanAbsoluteError()],
                                    loss_weights=[self.adv_weight, self.l1_weight])
        else:  # the adversarial BCE alone, weighted only when adv_weight is not the dissertation's 1
            weights = {} if self.adv_weight == 1.0 else {"loss_weights": [self.adv_weight]}
            self.combined().compile(optimizer=g_optimizer, loss=loss_fn, **weights)

    def _combined_targets(self, real, uv):
        return [real, uv] if self.l1_weight else real

    def train_batch(self, y: np.ndarray, uv: np.ndarray) -> dict:
        """One CGAN step on a batch (4.2.3).

        Args:
            y: (N, H, W, 1) luma.
            uv: (N, H, W, 2) true chroma.
        Returns:
            {"d_loss": real + fake BCE, "g_loss": the generator's loss (`generator_loss`)}.
        """
        if self.fused_step and keras.backend.backend() == "tensorflow":
            d_real, d_fake, g_loss, l1 = self._tf_step()(y, uv)
            return self._logs(d_real, d_fake, g_loss, l1)
        n = len(y)
        real, fake = np.ones((n, 1), "float32"), np.zeros((n, 1), "float32")
        generated = self._training_mode().predict_on_batch(y)  # (N, H, W, 2)
        d_in = lambda c: np.concatenate([y, c], axis=-1) if self.conditional else c  # noqa: E731
        self.discriminator.trainable = True
        d_real = self.discriminator.train_on_batch(d_in(uv), real * self.real_label)
        d_fake = self.discriminator.train_on_batch(d_in(generated), fake)
        self.discriminator.trainable = False  # frozen inside the combined model
        g_loss = self.combined().train_on_batch(y, self._combined_targets(real, uv), return_dict=True)["loss"]
        self.discriminator.trainable = True
        return self._logs(d_real, d_fake, g_loss, np.mean(np.abs(np.asarray(generated) - uv)))

    def _logs(self, d_real, d_fake, g_loss, l1) -> dict:
        """A step's logs; "l1" (mean |UV - UV_true|, what the best checkpoint watches) when the L1 option is on."""
        logs = {"d_loss": float(d_real) + float(d_fake), "g_loss": float(g_loss)}
        return {**logs, "l1": float(l1)} if self.l1_weight else logs

    def _training_mode(self) -> keras.Model:
        """The generator called in training mode, for `predict_on_batch` (built once, untracked)."""
        if not hasattr(self, "_generator_training"):
            self._generator_training = _Untracked(_TrainingMode(self.generator, name="generator_training_mode"))
        return self._generator_training.model

    def _tf_step(self):
        """The TensorFlow step as one `tf.function` (built once): (y, uv) -> (d_real, d_fake, g_loss, l1)."""
        if hasattr(self, "_tf_step_fn"):
            return self._tf_step_fn
        import tensorflow as tf

        gen, disc, loss_fn, d_in = self.generator, self.discriminator, self.loss_fn, self.disc_input
        for optimizer, net in ((self.d_optimizer, disc), (self.g_optimizer, gen)):
            if not optimizer.built:  # slots made here, not inside the traced function
                optimizer.build(net.trainable_variables)

        def d_update(uv, label):
            with tf.GradientTape() as tape:
                loss = loss_fn(label, disc(uv, training=True))
            self.d_optimizer.apply_gradients(zip(tape.gradient(loss, disc.trainable_variables), disc.trainable_variables))
            return loss

        @tf.function(reduce_retracing=True)
        def step(y, uv):
            real = tf.ones((tf.shape(y)[0], 1))
            with tf.GradientTape() as g_tape:
                generated = gen(y, training=True)  # (N, H, W, 2), kept on the tape for the generator
            d_real = d_update(d_in(y, uv), real * self.real_label)  # one-sided label smoothing when set
            d_fake = d_update(d_in(y, tf.stop_gradient(generated)), tf.zeros_like(real))
            with g_tape:  # through the updated discriminator (+ the L1 term when on)
                g_loss = self.generator_loss(disc(d_in(y, generated), training=True), generated, uv)
            self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, gen.trainable_variables), gen.trainable_variables))
            l1 = tf.reduce_mean(tf.abs(tf.cast(uv, generated.dtype) - generated))  # a plain mean: one replica's
            return d_real, d_fake, g_loss, l1

        self._tf_step_fn = step
        return step

    def test_batch(self, y: np.ndarray, uv: np.ndarray) -> dict:
        """The same losses without updates (validation)."""
        n = len(y)
        real, fake = np.ones((n, 1), "float32"), np.zeros((n, 1), "float32")
        generated = self.generator.predict_on_batch(y)
        d_in = lambda c: np.concatenate([y, c], axis=-1) if self.conditional else c  # noqa: E731
        d_loss = self.discriminator.test_on_batch(d_in(uv), real) + self.discriminator.test_on_batch(d_in(generated), fake)
        g_loss = self.combined().test_on_batch(y, self._combined_targets(real, uv), return_dict=True)["loss"]
        return self._logs(d_loss, 0.0, g_loss, np.mean(np.abs(np.asarray(generated) - uv)))


def build_discriminator(config: CGANConfig) -> keras.Model:
    """UV (N, R, R, 2) -> P(real) (N, 1); conditional: Y beside UV (N, R, R, 3) -> P(real)."""
    channels = 3 if config.conditional_discriminator else 2
    uv = keras.Input(shape=(config.resolution, config.resolution, channels), name="uv")
    x = uv
    for i, f in enumerate(config.disc_filters):  # (N, R / 2^(i+1), R / 2^(i+1), f)
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"d_conv{i}")(x)
    x = layers.Flatten(name="d_flatten")(x)  # (N, 2 * 2 * f)
    p = layers.Dense(1, activation="sigmoid", name="d_real")(x)
    return keras.Model(uv, p, name="discriminator")


def build(config: CGANConfig = CGANConfig()) -> CGAN:
    """Build the CGAN from its config.

    Returns:
        A built `CGAN`; `model(y)` gives UV, `model.train_batch` trains it once compiled.
    """
    gen_config = cnn.CNNConfig.for_resolution(config.resolution, dropout=0.0, batch_norm=True)
    model = CGAN(cnn.build(gen_config, name="generator"), build_discriminator(config), config.resolution,
                 conditional=config.conditional_discriminator, l1_weight=config.l1_weight,
                 disc_lr_scale=config.disc_lr_scale, label_smoothing=config.label_smoothing,
                 adv_weight=config.adv_weight, name="cgan")
    model(np.zeros((1, config.resolution, config.resolution, 1), "float32"))  # build
    return model


class CGANFamily(Family):
    """The CGAN: two Adam optimizers (lr 2e-4, beta_1 0.5), batch 512, its own step (4.2.3)."""

    name = "cgan"
    config_cls = CGANConfig
    defaults = dict(batch_size=512, learning_rate=2e-4, beta_1=0.5, augment=False)
    monitor = "val_g_loss"
    training_fields = ("l1_weight", "disc_lr_scale", "label_smoothing", "adv_weight")
    average_logs = True  # train_batch returns this batch's losses
    train_options = ("conditional_discriminator", "l1_weight", "disc_lr_scale", "label_smoothing", "adv_weight")

    def build(self, config: CGANConfig) -> CGAN:
        return build(config)

    def monitor_log(self, model) -> str:
        """With the L1 option, the validation L1 (the adversarial losses of a GAN do not fall as its
        colours improve: a discriminator that wins drives g_loss up while the colours may be right)."""
        return "val_l1" if model.l1_weight else self.monitor

    def compile(self, model, learning_rate, beta_1):
        adam = lambda lr: keras.optimizers.Adam(learning_rate=lr, beta_1=beta_1)  # noqa: E731
        model.compile(d_optimizer=adam(learning_rate * model.disc_lr_scale), g_optimizer=adam(learning_rate))

    def optimizers(self, model):
        return [model.d_optimizer, model.g_optimizer]

    def build_optimizers(self, model):
        model.d_optimizer.build(model.discriminator.trainable_variables)
        model.g_optimizer.build(model.generator.trainable_variables)

    def train_step(self, model, y, target):
        return model.train_batch(y, target)

    def test_step(self, model, y, target):
        return model.test_batch(y, target)

    def replica_step(self, model, y, target, training):
        """The compiled step's body (training) or the validation losses, on one replica's slice.
        Keras' BCE inside strategy.run is a mean / replicas: unscaled here for the logs."""
        import tensorflow as tf

        n = tf.distribute.get_strategy().num_replicas_in_sync
        if training:
            d_real, d_fake, g_loss, l1 = model._tf_step().python_function(y, target)
            logs = {"d_loss": (d_real + d_fake) * n, "g_loss": g_loss * n}
        else:
            gen, disc, bce, d_in = model.generator, model.discriminator, model.loss_fn, model.disc_input
            fake = gen(y, training=False)  # (N, H, W, 2)
            p_fake = disc(d_in(y, fake), training=False)  # (N, 1)
            real = tf.ones((tf.shape(y)[0], 1))
            d = bce(real, disc(d_in(y, target), training=False)) + bce(tf.zeros_like(real), p_fake)
            logs = {"d_loss": d * n, "g_loss": model.generator_loss(p_fake, fake, target) * n}
            l1 = tf.reduce_mean(tf.abs(tf.cast(target, fake.dtype) - fake))
        return {**logs, "l1": l1} if model.l1_weight else logs  # l1: a plain mean, not scaled per replica

    def epoch_logs(self, logs):
        return {**logs, "loss": logs["g_loss"]} if "g_loss" in logs else logs

    def inference_graphs(self, model):
        return {"uv": model.generator}


FAMILY = CGANFamily()
