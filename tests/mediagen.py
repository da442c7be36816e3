"""Media made at test time (PyAV and Pillow), so no binary fixtures live in the repository."""

from __future__ import annotations

import io
import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def image_bytes(
    width: int, height: int, fmt: str = "JPEG", color: tuple[int, int, int] = (200, 80, 40)
) -> bytes:
    """An image of the given size and format (JPEG, PNG, WEBP, GIF, BMP, ...), with a gradient."""
    img = Image.new("RGB", (width, height), color)
    # A gradient so encoders and scalers have real content to work on.
    px = img.load()
    assert px is not None
    step = max(1, width // 64)
    for x in range(0, width, step):
        for y in range(0, height, max(1, height // 8)):
            px[x, y] = (x * 255 // max(1, width), y * 255 // max(1, height), 128)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def write_video(
    path: Path,
    *,
    width: int = 640,
    height: int = 640,
    seconds: float = 3.0,
    fps: int = 24,
    audio: bool = True,
    codec: str = "libx264",
    container: str | None = None,
) -> Path:
    """Write an H.264 (or other codec) video with a moving pattern and, optionally, a sine tone."""
    frames = max(1, round(seconds * fps))
    with av.open(str(path), "w", format=container) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = width, height
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "ultrafast"} if codec == "libx264" else {}
        as_ = None
        if audio:
            as_ = out.add_stream("aac", rate=44100)
            as_.layout = "mono"
        for i in range(frames):
            arr = np.full((height, width, 3), (i * 7) % 255, dtype=np.uint8)
            arr[:, : max(1, (i * 13) % width)] = 40
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            _write_tone(out, as_, seconds)
    return path


def write_audio(
    path: Path,
    *,
    seconds: float = 3.0,
    codec: str = "libmp3lame",
    container: str | None = None,
    rate: int = 44100,
) -> Path:
    """Write a sine tone as MP3 (default), WAV (codec pcm_s16le) or OGG/Opus (codec libopus)."""
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        _write_tone(out, stream, seconds)
    return path


def _write_tone(
    out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float
) -> None:
    rate = stream.codec_context.sample_rate or 44100
    total = int(seconds * rate)
    chunk = 1024
    fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
    pts = 0
    while pts < total:
        n = min(chunk, total - pts)
        t = (np.arange(pts, pts + n) / rate).astype(np.float32)
        samples = (0.2 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = pts
        if fmt != "fltp":
            frame = av.AudioResampler(format=fmt, layout="mono", rate=rate).resample(frame)[0]
            frame.pts = pts
        for packet in stream.encode(frame):
            out.mux(packet)
        pts += n
    for packet in stream.encode():
        out.mux(packet)
