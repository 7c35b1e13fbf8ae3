"""Session lifecycle and server-wide limits of the app (issue 11), with Streamlit's AppTest.

No weights are needed: these tests use the Retrain page's upload and the library-level hooks.
"""

from __future__ import annotations

import gc
import io
import os
import threading
import time
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest   # noqa: E402

from app_fixtures import run_app, set_app_env, shapes_zip  # noqa: E402
from app_support import sessions   # noqa: E402
from test_data_policy import bomb_png, colour_png, no_big_decode  # noqa: E402,F401 - a fixture

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def app_env(monkeypatch, tmp_path):
    """A private runs folder, no weights, no datasets."""
    set_app_env(monkeypatch, tmp_path)




def retrain() -> AppTest:
    at = AppTest.from_function(run_app, default_timeout=180, kwargs={"only": "retrain"}).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _retrain_with_zip(tmp_path) -> AppTest:
    at = retrain()
    at.selectbox(key="retrain_dataset").set_value("Your zip").run()
    data = shapes_zip(tmp_path / "shapes.zip").read_bytes()
    at.file_uploader(key="retrain_zip").set_value(("shapes.zip", data, "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _until(condition, timeout=30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        gc.collect()
        time.sleep(0.1)
    return condition()


def test_session_folder_removed_when_the_apptest_session_ends(tmp_path):
    at = _retrain_with_zip(tmp_path)
    sid = at.session_state["app_session_id"]
    folder = tmp_path / "runs" / sid
    assert (folder / "_uploads" / "shapes.zip").is_file()
    assert sid in sessions._sessions
    other = tmp_path / "runs" / ("f" * 32)  # another live session's folder is left alone
    other.mkdir(parents=True)
    del at
    assert _until(lambda: not folder.exists())
    assert sid not in sessions._sessions and other.is_dir()


def test_disconnected_session_ended_by_the_reaper(tmp_path, monkeypatch):
    at = _retrain_with_zip(tmp_path)
    sid = at.session_state["app_session_id"]
    folder = tmp_path / "runs" / sid
    session = sessions._sessions[sid]
    session.store["compare"] = {"key": b"x" * 1000}
    session.streamlit_id = "streamlit-session-1"
    connected = {"streamlit-session-1": True}
    monkeypatch.setattr(sessions, "_connected", lambda streamlit_id: connected[streamlit_id])
    assert sessions.reap_once(now=100.0) == [] and folder.is_dir()
    connected["streamlit-session-1"] = False  # the tab closed
    assert sessions.reap_once(now=101.0) == [] and folder.is_dir()  # a reconnect may still come
    assert sessions.reap_once(now=101.0 + sessions.END_GRACE_S) == [sid]
    assert not folder.exists() and session.store == {} and sid not in sessions._sessions


def test_old_leftover_folders_swept_by_age(tmp_path):
    root = tmp_path / "runs"
    old, new = root / ("a" * 32), root / ("b" * 32)
    for f in (old, new):
        (f / "run").mkdir(parents=True)
        (f / "run" / "model.weights.h5").write_bytes(b"w")
    past = time.time() - 3 * 86400
    for p in (old, old / "run", old / "run" / "model.weights.h5"):
        os.utime(p, (past, past))
    removed = sessions.sweep_old_folders(max_age_s=86400)
    assert removed == [old] and not old.exists() and new.is_dir()


def test_epoch_limit_per_session(tmp_path, monkeypatch):
    monkeypatch.setenv("COLOURISE_APP_MAX_EPOCHS", "3")
    at = retrain()
    at.number_input(key="retrain_epochs").set_value(5)
    at.button(key="retrain_start").click().run()
    assert any("allows 3 training epochs per session; 3 are left" in e.value for e in at.error)
    assert "retrain_job" not in at.session_state


def test_upload_over_the_session_quota_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("COLOURISE_APP_SESSION_QUOTA_MB", "0")
    at = _retrain_with_zip(tmp_path)
    assert any("This zip cannot be used: This session's files would take" in e.value and "quota" in e.value
               for e in at.error)
    sid = at.session_state["app_session_id"]
    assert not (tmp_path / "runs" / sid / "_uploads" / "shapes.zip").exists()


def test_work_slots_limit_concurrent_colourisations(monkeypatch):
    monkeypatch.setenv("COLOURISE_APP_MAX_JOBS", "1")
    monkeypatch.setattr(sessions, "_slots", {})
    started, done = threading.Event(), threading.Event()

    def work():
        started.set()
        with sessions.work_slot("test"):
            done.set()

    with sessions.work_slot("holder"):
        thread = threading.Thread(target=work)
        thread.start()
        assert started.wait(10)
        assert not done.wait(0.5)  # the one slot is held: the second waits
    assert done.wait(10)  # released: it runs
    thread.join(10)


def test_bomb_zip_refused_on_retrain_upload(tmp_path, no_big_decode):

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"train/things/big{i}.png", bomb_png())
        zf.writestr("train/things/ok.png", colour_png(0))
    at = retrain()
    at.selectbox(key="retrain_dataset").set_value("Your zip").run()
    at.file_uploader(key="retrain_zip").set_value(("bombs.zip", buffer.getvalue(), "application/zip"))
    at.run()
    assert any("This zip cannot be used" in e.value and "3 of 4 images examined cannot be used" in e.value
               and "big0.png is too large to decode safely: 169,000,000 pixels" in e.value for e in at.error)
    assert at.button(key="retrain_start").disabled
