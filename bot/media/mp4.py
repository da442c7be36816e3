"""MP4 files as the bot writes them."""

from __future__ import annotations

from pathlib import Path

import av
from av.container import OutputContainer


def open_mp4(path: Path) -> OutputContainer:
    """A new MP4 at ``path`` with its index first (faststart): it plays while downloading."""
    return av.open(str(path), "w", format="mp4", container_options={"movflags": "+faststart"})
