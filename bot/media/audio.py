"""Turn a voice note or a piece of music into a reference audio the upstream accepts.

Synchronous and file-to-file; it runs in a media worker process. The upstream takes MP3 and
WAV. An MP3 or PCM WAV that already fits (2 s to the caller's budget, at most 15 MB) is copied
byte for byte; an MP3 that is only too long (or too big) has its tail cut off packet by packet,
without re-encoding; everything else - Telegram's OGG/Opus voice notes, M4A/AAC, FLAC, Vorbis,
WAV over budget, the sound of a video - is decoded and encoded to MP3 (LAME, 44.1 kHz, mono at
128 kb/s or stereo at 192 kb/s), streamed frame by frame and trimmed to the budget.

Params follow bot.media.video's convention: durations are seconds (formats.seconds_param),
byte counts are ints, formats are labels such as ``"OGG/Opus"``, ``"M4A/AAC"``, ``"WAV"``.

Changes: ``audio_extracted`` (``from``: the video's container label); ``converted`` (``from``,
``to``: ``"MP3"``); ``trimmed`` (``from``, ``to``, seconds); ``compressed`` (``from``, ``to``,
bytes: an MP3 over the byte limit, e.g. from embedded cover art, rewritten without it).

Rejections: ``no_audio_stream``; ``too_short`` (``seconds``, ``min``); ``no_budget``
(``kind="audio"``, ``seconds`` left, ``total``); ``unsupported_codec`` (``codec``); ``too_big``
(``size``, ``limit``); ``corrupt`` (``reason``) from :func:`bot.media.probe.probe` or decoding.
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
from av.container import InputContainer, OutputContainer

from bot.limits import (
    AUDIO_MAX_BYTES,
    AUDIO_MAX_SECONDS,
    AUDIO_MIN_SECONDS,
    AUDIO_TOTAL_SECONDS,
)
from bot.media.files import atomic_copy, check_stem, partial_path
from bot.media.formats import audio_label, codec_label, container_label, seconds_param
from bot.media.probe import TRIM_NOTICE_SECONDS, probe
from bot.media.results import Change, MediaRejected, budget_limit, require
from bot.media.sound_out import CappedSound

__all__ = ["AudioResult", "normalise_audio"]

MP3_MIME: Final = "audio/mpeg"
WAV_MIME: Final = "audio/wav"

_SAMPLE_RATE: Final = 44_100
_MONO_BITRATE: Final = 128_000
_STEREO_BITRATE: Final = 192_000
# LAME frames hold 1152 samples and the encoder adds 1105 samples of delay plus padding; the
# content is cut one frame short of the budget so even a player that counts whole frames
# (ignoring the gapless header) stays within it.
_MP3_FRAME: Final = 1152
_CHUNK: Final = 1152

# Linear PCM sample formats the upstream's WAV support can be expected to cover.
_WAV_CODECS: Final = frozenset({"pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le"})


@dataclass(frozen=True)
class AudioResult:
    """The file to send upstream and what was done to get it."""

    path: Path
    duration: float  # seconds
    size: int  # bytes
    mime_type: str  # "audio/mpeg" | "audio/wav"
    changes: tuple[Change, ...]


def normalise_audio(
    src: Path, dest_dir: Path, *, stem: str, max_seconds: float = AUDIO_MAX_SECONDS
) -> AudioResult:
    """Write an upstream-acceptable MP3 or WAV of the sound in ``src`` to ``dest_dir``.

    The file is ``dest_dir/stem.mp3`` (or ``.wav`` when a fitting WAV is copied). ``max_seconds``
    is what is left of the draft's audio budget; the result is never longer. A video's sound
    track is extracted. Raises MediaRejected when no usable audio can be made.
    """
    check_stem(stem)
    limit = budget_limit(
        "audio",
        max_seconds,
        longest=AUDIO_MAX_SECONDS,
        shortest=AUDIO_MIN_SECONDS,
        total=AUDIO_TOTAL_SECONDS,
    )
    info = probe(src)
    if not info.has_audio:
        raise MediaRejected("no_audio_stream")
    if info.audio_codec is None:  # a video whose sound track has no decoder here
        label = container_label(info.container, codec=info.video_codec)
        raise MediaRejected("unsupported_format", kind="audio", format=label)
    if info.duration is not None and info.duration < AUDIO_MIN_SECONDS:
        raise MediaRejected(
            "too_short", seconds=seconds_param(info.duration), min=AUDIO_MIN_SECONDS
        )
    dest_dir.mkdir(parents=True, exist_ok=True)

    try:
        with av.open(str(src), "r") as container:
            stream = container.streams.audio[0]
            brand = container.metadata.get("major_brand", "")
            is_mp3 = info.container == "mp3" and info.audio_codec == "mp3"
            is_wav = info.container == "wav" and info.audio_codec in _WAV_CODECS
            if is_mp3 or is_wav:
                # An MP3's header duration is an estimate and its packets include the encoder's
                # delay; take the less favourable of the two for each bound.
                counted = _packetseconds_param(container, stream)
                shortest = min(counted, info.duration or counted)
                longest = max(counted, info.duration or counted)
                if shortest < AUDIO_MIN_SECONDS:
                    raise MediaRejected(
                        "too_short", seconds=seconds_param(shortest), min=AUDIO_MIN_SECONDS
                    )
                if longest <= limit and info.size <= AUDIO_MAX_BYTES:
                    dest = dest_dir / f"{stem}.{'mp3' if is_mp3 else 'wav'}"
                    atomic_copy(src, dest)
                    return _result(dest, (), limit, longest)
                if is_mp3:
                    return _cut_mp3(src, dest_dir / f"{stem}.mp3", longest, info.size, limit)
            changes: list[Change] = []
            if info.kind == "video":
                label = container_label(info.container, brand=brand, codec=info.video_codec)
                changes.append(Change("audio_extracted", {"from": label}))
                source_label = codec_label(info.audio_codec)
            else:
                source_label = audio_label(info.container, info.audio_codec, brand=brand)
            changes.append(Change("converted", {"from": source_label, "to": "MP3"}))
            dest = dest_dir / f"{stem}.mp3"
            seconds = _transcode(container, stream, dest, limit)
    except av.FFmpegError as exc:
        raise MediaRejected("corrupt", reason="undecodable") from exc

    if info.duration is not None and info.duration > limit + TRIM_NOTICE_SECONDS:
        changes.append(
            Change("trimmed", {"from": seconds_param(info.duration), "to": seconds_param(seconds)})
        )
    return _result(dest, tuple(changes), limit, seconds)


def _packetseconds_param(container: InputContainer, stream: AudioStream) -> float:
    """The stream's duration, summed over its packets (demuxed, not decoded)."""
    if stream.time_base is None:
        raise MediaRejected("corrupt", reason="unreadable")
    first: int | None = None
    end = 0
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        first = packet.pts if first is None else min(first, packet.pts)
        end = max(end, packet.pts + (packet.duration or 0))
    container.seek(0)
    return float((end - (first or 0)) * stream.time_base)


def _cut_mp3(src: Path, dest: Path, seconds: float, size: int, limit: float) -> AudioResult:
    """Keep the MP3 frames that end within ``limit``; no re-encoding, so no quality loss."""
    tmp = partial_path(dest)
    budget = Fraction(math.floor(limit * _SAMPLE_RATE / _MP3_FRAME) - 1) * _MP3_FRAME
    try:
        with av.open(str(src), "r") as source, av.open(str(tmp), "w", format="mp3") as out:
            stream = source.streams.audio[0]
            if stream.time_base is None:
                raise MediaRejected("corrupt", reason="unreadable")
            budget_ticks = budget / stream.codec_context.sample_rate / stream.time_base
            target = out.add_stream_from_template(stream)
            first: int | None = None
            kept = 0
            for packet in source.demux(stream):
                if packet.pts is None:
                    continue
                first = packet.pts if first is None else first
                if packet.pts + (packet.duration or 0) - first > budget_ticks:
                    break
                kept = packet.pts + (packet.duration or 0) - first
                packet.stream = target
                out.mux(packet)
        kept_seconds = float(kept * stream.time_base)
        new_size = tmp.stat().st_size
        if new_size > AUDIO_MAX_BYTES:
            raise MediaRejected("too_big", size=new_size, limit=AUDIO_MAX_BYTES)
        if kept_seconds < AUDIO_MIN_SECONDS:
            raise MediaRejected(
                "too_short", seconds=seconds_param(kept_seconds), min=AUDIO_MIN_SECONDS
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    changes: list[Change] = []
    if seconds > limit + TRIM_NOTICE_SECONDS:
        changes.append(
            Change("trimmed", {"from": seconds_param(seconds), "to": seconds_param(kept_seconds)})
        )
    if size > AUDIO_MAX_BYTES:
        changes.append(Change("compressed", {"from": size, "to": new_size}))
    return _result(dest, tuple(changes), limit, kept_seconds)


def _transcode(container: InputContainer, stream: AudioStream, dest: Path, limit: float) -> float:
    """Decode ``stream`` and write at most ``limit`` seconds of it as MP3; returns the seconds."""
    tmp = partial_path(dest)
    try:
        with av.open(str(tmp), "w", format="mp3") as out:
            encoder = _Mp3Out(out, mono=stream.codec_context.channels == 1, limit=limit)
            for packet in container.demux(stream):
                encoder.feed(stream.decode(packet))
                if encoder.done:
                    break  # never decode past the trim point
            encoder.finish()
        seconds = encoder.seconds
        if seconds < AUDIO_MIN_SECONDS:
            raise MediaRejected("too_short", seconds=seconds_param(seconds), min=AUDIO_MIN_SECONDS)
        size = tmp.stat().st_size
        if size > AUDIO_MAX_BYTES:  # 15 s at 192 kb/s is 360 kB; only a bug gets here
            raise MediaRejected("too_big", size=size, limit=AUDIO_MAX_BYTES)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return seconds


class _Mp3Out(CappedSound):
    """Resamples to 44.1 kHz and encodes with LAME, stopping at the sample budget."""

    def __init__(self, out: OutputContainer, *, mono: bool, limit: float) -> None:
        layout = "mono" if mono else "stereo"
        encoder = out.add_stream("libmp3lame", rate=_SAMPLE_RATE)
        encoder.layout = layout
        encoder.format = "fltp"
        encoder.bit_rate = _MONO_BITRATE if mono else _STEREO_BITRATE
        cap = (math.floor(limit * _SAMPLE_RATE / _MP3_FRAME) - 1) * _MP3_FRAME
        super().__init__(out, encoder, layout=layout, rate=_SAMPLE_RATE, chunk=_CHUNK, cap=cap)


def _result(path: Path, changes: tuple[Change, ...], limit: float, seconds: float) -> AudioResult:
    """Re-probe the output and check it against every limit before handing it out."""
    out = probe(path)
    name = path.name
    require(out.kind == "audio", f"{name}: not audio ({out.kind})")
    require(out.audio_codec in {"mp3", *_WAV_CODECS}, f"{name}: codec {out.audio_codec}")
    require(AUDIO_MIN_SECONDS <= seconds <= limit, f"{name}: {seconds} s, budget {limit} s")
    require(
        out.duration is not None and out.duration <= limit,
        f"{name}: header says {out.duration} s, budget {limit} s",
    )
    require(0 < out.size <= AUDIO_MAX_BYTES, f"{name}: {out.size} bytes")
    return AudioResult(
        path=path,
        duration=seconds,
        size=out.size,
        mime_type=MP3_MIME if out.container == "mp3" else WAV_MIME,
        changes=changes,
    )
