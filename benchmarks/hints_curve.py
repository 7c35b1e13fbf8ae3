"""The hints curve (issue 15, report item 5): PSNR and colourfulness against N random true hints,
Levin et al.'s method beside the hint-taking `unet` (weights set `general`), the same points for both.

See colourise_core/reproduce/hints_curve.py for the method (nested random true hints, one seed per
image; the unet's hint forms "user", "pixel", "trained"). Datasets: Imagenette val and
photos-extra val, the first --limit colour images of a seeded subset at 128 px.

Writes reports/data/hints_curve.json and reports/figures/hints_curve.png, prints the table and the
issue's target checks (unet at N=10 >= Levin at N=10 + 1.5 dB and >= unet at N=0 + 3 dB).

    python benchmarks/hints_curve.py [--limit 100] [--data ../shared/datasets] [--out reports] [--no-unet]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="images per dataset (a seeded subset)")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--weights-dir", default=str(REPO / "weights"))
    parser.add_argument("--out", default=str(REPO / "reports"))
    parser.add_argument("--no-unet", action="store_true", help="Levin's method only")
    args = parser.parse_args()

    from colourise_core import hardware
    from colourise_core.reproduce import hints_curve

    unet = None
    if not args.no_unet:
        from colourise_core.weights import load_pretrained

        unet = load_pretrained("unet", hints_curve.UNET_SET, weights_dir=args.weights_dir)
    images = hints_curve.load_images(args.data, args.limit)
    result = hints_curve.measure(images, hints_curve.methods_for(unet), progress=print)
    result["machine"] = hardware.describe()
    result["command"] = " ".join(["python", "benchmarks/hints_curve.py", *sys.argv[1:]])
    print("\n".join(hints_curve.table_lines(result)))
    print("target checks (issue 15 target 1):")
    print("\n".join(hints_curve.check_lines(result)))
    data, figure = hints_curve.write(result, Path(args.out))
    print(f"wrote {data} and {figure}")


if __name__ == "__main__":
    main()
