"""The one seed entry point: every source of randomness a training run or a test draws from.

`seed_everything(seed)` is called by `training.train` before it builds the model, and by tests
that need a reproducible model. It seeds:

- Python's `random`, NumPy's global generator and the backend's (TensorFlow or JAX) through
  `keras.utils.set_random_seed`: layer initialisers, dropout and `keras.random` draws without an
  explicit seed take theirs from these, so building the same model twice gives the same weights;
- the data order: it is not global state. The trainer's subset, train/validation split, epoch
  shuffles and augmentations are NumPy generators built from `TrainConfig.seed` (and the epoch
  and batch index: `data_rng`), so the same seed gives the same batches in the same order, also
  after `--resume` (the trainer replays the finished epochs' shuffles).

- the layers' own random streams (dropout masks, the CVAE's noise): the trainer calls
  `seed_epoch(model, epoch)` at the start of every epoch, so an epoch's draws depend only on the
  build seed and the epoch, and a run resumed after epoch k draws what an uninterrupted run
  draws (Keras does not save a SeedGenerator's state with the weights).

Two runs with one seed on the same machine and backend give identical weights and histories
(tests/test_seeding.py). Across machines, float rounding of the kernels can differ.
"""

from __future__ import annotations

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend (TensorFlow or JAX) with `seed`.

    Args:
        seed: a non-negative int; `TrainConfig.seed` in the trainer.
    """
    import keras

    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    keras.utils.set_random_seed(int(seed))


def data_rng(seed: int, *keys: int) -> np.random.Generator:
    """The NumPy generator of one data-order decision, e.g. `data_rng(seed, epoch)` for a shuffle.

    The data pipeline builds its generators this way (`np.random.default_rng([seed, ...])`), so
    an order depends only on the seed and its keys, never on what ran before it.
    """
    return np.random.default_rng([int(seed), *map(int, keys)])


EPOCH_STRIDE = 1 << 20  # seed-generator draws an epoch may make before it would reach the next epoch's


def seed_epoch(model, epoch: int) -> None:
    """Restart every Keras SeedGenerator of `model` (dropout, `keras.random` draws) at epoch `epoch`.

    A generator's state is (its seed, a counter the draws advance); this keeps the seed and sets
    the counter to `epoch * EPOCH_STRIDE`, so epoch `epoch` draws the same numbers whether the run
    started at epoch 0 or resumed from a checkpoint.

    Args:
        model: a built keras.Model (its `variables` include the generators' states).
        epoch: the 0-based epoch about to start.
    """
    import keras

    for v in model.variables:
        if v.path.rsplit("/", 1)[-1] == "seed_generator_state":
            state = keras.ops.convert_to_numpy(v)
            v.assign(np.array([state[0], epoch * EPOCH_STRIDE], dtype=state.dtype))
