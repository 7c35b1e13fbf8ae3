"""Pack training subsets of ../shared/datasets small enough to travel to the GPU machine.

The device tool carries at most 64 MiB, so the train splits are re-encoded (JPEG quality 75)
and subsampled per class: CIFAR-10 all 5,000 horses plus 1,500 of each other class, 3,200
faces, 500 Imagenette images per class. The held-out splits stay here: metrics are computed on
this machine on the full held-out splits. Writes .gpu_data/<archive> in the same layout.

    python scripts/pack_gpu_data.py [--src ../shared/datasets] [--out .gpu_data]
"""

import argparse
import io
import random
import zipfile
from collections import defaultdict
from pathlib import Path

from PIL import Image

PER_CLASS = {"cifar10.zip": 1500, "faces-128.zip": None, "imagenette-128.zip": 500}
KEEP_ALL = {"cifar10.zip": {"horse"}}


def pack(src: Path, out: Path, name: str, quality: int = 75) -> int:
    by_class = defaultdict(list)
    with zipfile.ZipFile(src / name) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if info.is_dir() or "train" not in parts[:-1]:
                continue
            i = parts.index("train")
            label = parts[i + 1] if len(parts) > i + 2 else ""
            by_class[label].append(info)
        rng = random.Random(0)
        out.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out / name, "w", zipfile.ZIP_STORED) as dst:
            for label, infos in sorted(by_class.items()):
                limit = PER_CLASS[name]
                if limit is not None and label not in KEEP_ALL.get(name, ()):
                    infos = rng.sample(infos, min(limit, len(infos)))
                for info in infos:
                    img = Image.open(io.BytesIO(z.read(info)))
                    if img.mode != "RGB":  # greyscale files are skipped by the loader anyway
                        continue
                    buf = io.BytesIO()
                    img.save(buf, "JPEG", quality=quality)
                    dst.writestr("train/" + (label + "/" if label else "") + info.filename.split("/")[-1], buf.getvalue())
    return (out / name).stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    parser.add_argument("--out", default=".gpu_data")
    args = parser.parse_args()
    total = 0
    for name in PER_CLASS:
        size = pack(Path(args.src), Path(args.out), name)
        total += size
        print(f"{name}: {size / 1e6:.1f} MB")
    print(f"total {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
