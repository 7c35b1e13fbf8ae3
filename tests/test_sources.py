"""Image folders and archives: layouts, reading in place, refusal of unsafe or broken archives."""

import io
import os
import pickle
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from colourise_core.data.sources import Entry, open_source
from colourise_core.errors import ArchiveError, DatasetError


def image_bytes(colour=(200, 30, 30), fmt="JPEG", mode="RGB", size=(8, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour if mode == "RGB" else colour[0]).save(buf, fmt)
    return buf.getvalue()


SPLIT_CLASS = {
    "train/cat/a.jpg": image_bytes((200, 30, 30)),
    "train/cat/b.PNG": image_bytes((30, 200, 30), "PNG"),
    "train/dog/c.jpeg": image_bytes((30, 30, 200)),
    "validation/dog/d.jpg": image_bytes((90, 90, 10)),
    "test/cat/e.jpg": image_bytes((10, 90, 90)),
    "train/cat/notes.txt": b"not an image",
    "train/cat/.hidden.jpg": image_bytes(),
    "__MACOSX/train/cat/._a.jpg": b"resource fork",
}


def write_folder(root, files):
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def write_zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def write_tar(path, files, mode="w"):
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(params=["folder", "zip", "tar", "tar.gz"])
def split_class_source(request, tmp_path):
    kind = request.param
    if kind == "folder":
        path = write_folder(tmp_path / "data", SPLIT_CLASS)
    elif kind == "zip":
        path = write_zip(tmp_path / "data.zip", SPLIT_CLASS)
    else:
        mode = "w:gz" if kind == "tar.gz" else "w"
        path = write_tar(tmp_path / f"data.{kind}", SPLIT_CLASS, mode)
    with open_source(path) as source:
        yield source


def test_split_class_layout_in_every_container(split_class_source):
    src = split_class_source
    assert src.splits == ["test", "train", "val"]  # validation -> val
    assert src.classes() == ["cat", "dog"] and src.classes("val") == ["dog"]
    train = ["train/cat/a.jpg", "train/cat/b.PNG", "train/dog/c.jpeg"]
    assert [e.key for e in src.entries("train")] == train
    assert src.entries("valid") == [Entry("validation/dog/d.jpg", "val", "dog")]
    assert [e.key for e in src.entries("train", classes=["dog"])] == ["train/dog/c.jpeg"]
    for key in reversed([e.key for e in src.entries()]):  # backwards, even in a .tar.gz
        assert src.read(key) == SPLIT_CLASS[key]


def test_unknown_split_class_or_key_lists_what_exists(split_class_source):
    with pytest.raises(DatasetError, match=r"no split 'holdout'.*\['test', 'train', 'val'\]"):
        split_class_source.entries("holdout")
    with pytest.raises(DatasetError, match=r"no class \['bird'\].*\['cat', 'dog'\]"):
        split_class_source.entries("train", classes=["bird"])
    with pytest.raises(ArchiveError, match="no image 'train/cat/notes.txt'"):
        split_class_source.read("train/cat/notes.txt")


@pytest.mark.parametrize(
    "names, split, label",
    [
        (["cat/a.jpg", "dog/b.png"], None, "cat"),  # class/img
        (["train/a.jpg", "test/b.png"], "train", None),  # split/img
        (["a.jpg", "b.png"], None, None),  # flat
        (["cifar10/train/cat/a.jpg", "cifar10/test/dog/b.jpg"], "train", "cat"),  # wrapped
        (["faces/train/a.jpg", "faces/test/b.jpg"], "train", None),  # wrapped split/img
    ],
)
def test_layouts(tmp_path, names, split, label):
    src = open_source(write_zip(tmp_path / "d.zip", {n: image_bytes() for n in names}))
    first = next(e for e in src.entries() if e.key == names[0])
    assert (first.split, first.label) == (split, label)
    assert len(src.entries()) == 2


def test_pickles_and_reads_from_threads(tmp_path):
    files = {f"train/c{i % 3}/{i:03d}.jpg": image_bytes((i, 100, 200)) for i in range(60)}
    src = pickle.loads(pickle.dumps(open_source(write_zip(tmp_path / "d.zip", files))))
    keys = [e.key for e in src.entries()] * 4
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(src.read, keys)) == [files[k] for k in keys]


def _refused(tmp_path, archive, member, match):
    before = set(tmp_path.parent.rglob("*evil*"))
    with pytest.raises(ArchiveError, match=match) as info:
        open_source(archive)
    assert member in str(info.value)
    assert set(tmp_path.parent.rglob("*evil*")) == before  # nothing was written anywhere


def test_refuses_zip_member_outside_the_folder(tmp_path):
    files = {"train/cat/a.jpg": image_bytes(), "../evil.jpg": image_bytes()}
    _refused(tmp_path, write_zip(tmp_path / "d.zip", files), "'../evil.jpg'", "would write outside")
    drive = write_zip(tmp_path / "e.zip", {"C:/evil.jpg": b"x"})
    _refused(tmp_path, drive, "C:/evil.jpg", "refused")


def test_refuses_absolute_tar_member_and_links(tmp_path):
    files = {"a.jpg": image_bytes(), "/tmp/evil_abs.jpg": image_bytes()}
    abs_tar = write_tar(tmp_path / "d.tar", files)
    _refused(tmp_path, abs_tar, "/tmp/evil_abs.jpg", "would write outside")
    assert not os.path.exists("/tmp/evil_abs.jpg")
    with tarfile.open(tmp_path / "link.tar", "w") as tf:
        link = tarfile.TarInfo("evil_link.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    _refused(tmp_path, tmp_path / "link.tar", "evil_link.jpg", "is a link")


def test_no_images_corrupt_and_missing(tmp_path):
    with pytest.raises(ArchiveError, match=r"no images \(.jpg, .jpeg, .png"):
        open_source(write_zip(tmp_path / "empty.zip", {}))
    with pytest.raises(ArchiveError, match="no images"):
        open_source(write_folder(tmp_path / "txt", {"a/readme.txt": b"hi"}))
    (tmp_path / "fake.zip").write_text("this is not an archive")
    with pytest.raises(ArchiveError, match="fake.zip is not a readable zip or tar archive"):
        open_source(tmp_path / "fake.zip")
    good = write_zip(tmp_path / "cut.zip", {f"{i}.jpg": image_bytes() for i in range(5)})
    (tmp_path / "cut2.zip").write_bytes(good.read_bytes()[:300])  # truncated
    with pytest.raises(ArchiveError, match="not a readable zip or tar"):
        open_source(tmp_path / "cut2.zip")
    with pytest.raises(ArchiveError, match="does not exist"):
        open_source(tmp_path / "nowhere")
