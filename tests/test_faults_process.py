"""The bot as a real process, killed (SIGKILL) at random moments of a task's life.

Whatever the moment, for every request: at most one paid submit, and either exactly one video
or a message that says what happened (unconfirmed, failed) - never silence, never two videos.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.models import Delivery, Task, TaskStatus
from tests.conftest import MakeBot
from tests.fakes.evolink import SUBMIT_PATH, FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import (
    UNTRACEABLE,
    BotRecords,
    draft_and_generate,
    records,
    settle,
    texts,
    videos,
)
from tests.harness import BotProcess
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

RUNS = 10
MAX_KILL_DELAY = 3.0
# Messages that tell the user how a request ended when no video came, or may have come.
REPORTS = (
    UNTRACEABLE,  # submit answer lost, no callbacks to find the task by
    "could not confirm it",  # delivery unconfirmed
    "could not be made",  # failed
    "could not send it",  # delivery failed
    "download link expired",
    "not answering right now",  # nothing submitted, draft back
)


@dataclass
class Run:
    """One request and where its life was cut."""

    number: int
    chat: int
    prompt: str
    kill_after: float
    stage: str = "?"
    submissions: int = 0
    videos: int = 0
    reported: bool = False
    status: str = "-"
    delivery: str = "-"
    update_lost: bool = False  # no task, and the draft still open: /generate never handled

    def problems(self) -> list[str]:
        """What broke the rules, in words."""
        if self.update_lost:
            return ["the /generate update was lost"]
        found = []
        if self.submissions > 1:
            found.append(f"{self.submissions} paid submits")
        if self.videos > 1:
            found.append(f"{self.videos} videos")
        if self.videos == 0 and not self.reported:
            found.append("neither a video nor a report: lost")
        return found


@pytest.fixture
async def process(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> AsyncIterator[BotProcess]:
    bot = BotProcess(telegram, evolink, tmp_path / "data")
    yield bot
    await bot.kill()


def _stage(telegram: FakeTelegram, evolink: FakeEvolink, run: Run, task: Task | None) -> str:
    """Roughly where the request was when the process died."""
    if task is None:
        return "before the task row"
    if task.delivery is Delivery.SENDING:
        return "delivering"
    if task.delivery is not Delivery.NONE:
        return f"after the outcome ({task.status}, {task.delivery})"
    if task.status.final:
        return "before delivery"
    if task.status is TaskStatus.PREPARING:
        return "downloading/hosting"
    if task.status is TaskStatus.SUBMITTING:
        return "submitting"
    return "polling"


async def _task_of(data_dir: Path, chat: int) -> Task | None:
    async with BotRecords(data_dir) as db:
        return next((t for t in await db.tasks() if t.key.chat_id == chat), None)


async def _settled(data_dir: Path, chat: int, timeout: float) -> Task | None:
    """The request's task once its outcome is recorded (None if it never got one)."""
    deadline = time.monotonic() + timeout
    task = None
    while time.monotonic() < deadline:
        task = await _task_of(data_dir, chat)
        if (
            task is not None
            and task.status.final
            and task.delivery not in {Delivery.NONE, Delivery.SENDING}
        ):
            return task
        await asyncio.sleep(0.1)
    return task


async def test_sigkill_at_random_points_never_loses_or_doubles_a_request(
    process: BotProcess, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    seed = int(os.environ.get("FAULTS_SEED") or random.randrange(2**31))
    rng = random.Random(seed)
    evolink.auto_progress = True  # each task query moves the task on; the 3rd completes it
    # Each stage takes a moment, so that kills land in all of them.
    telegram.set_delay("getFile", 0.3)  # downloading the user's photo
    evolink.set_delay("/api/v1/files/upload/stream", 0.3)  # hosting it
    evolink.set_answer_delay(SUBMIT_PATH, 0.3)  # accepted, answer on its way
    telegram.set_delay("sendVideo", 0.3)  # delivering
    await process.start()
    runs: list[Run] = []
    for number in range(RUNS):
        chat = 7100 + number
        run = Run(number, chat, f"run {number}: a comet over the hills", rng.uniform(0, 3.0))
        runs.append(run)
        telegram.send_photo(chat, chat, image_bytes(800, 600), caption=run.prompt)
        telegram.send_text(chat, chat, "/generate")
        await asyncio.sleep(run.kill_after)
        await process.kill()
        run.stage = _stage(telegram, evolink, run, await _task_of(process.data_dir, chat))
        await process.start()
        task = await _settled(process.data_dir, chat, timeout=15)
        await asyncio.sleep(0.4)  # anything sent late (a second video) would show by now
        run.submissions = sum(1 for s in evolink.submissions if s.body["prompt"] == run.prompt)
        run.videos = len(videos(telegram, chat))
        run.reported = any(marker in text for text in texts(telegram, chat) for marker in REPORTS)
        if task is not None:
            run.status, run.delivery = task.status.value, task.delivery.value
        else:
            async with BotRecords(process.data_dir) as db:
                run.update_lost = any(d.key.chat_id == chat for d in await db.open_drafts())
    table = "\n".join(
        f"  #{r.number} kill {r.kill_after:.2f}s in {r.stage}: submits={r.submissions} "
        f"videos={r.videos} reported={r.reported} task={r.status}/{r.delivery} "
        f"{'; '.join(r.problems()) or 'ok'}"
        for r in runs
    )
    summary = f"seed {seed} (FAULTS_SEED={seed} to replay):\n{table}"
    print(summary)
    assert not [r for r in runs if r.problems()], summary
    assert "Traceback" not in process.log, process.log[-3000:]


async def test_a_failure_report_cut_short_by_a_crash_is_sent_after_the_restart(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    # The process dies while the explanation of a failed task is on its way: the record says
    # "sending". An explanation costs nothing to repeat; never hearing of the failure is worse.
    chat = 7201
    bot = await make_bot()
    await draft_and_generate(bot, chat, prompt="a bridge at dusk")
    submission = await evolink.wait_for_submission()
    await bot.reply_to(chat, text_contains="credits reserved")
    await bot.crash()
    await evolink.fail(submission.task_id, code="generation_failed_no_content", message="empty")
    async with BotRecords(bot.data_dir) as db:
        task = (await db.tasks())[0]
        moved = await db.store.tasks.update(
            task.id,
            status=TaskStatus.FAILED,
            error_code="generation_failed_no_content",
            error_message="empty",
            finished_at=time.time(),
            delivery=Delivery.SENDING,  # claimed by the sender that died
            expect_status=[TaskStatus.PENDING, TaskStatus.PROCESSING],
        )
        assert moved
    await bot.start()
    await bot.reply_to(chat, text_contains="could not be made")
    await settle()
    tasks, _ = await records(bot)
    assert tasks[0].delivery is Delivery.DELIVERED
    assert len(evolink.submissions) == 1 and videos(telegram, chat) == []


async def test_updates_fetched_but_not_yet_handled_survive_a_sigkill(
    process: BotProcess, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    chat = 7301
    await process.start()
    telegram.send_photo(chat, chat, image_bytes(800, 600), caption="a lost request")
    await telegram.wait_for(lambda c: c.method == "sendMessage" and "image 1" in c.text)
    # /help is answered slowly; /generate waits behind it in the bot's queue, already fetched.
    telegram.set_delay("sendMessage", 3)
    telegram.send_text(chat, chat, "/help")
    telegram.send_text(chat, chat, "/generate")
    await asyncio.sleep(1.0)
    await process.kill()
    telegram.set_delay("sendMessage", 0)
    await process.start()
    deadline = time.monotonic() + 3
    while (task := await _task_of(process.data_dir, chat)) is None and (  # noqa: ASYNC110
        time.monotonic() < deadline
    ):
        await asyncio.sleep(0.1)
    assert task is not None, "the /generate the user sent was silently dropped"
