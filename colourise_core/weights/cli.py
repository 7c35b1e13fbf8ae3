"""The `weights` command of the CLI: `list`, `verify`, `download`, `publish`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from colourise_core.errors import ColouriseError
from colourise_core.weights.check import folder_files, verify
from colourise_core.weights.hub import HUB_REPO_ENV, HUB_REVISION_ENV, download, hub_location, publish
from colourise_core.weights.manifest import (MANIFEST_NAME, WEIGHTS_DIR_ENV, entries, is_int, is_number, read_manifest,
                                             resolve_weights_dir)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if is_number(value) and not is_int(value):
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
    for set_name, model, entry in entries(manifest):
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
    total = sum(p.stat().st_size for p in folder_files(folder))
    print(f"OK: {sum(1 for _ in entries(manifest))} weight files in {folder} match the manifest ({total / 1e6:.1f} MB)")
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
        except ColouriseError as e:  # exit 2 like every command's (cli.main): it cannot be done as asked
            print(f"error: {e}", file=sys.stderr)
            return 2

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
    parser = subparsers.add_parser("weights", help="list, verify, download, publish or export (ONNX) the pretrained weights",
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
