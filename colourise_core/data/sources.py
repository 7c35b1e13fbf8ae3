"""Images from a plain folder, a .zip or a .tar(.gz/.bz2/.xz) archive, read in place.

Nothing is ever extracted to disk: members are read as bytes. Archives are checked when they
are opened and refused whole if any member name is absolute, has a drive letter or a `..`
component, or (tar) is a link or a device: such an archive is not a plain image folder.

Layouts (after at most one wrapping top folder such as `cifar10/`):
    split/class/img     train/cat/0001.jpg
    split/img           train/0001.jpg
    class/img           cat/0001.jpg
    img                 0001.jpg
Split folders are train, val (also valid, validation) and test, in any case; `Entry.split`
holds the canonical name. Hidden files/folders and `__MACOSX` are skipped.

Handles are opened lazily, one per thread and process, so an `ImageSource` pickles (it keeps
only the path and the index) and can be read from keras PyDataset workers.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArchiveError, DatasetError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Folder name (lower case) -> canonical split name.
SPLIT_ALIASES = {
    "train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"
}
MAX_MEMBER_BYTES = 256 * 1024 * 1024  # refuse to read a single image larger than this
_DRIVE = re.compile(r"^[A-Za-z]:")
# What reading a member can raise (RuntimeError: an encrypted zip member; zlib: corrupt data).
_READ_ERRORS = (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, RuntimeError, zlib.error)


@dataclass(frozen=True)
class Entry:
    """One image of a source: its key (member name or relative path), split and class."""

    key: str
    split: str | None
    label: str | None


def _parts(name: str) -> tuple[str, ...]:
    """Components of a posix member name ('a//b/' -> ('a', 'b'); faster than PurePosixPath)."""
    return tuple(p for p in name.split("/") if p and p != ".")


def _is_hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _check_member_name(name: str, archive: Path) -> None:
    """Raise ArchiveError if an archive member name could point outside the dataset folder."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm) or ".." in norm.split("/"):
        raise ArchiveError(
            f"{archive}: refused: member {name!r} would write outside the dataset folder; "
            "nothing was extracted. Repack the archive with relative member names."
        )


def _layout(names: list[str]) -> list[Entry]:
    """Assign split and class to image paths (posix, relative) by the layout they form.

    Args:
        names: image paths, hidden files already removed.
    Returns:
        entries sorted by key.
    """
    parts = [_parts(n) for n in names]
    # Strip one wrapping top folder (not a split folder) shared by every image.
    firsts = {p[0] for p in parts}
    if all(len(p) >= 3 for p in parts) and len(firsts) == 1:
        (top,) = firsts
        if top.lower() not in SPLIT_ALIASES:
            parts = [p[1:] for p in parts]
    dirs = {p[0].lower() for p in parts if len(p) >= 2}
    split_layout = bool(dirs) and dirs <= set(SPLIT_ALIASES)
    entries = []
    for name, p in zip(names, parts):
        split = None
        if split_layout and len(p) >= 2:
            split, p = SPLIT_ALIASES[p[0].lower()], p[1:]
        label = p[0] if len(p) >= 2 else None
        entries.append(Entry(name, split, label))
    return sorted(entries, key=lambda e: e.key)


class ImageSource:
    """An image folder or archive. Use `open_source(path)`; close it or use it as a context."""

    kind = "folder"

    def __init__(self, path: Path, entries: list[Entry]):
        self.path = path
        self._entries = entries
        self._keys = {e.key for e in entries}
        self._local = threading.local()

    # -- pickling: keep the path and the index, never an open handle --
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_local")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def __enter__(self) -> "ImageSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {len(self)} images)"

    @property
    def splits(self) -> list[str]:
        """Canonical split names present (train/val/test), empty when the layout has none."""
        return sorted({e.split for e in self._entries if e.split is not None})

    def classes(self, split: str | None = None) -> list[str]:
        """Sorted class (folder) names, in one split or in all; empty for unlabelled layouts."""
        return sorted({e.label for e in self.entries(split) if e.label is not None})

    def entries(self, split: str | None = None, classes=None) -> list[Entry]:
        """Images of a split and/or some classes, sorted by key.

        Args:
            split: train, val (valid, validation) or test; None for every image.
            classes: class folder names to keep (exact match); None for all.
        Returns:
            list of Entry.
        Raises:
            DatasetError: the split or a class is not in the source (lists the available ones).
        """
        out = self._entries
        if split is not None:
            canon = SPLIT_ALIASES.get(split.lower())
            if canon is None or canon not in self.splits:
                raise DatasetError(
                    f"{self.path}: no split {split!r}; available splits: "
                    f"{self.splits or 'none (the layout has no train/val/test folders)'}"
                )
            out = [e for e in out if e.split == canon]
        if classes is not None:
            have = sorted({e.label for e in out if e.label is not None})
            missing = [c for c in classes if c not in have]
            if missing:
                where = f" in split {split!r}" if split else ""
                raise DatasetError(
                    f"{self.path}: no class {missing}{where}; available classes: {have or 'none'}"
                )
            wanted = set(classes)
            out = [e for e in out if e.label in wanted]
        return list(out)

    def read(self, key: str) -> bytes:
        """The bytes of one image.

        Raises:
            ArchiveError: the key is not an image of this source, or it cannot be read.
        """
        if key not in self._keys:
            raise ArchiveError(f"{self.path}: no image {key!r} in this source")
        try:
            return self._read(key)
        except _READ_ERRORS as exc:
            raise ArchiveError(f"{self.path}: cannot read {key!r}: {exc}; repack it") from exc

    def _read(self, key: str) -> bytes:
        file = self.path / key
        if file.stat().st_size > MAX_MEMBER_BYTES:
            raise _too_large(self.path, key)
        return file.read_bytes()

    def close(self) -> None:
        """Close this thread's handle (others close when garbage-collected)."""
        handle = getattr(self._local, "handle", None)
        if handle is not None:
            handle.close()
            self._local.handle = None

    def _handle(self):
        """This thread's (and process's) open archive, opened on first use."""
        if getattr(self._local, "pid", None) != os.getpid():
            self._local.handle, self._local.pid = None, os.getpid()
        if self._local.handle is None:
            self._local.handle = self._open()
        return self._local.handle

    def _open(self):  # pragma: no cover - overridden by archive sources
        raise NotImplementedError


class ZipSource(ImageSource):
    """A .zip archive; members read with one zipfile handle per thread."""

    kind = "zip"

    def _open(self) -> zipfile.ZipFile:
        return zipfile.ZipFile(self.path)

    def _read(self, key: str) -> bytes:
        zf = self._handle()
        if zf.getinfo(key).file_size > MAX_MEMBER_BYTES:
            raise _too_large(self.path, key)
        return zf.read(key)


class TarSource(ImageSource):
    """A .tar/.tar.gz/.tgz/.tar.bz2/.tar.xz archive; the member index is kept from the scan.

    Compressed tars have no random access: reading members in key order is fast, jumping back
    re-decompresses from the start (fine for small archives; repack big ones as .zip or .tar).
    """

    kind = "tar"

    def __init__(self, path: Path, entries: list[Entry], members: dict[str, tarfile.TarInfo]):
        super().__init__(path, entries)
        self._members = members

    def _open(self) -> tarfile.TarFile:
        return tarfile.open(self.path, "r:*")

    def _read(self, key: str) -> bytes:
        info = self._members[key]
        if info.size > MAX_MEMBER_BYTES:
            raise _too_large(self.path, key)
        f = self._handle().extractfile(info)
        return f.read()


def _too_large(path: Path, key: str) -> ArchiveError:
    return ArchiveError(f"{path}: member {key!r} is larger than {MAX_MEMBER_BYTES} bytes; "
                        "is it really an image? Remove it from the archive")


def _no_images(path: Path) -> ArchiveError:
    return ArchiveError(
        f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {path}; expected split/class/image, "
        "class/image or plain image files"
    )


def _scan_folder(path: Path) -> list[str]:
    names = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not _is_hidden((d,)))
        rel = Path(root).relative_to(path)
        for f in files:
            if _is_image(f) and not _is_hidden((f,)):
                names.append((rel / f).as_posix())
    return names


def _scan_zip(zf: zipfile.ZipFile, path: Path) -> list[str]:
    infos = zf.infolist()
    for info in infos:
        _check_member_name(info.filename, path)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveError(f"{path}: refused: member {info.filename!r} is a symbolic link")
    return [
        i.filename
        for i in infos
        if not i.is_dir() and _is_image(i.filename) and not _is_hidden(_parts(i.filename))
    ]


def _scan_tar(path: Path) -> dict[str, tarfile.TarInfo]:
    members = {}
    with tarfile.open(path, "r:*") as tf:
        for info in tf:
            _check_member_name(info.name, path)
            if not (info.isreg() or info.isdir()):
                what = "link" if (info.issym() or info.islnk()) else "device or special file"
                raise ArchiveError(
                    f"{path}: refused: member {info.name!r} is a {what}; an image archive may "
                    "only hold regular files and folders"
                )
            if info.isreg() and _is_image(info.name) and not _is_hidden(_parts(info.name)):
                members[info.name] = info
    return members


def open_source(path) -> ImageSource:
    """Open an image folder, .zip or .tar archive (checked, indexed, nothing extracted).

    Args:
        path: a folder, or a zip/tar(.gz/.bz2/.xz) file.
    Returns:
        an ImageSource.
    Raises:
        ArchiveError: missing path, unreadable or unsafe archive, or no images in it.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        names = _scan_folder(path)
        if not names:
            raise _no_images(path)
        return ImageSource(path, _layout(names))
    if not path.is_file():
        raise ArchiveError(f"{path} does not exist; give an image folder or a .zip/.tar archive")
    try:
        if zipfile.is_zipfile(path):
            zf = zipfile.ZipFile(path)
            try:
                names = _scan_zip(zf, path)
                if not names:
                    raise _no_images(path)
            except BaseException:
                zf.close()
                raise
            source = ZipSource(path, _layout(names))
            source._local.handle, source._local.pid = zf, os.getpid()  # reuse for this thread
            return source
        members = _scan_tar(path)
    except ArchiveError:
        raise
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError) as exc:
        raise ArchiveError(f"{path} is not a readable zip or tar archive: {exc}") from exc
    if not members:
        raise _no_images(path)
    return TarSource(path, _layout(list(members)), members)
