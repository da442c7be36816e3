"""Encoding decoded sound in whole encoder frames, up to a cap: shared by the clips' AAC track
and the references' MP3."""

from __future__ import annotations

from fractions import Fraction

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer


class CappedSound:
    """Resamples decoded frames and encodes them in ``chunk``-sample frames, up to ``cap``.

    Positions are counted here (each encoded frame's pts is the samples written so far), so
    gaps or odd timestamps in the input cannot shift the sound.
    """

    def __init__(
        self,
        out: OutputContainer,
        encoder: AudioStream,
        *,
        layout: str,
        rate: int,
        chunk: int,
        cap: int,
    ) -> None:
        self._out = out
        self._encoder = encoder
        self._layout = layout
        self._rate = rate
        self._chunk = chunk
        self._cap = cap
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self._fifo = av.AudioFifo()
        self._written = 0
        self.done = False

    @property
    def seconds(self) -> float:
        """Length of the sound encoded so far."""
        return self._written / self._rate

    def feed(self, frames: list[av.AudioFrame]) -> None:
        """Encode decoded frames (as far as the cap allows)."""
        for frame in frames:
            for resampled in self._resampler.resample(frame):
                self._queue(resampled)
            if self.done:
                return

    def finish(self) -> None:
        """Encode what is left (the last frame may be short) and flush the encoder."""
        for resampled in self._resampler.resample(None):
            self._queue(resampled)
        self._emit(final=True)
        self._out.mux(self._encoder.encode(None))

    def _queue(self, frame: av.AudioFrame) -> None:
        frame.pts = None  # positions are counted here; the fifo would check continuity
        self._fifo.write(frame)
        self._emit(final=False)

    def _emit(self, *, final: bool) -> None:
        while not self.done:
            room = self._cap - self._written
            if room <= 0:
                self.done = True
                return
            frame = self._fifo.read(min(self._chunk, room), partial=final)
            if frame is None:
                return
            frame.pts = self._written
            frame.time_base = Fraction(1, self._rate)
            self._out.mux(self._encoder.encode(frame))
            self._written += frame.samples
