"""Command-line flags made from a config dataclass's fields, and the config made back from them.

Each field `name: T = default  # comment` becomes `--name` (underscores as dashes) with the
field's type, default and comment as its help, so a new TrainConfig field is a new `train` flag
with nothing to write twice. `bool` fields become switches; `bool | None` fields take yes/no;
`tuple` fields take one or more values.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from typing import Any

_COMMENT = re.compile(r"^\s+(\w+)\s*:[^=\n]*=[^#\n]*#\s*(.+?)\s*$", re.M)


def yes_no(text: str) -> bool:
    """argparse type for yes/no flags (also 1/0, true/false, on/off)."""
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes/no, got {text!r}")


def field_comments(cls: type) -> dict[str, str]:
    """`{field: its trailing comment}` from the class's source (configs comment each default)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # no source (a frozen app): flags without help
        return {}
    return dict(_COMMENT.findall(source))


def _base_type(hint: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed) of a field's annotation."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return hint, False


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, overrides: dict[str, dict] | None = None,
                         skip: set[str] | frozenset[str] = frozenset()) -> None:
    """Add a `--field` option per field of the dataclass `cls`.

    Args:
        parser: the parser (or sub-command parser) to add to.
        cls: a dataclass whose fields have annotations (and, ideally, a comment each).
        overrides: per field, `add_argument` keywords that replace the derived ones (choices,
            required, help, metavar...).
        skip: fields that already have an option (written by hand, with its own checks).
    """
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        base, optional = _base_type(hints[field.name])
        base = typing.get_origin(base) or base
        options: dict[str, Any] = {"default": field.default, "help": comments.get(field.name)}
        if base is bool and not optional:
            options["action"] = "store_true"
        elif base is bool:
            options.update(type=yes_no, metavar="yes|no")
        elif base in (tuple, list):
            options["nargs"] = "+"
        else:
            options["type"] = base
        options.update((overrides or {}).get(field.name, {}))
        if options.get("required"):
            options.pop("default")
        parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, **options)


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    """The dataclass `cls` built from the parsed `--field` options (lists become tuples)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


class LazyParser(argparse.ArgumentParser):
    """An ArgumentParser that adds its arguments only when it is used (parsed, or its help shown).

    For sub-commands whose options need a heavy import (the `train` options are read from
    TrainConfig, which imports Keras), so that the other commands start without it. Use as
    `add_subparsers(parser_class=LazyParser)` and `add_parser(name, setup=function(parser))`.
    """

    def __init__(self, *args, setup=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup = setup

    def _ready(self) -> None:
        setup, self._setup = self._setup, None
        if setup is not None:
            setup(self)

    def parse_known_args(self, args=None, namespace=None):
        self._ready()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._ready()
        return super().format_help()

    def format_usage(self) -> str:
        self._ready()
        return super().format_usage()
