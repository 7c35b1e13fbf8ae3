"""Pretrained weights: the manifest, sha256 checks, Hugging Face Hub download/publish, `weights` CLI.

The weights of each model, per training set, are described by `weights/manifest.json` (see
docs/ARCHITECTURE.md): file path, sha256, the spec that rebuilds the architecture, training
facts and metrics. A weight file is used only when its sha256 matches the manifest, wherever it
came from: first `WEIGHTS_DIR/<file>`, then the Hugging Face Hub repo at the revision the
manifest pins. Weights always load into an architecture built by code from the spec.

Modules:
    manifest   the manifest's schema, validation and reading; the weights folder.
    check      sha256 of files, `verify` of a whole folder.
    hub        where to download from, fetching from the Hub, `download`, `publish`.
    resolve    a set name or run folder -> verified file and spec; `load_pretrained`.
    cli        the `weights` sub-commands.

Environment:
    COLOURISE_WEIGHTS_DIR   folder with manifest.json and the weight files (default: the
                            repository's `weights/`).
    COLOURISE_HF_REPO       Hub repo id to download from (default: the manifest's
                            `hub.repo_id`, else `DEFAULT_HUB_REPO`).
    COLOURISE_HF_REVISION   branch, tag or commit to download (default: the manifest's
                            `hub.revision`, else "main").
"""

from colourise_core.weights.check import MAX_FILE_BYTES, MAX_TOTAL_BYTES, sha256_file, verify
from colourise_core.weights.cli import register_cli
from colourise_core.weights.hub import (DEFAULT_HUB_REPO, DEFAULT_HUB_REVISION, HUB_REPO_ENV, HUB_REVISION_ENV, download,
                                        hub_location, publish)
from colourise_core.weights.manifest import (DEFAULT_SET, GENERAL_SET, MANIFEST_FORMAT, MANIFEST_NAME, WEIGHTS_DIR, WEIGHTS_DIR_ENV,
                                             read_manifest, resolve_weights_dir, validate_manifest)
from colourise_core.weights.resolve import load_pretrained, resolve_weights, set_holding

__all__ = [
    "DEFAULT_HUB_REPO", "DEFAULT_HUB_REVISION", "DEFAULT_SET", "GENERAL_SET", "HUB_REPO_ENV", "HUB_REVISION_ENV", "MANIFEST_FORMAT",
    "MANIFEST_NAME", "MAX_FILE_BYTES", "MAX_TOTAL_BYTES", "WEIGHTS_DIR", "WEIGHTS_DIR_ENV",
    "download", "hub_location", "load_pretrained", "publish", "read_manifest", "register_cli", "resolve_weights",
    "resolve_weights_dir", "set_holding", "sha256_file", "validate_manifest", "verify",
]
