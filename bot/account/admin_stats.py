"""/stats for the bot's admins: today's tasks, failures by reason, credits, queue depth."""

from __future__ import annotations

from bot.runtime.durations import utc_midnight
from bot.telegram.text_limits import fit_text
from storage import Store


async def stats_text(store: Store, *, now: float) -> str:
    """A short report of today's activity (UTC day) and what is running now."""
    midnight = utc_midnight(now)
    stats = await store.tasks.day_stats(midnight)
    total = sum(count for _, count in stats.by_status)
    lines = [f"Today (UTC): {total} tasks from {stats.users} users"]
    lines += [f"  {status}: {count}" for status, count in stats.by_status]
    lines.append(f"Credits reserved today: {stats.credits:g}")
    lines.append(f"In progress now: {stats.in_progress}")
    if stats.failures:
        lines.append("Failures by reason:")
        lines += [f"  {reason}: {count}" for reason, count in stats.failures]
    return fit_text("\n".join(lines))
