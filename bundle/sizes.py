"""What a built bundle weighs: the total, its largest parts and its largest files.

``python bundle/sizes.py dist/PoxScreen`` (``make package`` runs it). A "part" is a top-level
entry of the bundle's ``_internal`` folder, with ``torch/lib`` and ``nvidia/*`` split out
because they dominate.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

SPLIT = ("torch/lib", "nvidia")  # folders reported one level deeper


def _part(rel: Path) -> str:
    parts = rel.parts
    text = "/".join(parts)
    for prefix in SPLIT:
        depth = prefix.count("/") + 1
        if text.startswith(prefix + "/") and len(parts) > depth:
            return "/".join(parts[: depth + 1])
    return parts[0] if len(parts) > 1 else "(top-level files)"


def measure(app: Path) -> tuple[int, dict[str, int], list[tuple[int, str]]]:
    """Total bytes, bytes per part, and (bytes, path) of every file (links not followed)."""
    internal = app / "_internal" if (app / "_internal").is_dir() else app
    parts: dict[str, int] = defaultdict(int)
    files: list[tuple[int, str]] = []
    total = 0
    for path in app.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        rel = path.relative_to(internal) if path.is_relative_to(internal) else path.relative_to(app)
        parts[_part(rel)] += size
        files.append((size, str(path.relative_to(app))))
    files.sort(reverse=True)
    return total, dict(parts), files


def report(app: Path, top: int = 10) -> str:
    """A readable size report (MB = 10^6 bytes)."""
    total, parts, files = measure(app)
    lines = [f"{app}: {total / 1e6:,.0f} MB in {len(files)} files"]
    lines.append(f"largest {top} parts:")
    for name, size in sorted(parts.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {size / 1e6:9,.1f} MB  {name}")
    lines.append(f"largest {top} files:")
    lines += [f"  {size / 1e6:9,.1f} MB  {name}" for size, name in files[:top]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", type=Path, nargs="?", default=Path("dist/PoxScreen"))
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    if not args.app.is_dir():
        print(f"{args.app}: not built (run make package)", file=sys.stderr)
        return 2
    print(report(args.app, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
