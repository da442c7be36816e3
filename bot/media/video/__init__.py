"""Turn a clip a user sent into a reference video the upstream accepts, or refuse it clearly.

Synchronous and file-to-file; it runs in a media worker process. A clip that already meets
every limit is copied byte for byte. One that only carries private metadata (GPS, dates, device)
is remuxed without it. Anything else is transcoded to H.264 yuv420p MP4 (faststart) frame by
frame: decoded, turned upright, padded to the allowed aspect ratio, scaled into the allowed
pixel range, retimed to a constant 24-60 fps and trimmed to the caller's budget, with its sound
re-encoded to AAC. Memory stays flat whatever the input's length: nothing past the trim point is
even read.

Change params follow one convention: picture sizes are ``"W×H"`` strings, durations are seconds
(:func:`bot.media.formats.seconds_param`), frame rates are numbers (an int when whole), byte
counts are ints, formats are ``"CONTAINER/CODEC"`` labels (``"MOV/HEVC"``, ``"WebM/VP9"``, or one
word such as ``"GIF"`` when both share a name).

Changes (in this order when several apply):

- ``converted``: ``from``, ``to`` (``"MP4/H.264"``).
- ``rotated``: ``degrees`` (counter-clockwise, as ``Probe.rotation``).
- ``padded``: ``from``, ``to`` (before any scaling).
- ``upscaled`` / ``downscaled``: ``from``, ``to``.
- ``fps_changed``: ``from``, ``to``; or ``variant="unknown"``, ``to`` when the file names none.
- ``trimmed``: ``from``, ``to`` (seconds).
- ``audio_removed``: a sound track with no decoder here is left out.
- ``compressed``: ``from``, ``to`` (bytes; the input or the first encode was over the limit).
- ``metadata_removed``: ``kinds`` (e.g. ``"location, date, device"``).

Rejections: ``not_a_video`` (``kind``: what it is instead); ``too_many_pixels`` (``width``,
``height``, ``max`` pixels); ``too_short`` (``seconds``, ``min``); ``no_budget`` (``kind``,
``seconds`` left, ``total``); ``too_big`` (``size``, ``limit``); ``corrupt`` (``reason``) and the
format refusals of :func:`bot.media.probe.probe`.
"""

from bot.media.video.limits import within_video_limits
from bot.media.video.normalise import MIME_TYPE, OUTPUT_LABEL, VideoResult, normalise_video

__all__ = ["MIME_TYPE", "OUTPUT_LABEL", "VideoResult", "normalise_video", "within_video_limits"]
