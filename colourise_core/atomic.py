"""Atomic file writes: a temporary file in the target's folder, then `os.replace`.

A reader (another process, the app, a resumed run) sees the old file or the new one, never half
of one; a failed write leaves the old file as it was and no temporary file behind. Every module
of colourise that writes a file a later step reads goes through here.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def replacing(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """A temporary path to write; on a clean exit it replaces `path`, on an error it is removed.

    For libraries that write to a path themselves (Keras `save_weights`, `numpy.savez`, PIL).
    The data is flushed to disk (fsync) before the rename; a replaced file keeps its mode, a new
    one gets the usual mode (umask).

    Args:
        path: the file to (re)place; its folder must exist.
        suffix: the temporary file's ending, for writers that insist on one (".weights.h5", ".npz").

    Returns:
        A context manager yielding the temporary `Path` (not yet created; its name holds ".tmp").
    """
    path = Path(path)
    # a unique hidden name beside the target (same file system, so os.replace is atomic)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically. Returns the path."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically. Returns the path."""
    return write_bytes(path, text.encode(encoding))


def write_json(path: str | os.PathLike, data: Any, indent: int | None = 2) -> Path:
    """Write `data` as JSON (with a final newline) to `path` atomically. Returns the path."""
    return write_text(path, json.dumps(data, indent=indent) + "\n")
