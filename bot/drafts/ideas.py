"""Prompt skeletons for the API's three scenarios, naming the user's own references."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.texts import t

SCENARIOS = ("new", "edit", "extend")


def available(counts: dict[str, int]) -> list[str]:
    """The scenarios the draft's references allow."""
    found = []
    if counts.get("image") or counts.get("video"):
        found.append("new")
    if counts.get("video") and counts.get("image"):
        found.append("edit")
    if counts.get("video"):
        found.append("extend")
    return found


def skeleton(lang: str, scenario: str, counts: dict[str, int]) -> str:
    """A prompt to copy and complete; the parts in <…> are for the user to fill in."""
    images, videos, audios = counts.get("image", 0), counts.get("video", 0), counts.get("audio", 0)
    if scenario == "edit":
        text = t(lang, "idea_edit")
    elif scenario == "extend":
        if videos >= 2:
            chain = t(lang, "idea_then").join(
                t(lang, "idea_video", n=n) for n in range(1, videos + 1)
            )
            text = t(lang, "idea_extend_many", chain=chain)
        else:
            text = t(lang, "idea_extend_one")
    else:
        first = t(lang, "idea_image", n=1) if images else t(lang, "idea_video", n=1)
        text = t(lang, "idea_new", first=first)
        if images >= 2:
            text += " " + t(lang, "idea_new_last", last=t(lang, "idea_image", n=images))
    if audios:
        text += " " + t(lang, "idea_audio")
    return text


def keyboard(lang: str, prefix: str, counts: dict[str, int]) -> InlineKeyboardMarkup:
    """One button per scenario the draft allows, and Back."""
    rows = [
        [InlineKeyboardButton(t(lang, f"btn_idea_{s}"), callback_data=f"{prefix}:idea={s}")]
        for s in available(counts)
    ]
    rows.append([InlineKeyboardButton(t(lang, "btn_back"), callback_data=f"{prefix}:back")])
    return InlineKeyboardMarkup(rows)
