"""Turn a photo a user sent into a reference image the upstream accepts, or refuse it clearly.

Everything here is synchronous and file-to-file; it runs in a media worker process. The file is
identified by its content (never its name or MIME type), decoded once, and written again only when
something has to change: format, orientation, aspect ratio, size, or metadata. EXIF, GPS and other
metadata never reach the output, because the file is served at a public URL.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Final

from PIL import ExifTags, Image, ImageFile, ImageStat, UnidentifiedImageError

from bot.limits import (
    ASPECT_MAX,
    ASPECT_MIN,
    IMAGE_FORMATS,
    IMAGE_MAX_BYTES,
    IMAGE_MAX_SIDE,
    IMAGE_MIN_SIDE,
)
from bot.media.files import atomic_copy, check_stem, partial_path
from bot.media.formats import dims, picture_label
from bot.media.pillow_formats import HEIF_SUPPORTED, OPEN_FORMATS
from bot.media.results import Change, MediaRejected, require

__all__ = [
    "HEIF_SUPPORTED",
    "MAX_PIXELS",
    "MIN_UPSCALE_SIDE",
    "Change",
    "ImageResult",
    "MediaRejected",
    "normalise_image",
]

# Images with a side shorter than this are refused as too_small, even when padding alone would
# fix them: using them means blowing them up more than 3x (mush), or they are slivers.
MIN_UPSCALE_SIDE: Final = 100

# Pillow's own default decompression-bomb threshold (Image.MAX_IMAGE_PIXELS, ~89.5 MP). Pillow
# warns above it while opening, before we can look at the size, so both checks use one number.
MAX_PIXELS: Final = 89_478_485

JPEG_QUALITY: Final = 92
# Only used when an encoded file would exceed IMAGE_MAX_BYTES.
_JPEG_FALLBACK_QUALITIES: Final = (85, 75, 65, 50)
_WEBP_FALLBACK_QUALITIES: Final = (90, 80, 70, 60)

_MIME_TYPES: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_EXTENSIONS: Final = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}

# Formats a phone or desktop plausibly sends (bot.media.formats.PILLOW_FORMATS). Anything else
# (EPS, which runs Ghostscript, PSD, ICO, ...) is "not an image" rather than handed to a rarely
# used decoder.
_INPUT_FORMATS: Final = OPEN_FORMATS

# Exact bounds, so padding lands on the limit rather than a float's width off it.
_ASPECT_MIN: Final = Fraction(str(ASPECT_MIN))
_ASPECT_MAX: Final = Fraction(str(ASPECT_MAX))

_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES: Final = frozenset({5, 6, 7, 8})

# Image.info keys that describe how to decode or display the pixels and say nothing about the
# person or the device; any other key counts as metadata and forces a clean re-encode.
_HARMLESS_INFO: Final = frozenset(
    {
        "jfif",
        "jfif_version",
        "jfif_unit",
        "jfif_density",
        "dpi",
        "adobe",
        "adobe_transform",
        "progressive",
        "progression",
        "icc_profile",
        "gamma",
        "srgb",
        "chromaticity",
        "transparency",
        "aspect",
        "interlace",
        "loop",
        "duration",
        "background",
        "timestamp",
        "default_image",
        "disposal",
        "blend",
    }
)
# Info keys for metadata we name when reporting what was removed.
_NAMED_METADATA: Final = frozenset(
    {"exif", "Raw profile type exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc"}
)
# JPEG APPn segments that are either harmless (JFIF, ICC profile, Adobe colour transform,
# multi-picture index) or already reported by name (EXIF, XMP, IPTC, comment).
_KNOWN_JPEG_APPS: Final = (
    ("APP0", b"JFIF\0"),
    ("APP2", b"ICC_PROFILE\0"),
    ("APP2", b"MPF\0"),
    ("APP14", b"Adobe"),
    ("APP1", b"Exif\0"),
    ("APP1", b"http://ns.adobe.com/xap/1.0/\0"),
    ("APP13", b"Photoshop 3.0\0"),
    ("COM", b""),
)

# Kinds of private data, in the order they are named (bot.media.results: ``metadata_removed``).
METADATA_KIND_ORDER: Final = (
    "location",
    "date",
    "device",
    "camera_settings",
    "author",
    "comment",
    "xmp",
    "iptc",
    "text",
    "other",
)
_T = ExifTags.Base
# EXIF (and TIFF, whose own tags Pillow reads as EXIF) tags that describe the pixels and how
# they are stored, nothing about a person, place or device.
_LAYOUT_TAGS: Final = frozenset(
    {
        _T.NewSubfileType,
        _T.SubfileType,
        _T.Thresholding,
        _T.CellWidth,
        _T.CellLength,
        _T.FillOrder,
        _T.StripOffsets,
        _T.RowsPerStrip,
        _T.StripByteCounts,
        _T.MinSampleValue,
        _T.MaxSampleValue,
        _T.GrayResponseUnit,
        _T.GrayResponseCurve,
        _T.PageNumber,
        _T.TransferFunction,
        _T.Predictor,
        _T.WhitePoint,
        _T.PrimaryChromaticities,
        _T.ColorMap,
        _T.HalftoneHints,
        _T.TileWidth,
        _T.TileLength,
        _T.TileOffsets,
        _T.TileByteCounts,
        _T.ExtraSamples,
        _T.SampleFormat,
        _T.SMinSampleValue,
        _T.SMaxSampleValue,
        _T.JPEGTables,
        _T.YCbCrCoefficients,
        _T.ReferenceBlackWhite,
        _T.InterColorProfile,
        _T.Gamma,
        _T.ImageWidth,
        _T.ImageLength,
        _T.BitsPerSample,
        _T.Compression,
        _T.PhotometricInterpretation,
        _T.Orientation,
        _T.SamplesPerPixel,
        _T.PlanarConfiguration,
        _T.XResolution,
        _T.YResolution,
        _T.ResolutionUnit,
        _T.YCbCrSubSampling,
        _T.YCbCrPositioning,
        _T.ExifOffset,
        _T.GPSInfo,
        _T.ExifVersion,
        _T.FlashPixVersion,
        _T.ColorSpace,
        _T.ComponentsConfiguration,
        _T.ExifImageWidth,
        _T.ExifImageHeight,
        _T.ExifInteroperabilityOffset,
    }
)
_EXIF_TAG_KINDS: Final[dict[int, str]] = {
    _T.XMLPacket: "xmp",
    _T.ImageResources: "iptc",  # Photoshop's, IPTC captions included
    33723: "iptc",  # IPTC-NAA
    _T.DocumentName: "comment",
    _T.PageName: "comment",
    _T.DateTime: "date",
    _T.DateTimeOriginal: "date",
    _T.DateTimeDigitized: "date",
    _T.OffsetTime: "date",
    _T.OffsetTimeOriginal: "date",
    _T.OffsetTimeDigitized: "date",
    _T.SubsecTime: "date",
    _T.SubsecTimeOriginal: "date",
    _T.SubsecTimeDigitized: "date",
    _T.Make: "device",
    _T.Model: "device",
    _T.Software: "device",
    _T.HostComputer: "device",
    _T.LensMake: "device",
    _T.LensModel: "device",
    _T.LensSerialNumber: "device",
    _T.BodySerialNumber: "device",
    _T.MakerNote: "device",
    _T.Artist: "author",
    _T.Copyright: "author",
    _T.CameraOwnerName: "author",
    _T.ImageDescription: "comment",
    _T.UserComment: "comment",
    _T.XPComment: "comment",
    _T.XPAuthor: "author",
    _T.XPTitle: "comment",
    _T.XPSubject: "comment",
    _T.XPKeywords: "comment",
}

# What a broken file makes Pillow's decoders raise.
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
)


@dataclass(frozen=True)
class ImageResult:
    """The file to send upstream and what was done to get it."""

    path: Path
    format: str  # "JPEG" | "PNG" | "WEBP"
    width: int
    height: int
    size: int  # bytes
    mime_type: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class _Plan:
    """Where the (scaled) picture goes on the (padded, scaled) output canvas."""

    padded: tuple[int, int]  # canvas before scaling
    canvas: tuple[int, int]
    content: tuple[int, int]

    @property
    def offset(self) -> tuple[int, int]:
        return (
            (self.canvas[0] - self.content[0]) // 2,
            (self.canvas[1] - self.content[1]) // 2,
        )


@dataclass(frozen=True)
class _Source:
    """What we learnt about the input while decoding it."""

    format: str  # as reported to the user: MPO (a phone's multi-picture JPEG) counts as JPEG
    changes: list[Change]
    icc_profile: bytes | None
    convert_note: dict[str, str | int | float]


def normalise_image(src: Path, dest_dir: Path, *, stem: str) -> ImageResult:
    """Write an upstream-acceptable copy of the image at ``src`` to ``dest_dir/stem.<ext>``.

    A JPEG/PNG/WEBP that is already within every limit, has no metadata and needs no rotation is
    copied byte for byte. Anything else is decoded (first frame only), rotated per EXIF, padded
    to the allowed aspect ratio, scaled into the allowed size and written as JPEG, or PNG when it
    has real transparency, with no metadata. Raises MediaRejected when that is impossible.
    """
    check_stem(stem)
    src_size = src.stat().st_size  # a missing file is the caller's bug, not the user's
    if src_size == 0:
        raise MediaRejected("corrupt")
    dest_dir.mkdir(parents=True, exist_ok=True)

    with _bomb_guard(src):
        decoded = _decode(src, src_size)
    if isinstance(decoded, _Passthrough):
        path = dest_dir / f"{stem}{_EXTENSIONS[decoded.format]}"
        atomic_copy(src, path)
        return _result(path, decoded.format, decoded.size, (), src_size)

    image, source = decoded
    del decoded  # `image` must be the only reference, so each step below can free the last one
    changes = source.changes
    image = _apply_plan(image, _plan(*image.size), changes)
    out_format, path, size, quality = _save(image, dest_dir, stem, source.icc_profile)
    width, height = image.size
    del image

    if out_format != source.format or source.convert_note:
        convert_params: dict[str, str | int | float] = {
            "from": picture_label(source.format),
            "to": picture_label(out_format),
        }
        convert_params.update(source.convert_note)
        changes.insert(0, Change("converted", convert_params))
    if quality is not None:
        changes.append(Change("compressed", {"quality": quality}))
    return _result(path, out_format, (width, height), tuple(changes), size)


@dataclass(frozen=True)
class _Passthrough:
    format: str
    size: tuple[int, int]


@contextmanager
def _bomb_guard(src: Path) -> Iterator[None]:
    """Turn Pillow's decompression-bomb warning and error into MediaRejected."""
    # catch_warnings swaps process-wide state, so two threads racing here can leave the "error"
    # filter installed; that only makes DecompressionBombWarning an error everywhere, which is
    # harmless, and the explicit MAX_PIXELS check in _decode does not depend on the filter.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            declared = _declared_size(src)
            if declared is None:  # the message then names the limit only, never "?×?"
                raise MediaRejected("too_many_pixels", variant="unsized", max=MAX_PIXELS) from exc
            width, height = declared
            raise MediaRejected(
                "too_many_pixels", width=width, height=height, max=MAX_PIXELS
            ) from exc


def _declared_size(src: Path) -> tuple[int, int] | None:
    """The size a file's header declares, read without Pillow's bomb check (which just fired).

    Mirrors what Image.open does, minus that check, so the refusal can name the size.
    """
    with src.open("rb") as fp:
        prefix = fp.read(16)
        for name in _INPUT_FORMATS:
            factory, accept = Image.OPEN[name]
            if accept is not None and accept(prefix) is not True:
                continue
            fp.seek(0)
            size = _header_size(factory, fp, str(src))
            if size is not None:
                return size
    return None


def _header_size(
    factory: Callable[[IO[bytes], str], ImageFile.ImageFile], fp: IO[bytes], name: str
) -> tuple[int, int] | None:
    try:
        return factory(fp, name).size  # a plugin's constructor parses the header only
    except Exception:  # not this format, or a plugin that checks for bombs itself
        return None


def _decode(src: Path, src_size: int) -> tuple[Image.Image, _Source] | _Passthrough:
    """Open, vet and decode the first frame; return it ready for the geometry step."""
    source_format = "picture"
    try:
        with Image.open(src, formats=_INPUT_FORMATS) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise MediaRejected("too_many_pixels", width=width, height=height, max=MAX_PIXELS)
            if min(width, height) < MIN_UPSCALE_SIDE:
                raise MediaRejected("too_small", width=width, height=height, min=IMAGE_MIN_SIDE)
            source_format = opened.format or "unknown"
            animated = bool(getattr(opened, "is_animated", False)) and source_format != "MPO"
            opened.load()  # decodes the whole first frame: truncated files fail here

            exif = _read_exif(opened)
            orientation = exif.get(ExifTags.Base.Orientation, 1)
            if orientation not in _TRANSPOSE:
                orientation = 1
            kinds = _metadata_kinds(opened, exif)

            if (
                source_format in IMAGE_FORMATS
                and not animated
                and orientation == 1
                and not kinds
                and opened.mode != "CMYK"
                and src_size <= IMAGE_MAX_BYTES
                and _within_limits(width, height)
            ):
                return _Passthrough(source_format, (width, height))

            icc = opened.info.get("icc_profile")
            keep_icc = isinstance(icc, bytes) and opened.mode in {"RGB", "RGBA", "RGBX", "P", "PA"}
            note: dict[str, str | int | float] = {}
            if animated:
                note["animated"] = 1
            if opened.mode == "CMYK":
                note["colour"] = "CMYK"
            image = _to_output_mode(opened)
    except UnidentifiedImageError as exc:
        raise MediaRejected("not_an_image") from exc
    except _DECODE_ERRORS as exc:
        # The header was a picture's; its pixels are not all there (cut short, garbled).
        raise MediaRejected("damaged_picture", format=picture_label(source_format)) from exc

    changes: list[Change] = []
    if orientation != 1:
        image = image.transpose(_TRANSPOSE[orientation])
        changes.append(Change("rotated", {"orientation": orientation}))
    if kinds:
        changes.append(Change("metadata_removed", {"kinds": ", ".join(kinds)}))
    return image, _Source(
        format="JPEG" if source_format == "MPO" else source_format,
        changes=changes,
        icc_profile=icc if keep_icc and isinstance(icc, bytes) else None,
        convert_note=note,
    )


def _read_exif(image: Image.Image) -> Image.Exif:
    # EXIF is untrusted and Pillow's parser raises assorted errors on junk; junk EXIF is simply
    # dropped (it is still reported as removed, from the raw info keys).
    try:
        return image.getexif()
    except Exception:
        return Image.Exif()


def _metadata_kinds(image: ImageFile.ImageFile, exif: Image.Exif) -> list[str]:
    """What private data the file carries, as kinds (bot.media.results' ``metadata_removed``),
    in a stable order; [] when there is none.

    EXIF is read tag by tag: the orientation or resolution say nothing about anyone, a phone's
    model or a GPS position do.
    """
    info = image.info
    found = _exif_kinds(exif) if exif else set()
    if "exif" in info and not exif:
        found.add("other")  # EXIF Pillow could not parse: unknown, so assume the worst
    if "Raw profile type exif" in info:
        found.add("other")
    if "xmp" in info or "XML:com.adobe.xmp" in info:
        found.add("xmp")
    if "comment" in info:
        found.add("comment")
    if "photoshop" in info or "iptc" in info:
        found.add("iptc")
    if image.format == "PNG" and any(
        k not in _HARMLESS_INFO and k not in _NAMED_METADATA for k in info
    ):
        found.add("text")
    applist: list[tuple[str, bytes]] = getattr(image, "applist", [])
    if any(
        not any(name == known and data.startswith(prefix) for known, prefix in _KNOWN_JPEG_APPS)
        for name, data in applist
    ):
        found.add("other")
    return [kind for kind in METADATA_KIND_ORDER if kind in found]


def _exif_kinds(exif: Image.Exif) -> set[str]:
    found: set[str] = set()
    tags: dict[int, object] = dict(exif)
    for ifd in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.IFD1):
        try:
            sub = exif.get_ifd(ifd)
        except Exception:  # junk EXIF: Pillow's parser raises assorted errors
            found.add("other")
            continue
        if ifd is ExifTags.IFD.GPSInfo:
            if sub:
                found.add("location")
        elif ifd is ExifTags.IFD.IFD1:
            if sub:
                found.add("other")  # an embedded thumbnail may show what the picture cropped
        else:
            tags.update(sub)
    for tag in tags:
        if tag in _LAYOUT_TAGS:
            continue
        found.add(_EXIF_TAG_KINDS.get(tag, "camera_settings"))
    return found


def _to_output_mode(image: Image.Image) -> Image.Image:
    """A new RGBA image if the picture has real transparency, else a new RGB image."""
    if image.mode in {"I;16", "I;16L", "I;16B", "I;16N", "I"}:
        # Pillow clips 16-bit values when converting to 8 bit; scale them instead.
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    alpha: Image.Image | None = None
    if image.mode in {"RGBA", "LA", "PA"}:
        alpha = image.getchannel("A")
    elif "transparency" in image.info:
        image = image.convert("RGBA")
        alpha = image.getchannel("A")
    if alpha is not None:
        lowest = alpha.getextrema()[0]
        del alpha
        if isinstance(lowest, int | float) and lowest < 255:
            return image.convert("RGBA")
    return image.convert("RGB")


def _within_limits(width: int, height: int) -> bool:
    return (
        IMAGE_MIN_SIDE <= width <= IMAGE_MAX_SIDE
        and IMAGE_MIN_SIDE <= height <= IMAGE_MAX_SIDE
        and _ASPECT_MIN <= Fraction(width, height) <= _ASPECT_MAX
    )


def _plan(width: int, height: int) -> _Plan:
    """Pad to the nearest allowed aspect ratio first, then scale the padded canvas into range.

    Padding first guarantees scaling cannot push the other side out of range (a 100×6000 strip
    becomes 2400×6000, not 300×18000 then something too narrow).
    """
    padded_w, padded_h = width, height
    if Fraction(width, height) > _ASPECT_MAX:
        padded_h = math.ceil(width / _ASPECT_MAX)
    elif Fraction(width, height) < _ASPECT_MIN:
        padded_w = math.ceil(height * _ASPECT_MIN)

    scale = Fraction(1)
    if max(padded_w, padded_h) > IMAGE_MAX_SIDE:
        scale = Fraction(IMAGE_MAX_SIDE, max(padded_w, padded_h))
    elif min(padded_w, padded_h) < IMAGE_MIN_SIDE:
        scale = Fraction(IMAGE_MIN_SIDE, min(padded_w, padded_h))

    # With an exact scale the limiting side lands exactly on its bound, and rounding the other
    # side cannot cross the aspect bound: its exact value is inside it and the bound itself
    # (6000/2.5 or 300*2.5 px) is a whole number.
    canvas = (max(1, round(padded_w * scale)), max(1, round(padded_h * scale)))
    if (padded_w, padded_h) == (width, height):
        content = canvas
    else:
        content = (
            min(canvas[0], max(1, round(width * scale))),
            min(canvas[1], max(1, round(height * scale))),
        )
    require(_within_limits(*canvas), f"image plan {width}×{height} -> {canvas}")
    return _Plan(padded=(padded_w, padded_h), canvas=canvas, content=content)


def _apply_plan(image: Image.Image, plan: _Plan, changes: list[Change]) -> Image.Image:
    """Scale the picture, then pad it; the same result as pad-then-scale, with less memory."""
    size = image.size
    if plan.padded != size:
        changes.append(Change("padded", {"from": dims(size), "to": dims(plan.padded)}))
    if plan.canvas != plan.padded:
        code = "downscaled" if plan.canvas[0] < plan.padded[0] else "upscaled"
        changes.append(Change(code, {"from": dims(plan.padded), "to": dims(plan.canvas)}))

    if plan.content != size:
        downscaling = plan.content[0] < size[0]
        image = image.resize(
            plan.content,
            Image.Resampling.LANCZOS,
            reducing_gap=3.0 if downscaling else None,
        )
    if plan.canvas != plan.content:
        canvas = Image.new(image.mode, plan.canvas, _edge_colour(image, plan))
        canvas.paste(image, plan.offset)
        image = canvas
    return image


def _edge_colour(image: Image.Image, plan: _Plan) -> tuple[int, ...]:
    """Mean colour of the two edges the padding will touch, so the bars look like background."""
    width, height = image.size
    if plan.canvas[1] > plan.content[1]:  # bars above and below
        edges = [image.crop((0, 0, width, 1)), image.crop((0, height - 1, width, height))]
    else:  # bars left and right
        edges = [image.crop((0, 0, 1, height)), image.crop((width - 1, 0, width, height))]
    means = [ImageStat.Stat(edge).mean for edge in edges]
    return tuple(round(sum(band) / len(band)) for band in zip(*means, strict=True))


def _save(
    image: Image.Image, dest_dir: Path, stem: str, icc_profile: bytes | None
) -> tuple[str, Path, int, int | None]:
    """Encode with the best settings that fit IMAGE_MAX_BYTES; return format, path, size, quality.

    The quality is None when the default settings fitted.
    """
    image.info = {}  # nothing from the source's info (EXIF, XMP, text, comments) is written
    extra: dict[str, Any] = {"icc_profile": icc_profile} if icc_profile else {}
    attempts: list[tuple[str, dict[str, Any], int | None]]
    if image.mode == "RGBA":
        attempts = [("PNG", {}, None)]
        attempts += [("WEBP", {"quality": q}, q) for q in _WEBP_FALLBACK_QUALITIES]
    else:
        attempts = [("JPEG", {"quality": JPEG_QUALITY}, None)]
        attempts += [("JPEG", {"quality": q}, q) for q in _JPEG_FALLBACK_QUALITIES]

    size = 0
    for out_format, options, quality in attempts:
        path = dest_dir / f"{stem}{_EXTENSIONS[out_format]}"
        tmp = partial_path(path)
        try:
            image.save(tmp, format=out_format, **options, **extra)
            size = tmp.stat().st_size
            if size <= IMAGE_MAX_BYTES:
                os.replace(tmp, path)
                return out_format, path, size, quality
        finally:
            tmp.unlink(missing_ok=True)
    raise MediaRejected("too_big", size=size, limit=IMAGE_MAX_BYTES)


def _result(
    path: Path,
    out_format: str,
    size_px: tuple[int, int],
    changes: tuple[Change, ...],
    size: int,
) -> ImageResult:
    width, height = size_px
    require(out_format in IMAGE_FORMATS, f"image format {out_format}")
    require(_within_limits(width, height), f"image size {width}×{height}")
    require(0 < size <= IMAGE_MAX_BYTES, f"image bytes {size}")
    require(path.stat().st_size == size, f"image file {path.name} is not {size} bytes")
    return ImageResult(
        path=path,
        format=out_format,
        width=width,
        height=height,
        size=size,
        mime_type=_MIME_TYPES[out_format],
        changes=changes,
    )
