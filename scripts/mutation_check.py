"""Mutation check: deliberate bugs in a copy of the library must each make a test fail.

    python scripts/mutation_check.py [--only NAME...] [--timeout SECONDS] [--keep]

For each mutant, the script copies colourise_core/, tests/ and the app (app.py, app_support/,
pages/) to a fresh temporary folder (the shipped weights/ are linked, read-only), applies the
mutant by exact source-string replacement, and runs only the tests that guard that code, with
`-x` and a time box, against the copy (PYTHONPATH and the working directory point at it). The
mutant is killed when pytest fails; the script prints the test that killed it. Before the
mutants, the same tests run once on the unmutated copy: they must pass, or a "kill" would mean
nothing. The exit status is 0 only when the baseline passes and every mutant is killed.

Each mutation names its target string; when that string is missing or not unique (the code was
refactored), the script stops with an error naming the mutant and the file, so the pattern is
updated deliberately rather than silently skipped. Run after `git merge main` to re-check.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPIED = ("colourise_core", "tests", "app_support", "pages", "app.py", "pyproject.toml")
LINKED = ("weights",)  # large, read-only for the tests: linked, not copied


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    file: str  # relative to the repository root
    old: str  # exact text that must occur exactly once
    new: str
    tests: tuple[str, ...]  # pytest node ids or files, relative to the repository root
    append: str = ""  # text appended to the file after the replacement (e.g. a wrapper)


# The user path: every Keras colourisation (library `colourise`, `colourise_many` for the CLI and
# the app) gets its UV from inference.predict_uv; the mutants wrap it.
_WRAP = """

def predict_uv(*args, **kwargs):  # MUTANT
    return {expr}
"""
GOLDEN_LIBRARY = "tests/test_golden.py::test_library_colours"
MUTANTS = (
    Mutant("uv-swapped", "U and V swapped on the user path (inference.predict_uv returns uv[..., ::-1])",
           "colourise_core/inference.py", "def predict_uv(", "def _unmutated_predict_uv(",
           (GOLDEN_LIBRARY,), append=_WRAP.format(expr="_unmutated_predict_uv(*args, **kwargs)[..., ::-1]")),
    Mutant("uv-negated", "U and V negated on the user path (inference.predict_uv returns -uv)",
           "colourise_core/inference.py", "def predict_uv(", "def _unmutated_predict_uv(",
           (GOLDEN_LIBRARY,), append=_WRAP.format(expr="-_unmutated_predict_uv(*args, **kwargs)")),
    Mutant("merge-off-by-a-channel", "luma/chroma merge takes the Y and U columns of YUV_TO_RGB instead of U and V",
           "colourise_core/colour.py", "CHROMA_TO_RGB = YUV_TO_RGB[:, 1:].T", "CHROMA_TO_RGB = YUV_TO_RGB[:, :2].T",
           ("tests/test_colour.py", GOLDEN_LIBRARY)),
    Mutant("early-stopping-disabled", "the patience is never reached",
           "colourise_core/training.py", 'best["wait"] >= config.early_stopping',
           'best["wait"] >= config.early_stopping + 10**9',
           ("tests/test_training.py::test_early_stopping_stops_before_the_cap",)),
    Mutant("best-ignored", "load_run(best=True) loads the last epoch's weights",
           "colourise_core/run_folder.py", "return self.best_file if best and", "return self.best_file if False and",
           ("tests/test_training.py::test_load_run_best_gives_the_best_epochs_weights",)),
    Mutant("colour-budget-rho-unsquared", "colour_budget's rescaled prediction uses rho^2 where the bound has rho",
           "colourise_core/metrics.py", "1.0 + want * want - 2.0 * want * rho, 1e-10", "1.0 + want * want - 2.0 * want * rho * rho, 1e-10",
           ("tests/test_metrics.py",)),
)


class PatternMissing(RuntimeError):
    pass


def make_copy(root: Path) -> Path:
    """A fresh copy of the library, its tests and the app under `root` (weights linked)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, root / name)
    for name in LINKED:
        (root / name).symlink_to(REPO / name, target_is_directory=True)
    return root


def apply(mutant: Mutant, root: Path) -> None:
    """Apply one mutant to the copy at `root`; PatternMissing when its target is not there exactly once."""
    path = root / mutant.file
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise PatternMissing(f"mutant {mutant.name}: {mutant.file} holds {count} copies of {mutant.old!r} "
                             "(expected exactly 1): the code changed; update the pattern in scripts/mutation_check.py")
    path.write_text(text.replace(mutant.old, mutant.new) + mutant.append)


def run_tests(root: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, str]:
    """('passed' | 'failed' | 'timeout' | 'error', the first failing test or a note)."""
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p", "no:cacheprovider", "-p", "no:warnings", *tests]
    try:
        done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"no verdict within {timeout:.0f} s"
    out = done.stdout + done.stderr
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    if done.returncode == 0:
        return "passed", out.strip().splitlines()[-1] if out.strip() else ""
    if done.returncode == 1 and failed:
        return "failed", failed[0]
    return "error", f"pytest exit {done.returncode}: " + "\n".join(out.strip().splitlines()[-15:])


def _check_colourise_core_is_the_copy(root: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(root)}
    where = subprocess.run([sys.executable, "-c", "import colourise_core; print(colourise_core.__file__)"], cwd=root,
                           env=env, capture_output=True, text=True, timeout=120).stdout.strip()
    if not where.startswith(str(root)):
        raise RuntimeError(f"the copy's colourise_core is not the one imported (got {where!r})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Apply deliberate mutants to a copy of the library; each must be killed.")
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"mutants to run (default all: {', '.join(m.name for m in MUTANTS)})")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per pytest run (default 900)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of the tests on the unmutated copy")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies (their paths are printed)")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    unknown = set(args.only or ()) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"unknown mutant(s): {', '.join(sorted(unknown))}")

    work = Path(tempfile.mkdtemp(prefix="colourise-mutants-"))
    ok = True
    try:
        # Every pattern first: a stale one fails at once, before any test runs.
        for m in chosen:
            apply(m, make_copy(work / f"probe-{m.name}"))
            shutil.rmtree(work / f"probe-{m.name}")
        if not args.no_baseline:
            tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            root = make_copy(work / "baseline")
            _check_colourise_core_is_the_copy(root)
            start = time.monotonic()
            verdict, note = run_tests(root, tests, args.timeout)
            print(f"baseline (unmutated): {verdict} in {time.monotonic() - start:.0f} s: {note}", flush=True)
            if verdict != "passed":
                print("FAIL: the guarding tests do not pass on the unmutated copy; kills would mean nothing")
                return 1
        for m in chosen:
            root = make_copy(work / m.name)
            apply(m, root)
            start = time.monotonic()
            verdict, note = run_tests(root, m.tests, args.timeout)
            killed = verdict == "failed"
            ok &= killed
            status = "KILLED by " + note if killed else f"SURVIVED ({verdict}: {note})"
            print(f"{m.name:26s} {status}  [{time.monotonic() - start:.0f} s; {m.what}]", flush=True)
    except PatternMissing as e:
        print(f"FAIL: {e}")
        return 2
    finally:
        if args.keep:
            print(f"copies kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("mutation check: every mutant killed" if ok else "FAIL: a mutant survived")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
