"""The Hugging Face Hub: where to download from, fetching verified files, publishing a folder.

Downloads go through `huggingface_hub.hf_hub_download`, so its cache, `HF_HOME`,
`HF_HUB_CACHE`, `HF_HUB_OFFLINE`, `HF_ENDPOINT` and `HF_TOKEN` all work as usual; every Hub
failure becomes one `WeightsError` that says what went wrong and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from colourise_core import atomic
from colourise_core.errors import WeightsError
from colourise_core.weights.check import check_hash, sha256_file, verify
from colourise_core.weights.manifest import CLI_COMMAND, MANIFEST_NAME, entries, read_manifest, resolve_weights_dir

HUB_REPO_ENV = "COLOURISE_HF_REPO"
HUB_REVISION_ENV = "COLOURISE_HF_REVISION"
DEFAULT_HUB_REPO = "colourise/colourise-weights"  # used only when the manifest names no repo
DEFAULT_HUB_REVISION = "main"  # used only when the manifest pins no revision


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


def _network_errors() -> tuple[type[BaseException], ...]:
    """Base exceptions of the HTTP clients huggingface_hub may use (httpx2, httpx, requests)."""
    errors: list[type[BaseException]] = []
    for module, attr in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(__import__(module), attr))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)



def hub_offline() -> bool:
    """True when huggingface_hub is in offline mode (HF_HUB_OFFLINE)."""
    from huggingface_hub import constants

    check = getattr(constants, "is_offline_mode", None)
    return bool(check() if callable(check) else constants.HF_HUB_OFFLINE)


def _explain_hub_error(error: BaseException, *, set_name: str, repo_id: str, revision: str, filename: str, local: Path) -> str:
    """Why `hf_hub_download` failed and what to do, in words."""
    from huggingface_hub import constants, errors as hf_errors

    endpoint, cache = constants.ENDPOINT, constants.HF_HUB_CACHE
    download = f"`{CLI_COMMAND} download {set_name}`"
    if isinstance(error, hf_errors.RepositoryNotFoundError):
        reason = f"the Hub has no repo {repo_id!r} (or it is private or gated and no valid token was sent)"
        advice = f"set {HUB_REPO_ENV} to the repo that holds the weights, or log in (`hf auth login` / HF_TOKEN) for a private repo"
    elif isinstance(error, hf_errors.RevisionNotFoundError):
        reason = f"the Hub repo {repo_id!r} has no revision {revision!r}"
        advice = f"set {HUB_REVISION_ENV} to an existing branch, tag or commit, or fix 'hub.revision' in the manifest"
    elif isinstance(error, (hf_errors.LocalEntryNotFoundError, hf_errors.OfflineModeIsEnabled)):
        if hub_offline():
            reason = f"offline mode is on (HF_HUB_OFFLINE) and the file is not in the Hub cache {cache}"
            advice = f"run {download} once while online, or copy the file to {local}"
        else:
            reason = (f"the Hub at {endpoint} could not be reached (or did not answer like the Hub) and the file "
                      f"is not in the Hub cache {cache}")
            advice = f"check the network connection and HF_ENDPOINT, then run {download}; or copy the file to {local}"
    elif isinstance(error, hf_errors.EntryNotFoundError):
        reason = f"the Hub repo {repo_id!r} at revision {revision!r} has no file {filename!r}"
        advice = (f"publish the weights (`{CLI_COMMAND} publish --repo-id {repo_id}`), or point {HUB_REPO_ENV} / "
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


def hub_fetch(*, set_name: str, model: str, filename: str, local: Path, repo_id: str, revision: str,
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
    for set_name, model, entry in entries(manifest, names):
        local = folder / entry["file"]
        if local.is_file() and not force:
            path = local
        else:
            fetch = dict(set_name=set_name, model=model, filename=entry["file"], local=local, repo_id=repo, revision=rev)
            path = hub_fetch(**fetch, force=force)
            if not force and not hub_offline() and sha256_file(path) != entry["sha256"]:
                path = hub_fetch(**fetch, force=True)  # the cached copy is bad: replace it
        check_hash(path, entry["sha256"], set_name, model)
        result.setdefault(set_name, {})[model] = path
    return result


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
        raise WeightsError(f"refusing to publish {folder}: `{CLI_COMMAND} verify` finds problems:\n  - " + "\n  - ".join(problems))
    manifest = read_manifest(folder)
    patterns = [MANIFEST_NAME, "README.md"] + [entry["file"] for _, _, entry in entries(manifest)]
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
        atomic.write_json(folder / MANIFEST_NAME, manifest)
    return commit
