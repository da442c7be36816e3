"""A small burst (bench/burst.py's tiny configuration): several users send clips and a large
picture at once to a bot with a single media worker. Every user gets an outcome, those who wait
are told where they are in the queue, and /help from someone else is answered meanwhile.

The figures (memory, latency) are measured by ``python -m bench.burst``, not judged here.
"""

from __future__ import annotations

import pytest

from bench import burst

pytestmark = pytest.mark.e2e


async def test_a_burst_of_heavy_files_gets_every_user_an_answer_and_others_are_still_served() -> (
    None
):
    cfg = burst.Config.tiny()
    result = await burst.run(cfg)
    users = cfg.clip_users + cfg.png_users
    assert result.figures["outcomes"] == users, result.text
    assert result.figures["ready"] == users, result.text
    assert result.figures["told_queued"] >= 1, result.text  # one worker: files had to wait
    assert result.figures["help.answers"] >= 3, result.text  # answered while files converted
    assert result.figures["workers.peak_mb"] > 0
