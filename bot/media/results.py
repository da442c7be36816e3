"""What media processing reports: a fix it made to a file, or why the file cannot be used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Change:
    """One thing the bot fixed in a file; rendered to words elsewhere.

    Codes and their params:

    - ``converted``: ``from``, ``to`` (formats; ``MPO`` is reported as ``JPEG``), plus
      ``animated=1`` when only the first frame was kept and ``colour="CMYK"`` for CMYK JPEGs.
    - ``rotated``: ``orientation`` (the EXIF value that was applied, 2-8).
    - ``padded``: ``from``, ``to`` (``"W×H"``, before any scaling).
    - ``downscaled`` / ``upscaled``: ``from``, ``to`` (``"W×H"``).
    - ``metadata_removed``: ``kinds`` (e.g. ``"EXIF, GPS, XMP"``).
    - ``compressed``: ``quality`` (only when the file had to be re-encoded below the default
      quality to fit IMAGE_MAX_BYTES).
    """

    code: str
    params: dict[str, str | int | float] = field(default_factory=dict, hash=False)


class MediaRejected(Exception):
    """The file cannot be used; rendered to words elsewhere.

    Codes: ``not_an_image``; ``corrupt``; ``too_small`` (``width``, ``height``, ``min``);
    ``too_many_pixels`` (``width``, ``height``, ``max`` pixels; width and height are ``"?"`` if
    the header cannot be read without tripping Pillow's own check); ``too_big`` (``size``,
    ``limit``, in bytes).
    """

    def __init__(self, code: str, **params: str | int | float) -> None:
        super().__init__(code, params)
        self.code = code
        self.params: dict[str, str | int | float] = dict(params)

    def __str__(self) -> str:
        if not self.params:
            return self.code
        details = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.code} ({details})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword params are not in self.args, so the default pickling would lose them.
        return (type(self), (self.code,), self.__dict__)
