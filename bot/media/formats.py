"""Every table of formats, demuxers and codec names the media code uses, in one place.

Plain data and small functions: importing this module loads neither PyAV nor Pillow, so the bot
process can name formats in its messages without decoding anything.
"""

from __future__ import annotations

import math
from typing import Final

# FFmpeg's demuxer for the ISO BMFF family (MP4, MOV, 3GP, M4A, HEIF, AVIF).
MOV_DEMUXER: Final = "mov,mp4,m4a,3gp,3g2,mj2"

# FFmpeg demuxers for picture files, besides the "*_pipe" ones (png_pipe, jpegxl_pipe, ...):
# one frame is a still, more an animation.
PICTURE_DEMUXERS: Final = frozenset({"image2", "gif", "apng", "webp", "jpegxl_anim", "ico"})
# MP4-family brands of still-image files (HEIF/HEIC/AVIF items): FFmpeg reads them as a
# one-frame video, but they are pictures.
PICTURE_BRANDS: Final = frozenset({"heic", "heix", "heim", "heis", "mif1", "msf1", "avif"})

# Still formats Pillow opens for us (with pillow-heif for HEIF). Others (EPS, which runs
# Ghostscript, PSD, ICO, ...) are never handed to a rarely used decoder.
PILLOW_FORMATS: Final = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO", "HEIF", "AVIF")
# Of those, the ones that can hold an animation, and whether FFmpeg turns it into a clip (GIF,
# APNG) or nothing can (animated WebP and AVIF: this FFmpeg build decodes neither).
ANIMATION_TO_CLIP: Final = frozenset({"GIF", "PNG"})
ANIMATION_REFUSED: Final = frozenset({"WEBP", "AVIF"})

# Names users know, for notes such as "converted from MOV/HEVC to MP4/H.264".
CODEC_LABELS: Final = {
    "h264": "H.264",
    "hevc": "HEVC",
    "av1": "AV1",
    "vp8": "VP8",
    "vp9": "VP9",
    "vvc": "H.266",
    "mpeg4": "MPEG-4",
    "h263": "H.263",
    "mpeg1video": "MPEG-1",
    "mpeg2video": "MPEG-2",
    "mjpeg": "MJPEG",
    "prores": "ProRes",
    "theora": "Theora",
    "wmv3": "WMV",
    "vc1": "VC-1",
    "gif": "GIF",
    "apng": "APNG",
    "webp": "WebP",
    "png": "PNG",
    "aac": "AAC",
    "mp3": "MP3",
    "mp2": "MP2",
    "opus": "Opus",
    "vorbis": "Vorbis",
    "flac": "FLAC",
    "alac": "ALAC",
    "amr_nb": "AMR",
    "amr_wb": "AMR-WB",
    "ac3": "AC-3",
    "eac3": "E-AC-3",
    "truehd": "TrueHD",
    "dts": "DTS",
    "wmav2": "WMA",
}
CONTAINER_LABELS: Final = {
    "gif": "GIF",
    "apng": "APNG",
    "webp": "WebP",
    "avi": "AVI",
    "flv": "FLV",
    "asf": "WMV",
    "mpegts": "MPEG-TS",
    "mpeg": "MPEG-PS",
    "ogg": "OGG",
    "mp3": "MP3",
    "wav": "WAV",
    "flac": "FLAC",
    "aac": "AAC",
    "amr": "AMR",
    "caf": "CAF",
    "aiff": "AIFF",
    "ivf": "IVF",
    "obu": "AV1",
    "ico": "ICO",
    "image2": "picture",
    "jpegxl_anim": "JPEG XL",
    "jpegxl_pipe": "JPEG XL",
    "jpeg_pipe": "JPEG",
    "png_pipe": "PNG",
    "webp_pipe": "WebP",
    "bmp_pipe": "BMP",
    "tiff_pipe": "TIFF",
    "j2k_pipe": "JPEG 2000",
    "psd_pipe": "PSD",
    "svg_pipe": "SVG",
    "dng_pipe": "DNG",
}
_WEBM_CODECS: Final = frozenset({"vp8", "vp9", "av1", "opus", "vorbis"})


def is_picture_demuxer(name: str, *, brand: str = "") -> bool:
    """Whether an FFmpeg demuxer name (with its MP4 major brand, if any) is a picture file's."""
    if name == MOV_DEMUXER:
        return brand.strip().lower() in PICTURE_BRANDS
    return any(part in PICTURE_DEMUXERS or part.endswith("_pipe") for part in name.split(","))


def codec_label(codec: str) -> str:
    """A codec's everyday name (``"hevc"`` -> ``"HEVC"``)."""
    if codec.startswith("pcm_"):
        return "PCM"
    if codec.startswith("adpcm_"):
        return "ADPCM"
    return CODEC_LABELS.get(codec, codec.upper())


def container_label(demuxer: str, *, brand: str = "", codec: str | None = None) -> str:
    """A container's everyday name: the MP4 family is told apart by its ``major_brand``."""
    if demuxer == MOV_DEMUXER:
        brand = brand.strip().lower()
        if brand == "qt":
            return "MOV"
        if brand.startswith("3g"):
            return "3GP"
        if brand.startswith("m4a"):
            return "M4A"
        if brand in ("heic", "heix", "heim", "heis", "mif1", "msf1"):
            return "HEIC"
        if brand.startswith("avi"):
            return "AVIF"
        return "MP4"
    if demuxer.startswith("matroska"):
        return "WebM" if codec in _WEBM_CODECS else "MKV"
    return CONTAINER_LABELS.get(demuxer, demuxer.split(",")[0].upper())


def audio_label(demuxer: str, codec: str, *, brand: str = "") -> str:
    """``"OGG/Opus"``, ``"M4A/AAC"``; one word when container and codec share a name."""
    container = container_label(demuxer, brand=brand, codec=codec)
    name = codec_label(codec)
    if container == "WAV" and name == "PCM":
        return container
    if name.startswith(container):
        return name  # "MP3", "FLAC", "AMR", "AMR-WB"
    return f"{container}/{name}"


def seconds_param(value: float) -> float:
    """Seconds for a message, never rounded up past the truth.

    From one second on, rounded down to 0.1 s, so 1.98 s is never shown as "2.0"; below it, to
    0.01 s, so a 0.4 s clip reads "0.4" and a 0.06 s one "0.06", not "0". Only nothing at all
    reads 0.
    """
    if value <= 0:
        return 0.0
    if value >= 1:
        return math.floor(value * 10 + 1e-9) / 10
    return max(0.01, math.floor(value * 100 + 1e-9) / 100)


def dims(size: tuple[int, int]) -> str:
    """A picture size for a message: ``"1280×720"``."""
    return f"{size[0]}×{size[1]}"


_PICTURE_LABELS: Final = {"WEBP": "WebP", "HEIF": "HEIC", "MPO": "JPEG"}


def picture_label(pillow_format: str) -> str:
    """A Pillow format name as users know it: ``"WEBP"`` -> ``"WebP"``, ``"HEIF"`` -> ``"HEIC"``."""
    return _PICTURE_LABELS.get(pillow_format, pillow_format)


# The first bytes of picture files, for naming a file no decoder could open at all.
_PICTURE_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\xff\x0a", "JPEG XL"),
)


def sniff_picture(head: bytes) -> str | None:
    """The picture format a file's first 32 bytes announce (None: not a picture's)."""
    if head[4:8] == b"ftyp" and head[8:12].decode("latin-1").lower() in PICTURE_BRANDS:
        return container_label(MOV_DEMUXER, brand=head[8:12].decode("latin-1"))
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _PICTURE_SIGNATURES if head.startswith(magic)), None)
