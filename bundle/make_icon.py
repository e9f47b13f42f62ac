"""Render the PoxScreen app icon (SVG, 256 px PNG, multi-size Windows ICO) from one geometry.

A magnifying glass over three skin lesions on a teal tile. Run after changing the geometry:
``.venv/bin/python packaging/make_icon.py``; the outputs are committed (a few KB each).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZE = 256  # the geometry below is in these units
TILE = (8, 8, 248, 248, 48, "#0f6e7a")  # x0, y0, x1, y1, corner radius, fill
LESIONS = ((96, 104, 24), (152, 86, 15), (124, 152, 18))  # cx, cy, r
LESION_FILL, LESION_RING = "#f4bba6", "#c8654a"
LENS = (126, 118, 68, 16)  # cx, cy, r, stroke width
HANDLE = (176, 168, 218, 210, 26)  # x0, y0, x1, y1, width
WHITE = "#ffffff"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def svg() -> str:
    """The icon as SVG text (the scalable source for Linux desktops)."""
    x0, y0, x1, y1, radius, fill = TILE
    cx, cy, r, w = LENS
    hx0, hy0, hx1, hy1, hw = HANDLE
    dots = "\n".join(
        f'  <circle cx="{x}" cy="{y}" r="{rr}" fill="{LESION_FILL}" stroke="{LESION_RING}" '
        f'stroke-width="5"/>'
        for x, y, rr in LESIONS
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
        f'viewBox="0 0 {SIZE} {SIZE}">\n'
        f'  <rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" rx="{radius}" '
        f'fill="{fill}"/>\n'
        f"{dots}\n"
        f'  <circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{WHITE}" stroke-width="{w}"/>\n'
        f'  <line x1="{hx0}" y1="{hy0}" x2="{hx1}" y2="{hy1}" stroke="{WHITE}" '
        f'stroke-width="{hw}" stroke-linecap="round"/>\n'
        "</svg>\n"
    )


def render(size: int = SIZE, supersample: int = 4) -> Image.Image:
    """The icon as an RGBA image, drawn large and reduced for smooth edges."""
    k = size * supersample / SIZE
    img = Image.new("RGBA", (size * supersample,) * 2, (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1, radius, fill = TILE
    draw.rounded_rectangle([x0 * k, y0 * k, x1 * k, y1 * k], radius=radius * k, fill=fill)
    for x, y, r in LESIONS:
        box = [(x - r) * k, (y - r) * k, (x + r) * k, (y + r) * k]
        draw.ellipse(box, fill=LESION_FILL, outline=LESION_RING, width=round(5 * k))
    cx, cy, r, w = LENS
    draw.ellipse(
        [(cx - r - w / 2) * k, (cy - r - w / 2) * k, (cx + r + w / 2) * k, (cy + r + w / 2) * k],
        outline=WHITE,
        width=round(w * k),
    )
    hx0, hy0, hx1, hy1, hw = HANDLE
    draw.line([hx0 * k, hy0 * k, hx1 * k, hy1 * k], fill=WHITE, width=round(hw * k))
    for x, y in ((hx0, hy0), (hx1, hy1)):  # round caps
        draw.ellipse(
            [(x - hw / 2) * k, (y - hw / 2) * k, (x + hw / 2) * k, (y + hw / 2) * k], WHITE
        )
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write poxscreen.svg, poxscreen.png (256 px) and poxscreen.ico (16-256 px)."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "poxscreen.svg").write_text(svg(), encoding="utf-8")
    big = render()
    big.save(OUT / "poxscreen.png", optimize=True)
    big.save(OUT / "poxscreen.ico", sizes=[(s, s) for s in ICO_SIZES])
    for name in ("poxscreen.svg", "poxscreen.png", "poxscreen.ico"):
        print(f"{OUT / name}: {(OUT / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
