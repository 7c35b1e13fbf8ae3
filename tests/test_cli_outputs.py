"""The `colourise` command never loses an output and never shows a traceback (issue 11).

Real files, real tiny models (conftest's tiny_runs) and, where the exit path matters, a real
subprocess.
"""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colourise_core import cli, outputs

REPO = Path(__file__).resolve().parents[1]


def _photo(path: Path, seed: int, size=(40, 30)) -> Path:
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def _grey(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), np.int16)


def _run(*args, env=None):
    """The CLI as a user runs it: a subprocess; returns (returncode, stderr)."""
    done = subprocess.run([sys.executable, "-m", "colourise_core", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})
    return done.returncode, done.stderr


def test_plan_names_unique_and_stable():
    names = outputs.plan_names(["a/photo.jpg", "b/photo.jpg", "img.webp", "img.tiff", "IMG.webp.png", "solo.png"])
    assert names == ["photo.jpg", "photo.jpg-2", "img.webp", "img.tiff", "IMG.webp-2", "solo"]
    assert len({n.casefold() for n in names}) == len(names)


def test_colliding_stems_give_distinct_files_and_a_name_map(tiny_runs, tmp_path, capsys):
    a = _photo(tmp_path / "a" / "photo.jpg", 1)
    b = _photo(tmp_path / "b" / "photo.jpg", 2, size=(30, 40))
    webp = _photo(tmp_path / "img.webp", 3)
    tiff = _photo(tmp_path / "img.tiff", 4, size=(20, 50))
    out = tmp_path / "out"
    code = cli.main(["colourise", str(a), str(b), str(webp), str(tiff), "--weights", str(tiny_runs["cnn"]),
                     "--out", str(out)])
    assert code == 0
    mapping = json.loads((out / outputs.NAME_MAP).read_text())
    assert mapping == {"photo.jpg.cnn.png": str(a), "photo.jpg-2.cnn.png": str(b),
                       "img.webp.cnn.png": str(webp), "img.tiff.cnn.png": str(tiff)}
    assert sorted(p.name for p in out.iterdir()) == sorted([*mapping, outputs.NAME_MAP])
    for name, src in mapping.items():  # each output is its own input's colourisation (same luma)
        assert Image.open(out / name).size == Image.open(src).size
        assert np.abs(_grey(out / name) - _grey(src)).max() <= 2


def test_existing_outputs_are_kept_unless_overwrite(tiny_runs, tmp_path, capsys):
    photo = _photo(tmp_path / "photo.png", 5)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "photo.cnn.png"
    target.write_bytes(b"precious")
    code = cli.main(["colourise", str(photo), "--weights", str(tiny_runs["cnn"]), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"not overwriting {target}" in err and "--overwrite" in err
    assert target.read_bytes() == b"precious"

    code = cli.main(["colourise", str(photo), "--weights", str(tiny_runs["cnn"]), "--out", str(out), "--skip-existing"])
    captured = capsys.readouterr()
    assert code == 0 and "skipped" in captured.err and str(target) not in captured.out
    assert target.read_bytes() == b"precious"

    code = cli.main(["colourise", str(photo), "--weights", str(tiny_runs["cnn"]), "--out", str(out), "--overwrite"])
    assert code == 0
    assert Image.open(target).size == (40, 30)


def test_skip_existing_resumes_a_batch(tiny_runs, tmp_path, capsys):
    first, second = _photo(tmp_path / "one.png", 6), _photo(tmp_path / "two.png", 7)
    out = tmp_path / "out"
    assert cli.main(["colourise", str(first), "--weights", str(tiny_runs["cnn"]), "--out", str(out)]) == 0
    before = (out / "one.cnn.png").stat().st_mtime_ns
    capsys.readouterr()
    code = cli.main(["colourise", str(first), str(second), "--weights", str(tiny_runs["cnn"]), "--out", str(out),
                     "--skip-existing"])
    printed = capsys.readouterr().out.split()
    assert code == 0 and printed == [str(out / "two.cnn.png")]
    assert (out / "one.cnn.png").stat().st_mtime_ns == before
    assert json.loads((out / outputs.NAME_MAP).read_text()) == {"one.cnn.png": str(first), "two.cnn.png": str(second)}


def test_a_folder_stands_for_the_images_in_it(tmp_path):
    folder = tmp_path / "old photos"
    for name in ("b.jpg", "A.PNG", "c.webp", "a.cnn.png"):
        _photo(folder / name, 8)
    for name in (".hidden.png", "notes.txt", "sub/d.png"):
        _photo(folder / name, 9) if name.endswith(".png") else (folder / name).write_text("x")
    (folder / outputs.NAME_MAP).write_text(json.dumps({"a.cnn.png": str(folder / "A.PNG")}))  # an earlier run's output
    given = ["first.jpg", str(folder), "missing.png"]
    assert outputs.expand_folders(given) == ["first.jpg", str(folder / "A.PNG"), str(folder / "b.jpg"),
                                              str(folder / "c.webp"), "missing.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(cli.ColouriseError, match=r"folder .*empty holds no image file \(looked for \.jpg .*sub-folders"):
        outputs.expand_folders([str(folder), str(tmp_path / "empty")])


def test_colourise_a_folder_into_itself_then_again(tiny_runs, tmp_path, capsys):
    folder = tmp_path / "scans"
    one, two = _photo(folder / "one.png", 10), _photo(folder / "two.jpg", 11, size=(30, 40))
    assert cli.main([str(folder), "--weights", str(tiny_runs["cnn"]), "--out", str(folder)]) == 0  # the short form
    assert capsys.readouterr().out.split() == [str(folder / "one.cnn.png"), str(folder / "two.cnn.png")]
    assert json.loads((folder / outputs.NAME_MAP).read_text()) == {"one.cnn.png": str(one), "two.cnn.png": str(two)}
    for out, src in ((folder / "one.cnn.png", one), (folder / "two.cnn.png", two)):
        assert Image.open(out).size == Image.open(src).size and np.abs(_grey(out) - _grey(src)).max() <= 2
    # Again with --skip-existing: its own outputs are not taken for inputs (no one.cnn.cnn.png)
    assert cli.main([str(folder), "--weights", str(tiny_runs["cnn"]), "--out", str(folder), "--skip-existing"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(["one.png", "two.jpg", "one.cnn.png", "two.cnn.png",
                                                               outputs.NAME_MAP])
    capsys.readouterr()
    (tmp_path / "nothing").mkdir()
    assert cli.main(["colourise", str(tmp_path / "nothing"), "--weights", str(tiny_runs["cnn"]),
                     "--out", str(tmp_path / "o")]) == 2
    assert "holds no image file" in capsys.readouterr().err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("option, value, expected", [
    ("--samples", "0", "0 is out of range 1..64"),
    ("--samples", "200", "200 is out of range 1..64"),
    ("--render-size", "-5", "-5 is out of range 32..4096"),
    ("--render-size", "30000", "30000 is out of range 32..4096"),
    ("--temperature", "nan", "nan is not a finite number"),
    ("--temperature", "-1", "-1 is out of range 0..100"),
    ("--seed", "-1", "-1 is out of range 0..4294967295"),
    ("--samples", "two", "expected a whole number, got 'two'"),
])
def test_out_of_range_options_refused(tmp_path, capsys, option, value, expected):
    with pytest.raises(SystemExit) as stop:
        cli.main(["colourise", "x.png", option, value, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert f"argument {option}: {expected}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_help_shows_ranges(capsys):
    with pytest.raises(SystemExit):
        cli.main(["colourise", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("1..64", "32..4096", "0..100", "0..4294967295"):
        assert shown in text


def test_samples_bounded_by_memory_for_the_image_size(tiny_runs, tmp_path, capsys, monkeypatch):
    photo = _photo(tmp_path / "big.png", 8, size=(400, 300))  # 400*300*3 bytes = 360 KB per sample
    monkeypatch.setenv(cli.WORK_BUDGET_ENV, str(4 * 400 * 300 * 3))  # room for 4 uint8 samples
    out = tmp_path / "out"
    code = cli.main(["colourise", str(photo), "--model", "cvae", "--weights", str(tiny_runs["cvae"]),
                     "--samples", "10", "--temperature", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "big.png: 10 samples of a 400 x 300 image need" in err and "Use --samples 4 or fewer" in err
    assert [p.name for p in out.iterdir()] == []
    code = cli.main(["colourise", str(photo), "--model", "cvae", "--weights", str(tiny_runs["cvae"]),
                     "--samples", "4", "--temperature", "1", "--out", str(out)])
    assert code == 0 and len(list(out.glob("big.cvae.*.png"))) == 4


def test_out_is_a_file_one_line_no_traceback(tiny_runs, tmp_path):
    photo = _photo(tmp_path / "photo.png", 9)
    blocker = tmp_path / "results"
    blocker.write_text("a file")
    code, err = _run("colourise", photo, "--weights", tiny_runs["cnn"], "--out", blocker)
    assert code == 2, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: --out {blocker} is an existing file, not a folder; choose a folder name"]
    code, err = _run("colourise", photo, "--weights", tiny_runs["cnn"], "--out", blocker / "sub")
    assert code != 0 and "Traceback" not in err and "Not a directory" in err and str(blocker) in err
    assert blocker.read_text() == "a file"


def test_out_not_writable_one_line_no_traceback(tiny_runs, tmp_path):
    photo = _photo(tmp_path / "photo.png", 10)
    if os.geteuid() == 0:  # root ignores mode bits: a kernel-refused folder instead
        target = Path("/sys/colourise-test-out")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        target = locked / "out"
    code, err = _run("colourise", photo, "--weights", tiny_runs["cnn"], "--out", target)
    assert code != 0
    assert "Traceback" not in err
    line = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and str(target.parent) in line[0]
    assert "permission" in line[0].lower() or "not permitted" in line[0].lower()


def test_disk_full_and_memory_error_one_line(tiny_runs, tmp_path, capsys, monkeypatch):
    photo = _photo(tmp_path / "photo.png", 11)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "out" / "photo.cnn.png"))

    monkeypatch.setattr(os, "replace", full)
    code = cli.main(["colourise", str(photo), "--weights", str(tiny_runs["cnn"]), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 4
    assert err.strip().splitlines()[-1] == (f"error: No space left on device: {tmp_path / 'out' / 'photo.cnn.png'} "
                                            "(free some disk space or choose another --out)")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp file left
    monkeypatch.undo()

    from colourise_core import inference

    def oom(*args, **kwargs):
        raise MemoryError("Unable to allocate 53.6 GiB")

    monkeypatch.setattr(inference, "colourise_each", oom)  # the CLI streams the models
    code = cli.main(["colourise", str(photo), "--weights", str(tiny_runs["cnn"]), "--out", str(tmp_path / "out2")])
    err = capsys.readouterr().err
    assert code == 3 and err.strip() == ("error: out of memory; use a smaller --render-size or fewer --samples, "
                                         "or resize the image")


@pytest.mark.parametrize("argv, expected", [
    (["train", "--model", "cnn", "--dataset", "shapes", "--epochs", "0"], "argument --epochs: 0 is out of range 1..100000"),
    (["train", "--model", "cnn", "--dataset", "shapes", "--learning-rate", "nan"], "argument --learning-rate: nan is not a finite number"),
    (["train", "--model", "cnn", "--dataset", "shapes", "--dropout", "1"], "argument --dropout: 1 is out of range [0, 1)"),
    (["evaluate", "--model", "cnn", "--weights", "w", "--dataset", "shapes", "--limit", "-3"], "argument --limit: -3 is out of range >= 1"),
])
def test_train_and_evaluate_numbers_checked(capsys, argv, expected):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2 and expected in capsys.readouterr().err


@pytest.mark.parametrize("model, extra, expected", [
    ("cnn", ["--samples", "3"], "--samples applies to cvae, not to cnn"),
    ("cgan", ["--temperature", "2"], "--temperature applies to cvae, not to cgan"),
    ("cnn", ["--vividness", "0.5"], "--vividness applies to unet, not to cnn"),
    ("cvae", ["--render-size", "64"], "--render-size applies to cnn, cgan, unet, not to cvae"),
    ("cnn", ["--overwrite", "--skip-existing"], "--overwrite replaces existing outputs and --skip-existing keeps them"),
])
def test_options_no_chosen_model_takes_are_refused(tiny_runs, tmp_path, capsys, model, extra, expected):
    """An option the model ignores is an error that says which models take it, not a silent no-op."""
    photo = _photo(tmp_path / "p.png", 1)
    out = tmp_path / "out"
    code = cli.main(["colourise", str(photo), "--model", model, "--weights", str(tiny_runs[model]), "--out", str(out), *extra])
    assert code == 2
    assert expected in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("extra, expected", [
    (["--samples", "4"], "--samples applies to cvae, not to levin"),
    (["--render-size", "64"], "--render-size applies to cnn, cgan, unet, not to levin"),
    (["--vividness", "0.5"], "--vividness applies to unet, not to levin"),
    (["--weights", "nosuch"], "--weights applies to cnn, cgan, cvae, unet, not to levin"),
])
def test_the_classic_methods_refuse_the_models_options(tmp_path, capsys, extra, expected):
    photo = _photo(tmp_path / "p.png", 2)
    (tmp_path / "h.json").write_text('{"points": [{"x": 1, "y": 1, "rgb": [200, 30, 30]}]}')
    out = tmp_path / "out"
    code = cli.main(["colourise", str(photo), "--model", "levin", "--hints", str(tmp_path / "h.json"), "--out", str(out), *extra])
    assert code == 2
    assert expected in capsys.readouterr().err
    assert not out.exists()
    assert cli.main(["colourise", str(photo), "--model", "levin", "--hints", str(tmp_path / "h.json"), "--out", str(out)]) == 0
    assert (out / "p.levin.png").is_file()
