"""Every word the bot says to users, per language (English now; more languages plug in here)."""

from __future__ import annotations

from typing import Any, Final

from bot.texts_zh import ZH

EN: Final[dict[str, str]] = {
    "help": (
        "Send me photos (up to 9), video clips (up to 3) or voice notes and music (up to 3), "
        "with a caption describing the video you want, then tap Generate or send /generate.\n\n"
        "Name your files in the prompt as the summary numbers them: image 1, video 1, audio 1. "
        "Example: “image 1 is the first frame, the camera slowly pulls back; audio 1 is the "
        "music”.\n\n"
        "In a group, reply to a photo or video with /generate and your prompt.\n\n"
        "/generate [prompt] – make the video\n"
        "/settings – your default length, quality, shape and sound\n"
        "/status – videos in progress · /history – your latest videos\n"
        "/balance – credits left · /cancel – discard the draft"
    ),
    "command_generate": "Make the video from your draft",
    "command_settings": "Default length, quality, shape and sound",
    "command_status": "Your videos in progress",
    "command_history": "Your latest videos",
    "command_balance": "Credits left",
    "command_cancel": "Discard the current draft",
    "command_help": "How to use this bot",
    "draft_title": "Your draft",
    "draft_refs": "References: {refs}",
    "draft_no_refs": "References: none yet – send a photo.",
    "draft_pending": "{count} file(s) still being checked…",
    "draft_prompt": "Prompt: {prompt}",
    "draft_no_prompt": "Prompt: not set – send a text message describing the video.",
    "draft_options": "Options: {duration} s · {quality} · {aspect} · sound {sound}",
    "draft_menu_hint": "Change the options with the buttons below.",
    "draft_next": "Send /generate to make the video, or /cancel to discard the draft.",
    "on": "on",
    "off": "off",
    "aspect_adaptive": "auto",
    "filter_off_note": "Content filter off: the request costs 1.1× (unlawful content is always blocked).",
    "cost_estimate": "Cost: about {credits} credits (from your recent videos); the exact amount is reserved when you generate.",
    "cost_unknown": "Cost: the service reserves the exact amount when you generate; /balance shows your credits.",
    "cost_video_note": "Reference videos add to the cost.",
    "btn_sound": "🔊 Sound: {state}",
    "btn_filter": "🛡 Filter: {state}",
    "btn_ideas": "💡 Prompt ideas",
    "btn_generate": "🎬 Generate",
    "btn_cancel": "🗑 Cancel",
    "btn_back": "« Back",
    "btn_done": "✅ Done",
    "btn_idea_new": "New video from my references",
    "btn_idea_edit": "Edit video 1 with image 1",
    "btn_idea_extend": "Extend / join my videos",
    "btn_again": "Send #{id} again",
    "ref_image": "image {n}",
    "ref_video": "video {n}",
    "ref_audio": "audio {n}",
    "what_stickers": "stickers",
    "what_other": "this kind of message",
    "reason_not_media": (
        "it is not a photo, video or sound file I can read, or it is damaged. "
        "Send a JPEG/PNG/WebP photo, an MP4/MOV video, or an MP3/WAV/voice recording."
    ),
    "reason_unsupported_codec": "it uses a video format ({codec}) I can't convert. Send an MP4 (H.264) clip.",
    "idea_image": "image {n}",
    "idea_video": "video {n}",
    "idea_then": ", then ",
    "idea_new": "{first} is the first frame. <what moves, and how> <how the camera moves> <mood, light, style>.",
    "idea_new_last": "End on {last} as the last frame.",
    "idea_edit": "In video 1, replace <the object> with the one in image 1; keep the camera movement and timing the same.",
    "idea_extend_one": "Continue video 1: <what happens next>, with the same camera style.",
    "idea_extend_many": "{chain}: join them into one continuous shot, <how one leads into the next>.",
    "idea_audio": "Use audio 1 as the background music.",
    "idea_sent": "Tap the text to copy it, fill in the parts in &lt;…&gt;, and send it to me as your prompt:\n\n<code>{skeleton}</code>",
    "not_your_draft": "This draft belongs to someone else.",
    "draft_closed": "This draft is no longer open.",
    "settings_title": "Your defaults for new drafts:",
    "settings_group_title": "This group's defaults for new drafts (set by admins):",
    "settings_saved": "Saved.",
    "settings_admins_only": "Only the group's admins can change its defaults.",
    "balance": "Credits left: {remaining}{used}",
    "balance_used": " (used: {used})",
    "balance_unknown": "The service did not say how many credits are left.",
    "balance_failed": "I could not reach the service to read the balance. Please try again later.",
    "history_none": "You have no videos here yet.",
    "history_title": "Your latest videos here:",
    "history_line": "• #{id} {when}: {state} – {prompt}",
    "history_state_delivered": "✅ delivered",
    "history_state_running": "⏳ in progress",
    "history_state_failed": "❌ failed",
    "history_state_link": "🔗 sent as a link",
    "history_state_refused": "↩️ not submitted",
    "history_state_unknown": "⚠️ unconfirmed",
    "history_resent": "Here it is again.",
    "history_gone": "I can no longer send that video.",
    "not_allowed": "Sorry, this bot is private. Ask its owner for access.",
    "quota_daily": "You have reached today's limit of {limit} videos. It resets at midnight UTC.",
    "quota_running": "You already have {limit} video(s) in progress. Wait for one to finish, then try again.",
    "reply_without_media": "Reply with /generate to a message that has a photo, video or sound in it – or send media with a caption starting with /generate.",
    "ordinal": "{n}",
    "prompt_saved": "Prompt saved. Send /generate when you are ready.",
    "prompt_too_long": (
        "That prompt is too long for the service: it takes about 10,000 letters of English, or "
        "about 3,300 Chinese characters (an emoji counts as 4 letters). Yours is about "
        "{percent}% over – please shorten it and send it again."
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
    "cannot_stop": "There is no draft to discard. Your video {ids} is already being made, and the service offers no way to stop it; it will arrive here.",
    "status_none": "You have no videos in progress.",
    "status_title": "Your videos in progress:",
    "status_line": "• #{id}: {state}{progress} – started {minutes} min ago",
    "state_preparing": "preparing files",
    "state_submitting": "submitting",
    "state_pending": "queued",
    "state_processing": "generating",
    "unsupported_kind": (
        "I can't use {what} as a reference: send photos, videos, voice notes or music. "
        "Your draft is unchanged."
    ),
    "source_photo": "photo",
    "source_document": "file",
    "source_video": "video",
    "source_video_note": "video note",
    "source_animation": "GIF",
    "source_voice": "voice note",
    "source_audio": "audio file",
    "kinds_image": "images",
    "kinds_video": "videos",
    "kinds_audio": "audio clips",
    "item_file": "the file {name}",
    "item_only": "the {noun}",
    "item_nth": "the {nth} {noun}",
    "rejected": "{item} can't be used: {reason} The rest of your draft is kept.",
    "reason_not_an_image": "it is not an image I can read. Send a JPEG, PNG or WebP photo.",
    "reason_not_a_video_audio": (
        "it has sound but no picture. Send it as a voice note or music file to use the sound, "
        "or send a clip with a picture."
    ),
    "reason_not_a_video_image": "it is a still picture, not a clip. Send it as a photo instead.",
    "reason_not_a_video": "it is not a video I can read. Send an MP4 or MOV clip.",
    "reason_no_video_stream": "it holds no picture or sound I can use.",
    "reason_no_audio_stream": "it has no sound in it.",
    "reason_not_supported": "this kind of file can't be used. Send photos, videos, voice notes or music.",
    "reason_corrupt": "the file is damaged or in a format I can't read. Please send it again.",
    "reason_too_small": (
        "it is {width}×{height} px; the service needs at least {min} px on each side. "
        "Send a larger image."
    ),
    "reason_too_many_pixels": (
        "it has too many pixels to process safely ({width}×{height}). Send a smaller version."
    ),
    "reason_too_big": "it is {size_mb} MB; the limit is {limit_mb} MB. Send a smaller file.",
    "reason_too_big_for_telegram": (
        "it is {size_mb} MB, and Telegram lets bots download at most 20 MB. "
        "Send a shorter or compressed version."
    ),
    "reason_too_big_to_download": "it is larger than {limit_mb} MB, the most this bot takes. Send a shorter or compressed version.",
    "reason_too_short": (
        "it is {seconds} s long; the service needs at least {min} s. Send a longer clip."
    ),
    "reason_too_long": "it is {seconds} s long; I can use at most {max} s of it. Trim it first.",
    "reason_too_many": (
        "a draft can hold at most {limit} {kinds}. Remove one with /cancel and start again, "
        "or generate with the ones you have."
    ),
    "reason_no_budget": (
        "the {kinds} in your draft already add up to the service's {total} s limit."
    ),
    "reason_download_failed": "I could not download it from Telegram. Please send it again.",
    "reason_hosting_failed": (
        "I could not upload it for the service ({detail}). Please try again in a moment."
    ),
    "reason_disk_full": (
        "the bot's server is out of disk space, so I could not keep it. Please try again "
        "later; the bot's owner can see this in the log."
    ),
    "reason_storage_error": (
        "the bot could not store it on its server. Please try again later; the bot's owner can "
        "see this in the log."
    ),
    "reason_timeout": "it took too long to process. Send a shorter or smaller file.",
    "change_converted": "converted from {from} to {to}",
    "change_downscaled": "scaled down from {from} to {to}",
    "change_upscaled": "scaled up from {from} to {to}",
    "change_padded": "padded from {from} to {to} to fit the allowed shape",
    "change_rotated": "turned upright",
    "change_compressed": "compressed to fit the size limit",
    "change_trimmed": "trimmed from {from} to {to} s to fit the 15 s budget",
    "change_fps_changed": "frame rate changed from {from} to {to} fps",
    "change_audio_extracted": "sound taken from the video",
    "change_audio_removed": "its sound track removed (unreadable)",
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
    "hosting_failed": (
        "❌ I could not upload your files for the service ({message}), so nothing was submitted. "
        "Your draft is back – try /generate again in a few minutes. If this keeps happening, the "
        "bot's owner can switch MEDIA_HOSTING to local or s3."
    ),
    "internal_error": "Sorry, something went wrong on my side. Your draft is kept – please try again.",
    "more_lines": "…and {count} more line(s)",
    "more_chars": "… ({count} more characters)",
    "more_changes": "…and changes to {count} more file(s)",
    "more_videos": "…and {count} more video(s)",
}

LANGUAGES: Final[dict[str, dict[str, str]]] = {"en": EN, "zh": ZH}


def language_for(code: str | None) -> str:
    """The language to speak to a user, from Telegram's `language_code`."""
    base = (code or "en").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


def t(lang: str, key: str, **params: Any) -> str:
    """The text for `key` in `lang` (falling back to English), formatted with `params`."""
    table = LANGUAGES.get(lang, EN)
    template = table.get(key) or EN[key]
    return template.format(**params) if params else template
