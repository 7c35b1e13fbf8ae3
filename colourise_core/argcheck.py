"""Argument checks for the command line: numbers checked against a range shown in `--help`, and
options checked against the models they apply to.

Each factory returns an argparse `type=` callable whose error names the accepted range, e.g.
`--samples: 200 is out of range 1..64`. NaN and infinities are refused for every float option.
`check_flags_apply` refuses a `colourise` option that none of the chosen models takes.
"""

from __future__ import annotations

import argparse
import math


def int_in(low: int, high: int | None = None):
    """An int type accepting low..high (high None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range {span(low, high)}")
        return value

    parse.__name__ = "integer"
    return parse


def float_in(low: float, high: float | None = None, low_open: bool = False, high_open: bool = False):
    """A finite float type accepting [low, high] (open ends when asked; high None: no bound)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        below = value <= low if low_open else value < low
        above = high is not None and (value >= high if high_open else value > high)
        if below or above:
            raise argparse.ArgumentTypeError(
                f"{value:g} is out of range {span(low, high, low_open, high_open)}")
        return value

    parse.__name__ = "number"
    return parse


def span(low, high=None, low_open: bool = False, high_open: bool = False) -> str:
    """'1..64', '>= 0', '(0, 1)' style text for help and messages."""
    fmt = lambda x: str(x) if isinstance(x, int) else f"{x:g}"  # noqa: E731 - ints in full
    if high is None:
        return f"> {fmt(low)}" if low_open else f">= {fmt(low)}"
    if not (low_open or high_open):
        return f"{fmt(low)}..{fmt(high)}"
    return f"{'(' if low_open else '['}{fmt(low)}, {fmt(high)}{')' if high_open else ']'}"


def check_flags_apply(args, names) -> None:
    """Refuse a `colourise` option that none of the chosen models takes, rather than ignore it.

    With `--model all` an option is fine when one of the set's models takes it (the others
    ignore it, as their columns say); the classic methods (levin, welsh) take none of these.

    Args:
        args: the parsed `colourise` arguments.
        names: the learned models that will run (empty for levin and welsh).
    Raises:
        ColouriseError naming the option, the models that take it, and what was asked.
    """
    from colourise_core.errors import ColouriseError
    from colourise_core.family_names import FAMILY_NAMES, FIXED_SIZE_FAMILIES, SAMPLING_FAMILIES, VIVIDNESS_FAMILIES

    if args.overwrite and args.skip_existing:
        raise ColouriseError("--overwrite replaces existing outputs and --skip-existing keeps them: give one of them")
    resizable = tuple(n for n in FAMILY_NAMES if n not in FIXED_SIZE_FAMILIES)
    given = (("--samples", args.samples > 1, SAMPLING_FAMILIES),
             ("--temperature", bool(args.temperature), SAMPLING_FAMILIES),
             ("--vividness", args.vividness is not None, VIVIDNESS_FAMILIES),
             ("--render-size", args.render_size is not None, resizable),
             ("--weights", args.weights is not None and not names, FAMILY_NAMES))
    for flag, asked, takers in given:
        if asked and not any(n in takers for n in names):
            raise ColouriseError(f"{flag} applies to {', '.join(takers)}, not to {args.model}")
