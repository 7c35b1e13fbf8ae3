"""Every page's model work and photo decoding run inside the server-wide work slots (issue 11).

AppTest on the tiny, really trained weights of tests/app_fixtures.py. A spy on the library calls
the pages make records whether the calling thread held a work slot at that moment; a slot held by
"another session" (a semaphore that never frees) makes the page show its waiting note.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_fixtures import colour_png, make_tiny_weights, run_app, set_app_env  # noqa: E402
from app_support import sessions  # noqa: E402
from app_support import ill_posed  # noqa: E402
from colourise_core import diversity, imageio, inference  # noqa: E402

TIMEOUT = 180


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    return make_tiny_weights(tmp_path_factory.getbasetemp() / "tiny_weights")


@pytest.fixture(autouse=True)
def app_env(monkeypatch, tmp_path, tiny_weights):
    set_app_env(monkeypatch, tmp_path, tiny_weights)
    monkeypatch.setattr(sessions, "_slots", {})  # fresh slots (the default: 2 colourisations)


@pytest.fixture
def in_slot(monkeypatch) -> dict:
    """{function name: [held a slot?, ...]} for the library calls the pages make."""
    calls: dict[str, list[bool]] = {}

    def spy(module, name):
        real = getattr(module, name)

        def wrapper(*a, **k):
            calls.setdefault(name, []).append(getattr(sessions._held, "depth", 0) > 0)
            return real(*a, **k)

        monkeypatch.setattr(module, name, wrapper)

    for module, name in ((inference, "colourise_image"), (inference, "colourise_each"), (diversity, "temperature_curve"),
                         (ill_posed, "hints_curves"), (ill_posed, "hinted"), (imageio, "load_rgb")):
        spy(module, name)
    return calls


class HeldElsewhere:
    """The server's only work slot, held by another session: a page's request waits (here it gives
    up at once, so the test can look at what the page showed while waiting)."""

    def __init__(self):
        self.waited = 0

    def acquire(self, blocking=True, timeout=None):
        if not blocking:
            return False
        self.waited += 1
        raise TimeoutError("the slot is held by another session")

    def release(self):
        raise AssertionError("released a slot it never had")


def start(page: str) -> AppTest:
    at = AppTest.from_function(run_app, default_timeout=TIMEOUT, kwargs={"only": page}).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def waiting_notes(at: AppTest) -> list[str]:
    return [i.value for i in at.info if i.value.startswith("Waiting for a free slot")]


def test_diversity_work_and_decoding_run_in_slots(in_slot):
    start("diversity")
    assert in_slot["load_rgb"] and all(in_slot["load_rgb"])  # the sample photo's decode
    assert in_slot["colourise_image"] and all(in_slot["colourise_image"])  # the samples and the mean
    assert in_slot["temperature_curve"] and all(in_slot["temperature_curve"])


def test_ill_posed_live_demo_and_hints_curve_run_in_slots(in_slot):
    start("ill_posed")
    assert len(in_slot["colourise_image"]) == 3 and all(in_slot["colourise_image"])  # CNN, CGAN, CVAE
    assert in_slot["hints_curves"] == [True] and in_slot["hinted"] and all(in_slot["hinted"])  # part 5
    assert all(in_slot["load_rgb"])


def test_compare_decode_and_models_run_in_slots(in_slot):
    at = start("compare")
    at.radio(key="compare_source").set_value("Upload").run()
    at.file_uploader(key="compare_upload").set_value(("c.png", colour_png((40, 60)), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert in_slot["load_rgb"] and all(in_slot["load_rgb"])
    assert in_slot["colourise_each"] and all(in_slot["colourise_each"])


def test_with_the_slot_held_diversity_shows_the_waiting_note_and_does_no_work(in_slot, monkeypatch):
    at = start("diversity")
    drawn = len(in_slot["colourise_image"])
    held = HeldElsewhere()
    monkeypatch.setattr(sessions, "_slots", {"colourise": held})
    at.slider(key="div_temperature").set_value(1.5).run()  # new samples: model work
    assert held.waited == 1
    notes = waiting_notes(at)
    assert len(notes) == 1 and "Yours (the CVAE) starts as soon as one finishes" in notes[0], notes
    assert len(in_slot["colourise_image"]) == drawn  # nothing ran while it waited


def test_with_the_slot_held_a_new_upload_waits_before_decoding(in_slot, monkeypatch):
    at = start("compare")
    at.radio(key="compare_source").set_value("Upload").run()
    decoded = len(in_slot["load_rgb"])
    monkeypatch.setattr(sessions, "_slots", {"colourise": HeldElsewhere()})
    at.file_uploader(key="compare_upload").set_value(("c.png", colour_png((40, 60)), "image/png")).run()
    notes = waiting_notes(at)
    assert len(notes) == 1 and "(decoding the photo)" in notes[0], notes
    assert len(in_slot["load_rgb"]) == decoded  # not decoded before a slot was free


def test_a_thread_holding_a_slot_does_not_wait_for_a_second(monkeypatch):
    """A decode inside a page's model work (nested slots) must not deadlock with one slot."""
    monkeypatch.setenv("COLOURISE_APP_MAX_JOBS", "1")
    with sessions.work_slot("outer"):
        with sessions.work_slot("inner"):
            assert sessions._held.depth == 2
        assert sessions._held.depth == 1
    assert sessions._held.depth == 0
    sem = sessions._slot("colourise")
    assert sem.acquire(blocking=False)  # released: free again
    sem.release()


class Rerun(Exception):
    """What Streamlit raises in a script thread at an st call when the run is to stop or rerun."""


def test_a_rerun_right_after_the_wait_does_not_leak_the_slot(monkeypatch):
    """The bug that stalled 8 x 24 MP sessions: the slot was acquired, then Streamlit's rerun was
    raised at note.empty() before the try, and the slot was never given back."""
    import threading

    monkeypatch.setenv("COLOURISE_APP_MAX_JOBS", "1")
    monkeypatch.setattr(sessions, "WAIT_POLL_S", 0.05)

    class Note:
        def info(self, *a, **k):
            pass

        def empty(self):
            raise Rerun()

    monkeypatch.setattr(sessions.st, "empty", lambda: Note())
    sem = sessions._slot("colourise")
    assert sem.acquire(blocking=False)  # another session holds the only slot
    threading.Timer(0.3, sem.release).start()
    with pytest.raises(Rerun):
        with sessions.work_slot("the models"):
            pytest.fail("the body must not run")
    assert sem.acquire(blocking=False), "the slot leaked"
    sem.release()


def test_a_rerun_while_waiting_ends_the_wait_without_taking_a_slot(monkeypatch):
    monkeypatch.setenv("COLOURISE_APP_MAX_JOBS", "1")
    monkeypatch.setattr(sessions, "WAIT_POLL_S", 0.05)
    drawn = []

    class Note:
        def info(self, *a, **k):
            drawn.append(1)
            if len(drawn) == 3:  # the user moved a slider: Streamlit stops this run at its next st call
                raise Rerun()

        def empty(self):
            pass

    monkeypatch.setattr(sessions.st, "empty", lambda: Note())
    sem = sessions._slot("colourise")
    assert sem.acquire(blocking=False)
    try:
        with pytest.raises(Rerun):
            with sessions.work_slot("the models"):
                pytest.fail("the body must not run")
    finally:
        sem.release()
    assert sem.acquire(blocking=False)  # one slot, free again: the waiter took none
    sem.release()
