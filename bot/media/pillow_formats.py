"""Pillow, set up the same way in every process that reads pictures.

HEIC/HEIF is what iPhones shoot: the pillow-heif opener is registered here, on import, so that
probing a document and normalising a photo open exactly the same formats.
"""

from __future__ import annotations

from typing import Final

from PIL import Image

from bot.media.formats import PILLOW_FORMATS


def _register_heif() -> bool:
    # pillow-heif is a dependency; without it (a trimmed build) HEIC is simply not opened.
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - depends on the environment
        return False
    register_heif_opener()
    return True


HEIF_SUPPORTED: Final = _register_heif()
Image.init()
# The formats both probe() and normalise_image() open, by Pillow's names.
OPEN_FORMATS: Final = tuple(f for f in PILLOW_FORMATS if f in Image.OPEN)
