"""Checks of weight files against the manifest: sha256, sizes, stray files (`weights verify`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from colourise_core.errors import ColouriseError, WeightsError
from colourise_core.weights.manifest import CLI_COMMAND, MANIFEST_NAME, entries, read_manifest, resolve_weights_dir

MAX_FILE_BYTES = 10_000_000  # per weight file (kept small enough for a git repository)
MAX_TOTAL_BYTES = 100_000_000  # the whole weights folder


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


def check_hash(path: Path, expected: str, set_name: str, model: str) -> None:
    """Refuse `path` (raise WeightsError) unless its sha256 is `expected`."""
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(
            f"refused: {_describe_path(path)} (the {model!r} weights of set {set_name!r}) has sha256 {actual}, "
            f"which does not match the manifest (expected sha256 {expected}); it may be corrupt or tampered with; "
            f"delete it and run `{CLI_COMMAND} download {set_name}`"
        )


def folder_files(folder: Path) -> list[Path]:
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
    for set_name, model, entry in entries(manifest):
        path = folder / entry["file"]
        listed.add(path.resolve())
        if not path.is_file():
            problems.append(f"{set_name}/{model}: {path} is missing (download it with `{CLI_COMMAND} download {set_name}` and copy it there)")
            continue
        size = path.stat().st_size
        if size > max_file_bytes:
            problems.append(f"{set_name}/{model}: {path} is {size:,} bytes, over the limit of {max_file_bytes:,} bytes per file")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            problems.append(f"{set_name}/{model}: {path} has sha256 {actual}, but the manifest says {entry['sha256']}")
        elif load:
            from colourise_core.weights.resolve import load_pretrained  # builds Keras models: only when asked

            try:
                load_pretrained(model, set_name, weights_dir=folder)
            except ColouriseError as e:
                problems.append(f"{set_name}/{model}: does not load: {e}")
    files = folder_files(folder)
    for path in files:
        if path.name.endswith(".h5") and path.resolve() not in listed:
            problems.append(f"{path} is not in the manifest (remove it, or add it to {MANIFEST_NAME})")
    total = sum(p.stat().st_size for p in files)
    if total > max_total_bytes:
        problems.append(f"{folder} holds {total:,} bytes, over the limit of {max_total_bytes:,} bytes in total")
    return problems
