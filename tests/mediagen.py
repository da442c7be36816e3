"""Media made at test time (PyAV and Pillow); real files made by other tools are in tests/media."""

from __future__ import annotations

import io
import math
import struct
import zlib
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
        vs.options = {"preset": "ultrafast"} if codec in ("libx264", "libx265") else {}
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
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    seconds: float,
    frequencies: tuple[float, ...] = (440.0,),
) -> None:
    """A sine tone, one frequency per channel (one: mono, two: stereo), in 1024-sample frames."""
    rate = stream.codec_context.sample_rate or 44100
    layout = "mono" if len(frequencies) == 1 else "stereo"
    fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
    resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
    total, pts = int(seconds * rate), 0
    while pts < total:
        n = min(1024, total - pts)
        t = (np.arange(pts, pts + n) / rate).astype(np.float32)
        planes = np.stack([np.sin(2 * math.pi * f * t) for f in frequencies])
        frame = av.AudioFrame.from_ndarray(
            (0.2 * planes).astype(np.float32), format="fltp", layout=layout
        )
        frame.sample_rate, frame.pts = rate, pts
        for converted in resampler.resample(frame):
            out.mux(stream.encode(converted))
        pts += n
    for converted in resampler.resample(None):
        out.mux(stream.encode(converted))
    out.mux(stream.encode())


def write_rotated_video(
    path: Path,
    *,
    width: int = 640,
    height: int = 360,
    seconds: float = 2.0,
    fps: int = 30,
    rotation: int = 90,
    audio: bool = False,
) -> Path:
    """A phone-style clip: stored ``width``×``height`` with a display-matrix rotation.

    ``rotation`` is counter-clockwise, as PyAV reads it back (VideoFrame.rotation). The stored
    picture's top-left quarter is white and the rest dark, so a test can tell which way the
    picture was turned.
    """
    frames = max(1, round(seconds * fps))
    arr = np.full((height, width, 3), 30, dtype=np.uint8)
    arr[: height // 2, : width // 2] = 255
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        stream.set_display_rotation(rotation)
        tone = None
        if audio:
            tone = out.add_stream("aac", rate=44100)
            tone.layout = "mono"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        if tone is not None:
            _write_tone(out, tone, seconds)
    return path


def write_gif(
    path: Path, *, width: int = 320, height: int = 240, seconds: float = 3.0, fps: int = 10
) -> Path:
    """An animated GIF (Pillow) with a bar sweeping across, as Telegram's "GIFs" are made."""
    count = max(2, round(seconds * fps))
    frames = []
    for i in range(count):
        arr = np.full((height, width, 3), (40, 90, 160), dtype=np.uint8)
        arr[:, (i * width) // count : (i * width) // count + max(1, width // 10)] = 250
        frames.append(Image.fromarray(arr, "RGB"))
    frames[0].save(
        path, format="GIF", save_all=True, append_images=frames[1:], duration=1000 // fps, loop=0
    )
    return path


def write_noise_video(
    path: Path, *, width: int, height: int, frames: int, fps: int, seed: int = 1
) -> Path:
    """A lossless H.264 clip of random noise: incompressible, so it is large for its length.

    Sixteen noise pictures are cycled (making each one is the slow part); with one reference
    frame the encoder cannot exploit the repeat, so every frame costs its full size.
    """
    rng = np.random.default_rng(seed)
    pictures = [
        av.VideoFrame.from_ndarray(
            rng.integers(0, 256, (height, width, 3), dtype=np.uint8), format="rgb24"
        )
        for _ in range(min(16, frames))
    ]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "qp": "0"}
        for i in range(frames):
            frame = pictures[i % len(pictures)]
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def write_metadata_video(path: Path, *, metadata: dict[str, str], seconds: float = 3.0) -> Path:
    """A compliant 640×640 24 fps H.264 MP4 carrying container metadata (e.g. a GPS location)."""
    src = write_video(path.with_name(f"{path.stem}.plain.mp4"), seconds=seconds)
    with av.open(str(src)) as source, av.open(str(path), "w", format="mp4") as out:
        out.metadata.update(metadata)
        targets = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:
                continue
            packet.stream = targets[packet.stream.index]
            out.mux(packet)
    src.unlink()
    return path


def write_stereo_audio(
    path: Path,
    *,
    seconds: float = 3.0,
    codec: str = "libmp3lame",
    container: str | None = None,
    rate: int = 44100,
) -> Path:
    """Like write_audio, in stereo: 440 Hz on the left, 660 Hz on the right."""
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        _write_tone(out, stream, seconds, (440.0, 660.0))
    return path


def write_vfr_video(
    path: Path,
    *,
    width: int = 384,
    height: int = 384,
    seconds: float = 4.0,
    flash_at: float = 2.0,
    flash_for: float = 0.3,
) -> Path:
    """A variable-frame-rate clip (frames 20-50 ms apart) with a flash and a beep at one instant.

    The picture is black except white from ``flash_at`` for ``flash_for`` seconds; the sound is
    silent except a 1 kHz tone over the same span, so a test can measure A/V sync.
    """
    steps = (20, 50, 33, 45, 25, 40)  # ms between frames, repeating: average 35.5 ms
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        video.codec_context.time_base = Fraction(1, 1000)
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "mono"
        dark = av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), format="rgb24")
        light = av.VideoFrame.from_ndarray(
            np.full((height, width, 3), 255, np.uint8), format="rgb24"
        )
        ms, i = 0, 0
        while ms < seconds * 1000:
            lit = flash_at * 1000 <= ms < (flash_at + flash_for) * 1000
            frame = light if lit else dark
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            out.mux(video.encode(frame))
            ms += steps[i % len(steps)]
            i += 1
        out.mux(video.encode())
        rate, total, pts = 44100, int(seconds * 44100), 0
        while pts < total:
            n = min(1024, total - pts)
            t = np.arange(pts, pts + n) / rate
            beep = (t >= flash_at) & (t < flash_at + flash_for)
            samples = (0.5 * np.sin(2 * math.pi * 1000 * t) * beep).astype(np.float32)
            sound = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="fltp", layout="mono")
            sound.sample_rate, sound.pts = rate, pts
            out.mux(audio.encode(sound))
            pts += n
        out.mux(audio.encode())
    return path


def write_mp3_with_cover(path: Path, *, seconds: float = 3.0) -> Path:
    """An MP3 with embedded cover art (an attached-picture video stream), as music files have."""
    cover = image_bytes(300, 300, "JPEG")
    with av.open(str(path), "w", format="mp3") as out:
        sound = out.add_stream("libmp3lame", rate=44100)
        sound.layout = "mono"
        picture = out.add_stream("mjpeg")
        picture.width, picture.height, picture.pix_fmt = 300, 300, "yuvj420p"
        picture.disposition = av.stream.Disposition.attached_pic
        packet = av.Packet(cover)
        packet.stream = picture
        packet.pts = packet.dts = 0
        out.mux(packet)
        _write_tone(out, sound, seconds)
    return path


def flat_png(width: int, height: int, *, bits: int = 8, colour: bool = True) -> bytes:
    """A valid PNG of one flat colour: tiny on disk however many pixels it declares and decodes
    to (a decompression bomb when large). ``bits=1`` with ``colour=False`` is 1-bit grey."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    colour_type = 2 if colour else 0
    header = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    row_bytes = (width * (3 if colour else 1) * bits + 7) // 8
    row = b"\x00" + (bytes([60, 140, 200]) * width if colour and bits == 8 else bytes(row_bytes))
    deflate = zlib.compressobj(9)
    body = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
    return png + chunk(b"IEND", b"")
