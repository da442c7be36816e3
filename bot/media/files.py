"""Writing media files safely: plain output names, and a temporary name until complete."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def check_stem(stem: str) -> None:
    """Refuse an output stem that is not a plain file name (a caller bug, so ValueError)."""
    if not stem or stem != Path(stem).name or stem.startswith("."):
        raise ValueError(f"stem must be a plain file name, got {stem!r}")


def partial_path(path: Path) -> Path:
    """Where ``path`` is written before being renamed into place."""
    # Next to the destination, so the rename is atomic and a half-written file is never served
    # at the final name.
    return path.with_name(f".{path.name}.part")


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` byte for byte, via a temporary name."""
    tmp = partial_path(dest)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
