"""Every name that a benchmark or script imports from the project exists.

Benchmarks and scripts are not run by the suite (they take minutes), and most import inside
`main()`, so a library refactor that moves a name breaks them silently until someone runs them
(session 9: `benchmarks/classic.py` still imported `reproduce.hardware_info` after it moved to
`colourise_core.hardware`). This walks each file's syntax tree, every `from X import Y` at any
depth, and checks that X imports and has Y, without running the file.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("colourise_core", "app_support", "pages", "reproduce")
FILES = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")])


def project_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of each `from <project module> import names` in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in PROJECT_PACKAGES:
                found.append((node.lineno, node.module, [a.name for a in node.names if a.name != "*"]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT_PACKAGES:
                    found.append((node.lineno, alias.name, []))
    return found


def test_the_walk_sees_imports_inside_functions(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def main():\n    from colourise_core.reproduce import hardware_info\n")
    assert project_imports(f) == [(2, "colourise_core.reproduce", ["hardware_info"])]


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_every_project_name_imported_exists(path):
    missing = []
    for line, module, names in project_imports(path):
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            missing.append(f"line {line}: module {module} ({e})")
            continue
        for name in names:
            if not hasattr(mod, name):
                try:  # a submodule not imported by its package's __init__
                    importlib.import_module(f"{module}.{name}")
                except ImportError:
                    missing.append(f"line {line}: {module} has no {name}")
    assert not missing, f"{path.relative_to(ROOT)}: " + "; ".join(missing)
