"""Every word the bot says to users, per language (English now; more languages plug in here)."""

from __future__ import annotations

from typing import Any, Final

from bot.telegram.texts_zh import ZH

EN: Final[dict[str, str]] = {
    "start": (
        "👋 Hi! I turn your photos, video clips and voice notes into short AI videos.\n"
        "Each video is paid for with credits from my owner's account, so send a request "
        "when you mean it; /balance shows what yours used.\n\n"
        "Try it: send two photos with this caption, then tap 🎬 Generate:\n"
        "“image 1 is the first frame, image 2 the last; the camera slowly pushes in”\n\n"
        "/help has everything else."
    ),
    "help": (
        "How to make a video:\n"
        "1. Send photos (up to 9), video clips (up to 3) and voice notes or music (up to 3). "
        "Files work too: HEIC, PNG, MOV, MP3…\n"
        "2. Describe the video in a caption or a text. Name your files as my draft numbers "
        "them: image 1, video 1, audio 1 – e.g. “image 1 is the first frame, the camera slowly "
        "pulls back; audio 1 is the music”.\n"
        "3. Set length, quality and shape with the buttons under the draft, then tap "
        "🎬 Generate (or send /generate). The video arrives here as a reply.\n\n"
        "/generate [prompt] – make the video · /cancel – discard the draft\n"
        "/settings – your default length, quality, shape and sound\n"
        "/status – videos in progress · /history – your latest videos\n"
        "/balance – what your videos used"
    ),
    "help_group": (
        "How to make a video in this group:\n"
        "• Reply to a photo, clip or album with /generate and a description, e.g. "
        "“/generate image 1 is the first frame, the camera slowly pulls back”.\n"
        "• Or send photos with a caption that starts with /generate and the description.\n"
        "• If my draft asks for a description, reply to it with one.\n"
        "Everyone's drafts and videos are their own; videos arrive as replies to the request.\n\n"
        "/settings – this group's defaults (admins) · /status · /history · /balance · /cancel"
    ),
    "help_group_privacy": (
        "\n\nℹ️ Here I only see commands and replies to my messages (Telegram's privacy mode "
        "for bots), so of an album I only see the item you reply to. To use whole albums, a "
        "group admin can make me an admin here."
    ),
    "album_partly_seen": (
        "ℹ️ Of that album I could see only the item you replied to: in this group Telegram shows "
        "me only commands and replies to my messages. I'll use that one. To use whole albums "
        "here, a group admin can make me an admin."
    ),
    "command_generate": "Make the video from your draft",
    "command_settings": "Default length, quality, shape and sound",
    "command_status": "Your videos in progress",
    "command_history": "Your latest videos",
    "command_balance": "What your videos used",
    "command_cancel": "Discard the current draft",
    "command_help": "How to use this bot",
    "draft_title": "Your draft",
    "draft_refs": "References: {refs}",
    "draft_no_refs": "References: none yet – send a photo or a video clip.",
    "draft_pending": "{count} files still being checked…",
    "draft_pending_one": "1 file still being checked…",
    "draft_queue": "Waiting for a free converter: {ahead} files from other people are ahead.",
    "draft_queue_one": "Waiting for a free converter: 1 file from someone else is ahead.",
    "draft_queue_next": "Waiting for a free converter: yours are next.",
    "draft_prompt": "Prompt: {prompt}",
    "draft_no_prompt": "Prompt: not set – send me a text describing the video.",
    "draft_no_prompt_group": "Prompt: not set – reply to this message with a text describing the video.",
    "draft_ask_prompt": "Prompt: needed – send me a text describing the video, and I'll make it right away.",
    "draft_ask_prompt_group": "Prompt: needed – reply to this message with a text describing the video, and I'll make it right away.",
    "draft_moved": "This draft has moved to my newest message below.",
    "draft_summary_cancelled": "Draft discarded.",
    "draft_options": "Options: {duration} s · {quality} · {aspect} · sound {sound}",
    "draft_menu_hint": "Change the options with the buttons below.",
    "draft_next": "Send /generate to make the video, or /cancel to discard the draft.",
    "on": "on",
    "off": "off",
    "aspect_adaptive": "auto",
    "filter_off_note": "Content filter off: the request costs 1.1× (unlawful content is always blocked).",
    "cost_estimate": "Cost: about {credits} credits (from your recent videos); the exact amount is reserved when you generate.",
    "cost_unknown": "Cost: the service reserves the exact amount when you generate; /balance shows what your videos used.",
    "cost_video_note": "Reference videos add to the cost.",
    "btn_sound": "🔊 Sound: {state}",
    "btn_filter": "🛡 Content filter: {state}",
    "btn_remove": "➖ Remove a file",
    "btn_remove_item": "✖ {item}",
    "seconds": "{n} s",
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
    "reason_unsupported_format": (
        "it is in a format I can't decode ({format}). Send a JPEG or PNG photo, an MP4 clip or an "
        "MP3 file."
    ),
    "reason_unsupported_format_image": "it is a picture in a format I can't use ({format}). Send a JPEG or PNG photo.",
    "reason_unsupported_format_video": "its picture is in a format I can't decode ({format}). Send an MP4 (H.264) clip.",
    "reason_unsupported_format_audio": (
        "its sound is in a format I can't decode ({format}). Send an MP3 or M4A file, or a voice note."
    ),
    "reason_damaged_picture": (
        "it is a picture ({format}), but it is damaged or incomplete, so I can't read it. "
        "Send it again, or send a JPEG or PNG photo."
    ),
    "reason_animation_unsupported": (
        "it is an animated {format}, which I can't turn into a clip. Send it as an MP4 video or a "
        "GIF, or send a still picture."
    ),
    "reason_unprocessable": (
        "I could not process it: the converter stopped on it. Send it in another format – a JPEG "
        "or PNG photo, an MP4 clip or an MP3 file."
    ),
    "reason_unprocessable_timeout": (
        "I could not process it: it took longer than I allow for one file. Send a shorter or "
        "smaller file."
    ),
    "reason_unprocessable_cpu": (
        "I could not process it: it took more computing time than I allow for one file. Send a "
        "shorter or smaller file."
    ),
    "reason_unprocessable_memory": (
        "I could not process it: it needs more memory than I allow for one file. Send a smaller "
        "file."
    ),
    "reason_unprocessable_interrupted": (
        "I could not process it: the bot stopped twice while working on it, so I won't try it "
        "again. Send it in another format, or send it again later."
    ),
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
    "settings_saved": "Your defaults are set: every change was saved as you tapped it.",
    "settings_admins_only": "Only the group's admins can change its defaults.",
    "balance": "Account credits left: {remaining}{used}",
    "balance_used": " (used: {used})",
    "balance_unknown": "The service did not say how many credits are left.",
    "balance_failed": "I could not reach the service to read the balance. Please try again later.",
    "balance_admin_private": "The account's credits are shown in a private chat with me only.",
    "usage_title": "Your videos:",
    "usage_today": "• today: {count}",
    "usage_today_limit": "• today: {count} of {limit} (the daily limit; it resets at midnight UTC)",
    "usage_running": "• in progress: {count}",
    "usage_credits": "• credits reserved for them: {today} today, {total} in all",
    "balance_key_refused": "The bot is not set up right: the video service does not accept its key, so I can't read the balance. The bot's owner has been told.",
    "history_none": "You have no videos here yet.",
    "history_title": "Your latest videos here (times in UTC):",
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
    "quota_running": "Your videos in progress are at your limit ({limit} at once). Wait for one to finish, then try again.",
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
    "need_visual": "Add a photo or a video clip first: the service needs a picture to work from.",
    "waiting_for_files": "⏳ Getting your files ready; I'll submit the request right after.",
    "already_submitted": (
        "Your draft was already submitted – see /status. Send new photos to start another one."
    ),
    "draft_cancelled": "Draft discarded.",
    "draft_cancelled_file": "Draft discarded, with its file.",
    "draft_cancelled_files": "Draft discarded, with the {count} files in it.",
    "nothing_to_cancel": "There is no draft to discard.",
    "cannot_stop": "There is no draft to discard. Your video {ids} is already being made, and the service offers no way to stop it; it will arrive here.",
    "status_none": "You have no videos in progress.",
    "status_title": "Your videos in progress:",
    "status_line": "• #{id}: {state}{progress} – started {minutes} min ago",
    "state_preparing": "preparing files",
    "state_submitting": "submitting",
    "state_pending": "queued",
    "state_processing": "generating",
    "state_unknown": "⚠️ sent, not confirmed – waiting for the service's word",
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
    "reason_too_many_pixels_unsized": (
        "it has too many pixels to process safely (over {max_mp} megapixels). Send a smaller "
        "version."
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
        "a draft can hold at most {limit} {kinds}. To use this one instead, take one out with "
        "“➖ Remove a file” under your draft and send this one again – or generate with the "
        "ones you have."
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
    "change_fps_changed_unknown": "frame rate set to {to} fps (the file gave none)",
    "change_audio_extracted": "sound taken from the video",
    "change_audio_removed": "its sound track removed (unreadable)",
    "change_metadata_removed": "hidden data removed: {what}",
    "meta_location": "location",
    "meta_date": "date and time",
    "meta_device": "camera or phone model",
    "meta_camera_settings": "camera settings",
    "meta_author": "author's name",
    "meta_comment": "a comment",
    "meta_xmp": "editing data (XMP)",
    "meta_iptc": "captions (IPTC)",
    "meta_text": "text notes",
    "meta_other": "other hidden data",
    "changed": "{item}: {changes}.",
    "submitting": "⏳ Submitting your video request…",
    "progress": "🎬 Making your video… {progress}%{credits}{eta}",
    "progress_credits": " · {credits} credits reserved",
    "progress_eta": " · ready in about {minutes} min",
    "progress_eta_soon": " · almost ready",
    "done_status": "✅ Done – your video is below.",
    "done_caption": "“{prompt}”\n{duration} s · {quality}{credits}",
    "btn_again_cost": "🔁 Again · {credits} credits",
    "btn_again_video": "🔁 Again",
    "btn_try_again": "🔁 Try again",
    "btn_edit": "✏️ Edit",
    "not_your_video": "This is someone else's video.",
    "rerun_already": "This one is being made again already: see #{id}.",
    "edit_draft_open": "You have a draft open here: send /generate or /cancel it first.",
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
    "failed_retry": "It may work if you try again: tap 🔁 Try again.",
    "fail_content_policy_violation": "the service's content policy blocked it. Try a different prompt or image.",
    "fail_invalid_parameters": "the service did not accept the request ({message}).",
    "fail_image_processing_error": "the service could not process one of the images. Try other images.",
    "fail_image_dimension_mismatch": "the images' sizes or shapes did not suit the service. Try other images.",
    "fail_generic": "the service reported an error ({message}).",
    "refused": (
        "❌ The service refused the request: {message}\nNothing was charged. Your draft is back – "
        "change it and send /generate again."
    ),
    "refused_kept": "❌ The service refused the request: {message}\nNothing was charged.",
    "quota": "❌ The service account has run out of credits, so nothing was submitted. Please tell the bot's owner.",
    "service_auth": "❌ The bot is not set up right: the video service does not accept its key, so nothing was submitted or charged. The bot's owner has been told. Your draft is kept – send /generate again later.",
    "service_down": (
        "❌ The video service is not answering right now, so nothing was submitted. Your draft is "
        "back – please try /generate again in a few minutes."
    ),
    "submit_unknown_waiting": (
        "⚠️ The connection to the video service broke after your request was sent, so I can't "
        "confirm it was accepted.\nIt may well have started your video: if it did, the video "
        "will arrive here. Please don't send the request again yet – that could pay for it "
        "twice. If nothing comes by {until} UTC, I'll tell you."
    ),
    "submit_unknown_untraceable": (
        "⚠️ The connection to the video service broke after your request was sent, so I can't "
        "tell whether it was accepted. If it was, it is paid for, but without the service's "
        "answer I have no way to follow it, so its video can't reach you through me.\n"
        "Please don't send the request again before the bot's owner has checked the account's "
        "recent usage: sending it now might pay for it twice."
    ),
    "submit_unknown_closed": (
        "⚠️ The video service never confirmed the request you sent at {since} UTC, and no video "
        "came for it, so it was most likely not made – but I can't be sure. You can send it "
        "again now; /history shows it as unconfirmed, and the bot's owner can check the "
        "account's usage. If its video turns up after all, I'll still send it here."
    ),
    "submit_confirmed": (
        "✅ The video service has confirmed your request after all: your video is being made "
        "and will arrive here."
    ),
    "failed_deadline": (
        "⏳ Your video wasn't finished within {minutes} minutes, so I've stopped waiting for it. "
        "If it still finishes within 24 hours of your request, I'll send it here."
    ),
    "status_see_reply": "⬇️ See my reply below.",
    "status_unconfirmed": "⚠️ Sent, but not confirmed – see below.",
    "status_not_submitted": "↩️ Not submitted – see below.",
    "status_failed": "❌ No video – see below.",
    "status_confirmed": "🎬 Making your video…",
    "hosting_failed": (
        "❌ I could not upload your files for the service ({message}), so nothing was submitted. "
        "Your draft is back – try /generate again in a few minutes. If this keeps happening, the "
        "bot's owner can switch MEDIA_HOSTING to local or s3."
    ),
    "internal_error": "Sorry, something went wrong on my side. Your draft is kept – please try again.",
    "more_lines": "… (lines left out: {count})",
    "more_chars": "… ({count} more characters)",
    "more_changes": "… (files whose changes are left out: {count})",
    "more_videos": "… (videos left out: {count})",
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
