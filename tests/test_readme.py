"""The README and docs/ say only what is true: every command they show parses, every script and
flag they name exists, every weight set they list is in the manifest, every link resolves (issue 9)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from colourise_core import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?:bash|sh|shell|console)?\s*$\n(.*?)^```", re.S | re.M)


INLINE = re.compile(r"`((?:python|colourise) [^`]+)`")  # a command in running text
INDENTED = re.compile(r"^    ((?:python|colourise) .*)$", re.M)  # an indented code block's command


def shell_lines(path: Path) -> list[str]:
    """The commands in a Markdown file (shell code blocks, indented blocks, inline code), continuation
    lines joined, comments dropped."""
    text = path.read_text(encoding="utf-8")
    lines = []
    inline = [" ".join(span.split()) for span in INLINE.findall(text)]  # a span may wrap a line
    inline = [span for span in inline if len(span.split()) > 2]  # `colourise train`: a name
    for block in FENCE.findall(text) + INDENTED.findall(text) + inline:
        for line in block.replace("\\\n", " ").splitlines():
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError:  # an unbalanced quote: not a shell line (e.g. JSON)
                continue
            if tokens:
                lines.append(" ".join(shlex.quote(t) for t in tokens))
    return lines


def cli_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every `colourise ...` / `python -m colourise_core ...` line."""
    found = []
    for path in DOCS:
        for line in shell_lines(path):
            tokens = shlex.split(line)
            for prefix in (["colourise"], ["python", "-m", "colourise_core"]):
                if tokens[:len(prefix)] == prefix:
                    argv = [t.strip("[]") for t in tokens[len(prefix):]]  # `[--quick]`: an optional flag
                    if argv and "..." not in argv:
                        found.append((f"{path.name}: {line}", argv))
    return found


COMMANDS = cli_commands()


def test_the_readme_opens_with_the_setup_and_test_commands():
    text = re.sub(r"\A---\n.*?\n---\n", "", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    head = text[:600]  # after the Space's front matter: the title, then the two commands
    assert "pip install -r requirements.txt -e . && streamlit run serve.py" in head
    assert "pip install -r requirements-dev.txt -e . && python -m pytest -q" in head
    for name in ("requirements.txt", "requirements-dev.txt", "app.py"):
        assert (ROOT / name).is_file(), name


def test_the_docs_show_cli_commands():
    subcommands = {cli.parse_args(argv).command for _, argv in COMMANDS if argv[-1] != "--help"}
    assert {"colourise", "train", "evaluate", "weights"} <= subcommands, subcommands


@pytest.mark.parametrize("where,argv", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_every_documented_cli_command_parses(where, argv, capsys):
    """The CLI's own parser accepts each command as written (flags, choices, set names, ranges)."""
    if argv[-1] == "--help":
        with pytest.raises(SystemExit) as stop:
            cli.parse_args(argv)
        assert stop.value.code == 0, where
        return
    try:
        args = cli.parse_args(argv)  # as `colourise` reads it: `colourise IMAGE ...` is the colourise command
    except SystemExit:
        pytest.fail(f"{where}\n{capsys.readouterr().err}")
    weights = getattr(args, "weights", None)
    if weights:
        sets = json.loads((ROOT / "weights" / "manifest.json").read_text())["sets"]
        assert weights in sets, f"{where}: no weight set {weights!r} (have {sorted(sets)})"


def test_documented_scripts_and_their_flags_exist():
    checked = 0
    for path in DOCS:
        for line in shell_lines(path):
            tokens = shlex.split(line)
            if len(tokens) < 2 or tokens[0] != "python" or not re.fullmatch(r"(scripts|benchmarks)/\w+\.py", tokens[1]):
                continue
            script = ROOT / tokens[1]
            assert script.is_file(), f"{path.name}: {line}"
            source = script.read_text(encoding="utf-8")
            for flag in (t.strip("[]").split("=")[0] for t in tokens[2:]):
                if flag.startswith("--"):
                    assert f'"{flag}"' in source, f"{path.name}: {script.name} has no {flag}"
            checked += 1
    assert checked >= 3


def test_the_weights_table_is_the_manifest():
    manifest = json.loads((ROOT / "weights" / "manifest.json").read_text())["sets"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Pretrained weights", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([\w-]+)`", section, re.M)
    assert sorted(listed) == sorted(manifest)
    files = sum(len(s["models"]) for s in manifest.values())
    assert f"{files} weight files in {len(manifest)} sets" in section
    for name in listed:  # the models column says which families the set has
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}`"))
        models = {m.strip().lower().replace("u-net", "unet") for m in row.rsplit("|", 2)[-2].split(",")}
        assert models == set(manifest[name]["models"]), name


def test_relative_links_resolve():
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (path.parent / target).exists(), f"{path.name}: link to {target}"


def test_the_model_card_is_what_the_script_writes_from_the_manifest(tmp_path):
    """weights/README.md (the Hub's model card) is generated: its tables follow the manifest, every set's
    rows included; hand-written "## `set`" sections are kept by the script."""
    import shutil
    import subprocess
    import sys

    for name in ("manifest.json", "README.md"):
        shutil.copy(ROOT / "weights" / name, tmp_path / name)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "model_card.py"), "--weights-dir", str(tmp_path)],
                   check=True, capture_output=True, cwd=ROOT)
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert card == (ROOT / "weights" / "README.md").read_text(encoding="utf-8")
    sets = json.loads((ROOT / "weights" / "manifest.json").read_text())["sets"]
    for name in sets:
        assert f"| `{name}` |" in card, name


def test_the_readme_python_example_runs_and_its_hint_colours_the_photo(tmp_path, monkeypatch):
    """The "From Python" block, run as written on a photo of its name, with the shipped weights."""
    import numpy as np
    from PIL import Image

    block = re.search(r"From Python:\n\n```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S).group(1)
    yy, xx = np.mgrid[0:90, 0:160]
    grey = (60 + xx + yy).astype(np.uint8)  # an old photo: grey, 160 x 90
    Image.fromarray(grey).save(tmp_path / "old_photo.jpg")
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(block, "README.md", "exec"), names)
    assert names["samples"].shape == (8, 90, 160, 3)
    rgb = names["rgb"]  # the last assignment: the U-Net with a red hint at (120, 45)
    assert rgb.shape == (90, 160, 3)
    r, g, b = rgb[45, 120]
    assert r > g + 0.1 and r > b + 0.1  # red where the hint is
