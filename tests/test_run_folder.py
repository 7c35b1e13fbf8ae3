"""Run folders survive a second trainer and a kill -9 at any step of a checkpoint write (issue 11)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from colourise_core import runlock, training

REPO = Path(__file__).resolve().parents[1]
TRAIN = ["train", "--model", "cnn", "--dataset", "shapes", "--resolution", "32", "--limit", "32",
         "--batch-size", "16", "--val-limit", "8"]
CONFIG = training.TrainConfig(model="cnn", dataset="shapes", resolution=32, limit=32, batch_size=16, val_limit=8, epochs=1)


def _env(**extra):
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO), **extra}


def _holder(run: Path) -> subprocess.Popen:
    """Another process holding the run folder's lock until its stdin closes."""
    code = ("import sys; from colourise_core.runlock import RunLock; lock = RunLock(sys.argv[1]); "
            "print('locked', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=_env(), cwd=REPO)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_train_on_a_locked_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    holder = _holder(run)
    try:
        with pytest.raises(runlock.RunLockedError, match=f"pid {holder.pid} on "):
            training.train(CONFIG, run)
        done = subprocess.run([sys.executable, "-m", "colourise_core", *TRAIN, "--epochs", "1", "--out", str(run)],
                              capture_output=True, text=True, env=_env(), cwd=REPO, timeout=300)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert f"error: {run} is in use by another training (pid {holder.pid} on " in done.stderr
        assert not (run / "state.json").exists() and not (run / "spec.json").exists()  # nothing of it written
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    result = training.train(CONFIG, run)  # released: the folder is free again
    assert result.epochs_done == 1 and json.loads((run / "state.json").read_text())["epoch"] == 1


def test_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    holder = _holder(run)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    assert json.loads((run / runlock.RUN_LOCK).read_text())["pid"] == holder.pid  # its record is left behind
    with runlock.RunLock(run) as lock:
        assert lock.took_over.startswith(f"pid {holder.pid} on ")
    assert training.train(CONFIG, run).epochs_done == 1


def _files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())


@pytest.mark.parametrize("point, committed", [
    ("checkpoint-weights", 1),  # killed with the new checkpoint's weights half-way to their name
    ("model-weights", 1),  # the new checkpoint complete, model.weights.h5's replacement not yet renamed
    ("before-state", 1),  # every new file in place, state.json not yet pointing at them
    ("after-state", 2),  # committed; the old checkpoint not yet removed
])
def test_kill_during_checkpoint_then_resume(tmp_path, point, committed):
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "colourise_core", *TRAIN, "--epochs", "3", "--out", str(run)],
                          capture_output=True, text=True, env=_env(**{runlock.CRASH_ENV: f"{point}:2"}), cwd=REPO,
                          timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == committed
    # Killed as it was, the folder still loads: the last committed epoch (or the new one) is complete.
    training.load_run(run)
    leftovers = [f for f in _files(run) if Path(f).name.startswith(".")]
    if point in ("checkpoint-weights", "model-weights"):
        assert leftovers and all(".tmp" in f for f in leftovers)  # the interrupted write's temp file

    # --resume first puts the folder back to its committed epoch: temp files and the uncommitted
    # checkpoint gone, model.weights.h5 equal to the committed checkpoint's weights.
    removed = runlock.clean_interrupted(run)
    assert set(leftovers) <= {str(p.relative_to(run)) for p in removed}
    assert not [f for f in _files(run) if Path(f).name.startswith(".")]
    assert [f for f in _files(run) if f.startswith("checkpoints/")] == [
        f"checkpoints/epoch-{committed:04d}.optimizer.npz", f"checkpoints/epoch-{committed:04d}.weights.h5"]
    from colourise_core import models

    ckpt = models.build_from_spec(json.loads((run / "spec.json").read_text()))
    models.load_weights_checked(ckpt, run / "checkpoints" / f"epoch-{committed:04d}.weights.h5")
    for a, b in zip(training.load_run(run).get_weights(), ckpt.get_weights()):
        np.testing.assert_array_equal(a, b)

    result = training.train(training.TrainConfig(model="cnn", dataset="shapes", epochs=3), run, resume=True)
    assert result.epochs_done == 3
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert _files(run) == ["checkpoints/epoch-0003.optimizer.npz", "checkpoints/epoch-0003.weights.h5",
                           "history.json", "model.weights.h5", "spec.json", "state.json", "train.lock",
                           "train_config.json"]
    assert (run / runlock.RUN_LOCK).read_text() == ""  # released
    training.load_run(run)
