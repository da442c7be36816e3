"""The /status answer."""

from __future__ import annotations

from bot.telegram.text_limits import TEXT_MAX, fit_lines
from bot.telegram.texts import t
from storage.models import Task


def status_text(lang: str, tasks: list[Task], *, now: float) -> str:
    """A line per task in progress, or a short 'nothing running'."""
    if not tasks:
        return t(lang, "status_none")
    lines: list[str] = []
    for task in tasks:
        progress = f" {task.progress}%" if task.status.running and task.progress else ""
        lines.append(
            t(
                lang,
                "status_line",
                id=task.id,
                state=t(lang, f"state_{task.status.value}"),
                progress=progress,
                minutes=max(0, round((now - task.created_at) / 60)),
            )
        )
    return fit_lines([t(lang, "status_title")], lines, [], TEXT_MAX, lang, more_key="more_videos")
