"""/stats for the bot's admins: today's tasks, failures by reason, credits, queue depth."""

from __future__ import annotations

from bot.telegram_text import fit_text
from storage import Store

DAY = 24 * 3600


async def stats_text(store: Store, *, now: float) -> str:
    """A short report of today's activity (UTC day) and what is running now."""
    midnight = now - now % DAY
    db = store.db
    by_status = await db.fetchall(
        "SELECT status, COUNT(*) FROM tasks WHERE created_at >= ? GROUP BY status ORDER BY 2 DESC",
        (midnight,),
    )
    failures = await db.fetchall(
        "SELECT COALESCE(error_code, 'unknown'), COUNT(*) FROM tasks WHERE created_at >= ?"
        " AND status IN ('failed', 'refused', 'unknown', 'cancelled')"
        " GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
        (midnight,),
    )
    credits = await db.fetchone(
        "SELECT COALESCE(SUM(credits_reserved), 0), COUNT(DISTINCT user_id) FROM tasks"
        " WHERE created_at >= ?",
        (midnight,),
    )
    queue = await db.fetchone(
        "SELECT COUNT(*) FROM tasks WHERE status IN ('preparing', 'submitting', 'pending',"
        " 'processing') OR (status = 'completed' AND delivery IN ('none', 'sending'))"
    )
    total = sum(int(row[1]) for row in by_status)
    lines = [f"Today (UTC): {total} tasks from {int(credits[1]) if credits else 0} users"]
    lines += [f"  {row[0]}: {row[1]}" for row in by_status]
    lines.append(f"Credits reserved today: {float(credits[0]) if credits else 0.0:g}")
    lines.append(f"In progress now: {int(queue[0]) if queue else 0}")
    if failures:
        lines.append("Failures by reason:")
        lines += [f"  {row[0]}: {row[1]}" for row in failures]
    return fit_text("\n".join(lines))
