"""app_support.paths: the names and folders the app writes, validated (a session writes only its own folder)."""

import pytest

from app_support import paths


@pytest.mark.parametrize("text,expected", [
    ("my run", "my-run"),
    ("../../etc/passwd", "etc-passwd"),
    ("  .hidden  ", "hidden"),
    ("a/b\\\\c", "a-b-c"),
    ("ünïcødé", "n-c-d"),
    ("run_1.v2-final", "run_1.v2-final"),
    ("", "run"),
    ("....", "run"),
    ("///", "run"),
])
def test_safe_name(text, expected):
    assert paths.safe_name(text) == expected


def test_safe_name_is_short_never_hidden_and_uses_the_fallback():
    assert len(paths.safe_name("x" * 500)) == 64
    assert paths.safe_name("!!!", fallback="cnn") == "cnn"
    for text in (".", "..", ".git", "-.-", "a" * 63 + "."):
        name = paths.safe_name(text)
        assert name and not name.startswith((".", "-")) and not name.endswith((".", "-")) and "/" not in name


def test_session_dir_accepts_only_session_ids(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path))
    sid = paths.new_session_id()
    assert len(sid) == 32 and paths.new_session_id() != sid
    assert paths.session_dir(sid) == tmp_path / sid
    for bad in ("../" + sid[3:], sid.upper(), sid[:-1], sid + "0", "", "..", "0" * 31 + "/", sid[:16] + "." + sid[17:]):
        with pytest.raises(ValueError, match="not a session id"):
            paths.session_dir(bad)


def test_unique_child_never_reuses_a_folder(tmp_path):
    assert paths.unique_child(tmp_path, "run") == tmp_path / "run"
    (tmp_path / "run").mkdir()
    (tmp_path / "run-2").mkdir()
    assert paths.unique_child(tmp_path, "run") == tmp_path / "run-3"


def test_runs_root_falls_back_when_not_writable(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(blocker / "runs"))  # cannot be created
    root = paths.runs_root()
    assert root != blocker / "runs" and root.is_dir() and root.name == "colourise-app-runs"
