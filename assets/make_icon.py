#!/usr/bin/env python3
"""Draw the ReturnScope app icon (assets/icon.png, 256x256 RGBA) with the standard library only.

The icon is a rounded dark-teal tile holding a magnifier whose lens shows three coloured clusters
of dots (segments) and a curved "return" arrow. Re-run after changing it:
    python3 assets/make_icon.py
"""

import math
import struct
import zlib
from pathlib import Path

SIZE = 256
SUPERSAMPLE = 3  # draw at 3x and box-filter down for smooth edges

TILE = (22, 61, 72)
LENS_FILL = (236, 244, 245)
RING = (250, 250, 250)
HANDLE = (245, 180, 60)
ARROW = (245, 180, 60)
CLUSTERS = [
    ((0.40, 0.36), (31, 119, 180)),
    ((0.58, 0.42), (214, 39, 40)),
    ((0.47, 0.57), (44, 160, 44)),
]
CLUSTER_OFFSETS = [(0, 0), (0.045, 0.02), (-0.04, 0.03), (0.01, -0.045), (-0.02, -0.035), (0.035, -0.03)]


def rounded_tile(x, y, radius=0.18):
    """Inside a unit square with rounded corners."""
    cx = min(max(x, radius), 1 - radius)
    cy = min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2 and 0 <= x <= 1 and 0 <= y <= 1


def distance_to_segment(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def colour_at(x, y):
    """The colour (RGBA) of the icon at unit coordinates (x right, y down)."""
    if not rounded_tile(x, y):
        return (0, 0, 0, 0)
    lens_c, lens_r = (0.49, 0.46), 0.27
    d = math.hypot(x - lens_c[0], y - lens_c[1])
    # Handle: a thick segment from the lens edge towards the lower right.
    if distance_to_segment(x, y, 0.68, 0.65, 0.86, 0.84) < 0.055 and d > lens_r:
        return HANDLE + (255,)
    if lens_r - 0.035 <= d <= lens_r + 0.01:
        return RING + (255,)
    if d < lens_r - 0.035:
        for (cx, cy), rgb in CLUSTERS:
            for ox, oy in CLUSTER_OFFSETS:
                if math.hypot(x - cx - ox, y - cy - oy) < 0.022:
                    return rgb + (255,)
        return LENS_FILL + (255,)
    # Return arrow: an arc around the upper left of the lens with a head at its end.
    arc_r = lens_r + 0.09
    angle = math.atan2(y - lens_c[1], x - lens_c[0])
    if abs(d - arc_r) < 0.02 and math.radians(160) <= angle % (2 * math.pi) <= math.radians(265):
        return ARROW + (255,)
    head_tip = (lens_c[0] + arc_r * math.cos(math.radians(280)), lens_c[1] + arc_r * math.sin(math.radians(280)))
    hx, hy = x - head_tip[0], y - head_tip[1]
    if -0.06 <= hx <= 0.0 and abs(hy) <= (hx + 0.06) * 0.9:
        return ARROW + (255,)
    return TILE + (255,)


def render():
    n = SIZE * SUPERSAMPLE
    rows = []
    for py in range(SIZE):
        row = bytearray()
        for px in range(SIZE):
            acc = [0, 0, 0, 0]
            for sy in range(SUPERSAMPLE):
                for sx in range(SUPERSAMPLE):
                    r, g, b, a = colour_at((px * SUPERSAMPLE + sx + 0.5) / n, (py * SUPERSAMPLE + sy + 0.5) / n)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            alpha = acc[3] / SUPERSAMPLE**2
            rgb = [round(c / acc[3]) if acc[3] else 0 for c in acc[:3]]
            row += bytes(rgb + [round(alpha)])
        rows.append(bytes(row))
    return rows


def png_bytes(rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    out = Path(__file__).with_name("icon.png")
    out.write_bytes(png_bytes(render()))
    print(f"wrote {out}")
