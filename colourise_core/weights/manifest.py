"""The weights manifest (`weights/manifest.json`): its schema, validation and reading.

Format 1 (see docs/ARCHITECTURE.md): `{"format": 1, "hub": {"repo_id", "revision"} | null,
"sets": {set: {"dataset", "classes", "resolution", "models": {model: {"file", "sha256",
"spec", "epochs", "train_seconds", "metrics", "command", "commit", "hardware", "dtype"}}}}}`.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from colourise_core.errors import WeightsError

WEIGHTS_DIR_ENV = "COLOURISE_WEIGHTS_DIR"
# the repository's weights/ folder (colourise_core/weights/manifest.py -> parents[2] is the root)
WEIGHTS_DIR = Path(os.environ.get(WEIGHTS_DIR_ENV) or Path(__file__).resolve().parents[2] / "weights")
DEFAULT_SET = "imagenette"  # photos: the set `load_pretrained` uses when none is named
GENERAL_SET = "general"  # photos of anything (the unet): used beside a set that lacks a family, unless one of its dataset has it
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
CLI_COMMAND = "python -m colourise_core weights"  # named in messages that say what to run

_SHA256 = re.compile(r"[0-9a-f]{64}")


def resolve_weights_dir(path: str | os.PathLike | None = None) -> Path:
    """The weights folder: `path`, else `$COLOURISE_WEIGHTS_DIR`, else `WEIGHTS_DIR`.

    Args:
        path: an explicit folder, or None.

    Returns:
        The folder (it may not exist).
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(env).expanduser() if env else WEIGHTS_DIR


def _model_names() -> tuple[str, ...]:
    from colourise_core.family_names import FAMILY_NAMES  # not colourise_core.models: no Keras import

    return tuple(FAMILY_NAMES)


def is_int(value: Any) -> bool:
    """True for an int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for a finite int or float that is not a bool."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def _check_relative_file(value: Any) -> str | None:
    """Why `value` is not a safe relative POSIX path to a .weights.h5 file, or None."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if "\\" in value or value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        return "must be a relative path with forward slashes"
    if any(part in ("", ".", "..") for part in value.split("/")):
        return "must not contain empty, '.' or '..' parts"
    if not value.endswith(".weights.h5"):
        return "must end with .weights.h5 (Keras weight files)"
    return None


def _missing(entry: dict, keys: tuple[str, ...]) -> str | None:
    """The first of `keys` that `entry` lacks, or None."""
    return next((key for key in keys if key not in entry), None)


def validate_manifest(data: Any, source: str = MANIFEST_NAME) -> dict:
    """Check a parsed manifest against format 1 (see docs/ARCHITECTURE.md).

    Args:
        data: the parsed JSON.
        source: where it came from, for messages.

    Returns:
        `data`, unchanged.

    Raises:
        WeightsError: naming the manifest, the set/model and the problem.
    """

    def bad(msg: str) -> WeightsError:
        return WeightsError(f"weights manifest {source} is invalid: {msg}; fix the manifest or restore it from git")

    if not isinstance(data, dict):
        raise bad("the top level must be a JSON object")
    fmt = data.get("format")
    if not is_int(fmt) or fmt != MANIFEST_FORMAT:
        raise WeightsError(
            f"weights manifest {source} has format {fmt!r}, but this version of colourise_core reads format "
            f"{MANIFEST_FORMAT}; upgrade colourise_core or use a manifest of format {MANIFEST_FORMAT}"
        )
    hub = data.get("hub")
    if hub is not None:
        if not isinstance(hub, dict):
            raise bad("'hub' must be an object with 'repo_id' and 'revision'")
        for key in ("repo_id", "revision"):
            if hub.get(key) is not None and (not isinstance(hub[key], str) or not hub[key]):
                raise bad(f"'hub.{key}' must be a non-empty string")
        if isinstance(hub.get("repo_id"), str) and hub["repo_id"].count("/") != 1:
            raise bad(f"'hub.repo_id' {hub['repo_id']!r} must look like 'owner/name'")
    sets = data.get("sets")
    if not isinstance(sets, dict):
        raise bad("'sets' must be an object mapping set names to sets")

    names = _model_names()
    files: dict[str, str] = {}
    for set_name, entry in sets.items():
        where = f"set {set_name!r}"
        if not isinstance(entry, dict):
            raise bad(f"{where} must be an object")
        if (missing := _missing(entry, ("dataset", "classes", "resolution", "models"))) is not None:
            raise bad(f"{where} lacks {missing!r}")
        if not isinstance(entry["dataset"], str) or not entry["dataset"]:
            raise bad(f"{where}: 'dataset' must be a non-empty string")
        classes = entry["classes"]
        if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            raise bad(f"{where}: 'classes' must be null (all classes) or a list of class names")
        resolution = entry["resolution"]
        if not is_int(resolution) or resolution <= 0:
            raise bad(f"{where}: 'resolution' must be a positive integer, not {resolution!r}")
        models = entry["models"]
        if not isinstance(models, dict) or not models:
            raise bad(f"{where}: 'models' must be a non-empty object")
        for model_name, m in models.items():
            if model_name not in names:
                raise WeightsError(
                    f"weights manifest {source}: set {set_name!r} has an entry for unknown model {model_name!r}; "
                    f"this version of colourise_core knows {', '.join(names)} (upgrade colourise_core or fix the manifest)"
                )
            mwhere = f"{where}, model {model_name!r}"
            if not isinstance(m, dict):
                raise bad(f"{mwhere} must be an object")
            if (missing := _missing(m, ("file", "sha256", "spec"))) is not None:
                raise bad(f"{mwhere} lacks {missing!r}")
            if (why := _check_relative_file(m["file"])) is not None:
                raise bad(f"{mwhere}: 'file' {m['file']!r} {why}")
            if m["file"] in files:
                raise bad(f"{mwhere}: file {m['file']!r} is also used by {files[m['file']]}")
            files[m["file"]] = mwhere
            if not isinstance(m["sha256"], str) or not _SHA256.fullmatch(m["sha256"]):
                raise bad(f"{mwhere}: 'sha256' must be 64 lowercase hex digits")
            spec = m["spec"]
            if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
                raise bad(f"{mwhere}: 'spec' must be an object with 'model', 'resolution' and a 'config' object")
            if spec.get("model") != model_name:
                raise bad(f"{mwhere}: spec.model is {spec.get('model')!r}, not {model_name!r}")
            if spec.get("resolution") != resolution:
                raise bad(f"{mwhere}: spec.resolution is {spec.get('resolution')!r}, but the set's resolution is {resolution}")
            for key, ok, what in (
                ("epochs", lambda v: is_int(v) and v >= 0, "a non-negative integer"),
                ("train_seconds", lambda v: is_number(v) and v >= 0, "a non-negative number"),
                ("metrics", lambda v: isinstance(v, dict), "an object"),
                ("command", lambda v: isinstance(v, str), "a string"),
                ("commit", lambda v: isinstance(v, str), "a string"),
                ("hardware", lambda v: isinstance(v, str), "a string"),
                ("dtype", lambda v: isinstance(v, str), "a string"),
            ):
                if m.get(key) is not None and not ok(m[key]):
                    raise bad(f"{mwhere}: {key!r} must be {what}")
    return data


def read_manifest(weights_dir: str | os.PathLike | None = None) -> dict:
    """Read and validate `<weights_dir>/manifest.json`.

    Args:
        weights_dir: the weights folder (default: see `resolve_weights_dir`).

    Returns:
        The manifest as a dict.

    Raises:
        WeightsError: the manifest is missing, not JSON, or does not follow format 1.
    """
    path = resolve_weights_dir(weights_dir) / MANIFEST_NAME
    if not path.is_file():
        raise WeightsError(
            f"no weights manifest at {path}; set {WEIGHTS_DIR_ENV} to the folder that holds {MANIFEST_NAME}, "
            "or restore weights/ from the repository"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"weights manifest {path} cannot be read as JSON ({e}); restore it from the repository") from e
    return validate_manifest(data, str(path))


def entries(manifest: dict, sets: Iterable[str] | None = None) -> Iterator[tuple[str, str, dict]]:
    """`(set name, model name, model entry)` for each model of `sets` (default: every set)."""
    for set_name in sets if sets is not None else manifest["sets"]:
        for model_name, entry in manifest["sets"][set_name]["models"].items():
            yield set_name, model_name, entry
