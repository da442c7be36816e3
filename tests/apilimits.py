"""Every limit of the upstream API, checked on an output file by opening it afresh with PyAV or
Pillow (not with the bot's own probe), so a test does not take the bot's word for it."""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image

from bot import limits


def check_image(path: Path) -> tuple[int, int]:
    """A reference image the API accepts, with no metadata left; returns its size."""
    size = path.stat().st_size
    assert 0 < size <= limits.IMAGE_MAX_BYTES, size
    with Image.open(path) as image:
        assert image.format in limits.IMAGE_FORMATS, image.format
        width, height = image.size
        assert not {"exif", "xmp", "comment", "XML:com.adobe.xmp"} & set(image.info), image.info
        assert not image.getexif(), dict(image.getexif())
        image.load()
    assert min(width, height) >= limits.IMAGE_MIN_SIDE
    assert max(width, height) <= limits.IMAGE_MAX_SIDE
    assert limits.ASPECT_MIN <= width / height <= limits.ASPECT_MAX
    return width, height


def check_video(path: Path, *, max_seconds: float = limits.VIDEO_MAX_SECONDS) -> float:
    """A reference video the API accepts (MP4/H.264 yuv420p, upright); returns its seconds."""
    size = path.stat().st_size
    assert 0 < size <= limits.VIDEO_MAX_BYTES, size
    with av.open(str(path)) as container:
        assert "mp4" in container.format.name.split(","), container.format.name
        video = container.streams.video[0]
        ctx = video.codec_context
        assert ctx.name == "h264" and ctx.format is not None and ctx.format.name == "yuv420p"
        width, height = ctx.width, ctx.height
        rate = video.average_rate
        assert rate is not None and limits.VIDEO_MIN_FPS <= rate <= limits.VIDEO_MAX_FPS, rate
        seconds = float(container.duration or 0) / av.time_base
        for audio in container.streams.audio:
            assert audio.codec_context.name == "aac"
        first = next(container.decode(video))
        assert first.rotation == 0
    assert (
        min(width, height) >= limits.IMAGE_MIN_SIDE and max(width, height) <= limits.IMAGE_MAX_SIDE
    )
    assert limits.VIDEO_MIN_PIXELS <= width * height <= limits.VIDEO_MAX_PIXELS
    assert limits.ASPECT_MIN <= width / height <= limits.ASPECT_MAX
    assert limits.VIDEO_MIN_SECONDS <= seconds <= min(max_seconds, limits.VIDEO_MAX_SECONDS) + 0.05
    return seconds


def check_audio(path: Path, *, max_seconds: float = limits.AUDIO_MAX_SECONDS) -> float:
    """A reference sound the API accepts (MP3 or WAV); returns its seconds."""
    size = path.stat().st_size
    assert 0 < size <= limits.AUDIO_MAX_BYTES, size
    with av.open(str(path)) as container:
        assert container.format.name in {"mp3", "wav"}, container.format.name
        assert not container.streams.video
        seconds = float(container.duration or 0) / av.time_base
    assert limits.AUDIO_MIN_SECONDS <= seconds <= min(max_seconds, limits.AUDIO_MAX_SECONDS) + 0.05
    return seconds
