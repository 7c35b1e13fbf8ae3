"""Training on several devices or machines: tf.distribute on TensorFlow, keras.distribution on JAX.

    --distribute none         one process, one device (the default)
    --distribute mirrored     one machine, every local GPU (or logical CPU) as a replica
    --distribute multiworker  several processes/machines; TensorFlow reads TF_CONFIG, JAX reads
                              the jax.distributed variables (see docs/DISTRIBUTED.md)

`--batch-size` is the global batch: each of the R replicas takes batch / R images of it, so the
gradient of a step is the mean over the same global batch whatever R is, and the learning rate
needs no change when R changes (raising the global batch is what calls for a higher rate).

TensorFlow: Keras 3's `fit` fails under MultiWorkerMirroredStrategy (keras-team/keras #20585),
and the trainer never used `fit`; it runs each family's own step in `strategy.run` inside one
`tf.function` (`Runner`), on every replica's slice of the global batch, with the losses scaled
per replica the Keras way (`replica_scaled`: a mean over the replica's slice / R) so the
all-reduced (summed) gradients are the global batch's. The same step serves `mirrored`.
Only the chief (worker 0) writes the run folder; on --resume the chief's weights, optimizer
state and epoch are broadcast, so other workers need no copy of the run folder.
JAX: the flag sets a `keras.distribution.DataParallel` over all devices (after
`keras.distribution.initialize()` for multiworker), and the usual Keras steps run sharded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re

import keras
import numpy as np

from colourise_core.errors import ColouriseError

MODES = ("none", "mirrored", "multiworker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
TIMEOUT = float(os.environ.get("COLOURISE_COLLECTIVE_TIMEOUT", "120"))  # seconds a collective may wait


class WorkerLostError(ColouriseError):
    """A worker of a multi-worker run stopped (crashed, killed, preempted, unreachable)."""


def replica_scaled(loss):
    """A loss that is a mean over this replica's slice, divided by the replicas in sync.

    Keras' own losses do this inside `strategy.run`; a family's hand-written loss calls this
    so that the summed gradients of all replicas are the mean over the global batch. Outside a
    strategy (or on JAX) it returns the loss unchanged.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    n = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if n == 1 else loss * keras.ops.cast(1.0 / n, loss.dtype)


@contextlib.contextmanager
def precision(policy: str):
    """Build and train under a Keras dtype policy; variables (and saved weights) stay float32.

    mixed_float16 wraps the optimizer in a LossScaleOptimizer when Keras compiles; bfloat16
    needs no loss scaling.
    """
    if policy not in PRECISIONS:
        raise ColouriseError(f"unknown precision {policy!r}; choose one of {', '.join(PRECISIONS)}")
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def tf_config() -> dict:
    """The TF_CONFIG of this process (DatasetError-like message when missing or malformed)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ColouriseError("--distribute multiworker needs TF_CONFIG: {\"cluster\": {\"worker\": [\"host:port\", ...]}, "
                             "\"task\": {\"type\": \"worker\", \"index\": i}} in every worker's environment")
    try:
        cfg = json.loads(raw)
        workers = cfg["cluster"]["worker"] + cfg["cluster"].get("chief", [])
        cfg["task"]["index"]
    except (ValueError, KeyError, TypeError) as e:
        raise ColouriseError(f"TF_CONFIG is not valid ({e}): {raw[:200]}") from e
    if not workers:
        raise ColouriseError("TF_CONFIG lists no workers")
    return cfg


@dataclasses.dataclass
class Plan:
    """How a run is spread: what the run folder's distribution.json records."""

    mode: str
    backend: str
    workers: int  # processes
    worker: int  # this process's index (0: the chief, which writes the run folder)
    replicas: int  # devices in sync over all processes
    global_batch: int
    per_replica_batch: int
    precision: str
    addresses: tuple = ()  # host:port of each worker (TF_CONFIG)

    @property
    def is_chief(self) -> bool:
        return self.worker == 0

    def record(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "worker"}


def _check_batch(global_batch: int, replicas: int) -> int:
    if global_batch % replicas:
        raise ColouriseError(f"--batch-size {global_batch} is the global batch and must be a multiple of the "
                             f"{replicas} replicas (e.g. {max(replicas, global_batch // replicas * replicas)})")
    return global_batch // replicas


def make_runner(mode: str, global_batch: int, precision_policy: str = "float32"):
    """The strategy of a run: None for "none" on one device, else a `Runner` (TF) or `JaxRunner`."""
    if mode not in MODES:
        raise ColouriseError(f"unknown --distribute {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "none":
        return None
    if keras.backend.backend() == "jax":
        return JaxRunner(mode, global_batch, precision_policy)
    if keras.backend.backend() != "tensorflow":
        raise ColouriseError(f"--distribute {mode} needs the tensorflow or jax backend, not {keras.backend.backend()}")
    from colourise_core.distribute_tf import Runner

    return Runner(mode, global_batch, precision_policy)


class JaxRunner:
    """JAX: keras.distribution.DataParallel over every device; Keras shards each batch."""

    def __init__(self, mode: str, global_batch: int, precision_policy: str):
        if mode == "multiworker":
            keras.distribution.initialize()  # jax.distributed.initialize from the environment
        import jax

        devices = keras.distribution.list_devices()
        self.distribution = keras.distribution.DataParallel(devices=devices)
        self.plan = Plan(mode, "jax", jax.process_count(), jax.process_index(), len(devices), global_batch,
                         _check_batch(global_batch, len(devices)), precision_policy)

    wraps_step = False  # the trainer's usual steps run sharded

    @contextlib.contextmanager
    def session(self):
        before = keras.distribution.distribution()
        keras.distribution.set_distribution(self.distribution)
        try:
            yield
        finally:
            keras.distribution.set_distribution(before)

    def scope(self):
        return contextlib.nullcontext()

    def sync_from_chief(self, variables, state):
        return state  # every JAX process reads the run folder (shared storage); JAX replicates the values


def lost_worker(error: Exception, addresses, own: int | None = None) -> int | None:
    """The index of the worker a TensorFlow collective error names as gone, if it names one.

    The coordination service's own words ("unhealthy (stopped sending heartbeats): /job:worker/
    replica:0/task:N", "Error reported from /job:worker/task:N") are believed first; other task
    names in the text may be this process's own devices (the op that was aborted), so `own`, this
    worker's index, is never blamed when another is named. -1: a worker, unnamed.
    """
    text = str(error)
    if not re.search(r"unhealthy|heartbeat|Socket closed|Connection reset|failed to connect|unavailable|"
                     r"DEADLINE_EXCEEDED|deadline exceeded", text, re.IGNORECASE):
        return None
    for pattern in (r"stopped sending heartbeats\)?:?\s*/job:\w+/replica:\d+/task:(\d+)",
                    r"Error reported from /job:\w+(?:/replica:\d+)?/task:(\d+)",
                    r"/job:(?:worker|chief)/replica:\d+/task:(\d+)", r"task:(\d+)"):
        named = [int(k) for k in re.findall(pattern, text)]
        others = [k for k in named if k != own]
        if others:
            return others[0]
    if own is not None and len(addresses) == 2:  # of two workers, the one that is not this one
        return 1 - own
    return -1


# ------------------------------------------------------------------ the trainer's hooks


@contextlib.contextmanager
def session(runner, precision_policy: str = "float32"):
    """The whole of a training run: the dtype policy, and the runner's session (JAX: the
    distribution is set; TensorFlow: collective failures become WorkerLostError)."""
    with precision(precision_policy), (runner.session() if runner is not None else contextlib.nullcontext()):
        yield


def scope(runner):
    """Where the model and its optimizers are built (TensorFlow: the strategy's scope)."""
    return runner.scope() if runner is not None else contextlib.nullcontext()


def rebatch(runner, global_batch: int) -> None:
    """A resumed run keeps its recorded global batch: re-derive the per-replica batch."""
    if runner is not None:
        runner.plan.global_batch = global_batch
        runner.plan.per_replica_batch = _check_batch(global_batch, runner.plan.replicas)


def input_share(runner) -> dict:
    """This process's share of streamed shards: keyword arguments of `stream.for_config`."""
    if runner is None or runner.plan.workers == 1:
        return {}
    return {"num_workers": runner.plan.workers, "worker": runner.plan.worker, "global_batch": runner.plan.global_batch}


def share_state(runner, model, optimizers, epoch: int, seconds: float, best: dict):
    """Every worker takes the chief's weights, optimizer state, epoch and early-stopping state.

    Returns:
        (epoch, seconds, best) as the chief has them.
    """
    variables = list(model.weights) + [v for opt in optimizers for v in opt.variables]
    state = np.array([epoch, seconds, np.nan if best["value"] is None else best["value"],
                      -1 if best["epoch"] is None else best["epoch"], best["wait"]], np.float64)
    state = runner.sync_from_chief(variables, state)
    best = {"value": None if np.isnan(state[2]) else float(state[2]),
            "epoch": None if state[3] < 0 else int(state[3]), "wait": int(state[4])}
    return int(state[0]), float(state[1]), best
