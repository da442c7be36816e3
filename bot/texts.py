"""Every word the bot says to users, per language (English now; more languages plug in here)."""

from __future__ import annotations

from typing import Any, Final

EN: Final[dict[str, str]] = {
    "help": (
        "Send me one or more photos (up to 9) with a caption that describes the video you "
        "want, then send /generate. I will reply with the video.\n\n"
        "Tips: refer to your photos as image 1, image 2… in the order you sent them, e.g. "
        "“image 1 is the first frame, the camera slowly zooms out”.\n\n"
        "/generate [prompt] – make the video\n"
        "/status – your videos in progress\n"
        "/cancel – discard the current draft\n"
        "/help – this message"
    ),
    "draft_title": "Your draft",
    "draft_refs": "References: {refs}",
    "draft_no_refs": "References: none yet – send a photo.",
    "draft_pending": "{count} file(s) still being checked…",
    "draft_prompt": "Prompt: {prompt}",
    "draft_no_prompt": "Prompt: not set – send a text message describing the video.",
    "draft_options": "Options: {duration} s · {quality} · {aspect} · sound {sound}",
    "draft_next": "Send /generate to make the video, or /cancel to discard the draft.",
    "on": "on",
    "off": "off",
    "prompt_saved": "Prompt saved. Send /generate when you are ready.",
    "prompt_too_long": (
        "That prompt is {length} characters long; the service accepts at most {limit}. "
        "Please shorten it and send it again."
    ),
    "nothing_to_generate": (
        "There is nothing to generate yet: send a photo with a caption that describes the video."
    ),
    "need_visual": "Add at least one photo first: the service needs an image to work from.",
    "need_prompt": (
        "Your draft has no prompt yet. Send a text message describing the video, or "
        "/generate followed by the description."
    ),
    "waiting_for_files": "Still checking {count} file(s); I will submit as soon as they are ready.",
    "already_submitted": (
        "Your draft was already submitted – see /status. Send new photos to start another one."
    ),
    "draft_cancelled": "Draft discarded ({count} file(s)).",
    "nothing_to_cancel": "There is no draft to discard.",
    "status_none": "You have no videos in progress.",
    "status_title": "Your videos in progress:",
    "status_line": "• #{id}: {state}{progress} – started {minutes} min ago",
    "state_preparing": "preparing files",
    "state_submitting": "submitting",
    "state_pending": "queued",
    "state_processing": "generating",
    "unsupported_kind": (
        "I can only use photos and image files for now ({what} can't be used). "
        "Your draft is unchanged."
    ),
    "item_image": "image {n}",
    "item_file": "the file {name}",
    "rejected": "{item} can't be used: {reason} The rest of your draft is kept.",
    "reason_not_an_image": "it is not an image I can read. Send a JPEG, PNG or WebP photo.",
    "reason_corrupt": "the file is damaged or incomplete. Please send it again.",
    "reason_too_small": (
        "it is {width}×{height} px; the service needs at least {min} px on each side. "
        "Send a larger image."
    ),
    "reason_too_many_pixels": (
        "it has too many pixels to process safely ({width}×{height}). Send a smaller image."
    ),
    "reason_too_big": "it is {size_mb} MB; the limit is {limit_mb} MB. Send a smaller file.",
    "reason_too_big_for_telegram": (
        "it is {size_mb} MB, and Telegram lets bots download at most 20 MB. "
        "Send a smaller or compressed version."
    ),
    "reason_download_failed": "I could not download it from Telegram. Please send it again.",
    "reason_hosting_failed": (
        "I could not upload it for the service ({detail}). Please try again in a moment."
    ),
    "reason_timeout": "it took too long to process. Send a smaller file.",
    "reason_too_many": "a draft can hold at most {limit} images. Start a new draft for more.",
    "change_converted": "converted from {from} to {to}",
    "change_downscaled": "scaled down from {from} to {to}",
    "change_upscaled": "scaled up from {from} to {to}",
    "change_padded": "padded from {from} to {to} to fit the allowed shape",
    "change_rotated": "turned upright",
    "change_compressed": "compressed (quality {quality}) to fit 30 MB",
    "change_metadata_removed": "location and camera data removed",
    "changed": "{item}: {changes}.",
    "submitting": "⏳ Submitting your video request…",
    "submitted": "✅ Submitted{credits}. I will send the video here when it is ready.",
    "credits_reserved": " ({credits} credits reserved)",
    "progress": "🎬 Generating your video… {progress}%{credits}",
    "done_status": "✅ Done – your video is below.",
    "done_caption": "{duration} s · {quality}{credits}",
    "credits_caption": " · {credits} credits",
    "video_too_big": (
        "Your video is ready but too big for Telegram ({size_mb} MB). "
        "Download it here – the link expires 24 hours after it was made:\n{url}"
    ),
    "delivery_uncertain": (
        "I may have sent your video already but could not confirm it. If it is not above, "
        "download it here (the link expires 24 hours after it was made):\n{url}"
    ),
    "delivery_failed": (
        "Your video is ready but I could not send it. Download it here "
        "(the link expires 24 hours after it was made):\n{url}"
    ),
    "result_expired": "Your video was ready but its download link expired before I could send it.",
    "failed": "❌ The video could not be made: {reason}",
    "failed_retry": "It may work if you try again: send your photos and /generate.",
    "fail_content_policy_violation": "the service's content policy blocked it. Try a different prompt or image.",
    "fail_invalid_parameters": "the service did not accept the request ({message}).",
    "fail_image_processing_error": "the service could not process one of the images. Try other images.",
    "fail_image_dimension_mismatch": "the images' sizes or shapes did not suit the service. Try other images.",
    "fail_generic": "the service reported an error ({message}).",
    "fail_deadline": "the service did not finish within {minutes} minutes, so I stopped waiting.",
    "refused": (
        "❌ The service refused the request: {message}\nNothing was charged. Your draft is back – "
        "change it and send /generate again."
    ),
    "refused_kept": "❌ The service refused the request: {message}\nNothing was charged.",
    "quota": "❌ The service account has run out of credits, so nothing was submitted. Please tell the bot's owner.",
    "service_auth": "❌ The bot is not allowed to use the video service right now. Please tell the bot's owner.",
    "service_down": (
        "❌ The video service is not answering right now, so nothing was submitted. Your draft is "
        "back – please try /generate again in a few minutes."
    ),
    "submit_unknown": (
        "⚠️ I lost the connection while submitting, so I can't tell whether the service accepted "
        "your request. I won't submit it again by myself to avoid paying twice. "
        "If no video arrives within 15 minutes, send your photos and /generate again."
    ),
    "internal_error": "Sorry, something went wrong on my side. Your draft is kept – please try again.",
}

LANGUAGES: Final[dict[str, dict[str, str]]] = {"en": EN}


def language_for(code: str | None) -> str:
    """The language to speak to a user, from Telegram's `language_code`."""
    base = (code or "en").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


def t(lang: str, key: str, **params: Any) -> str:
    """The text for `key` in `lang` (falling back to English), formatted with `params`."""
    table = LANGUAGES.get(lang, EN)
    template = table.get(key) or EN[key]
    return template.format(**params) if params else template
