"""The /status answer."""

from __future__ import annotations

from bot.texts import t
from storage.models import Task


def status_text(lang: str, tasks: list[Task], *, now: float) -> str:
    """A line per task in progress, or a short 'nothing running'."""
    if not tasks:
        return t(lang, "status_none")
    lines = [t(lang, "status_title")]
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
    return "\n".join(lines)
