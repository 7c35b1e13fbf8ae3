"""Tiny, really trained weights for the app's tests (AppTest and the Playwright end-to-end test).

`make_tiny_weights(root)` trains each model for one epoch on 64 Shape Set images at 32 px (a few
seconds each on a laptop CPU) and lays out a weights folder with a manifest of format 1, so the
app loads them through `colourise_core.weights` exactly as it loads the shipped weights:

    root/runs/<model>/            the three run folders (spec.json, model.weights.h5, ...)
    root/weights/manifest.json    sets "shapes" and "imagenette" (the default set), 32 px
    root/weights/<set>/<model>.weights.h5

The folder is reused when `root/weights/manifest.json` already exists (e.g. a second pytest
session with the same `--basetemp`).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

MODELS = ("cnn", "cgan", "cvae")
SETS = {"shapes": "shapes", "imagenette": "imagenette"}  # set name -> the dataset it claims
RESOLUTION = 32


def train_tiny_run(model: str, run_dir: Path, epochs: int = 1) -> Path:
    """Train `model` for `epochs` on 64 Shape Set images at 32 px into `run_dir`."""
    from colourise_core.training import TrainConfig, train

    config = TrainConfig(model=model, dataset="shapes", resolution=RESOLUTION, epochs=epochs, limit=64,
                         val_limit=32, batch_size=32, seed=0)
    train(config, run_dir)
    return run_dir


def make_tiny_weights(root: Path) -> Path:
    """Train the three tiny runs and write a weights folder; returns the weights folder."""
    from colourise_core import weights

    root = Path(root)
    folder = root / "weights"
    if (folder / "manifest.json").is_file():
        return folder
    runs = {m: train_tiny_run(m, root / "runs" / m) for m in MODELS}
    manifest = {"format": 1, "hub": None, "sets": {}}
    for set_name, dataset in SETS.items():
        entry = {"dataset": dataset, "classes": None, "resolution": RESOLUTION, "models": {}}
        for m, run in runs.items():
            rel = f"{set_name}/{m}.weights.h5"
            (folder / set_name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run / "model.weights.h5", folder / rel)
            entry["models"][m] = {
                "file": rel,
                "sha256": weights.sha256_file(folder / rel),
                "spec": json.loads((run / "spec.json").read_text()),
                "epochs": 1,
                "command": "tests/app_fixtures.py",
                "metrics": {},
            }
        manifest["sets"][set_name] = entry
    weights.validate_manifest(manifest)
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(folder / "manifest.json")
    return folder


def write_placeholder_sets(folder: Path, sets: dict[str, tuple[str, tuple[str, ...]]]) -> Path:
    """A weights folder whose manifest lists `sets` ({name: (dataset, models)}), each model's file a
    placeholder beside it (what reads the manifest and looks for files, not what loads weights)."""
    manifest = {"format": 1, "hub": None, "sets": {}}
    for name, (dataset, models) in sets.items():
        entry = {"dataset": dataset, "classes": None, "resolution": 32, "models": {}}
        for m in models:
            (folder / name).mkdir(parents=True, exist_ok=True)
            (folder / name / f"{m}.weights.h5").write_bytes(b"placeholder")
            entry["models"][m] = {"file": f"{name}/{m}.weights.h5", "sha256": "0" * 64,
                                  "spec": {"model": m, "resolution": 32, "config": {}}}
        manifest["sets"][name] = entry
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def smooth_photo(h: int, w: int, seed: int = 0, periods: tuple[int, int, int, int] = (9, 2, 13, 1),
                 noise: float = 0.02) -> np.ndarray:
    """A smooth colour image (H, W, 3) uint8 with a little noise: channel c is a sine of
    x / (periods[0] + periods[1] c) + y / (periods[2] + periods[3] c)."""
    a, b, c0, d = periods
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    rgb = np.stack([np.sin(xx / (a + b * c) + yy / (c0 + d * c)) * 0.45 + 0.5 + rng.normal(0, noise, (h, w))
                    for c in range(3)], -1)
    return np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def colour_png(size: tuple[int, int] = (48, 64), seed: int = 0) -> bytes:
    """A small colourful PNG (height, width): smooth gradients plus a red block."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / np.array([max(h - 1, 1), max(w - 1, 1)])[:, None, None]
    rgb = np.stack([xx, yy, 1 - xx], axis=-1)
    rgb[h // 4: h // 2, w // 4: w // 2] = (0.9, 0.1, 0.1)
    rgb = np.clip(rgb + np.random.default_rng(seed).normal(0, 0.02, rgb.shape), 0, 1)
    buffer = io.BytesIO()
    Image.fromarray((rgb * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def shapes_zip(path: Path, n: int = 24) -> Path:
    """A zip in the image-folder layout (train/<class>/NNNN.png) of Shape Set images."""
    import zipfile

    from colourise_core.data import generate_shapes

    rgb, _ = generate_shapes(n, seed=7)
    with zipfile.ZipFile(path, "w") as zf:
        for i, img in enumerate(rgb):
            buffer = io.BytesIO()
            Image.fromarray(img).save(buffer, format="PNG")
            zf.writestr(f"train/shapes/{i:04d}.png", buffer.getvalue())
    return path


# ------------------------------------------------------------------------ a real server + browser
# Found by name on PATH (Debian's /usr/bin/chromium, or chromium-browser elsewhere); "chromium"
# when neither is installed, so `shutil.which(CHROMIUM)` is None and the e2e tests say so.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`streamlit run serve.py` (the README's and the Space's command) on 127.0.0.1 as a
    subprocess; use as a context manager.

    Args:
        env: extra environment (e.g. COLOURISE_WEIGHTS_DIR).
        log: file that receives the server's output.
        script: the entry to run: "serve.py" (st.App, models preloaded at start) or "app.py".
    """

    def __init__(self, env: dict | None = None, log: Path | None = None, port: int | None = None,
                 script: str = "serve.py"):
        import os

        self.script = script
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.log = log
        self.proc = None
        self.started_at = None

    def start(self) -> "AppServer":
        import subprocess
        import sys
        import time

        out = open(self.log, "wb") if self.log else subprocess.DEVNULL
        cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / self.script), "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def wait_healthy(self, timeout: float = 120) -> float:
        """Seconds from start until /_stcore/health answers ok."""
        import time
        import urllib.request

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return time.perf_counter() - self.started_at
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"streamlit did not become healthy in {timeout} s; see {self.log}")

    def stop(self) -> None:
        import os
        import signal
        import subprocess

        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def __enter__(self) -> "AppServer":
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def launch_chromium(playwright):
    """Debian's chromium, headless, driven by Playwright (no browser download)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# ------------------------------------------------------------------ the bytes of a download button
class DownloadRecorder:
    """Produces a download button's bytes in AppTest, as a click would.

    AppTest builds a fresh mock runtime with its own MediaFileManager for every run and drops
    it after; a download button with callable data registers the callable there (deferred, run
    on click). `install(monkeypatch)` keeps the last run's manager, and `bytes_of(at, key)`
    executes the button's deferred callable through it and reads the stored file back, like
    the browser's request after a click.
    """

    def __init__(self):
        self.manager = None

    def install(self, monkeypatch) -> "DownloadRecorder":
        from streamlit.runtime.media_file_manager import MediaFileManager
        from streamlit.testing.v1 import app_test

        recorder = self

        class Recording(MediaFileManager):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                recorder.manager = self

        monkeypatch.setattr(app_test, "MediaFileManager", Recording)
        return self

    def bytes_of(self, at, key: str) -> tuple[bytes, str]:
        """(data, file name) of the download button with widget key `key` in the last run."""
        button = next((b for b in at.get("download_button") if b.key == key), None)
        assert button is not None, f"no download button {key!r}; have {[b.key for b in at.get('download_button')]}"
        proto = button.proto
        if proto.deferred_file_id:
            url = self.manager.execute_deferred(proto.deferred_file_id)
        else:
            url = proto.url
        name = url.rsplit("/", 1)[-1]
        stored = self.manager._storage.get_file(name)  # MemoryMediaFileStorage: the bytes served for the URL
        return stored.content, stored.filename


def set_app_env(monkeypatch, tmp_path: Path, weights_dir: Path | None = None) -> None:
    """Point the app at `weights_dir` (default: an empty folder), a private runs folder and no datasets."""
    monkeypatch.setenv("COLOURISE_WEIGHTS_DIR", str(weights_dir or tmp_path / "no-weights"))
    monkeypatch.setenv("COLOURISE_APP_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("COLOURISE_DATA_DIR", str(tmp_path / "no-datasets"))


def run_app(only=None):
    """The app's router, as `streamlit run app.py` runs it; `only` routes to that page alone.

    AppTest.from_function runs this function's own source as the script, so it imports inside.
    """
    import app

    app.main(only)


def browser_missing() -> list[str]:
    """What an end-to-end test lacks: "playwright" and/or the chromium executable (looked up on PATH)."""
    try:
        import playwright.sync_api  # noqa: F401
        have_playwright = True
    except ImportError:  # pragma: no cover - depends on the machine
        have_playwright = False
    return [what for what, ok in (("playwright", have_playwright), (CHROMIUM, shutil.which(CHROMIUM))) if not ok]


def skip_module_without_browser(missing: list[str]) -> None:
    """Outside CI a machine without a browser skips the module; in CI (CI set) the tests run and fail."""
    import os

    import pytest

    if missing and not os.environ.get("CI"):
        pytest.skip(f"end-to-end browser test needs {', '.join(missing)}", allow_module_level=True)
