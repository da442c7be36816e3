"""The generation options a user can change, and the buttons that change them."""

from __future__ import annotations

from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import limits
from bot.telegram.texts import t
from storage.models import Options

DURATIONS = tuple(range(limits.DURATION_MIN, limits.DURATION_MAX + 1))


def apply(options: Options, action: str) -> Options | None:
    """The options after one button press (`dur=8`, `q`, `ar=9:16`, `snd`, `flt`), or None."""
    name, _, value = action.partition("=")
    if name == "q":
        other = [q for q in limits.QUALITIES if q != options.quality]
        return replace(options, quality=other[0] if other else options.quality)
    if name == "snd":
        return replace(options, generate_audio=not options.generate_audio)
    if name == "flt":
        return replace(options, content_filter=not options.content_filter)
    if name == "dur" and value.isdigit() and int(value) in DURATIONS:
        return replace(options, duration=int(value))
    if name == "ar" and value in limits.ASPECT_RATIOS:
        return replace(options, aspect_ratio=value)
    return None


def describe(lang: str, options: Options) -> str:
    """One line with every option."""
    line = t(
        lang,
        "draft_options",
        duration=options.duration,
        quality=options.quality,
        aspect=_aspect(lang, options.aspect_ratio),
        sound=t(lang, "on" if options.generate_audio else "off"),
    )
    if not options.content_filter:
        line += "\n" + t(lang, "filter_off_note")
    return line


def main_keyboard(
    lang: str,
    prefix: str,
    options: Options,
    *,
    draft: bool,
    ideas: bool = False,
    removable: bool = False,
) -> InlineKeyboardMarkup:
    """The option buttons; for a draft also Prompt ideas, Remove a file, Generate and Cancel."""
    b = InlineKeyboardButton
    rows = [
        [
            b(f"⏱ {t(lang, 'seconds', n=options.duration)}", callback_data=f"{prefix}:menu=dur"),
            b(f"🎞 {options.quality}", callback_data=f"{prefix}:q"),
            b(f"📐 {_aspect(lang, options.aspect_ratio)}", callback_data=f"{prefix}:menu=ar"),
        ],
        [
            b(
                t(lang, "btn_sound", state=t(lang, "on" if options.generate_audio else "off")),
                callback_data=f"{prefix}:snd",
            ),
            b(
                t(lang, "btn_filter", state=t(lang, "on" if options.content_filter else "off")),
                callback_data=f"{prefix}:flt",
            ),
        ],
    ]
    if draft:
        extras = []
        if ideas:
            extras.append(b(t(lang, "btn_ideas"), callback_data=f"{prefix}:menu=ideas"))
        if removable:
            extras.append(b(t(lang, "btn_remove"), callback_data=f"{prefix}:menu=rm"))
        if extras:
            rows.append(extras)
        rows.append(
            [
                b(t(lang, "btn_generate"), callback_data=f"{prefix}:gen"),
                b(t(lang, "btn_cancel"), callback_data=f"{prefix}:x"),
            ]
        )
    else:
        rows.append([b(t(lang, "btn_done"), callback_data=f"{prefix}:done")])
    return InlineKeyboardMarkup(rows)


def submenu(lang: str, prefix: str, options: Options, menu: str) -> InlineKeyboardMarkup | None:
    """The choices for duration or aspect ratio, current one marked."""
    b = InlineKeyboardButton
    if menu == "dur":
        buttons = [
            b(
                _mark(t(lang, "seconds", n=d), d == options.duration),
                callback_data=f"{prefix}:dur={d}",
            )
            for d in DURATIONS
        ]
        rows = [buttons[i : i + 4] for i in range(0, len(buttons), 4)]
    elif menu == "ar":
        buttons = [
            b(_mark(_aspect(lang, a), a == options.aspect_ratio), callback_data=f"{prefix}:ar={a}")
            for a in limits.ASPECT_RATIOS
        ]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    else:
        return None
    rows.append([b(t(lang, "btn_back"), callback_data=f"{prefix}:back")])
    return InlineKeyboardMarkup(rows)


def _mark(label: str, current: bool) -> str:
    return f"• {label} •" if current else label


def _aspect(lang: str, ratio: str) -> str:
    return t(lang, "aspect_adaptive") if ratio == "adaptive" else ratio
