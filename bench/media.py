"""Benchmark the media normalisers against the bare PyAV/Pillow transform of the same file.

Run with ``python bench/media.py`` (needs the test extra: numpy). It makes typical inputs in a
temporary directory - a 1280×720 30 fps 10 s clip with sound, a 384×384 10 s video note, a 20 s
OGG/Opus voice note and nine 1280 px JPEG photos with camera EXIF - and for each one runs, every
time in a fresh child process, (a) the bot's normaliser and (b) the bare transform producing the
same output parameters (decode → scale → encode with the same codec, size, rate and length; no
probing, no checks, no copy shortcut). Wall time is measured in the child around the call only;
peak RSS is the child's ru_maxrss, after the same imports on both sides.

One extra row ("budget 6 s") makes the bot transcode the 720p clip, which it otherwise copies.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Both sides import the same modules before measuring, so the RSS columns compare the work.
import av  # noqa: E402
from PIL import Image  # noqa: E402

from bot.media.audio import normalise_audio  # noqa: E402
from bot.media.images import normalise_image  # noqa: E402
from bot.media.video import normalise_video  # noqa: E402

X264_OPTIONS: dict[str, object] = {"preset": "veryfast", "crf": "20"}


# --- the two sides (run in the child) --------------------------------------------------------


def run_bot(kind: str, src: Path, out_dir: Path, max_seconds: float) -> dict[str, Any]:
    """The bot's normaliser; returns what the bare side needs to produce the same output."""
    if kind == "video":
        video = normalise_video(src, out_dir, stem="bot", max_seconds=max_seconds)
        return {
            "path": str(video.path),
            "width": video.width,
            "height": video.height,
            "fps": video.fps,
            "duration": video.duration,
            "audio": video.has_audio,
            "summary": f"{video.width}×{video.height} {video.fps:g} fps {video.duration:.1f} s",
            "changes": [c.code for c in video.changes] or ["copied"],
        }
    if kind == "audio":
        audio = normalise_audio(src, out_dir, stem="bot", max_seconds=max_seconds)
        return {
            "path": str(audio.path),
            "duration": audio.duration,
            "summary": f"{audio.path.suffix[1:].upper()} {audio.duration:.1f} s",
            "changes": [c.code for c in audio.changes] or ["copied"],
        }
    image = normalise_image(src, out_dir, stem="bot")
    return {
        "path": str(image.path),
        "width": image.width,
        "height": image.height,
        "summary": f"{image.format} {image.width}×{image.height}",
        "changes": [c.code for c in image.changes] or ["copied"],
    }


def run_bare(kind: str, src: Path, out_dir: Path, target: dict[str, Any]) -> None:
    """The same output parameters, made the plainest way."""
    if kind == "video":
        _bare_video(src, out_dir / "bare.mp4", target)
    elif kind == "audio":
        _bare_audio(src, out_dir / "bare.mp3", float(target["duration"]))
    else:
        with Image.open(src) as image:
            rgb = image.convert("RGB")
            size = (int(target["width"]), int(target["height"]))
            if rgb.size != size:
                rgb = rgb.resize(size, Image.Resampling.LANCZOS)
            rgb.save(out_dir / "bare.jpg", format="JPEG", quality=92)


def _bare_video(src: Path, dest: Path, target: dict[str, Any]) -> None:
    width, height = int(target["width"]), int(target["height"])
    rate = Fraction(target["fps"]).limit_denominator(1001)
    limit = float(target["duration"])
    frames_wanted = math.floor(limit * rate)
    with av.open(str(src)) as source, av.open(str(dest), "w") as out:
        vin = source.streams.video[0]
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.options = X264_OPTIONS
        ain = source.streams.audio[0] if target["audio"] and source.streams.audio else None
        aout = None
        if ain is not None:
            aout = out.add_stream("aac", rate=ain.codec_context.sample_rate)
            aout.bit_rate = 128_000
        written, audio_done = 0, ain is None
        for packet in source.demux([vin] if ain is None else [vin, ain]):
            if packet.stream.index == vin.index:
                if written >= frames_wanted:
                    continue
                for frame in vin.decode(packet):
                    picture = frame.reformat(width=width, height=height, format="yuv420p")
                    picture.pts, picture.time_base = written, 1 / rate
                    out.mux(vout.encode(picture))
                    written += 1
            elif ain is not None and aout is not None and not audio_done:
                for sound in ain.decode(packet):
                    if sound.time is not None and sound.time >= limit:
                        audio_done = True
                        break
                    out.mux(aout.encode(sound))
            if written >= frames_wanted and audio_done:
                break
        out.mux(vout.encode())
        if aout is not None:
            out.mux(aout.encode())


def _bare_audio(src: Path, dest: Path, seconds: float) -> None:
    with av.open(str(src)) as source, av.open(str(dest), "w") as out:
        stream = out.add_stream("libmp3lame", rate=44_100)
        stream.layout = "mono"
        stream.bit_rate = 128_000
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=44_100)
        written, cap = 0, int(seconds * 44_100)
        for frame in source.decode(audio=0):
            if written >= cap:
                break
            for chunk in resampler.resample(frame):
                chunk.pts = written
                out.mux(stream.encode(chunk))
                written += chunk.samples
        out.mux(stream.encode())


def child(args: argparse.Namespace) -> None:
    """Run one side on one file and print one JSON line: seconds, peak RSS, output facts."""
    src, out_dir = Path(args.src), Path(args.out)
    started = time.perf_counter()
    if args.side == "bot":
        facts = run_bot(args.kind, src, out_dir, args.max_seconds)
    else:
        facts = {}
        run_bare(args.kind, src, out_dir, json.loads(args.target))
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "rss_mb": peak_kib / 1024, **facts}))


# --- the driver ------------------------------------------------------------------------------


def _spawn(side: str, kind: str, src: Path, out: Path, **extra: Any) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--child", side, "--kind", kind, "--src", str(src)]
    command += ["--out", str(out), "--max-seconds", str(extra.get("max_seconds", 15.0))]
    if "target" in extra:
        command += ["--target", json.dumps(extra["target"])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"{side} failed on {src.name}:\n{done.stderr[-2000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _make_inputs(work: Path) -> list[tuple[str, str, Path, float]]:
    from tests.mediagen import image_bytes, write_audio, write_video

    clip = write_video(work / "clip720.mp4", width=1280, height=720, seconds=10.0, fps=30)
    note = write_video(work / "note.mp4", width=384, height=384, seconds=10.0, fps=30)
    voice = write_audio(
        work / "voice.ogg", seconds=20.0, codec="libopus", container="ogg", rate=48_000
    )
    inputs: list[tuple[str, str, Path, float]] = [
        ("720p 30fps 10 s + sound", "video", clip, 15.0),
        ("720p, budget 6 s", "video", clip, 6.0),
        ("384² video note 10 s", "video", note, 15.0),
        ("OGG/Opus voice 20 s", "audio", voice, 15.0),
    ]
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    for n in range(1, 10):
        path = work / f"photo{n}.jpg"
        image = Image.open(io.BytesIO(image_bytes(1280, 960, "JPEG", color=(20 * n, 90, 160))))
        image.save(path, format="JPEG", quality=90, exif=exif.tobytes())
        inputs.append((f"photo {n} 1280×960 JPEG", "image", path, 15.0))
    return inputs


def main() -> None:
    """Parse arguments: run as the driver, or as a child measuring one side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", dest="side", choices=["bot", "bare"])
    parser.add_argument("--kind", choices=["video", "audio", "image"])
    parser.add_argument("--src")
    parser.add_argument("--out")
    parser.add_argument("--max-seconds", type=float, default=15.0)
    parser.add_argument("--target", default="{}")
    args = parser.parse_args()
    if args.side:
        child(args)
        return

    started = time.perf_counter()
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="media-bench-") as tmp:
        work = Path(tmp)
        inputs = _make_inputs(work)
        print(f"inputs made in {time.perf_counter() - started:.1f} s\n")
        for index, (label, kind, src, max_seconds) in enumerate(inputs):
            out = work / f"out{index}"
            bot = _spawn("bot", kind, src, out / "bot", max_seconds=max_seconds)
            bare = _spawn("bare", kind, src, out / "bare", target=bot)
            ratio = bot["seconds"] / bare["seconds"] if bare["seconds"] > 0 else math.inf
            rows.append(
                (
                    label,
                    f"{bot['summary']} ({', '.join(bot['changes'])})",
                    f"{bot['seconds']:.3f}",
                    f"{bare['seconds']:.3f}",
                    f"{ratio:.2f}",
                    f"{bot['rss_mb']:.0f}",
                    f"{bare['rss_mb']:.0f}",
                )
            )
    header = ("input", "output (bot)", "bot s", "bare s", "bot/bare", "bot MB", "bare MB")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        cells = [
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s; RSS is each child's peak, imports included"
    )


if __name__ == "__main__":
    main()
