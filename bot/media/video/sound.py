"""The clip's sound, re-encoded to AAC and lined up with the picture.

The sound starts at the video's first instant: a track that starts later is padded with silence,
one that starts earlier is cut, so lips stay in sync after the picture is retimed. It is capped
at the same limit as the picture, in whole AAC frames.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Final

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer

from bot.media.sound_out import CappedSound

AAC_BITRATE: Final = 128_000
_AAC_RATES: Final = frozenset(
    {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000}
)
_AAC_DEFAULT_RATE: Final = 48_000
_AUDIO_CHUNK: Final = 1024  # samples per frame handed to the encoder: one AAC frame


class AudioOut(CappedSound):
    """Re-encodes one sound track to AAC, aligned with the video's origin, capped at ``limit``."""

    def __init__(
        self, out: OutputContainer, stream: AudioStream, origin: Fraction, limit: float
    ) -> None:
        ctx = stream.codec_context
        rate = ctx.sample_rate if ctx.sample_rate in _AAC_RATES else _AAC_DEFAULT_RATE
        layout = "mono" if ctx.channels == 1 else "stereo"
        encoder = out.add_stream("aac", rate=rate)
        encoder.layout = layout
        encoder.bit_rate = AAC_BITRATE
        # Whole AAC frames only, so the track cannot end a fraction of a frame past the limit.
        cap = math.floor(limit * rate / _AUDIO_CHUNK) * _AUDIO_CHUNK
        super().__init__(out, encoder, layout=layout, rate=rate, chunk=_AUDIO_CHUNK, cap=cap)
        self._origin = origin  # seconds; the video's first instant
        self._aligned = False
        self._skip = 0

    def feed(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            if not self._aligned and frame.pts is not None and frame.time_base is not None:
                self._align(frame.pts * frame.time_base - self._origin)
            super().feed([frame])
            if self.done:
                return

    def _align(self, offset: Fraction) -> None:
        """Start the track at the video's origin: pad a late start, cut an early one."""
        self._aligned = True
        samples = round(offset * self._rate)
        if samples < 0:
            self._skip = -samples
        elif samples > 0:
            silence = av.AudioFrame(format="fltp", layout=self._layout, samples=samples)
            for plane in silence.planes:
                plane.update(bytes(plane.buffer_size))
            silence.sample_rate = self._rate
            self._queue(silence)

    def _queue(self, frame: av.AudioFrame) -> None:
        self._aligned = True
        frame.pts = None  # the fifo would check continuity; positions are counted here
        self._fifo.write(frame)
        if self._skip:
            dropped = self._fifo.read(min(self._skip, self._fifo.samples))
            self._skip -= dropped.samples if dropped is not None else 0
        self._emit(final=False)
