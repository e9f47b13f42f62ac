"""The naive pipeline PoxScreen is measured against: what the authors' evaluation does.

PIL open, ``Resize((224, 224))``, ``ToTensor``, ``Normalize``, then a batch-of-one eager forward
per photo, in one process, writing a CSV. No hashing, no case store, no error handling: it does
less work than ``poxscreen screen`` and is still the baseline to beat.

    python bench/naive_screen.py FOLDER OUT.csv [MODEL]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import csvsafe  # noqa: E402
from engine.checkpoint import load_model  # noqa: E402
from engine.images import IMAGE_EXTENSIONS  # noqa: E402
from engine.paths import default_model_path  # noqa: E402


def main() -> int:
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    model, meta = load_model(sys.argv[3] if len(sys.argv) > 3 else default_model_path())
    tf = transforms.Compose(
        [
            transforms.Resize((224, 224)),
            transforms.ToTensor(),
            transforms.Normalize(meta.mean, meta.std),
        ]
    )
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    with out.open("w", newline="") as fh, torch.no_grad():
        writer = csvsafe.writer(fh)
        writer.writerow(["path", "predicted_class", "confidence"])
        for path in files:
            x = tf(Image.open(path).convert("RGB")).unsqueeze(0)
            probs = torch.softmax(model(x) / meta.temperature, dim=1)[0]
            best = int(probs.argmax())
            writer.writerow([str(path), meta.classes[best], f"{float(probs[best]):.6f}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
