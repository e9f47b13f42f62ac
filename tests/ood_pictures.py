"""Pictures that are not skin photos, made here: documents, charts, screenshots, textures, scenes,
other kinds of medical image. The out-of-scope guard is measured and tested on them.

Every picture is drawn from a fixed seed, so the set (and the guard's measured rate) is the same
on every machine. Sizes vary on purpose (phone screenshots, A4 scans, square crops).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

WORDS = (
    *("patient", "clinic", "report", "dose", "review", "history", "lesion", "normal", "follow"),
    *("date", "signed", "ward", "result", "pending", "laboratory", "sample", "note", "plan"),
    *("referral", "total", "page", "summary", "invoice"),
)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def document(rng: np.random.Generator) -> Image.Image:
    """A typed page: title, paragraphs, sometimes a table."""
    w, h = int(rng.integers(600, 1240)), int(rng.integers(800, 1754))
    im = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(235, 256, 3)))
    d = ImageDraw.Draw(im)
    size = int(rng.integers(14, 30))
    y = 40
    d.text((40, y), " ".join(rng.choice(WORDS, 3)).title(), fill=(0, 0, 0), font=_font(size * 2))
    y += size * 3
    while y < h - 60:
        if rng.random() < 0.15:  # a table
            rows, cols = int(rng.integers(3, 8)), int(rng.integers(2, 6))
            cw, rh = (w - 80) // cols, size + 12
            for r in range(rows):
                for c in range(cols):
                    box = (40 + c * cw, y + r * rh, 40 + (c + 1) * cw, y + (r + 1) * rh)
                    d.rectangle(box, outline=(60, 60, 60))
                    d.text(
                        (box[0] + 4, box[1] + 4),
                        str(rng.choice(WORDS)),
                        fill=(0, 0, 0),
                        font=_font(size),
                    )
            y += rows * rh + size
        line = " ".join(rng.choice(WORDS, int(rng.integers(4, 12))))
        d.text((40, y), line, fill=(20, 20, 20), font=_font(size))
        y += int(size * 1.5)
    return im


def chart(rng: np.random.Generator) -> Image.Image:
    """A matplotlib chart: bars, lines, a pie or a scatter, as an app or report would show."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(float(rng.uniform(4, 8)), float(rng.uniform(3, 6))), dpi=100)
    kind = int(rng.integers(4))
    x = np.arange(int(rng.integers(4, 30)))
    if kind == 0:
        ax.bar(x, rng.uniform(1, 10, len(x)), color=plt.cm.tab10(int(rng.integers(10))))
    elif kind == 1:
        for _ in range(int(rng.integers(1, 4))):
            ax.plot(x, np.cumsum(rng.normal(size=len(x))), marker="o")
        ax.grid(True)
    elif kind == 2:
        ax.pie(rng.uniform(1, 5, int(rng.integers(3, 7))))
    else:
        ax.scatter(rng.normal(size=200), rng.normal(size=200), c=rng.uniform(size=200), s=12)
    ax.set_title(" ".join(rng.choice(WORDS, 3)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def screenshot(rng: np.random.Generator) -> Image.Image:
    """A desktop-app screenshot: title bar, toolbar, a list of files, a table, buttons."""
    w, h = int(rng.integers(800, 1600)), int(rng.integers(500, 1000))
    bg = tuple(int(v) for v in rng.integers(225, 250, 3))
    im = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(im)
    accent = tuple(int(v) for v in rng.integers(30, 200, 3))
    d.rectangle((0, 0, w, 32), fill=accent)
    d.text(
        (12, 8),
        "PoxScreen - " + " ".join(rng.choice(WORDS, 2)),
        fill=(255, 255, 255),
        font=_font(16),
    )
    for i in range(int(rng.integers(3, 8))):  # toolbar buttons
        d.rounded_rectangle(
            (10 + i * 90, 42, 90 + i * 90, 70), 5, fill=(250, 250, 250), outline=(150, 150, 150)
        )
        d.text((18 + i * 90, 48), str(rng.choice(WORDS)), fill=(0, 0, 0), font=_font(13))
    side = int(w * rng.uniform(0.2, 0.35))
    d.rectangle((0, 80, side, h), fill=(255, 255, 255), outline=(180, 180, 180))
    for r, y in enumerate(range(90, h - 20, 24)):
        if r % 5 == 2:
            d.rectangle((2, y - 2, side - 2, y + 20), fill=accent)
        d.text((10, y), f"IMG_{int(rng.integers(1000, 9999))}.jpg", fill=(0, 0, 0), font=_font(13))
    for y in range(90, h - 20, 28):  # a results table
        d.line((side + 10, y, w - 10, y), fill=(200, 200, 200))
        d.text(
            (side + 20, y + 6),
            "  ".join(rng.choice(WORDS, 4)) + f"  {rng.uniform():.2f}",
            fill=(30, 30, 30),
            font=_font(13),
        )
    return im


def texture(rng: np.random.Generator) -> Image.Image:
    """Synthetic textures: noise, stripes, checkerboards, cells, smooth gradients."""
    n = int(rng.integers(224, 640))
    yy, xx = np.mgrid[0:n, 0:n] / n
    kind = int(rng.integers(5))
    if kind == 0:
        arr = rng.integers(0, 256, (n, n, 3))
    elif kind == 1:
        f = rng.uniform(5, 40)
        base = np.sin(2 * np.pi * f * (xx * np.cos(rng.uniform(0, 3)) + yy))
        arr = (base[..., None] * 0.5 + 0.5) * rng.uniform(60, 255, 3)
    elif kind == 2:
        k = int(rng.integers(4, 24))
        arr = ((np.floor(xx * k) + np.floor(yy * k)) % 2)[..., None] * rng.uniform(0, 255, 3)
    elif kind == 3:
        pts = rng.uniform(size=(30, 2))
        dist = np.min((xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2, -1)
        arr = np.sqrt(dist)[..., None] * 4 * rng.uniform(80, 255, 3)
    else:
        arr = (xx[..., None] * rng.uniform(0, 255, 3) + yy[..., None] * rng.uniform(0, 255, 3)) / 2
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def scene(rng: np.random.Generator) -> Image.Image:
    """A simple drawn outdoor or indoor scene: sky, ground, sun, houses, trees."""
    w, h = int(rng.integers(320, 1024)), int(rng.integers(240, 768))
    im = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(im)
    horizon = int(h * rng.uniform(0.4, 0.7))
    sky = rng.integers(90, 220, 3)
    for y in range(horizon):
        d.line((0, y, w, y), fill=tuple(int(v) for v in sky + (255 - sky) * y // max(horizon, 1)))
    d.rectangle((0, horizon, w, h), fill=tuple(int(v) for v in rng.integers(20, 140, 3)))
    r = int(rng.integers(15, 50))
    cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, max(r + 1, horizon - r)))
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 230, 120))
    for _ in range(int(rng.integers(1, 6))):
        x0, bw, bh = (
            int(rng.integers(0, w - 60)),
            int(rng.integers(40, 160)),
            int(rng.integers(40, 200)),
        )
        col = tuple(int(v) for v in rng.integers(60, 230, 3))
        d.rectangle((x0, horizon - bh, x0 + bw, horizon), fill=col)
        d.polygon(
            [
                (x0 - 8, horizon - bh),
                (x0 + bw // 2, horizon - bh - 40),
                (x0 + bw + 8, horizon - bh),
            ],
            fill=(140, 40, 30),
        )
    for _ in range(int(rng.integers(0, 6))):
        tx = int(rng.integers(0, w))
        d.rectangle((tx - 4, horizon - 40, tx + 4, horizon), fill=(90, 60, 30))
        d.ellipse((tx - 25, horizon - 90, tx + 25, horizon - 30), fill=(30, 120, 40))
    return im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.5))))


def medical_scan(rng: np.random.Generator) -> Image.Image:
    """Another kind of medical image: an MRI slice (matplotlib's sample) or a synthetic X-ray."""
    import matplotlib.cbook as cbook

    if rng.random() < 0.5:
        with cbook.get_sample_data("s1045.ima.gz") as fh:  # opened (and un-gzipped) for us
            mri = np.frombuffer(fh.read(), np.uint16).reshape(256, 256).astype(float)
        y0, x0 = rng.integers(0, 64, 2)
        crop = mri[
            y0 : y0 + int(rng.integers(160, 256 - y0)), x0 : x0 + int(rng.integers(160, 256 - x0))
        ]
        arr = (crop / crop.max()) ** rng.uniform(0.6, 1.4) * 255
    else:  # a chest-X-ray-like picture: dark field, bright ribs and spine
        n = 512
        yy, xx = np.mgrid[0:n, 0:n] / n
        body = np.exp(-((((xx - 0.5) / 0.32) ** 2 + ((yy - 0.55) / 0.45) ** 2) ** 2))
        ribs = 0.3 * (np.sin(yy * 60 + np.abs(xx - 0.5) * 8) > 0.6) * body
        arr = (0.35 * body + ribs + 0.4 * np.exp(-(((xx - 0.5) / 0.04) ** 2)) * body) * 255
        arr += rng.normal(0, 6, arr.shape)
    gray = np.clip(arr, 0, 255).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


GENERATORS: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "document": document,
    "chart": chart,
    "screenshot": screenshot,
    "texture": texture,
    "scene": scene,
    "medical_scan": medical_scan,
}

#: Shared ImageNet samples that are fair input: a portrait shows normal skin.
FAIR_SAMPLES = frozenset({"grace_hopper"})


def generated(per_kind: int = 10, seed: int = 0) -> Iterator[tuple[str, Image.Image]]:
    """``(kind, picture)`` pairs, ``per_kind`` of each kind, the same for a given seed."""
    for k, (kind, make) in enumerate(GENERATORS.items()):
        rng = np.random.default_rng([seed, k])
        for _ in range(per_kind):
            yield kind, make(rng)


def imagenet_samples(folder: Path) -> Iterator[tuple[str, Path]]:
    """The shared ImageNet samples that are not skin photos (portraits excluded)."""
    for path in sorted(folder.iterdir()):
        if path.stem not in FAIR_SAMPLES and path.suffix.lower() in {".bmp", ".jpg", ".png"}:
            yield "imagenet", path
