"""The one interface between a model family and the trainer / inference.

Every family module (cnn, cgan, cvae, unet) exposes `FAMILY`, an instance of a `Family`
subclass, registered in `colourise_core.models.FAMILIES`. The trainer and inference ask the
family of a model (`models.family_of(model)`) and call these methods; they never ask a name.

The base class implements a plain single-optimizer Keras model trained with
`train_on_batch`, predicting UV at its input size (the CNN is exactly this).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from colourise_core.errors import ColouriseError


class Family:
    """What the trainer and inference need to know of a model family.

    Attributes:
        name: the family's name (the spec's "model"; the CLI's --model).
        config_cls: its frozen config dataclass (with `for_resolution` and `from_dict`).
        defaults: trainer defaults: batch_size, learning_rate, beta_1, augment.
        monitor: the validation log that early stopping and the best checkpoint watch.
        target: what the batches give beside Y: "uv" (N, R, R, 2) or "yuv" (N, R, R, 3).
        train_options: TrainConfig fields copied into the model config when set.
        average_logs: True when a step returns per-batch logs the trainer averages over an epoch
            (False: the step returns Keras' running means).
        samples: whether `predict_uv` draws different samples per image.
        takes_hints: whether `predict_uv` accepts user hints.
        fixed_size: the network takes exactly R x R (dense layers), whatever the render size.
        temperature_default: the `temperature` used when a caller passes None.
        training_fields: config fields that shape only training (loss weights, simulated hints,
            seeds, default decoding): a fine-tune (`train --init-weights`) may change them.
        widening_fields: config fields that add inputs to the network; a fine-tune may switch
            them on, starting from weights without them (`load_widened`).
    """

    name = "?"
    config_cls = None
    defaults = dict(batch_size=512, learning_rate=1e-3, beta_1=0.9, augment=False)
    monitor = "val_loss"
    target = "uv"
    train_options: tuple = ()
    average_logs = False
    samples = False
    takes_hints = False
    fixed_size = False
    temperature_default = 0.0
    training_fields: tuple = ()
    widening_fields: tuple = ()
    eager_graphs = False  # True: run_graph calls the graphs eagerly (no retracing, no symbolic sizes)

    # ---- building -------------------------------------------------------------------------
    def default_config(self, resolution: int, **overrides):
        """The family's config at `resolution`, with field overrides."""
        return self.config_cls.for_resolution(resolution, **overrides)

    def build(self, config) -> keras.Model:
        raise NotImplementedError

    def config_overrides(self, train_config) -> dict:
        """Model-config fields taken from a (resolved) TrainConfig: its family options, then any
        `model_config` fields (lists become tuples, as in the frozen configs)."""
        out = {k: getattr(train_config, k) for k in self.train_options if getattr(train_config, k) is not None}
        extra = getattr(train_config, "model_config", None) or {}
        known = {f.name for f in dataclasses.fields(self.config_cls)}
        unknown = sorted(set(extra) - known)
        if unknown:
            raise ColouriseError(f"{self.name} has no config fields {unknown}; it has {sorted(known)}")
        out.update({k: tuple(v) if isinstance(v, list) else v for k, v in extra.items()})
        return out

    def pretrained_layers(self, model) -> list:
        """Frozen layers whose weights come from a pinned public source (`load_pretrained`), so a
        weight file may leave them out (`models.stored`). None by default."""
        return []

    def load_pretrained(self, model) -> None:
        """Copy `pretrained_layers`' weights from their source into the model."""
        raise NotImplementedError(f"{self.name} has no pretrained layers")

    def load_widened(self, model, path, stored_spec: dict) -> None:
        """Load weights of a narrower network (`stored_spec`, differing in `widening_fields`) so
        that `model` computes what that network did, its added inputs at zero weight."""
        raise NotImplementedError(f"{self.name} has no widening fields")

    # ---- training -------------------------------------------------------------------------
    def monitor_log(self, model) -> str:
        """The validation log that early stopping and the best checkpoint watch for this model
        (`monitor`, unless the model's options make another log the meaningful one)."""
        return self.monitor

    def batch_target(self, train_config) -> str:
        """What a run's batches give beside Y (`target`, unless a run's options need more)."""
        return self.target

    def augment_config(self):
        """The AugmentConfig used when a run augments (here the dissertation's, 4.1.3)."""
        from colourise_core.data.pipeline import AugmentConfig

        return AugmentConfig()

    def compile(self, model, learning_rate: float, beta_1: float) -> None:
        """Compile with Adam (and the family's loss)."""
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1), loss="mse")

    def optimizers(self, model) -> list:
        """The optimizers whose state a checkpoint saves, in a fixed order."""
        return [model.optimizer]

    def build_optimizers(self, model) -> None:
        """Create the optimizer slots now (before step 1), so checkpoints can be loaded into them."""
        model.optimizer.build(model.trainable_variables)

    def prepare(self, model, train_batches) -> None:
        """Before the first epoch of a fresh run (not on resume): e.g. statistics of the data."""

    def train_step(self, model, y: np.ndarray, target: np.ndarray) -> dict:
        """One update on a batch: y (B, R, R, 1), target per `self.target`. Returns float logs."""
        return {k: float(v) for k, v in model.train_on_batch(y, target, return_dict=True).items()}

    def test_step(self, model, y: np.ndarray, target: np.ndarray) -> dict:
        """The same losses without an update (validation)."""
        return {k: float(v) for k, v in model.test_on_batch(y, target, return_dict=True).items()}

    def replica_step(self, model, y, target, training: bool) -> dict:
        """One replica's part of a distributed step (tensors in and out, inside `strategy.run`).

        Used by `distribute_tf.Runner` (--distribute mirrored|multiworker). Returns the logs as
        means over this replica's images; the loss it differentiates must be a mean over the
        replica's images / replicas in sync (Keras' losses do this; see `distribute.replica_scaled`),
        so the summed gradients are the global batch's.
        """
        return (model.train_step if training else model.test_step)((y, target))

    def epoch_logs(self, logs: dict) -> dict:
        """The logs of a finished epoch (a family may add its "loss")."""
        return logs

    # ---- inference ------------------------------------------------------------------------
    def stride(self, model) -> int:
        """Input sides must be multiples of this (R / 4: log2(R) - 2 stride-2 stages to 4x4)."""
        return model.resolution // 4

    def input_size(self, model, height: int, width: int, render_size: int | None = None) -> tuple[int, int]:
        """The (h, w) the model sees for an input of (height, width).

        R x R by default (and always for a fixed-size family); with `render_size`, the longer side
        scaled to it, the aspect ratio kept, both sides rounded to multiples of `stride`.
        """
        r = model.resolution
        if render_size is None or self.fixed_size:
            return r, r
        m = self.stride(model)
        scale = render_size / max(height, width)
        return tuple(max(m, int(round(side * scale / m)) * m) for side in (height, width))

    def inference_graphs(self, model) -> dict:
        """Named keras sub-models whose numpy forward passes `predict_uv` calls (ONNX swaps these)."""
        return {"uv": model}

    def run_graph(self, model, name: str, inputs):
        """Numpy forward pass of one inference graph (one place for a runtime to hook into)."""
        graph = self.inference_graphs(model)[name]
        runner = getattr(model, "graph_runners", {}).get(name)  # e.g. an onnxruntime session
        if runner is not None:
            return runner(inputs)
        shapes = tuple(np.shape(x) for x in inputs) if isinstance(inputs, (list, tuple)) else np.shape(inputs)
        seen = graph.__dict__.setdefault("_colourise_shapes_seen", set())
        if self.eager_graphs or shapes not in seen:
            # Eager: layers that need concrete sizes (bilinear upsampling), and the first call at each
            # input size: tracing a graph costs several eager calls, which a one-off (the app's first
            # result, a CLI run on one photo) never wins back. The second call at that size traces.
            seen.add(shapes)
            out = graph(inputs, training=False)
            out = [keras.ops.convert_to_numpy(o) for o in out] if isinstance(out, (list, tuple)) else keras.ops.convert_to_numpy(out)
        else:
            out = graph.predict_on_batch(inputs)  # compiled once per input size
        return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else np.asarray(out)

    def check_hints(self, hints) -> None:
        if hints is not None and not self.takes_hints:
            raise ColouriseError(f"the {self.name} model takes no hints; use a model that does (unet)")

    def predict_uv(self, model, y: np.ndarray, samples: int = 1, temperature: float | None = None,
                   seed: int = 0, hints=None) -> np.ndarray:
        """UV for a batch of luma at the model's input size.

        Args:
            y: (N, h, w, 1) luma in [0, 1].
            samples: samples per image (families that do not sample repeat their one answer).
            temperature: the family's temperature (None: `temperature_default`).
            seed: seeds the samples.
            hints: None, or (uv (N, h, w, 2), mask (N, h, w, 1)) rasterised at the input size.
        Returns:
            (S, N, h, w, 2) float32.
        """
        self.check_hints(hints)
        uv = self.run_graph(model, "uv", np.asarray(y, "float32"))  # (N, h, w, 2)
        return np.repeat(uv[None], samples, axis=0) if samples > 1 else uv[None]


def layout(layouts: dict, resolution: int, family: str):
    """`layouts[resolution]` (a family's filter layout at that size), or a ValueError naming the sizes."""
    if resolution not in layouts:
        raise ValueError(f"no {family} layout for {resolution} px; choose one of {sorted(layouts)}")
    return layouts[resolution]


def from_dict(cls, d: dict, tuple_fields=(), nested_tuple_fields=()):
    """A frozen config from a JSON dict, lists turned back into tuples; unknown keys refused."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ColouriseError(f"{cls.__name__}: unknown config fields {sorted(unknown)}")
    d = dict(d)
    for k in tuple_fields:
        if k in d and d[k] is not None:
            d[k] = tuple(d[k])
    for k in nested_tuple_fields:
        if k in d and d[k] is not None:
            d[k] = tuple(tuple(s) for s in d[k])
    return cls(**d)
