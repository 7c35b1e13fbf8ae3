"""Pretrained weights: the manifest, sha256 checks, Hugging Face Hub download/publish, `weights` CLI.

The weights of each model, per training set, are described by `weights/manifest.json` (see
docs/ARCHITECTURE.md): file path, sha256, the spec that rebuilds the architecture, training
facts and metrics. A weight file is used only when its sha256 matches the manifest, wherever it
came from: first `WEIGHTS_DIR/<file>`, then the Hugging Face Hub repo at the revision the
manifest pins (downloaded with `huggingface_hub.hf_hub_download`, so its cache, `HF_HOME`,
`HF_HUB_CACHE`, `HF_HUB_OFFLINE`, `HF_ENDPOINT` and `HF_TOKEN` all work as usual). Weights
always load into an architecture built by code from the spec, never from a pickle.

Environment:
    COLOURISE_WEIGHTS_DIR   folder with manifest.json and the weight files (default: the
                            repository's `weights/`).
    COLOURISE_HF_REPO       Hub repo id to download from (default: the manifest's
                            `hub.repo_id`, else `DEFAULT_HUB_REPO`).
    COLOURISE_HF_REVISION   branch, tag or commit to download (default: the manifest's
                            `hub.revision`, else "main").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from colourise_core.errors import ColouriseError, WeightsError

WEIGHTS_DIR_ENV = "COLOURISE_WEIGHTS_DIR"
WEIGHTS_DIR = Path(os.environ.get(WEIGHTS_DIR_ENV) or Path(__file__).resolve().parents[1] / "weights")
DEFAULT_SET = "imagenette"  # photos: the set `load_pretrained` uses when none is named
HUB_REPO_ENV = "COLOURISE_HF_REPO"
HUB_REVISION_ENV = "COLOURISE_HF_REVISION"
DEFAULT_HUB_REPO = "colourise/colourise-weights"  # used only when the manifest names no repo
DEFAULT_HUB_REVISION = "main"  # used only when the manifest pins no revision
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
MAX_FILE_BYTES = 10_000_000  # per weight file (kept small enough for a git repository)
MAX_TOTAL_BYTES = 100_000_000  # the whole weights folder
RUN_WEIGHTS = "model.weights.h5"
RUN_SPEC = "spec.json"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CLI = "python -m colourise_core weights"


# ---------------------------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------------------------
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
    from colourise_core.models import MODEL_NAMES  # imports Keras: only when a manifest is read

    return tuple(MODEL_NAMES)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
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
    if not _is_int(fmt) or fmt != MANIFEST_FORMAT:
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
        for key in ("dataset", "classes", "resolution", "models"):
            if key not in entry:
                raise bad(f"{where} lacks {key!r}")
        if not isinstance(entry["dataset"], str) or not entry["dataset"]:
            raise bad(f"{where}: 'dataset' must be a non-empty string")
        classes = entry["classes"]
        if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            raise bad(f"{where}: 'classes' must be null (all classes) or a list of class names")
        resolution = entry["resolution"]
        if not _is_int(resolution) or resolution <= 0:
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
            for key in ("file", "sha256", "spec"):
                if key not in m:
                    raise bad(f"{mwhere} lacks {key!r}")
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
                ("epochs", lambda v: _is_int(v) and v >= 0, "a non-negative integer"),
                ("train_seconds", lambda v: _is_number(v) and v >= 0, "a non-negative number"),
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


def _entries(manifest: dict, sets: Iterable[str] | None = None) -> Iterator[tuple[str, str, dict]]:
    for set_name in sets if sets is not None else manifest["sets"]:
        for model_name, entry in manifest["sets"][set_name]["models"].items():
            yield set_name, model_name, entry


def hub_location(manifest: dict | None = None, *, repo_id: str | None = None, revision: str | None = None) -> tuple[str, str]:
    """The Hub repo and revision to download from.

    Args:
        manifest: a read manifest (its `hub` block), or None.
        repo_id: explicit repo (wins over everything).
        revision: explicit revision (wins over everything).

    Returns:
        `(repo_id, revision)`: argument, else `$COLOURISE_HF_REPO` / `$COLOURISE_HF_REVISION`,
        else the manifest's `hub`, else `DEFAULT_HUB_REPO` / "main".
    """
    hub = (manifest or {}).get("hub") or {}
    repo = repo_id or os.environ.get(HUB_REPO_ENV) or hub.get("repo_id") or DEFAULT_HUB_REPO
    rev = revision or os.environ.get(HUB_REVISION_ENV) or hub.get("revision") or DEFAULT_HUB_REVISION
    return repo, rev


# ---------------------------------------------------------------------------------------------
# Hashes, run folders, the Hub
# ---------------------------------------------------------------------------------------------
def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The sha256 of a file, as 64 lowercase hex digits.

    Args:
        path: the file (symlinks are followed).
        chunk_size: bytes read at a time.

    Returns:
        The hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _describe_path(path: Path) -> str:
    return f"{path} (-> {os.path.realpath(path)})" if path.is_symlink() else str(path)


def _check_hash(path: Path, expected: str, set_name: str, model: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(
            f"refused: {_describe_path(path)} (the {model!r} weights of set {set_name!r}) has sha256 {actual}, "
            f"which does not match the manifest (expected sha256 {expected}); it may be corrupt or tampered with; "
            f"delete it and run `{_CLI} download {set_name}`"
        )


def _looks_like_path(weights: str) -> bool:
    return (
        "/" in weights
        or os.sep in weights
        or bool(os.altsep and os.altsep in weights)
        or weights in (".", "..")
        or weights.startswith("~")
        or weights.endswith(".h5")
    )


def _resolve_run(model: str, given: str | os.PathLike) -> tuple[Path, dict]:
    """A training run folder (or a .weights.h5 file inside one) -> (weight file, spec)."""
    path = Path(given).expanduser()
    if path.is_file():
        folder, weight_file = path.parent, path
    else:
        folder, weight_file = path, path / RUN_WEIGHTS
    if not folder.is_dir():
        raise WeightsError(
            f"weights {str(given)!r}: there is no run folder {folder}; pass a weights set name or the folder "
            f"of a training run (with {RUN_SPEC} and {RUN_WEIGHTS})"
        )
    spec_path = folder / RUN_SPEC
    if not spec_path.is_file():
        raise WeightsError(
            f"{folder} is not a training run folder: it has no {RUN_SPEC}; pass a folder written by "
            "`python -m colourise_core train`"
        )
    if not weight_file.is_file():
        raise WeightsError(f"run folder {folder} has no {weight_file.name}; has training finished an epoch?")
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{spec_path} cannot be read as JSON ({e})") from e
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), str) or not isinstance(spec.get("config"), dict):
        raise WeightsError(f"{spec_path} is not a model spec (an object with 'model', 'resolution' and 'config')")
    if spec["model"] != model:
        raise WeightsError(
            f"run folder {folder} holds a {spec['model']!r} model, not {model!r}; choose model {spec['model']!r} "
            "or another run folder"
        )
    return weight_file, spec


def _network_errors() -> tuple[type[BaseException], ...]:
    """Base exceptions of the HTTP clients huggingface_hub may use (httpx2, httpx, requests)."""
    errors: list[type[BaseException]] = []
    for module, attr in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(__import__(module), attr))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def _hub_offline() -> bool:
    from huggingface_hub import constants

    check = getattr(constants, "is_offline_mode", None)
    return bool(check() if callable(check) else constants.HF_HUB_OFFLINE)


def _explain_hub_error(error: BaseException, *, set_name: str, repo_id: str, revision: str, filename: str, local: Path) -> str:
    """Why `hf_hub_download` failed and what to do, in words."""
    from huggingface_hub import constants, errors as hf_errors

    endpoint, cache = constants.ENDPOINT, constants.HF_HUB_CACHE
    download = f"`{_CLI} download {set_name}`"
    if isinstance(error, hf_errors.RepositoryNotFoundError):
        reason = f"the Hub has no repo {repo_id!r} (or it is private or gated and no valid token was sent)"
        advice = f"set {HUB_REPO_ENV} to the repo that holds the weights, or log in (`hf auth login` / HF_TOKEN) for a private repo"
    elif isinstance(error, hf_errors.RevisionNotFoundError):
        reason = f"the Hub repo {repo_id!r} has no revision {revision!r}"
        advice = f"set {HUB_REVISION_ENV} to an existing branch, tag or commit, or fix 'hub.revision' in the manifest"
    elif isinstance(error, (hf_errors.LocalEntryNotFoundError, hf_errors.OfflineModeIsEnabled)):
        if _hub_offline():
            reason = f"offline mode is on (HF_HUB_OFFLINE) and the file is not in the Hub cache {cache}"
            advice = f"run {download} once while online, or copy the file to {local}"
        else:
            reason = (f"the Hub at {endpoint} could not be reached (or did not answer like the Hub) and the file "
                      f"is not in the Hub cache {cache}")
            advice = f"check the network connection and HF_ENDPOINT, then run {download}; or copy the file to {local}"
    elif isinstance(error, hf_errors.EntryNotFoundError):
        reason = f"the Hub repo {repo_id!r} at revision {revision!r} has no file {filename!r}"
        advice = (f"publish the weights (`{_CLI} publish --repo-id {repo_id}`), or point {HUB_REPO_ENV} / "
                  f"{HUB_REVISION_ENV} at a repo that has them")
    elif isinstance(error, hf_errors.HfHubHTTPError):
        status = getattr(getattr(error, "response", None), "status_code", "?")
        first = (str(error).strip().splitlines() or [""])[0]
        reason = f"the Hub answered HTTP {status} ({first})"
        advice = f"try again later, or check HF_ENDPOINT and your token; then run {download}"
    else:  # OSError, ValueError, HTTP client errors
        reason = f"the download failed ({type(error).__name__}: {error})"
        advice = f"check the network connection, HF_ENDPOINT and the free disk space in {cache}; then run {download}"
    return (f"{reason}. Looked in {local} (not there) and at {endpoint}/{repo_id} revision {revision} "
            f"(file {filename}). To fix: {advice}")


def _hub_fetch(*, set_name: str, model: str, filename: str, local: Path, repo_id: str, revision: str,
               force: bool = False) -> Path:
    """`hf_hub_download` one manifest file into the Hub cache; every Hub failure becomes one WeightsError."""
    import huggingface_hub
    from huggingface_hub import errors as hf_errors

    from colourise_core import __version__

    handled = (hf_errors.HfHubHTTPError, hf_errors.EntryNotFoundError, hf_errors.OfflineModeIsEnabled,
               OSError, ValueError) + _network_errors()
    try:
        return Path(huggingface_hub.hf_hub_download(
            repo_id=repo_id, filename=filename, revision=revision, force_download=force,
            library_name="colourise_core", library_version=__version__,
        ))
    except handled as e:
        why = _explain_hub_error(e, set_name=set_name, repo_id=repo_id, revision=revision, filename=filename, local=local)
        raise WeightsError(f"cannot get the {model!r} weights of set {set_name!r}: {why}") from e


def _set_entry(manifest: dict, set_name: str, model: str) -> dict:
    sets = manifest["sets"]
    if set_name not in sets:
        raise WeightsError(
            f"unknown weights set {set_name!r}; available sets: {', '.join(sorted(sets)) or '(none)'}; "
            f"or pass the folder of a training run (with {RUN_SPEC} and {RUN_WEIGHTS})"
        )
    models = sets[set_name]["models"]
    if model not in models:
        raise WeightsError(f"weights set {set_name!r} has no {model!r} model; it has: {', '.join(sorted(models))}")
    return models[model]


def resolve_weights(model: str, weights: str | os.PathLike = DEFAULT_SET, *, weights_dir: str | os.PathLike | None = None,
                    revision: str | None = None, repo_id: str | None = None) -> tuple[Path, dict]:
    """Find the verified weight file and spec of `model` in a weights set or a training run folder.

    A set's file is taken from the weights folder if there, else from the Hub (repo and
    revision: see `hub_location`); either way it is refused unless its sha256 matches the manifest.

    Args:
        model: "cnn", "cgan" or "cvae".
        weights: a set name from the manifest, or the path of a run folder (with spec.json and
            model.weights.h5) or of a .weights.h5 file inside one.
        weights_dir: the weights folder (default: see `resolve_weights_dir`).
        revision: Hub revision (default: `$COLOURISE_HF_REVISION`, else the manifest's pin).
        repo_id: Hub repo (default: `$COLOURISE_HF_REPO`, else the manifest's).

    Returns:
        `(path of the .weights.h5 file, spec dict)`.

    Raises:
        WeightsError: unknown set or model, missing/unreachable file, hash mismatch, a run
            folder of another model.
    """
    if isinstance(weights, os.PathLike) or _looks_like_path(str(weights)):
        return _resolve_run(model, weights)
    manifest = read_manifest(weights_dir)
    if weights not in manifest["sets"] and (Path(weights) / RUN_SPEC).is_file():
        return _resolve_run(model, weights)
    entry = _set_entry(manifest, weights, model)
    local = resolve_weights_dir(weights_dir) / entry["file"]
    if local.is_file():
        path = local
    else:
        repo, rev = hub_location(manifest, repo_id=repo_id, revision=revision)
        path = _hub_fetch(set_name=weights, model=model, filename=entry["file"], local=local, repo_id=repo, revision=rev)
    _check_hash(path, entry["sha256"], weights, model)
    return path, entry["spec"]


def load_pretrained(model: str, weights: str | os.PathLike = DEFAULT_SET, **kwargs) -> Any:
    """Build `model` from its spec and load verified pretrained weights into it.

    Args:
        model: "cnn", "cgan" or "cvae".
        weights: a set name (default `DEFAULT_SET`) or a training run folder.
        **kwargs: `weights_dir`, `revision`, `repo_id` (see `resolve_weights`).

    Returns:
        The `keras.Model`, ready for `colourise`.

    Raises:
        WeightsError: see `resolve_weights`; also a spec that does not build or weights that do
            not fit it.
    """
    from colourise_core.models import build_from_spec, load_weights_checked

    path, spec = resolve_weights(model, weights, **kwargs)
    try:
        net = build_from_spec(spec)
    except (ValueError, KeyError, TypeError) as e:
        raise WeightsError(
            f"the spec for {model!r} weights {str(weights)!r} does not build a model ({type(e).__name__}: {e}); "
            "fix the manifest or spec.json"
        ) from e
    load_weights_checked(net, path)
    return net


# ---------------------------------------------------------------------------------------------
# verify / download / publish
# ---------------------------------------------------------------------------------------------
def _folder_files(folder: Path) -> list[Path]:
    """Regular files under `folder`, skipping hidden files and folders (.git, .cache...)."""
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def verify(weights_dir: str | os.PathLike | None = None, *, max_file_bytes: int = MAX_FILE_BYTES,
           max_total_bytes: int = MAX_TOTAL_BYTES, load: bool = False) -> list[str]:
    """Check the weights folder: every manifest file present, hash-matching and small enough.

    Args:
        weights_dir: the weights folder (default: see `resolve_weights_dir`).
        max_file_bytes: the largest weight file allowed.
        max_total_bytes: the largest total size of the folder's (non-hidden) files.
        load: also build each model from its spec and load its weights.

    Returns:
        The problems, one sentence each; empty when all is well.
    """
    folder = resolve_weights_dir(weights_dir)
    try:
        manifest = read_manifest(folder)
    except WeightsError as e:
        return [str(e)]
    problems: list[str] = []
    listed: set[Path] = set()
    for set_name, model, entry in _entries(manifest):
        path = folder / entry["file"]
        listed.add(path.resolve())
        if not path.is_file():
            problems.append(f"{set_name}/{model}: {path} is missing (download it with `{_CLI} download {set_name}` and copy it there)")
            continue
        size = path.stat().st_size
        if size > max_file_bytes:
            problems.append(f"{set_name}/{model}: {path} is {size:,} bytes, over the limit of {max_file_bytes:,} bytes per file")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            problems.append(f"{set_name}/{model}: {path} has sha256 {actual}, but the manifest says {entry['sha256']}")
        elif load:
            try:
                load_pretrained(model, set_name, weights_dir=folder)
            except ColouriseError as e:
                problems.append(f"{set_name}/{model}: does not load: {e}")
    files = _folder_files(folder)
    for path in files:
        if path.name.endswith(".h5") and path.resolve() not in listed:
            problems.append(f"{path} is not in the manifest (remove it, or add it to {MANIFEST_NAME})")
    total = sum(p.stat().st_size for p in files)
    if total > max_total_bytes:
        problems.append(f"{folder} holds {total:,} bytes, over the limit of {max_total_bytes:,} bytes in total")
    return problems


def download(sets: Iterable[str] | None = None, *, weights_dir: str | os.PathLike | None = None, revision: str | None = None,
             repo_id: str | None = None, force: bool = False) -> dict[str, dict[str, Path]]:
    """Make the weight files of `sets` available (in the weights folder or the Hub cache), verified.

    A file already in the weights folder is only checked. Otherwise it is fetched from the Hub
    into the Hub cache; a cached copy that fails the hash check is fetched again once.

    Args:
        sets: set names (default: every set in the manifest).
        weights_dir: the weights folder (default: see `resolve_weights_dir`).
        revision: Hub revision (default: see `hub_location`).
        repo_id: Hub repo (default: see `hub_location`).
        force: fetch from the Hub even if the file is in the weights folder or the cache.

    Returns:
        `{set: {model: path}}` of verified files.

    Raises:
        WeightsError: unknown set, unreachable Hub without a cached copy, hash mismatch.
    """
    folder = resolve_weights_dir(weights_dir)
    manifest = read_manifest(folder)
    names = list(sets) if sets else sorted(manifest["sets"])
    for name in names:
        if name not in manifest["sets"]:
            raise WeightsError(f"unknown weights set {name!r}; available sets: {', '.join(sorted(manifest['sets'])) or '(none)'}")
    repo, rev = hub_location(manifest, repo_id=repo_id, revision=revision)
    result: dict[str, dict[str, Path]] = {}
    for set_name, model, entry in _entries(manifest, names):
        local = folder / entry["file"]
        if local.is_file() and not force:
            path = local
        else:
            fetch = dict(set_name=set_name, model=model, filename=entry["file"], local=local, repo_id=repo, revision=rev)
            path = _hub_fetch(**fetch, force=force)
            if not force and not _hub_offline() and sha256_file(path) != entry["sha256"]:
                path = _hub_fetch(**fetch, force=True)  # the cached copy is bad: replace it
        _check_hash(path, entry["sha256"], set_name, model)
        result.setdefault(set_name, {})[model] = path
    return result


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def publish(repo_id: str, token: str | None = None, revision: str | None = None, *,
            weights_dir: str | os.PathLike | None = None, pin: bool = True, commit_message: str | None = None) -> str:
    """Upload the weights folder (manifest, README.md and the listed weight files) to a Hub repo.

    The folder must pass `verify` first. The repo is created if needed (`exist_ok`), and so is
    the branch `revision`. With `pin`, the manifest's `hub` block is then set to this repo and
    the new commit, so downloads are pinned to exactly what was uploaded.

    Args:
        repo_id: "owner/name" of a model repo you may write to.
        token: a Hub token with write access (default: `HF_TOKEN` or the saved login).
        revision: branch to upload to (default "main").
        weights_dir: the weights folder (default: see `resolve_weights_dir`).
        pin: write `{"repo_id", "revision": commit}` into the local manifest afterwards.
        commit_message: the Hub commit message.

    Returns:
        The id of the Hub commit.

    Raises:
        WeightsError: the folder fails `verify`, or the Hub refuses the upload.
    """
    from huggingface_hub import HfApi, constants

    folder = resolve_weights_dir(weights_dir)
    problems = verify(folder)
    if problems:
        raise WeightsError(f"refusing to publish {folder}: `{_CLI} verify` finds problems:\n  - " + "\n  - ".join(problems))
    manifest = read_manifest(folder)
    patterns = [MANIFEST_NAME, "README.md"] + [entry["file"] for _, _, entry in _entries(manifest)]
    api = HfApi(token=token)
    where = f"{constants.ENDPOINT}/{repo_id}" + (f" (branch {revision})" if revision else "")
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        if revision and revision != DEFAULT_HUB_REVISION:
            api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id, folder_path=folder, repo_type="model", revision=revision, allow_patterns=patterns,
            commit_message=commit_message or f"Upload colourise_core weights ({', '.join(sorted(manifest['sets']))})",
        )
    except Exception as e:
        from huggingface_hub import errors as hf_errors

        if not isinstance(e, (hf_errors.HfHubHTTPError, OSError, ValueError) + _network_errors()):
            raise
        raise WeightsError(
            f"could not publish {folder} to {where}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}. "
            "Check that the token (--token, HF_TOKEN or `hf auth login`) may write to that repo and that the Hub is reachable"
        ) from e
    commit = info.oid
    if pin:
        manifest["hub"] = {"repo_id": repo_id, "revision": commit}
        _write_json_atomic(folder / MANIFEST_NAME, manifest)
    return commit


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if _is_number(value) and not _is_int(value):
        return f"{value:.4g}"
    return str(value)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _where(folder: Path, entry: dict, repo: str, rev: str) -> str:
    if (folder / entry["file"]).is_file():
        return "local"
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(repo, entry["file"], revision=rev), str):
            return "hub cache"
    except Exception:  # listing must not fail on an odd cache
        pass
    return "hub"


def _cmd_list(args: argparse.Namespace) -> int:
    folder = resolve_weights_dir(args.weights_dir)
    manifest = read_manifest(folder)
    repo, rev = hub_location(manifest)
    rows = [["set", "dataset", "classes", "res", "model", "epochs", "uv_mse", "psnr", "colourful", "base psnr", "MB", "where"]]
    for set_name, model, entry in _entries(manifest):
        s = manifest["sets"][set_name]
        metrics = entry.get("metrics") or {}
        baseline = metrics.get("baseline") or {}
        path = folder / entry["file"]
        rows.append([
            set_name, s["dataset"], "all" if s["classes"] is None else str(len(s["classes"])), str(s["resolution"]), model,
            _fmt(entry.get("epochs")), _fmt(metrics.get("uv_mse")), _fmt(metrics.get("psnr")), _fmt(metrics.get("colourfulness")),
            _fmt(baseline.get("psnr")), f"{path.stat().st_size / 1e6:.1f}" if path.is_file() else "-", _where(folder, entry, repo, rev),
        ])
    if len(rows) == 1:
        print(f"{folder / MANIFEST_NAME} lists no weights")
        return 0
    print(_table(rows))
    print(f"\nmanifest: {folder / MANIFEST_NAME}; Hub: {repo} at {rev}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    folder = resolve_weights_dir(args.weights_dir)
    problems = verify(folder, load=args.load)
    if problems:
        print(f"{len(problems)} problem(s) in {folder}:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    manifest = read_manifest(folder)
    total = sum(p.stat().st_size for p in _folder_files(folder))
    print(f"OK: {sum(1 for _ in _entries(manifest))} weight files in {folder} match the manifest ({total / 1e6:.1f} MB)")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    result = download(args.sets or None, weights_dir=args.weights_dir, revision=args.revision, repo_id=args.repo_id, force=args.force)
    for set_name, models in result.items():
        for model, path in models.items():
            print(f"{set_name}/{model}: {path} (sha256 verified)")
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    commit = publish(args.repo_id, token=args.token, revision=args.revision, weights_dir=args.weights_dir,
                     pin=not args.no_pin, commit_message=args.message)
    print(f"published to {args.repo_id} as commit {commit}")
    if not args.no_pin:
        print(f"pinned it in {resolve_weights_dir(args.weights_dir) / MANIFEST_NAME} (hub.revision); commit that file")
    return 0


def _guarded(func):
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except ColouriseError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1

    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run


def register_cli(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `weights` command (`list`, `verify`, `download`, `publish`) to a CLI.

    Each sub-command sets `args.func(args) -> int` (the exit code); errors are printed, not raised.

    Args:
        subparsers: the object `ArgumentParser.add_subparsers()` returned.

    Returns:
        The `weights` parser.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--weights-dir", type=Path, default=None,
                        help=f"folder with {MANIFEST_NAME} and the weight files (default: ${WEIGHTS_DIR_ENV} or weights/)")
    parser = subparsers.add_parser("weights", help="list, verify, download or publish the pretrained weights",
                                   description="Pretrained weights: the manifest, sha256 checks and the Hugging Face Hub.")
    sub = parser.add_subparsers(dest="weights_command", metavar="{list,verify,download,publish,export}", required=True)

    p = sub.add_parser("list", parents=[common], help="table of sets, models, resolutions and metrics")
    p.set_defaults(func=_guarded(_cmd_list))

    p = sub.add_parser("verify", parents=[common], help="check files, hashes and sizes against the manifest (exit 1 on problems)")
    p.add_argument("--load", action="store_true", help="also build each model and load its weights")
    p.set_defaults(func=_guarded(_cmd_verify))

    p = sub.add_parser("download", parents=[common], help="fetch the weight files of some sets (default: all) from the Hub into its cache")
    p.add_argument("sets", nargs="*", metavar="SET", help="weights sets to fetch (default: all in the manifest)")
    p.add_argument("--repo-id", default=None, help=f"Hub repo (default: ${HUB_REPO_ENV}, else the manifest's)")
    p.add_argument("--revision", default=None, help=f"Hub revision (default: ${HUB_REVISION_ENV}, else the manifest's pin)")
    p.add_argument("--force", action="store_true", help="download again even if a verified copy exists")
    p.set_defaults(func=_guarded(_cmd_download))

    p = sub.add_parser("publish", parents=[common], help="upload the weights folder to a Hub repo (needs a write token)")
    p.add_argument("--repo-id", required=True, help="Hub model repo, owner/name (created if missing)")
    p.add_argument("--token", default=None, help="Hub token with write access (default: HF_TOKEN or the saved login)")
    p.add_argument("--revision", default=None, help="branch to upload to (default: main)")
    p.add_argument("--message", default=None, help="commit message")
    p.add_argument("--no-pin", action="store_true", help="do not write the new commit into the manifest's hub.revision")
    p.set_defaults(func=_guarded(_cmd_publish))

    from colourise_core import onnx_export  # `weights export SET --format onnx`

    onnx_export.register_cli(sub, common, _guarded)
    return parser
