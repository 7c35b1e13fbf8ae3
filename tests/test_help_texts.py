"""Every argparse help text formats, so `--help` prints instead of raising.

argparse expands a help string with `%` (`help % {"default": ..., "prog": ...}`), so a bare `%`
in it ("holds 10% back") makes `--help` crash with "unsupported format character" (session 16:
`benchmarks/training_throughput.py --help` did). This walks every `add_argument(..., help=...)`
call in the project's command-line files without running them and formats the literal parts the
way argparse does.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(
    [*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("colourise_core/**/*.py"), ROOT / "serve.py"]
)


def help_texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each help= given to an add_argument/add_parser call; an f-string's literal parts."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in ("add_argument", "add_parser", "ArgumentParser"):
            continue
        for kw in node.keywords:
            if kw.arg != "help":
                continue
            if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                found.append((kw.value.lineno, kw.value.value))
            elif isinstance(kw.value, ast.JoinedStr):  # the literal parts; the values are formatted first
                text = "".join(v.value for v in kw.value.values if isinstance(v, ast.Constant))
                found.append((kw.value.lineno, text))
    return found


def formats(text: str) -> str | None:
    """None when argparse can expand the text, else its error."""
    try:
        text % defaultdict(int, prog="colourise", default=0)
    except (ValueError, TypeError, KeyError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def test_the_check_catches_a_bare_percent():
    assert formats("holds 10% back") is not None
    assert formats("holds 10%% back; default %(default)s") is None


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_help_text_formats(path):
    bad = [f"line {line}: {err} in {text!r}" for line, text in help_texts(path) if (err := formats(text))]
    assert not bad, f"{path.relative_to(ROOT)}: " + "; ".join(bad)


def test_the_walk_finds_help_texts():
    texts = help_texts(ROOT / "benchmarks" / "training_throughput.py")
    assert any("make_datasets holds 10%% back" in t for _, t in texts)
