"""A clip that only carries private metadata: its packets copied into a fresh MP4 without it."""

from __future__ import annotations

import os
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from bot.media.files import partial_path
from bot.media.mp4 import open_mp4
from bot.media.probe import main_video_stream


def remux_without_metadata(src: Path, dest: Path) -> bool:
    """Copy the picture and first sound track's packets into a fresh MP4; False if impossible.

    Every bit of picture and sound is kept; container and stream metadata are not copied.
    """
    tmp = partial_path(dest)
    try:
        with av.open(str(src), "r") as source, open_mp4(tmp) as out:
            video = main_video_stream(source)
            if video is None:
                return False
            streams: list[VideoStream | AudioStream] = [video, *source.streams.audio[:1]]
            targets = {s.index: out.add_stream_from_template(s) for s in streams}
            for packet in source.demux(streams):
                if packet.dts is None:  # the demuxer's end-of-stream markers
                    continue
                packet.stream = targets[packet.stream.index]
                out.mux(packet)
        os.replace(tmp, dest)
    except (av.FFmpegError, ValueError):  # e.g. a sound codec the MP4 muxer cannot carry
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True
