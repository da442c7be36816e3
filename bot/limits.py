"""The upstream's published limits (seedance-2.0-fast-reference-to-video), in one place.

Every number here comes from the API's reference; the bot checks or fixes each one before a
request is paid for.
"""

from __future__ import annotations

from typing import Final

MODEL: Final = "seedance-2.0-fast-reference-to-video"

MAX_IMAGES: Final = 9
MAX_VIDEOS: Final = 3
MAX_AUDIOS: Final = 3

IMAGE_FORMATS: Final = frozenset({"JPEG", "PNG", "WEBP"})
IMAGE_MIN_SIDE: Final = 300
IMAGE_MAX_SIDE: Final = 6000
ASPECT_MIN: Final = 0.4
ASPECT_MAX: Final = 2.5
IMAGE_MAX_BYTES: Final = 30 * 1024 * 1024

VIDEO_MIN_SECONDS: Final = 2.0
VIDEO_MAX_SECONDS: Final = 15.0
VIDEO_TOTAL_SECONDS: Final = 15.0
VIDEO_MIN_PIXELS: Final = 409_600
VIDEO_MAX_PIXELS: Final = 2_086_876
VIDEO_MIN_FPS: Final = 24
VIDEO_MAX_FPS: Final = 60
VIDEO_MAX_BYTES: Final = 50 * 1024 * 1024

AUDIO_MIN_SECONDS: Final = 2.0
AUDIO_MAX_SECONDS: Final = 15.0
AUDIO_TOTAL_SECONDS: Final = 15.0
AUDIO_MAX_BYTES: Final = 15 * 1024 * 1024

REQUEST_MAX_BYTES: Final = 64 * 1024 * 1024

DURATION_MIN: Final = 4
DURATION_MAX: Final = 15
DURATION_DEFAULT: Final = 5
QUALITIES: Final = ("480p", "720p")
ASPECT_RATIOS: Final = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive")

# The reference advises at most 500 Chinese characters and caps prompts at 10,000 tokens. The
# bot checks prompts with bot.drafts.prompt_size, a bound safe for every script; the request model
# keeps a plain character cap as a last sanity check.
PROMPT_MAX_TOKENS: Final = 10_000
PROMPT_MAX_CHARS: Final = 10_000

CALLBACK_URL_MAX_CHARS: Final = 2048

# Telegram: bots download at most 20 MB from the cloud Bot API; uploads are capped at 50 MB.
TELEGRAM_DOWNLOAD_MAX_BYTES: Final = 20 * 1024 * 1024
TELEGRAM_UPLOAD_MAX_BYTES: Final = 50 * 1024 * 1024
TELEGRAM_URL_SEND_MAX_BYTES: Final = 20 * 1024 * 1024
