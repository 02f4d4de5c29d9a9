"""Draw the Teams app icons (a lighthouse) as PNG files: `python -m deployment.make_icons`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # also runnable as `python deployment/make_icons.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deployment.png import encode_rgba

ICON_DIR = Path(__file__).resolve().parent / "icons"
Shape = Callable[[float, float], bool]
Layer = tuple[Shape, tuple[int, int, int, int]]

SKY, SEA = (0x1F, 0x4E, 0x79, 255), (0x2E, 0x6D, 0xA4, 255)
WHITE, RED, LIGHT = (255, 255, 255, 255), (0xD6, 0x45, 0x41, 255), (0xFF, 0xD3, 0x4E, 255)
DARK, BEAM = (0x2B, 0x2B, 0x2B, 255), (0xFF, 0xD9, 0x66, 170)


def polygon(*points: tuple[float, float]) -> Shape:
    """Inside test for a convex polygon (points in either winding order)."""
    edges = [(x0, y0, x1 - x0, y1 - y0) for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1])]

    def inside(x: float, y: float) -> bool:
        left = right = False
        for x0, y0, dx, dy in edges:
            cross = dx * (y - y0) - dy * (x - x0)
            left, right = left or cross > 0, right or cross < 0
            if left and right:
                return False
        return True
    return inside


def rect(x0: float, y0: float, x1: float, y1: float) -> Shape:
    return lambda x, y: x0 <= x < x1 and y0 <= y < y1


def band(shape: Shape, *rows: tuple[float, float]) -> Shape:
    """The part of `shape` that lies in one of the horizontal `rows` (y0, y1)."""
    return lambda x, y: shape(x, y) and any(y0 <= y < y1 for y0, y1 in rows)


def render(size: int, layers: list[Layer], samples: int) -> bytes:
    """RGBA bytes, layers painted in order; pixels on a shape edge average samples×samples points."""
    corners = [[tuple(shape(i, j) for shape, _ in layers) for i in range(size + 1)] for j in range(size + 1)]
    out = bytearray()
    for j in range(size):
        for i in range(size):
            # Shapes are far larger than a pixel, so equal corners mean no edge crosses it.
            n = 1 if corners[j][i] == corners[j][i + 1] == corners[j + 1][i] == corners[j + 1][i + 1] else samples
            total = [0.0, 0.0, 0.0, 0.0]  # premultiplied
            for dy in range(n):
                for dx in range(n):
                    x, y = i + (dx + 0.5) / n, j + (dy + 0.5) / n
                    r = g = b = a = 0.0
                    for shape, (cr, cg, cb, ca) in layers:
                        if shape(x, y):
                            s = ca / 255
                            r, g, b = cr * s + r * (1 - s), cg * s + g * (1 - s), cb * s + b * (1 - s)
                            a = s + a * (1 - s)
                    total = [total[0] + r, total[1] + g, total[2] + b, total[3] + a]
            alpha = total[3] / (n * n)
            if alpha <= 0:
                out += bytes((255, 255, 255, 0))  # transparent stays "white" so the outline has one colour only
                continue
            out += bytes(round(min(255.0, c / (n * n) / alpha)) for c in total[:3]) + bytes((round(alpha * 255),))
    return bytes(out)


def color_icon() -> bytes:
    """192×192, full colour: lighthouse with light beams over the sea."""
    tower = polygon((82, 72), (110, 72), (120, 142), (72, 142))
    layers: list[Layer] = [
        (rect(0, 0, 192, 192), SKY),
        (rect(0, 150, 192, 192), SEA),
        (polygon((90, 52), (20, 30), (20, 82), (90, 62)), BEAM),
        (polygon((102, 52), (172, 30), (172, 82), (102, 62)), BEAM),
        (polygon((70, 140), (122, 140), (134, 156), (58, 156)), DARK),
        (tower, WHITE),
        (band(tower, (90, 102), (116, 128)), RED),
        (rect(90, 128, 102, 142), SKY),
        (rect(76, 65, 116, 73), DARK),
        (rect(84, 48, 108, 65), LIGHT),
        (polygon((96, 28), (114, 48), (78, 48)), RED),
    ]
    return encode_rgba(192, 192, render(192, layers, samples=4))


def outline_icon() -> bytes:
    """32×32, white on transparent, no anti-aliasing (Teams allows only white and transparent)."""
    tower = polygon((12, 14), (20, 14), (22, 27), (10, 27))
    stripes = band(tower, (17, 19), (22, 24))
    layers: list[Layer] = [
        (polygon((16, 2.5), (21.5, 8), (10.5, 8)), WHITE),
        (lambda x, y: rect(12, 8, 20, 12)(x, y) and not rect(14, 9, 18, 11)(x, y), WHITE),
        (rect(10, 12, 22, 14), WHITE),
        (lambda x, y: tower(x, y) and not stripes(x, y), WHITE),
        (rect(7, 27, 25, 29), WHITE),
        (lambda x, y: any(rect(x0, y0, x0 + 2, y0 + 1)(x, y) for x0, y0 in ((8, 8), (5, 7), (22, 8), (25, 7))), WHITE),
    ]
    return encode_rgba(32, 32, render(32, layers, samples=1))


def write_icons(directory: Path = ICON_DIR) -> list[Path]:
    """Write color.png and outline.png into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in (("color.png", color_icon()), ("outline.png", outline_icon())):
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_icons(Path(sys.argv[1]) if len(sys.argv) > 1 else ICON_DIR):
        print(written_path)
