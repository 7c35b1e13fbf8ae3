"""Resolving `weights=` (a set name or a training run folder) to a verified file and spec; loading.

A set's file is used only when its sha256 matches the manifest, wherever it came from: first
`<weights folder>/<file>`, then the Hub repo at the revision the manifest pins. Weights always
load into an architecture built by code from the spec, never from a pickle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from colourise_core.errors import WeightsError
from colourise_core.run_folder import RunFolder
from colourise_core.weights.check import check_hash
from colourise_core.weights.hub import hub_fetch, hub_location
from colourise_core.weights.manifest import DEFAULT_SET, GENERAL_SET, read_manifest, resolve_weights_dir


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
    run = RunFolder(path.parent if path.is_file() else path)
    folder, weight_file = run.path, (path if path.is_file() else run.weights_file)
    if not folder.is_dir():
        raise WeightsError(
            f"weights {str(given)!r}: there is no run folder {folder}; pass a weights set name or the folder "
            f"of a training run (with {RunFolder.SPEC} and {RunFolder.WEIGHTS})"
        )
    spec_path = run.spec_file
    if not run.is_run():
        raise WeightsError(
            f"{folder} is not a training run folder: it has no {RunFolder.SPEC}; pass a folder written by "
            "`python -m colourise_core train`"
        )
    if not weight_file.is_file():
        raise WeightsError(f"run folder {folder} has no {weight_file.name}; has training finished an epoch?")
    try:
        spec = run.read(RunFolder.SPEC)
    except (OSError, ValueError) as e:
        raise WeightsError(f"{spec_path} cannot be read as JSON ({e})") from e
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), str) or not isinstance(spec.get("config"), dict):
        raise WeightsError(f"{spec_path} is not a model spec (an object with 'model', 'resolution' and 'config')")
    if spec["model"] != model:
        raise WeightsError(
            f"run folder {folder} holds a {spec['model']!r} model, not {model!r}; choose model {spec['model']!r} "
            "or another run folder"
        )
    return weight_file, spec


def _set_entry(manifest: dict, set_name: str, model: str) -> dict:
    sets = manifest["sets"]
    if set_name not in sets:
        raise WeightsError(
            f"unknown weights set {set_name!r}; available sets: {', '.join(sorted(sets)) or '(none)'}; "
            f"or pass the folder of a training run (with {RunFolder.SPEC} and {RunFolder.WEIGHTS})"
        )
    models = sets[set_name]["models"]
    if model not in models:
        others = sorted(name for name, entry in sets.items() if model in entry["models"])
        where = f"; sets with one: {', '.join(others)}" if others else ""
        raise WeightsError(f"weights set {set_name!r} has no {model!r} model; it has: {', '.join(sorted(models))}{where}")
    return models[model]


def set_holding(model: str, dataset: str | None = None, *, weights_dir: str | os.PathLike | None = None,
                local_only: bool = False) -> str | None:
    """The weight set to take `model` from when the one chosen lacks it (the U-Net beside a
    dissertation set): one trained on `dataset` (the faces U-Net beside the faces set), else
    `GENERAL_SET`, else the first by name; None when no set holds it.

    Args:
        model: a model family.
        dataset: the chosen set's (or run's) dataset, preferred.
        weights_dir: the weights folder (default: see `resolve_weights_dir`).
        local_only: only sets whose file is in the weights folder (no Hub download).
    """
    sets = read_manifest(weights_dir)["sets"]
    folder = resolve_weights_dir(weights_dir)
    holding = [name for name, entry in sorted(sets.items()) if model in entry["models"]
               and (not local_only or (folder / entry["models"][model]["file"]).is_file())]
    rank = lambda name: (dataset is None or sets[name].get("dataset") != dataset, name != GENERAL_SET)  # noqa: E731
    return min(holding, key=rank) if holding else None


def resolve_weights(model: str, weights: str | os.PathLike = DEFAULT_SET, *, weights_dir: str | os.PathLike | None = None,
                    revision: str | None = None, repo_id: str | None = None) -> tuple[Path, dict]:
    """Find the verified weight file and spec of `model` in a weights set or a training run folder.

    A set's file is taken from the weights folder if there, else from the Hub (repo and
    revision: see `hub_location`); either way it is refused unless its sha256 matches the manifest.

    Args:
        model: a model family of `colourise_core.models.MODEL_NAMES`.
        weights: a set name from the manifest, or the path of a run folder (see `RunFolder`) or of
            a .weights.h5 file inside one.
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
    if weights not in manifest["sets"] and RunFolder(weights).is_run():
        return _resolve_run(model, weights)
    entry = _set_entry(manifest, weights, model)
    local = resolve_weights_dir(weights_dir) / entry["file"]
    if local.is_file():
        path = local
    else:
        repo, rev = hub_location(manifest, repo_id=repo_id, revision=revision)
        path = hub_fetch(set_name=weights, model=model, filename=entry["file"], local=local, repo_id=repo, revision=rev)
    check_hash(path, entry["sha256"], weights, model)
    return path, entry["spec"]


def load_pretrained(model: str, weights: str | os.PathLike = DEFAULT_SET, **kwargs) -> Any:
    """Build `model` from its spec and load verified pretrained weights into it.

    Args:
        model: a model family of `colourise_core.models.MODEL_NAMES`.
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
            f"fix the manifest or {RunFolder.SPEC}"
        ) from e
    load_weights_checked(net, path)
    return net
