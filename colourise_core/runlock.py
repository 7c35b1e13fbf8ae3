"""Run-folder safety: one trainer per folder, and a clean folder after a crash.

`locked_run` wraps `training.train`: it takes `RUN_LOCK` in the run folder with an exclusive
`fcntl.flock` (released by the kernel when the process dies, so a lock left by a killed run is
stale by construction and is taken over), and records who holds it so a second `train` on the
same folder is refused with a message naming that process. With `resume=True` it first
removes the temporary files an interrupted write left (`.NAME.*tmp*`) and checkpoints of an
epoch that `state.json` never committed, and puts back `model.weights.h5` from the committed
checkpoint, so the folder is exactly its last finished epoch again.

`crash_point(name)` lets tests kill the process at a named step of a checkpoint write
(environment `COLOURISE_CRASH_AT=name[:epoch]`); it does nothing otherwise.
"""

from __future__ import annotations

import fcntl
import functools
import inspect
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

from colourise_core import atomic
from colourise_core.errors import ColouriseError
from colourise_core.run_folder import RunFolder

RUN_LOCK = RunFolder.LOCK
CRASH_ENV = "COLOURISE_CRASH_AT"


class RunLockedError(ColouriseError):
    """The run folder is being written by another live training."""


def crash_point(name: str, epoch: int | None = None) -> None:
    """Kill this process with SIGKILL at `name` when COLOURISE_CRASH_AT asks for it (tests)."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, at = wanted.partition(":")
    if point == name and (not at or int(at) == epoch):
        os.kill(os.getpid(), signal.SIGKILL)


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class RunLock:
    """An exclusive lock on a run folder, held while the object is open."""

    def __init__(self, run: Path):
        self.path = Path(run) / RUN_LOCK
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.took_over: str | None = None  # the stale holder's description, when there was one
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(
                f"{self.path.parent} is in use by another training ({_holder(self.path)}); wait for it to "
                "finish or stop it, or choose another --out") from None
        if os.fstat(fd).st_size:
            self.took_over = _holder(self.path)  # its process died without releasing: stale
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        self._fd = fd

    def release(self) -> None:
        """Empty the record (an empty lock file is free; it stays, so no unlink race) and unlock."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _is_temp(name: str) -> bool:
    """A run folder holds no hidden files of its own: a hidden one is an interrupted write's
    temporary file (`.NAME.PID.tmp.weights.h5`, `.NAME.tmp`, `.NAME.tmp.npz`, atomic.replacing's)."""
    return name.startswith(".")


def clean_interrupted(run: Path) -> list[Path]:
    """Make a run folder its last committed epoch again (see the module docstring).

    Returns:
        The files removed.
    """
    run = Path(run)
    removed = []
    for where in (run, RunFolder(run).checkpoints):
        if where.is_dir():
            for f in where.iterdir():
                if f.is_file() and _is_temp(f.name):
                    f.unlink()
                    removed.append(f)
    folder = RunFolder(run)
    if not (run / RunFolder.STATE).is_file():
        return removed
    epoch = int(folder.read(RunFolder.STATE)["epoch"])
    for f in folder.stale_checkpoints(epoch):  # an uncommitted newer epoch, or an older one left over
        f.unlink()
        removed.append(f)
    committed, _ = folder.checkpoint(epoch)
    if committed.is_file():  # model.weights.h5 may hold the uncommitted epoch: put it back
        with atomic.replacing(folder.weights_file, suffix=".weights.h5") as tmp:
            shutil.copyfile(committed, tmp)
    return removed


def locked_run(train):
    """Decorate `train(config, out_dir, callbacks=(), resume=False)` with the lock and cleanup."""
    signature = inspect.signature(train)

    @functools.wraps(train)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        run = Path(bound.arguments["out_dir"])
        with RunLock(run):
            if bound.arguments.get("resume"):
                clean_interrupted(run)
            return train(*args, **kwargs)

    return wrapper
