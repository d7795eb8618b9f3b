#!/usr/bin/env python3
"""Make every app icon the installers want from the one source image.

Input:  packaging/icons/source.png (a copy of assets/icon.png, drawn by assets/make_icon.py).
Output, in packaging/icons/ (all committed, so building a package needs no Python):
  - {16,24,32,48,64,128,256,512}x{same}.png  Linux hicolor theme sizes (.deb, AppImage) and the
                                             PNG list cargo-packager reads for every format
  - icon.ico                                 Windows (.exe resource, NSIS, MSI): 16, 24, 32, 48, 64, 256
  - icon.icns                                macOS (.app/.dmg): 16 to 1024, with the @2x variants

Re-run after the source image changes:
    pip install pillow
    python3 packaging/make_icons.py [--source PATH]

Sizes above the source's own are upscaled (Lanczos) and the script says so: the source today is
256x256, so 512 and 1024 are soft. Render the source at 1024 (assets/make_icon.py, SIZE = 1024) and
re-run to make them crisp.
"""

import argparse
import sys
from pathlib import Path

from PIL import Image

ICON_DIR = Path(__file__).resolve().parent / "icons"
PNG_SIZES = [16, 24, 32, 48, 64, 128, 256, 512]
ICO_SIZES = [16, 24, 32, 48, 64, 256]
ICNS_SIZES = [16, 32, 64, 128, 256, 512, 1024]


def load_square_rgba(path: Path) -> Image.Image:
    """The source image as RGBA; refuses a non-square one (icons would be distorted)."""
    image = Image.open(path).convert("RGBA")
    if image.width != image.height:
        sys.exit(f"{path}: the source must be square, it is {image.width}x{image.height}")
    return image


def scaled(source: Image.Image, size: int) -> Image.Image:
    """The source resized to size x size with a Lanczos filter (sharp when shrinking)."""
    if size == source.width:
        return source.copy()
    return source.resize((size, size), Image.Resampling.LANCZOS)


def write_pngs(source: Image.Image) -> list[Path]:
    """One PNG per hicolor icon-theme size."""
    written = []
    for size in PNG_SIZES:
        path = ICON_DIR / f"{size}x{size}.png"
        scaled(source, size).save(path, optimize=True)
        written.append(path)
    return written


def write_ico(source: Image.Image) -> Path:
    """A Windows .ico holding each size drawn separately (not left to Windows to shrink)."""
    path = ICON_DIR / "icon.ico"
    images = [scaled(source, size) for size in ICO_SIZES]
    largest = images[-1]
    largest.save(path, format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=images[:-1])
    return path


def write_icns(source: Image.Image) -> Path:
    """A macOS .icns with every size from 16 to 1024 (the 512@2x)."""
    path = ICON_DIR / "icon.icns"
    images = [scaled(source, size) for size in ICNS_SIZES]
    images[-1].save(path, format="ICNS", append_images=images[:-1])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ICON_DIR / "source.png")
    args = parser.parse_args()

    source = load_square_rgba(args.source)
    upscaled = [s for s in sorted(set(PNG_SIZES + ICNS_SIZES)) if s > source.width]
    if upscaled:
        print(f"note: source is {source.width}px; upscaled (soft): {upscaled}")

    ICON_DIR.mkdir(parents=True, exist_ok=True)
    for path in [*write_pngs(source), write_ico(source), write_icns(source)]:
        print(f"wrote {path.relative_to(ICON_DIR.parent.parent)}")


if __name__ == "__main__":
    main()
