"""Training throughput: images/second of `colourise_core.training.train` beside plain Keras loops.

Every contender trains the same architecture, compiled the same way (`training.compile_model`),
on the same fixed data (the Shape Set at 32 px: the 90% of --images that `training.make_datasets`
keeps for training; the dissertation's batch sizes: 512 CNN and CGAN, 32 CVAE; the CNN augmented
as 4.1.3), and every one prepares each batch
on the fly from the RGB images (`pipeline.YUVBatches`: load, augment, RGB -> YUV), as the trainer
must:

    trainer   training.train(...): a prefetch thread prepares batch i+1 while step i runs.
    fit       CNN, CVAE: model.fit(YUVBatches) - Keras' own loop; on TensorFlow its PyDataset
              adapter wraps the batches in tf.data with prefetch(AUTOTUNE).
    loop      the plain synchronous loop: prepare a batch, then `train_on_batch`, no overlap
              (CGAN: the dissertation's loop, `plain_cgan_step`: the generator's `predict_on_batch`,
              the discriminator's two and the combined model's one `train_on_batch`). The loop
              also times the two halves (profile).

Images/second count training passes only (the trainer's history "seconds", which leave out its
validation; the others time their epochs the same way), from the fastest epoch after the first
(the first holds graph tracing). The CPU is shared with other jobs, whose load comes and goes:
the contenders run in --rounds rounds, in alternating order, and each keeps its fastest epoch (the
least disturbed). Target: trainer >= 1.2x the plain loop (fit for CNN/CVAE, the train_on_batch
loop for the CGAN).

    python benchmarks/training_throughput.py [--images 2048] [--epochs 3] [--rounds 2] [--models cnn cgan cvae]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from colourise_core.family_names import ADVERSARIAL_FAMILIES  # noqa: E402


def config_for(model: str, images: int, epochs: int):
    from colourise_core import training

    return training.TrainConfig(model=model, dataset="shapes", resolution=32, limit=images, val_limit=64,
                                epochs=epochs, seed=0).resolved()


def fresh_model(config):
    from colourise_core import models, training

    net = models.build_model(config.model, config.resolution, **config.model_overrides())
    training.compile_model(net, config)
    return net


def batches_for(config, train_set):
    from colourise_core import models
    from colourise_core.data import pipeline

    return pipeline.YUVBatches(train_set, batch_size=config.batch_size, shuffle=True, augment=bool(config.augment),
                               seed=config.seed, target=models.get_family(config.model).target)


def run_trainer(config) -> list[float]:
    """Epoch training seconds of training.train."""
    from colourise_core import training

    with tempfile.TemporaryDirectory() as tmp:
        result = training.train(config, tmp)
    cumulative = [h["seconds"] for h in result.history]
    return [b - a for a, b in zip([0.0] + cumulative[:-1], cumulative)]


def run_fit(config, train_set) -> list[float]:
    """Epoch seconds of model.fit on the same on-the-fly batches (CNN, CVAE)."""
    import keras

    from colourise_core import models

    net = fresh_model(config)
    batches = batches_for(config, train_set)
    if models.get_family(config.model).target == "yuv":  # the CVAE trains on (YUV, YUV): its call takes YUV in training
        inner = batches

        class YUVPairs(keras.utils.PyDataset):
            def __len__(self):
                return len(inner)

            def __getitem__(self, i):
                _, yuv = inner[i]
                return yuv, yuv

            def on_epoch_end(self):
                inner.on_epoch_end()

        batches = YUVPairs()

    times, starts = [], {}

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            starts[epoch] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - starts[epoch])

    net.fit(batches, epochs=config.epochs, shuffle=False, verbose=0, callbacks=[EpochTimer()])
    return times


def plain_cgan_step(net, y, uv) -> None:
    """The dissertation's CGAN step as a plain Keras loop writes it (4.2.3): four Keras calls."""
    import numpy as np

    real, fake = np.ones((len(y), 1), "float32"), np.zeros((len(y), 1), "float32")
    generated = net.generator.predict_on_batch(y)
    net.discriminator.trainable = True
    net.discriminator.train_on_batch(uv, real)
    net.discriminator.train_on_batch(generated, fake)
    net.discriminator.trainable = False
    net.combined().train_on_batch(y, real)
    net.discriminator.trainable = True


def run_loop(config, train_set) -> tuple[list[float], list[float], list[float]]:
    """The synchronous loop: (epoch seconds, data-preparation seconds, step seconds) per epoch."""
    from colourise_core import training

    net = fresh_model(config)
    batches = batches_for(config, train_set)
    epochs, prep, step = [], [], []
    for _ in range(config.epochs):
        p = s = 0.0
        start = time.perf_counter()
        for i in range(len(batches)):
            t0 = time.perf_counter()
            y, target = batches[i]
            t1 = time.perf_counter()
            if config.model in ADVERSARIAL_FAMILIES:
                plain_cgan_step(net, y, target)
            else:
                training._step(net, y, target, training=True)  # train_on_batch
            s += time.perf_counter() - t1
            p += t1 - t0
        epochs.append(time.perf_counter() - start)
        prep.append(p)
        step.append(s)
        batches.on_epoch_end()
    return epochs, prep, step


def steady(times: list[float]) -> float:
    """The fastest epoch after the first (graph tracing) of all rounds (times: a list per round)."""
    return min(t for run in times for t in (run[1:] if len(run) > 1 else run))


def typical(times: list[float]) -> float:
    """The median epoch after the first, over all rounds."""
    return statistics.median(t for run in times for t in (run[1:] if len(run) > 1 else run))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2048, help="Shape Set images (make_datasets holds 10%% back)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="repeat every contender, alternating the order")
    parser.add_argument("--models", nargs="+", default=None, help="model families (default: all)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from colourise_core import training
    from colourise_core import hardware
    from colourise_core.models import MODEL_NAMES

    args.models = args.models or list(MODEL_NAMES)

    print(f"machine: {hardware.describe()['summary']}", flush=True)
    print(f"data: Shape Set, {args.images} images at 32 px (training.make_datasets trains on 90% of them), "
          f"{args.epochs} epochs x {args.rounds} rounds (epoch 1 of each left out)\n", flush=True)
    results = {}
    for model in args.models:
        config = config_for(model, args.images, args.epochs)
        train_set, _ = training.make_datasets(config)  # the trainer's split: the images each epoch sees
        n_train = len(train_set)
        row = {"batch_size": config.batch_size, "train_images": n_train, "augment": bool(config.augment),
               "trainer": [], "fit": [], "loop": [], "loop_prep": [], "loop_step": []}
        order = ["trainer", "loop"] if model in ADVERSARIAL_FAMILIES else ["trainer", "fit", "loop"]  # fit: not for a GAN
        for r in range(args.rounds):
            for name in (order if r % 2 == 0 else order[::-1]):
                if name == "trainer":
                    row["trainer"].append(run_trainer(config))
                elif name == "fit":
                    row["fit"].append(run_fit(config, train_set))
                else:
                    epochs, prep, step = run_loop(config, train_set)
                    row["loop"].append(epochs)
                    row["loop_prep"].append(prep)
                    row["loop_step"].append(step)
        if not row["fit"]:
            del row["fit"]
        results[model] = row
        print(f"  {model}: done", flush=True)

    print()
    header = (f"{'model':<6} {'batch':>5} {'trainer img/s':>14} {'fit img/s':>10} {'loop img/s':>11} "
              f"{'trainer/baseline':>17}  {'target >= 1.2x':<14} {'(median epochs: trainer/baseline)'}")
    print(header)
    print("-" * len(header))
    for model, row in results.items():
        rate = {k: row["train_images"] / steady(row[k]) for k in ("trainer", "fit", "loop") if k in row}
        base_name = "fit" if "fit" in rate else "loop"
        ratio = rate["trainer"] / rate[base_name]
        row["rates"], row["ratio"], row["baseline"] = rate, ratio, base_name
        median_ratio = typical(row[base_name]) / typical(row["trainer"])
        print(f"{model:<6} {row['batch_size']:>5} {rate['trainer']:>14.1f} {rate.get('fit', float('nan')):>10.1f} "
              f"{rate['loop']:>11.1f} {ratio:>10.2f}x ({base_name:<4}) {'MET' if ratio >= 1.2 else 'NOT MET':<14} "
              f"{median_ratio:.2f}x")
    print("\nProfile of the synchronous loop (its fastest epoch): preparing batches vs training steps;")
    print("overlapping the two can at best reach (prep + step) / max(prep, step).")
    header = (f"{'model':<6} {'prep s':>8} {'step s':>8} {'prep share':>11} {'best overlap':>13} {'trainer vs loop':>16} "
              f"{'steps-only img/s':>17}")
    print(header)
    print("-" * len(header))
    for model, row in results.items():
        prep, step = steady(row["loop_prep"]), steady(row["loop_step"])
        bound = (prep + step) / max(prep, step)
        print(f"{model:<6} {prep:>8.3f} {step:>8.3f} {prep / (prep + step):>10.1%} {bound:>12.3f}x "
              f"{row['rates']['trainer'] / row['rates']['loop']:>15.2f}x {row['train_images'] / step:>17.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
