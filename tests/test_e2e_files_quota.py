"""References uploaded to Evolink's Files API are deleted once nothing can need them, so
cancelled, finished and abandoned drafts do not use up the account's file quota; a task the
upstream may still fetch for keeps its files. Against the fake Files API, over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from bot.runtime.durations import HOUR
from bot.runtime.janitor import SweepResult
from bot.services import BotApplication
from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

ALICE, BOB, CAROL = 811, 812, 813


def _live(evolink: FakeEvolink) -> int:
    return sum(1 for f in evolink.uploads if not f.deleted)


def _deletes(evolink: FakeEvolink) -> int:
    return sum(1 for method, path in evolink.requests if method == "DELETE")


async def _hosted(evolink: FakeEvolink, count: int) -> None:
    for _ in range(200):
        if len(evolink.uploads) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(evolink.uploads)} uploads, expected {count}")


async def test_uploads_are_deleted_when_no_task_can_need_them(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    evolink: FakeEvolink,
    applications: list[BotApplication],
) -> None:
    bot = await make_bot()
    services = applications[-1].bot_data.services

    async def sweep() -> SweepResult:
        # The periodic clean-up holds its lease for most of its interval: each sweep here is a
        # new period.
        await services.store.db.write("DELETE FROM jobs WHERE name = 'clean-up'")
        return await services.janitor.sweep()

    # Cancelled: deleted at the next clean-up.
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="a fox")
    await bot.reply_to(ALICE, text_contains="image 1")
    await _hosted(evolink, 1)
    telegram.send_text(ALICE, ALICE, "/cancel")
    await bot.reply_to(ALICE, text_contains="discarded")
    await sweep()
    assert _live(evolink) == 0 and _deletes(evolink) == 1

    # Submitted: kept while the task runs and until the video is in the chat, then deleted.
    telegram.send_photo(BOB, BOB, image_bytes(800, 600), caption="a cat")
    await bot.reply_to(BOB, text_contains="image 1")
    telegram.send_text(BOB, BOB, "/generate")
    submission = await evolink.wait_for_submission()
    await sweep()
    assert _live(evolink) == 1
    await evolink.complete(submission.task_id)
    await bot.video_in(BOB)
    await asyncio.sleep(0.2)  # the delivery is recorded
    await sweep()
    assert _live(evolink) == 0 and _deletes(evolink) == 2

    # Abandoned for hours, then generated after all: uploaded again, and the submit works.
    telegram.send_photo(CAROL, CAROL, image_bytes(800, 600), caption="a heron")
    await bot.reply_to(CAROL, text_contains="image 1")
    await _hosted(evolink, 3)
    await services.store.db.write(
        "UPDATE drafts SET updated_at = updated_at - ? WHERE user_id = ?", (7 * HOUR, CAROL)
    )
    result = await sweep()
    assert result.hosted_removed == 1 and _live(evolink) == 0
    telegram.send_text(CAROL, CAROL, "/generate")
    again = await evolink.wait_for_submission(2)
    assert len(again.references) == 1 and again.references[0].width == 800
    assert len(evolink.uploads) == 4 and _live(evolink) == 1
