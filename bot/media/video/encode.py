"""The encode loop: decode once, filter (fps, rotate, scale, pad), encode H.264 + AAC, and
encode again at a lower bitrate in the rare case the result is over the byte limit.

Memory stays flat whatever the input's length: frames are streamed, and nothing past the trim
point is even read.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
from av.audio.stream import AudioStream
from av.codec.context import ThreadType
from av.container import InputContainer, OutputContainer
from av.filter import Graph
from av.video.stream import VideoStream

from bot.limits import VIDEO_MAX_BYTES, VIDEO_MIN_SECONDS
from bot.media.files import partial_path
from bot.media.formats import seconds_param
from bot.media.mp4 import open_mp4
from bot.media.probe import main_video_stream
from bot.media.results import MediaRejected
from bot.media.video.geometry import Plan, rotation_filters
from bot.media.video.sound import AAC_BITRATE, AudioOut

# x264 at "veryfast" is ~3x faster than "medium" for a few % more bits; CRF 20 keeps detail
# the model can use. maxrate/bufsize (VBV) bound the size so the 50 MB limit holds on the first
# try for anything a phone records.
X264_PRESET: Final = "veryfast"
X264_CRF: Final = "20"
VBV_SECONDS: Final = 1  # bufsize = this many seconds at maxrate
SIZE_HEADROOM: Final = 0.9  # aim below the byte limit: muxing overhead, VBV slack
MAX_ENCODES: Final = 3


@dataclass(frozen=True)
class Encoded:
    """What the encode produced."""

    seconds: float  # output duration
    size: int  # bytes
    encodes: int  # 1, or more when the first result was over the byte limit
    audio_dropped: bool  # the sound track has no decoder here and was left out


def encode_to_fit(
    src: Path, dest: Path, plan: Plan, rate: Fraction, limit: float, expected: float
) -> Encoded:
    """Transcode ``src`` into ``dest`` (MP4, faststart) within VIDEO_MAX_BYTES.

    ``expected`` is the output's likely length in seconds, for the first bitrate cap. Raises
    MediaRejected ``too_short`` when there was less picture than the header promised, and
    ``too_big`` when even the last try is over the limit.
    """
    maxrate = _maxrate(VIDEO_MAX_BYTES, expected)
    tmp = partial_path(dest)
    encodes = 0
    try:
        while True:
            done = _encode(src, tmp, plan, rate, limit, maxrate)
            encodes += 1
            if done.seconds < VIDEO_MIN_SECONDS:  # the header promised more than there was
                raise MediaRejected(
                    "too_short", seconds=seconds_param(done.seconds), min=VIDEO_MIN_SECONDS
                )
            size = tmp.stat().st_size
            if size <= VIDEO_MAX_BYTES:
                break
            if encodes >= MAX_ENCODES:
                raise MediaRejected("too_big", size=size, limit=VIDEO_MAX_BYTES)
            # VBV bounds the average, it does not promise a size; aim lower in proportion.
            maxrate = int(maxrate * VIDEO_MAX_BYTES * SIZE_HEADROOM / size)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return Encoded(done.seconds, size, encodes, done.audio_dropped)


def _maxrate(size_limit: int, seconds: float) -> int:
    """A video bitrate (bit/s) whose worst case, with the sound, fits ``size_limit`` bytes."""
    budget = size_limit * 8 * SIZE_HEADROOM - AAC_BITRATE * seconds
    return max(100_000, int(budget / (seconds + VBV_SECONDS)))


@dataclass(frozen=True)
class _Pass:
    seconds: float  # output duration
    audio_dropped: bool  # the sound track has no decoder here and was left out


def _encode(src: Path, dest: Path, plan: Plan, rate: Fraction, limit: float, maxrate: int) -> _Pass:
    """Decode ``src`` once, stream it through the filters and encoders into ``dest``."""
    try:
        with av.open(str(src), "r") as source, open_mp4(dest) as out:
            return _pump(source, out, plan, rate, limit, maxrate)
    except av.FFmpegError as exc:
        raise MediaRejected("corrupt", reason="undecodable") from exc


def _pump(
    source: InputContainer,
    out: OutputContainer,
    plan: Plan,
    rate: Fraction,
    limit: float,
    maxrate: int,
) -> _Pass:
    video_in = main_video_stream(source)
    if video_in is None:  # probe() found one: the file changed under us
        raise MediaRejected("corrupt", reason="no_frames")
    video_in.thread_type = ThreadType.AUTO  # frame threads: decoding is most of the work
    video = VideoOut(out, video_in, plan, rate, limit, maxrate)

    audio_in = source.streams.audio[0] if source.streams.audio else None
    dropped = audio_in is not None and audio_in.codec_context is None
    if dropped:
        audio_in = None
    audio = AudioOut(out, audio_in, video.origin, limit) if audio_in is not None else None

    streams: list[VideoStream | AudioStream] = [video_in]
    if audio_in is not None:
        streams.append(audio_in)
    for packet in source.demux(streams):
        if packet.stream.index == video_in.index:
            if not video.done:
                video.feed(video_in.decode(packet))
        elif audio is not None and audio_in is not None and not audio.done:
            audio.feed(audio_in.decode(packet))
        if video.done and (audio is None or audio.done):
            break  # never read past the trim point
    video.finish()
    if audio is not None:
        audio.finish()
    seconds = video.seconds if audio is None else max(video.seconds, audio.seconds)
    return _Pass(seconds=seconds, audio_dropped=dropped)


class VideoOut:
    """Filters (fps, rotate, scale, pad) and encodes one video stream, capped at ``limit``."""

    def __init__(
        self,
        out: OutputContainer,
        stream: VideoStream,
        plan: Plan,
        rate: Fraction,
        limit: float,
        maxrate: int,
    ) -> None:
        if stream.time_base is None:
            raise MediaRejected("corrupt", reason="no_frames")
        self._out = out
        self._time_base = stream.time_base
        self._rate = rate
        self._cap = math.floor(limit * rate)  # frames; each lasts 1/rate s
        self._written = 0
        # Output timestamps come from the input's (through the fps filter), relative to the
        # stream's start, so the picture stays in step with the sound whatever the input's
        # frame timing; the sound uses the same origin.
        self._start = stream.start_time or 0
        self.origin = self._start * stream.time_base  # seconds
        self._fallback_pts = 0
        self.done = False

        self._encoder = out.add_stream("libx264", rate=rate)
        self._encoder.width, self._encoder.height = plan.canvas
        self._encoder.pix_fmt = "yuv420p"
        self._encoder.options = {
            "preset": X264_PRESET,
            "crf": X264_CRF,
            "maxrate": str(maxrate),
            "bufsize": str(maxrate * VBV_SECONDS),
        }
        self._graph = _video_graph(stream, plan, rate)

    @property
    def seconds(self) -> float:
        return float(self._written / self._rate)

    def feed(self, frames: list[av.VideoFrame]) -> None:
        for frame in frames:
            if frame.pts is None:
                # Rare (raw elementary streams); space such frames at the nominal rate.
                frame.pts = self._fallback_pts
            self._fallback_pts = frame.pts + max(1, round(1 / (self._rate * self._time_base)))
            if (frame.pts - self._start) * self._time_base >= self._limit_seconds:
                self.done = True
                return
            frame.pts -= self._start
            self._graph.vpush(frame)
            self._drain()
            if self.done:
                return

    @property
    def _limit_seconds(self) -> Fraction:
        return Fraction(self._cap) / self._rate

    def finish(self) -> None:
        self._graph.vpush(None)
        self._drain()
        self._out.mux(self._encoder.encode(None))

    def _drain(self) -> None:
        while True:
            try:
                frame = self._graph.vpull()
            except (av.BlockingIOError, av.EOFError):
                return
            if self._written >= self._cap:
                self.done = True
                continue  # pull the rest so the graph can finish; never encode past the cap
            frame.pts = self._written
            frame.time_base = 1 / self._rate
            self._out.mux(self._encoder.encode(frame))
            self._written += 1
            if self._written >= self._cap:
                self.done = True


def _video_graph(stream: VideoStream, plan: Plan, rate: Fraction) -> Graph:
    """buffer → fps → rotate → scale → pad → setsar → format → buffersink."""
    graph = Graph()
    # fps first: at 120 fps in, three of four frames are dropped before any pixel work.
    nodes = [
        graph.add_buffer(template=stream),
        graph.add("fps", f"fps={rate.numerator}/{rate.denominator}:start_time=0"),
    ]
    nodes += [graph.add(name, args) for name, args in rotation_filters(plan.rotation)]
    nodes.append(graph.add("scale", f"w={plan.content[0]}:h={plan.content[1]}:flags=bicubic"))
    if plan.content != plan.canvas:
        x, y = plan.offset
        nodes.append(
            graph.add("pad", f"w={plan.canvas[0]}:h={plan.canvas[1]}:x={x}:y={y}:color=black")
        )
    nodes += [
        graph.add("setsar", "1"),
        graph.add("format", "pix_fmts=yuv420p"),
        graph.add("buffersink"),
    ]
    graph.link_nodes(*nodes).configure()
    return graph
