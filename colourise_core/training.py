"""One trainer for every model family (through `models.family_of`, never a name): checkpoints each epoch, resumes, records learning curves.

A run folder holds the spec, the TrainConfig, the history, state.json (written last), the last
and best weights, the checkpoints for --resume and the lock of the training writing it;
`colourise_core.run_folder.RunFolder` owns its layout, `colourise_core.runlock` the lock.

Every file is written atomically, and state.json only points at a checkpoint once it is
complete, so a run killed at any moment resumes from its last finished epoch.
Progress goes through ordinary Keras callbacks (`on_train_batch_end`, `on_epoch_end`); a
callback stops training by setting `self.model.stop_training = True`.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np

from colourise_core import atomic, distribute, models, seeding
from colourise_core.data import datasets, pipeline, stream
from colourise_core.data.shapes import ShapeSetConfig
from colourise_core.errors import ColouriseError, DatasetError
from colourise_core.run_folder import RunFolder
from colourise_core.runlock import crash_point, locked_run

# Per-family defaults (chapter 4 for the dissertation's three): batch size, learning rate,
# Adam beta_1, augmentation. Owned by the families (as is the validation log each one monitors).
MODEL_DEFAULTS = {name: dict(f.defaults) for name, f in models.FAMILIES.items()}
DATASET_RESOLUTION = datasets.DEFAULT_RESOLUTION  # per dataset name (colourise_core.data)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    model: str = models.DEFAULT_FAMILY  # a family of models.MODEL_NAMES (cnn | cgan | cvae | ...)
    dataset: str = "shapes"  # shapes | cifar10 | imagenette | faces | folder
    data: str | None = None  # folder or archive; None: generated (shapes) or downloaded (cifar10)
    classes: tuple | None = None  # class names to train on (e.g. ("horse",)); None: all
    resolution: int | None = None  # None: the dataset's (32 CIFAR-10, 64 shapes, 128 others)
    epochs: int = 10
    batch_size: int | None = None  # None: 512 CNN/CGAN, 32 CVAE (4.1.2, 4.2.3, 4.3.6)
    learning_rate: float | None = None  # None: Adam 1e-3 CNN/CVAE, 2e-4 CGAN
    beta_1: float | None = None  # None: 0.5 for the CGAN, Adam's 0.9 otherwise
    augment: bool | None = None  # None: flip/shift/rotate for the CNN only (4.1.3)
    dropout: float | None = None  # CNN only; None: 0.2 (4.1.4)
    latent_dim: int | None = None  # CVAE only; None: 1024
    recon_weight: float | None = None  # CVAE only, W of equation 4.5; None: 1
    rebalance: float | None = None  # unet only: lambda of the class rebalancing; None: 0.5, 1: off
    extra: tuple | None = None  # more training datasets, "NAME:PATH" each (e.g. "folder:photos-extra.zip"; "folder*3:...": seen 3 times per pass)
    crops: bool = False  # read images at native size and train on random square crops (multi-scale)
    crop_min: float = 0.5  # smallest random crop side, as a share of an image's shorter side
    steps_per_epoch: int | None = None  # at most this many batches an epoch (a checkpoint each); None: all
    model_config: dict | None = None  # more fields of the family's config (e.g. {"widths": [16, 32, 32, 64, 64]})
    mdn_components: int | None = None  # CVAE only: K-component MDN conditional encoder; None: off (6.1.3)
    rarity_mix: float | None = None  # CVAE only: chroma-rarity weighted reconstruction, ECCV16 lambda; None: off
    grad_weight: float | None = None  # CVAE only: chroma-gradient term weight; None: off
    free_bits: float | None = None  # CVAE only: KL nats per dimension not charged; None: off
    kl_anneal_steps: int | None = None  # CVAE only: KL weight ramp 0 -> 1 in steps; None: off
    conditional_discriminator: bool | None = None  # CGAN only: D sees Y beside UV (pix2pix); None: off (4.2)
    l1_weight: float | None = None  # CGAN only: G loss += w * mean |UV - UV_true| (pix2pix: 100); None: 0
    disc_lr_scale: float | None = None  # CGAN only: D's learning rate = this x G's; None: 1 (4.2.3)
    label_smoothing: float | None = None  # CGAN only: D's real label = 1 - this (Salimans 2016); None: 0
    adv_weight: float | None = None  # CGAN only: weight of the adversarial term in G's loss (0: L1 warm start); None: 1
    luma_matched: bool = False  # Shape Set only: shades of all colours share one luma range
    limit: int | None = None  # train on a seeded subset of this many images
    val_limit: int = 1000  # validation images (from the held-out split when there is one)
    early_stopping: int = 0  # patience in epochs on the validation loss; 0 disables
    init_weights: str | None = None  # fine-tune: start from this .weights.h5 (same architecture)
    seed: int = 0
    distribute: str = "none"  # none | mirrored | multiworker (distribute.py); batch_size is the global batch
    precision: str = "float32"  # float32 | mixed_float16 | mixed_bfloat16 (weights stay float32)

    @classmethod
    def of_run(cls, run_dir, **changes) -> "TrainConfig":
        """The (resolved) config a run folder was trained with (its config.json), `changes` applied."""
        return cls(**{**RunFolder(run_dir).read(RunFolder.CONFIG), **changes}).resolved()

    def resolved(self) -> "TrainConfig":
        """Fill the per-model and per-dataset defaults."""
        if self.model not in models.MODEL_NAMES:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(models.MODEL_NAMES)}")
        if self.dataset not in DATASET_RESOLUTION:
            raise DatasetError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASET_RESOLUTION)}")
        family = models.get_family(self.model)
        stray = {f: n for n, fam in models.FAMILIES.items() if n != self.model for f in fam.train_options
                 if f not in family.train_options and getattr(self, f) is not None}
        if stray:  # an option of another family would be silently ignored
            what = ", ".join(f"--{f.replace('_', '-')} (a {n} option)" for f, n in sorted(stray.items()))
            raise ColouriseError(f"{what} set for {self.model}, which has no such option: leave it out or train that model")
        fill = {k: v for k, v in family.defaults.items() if getattr(self, k) is None}
        if self.resolution is None:
            fill["resolution"] = DATASET_RESOLUTION[self.dataset]
        if self.classes is not None:
            fill["classes"] = tuple(self.classes)
        if self.extra is not None:
            from colourise_core.data import crops

            for source in self.extra:  # a bad 'NAME*N:PATH' is refused before any data is opened
                crops.parse_source(source)
                crops.parse_repeat(source)
            fill["extra"] = tuple(self.extra)
        return dataclasses.replace(self, **fill)

    def model_overrides(self) -> dict:
        """The model-config fields this config sets (the family says which)."""
        return models.get_family(self.model).config_overrides(self)


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    history: list  # one dict of logs per finished epoch
    model: keras.Model
    epochs_done: int
    train_seconds: float


class StopAtDeadline(keras.callbacks.Callback):
    """Stop at the end of the epoch after which another epoch would pass a wall-clock deadline.

    Args:
        deadline: `time.time()` value by which training should have finished.
    """

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline
        self._started = None

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        if time.time() + (time.time() - self._started) > self.deadline:
            self.model.stop_training = True


def _optimizers(model) -> list:
    return models.family_of(model).optimizers(model)


def _build_optimizers(model) -> None:
    """Create the optimizer slots now (once), before step 1.

    A checkpoint's values can then be assigned before training, and TensorFlow traces the first
    step once instead of twice (it retraces when the slots appear inside it: ~3 s on a CPU).
    """
    if any(opt.built for opt in _optimizers(model)):
        return
    models.family_of(model).build_optimizers(model)


def _save_optimizers(model, path: Path) -> None:
    arrays = {f"o{i}_v{j}": keras.ops.convert_to_numpy(v) for i, opt in enumerate(_optimizers(model)) for j, v in enumerate(opt.variables)}
    with atomic.replacing(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def _load_optimizers(model, path: Path) -> None:
    _build_optimizers(model)
    with np.load(path, allow_pickle=False) as data:
        for i, opt in enumerate(_optimizers(model)):
            for j, v in enumerate(opt.variables):
                v.assign(data[f"o{i}_v{j}"])


def compile_model(model, config: TrainConfig) -> None:
    """Compile with the family's optimizers and loss (chapter 4: Adam; CNN MSE, CVAE eq. 4.5, CGAN BCE)."""
    models.family_of(model).compile(model, config.learning_rate, config.beta_1)


def make_datasets(config: TrainConfig):
    """The training and validation datasets of a (resolved) config."""
    shapes = ShapeSetConfig(luma_matched=config.luma_matched) if config.dataset == "shapes" else None
    if config.extra or config.crops:  # several datasets and/or random crops at native size
        from colourise_core.data import crops

        sources = [(config.dataset, config.data)] + [crops.parse_source(s) for s in config.extra or ()]
        train = crops.load_mixture(sources, split="train", resolution=config.resolution, crops=config.crops,
                                   crop_min=config.crop_min, limit=config.limit, seed=config.seed)
    else:
        train = datasets.load_dataset(config.dataset, data=config.data, split="train", classes=config.classes,
                                      resolution=config.resolution, limit=config.limit, seed=config.seed, shapes_config=shapes)
    # Validation comes from the training split (10% held back), never from the test split, so
    # that early stopping cannot select on the images the metrics are reported on.
    train, val = pipeline.split_train_val(train, val_fraction=0.1, seed=config.seed)
    if config.extra:  # 'NAME*N:PATH': that source's training images N times per pass
        train = crops.repeat_parts(train, [1] + [crops.parse_repeat(s) for s in config.extra])
    if len(val) > config.val_limit:
        val = pipeline.Subset(val, np.arange(config.val_limit))
    return train, val


def _batches(dataset, config: TrainConfig, training: bool):
    family = models.get_family(config.model)
    augment = family.augment_config() if config.augment and training else False
    return pipeline.YUVBatches(dataset, batch_size=config.batch_size, shuffle=training, augment=augment,
                               seed=config.seed, target=family.batch_target(config), random_crops=training)


def _step(model, y, target, training: bool, runner=None) -> dict | None:
    """One batch: y (B, R, R, 1); target UV (B, R, R, 2) or YUV (B, R, R, 3), as the family says."""
    family = models.family_of(model)
    if runner is not None and runner.wraps_step:  # tf.distribute: the family's replica step on every replica
        return runner.run_step(model, y, target, training)
    return family.train_step(model, y, target) if training else family.test_step(model, y, target)


def _prefetched(batches, steps: int | None = None):
    """Yield batches[0], batches[1], ... (the first `steps`) preparing the next one in a thread
    (numpy and cv2 free the GIL, so decoding and augmentation overlap the training step)."""
    n = len(batches) if steps is None else min(steps, len(batches))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(batches.__getitem__, 0)
        for step in range(n):
            batch = pending.result()
            if step + 1 < n:
                pending = pool.submit(batches.__getitem__, step + 1)
            yield batch


def _run_epoch(model, batches, callbacks, training: bool, steps: int | None = None, runner=None) -> dict:
    """Mean logs over an epoch: Keras' running means, or averaged here for a family whose steps
    return per-batch logs (`average_logs`)."""
    family = models.family_of(model)
    model.reset_metrics()
    if runner is not None and runner.wraps_step:
        runner.start_epoch_part()
    totals, count, logs = {}, 0, {}
    source = itertools.islice(iter(batches), steps) if getattr(batches, "stream", False) else _prefetched(batches, steps)
    for step, (y, target) in enumerate(source):
        if training:
            callbacks.on_train_batch_begin(step)
        logs = _step(model, y, target, training, runner)
        if logs is None:  # distributed: a short last batch is skipped (equal replica slices)
            continue
        if family.average_logs:
            count += 1
            totals = {k: totals.get(k, 0.0) + v for k, v in logs.items()}
            logs = {k: v / count for k, v in totals.items()}
        if training:
            callbacks.on_train_batch_end(step, logs)
            if runner is not None and runner.wraps_step:  # every worker stops at the same step
                model.stop_training = runner.agree(model.stop_training)
            if model.stop_training:
                break
    return family.epoch_logs(logs) if logs else logs


def train(config: TrainConfig, out_dir: str | os.PathLike, callbacks=(), resume: bool = False) -> TrainResult:
    """Train a model, writing a run folder (see the module docstring).

    Args:
        config: what to train; unset fields take the dissertation's defaults.
        out_dir: the run folder (created).
        callbacks: Keras callbacks, told of every batch and epoch.
        resume: continue from the last finished epoch of `out_dir`.
    Returns:
        A TrainResult with the trained model and its history.
    Raises:
        distribute.WorkerLostError: a worker of a multi-worker run stopped (the message names it).
    """
    config = config.resolved()
    runner = distribute.make_runner(config.distribute, config.batch_size, config.precision)
    with distribute.session(runner, config.precision):
        if runner is not None and not runner.plan.is_chief:  # writes nothing: no folder, no lock
            return _train(config, out_dir, callbacks, resume, runner)
        return _locked_train(config, out_dir, callbacks, resume, runner)


def _train(config: TrainConfig, out_dir, callbacks=(), resume: bool = False, runner=None) -> TrainResult:
    run = Path(out_dir)
    folder = RunFolder(run)
    chief = runner is None or runner.plan.is_chief  # only the chief writes the run folder
    if chief:
        folder.checkpoints.mkdir(parents=True, exist_ok=True)
    state = folder.read(RunFolder.STATE) if resume and (run / RunFolder.STATE).exists() else None
    if state is not None:
        config = TrainConfig.of_run(run, epochs=config.epochs, distribute=config.distribute, precision=config.precision)
        distribute.rebatch(runner, config.batch_size)

    seeding.seed_everything(config.seed)  # weights, dropout and keras.random draws (data order: config.seed)
    with distribute.scope(runner):  # variables made on every replica
        model = models.build_model(config.model, config.resolution, **config.model_overrides())
        compile_model(model, config)
        _build_optimizers(model)
    target = models.get_family(config.model).batch_target(config)
    streamed = stream.for_config(config, target, **distribute.input_share(runner))  # packed shards (issue 14)
    if streamed is not None and target not in ("uv", "yuv"):
        raise DatasetError(f"packed shards carry no class labels, which this run's {config.model} needs (target {target!r})")
    if streamed is not None:
        train_batches, val_batches = streamed
    else:
        train_set, val_set = make_datasets(config)
        train_batches, val_batches = _batches(train_set, config, True), _batches(val_set, config, False)

    history, epoch0, seconds = [], 0, 0.0
    best = {"value": None, "epoch": None, "wait": 0}
    if state is not None:
        epoch0, seconds, best = state["epoch"], state["train_seconds"], state["best"]
        ckpt_weights, ckpt_optimizer = folder.checkpoint(epoch0)
        models.load_weights_checked(model, ckpt_weights)
        _load_optimizers(model, ckpt_optimizer)
        history = folder.read(RunFolder.HISTORY)[:epoch0]
        for _ in range(epoch0):  # replay the shuffles so the data order continues as it was
            train_batches.on_epoch_end()
    else:
        if config.init_weights:
            models.load_weights_checked(model, config.init_weights, fine_tune=True)
            with distribute.scope(runner):  # a fresh optimizer: a run's file also holds its own (learning rate, moments)
                compile_model(model, config)
                _build_optimizers(model)
        # Statistics of *this* run's training data (the unet's bin prior, the CVAE's rarity weights),
        # also when fine-tuning: a fine-tune on another dataset rebalances for that dataset's colours.
        models.family_of(model).prepare(model, train_batches)
        if chief:
            folder.write(RunFolder.SPEC, model.spec)
            folder.write(RunFolder.CONFIG, dataclasses.asdict(config))
    if runner is not None:  # the chief's weights, optimizer state and epoch to every worker
        done_before = epoch0
        epoch0, seconds, best = distribute.share_state(runner, model, _optimizers(model), epoch0, seconds, best)
        for _ in range(epoch0 - done_before):
            train_batches.on_epoch_end()
        if chief:
            folder.write(RunFolder.DISTRIBUTION, {**runner.plan.record(), "from_epoch": epoch0})

    steps = len(train_batches) if config.steps_per_epoch is None else min(config.steps_per_epoch, len(train_batches))
    cb = keras.callbacks.CallbackList(list(callbacks), model=model, epochs=config.epochs, steps=steps, verbose=0)
    model.stop_training = False
    cb.on_train_begin()
    monitor = models.family_of(model).monitor_log(model)
    epoch = epoch0
    for epoch in range(epoch0, config.epochs):
        cb.on_epoch_begin(epoch)
        seeding.seed_epoch(model, epoch)  # dropout/noise draws depend on (seed, epoch): resume == uninterrupted
        start = time.perf_counter()
        logs = _run_epoch(model, train_batches, cb, training=True, steps=steps, runner=runner)
        seconds += time.perf_counter() - start
        train_batches.on_epoch_end()
        if model.stop_training:  # stopped mid-epoch: the epoch is not finished, keep the last checkpoint
            break
        val_logs = _run_epoch(model, val_batches, cb, training=False, runner=runner)
        logs = {**logs, **{f"val_{k}": v for k, v in val_logs.items()}, "epoch": epoch + 1, "seconds": seconds}
        history.append(logs)
        improved = best["value"] is None or logs[monitor] < best["value"]
        if improved:
            best = {"value": logs[monitor], "epoch": epoch + 1, "wait": 0}
            if config.early_stopping and chief:
                models.save_weights_atomic(model, folder.best_file)
        else:
            best["wait"] += 1
        if chief:
            _checkpoint(model, run, epoch + 1, history, seconds, best)
        cb.on_epoch_end(epoch, logs)
        if runner is not None and runner.wraps_step:
            model.stop_training = runner.agree(model.stop_training)
        if config.early_stopping and best["wait"] >= config.early_stopping:
            model.stop_training = True
        if model.stop_training:
            break
    cb.on_train_end(history[-1] if history else {})
    done = history[-1]["epoch"] if history else 0
    return TrainResult(run_dir=run, history=history, model=model, epochs_done=done, train_seconds=seconds)


_locked_train = locked_run(_train)  # one trainer per run folder; --resume first cleans an interrupted write


def _checkpoint(model, run: Path, epoch: int, history: list, seconds: float, best: dict) -> None:
    """Write the epoch's files, then state.json (the commit point), then drop older checkpoints.

    Order: every file of the new epoch is complete (written to a temporary name, then renamed)
    before state.json names it; until then state.json names the previous epoch, whose
    checkpoint is still there. A kill at any instant leaves one of the two complete, and
    `--resume` (runlock.clean_interrupted) removes what the other left behind.
    """
    folder = RunFolder(run)
    ckpt_weights, ckpt_optimizer = folder.checkpoint(epoch)
    _save_weights_staged(model, ckpt_weights, "checkpoint-weights", epoch)
    _save_optimizers(model, ckpt_optimizer)
    crash_point("checkpoint-written", epoch)
    _save_weights_staged(model, folder.weights_file, "model-weights", epoch)
    folder.write(RunFolder.HISTORY, history)
    crash_point("before-state", epoch)
    folder.write(RunFolder.STATE, {"epoch": epoch, "train_seconds": seconds, "best": best})
    crash_point("after-state", epoch)
    for old in folder.stale_checkpoints(epoch):
        old.unlink(missing_ok=True)


def _save_weights_staged(model, path: Path, point: str, epoch: int) -> None:
    """Save weights complete under a temporary name, then rename (crash_point in between)."""
    with atomic.replacing(path, suffix=".weights.h5") as tmp:
        models.save_weights_atomic(model, tmp)
        crash_point(point, epoch)  # tests: a kill here leaves the temporary file behind


def load_run(run_dir: str | os.PathLike, best: bool = False) -> keras.Model:
    """Rebuild a trained model from a run folder (weights of the last epoch, or the best)."""
    folder = RunFolder(run_dir)
    if not folder.is_run():
        raise FileNotFoundError(f"{folder.path} is not a run folder: {RunFolder.SPEC} is missing")
    model = models.build_from_spec(folder.read(RunFolder.SPEC))
    models.load_weights_checked(model, folder.weights_for(best))
    return model
