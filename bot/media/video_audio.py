"""Give a silent video a silent audio track.

Telegram shows an MP4 without an audio stream as a GIF (looping, no controls), so before a video
goes back to a user it gets a silent AAC track. The video stream is remuxed packet by packet, never
re-encoded and never held in memory as a whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from bot.media.formats import is_picture_demuxer
from bot.media.mp4 import open_mp4
from bot.media.results import MediaRejected

__all__ = ["SAMPLE_RATE", "add_silent_audio", "ensure_audio_track", "has_audio_stream"]

SAMPLE_RATE: Final = 44_100
_LAYOUT: Final = "mono"
_CHUNK: Final = 1024  # samples per silent frame: one AAC frame
_TIME_BASE: Final = Fraction(1, SAMPLE_RATE)
# Packets without a DTS we are willing to hold back; B-frame reordering needs a few at most.
_MAX_PENDING: Final = 64


def has_audio_stream(path: Path) -> bool:
    """Whether the media file at ``path`` has at least one audio stream.

    Raises MediaRejected("corrupt", reason="unreadable") if FFmpeg cannot read the file.
    """
    path.stat()  # a missing file is the caller's bug, not a corrupt upload
    try:
        with av.open(str(path), "r") as container:
            return bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise MediaRejected("corrupt", reason="unreadable") from exc


def add_silent_audio(src: Path, dest: Path) -> None:
    """Write ``src``'s first video stream plus a silent AAC track to ``dest`` (MP4, faststart).

    The video packets are copied unchanged; the audio lasts as long as the video. Other streams
    (audio, subtitles, data) are not copied. Raises MediaRejected("corrupt") with a ``reason``
    param if ``src`` cannot be read ("unreadable"), has no video stream ("no_video"), is a still
    image or GIF ("still_image"), or its video codec cannot go into MP4 ("unsupported_codec").
    """
    src.stat()
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        _remux_with_silence(src, tmp)
        os.replace(tmp, dest)
    except av.FFmpegError as exc:
        raise MediaRejected("corrupt", reason="unreadable") from exc
    finally:
        tmp.unlink(missing_ok=True)


def ensure_audio_track(src: Path, dest_dir: Path) -> Path:
    """Return ``src`` if it has audio, else the path of a new MP4 in ``dest_dir`` with silence.

    Raises MediaRejected("corrupt") as add_silent_audio does.
    """
    if has_audio_stream(src):
        return src
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{src.stem}.with-audio.mp4"
    add_silent_audio(src, dest)
    return dest


def _remux_with_silence(src: Path, dest: Path) -> None:
    with av.open(str(src), "r") as source:
        if not source.streams.video:
            raise MediaRejected("corrupt", reason="no_video")
        if is_picture_demuxer(source.format.name):
            raise MediaRejected("corrupt", reason="still_image")
        video_in = source.streams.video[0]
        codec = video_in.codec_context.name if video_in.codec_context is not None else "unknown"
        time_base = video_in.time_base
        if time_base is None:
            raise MediaRejected("corrupt", reason="unreadable")
        with open_mp4(dest) as out:
            try:
                video_out = out.add_stream_from_template(video_in)
            except ValueError as exc:  # the MP4 muxer cannot carry this codec
                raise MediaRejected("corrupt", reason="unsupported_codec", codec=codec) from exc
            if codec == "hevc":
                # Apple players (and so Telegram on iOS) only play HEVC in MP4 tagged hvc1;
                # the template copy resets the tag and the muxer would pick hev1.
                video_out.codec_tag = "hvc1"
            audio_out = out.add_stream("aac", rate=SAMPLE_RATE)
            audio_out.layout = _LAYOUT

            silence: _Silence | None = None
            end = Fraction(0)
            for packet in _with_dts(source.demux(video_in)):
                stamp = packet.pts if packet.pts is not None else packet.dts
                assert stamp is not None  # _with_dts guarantees a dts
                if silence is None:
                    start = video_in.start_time if video_in.start_time is not None else stamp
                    silence = _Silence(out, audio_out, start * time_base)
                end = max(end, (stamp + (packet.duration or 0)) * time_base)
                # Audio up to this packet's end first, so the muxer's interleaving buffer stays
                # a few packets deep instead of queueing all the video.
                silence.write_until(end)
                packet.stream = video_out
                out.mux(packet)
            if silence is None:
                raise MediaRejected("corrupt", reason="no_video")
            silence.flush()


def _with_dts(packets: Iterable[Packet[VideoStream]]) -> Iterator[Packet[VideoStream]]:
    """Yield the non-empty packets in order, filling in decode timestamps the demuxer left unset.

    Matroska and WebM store no DTS, so with B-frames the first packets arrive without one, and
    MP4 requires it. Such packets are held back (a handful at most) and spaced evenly before the
    next known DTS.
    """
    pending: list[Packet[VideoStream]] = []
    last: int | None = None
    for packet in packets:
        if packet.size == 0:  # the demuxer's end-of-stream marker
            continue
        if packet.dts is None:
            pending.append(packet)
            if len(pending) > _MAX_PENDING:
                raise MediaRejected("corrupt", reason="unreadable")
            continue
        if pending:
            count = len(pending)
            if last is None:
                step = packet.duration or 1
            else:
                step = max(1, (packet.dts - last) // (count + 1))
            for index, held in enumerate(pending):
                held.dts = packet.dts - (count - index) * step
            yield from pending
            pending.clear()
        last = packet.dts
        yield packet
    if pending:
        # No DTS ever followed: derive one from the presentation times, keeping it increasing
        # and never after the packet's own (or any later packet's) presentation time.
        stamps = [held.pts for held in pending]
        if any(stamp is None for stamp in stamps):
            raise MediaRejected("corrupt", reason="unreadable")
        count = len(pending)
        floor: int | None = None
        for index in range(count - 1, -1, -1):
            stamp = stamps[index]
            assert stamp is not None
            floor = stamp if floor is None else min(floor, stamp)
            pending[index].dts = floor - (count - index)
        yield from pending


class _Silence:
    """Feeds silent frames to an AAC stream up to a given time."""

    def __init__(self, out: OutputContainer, stream: AudioStream, start: Fraction) -> None:
        self._out = out
        self._stream = stream
        self._next = round(start * SAMPLE_RATE)  # next sample to write, in stream time

    def write_until(self, until: Fraction) -> None:
        target = round(until * SAMPLE_RATE)
        while self._next < target:
            samples = min(_CHUNK, target - self._next)
            frame = av.AudioFrame(format="fltp", layout=_LAYOUT, samples=samples)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = SAMPLE_RATE
            frame.pts = self._next
            frame.time_base = _TIME_BASE
            self._out.mux(self._stream.encode(frame))
            self._next += samples

    def flush(self) -> None:
        self._out.mux(self._stream.encode(None))
