"""Output names for `colourise IMAGE...` that never collide, and the name map written beside them.

Two inputs with the same stem (`a/photo.jpg b/photo.jpg`, `img.webp img.tiff`) must not write
the same file. `plan_names` gives each input a unique base name: its stem when that is unique
(case-insensitively, for case-insensitive file systems), else the stem with its extension
(`img.webp`), else that plus `-2`, `-3`... in argument order. The map from output files to the
inputs they came from is merged into `NAME_MAP` in the output folder, so a batch stays traceable.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from colourise_core import atomic

NAME_MAP = "colourise-names.json"


def plan_names(inputs: list[str]) -> list[str]:
    """A unique base name per input path, in order (see the module docstring).

    Args:
        inputs: image paths as given; the same file given twice still gets two names.
    Returns:
        base names (no model suffix, no extension), one per input, unique case-insensitively.
    """
    paths = [Path(p) for p in inputs]
    stems = Counter(p.stem.casefold() for p in paths)
    wanted = []
    for p in paths:
        if stems[p.stem.casefold()] == 1:
            wanted.append(p.stem)
        else:
            wanted.append(f"{p.stem}.{p.suffix.lstrip('.')}" if p.suffix else p.stem)
    # Every plain stem is reserved first, so a disambiguated name never takes another's.
    used = {w.casefold() for w in wanted if Counter(x.casefold() for x in wanted)[w.casefold()] == 1}
    counts = Counter(w.casefold() for w in wanted)
    names = []
    for w in wanted:
        if counts[w.casefold()] == 1:
            names.append(w)
            continue
        name, k = w, 1
        while name.casefold() in used:
            k += 1
            name = f"{w}-{k}"
        used.add(name.casefold())
        names.append(name)
    return names


def write_name_map(out_dir: Path, mapping: dict[str, str]) -> Path:
    """Merge {output file name: input path} into `out_dir/NAME_MAP`, atomically.

    Entries of earlier runs are kept (a batch resumed with --skip-existing keeps its map).
    """
    path = out_dir / NAME_MAP
    merged = {}
    try:
        merged = json.loads(path.read_text())
        if not isinstance(merged, dict):
            merged = {}
    except (OSError, ValueError):
        merged = {}
    merged.update(mapping)
    return atomic.write_json(path, dict(sorted(merged.items())))
