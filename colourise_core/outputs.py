"""Inputs and output names for `colourise IMAGE...`: folders opened, names that never collide, the name map.

A folder among the inputs stands for the image files directly in it (`expand_folders`), sorted by
name, leaving out this tool's own outputs listed in its `NAME_MAP`.

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
from colourise_core.errors import ColouriseError

NAME_MAP = "colourise-names.json"
# What a folder given as an input is searched for; a file given by name is tried whatever its suffix.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".avif",
                  ".jp2", ".ppm", ".pgm", ".pnm", ".tga", ".psd", ".qoi")


def _earlier_outputs(folder: Path) -> set[str]:
    """The file names this tool wrote into `folder` (its NAME_MAP's keys), so they are not taken as inputs."""
    try:
        mapping = json.loads((folder / NAME_MAP).read_text())
    except (OSError, ValueError):
        return set()
    return set(mapping) if isinstance(mapping, dict) else set()


def expand_folders(inputs: list[str]) -> list[str]:
    """Each folder among the inputs replaced by the image files directly in it (`colourise old_photos/`).

    Args:
        inputs: paths as given; files (and paths that do not exist) are kept as they are, in order.
    Returns:
        the paths, each folder's images in its place, sorted by name ignoring case (hidden files,
        sub-folders and the outputs of an earlier run into that folder left out).
    Raises:
        ColouriseError: a folder holds no image file; nothing has been read or written.
    """
    expanded = []
    for given in inputs:
        folder = Path(given)
        if not folder.is_dir():
            expanded.append(given)
            continue
        skip = _earlier_outputs(folder)
        found = sorted((f.name for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")
                        and f.suffix.lower() in IMAGE_SUFFIXES and f.name not in skip), key=str.casefold)
        if not found:
            raise ColouriseError(f"folder {given} holds no image file (looked for {' '.join(IMAGE_SUFFIXES)}; "
                                 "sub-folders are not searched)")
        expanded.extend(str(folder / name) for name in found)
    return expanded


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
