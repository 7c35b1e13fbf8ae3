"""Session lifecycle and server-wide limits, so a public deployment stays up.

- **Per-session data lives here, not in `st.session_state`.** Decoded photos and results
  (`memo`) are kept in a server-side `Session` record. Streamlit keeps a closed tab's session
  state for minutes in case it reconnects; the records are dropped as soon as the session ends.
- **A session ends** when Streamlit no longer lists it as connected for `END_GRACE_S` seconds
  (a reaper thread checks every few seconds), or when its session state is garbage-collected
  (a `weakref.finalize` on a guard object kept in `st.session_state`: how an AppTest session, or
  one Streamlit evicts, ends). Ending stops its training, drops its results and removes its
  folder (uploads and Retrain runs). Folders a crash left behind are removed by age on start-up.
- **Server-wide limits**: at most `COLOURISE_APP_MAX_JOBS` colourisations and
  `COLOURISE_APP_MAX_TRAININGS` trainings at once (others wait, and say so); a disk quota per
  session and in total; a limit on the training epochs one session may run.

Streamlit 1.67 has no public "session ended" callback (the docs' st.context and session-state
pages offer none). The non-documented calls are isolated in three small functions:
`_streamlit_session_id` (the script-run context's session id), `_connected`
(`Runtime.is_active_session`, a thread-safe public method of the runtime singleton) and
`_release` (`Runtime.clear_user_info_for_session`, its thread-safe way to close a stored session,
so a closed tab's page data is freed now, not two minutes later). If they ever disappear, sessions
still end through the finalizer and the age sweep. Settings (environment, documented in docs/APP.md) are read when used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from app_support import paths

GUARD_KEY = "_app_session_guard"
END_GRACE_S = 20.0  # disconnected this long: the session has ended (a reload reconnects sooner)
REAP_EVERY_S = 5.0
WAIT_POLL_S = 1.0  # a page waiting for a work slot checks this often whether its run was stopped
DEFAULTS = {
    "COLOURISE_APP_MAX_JOBS": 2,  # colourisations at once, server-wide
    "COLOURISE_APP_MAX_TRAININGS": 1,  # trainings at once, server-wide
    "COLOURISE_APP_SESSION_QUOTA_MB": 500,  # disk per session (uploads + runs)
    "COLOURISE_APP_TOTAL_QUOTA_MB": 5000,  # disk for all sessions
    "COLOURISE_APP_MAX_EPOCHS": 1000,  # training epochs per session in total (two 500-epoch runs); 0: no limit
    "COLOURISE_APP_MAX_AGE_H": 24,  # session folders older than this are removed on start-up
}


def setting(name: str) -> int:
    """An integer setting from the environment, or its default."""
    try:
        return int(float(os.environ.get(name) or DEFAULTS[name]))
    except ValueError:
        return DEFAULTS[name]


class QuotaError(Exception):
    """A session asked for more than a public deployment allows (the message says what)."""


@dataclass
class Session:
    """What the server holds for one browser session."""

    id: str
    streamlit_id: str | None = None
    store: dict = field(default_factory=dict)  # memo name -> OrderedDict of results
    jobs: list = field(default_factory=list)  # TrainingJob objects started by this session
    epochs_used: int = 0
    disconnected_since: float | None = None

    @property
    def folder(self) -> Path:
        return paths.session_dir(self.id)


_lock = threading.Lock()
_sessions: dict[str, Session] = {}
_slots: dict[str, threading.BoundedSemaphore] = {}
_reaper: threading.Thread | None = None
_swept = False


class _Guard:
    """Kept in st.session_state; its finalizer ends the session when the state is dropped."""


def _streamlit_session_id() -> str | None:
    """The Streamlit session id of the running script, or None outside a server/AppTest run."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return ctx.session_id if ctx is not None else None


def _connected(streamlit_id: str) -> bool | None:
    """Whether Streamlit still lists the session as connected; None where there is no runtime."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    return Runtime.instance().is_active_session(streamlit_id)


def _release(streamlit_id: str) -> None:
    """Make Streamlit drop a disconnected session now rather than after its 2-minute reconnect
    window: its session state, uploaded files, media and fragments (which hold the page's
    full-size arrays) are freed. `Runtime.clear_user_info_for_session` is the runtime's one
    thread-safe way to close a stored session (it marks it non-resumable and closes it on the
    event loop); a session that is connected again is left alone by it."""
    from streamlit.runtime import Runtime

    if Runtime.exists():
        Runtime.instance().clear_user_info_for_session(streamlit_id)


def current() -> Session:
    """This browser session's record (created, and its end hooked, on first use)."""
    state = st.session_state
    if paths.SESSION_KEY not in state:
        state[paths.SESSION_KEY] = paths.new_session_id()
    sid = state[paths.SESSION_KEY]
    with _lock:
        session = _sessions.get(sid)
        if session is None:
            session = _sessions[sid] = Session(sid)
    if GUARD_KEY not in state:
        guard = _Guard()
        weakref.finalize(guard, end_session, sid)
        state[GUARD_KEY] = guard
    session.streamlit_id = _streamlit_session_id() or session.streamlit_id
    session.disconnected_since = None
    _start_background()
    return session


def end_session(sid: str) -> None:
    """Stop the session's training, drop its results and remove its folder (idempotent)."""
    with _lock:
        session = _sessions.pop(sid, None)
    jobs = session.jobs if session else []
    if session:
        session.store.clear()
    for job in jobs:
        job.stop()

    def remove() -> None:
        for job in jobs:
            job.thread.join(timeout=600)
        try:
            shutil.rmtree(paths.session_dir(sid), ignore_errors=True)
        except ValueError:
            pass

    if any(job.thread.is_alive() for job in jobs):
        threading.Thread(target=remove, name=f"end-{sid[:8]}", daemon=True).start()
    else:
        remove()


def reap_once(now: float | None = None) -> list[str]:
    """End the sessions Streamlit has listed as disconnected for END_GRACE_S; returns their ids."""
    now = time.monotonic() if now is None else now
    ended = []
    with _lock:
        sessions = list(_sessions.values())
    for session in sessions:
        if session.streamlit_id is None:
            continue
        alive = _connected(session.streamlit_id)
        if alive is None or alive:
            session.disconnected_since = None
            continue
        if session.disconnected_since is None:
            session.disconnected_since = now
        elif now - session.disconnected_since >= END_GRACE_S:
            end_session(session.id)
            _release(session.streamlit_id)
            ended.append(session.id)
    if ended:
        threading.Timer(2.0, _return_memory).start()  # after the event loop has closed them
    return ended


def _return_memory() -> None:
    """Collect, then hand freed heap pages back to the OS (glibc keeps them otherwise)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def sweep_old_folders(max_age_s: float | None = None) -> list[Path]:
    """Remove session folders not touched for max_age_s (default COLOURISE_APP_MAX_AGE_H) that no
    live session owns: those a crash or a restart left behind."""
    max_age_s = setting("COLOURISE_APP_MAX_AGE_H") * 3600 if max_age_s is None else max_age_s
    root = paths.runs_root()
    cutoff = time.time() - max_age_s
    removed = []
    with _lock:
        live = set(_sessions)
    for child in root.iterdir():
        if child.is_dir() and len(child.name) == 32 and child.name not in live and _newest_mtime(child) < cutoff:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def _newest_mtime(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for p in folder.rglob("*"):
        with contextlib.suppress(OSError):
            newest = max(newest, p.stat().st_mtime)
    return newest


def _start_background() -> None:
    """Once per process: sweep old folders, then start the reaper."""
    global _reaper, _swept
    with _lock:
        if not _swept:
            _swept = True
            threading.Thread(target=sweep_old_folders, name="session-sweep", daemon=True).start()
        if _reaper is None or not _reaper.is_alive():
            _reaper = threading.Thread(target=_reap_forever, name="session-reaper", daemon=True)
            _reaper.start()


def _reap_forever() -> None:
    while True:
        time.sleep(REAP_EVERY_S)
        with contextlib.suppress(Exception):  # never let the reaper die
            reap_once()


# ----------------------------------------------------------------------------- limits


def _slot(kind: str) -> threading.BoundedSemaphore:
    with _lock:
        if kind not in _slots:
            name = {"colourise": "COLOURISE_APP_MAX_JOBS", "train": "COLOURISE_APP_MAX_TRAININGS"}[kind]
            _slots[kind] = threading.BoundedSemaphore(max(1, setting(name)))
        return _slots[kind]


_held = threading.local()  # how many work slots this thread holds (0 or 1: a nested request reuses it)


@contextlib.contextmanager
def work_slot(what: str = "colourise"):
    """Hold one of the server's colourisation slots; while none is free, show a waiting note.

    Take it before any model lock (the order everywhere: slot, then lock). A thread that already
    holds one (a page's decode inside its model work) does not wait for a second.
    """
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    sem = _slot("colourise")
    note = None
    if not sem.acquire(blocking=False):
        note = st.empty()
        text = (f"Waiting for a free slot: the server runs {setting('COLOURISE_APP_MAX_JOBS')} colourisations at "
                f"a time, and others are running. Yours ({what}) starts as soon as one finishes.")
        note.info(text, icon=":material/hourglass_top:")
        while not sem.acquire(timeout=WAIT_POLL_S):
            # Drawn again while waiting: Streamlit stops a script run (a rerun, a closed tab) by raising
            # in the script thread at an st call, so a wait nobody needs any more ends here.
            note.info(text, icon=":material/hourglass_top:")
    try:  # from the moment it is held: an exception anywhere (even Streamlit's rerun at note.empty()) frees it
        _held.depth = 1
        if note is not None:
            note.empty()
        yield
    finally:
        _held.depth = 0
        sem.release()


def training_slot(stop: threading.Event, on_wait=None) -> bool:
    """Take a training slot (blocking until one is free or `stop` is set); False if stopped.

    The caller releases it with `release_training_slot()`.
    """
    sem = _slot("train")
    if sem.acquire(blocking=False):
        return True
    if on_wait is not None:
        on_wait()
    while not stop.is_set():
        if sem.acquire(timeout=0.5):
            return True
    return False


def release_training_slot() -> None:
    _slot("train").release()


def folder_bytes(folder: Path) -> int:
    total = 0
    if folder.is_dir():
        for p in folder.rglob("*"):
            with contextlib.suppress(OSError):
                if p.is_file():
                    total += p.stat().st_size
    return total


def check_disk(session: Session, incoming: int = 0) -> None:
    """Raise QuotaError if `incoming` more bytes would pass the session's or the total quota."""
    mine = folder_bytes(session.folder) + incoming
    quota = setting("COLOURISE_APP_SESSION_QUOTA_MB") * 1024**2
    if mine > quota:
        raise QuotaError(f"This session's files would take {mine / 1024**2:.0f} MB, over its quota of "
                         f"{quota / 1024**2:.0f} MB. Download and delete older runs, or use a smaller zip.")
    total = folder_bytes(paths.runs_root()) + incoming
    limit = setting("COLOURISE_APP_TOTAL_QUOTA_MB") * 1024**2
    if total > limit:
        raise QuotaError(f"The server's disk quota for all sessions ({limit / 1024**2:.0f} MB) is full; "
                         "try again later.")


def reserve_epochs(session: Session, epochs: int) -> None:
    """Count `epochs` against the session's limit, or raise QuotaError saying how many are left."""
    limit = setting("COLOURISE_APP_MAX_EPOCHS")
    with _lock:
        if limit and session.epochs_used + epochs > limit:
            left = max(0, limit - session.epochs_used)
            raise QuotaError(f"This deployment allows {limit} training epochs per session; {left} are left. "
                             f"Ask for {left} or fewer, or run `colourise train` on your own machine.")
        session.epochs_used += epochs
