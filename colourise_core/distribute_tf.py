"""The TensorFlow side of `distribute`: a tf.distribute strategy and the trainer's distributed step.

Each step: the global batch (B images, the same on every worker: the trainer's batches are
seeded) is cut into R equal replica slices; replica r takes slice r (its global index), runs
the family's own step in `strategy.run` inside one `tf.function`, and the optimizers sum the
replicas' gradients (Keras' TensorFlow optimizer all-reduces in replica context). Losses are
per-replica means / R (`distribute.replica_scaled`), so the sum is the global batch's mean and
the weights follow the single-process run's up to float rounding. Logs are combined with
weights so that they are means over the images, whatever the slice sizes.

Training batches smaller than B (an epoch's last) are skipped: equal slices keep every
replica's loss scaling exact. Validation batches may be split unevenly (no gradients).
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np
import tensorflow as tf

from colourise_core import models
from colourise_core.distribute import TIMEOUT, Plan, WorkerLostError, _check_batch, lost_worker, tf_config


class Runner:
    """A tf.distribute strategy plus the trainer's step run on it.

    Args:
        mode: "mirrored" (local devices) or "multiworker" (TF_CONFIG).
        global_batch: images per step over all replicas.
        precision_policy: recorded in the plan (the trainer sets the dtype policy).
    """

    wraps_step = True

    def __init__(self, mode: str, global_batch: int, precision_policy: str):
        addresses, worker, workers = (), 0, 1
        if mode == "multiworker":
            cfg = tf_config()
            addresses = tuple(cfg["cluster"].get("chief", []) + cfg["cluster"]["worker"])
            workers, worker = len(addresses), int(cfg["task"]["index"]) + (
                len(cfg["cluster"].get("chief", [])) if cfg["task"].get("type") == "worker" else 0)
            options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=TIMEOUT)
            self.strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        else:
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
            cross = None if gpus else tf.distribute.ReductionToOneDevice()
            self.strategy = tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross)
        replicas = self.strategy.num_replicas_in_sync
        self.local = len(self.strategy.extended.worker_devices)  # replicas of this process
        self.plan = Plan(mode, "tensorflow", workers, worker, replicas, global_batch,
                         _check_batch(global_batch, replicas), precision_policy, addresses)
        self._fns: dict = {}
        self.skipped_batches = 0

    def scope(self):
        return self.strategy.scope()

    def session(self):
        return self.guard("training")

    # ---------------------------------------------------------------- errors

    @contextlib.contextmanager
    def guard(self, where: str = "training"):
        """Turn a collective failure into a WorkerLostError that names the worker."""
        try:
            yield
        except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
                tf.errors.CancelledError, tf.errors.InternalError) as e:
            k = lost_worker(e, self.plan.addresses, own=self.plan.worker)
            if k is None:
                raise
            who = (f"worker {k} ({self.plan.addresses[k]})" if 0 <= k < len(self.plan.addresses)
                   else "a worker")
            raise WorkerLostError(
                f"{who} stopped during {where} (it crashed, was killed or became unreachable); the run "
                f"folder keeps the last finished epoch. Start every worker again with the same command "
                f"and --resume (the number of workers may change).") from e

    # ---------------------------------------------------------------- data

    def _slices(self, arrays, training: bool):
        """Per-replica slices (global replica r -> its part) and each slice's share of the batch."""
        n, r = len(arrays[0]), self.plan.replicas
        total = n  # the images of the whole step, over all workers
        if training:
            if n == self.plan.global_batch:
                bounds = np.arange(r + 1) * (n // r)
            elif n * self.plan.workers == self.plan.global_batch:  # a per-worker batch (streamed shards)
                per, total = n // self.local, self.plan.global_batch
                first = self.plan.worker * self.local
                bounds = np.concatenate([np.full(first, 0), np.arange(self.local + 1) * per, np.full(r - first - self.local, n)])
            else:
                return None
        else:
            if n < r:
                return None
            bounds = np.linspace(0, n, r + 1).round().astype(int)
        return [tuple(a[bounds[i]:bounds[i + 1]] for a in arrays) for i in range(r)], np.diff(bounds) / total

    def _distribute(self, per_replica):
        return self.strategy.experimental_distribute_values_from_function(
            lambda ctx: per_replica[ctx.replica_id_in_sync_group])

    # ---------------------------------------------------------------- steps

    def _replica_fn(self, model, training: bool):
        """(y, target, weight) -> {log: weighted value}: one replica's part of a step (the family's)."""
        family = models.family_of(model)

        def fn(y, target, w):
            logs = family.replica_step(model, y, target, training)
            return {k: tf.cast(v, tf.float32) * w for k, v in logs.items()}
        return fn

    def _compiled(self, model, training: bool):
        key = (id(model), training)
        if key not in self._fns:
            replica_fn, strategy = self._replica_fn(model, training), self.strategy

            @tf.function(reduce_retracing=True)
            def step(y, target, w):
                out = strategy.run(replica_fn, args=(y, target, w))
                return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in out.items()}

            self._fns[key] = step
        return self._fns[key]

    def run_step(self, model, y, target, training: bool) -> dict | None:
        """One distributed step on a global batch; None when a short training batch is skipped."""
        cut = self._slices((np.asarray(y), np.asarray(target)), training)
        if cut is None:
            self.skipped_batches += 1
            return None
        parts, share = cut
        weights = share  # each replica's share of the batch: logs become means over its images
        model.reset_metrics()  # as train_on_batch / test_on_batch do: logs are this batch's
        xs = self._distribute([p[0] for p in parts])
        ts = self._distribute([p[1] for p in parts])
        ws = self._distribute([tf.constant(w, tf.float32) for w in weights])
        with self.guard("a training step" if training else "validation"):
            out = self._compiled(model, training)(xs, ts, ws)
            return {k: float(v) for k, v in out.items()}

    def start_epoch_part(self) -> None:
        """Nothing to reset: each step's logs are the batch's own (as train_on_batch's)."""

    # ---------------------------------------------------------------- agreement and resume

    def _all_sum(self, values: np.ndarray, chief_only: bool) -> np.ndarray:
        """Sum a float64 vector over replicas (only replica 0's when chief_only): a broadcast."""
        def fn(v):
            ctx = tf.distribute.get_replica_context()
            keep = tf.logical_or(tf.constant(not chief_only), tf.equal(ctx.replica_id_in_sync_group, 0))
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.where(keep, v, tf.zeros_like(v)))

        with self.guard("a synchronisation"):
            out = self.strategy.run(tf.function(fn), args=(tf.constant(values, tf.float64),))
            return np.asarray(self.strategy.experimental_local_results(out)[0])

    def agree(self, stop: bool) -> bool:
        """True if any worker wants to stop (callbacks such as a deadline may differ per worker)."""
        if self.plan.workers == 1:
            return bool(stop)
        return bool(self._all_sum(np.array([float(bool(stop))]), chief_only=False)[0] > 0)

    def sync_from_chief(self, variables, state: np.ndarray) -> np.ndarray:
        """Give every worker the chief's variable values and resume state (a float64 vector).

        Resuming needs the run folder on the chief only: weights, optimizer slots and the
        epoch/early-stopping state it loaded are broadcast to the other workers.
        """
        if self.plan.workers == 1:
            return np.asarray(state, np.float64)
        values = [keras.ops.convert_to_numpy(v) for v in variables]
        flat = np.concatenate([np.asarray(state, np.float64).reshape(-1)] + [a.astype(np.float64).reshape(-1) for a in values])
        flat = self._all_sum(flat, chief_only=True)  # one collective for everything
        pos = len(state)
        for v, a in zip(variables, values):
            v.assign(flat[pos:pos + a.size].reshape(a.shape).astype(a.dtype))
            pos += a.size
        return flat[:len(state)]
