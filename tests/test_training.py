import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from colourise_core import colour, evaluation, metrics, training
from colourise_core.data import load_dataset

REPO = Path(__file__).resolve().parents[1]


def test_config_defaults_follow_chapter_4():
    cnn = training.TrainConfig(model="cnn", dataset="cifar10").resolved()
    assert (cnn.batch_size, cnn.learning_rate, cnn.augment, cnn.resolution) == (512, 1e-3, True, 32)
    cgan = training.TrainConfig(model="cgan", dataset="faces").resolved()
    assert (cgan.batch_size, cgan.learning_rate, cgan.beta_1, cgan.augment, cgan.resolution) == (512, 2e-4, 0.5, False, 128)
    cvae = training.TrainConfig(model="cvae", dataset="shapes").resolved()
    assert (cvae.batch_size, cvae.learning_rate, cvae.resolution) == (32, 1e-3, 64)


def test_run_folder_contents(tiny_runs):
    run = tiny_runs["cvae"]
    for name in ("spec.json", "train_config.json", "history.json", "state.json", "model.weights.h5"):
        assert (run / name).is_file(), name
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1]
    assert {"loss", "val_loss", "recon", "kl"} <= set(history[0])
    assert json.loads((run / "spec.json").read_text())["model"] == "cvae"
    assert not list(run.rglob("*.tmp*"))


def test_cgan_history_has_both_losses(tiny_runs):
    history = json.loads((tiny_runs["cgan"] / "history.json").read_text())
    assert {"d_loss", "g_loss", "val_d_loss", "val_g_loss"} <= set(history[0])


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches, self.epochs = 0, []

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(dict(logs))


class _StopAfterBatches(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            self.model.stop_training = True


def test_callbacks_see_batches_and_epochs(tmp_path):
    rec = _Recorder()
    config = training.TrainConfig(model="cnn", dataset="shapes", resolution=32, epochs=2, limit=64, batch_size=16, val_limit=16)
    result = training.train(config, tmp_path / "run", callbacks=[rec])
    assert rec.batches == 2 * 4 and [e["epoch"] for e in rec.epochs] == [1, 2]
    assert result.epochs_done == 2 and len(result.history) == 2


def test_stop_mid_epoch_keeps_last_finished_epoch(tmp_path):
    config = training.TrainConfig(model="cnn", dataset="shapes", resolution=32, epochs=3, limit=64, batch_size=16, val_limit=16)
    result = training.train(config, tmp_path / "run", callbacks=[_StopAfterBatches()])
    assert result.epochs_done == 0 and not (tmp_path / "run" / "state.json").exists()


def test_early_stopping_writes_best(tmp_path):
    config = training.TrainConfig(model="cnn", dataset="shapes", resolution=32, epochs=4, limit=32, batch_size=16,
                                  val_limit=16, early_stopping=1, learning_rate=10.0)  # diverges: stops early
    result = training.train(config, tmp_path / "run")
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert (tmp_path / "run" / "best.weights.h5").is_file()
    assert result.epochs_done <= 4 and state["best"]["epoch"] >= 1


def test_cnn_learns_shapes_below_half_the_grey_baseline(tmp_path):
    """Learning, not just shapes: within a minute on the CPU the CNN beats half the grey error."""
    config = training.TrainConfig(model="cnn", dataset="shapes", resolution=32, epochs=40, limit=512,
                                  batch_size=32, augment=False, dropout=0.0, val_limit=128)
    deadline = time.time() + 60
    result = training.train(config, tmp_path / "run", callbacks=[training.StopAtDeadline(deadline)])
    test = load_dataset("shapes", split="test", resolution=32, limit=128, seed=7)
    scores = evaluation.evaluate_model(result.model, test)
    assert scores["uv_mse"] < 0.5 * scores["baseline"]["uv_mse"], (scores, result.epochs_done)


def _train_cmd(out: Path, epochs: int, resume: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "colourise_core", "train", "--model", "cnn", "--dataset", "shapes",
           "--resolution", "32", "--limit", "1536", "--batch-size", "32", "--val-limit", "32",
           "--epochs", str(epochs), "--out", str(out)]
    return cmd + (["--resume"] if resume else [])


def test_kill_during_epoch_2_then_resume(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_train_cmd(run, 3), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run / "state.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] == 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before epoch 2 started"
    time.sleep(0.5)  # inside epoch 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads(state.read_text())["epoch"] == 1  # epoch 2 never finished
    training.load_run(run)  # what is on disk loads

    done = subprocess.run(_train_cmd(run, 3, resume=True), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(state.read_text())["epoch"] == 3
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch-0003.optimizer.npz", "epoch-0003.weights.h5"]
    assert not list(run.rglob("*.tmp*"))
    model = training.load_run(run)
    y = np.random.default_rng(0).random((1, 32, 32, 1), dtype=np.float32)
    assert np.isfinite(keras.ops.convert_to_numpy(model(y))).all()


def test_resume_restores_optimizer_state(tmp_path):
    config = training.TrainConfig(model="cvae", dataset="shapes", resolution=32, epochs=1, limit=32, batch_size=16,
                                  val_limit=16, latent_dim=16)
    first = training.train(config, tmp_path / "run")
    steps = int(first.model.optimizer.iterations.numpy())
    again = training.train(training.TrainConfig(**{**config.__dict__, "epochs": 2}), tmp_path / "run", resume=True)
    assert int(again.model.optimizer.iterations.numpy()) == 2 * steps
    assert [h["epoch"] for h in again.history] == [1, 2]


JAX_SCRIPT = """
import keras, numpy as np
from colourise_core import training
assert keras.backend.backend() == "jax"
for name in ("cnn", "cgan", "cvae"):
    cfg = training.TrainConfig(model=name, dataset="shapes", resolution=32, epochs=1, limit=16, batch_size=16,
                               val_limit=16, latent_dim=16 if name == "cvae" else None)
    r = training.train(cfg, f"{RUN}/{name}")
    assert r.epochs_done == 1 and all(np.isfinite(v) for v in r.history[0].values()), r.history
    print(name, "ok", r.history[0])
"""


def test_one_step_of_each_model_under_jax(tmp_path):
    pytest.importorskip("jax", reason="jax is installed by .ci/run")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run([sys.executable, "-c", JAX_SCRIPT.replace("{RUN}", str(tmp_path))], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert [line.split()[0] for line in out.stdout.splitlines() if " ok " in line] == ["cnn", "cgan", "cvae"]
