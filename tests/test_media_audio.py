"""normalise_audio: MP3/WAV that fit are copied, everything else becomes a trimmed MP3."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import pytest

from bot import limits
from bot.media.audio import AudioResult, normalise_audio
from bot.media.probe import probe
from bot.media.results import Change, MediaRejected
from tests.mediagen import (
    image_bytes,
    write_audio,
    write_mp3_with_cover,
    write_stereo_audio,
    write_video,
)


def assert_audio_within_limits(result: AudioResult, *, max_seconds: float = 15.0) -> None:
    """Re-open the output and check it against every audio limit in bot.limits."""
    path = result.path
    assert path.is_file()
    assert not list(path.parent.glob(".*.part")), "a temporary file was left behind"
    info = probe(path)
    assert info.kind == "audio"
    if result.mime_type == "audio/mpeg":
        assert path.suffix == ".mp3"
        assert (info.container, info.audio_codec) == ("mp3", "mp3")
    else:
        assert result.mime_type == "audio/wav"
        assert path.suffix == ".wav"
        assert info.container == "wav"
        assert info.audio_codec is not None
        assert info.audio_codec.startswith("pcm_")
    assert info.duration is not None
    assert limits.AUDIO_MIN_SECONDS <= info.duration <= min(max_seconds, 15.0)
    assert limits.AUDIO_MIN_SECONDS <= result.duration <= min(max_seconds, 15.0)
    assert result.duration <= limits.AUDIO_MAX_SECONDS
    assert result.size == path.stat().st_size == info.size
    assert 0 < result.size <= limits.AUDIO_MAX_BYTES


def _run(src: Path, tmp_path: Path, *, max_seconds: float = 15.0) -> AudioResult:
    result = normalise_audio(src, tmp_path / "out", stem="ref", max_seconds=max_seconds)
    assert result.path.parent == tmp_path / "out"
    assert result.path.stem == "ref"
    assert_audio_within_limits(result, max_seconds=max_seconds)
    return result


def _rejection(src: Path, tmp_path: Path, **kwargs: float) -> MediaRejected:
    with pytest.raises(MediaRejected) as info:
        normalise_audio(src, tmp_path / "out", stem="ref", **kwargs)
    assert not list((tmp_path / "out").glob("ref.*"))
    return info.value


def _stream_facts(path: Path) -> tuple[int, int, int]:
    """Sample rate, channels and bit rate of the first audio stream."""
    with av.open(str(path)) as container:
        ctx = container.streams.audio[0].codec_context
        return ctx.sample_rate, ctx.channels, ctx.bit_rate or 0


# --- copied ----------------------------------------------------------------------------------


def test_three_second_wav_is_copied(tmp_path: Path) -> None:
    src = write_audio(tmp_path / "take.wav", seconds=3.0, codec="pcm_s16le")
    result = _run(src, tmp_path)
    assert result.path.name == "ref.wav"
    assert result.mime_type == "audio/wav"
    assert result.changes == ()
    assert result.path.read_bytes() == src.read_bytes()
    assert result.duration == pytest.approx(3.0, abs=0.01)


def test_fitting_mp3_is_copied(tmp_path: Path) -> None:
    src = write_audio(tmp_path / "song.mp3", seconds=5.0)
    result = _run(src, tmp_path)
    assert (result.path.name, result.mime_type, result.changes) == ("ref.mp3", "audio/mpeg", ())
    assert result.path.read_bytes() == src.read_bytes()


def test_mp3_with_cover_art_is_copied(tmp_path: Path) -> None:
    src = write_mp3_with_cover(tmp_path / "song.mp3", seconds=3.0)
    result = _run(src, tmp_path)
    assert result.changes == ()
    assert result.path.read_bytes() == src.read_bytes()


def test_exactly_two_seconds_is_accepted(tmp_path: Path) -> None:
    result = _run(write_audio(tmp_path / "two.mp3", seconds=2.0), tmp_path)
    assert result.changes == ()


# --- converted -------------------------------------------------------------------------------


@pytest.mark.parametrize("max_seconds", [15.0, 6.0])
def test_long_voice_note_becomes_a_trimmed_mp3(tmp_path: Path, max_seconds: float) -> None:
    src = write_audio(
        tmp_path / "voice.oga", seconds=20.0, codec="libopus", container="ogg", rate=48000
    )
    result = _run(src, tmp_path, max_seconds=max_seconds)
    assert result.mime_type == "audio/mpeg"
    assert max_seconds - 0.1 <= result.duration <= max_seconds
    assert result.changes[0] == Change("converted", {"from": "OGG/Opus", "to": "MP3"})
    assert result.changes[1].code == "trimmed"
    assert result.changes[1].params["from"] == 20.0
    rate, channels, bit_rate = _stream_facts(result.path)
    assert (rate, channels) == (44100, 1)
    assert 128_000 <= bit_rate <= 192_000


def test_stereo_stays_stereo(tmp_path: Path) -> None:
    src = write_stereo_audio(tmp_path / "music.m4a", seconds=3.0, codec="aac", container="mp4")
    result = _run(src, tmp_path)
    assert result.changes == (Change("converted", {"from": "MP4/AAC", "to": "MP3"}),)
    rate, channels, bit_rate = _stream_facts(result.path)
    assert (rate, channels, bit_rate) == (44100, 2, 192_000)


@pytest.mark.parametrize(
    ("codec", "container", "name", "label"),
    [
        ("flac", None, "a.flac", "FLAC"),
        ("aac", "adts", "a.aac", "AAC"),
        ("libopus", "webm", "a.webm", "WebM/Opus"),
    ],
)
def test_other_formats_become_mp3(
    tmp_path: Path, codec: str, container: str | None, name: str, label: str
) -> None:
    rate = 48000 if codec == "libopus" else 44100
    src = write_audio(tmp_path / name, seconds=3.0, codec=codec, container=container, rate=rate)
    result = _run(src, tmp_path)
    assert result.changes == (Change("converted", {"from": label, "to": "MP3"}),)
    assert result.duration == pytest.approx(3.0, abs=0.05)


def test_long_wav_becomes_a_trimmed_mp3(tmp_path: Path) -> None:
    src = write_audio(tmp_path / "long.wav", seconds=20.0, codec="pcm_s16le")
    result = _run(src, tmp_path)
    assert [c.code for c in result.changes] == ["converted", "trimmed"]
    assert result.changes[0].params == {"from": "WAV", "to": "MP3"}
    assert result.mime_type == "audio/mpeg"


def test_long_mp3_is_cut_without_reencoding(tmp_path: Path) -> None:
    src = write_audio(tmp_path / "long.mp3", seconds=20.0)
    result = _run(src, tmp_path, max_seconds=100.0)  # a budget over 15 s means 15 s
    assert result.changes == (Change("trimmed", {"from": 20.0, "to": 14.9}),)

    def packets(path: Path) -> list[str]:
        with av.open(str(path)) as container:
            return [
                hashlib.sha256(bytes(p)).hexdigest() for p in container.demux(audio=0) if p.size
            ]

    kept, original = packets(result.path), packets(src)
    assert kept == original[: len(kept)]
    assert 0 < len(kept) < len(original)


def test_sound_of_a_video_is_extracted(tmp_path: Path) -> None:
    src = write_video(tmp_path / "clip.mp4", seconds=3.0, audio=True)
    result = _run(src, tmp_path)
    assert result.changes == (
        Change("audio_extracted", {"from": "MP4"}),
        Change("converted", {"from": "AAC", "to": "MP3"}),
    )
    assert result.duration == pytest.approx(3.0, abs=0.05)


# --- refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "container", "name"),
    [("pcm_s16le", None, "a.wav"), ("libopus", "ogg", "a.ogg"), ("libmp3lame", None, "a.mp3")],
)
def test_one_second_is_too_short(
    tmp_path: Path, codec: str, container: str | None, name: str
) -> None:
    rate = 48000 if codec == "libopus" else 44100
    src = write_audio(tmp_path / name, seconds=1.0, codec=codec, container=container, rate=rate)
    rejection = _rejection(src, tmp_path)
    assert rejection.code == "too_short"
    assert rejection.params["min"] == 2.0
    assert 0.9 <= float(rejection.params["seconds"]) <= 1.1


def test_silent_video_has_no_audio_stream(tmp_path: Path) -> None:
    src = write_video(tmp_path / "clip.mp4", seconds=3.0, audio=False)
    assert _rejection(src, tmp_path).code == "no_audio_stream"


def test_image_has_no_audio_stream(tmp_path: Path) -> None:
    src = tmp_path / "cover.mp3"
    src.write_bytes(image_bytes(500, 500))
    assert _rejection(src, tmp_path).code == "no_audio_stream"


@pytest.mark.parametrize("damage", ["empty", "text", "half"])
def test_broken_files_are_corrupt(tmp_path: Path, damage: str) -> None:
    src = tmp_path / "voice.ogg"
    if damage == "empty":
        src.touch()
    elif damage == "text":
        src.write_text("la la la\n" * 200)
    else:
        data = write_audio(tmp_path / "m.m4a", seconds=5.0, codec="aac", container="mp4")
        src.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    assert _rejection(src, tmp_path).code == "corrupt"


def test_no_budget_left(tmp_path: Path) -> None:
    src = write_audio(tmp_path / "a.mp3", seconds=3.0)
    rejection = _rejection(src, tmp_path, max_seconds=1.0)
    assert rejection.code == "no_budget"
    assert rejection.params == {"kind": "audio", "seconds": 1.0, "total": 15.0}
