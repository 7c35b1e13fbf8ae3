"""Where the app finds samples and datasets and writes each session's runs.

Environment:
    COLOURISE_DATA_DIR       folder with cifar10.zip, faces-128.zip, imagenette-128.zip
                             (default: ../shared/datasets beside the repository).
    COLOURISE_APP_RUNS_DIR   root of the per-session run folders (default: runs/app in the
                             repository; a temporary folder when that is not writable).
    COLOURISE_WEIGHTS_DIR    the pretrained weights folder (read by colourise_core.weights).
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT / "assets" / "samples"
SAMPLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
DATA_DIR_ENV = "COLOURISE_DATA_DIR"
RUNS_DIR_ENV = "COLOURISE_APP_RUNS_DIR"
DATASET_ARCHIVES = {"cifar10": "cifar10.zip", "faces": "faces-128.zip", "imagenette": "imagenette-128.zip"}
SESSION_KEY = "app_session_id"
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def data_dir() -> Path:
    """The folder holding the dataset archives."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "datasets"


def dataset_archive(name: str) -> Path:
    """The expected archive of a named dataset (it may not exist)."""
    return data_dir() / DATASET_ARCHIVES[name]


def runs_root() -> Path:
    """Root of all sessions' run folders; created, writable."""
    env = os.environ.get(RUNS_DIR_ENV)
    root = Path(env).expanduser() if env else REPO_ROOT / "runs" / "app"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError:  # read-only checkout (e.g. some hosted deployments)
        root = Path(tempfile.gettempdir()) / "colourise-app-runs"
        root.mkdir(parents=True, exist_ok=True)
    return root


def new_session_id() -> str:
    """A fresh, unguessable session id (32 hex digits)."""
    return uuid.uuid4().hex


def session_dir(session_id: str) -> Path:
    """`runs_root()/<session_id>`: the only folder a session writes to."""
    if not re.fullmatch(r"[0-9a-f]{32}", session_id):
        raise ValueError(f"not a session id: {session_id!r}")
    return runs_root() / session_id


def safe_name(text: str, fallback: str = "run") -> str:
    """A file-system-safe name: letters, digits, '_', '-', '.'; never empty, never hidden."""
    name = _NAME.sub("-", text.strip()).strip("-.")[:64]
    return name or fallback


def unique_child(parent: Path, name: str) -> Path:
    """`parent/name`, or `parent/name-2`, `-3`... so an existing folder is never reused."""
    candidate, k = parent / name, 2
    while candidate.exists():
        candidate, k = parent / f"{name}-{k}", k + 1
    return candidate


def sample_files() -> list[Path]:
    """The gallery's images, greyscale photographs first, then the colour ones, by name."""
    files = [p for p in SAMPLES_DIR.iterdir() if p.suffix.lower() in SAMPLE_SUFFIXES] if SAMPLES_DIR.is_dir() else []
    return sorted(files, key=lambda p: (p.name.startswith("Colour"), p.name.lower()))
