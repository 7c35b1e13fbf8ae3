"""Tests of colourise_core.weights: manifest, sha256, run folders, the Hub (real client, loopback server), CLI.

The Hub tests drive the real `huggingface_hub` client against `hub_server.FakeHub`, a threaded
HTTP server on 127.0.0.1 that answers in the Hub's layout. The client reads HF_ENDPOINT,
HF_HUB_CACHE and HF_HUB_OFFLINE at import time into `huggingface_hub.constants`, so in-process
tests set those constants (monkeypatch) and one test runs the CLI in a subprocess with the real
environment variables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from colourise_core import weights as W
from colourise_core.errors import WeightsError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hub_server import FakeHub  # noqa: E402

REPO = "colourise/test-weights"
SET = "tiny"
FILE = f"{SET}/cnn.weights.h5"


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cnn_weights(tmp_path_factory) -> dict:
    """A real 32 px CNN saved by the models package: {"bytes", "sha256", "spec", "model"}."""
    from colourise_core import models

    model = models.build_model("cnn", 32)
    path = tmp_path_factory.mktemp("cnn") / "cnn.weights.h5"
    models.save_weights_atomic(model, path)
    data = path.read_bytes()
    return {"bytes": data, "sha256": hashlib.sha256(data).hexdigest(), "spec": model.spec, "model": model}


def make_manifest(cnn: dict, *, hub: dict | None = None, set_name: str = SET, resolution: int = 32, spec: dict | None = None) -> dict:
    entry = {
        "file": f"{set_name}/cnn.weights.h5", "sha256": cnn["sha256"], "spec": spec or cnn["spec"], "epochs": 3,
        "command": "python -m colourise_core train --model cnn", "commit": "abc123", "train_seconds": 12.5,
        "hardware": "test CPU", "dtype": "float32",
        "metrics": {"split": "val", "n": 10, "uv_mse": 0.0123456, "psnr": 24.5, "colourfulness": 17.25,
                    "baseline": {"uv_mse": 0.02, "psnr": 22.0, "colourfulness": 0.0}},
    }
    manifest = {"format": 1, "sets": {set_name: {"dataset": "shapes", "classes": None, "resolution": resolution, "models": {"cnn": entry}}}}
    if hub is not None:
        manifest["hub"] = hub
    return manifest


def write_weights_dir(folder: Path, manifest: dict, files: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for name, data in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def point_hub_at(monkeypatch, endpoint: str) -> None:
    """What HF_ENDPOINT does at import time, for the already imported client."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")


def go_offline(monkeypatch) -> None:
    """What HF_HUB_OFFLINE=1 does at import time."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def hf_home(tmp_path, monkeypatch) -> Path:
    """An empty, private Hugging Face home (cache, token) in tmp_path; no proxies; our env cleared."""
    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    home = tmp_path / "hf_home"
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_HUB_CACHE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                "http_proxy", "https_proxy", "all_proxy", W.HUB_REPO_ENV, W.HUB_REVISION_ENV, W.WEIGHTS_DIR_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(home / ".agent_harnesses.json"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    _http.close_session()  # a fresh HTTP client, reading the environment above
    yield home
    _http.close_session()


@pytest.fixture
def hub(hf_home, monkeypatch):
    """A running FakeHub that the client points at; stopped after the test."""
    fake = FakeHub().start()
    point_hub_at(monkeypatch, fake.endpoint)
    try:
        yield fake
    finally:
        fake.stop()


def hub_cache(tmp_path: Path) -> Path:
    return tmp_path / "hf_home" / "hub"


def closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------------------------------------
# sha256 and the manifest
# ---------------------------------------------------------------------------------------------
def test_sha256_file_matches_known_digest_in_any_chunk_size(tmp_path):
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2 example
    assert W.sha256_file(path) == expected
    assert W.sha256_file(path, chunk_size=1) == expected


def test_read_manifest_and_hub_location_precedence(tmp_path, cnn_weights, monkeypatch):
    monkeypatch.delenv(W.HUB_REPO_ENV, raising=False)
    monkeypatch.delenv(W.HUB_REVISION_ENV, raising=False)
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights, hub={"repo_id": "me/pinned", "revision": "a" * 40}))
    manifest = W.read_manifest(folder)
    assert manifest["sets"][SET]["models"]["cnn"]["sha256"] == cnn_weights["sha256"]
    assert W.hub_location(manifest) == ("me/pinned", "a" * 40)
    assert W.hub_location(None) == (W.DEFAULT_HUB_REPO, "main")
    monkeypatch.setenv(W.HUB_REPO_ENV, "me/mirror")
    monkeypatch.setenv(W.HUB_REVISION_ENV, "v2")
    assert W.hub_location(manifest) == ("me/mirror", "v2")
    assert W.hub_location(manifest, repo_id="me/arg", revision="r") == ("me/arg", "r")


def test_weights_dir_env_override(tmp_path, monkeypatch):
    if not os.environ.get(W.WEIGHTS_DIR_ENV):
        assert W.WEIGHTS_DIR == Path(W.__file__).resolve().parents[2] / "weights"
    monkeypatch.setenv(W.WEIGHTS_DIR_ENV, str(tmp_path))
    assert W.resolve_weights_dir() == tmp_path
    assert W.resolve_weights_dir(tmp_path / "x") == tmp_path / "x"


def test_manifest_entry_for_unknown_model_is_refused_naming_set_and_model(tmp_path, cnn_weights):
    manifest = make_manifest(cnn_weights)
    manifest["sets"][SET]["models"]["pix2pix"] = dict(manifest["sets"][SET]["models"]["cnn"], file=f"{SET}/p.weights.h5")
    folder = write_weights_dir(tmp_path / "w", manifest)
    with pytest.raises(WeightsError, match=r"set 'tiny' has an entry for unknown model 'pix2pix'.*cnn, cgan, cvae"):
        W.read_manifest(folder)


@pytest.mark.parametrize("mutate, message", [
    (lambda m: m.update(format=2), r"has format 2, but this version .* reads format 1"),
    (lambda m: m["sets"][SET].pop("resolution"), r"set 'tiny' lacks 'resolution'"),
    (lambda m: m["sets"][SET].update(classes="all"), r"'classes' must be null"),
    (lambda m: m["sets"][SET]["models"]["cnn"].update(sha256="ABC"), r"'sha256' must be 64 lowercase hex"),
    (lambda m: m["sets"][SET]["models"]["cnn"].update(file="../evil.weights.h5"), r"'file' '../evil.weights.h5' must not contain"),
    (lambda m: m["sets"][SET]["models"]["cnn"].update(file="tiny/cnn.pkl"), r"must end with .weights.h5"),
    (lambda m: m["sets"][SET]["models"]["cnn"]["spec"].update(model="cgan"), r"spec.model is 'cgan', not 'cnn'"),
    (lambda m: m["sets"][SET].update(resolution=64), r"spec.resolution is 32, but the set's resolution is 64"),
    (lambda m: m["sets"][SET]["models"]["cnn"].update(epochs=-1), r"'epochs' must be a non-negative integer"),
    (lambda m: m.update(hub={"repo_id": "no-owner"}), r"'hub.repo_id' 'no-owner' must look like 'owner/name'"),
])
def test_manifest_schema_violations_are_refused(tmp_path, cnn_weights, mutate, message):
    manifest = json.loads(json.dumps(make_manifest(cnn_weights)))
    mutate(manifest)
    folder = write_weights_dir(tmp_path / "w", manifest)
    with pytest.raises(WeightsError, match=message):
        W.read_manifest(folder)


def test_missing_or_broken_manifest_is_refused(tmp_path):
    with pytest.raises(WeightsError, match=r"no weights manifest at .*manifest.json.*COLOURISE_WEIGHTS_DIR"):
        W.read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": 1, "sets": ')
    with pytest.raises(WeightsError, match=r"cannot be read as JSON"):
        W.read_manifest(tmp_path)


# ---------------------------------------------------------------------------------------------
# Local weights folder and run folders
# ---------------------------------------------------------------------------------------------
def test_load_pretrained_from_weights_dir_gives_the_saved_model(tmp_path, cnn_weights, hf_home):
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights), {FILE: cnn_weights["bytes"]})
    path, spec = W.resolve_weights("cnn", SET, weights_dir=folder)
    assert path == folder / FILE and spec == cnn_weights["spec"]
    model = W.load_pretrained("cnn", SET, weights_dir=folder)
    y = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(model(y, training=False)), np.asarray(cnn_weights["model"](y, training=False)))
    assert model.colourise_name == "cnn" and model.resolution == 32


def test_local_file_with_wrong_hash_is_refused(tmp_path, cnn_weights, hf_home):
    tampered = bytearray(cnn_weights["bytes"])
    tampered[-1] ^= 0xFF
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights), {FILE: bytes(tampered)})
    actual = hashlib.sha256(tampered).hexdigest()
    with pytest.raises(WeightsError) as info:
        W.load_pretrained("cnn", SET, weights_dir=folder)
    msg = str(info.value)
    assert msg.startswith("refused: ") and str(folder / FILE) in msg
    assert f"expected sha256 {cnn_weights['sha256']}" in msg and f"has sha256 {actual}" in msg
    assert "corrupt or tampered with" in msg and f"python -m colourise_core weights download {SET}" in msg


def test_unknown_set_or_model_lists_what_exists(tmp_path, cnn_weights):
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights), {FILE: cnn_weights["bytes"]})
    with pytest.raises(WeightsError, match=r"unknown weights set 'cifar100'; available sets: tiny"):
        W.load_pretrained("cnn", "cifar100", weights_dir=folder)
    with pytest.raises(WeightsError, match=r"weights set 'tiny' has no 'cvae' model; it has: cnn"):
        W.resolve_weights("cvae", SET, weights_dir=folder)


def test_file_for_another_resolution_is_refused_on_load(tmp_path, cnn_weights):
    from colourise_core import models

    spec64 = models.make_spec("cnn", models.default_config("cnn", 64))
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights, resolution=64, spec=spec64), {FILE: cnn_weights["bytes"]})
    with pytest.raises(WeightsError, match=r"holds weights for cnn at 32 px, but the model to load is cnn at 64 px"):
        W.load_pretrained("cnn", SET, weights_dir=folder)


def test_run_folder_loads_and_must_hold_the_requested_model(tmp_path, cnn_weights):
    run = tmp_path / "runs" / "cnn-1"
    run.mkdir(parents=True)
    (run / "model.weights.h5").write_bytes(cnn_weights["bytes"])
    (run / "spec.json").write_text(json.dumps(cnn_weights["spec"]))
    path, spec = W.resolve_weights("cnn", str(run))
    assert path == run / "model.weights.h5" and spec == cnn_weights["spec"]
    assert W.resolve_weights("cnn", run / "model.weights.h5")[0] == run / "model.weights.h5"
    with pytest.raises(WeightsError, match=r"holds a 'cnn' model, not 'cgan'"):
        W.load_pretrained("cgan", str(run))
    (run / "spec.json").unlink()
    with pytest.raises(WeightsError, match=r"not a training run folder: it has no spec.json"):
        W.resolve_weights("cnn", str(run))
    with pytest.raises(WeightsError, match=r"there is no run folder"):
        W.resolve_weights("cnn", str(tmp_path / "nowhere"))


# ---------------------------------------------------------------------------------------------
# The Hub, through the real client and the loopback server
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pin", ["commit", "branch"])
def test_download_from_hub_then_offline_from_cache(tmp_path, cnn_weights, hub, monkeypatch, pin):
    commit = hub.commit(REPO, {FILE: cnn_weights["bytes"], "manifest.json": b"{}"})
    revision = commit if pin == "commit" else "main"
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights, hub={"repo_id": REPO, "revision": revision}))

    path, spec = W.resolve_weights("cnn", SET, weights_dir=folder)
    assert hub_cache(tmp_path).resolve() in path.parents
    assert path.name == "cnn.weights.h5" and f"snapshots/{commit}/{FILE}" in path.as_posix()
    assert W.sha256_file(path) == cnn_weights["sha256"] and spec == cnn_weights["spec"]
    assert ("HEAD", f"/{REPO}/resolve/{revision}/{FILE}") in hub.requests
    assert ("GET", f"/cdn/{cnn_weights['sha256']}") in hub.requests  # LFS: redirected to the CDN origin
    assert not (folder / FILE).exists()  # the Hub cache holds it, not the weights folder

    hub.stop()
    go_offline(monkeypatch)
    assert W.resolve_weights("cnn", SET, weights_dir=folder)[0] == path
    if pin == "commit":
        model = W.load_pretrained("cnn", SET, weights_dir=folder)
        y = np.full((1, 32, 32, 1), 0.5, np.float32)
        np.testing.assert_array_equal(np.asarray(model(y)), np.asarray(cnn_weights["model"](y)))


def test_hub_serving_other_bytes_is_refused(tmp_path, cnn_weights, hub):
    hub.commit(REPO, {FILE: cnn_weights["bytes"]})
    evil = bytes(b ^ 0x5A for b in cnn_weights["bytes"])  # same length, other content
    hub.corrupt_cdn(cnn_weights["bytes"], evil)
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights, hub={"repo_id": REPO, "revision": "main"}))
    with pytest.raises(WeightsError) as info:
        W.resolve_weights("cnn", SET, weights_dir=folder)
    msg = str(info.value)
    assert msg.startswith("refused: ") and str(hub_cache(tmp_path)) in msg and FILE in msg
    assert f"expected sha256 {cnn_weights['sha256']}" in msg and hashlib.sha256(evil).hexdigest() in msg
    assert "tampered" in msg and f"weights download {SET}" in msg


def test_altered_cache_file_is_refused_and_download_repairs_it(tmp_path, cnn_weights, hub, monkeypatch):
    hub.commit(REPO, {FILE: cnn_weights["bytes"]})
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights, hub={"repo_id": REPO, "revision": "main"}))
    path = W.download([SET], weights_dir=folder)[SET]["cnn"]
    blob = Path(os.path.realpath(path))
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(WeightsError, match=r"^refused: .*does not match the manifest"):
        W.resolve_weights("cnn", SET, weights_dir=folder)
    repaired = W.download([SET], weights_dir=folder)[SET]["cnn"]  # fetched again because the cached copy is bad
    assert W.sha256_file(repaired) == cnn_weights["sha256"]
    assert W.resolve_weights("cnn", SET, weights_dir=folder)[0] == repaired


def _hub_error(tmp_path, cnn_weights, hub_block) -> str:
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights, hub=hub_block))
    with pytest.raises(WeightsError) as info:
        W.load_pretrained("cnn", SET, weights_dir=folder)
    msg = str(info.value)
    assert msg.startswith(f"cannot get the 'cnn' weights of set '{SET}'") and str(folder / FILE) in msg and FILE in msg
    return msg


def test_repo_that_does_not_exist(tmp_path, cnn_weights, hub):
    msg = _hub_error(tmp_path, cnn_weights, {"repo_id": "colourise/missing", "revision": "main"})
    assert "the Hub has no repo 'colourise/missing'" in msg and f"{hub.endpoint}/colourise/missing revision main" in msg
    assert W.HUB_REPO_ENV in msg


def test_revision_that_does_not_exist(tmp_path, cnn_weights, hub):
    hub.commit(REPO, {FILE: cnn_weights["bytes"]})
    msg = _hub_error(tmp_path, cnn_weights, {"repo_id": REPO, "revision": "v9"})
    assert f"the Hub repo '{REPO}' has no revision 'v9'" in msg and W.HUB_REVISION_ENV in msg


def test_file_missing_from_the_repo(tmp_path, cnn_weights, hub):
    hub.commit(REPO, {"README.md": b"# weights\n"})
    msg = _hub_error(tmp_path, cnn_weights, {"repo_id": REPO, "revision": "main"})
    assert f"has no file '{FILE}'" in msg and "weights publish" in msg


def test_unreachable_hub_without_cache(tmp_path, cnn_weights, hf_home, monkeypatch):
    from huggingface_hub.utils import _http

    endpoint = closed_port_endpoint()
    point_hub_at(monkeypatch, endpoint)
    slept: list[float] = []
    monkeypatch.setattr(_http, "time", types.SimpleNamespace(sleep=slept.append))  # skip the client's ~23 s of backoff
    msg = _hub_error(tmp_path, cnn_weights, {"repo_id": REPO, "revision": "main"})
    assert f"the Hub at {endpoint} could not be reached" in msg and f"{endpoint}/{REPO} revision main" in msg
    assert str(hub_cache(tmp_path)) in msg and f"weights download {SET}" in msg
    assert slept  # the client did retry before giving up


def test_offline_without_cache(tmp_path, cnn_weights, hub, monkeypatch):
    hub.commit(REPO, {FILE: cnn_weights["bytes"]})
    go_offline(monkeypatch)
    msg = _hub_error(tmp_path, cnn_weights, {"repo_id": REPO, "revision": "main"})
    assert "offline mode is on (HF_HUB_OFFLINE)" in msg
    assert not any(path.startswith(f"/{REPO}") for _, path in hub.requests)


def test_cli_download_through_hf_endpoint_env_in_a_subprocess(tmp_path, cnn_weights, hub):
    """The real environment variables: HF_ENDPOINT and HF_HOME are read by a fresh client."""
    commit = hub.commit(REPO, {FILE: cnn_weights["bytes"]})
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights, hub={"repo_id": REPO, "revision": commit}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "COLOURISE_"))}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "sub_home"), HF_HUB_DISABLE_TELEMETRY="1",
               NO_PROXY="127.0.0.1", PYTHONPATH=str(Path(W.__file__).resolve().parents[2]), TF_CPP_MIN_LOG_LEVEL="3")
    code = ("import argparse, sys; from colourise_core import weights; p = argparse.ArgumentParser(); "
            "weights.register_cli(p.add_subparsers()); a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")
    out = subprocess.run([sys.executable, "-c", code, "weights", "download", SET, "--weights-dir", str(folder)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"{SET}/cnn: {tmp_path / 'sub_home' / 'hub'}" in out.stdout and "sha256 verified" in out.stdout
    assert ("HEAD", f"/{REPO}/resolve/{commit}/{FILE}") in hub.requests


# ---------------------------------------------------------------------------------------------
# verify, publish, CLI
# ---------------------------------------------------------------------------------------------
def test_verify_finds_size_hash_missing_and_stray_files(tmp_path, cnn_weights):
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights), {FILE: cnn_weights["bytes"]})
    assert W.verify(folder) == []
    assert W.verify(folder, load=True) == []
    size = len(cnn_weights["bytes"])
    (problem,) = W.verify(folder, max_file_bytes=size - 1)
    assert FILE in problem and f"{size:,} bytes, over the limit of {size - 1:,} bytes per file" in problem
    (problem,) = W.verify(folder, max_total_bytes=size)
    assert "in total" in problem
    (folder / "old.weights.h5").write_bytes(b"stale")
    (problem,) = W.verify(folder)
    assert "old.weights.h5 is not in the manifest" in problem
    (folder / "old.weights.h5").unlink()
    (folder / FILE).write_bytes(cnn_weights["bytes"][:-1] + b"!")
    (problem,) = W.verify(folder)
    assert f"but the manifest says {cnn_weights['sha256']}" in problem
    (folder / FILE).unlink()
    (problem,) = W.verify(folder)
    assert "is missing" in problem
    (folder / "manifest.json").write_text("[]")
    (problem,) = W.verify(folder)
    assert "top level must be a JSON object" in problem


def test_publish_round_trip_through_the_hub_api(tmp_path, cnn_weights, hf_home, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # the loopback Hub speaks the plain commit API
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights), {FILE: cnn_weights["bytes"], "README.md": b"# Weights\n"})
    with FakeHub(token="hf_write") as fake:
        point_hub_at(monkeypatch, fake.endpoint)
        with pytest.raises(WeightsError, match=r"could not publish .* Check that the token"):
            W.publish(REPO, token="hf_wrong", weights_dir=folder)
        commit = W.publish(REPO, token="hf_write", weights_dir=folder)
        uploaded = fake.files(REPO, commit)
        assert uploaded[FILE] == cnn_weights["bytes"] and uploaded["README.md"] == b"# Weights\n"
        assert json.loads(uploaded["manifest.json"])["sets"] == make_manifest(cnn_weights)["sets"]
        assert W.read_manifest(folder)["hub"] == {"repo_id": REPO, "revision": commit}  # pinned
        branch_commit = W.publish(REPO, token="hf_write", revision="v1", weights_dir=folder, pin=False)
        assert fake.resolve(REPO, "v1") == branch_commit and fake.files(REPO, "v1")[FILE] == cnn_weights["bytes"]
        assert W.read_manifest(folder)["hub"]["revision"] == commit  # pin=False left it alone
        (folder / FILE).unlink()
        path, _ = W.resolve_weights("cnn", SET, weights_dir=folder)  # now from the Hub, at the pinned commit
        assert f"snapshots/{commit}/" in path.as_posix() and W.sha256_file(path) == cnn_weights["sha256"]
        before = len(fake.requests)
        with pytest.raises(WeightsError, match=r"(?s)refusing to publish .* is missing"):
            W.publish(REPO, token="hf_write", weights_dir=folder)
        assert len(fake.requests) == before  # refused before any network call


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="colourise_core")
    W.register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_list_verify_and_errors(tmp_path, cnn_weights, hf_home, capsys):
    folder = write_weights_dir(tmp_path / "w", make_manifest(cnn_weights, hub={"repo_id": REPO, "revision": "main"}),
                               {FILE: cnn_weights["bytes"]})
    assert _cli(["weights", "list", "--weights-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[:2]
    assert header.split()[:5] == ["set", "dataset", "classes", "res", "model"]
    assert row.split() == ["tiny", "shapes", "all", "32", "cnn", "3", "0.01235", "24.5", "17.25", "22", "1.0", "local"]
    assert f"Hub: {REPO} at main" in out

    assert _cli(["weights", "verify", "--weights-dir", str(folder)]) == 0
    assert "OK: 1 weight files" in capsys.readouterr().out
    (folder / FILE).write_bytes(b"not weights")
    assert _cli(["weights", "verify", "--weights-dir", str(folder)]) == 1
    assert "1 problem(s)" in capsys.readouterr().err

    assert _cli(["weights", "download", "nope", "--weights-dir", str(folder)]) == 2
    assert "error: unknown weights set 'nope'; available sets: tiny" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli(["weights", "publish", "--weights-dir", str(folder)])  # --repo-id is required
