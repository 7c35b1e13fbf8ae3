"""Training from the app: a background thread, a Keras progress callback and a stop flag.

Streamlit elements can only be drawn from the script's own thread, and a widget click reruns
the script (which would abort a training loop running inside it). So `train()` runs in a
thread of its own; `ProgressCallback` records every batch and epoch into a `TrainingJob` and
checks the job's stop flag (a threading.Event): when it is set, the callback sets
`self.model.stop_training = True` and the trainer stops after the current batch, keeping the
last finished epoch. The Retrain page draws the job's st.progress and plotly loss chart from a
fragment that reruns every second while the job runs.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import traceback
from pathlib import Path

import keras


@dataclasses.dataclass
class Progress:
    """A snapshot of a job, safe to read from the script thread."""

    status: str  # "starting" | "waiting" (for a server training slot) | "running" | "finished" | "stopped" | "failed"
    epoch: int  # epochs finished
    epochs: int
    batch: int  # batches done in the current epoch
    steps: int  # batches per epoch
    history: list  # one dict of logs per finished epoch
    error: str | None
    seconds: float

    @property
    def fraction(self) -> float:
        if self.status == "finished":
            return 1.0
        if not self.epochs:
            return 0.0
        within = self.batch / self.steps if self.steps else 0.0
        return min(1.0, (self.epoch + within) / self.epochs)

    @property
    def done(self) -> bool:
        return self.status in ("finished", "stopped", "failed")


class ProgressCallback(keras.callbacks.Callback):
    """Reports batches and epochs to a TrainingJob; stops training when the job's flag is set."""

    def __init__(self, job: "TrainingJob"):
        super().__init__()
        self.job = job

    def on_train_begin(self, logs=None):
        params = self.params or {}
        self.job._update(status="running", epochs=params.get("epochs") or self.job.epochs, steps=params.get("steps") or 0)

    def on_epoch_begin(self, epoch, logs=None):
        self.job._update(batch=0, epoch=epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.job._update(batch=batch + 1)
        if self.job.stop_requested.is_set():
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        entry = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float))}
        self.job._update(epoch=epoch + 1, batch=0, append=entry)
        if self.job.stop_requested.is_set():
            self.model.stop_training = True


class TrainingJob:
    """One training run in a background thread, writing `run_dir`.

    Args:
        config: a colourise_core.training.TrainConfig.
        run_dir: the run folder (must be inside the session's folder).
    """

    def __init__(self, config, run_dir: Path):
        self.config = config
        self.run_dir = Path(run_dir)
        self.epochs = int(config.epochs)
        self.stop_requested = threading.Event()
        self._lock = threading.Lock()
        self._state = dict(status="starting", epoch=0, batch=0, steps=0, history=[], error=None)
        self._start = time.perf_counter()
        self._end: float | None = None
        self.thread = threading.Thread(target=self._run, name=f"train-{self.run_dir.name}", daemon=True)

    def start(self) -> "TrainingJob":
        self.thread.start()
        return self

    def stop(self) -> None:
        """Ask the trainer to stop after the current batch."""
        self.stop_requested.set()

    def _update(self, append: dict | None = None, **changes) -> None:
        with self._lock:
            self._state.update(changes)
            if append is not None:
                self._state["history"] = self._state["history"] + [append]

    def _run(self) -> None:
        from app_support import sessions
        from colourise_core.training import train

        if not sessions.training_slot(self.stop_requested, on_wait=lambda: self._update(status="waiting")):
            self._update(status="stopped")  # stopped while waiting for a slot
            self._end = time.perf_counter()
            return
        try:
            train(self.config, self.run_dir, callbacks=[ProgressCallback(self)])
        except Exception as e:  # noqa: BLE001 - any failure is shown to the user, the app goes on
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            self._update(status="failed", error=detail)
        else:
            self._update(status="stopped" if self.stop_requested.is_set() else "finished")
        finally:
            sessions.release_training_slot()
            self._end = time.perf_counter()

    def progress(self) -> Progress:
        with self._lock:
            s = dict(self._state)
        seconds = (self._end or time.perf_counter()) - self._start
        return Progress(status=s["status"], epoch=s["epoch"], epochs=self.epochs, batch=s["batch"], steps=s["steps"],
                        history=list(s["history"]), error=s["error"], seconds=seconds)
