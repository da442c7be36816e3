"""Three replicas of the bot (real `python -m bot` processes) on one PostgreSQL database behind a
round-robin balancer, in webhook mode: each update is handled once and each person's updates in
order whichever replica gets them, an album spread over replicas becomes one draft with one
summary, a callback reaches any replica, and when one replica is killed (SIGKILL) in the middle
of it all the others take over its updates, files and tasks: every request gets exactly one
video, from exactly one paid task."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.cluster import Cluster
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import Call, FakeTelegram
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

REPLICAS = 3
TIMEOUT = 2.0  # REPLICA_TIMEOUT_SECONDS: a killed replica's work moves on after this
ALBUMS = {901: "a heron lifts off a misty pond", 902: "paper boats race down a gutter"}
ORDERED = (903, "a lamp flickers in an attic")  # photo, prompt, /generate, sent back to back
GROUP, TOPIC = -1009900, 77
TOPIC_USERS = {904: "two owls trade places on a branch", 905: "a snail climbs a glass of milk"}


@pytest.fixture
async def cluster(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path, postgres_url: str
) -> AsyncIterator[Cluster]:
    running = Cluster(
        telegram,
        evolink,
        tmp_path,
        postgres_url,
        replicas=REPLICAS,
        REPLICA_TIMEOUT_SECONDS=str(TIMEOUT),
        EVOLINK_CALLBACKS="on",
        MEDIA_HOSTING="evolink",
        POLL_INTERVAL_SECONDS="0.3",  # with callbacks on: a query every ~3 s
        ALBUM_QUIET_SECONDS="0.5",
    )
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


def _videos_to(telegram: FakeTelegram, chat: int) -> list[Call]:
    return [c for c in telegram.calls if c.ok and c.method == "sendVideo" and _chat(c) == chat]


def _chat(call: Call) -> int | None:
    chat = call.params.get("chat_id")
    return None if chat is None else int(chat)


def _said(telegram: FakeTelegram, chat: int, words: str) -> list[Call]:
    return [
        c
        for c in telegram.calls
        if c.ok
        and c.method in {"sendMessage", "editMessageText"}
        and _chat(c) == chat
        and words in c.text
    ]


async def _until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {within:g} s"
        await asyncio.sleep(0.05)


async def test_three_replicas_one_replica_killed_every_request_delivered_once(
    cluster: Cluster, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    telegram.set_delay("getFile", 0.2)  # files take a moment, so a kill finds some in hand
    # Private albums: their items go to different replicas (round robin).
    for chat, prompt in ALBUMS.items():
        for n in range(3):
            telegram.send_photo(
                chat,
                chat,
                image_bytes(700 + 10 * n, 600),
                caption=prompt if n == 0 else None,
                media_group_id=f"album-{chat}",
            )
    # Two people in one forum topic, each a one-shot album ("/generate ..." as the caption).
    for user, prompt in TOPIC_USERS.items():
        for n in range(2):
            telegram.send_photo(
                GROUP,
                user,
                image_bytes(720 + 10 * n, 640),
                caption=f"/generate {prompt}" if n == 0 else None,
                media_group_id=f"topic-{user}",
                chat_type="supergroup",
                message_thread_id=TOPIC,
            )
    # One person's three updates back to back: each reaches another replica, in this order.
    chat, prompt = ORDERED
    telegram.set_delay("sendMessage", 1.0, chat_id=chat)  # their prompt's answer is slow
    telegram.send_photo(chat, chat, image_bytes(800, 640))
    telegram.send_text(chat, chat, prompt)
    prompt_update = telegram.last_update_id
    telegram.send_text(chat, chat, "/generate")

    # The replica handling that prompt is killed while it does: the person's /generate, held
    # by another replica behind it, must wait for it, and then take it over.
    await _until(lambda: prompt_update in cluster.balancer.updates, 20, "the prompt delivered")
    victim = cluster.holder_of(prompt_update)
    await victim.kill()
    survivors = [r for r in cluster.replicas if r is not victim]

    # The private albums: one draft, one summary each, with all three photos.
    for album_chat in ALBUMS:
        await telegram.wait_for(
            lambda c, a=album_chat: (
                c.ok and _chat(c) == a and "image 1, image 2, image 3" in c.text
            ),
            timeout=30,
        )
        telegram.send_text(album_chat, album_chat, "/generate")
    requests = len(ALBUMS) + len(TOPIC_USERS) + 1
    await evolink.wait_for_submission(requests, timeout=60)

    # Some tasks end with a callback (to any replica), the others are found by polling.
    for n, task_id in enumerate(list(evolink.tasks)):
        if n % 2:
            evolink.tasks[task_id].callback_url = None
        await evolink.complete(task_id)
    chats = [*ALBUMS, chat]
    try:
        await _until(
            lambda: (
                all(_videos_to(telegram, c) for c in chats)
                and len(_videos_to(telegram, GROUP)) >= len(TOPIC_USERS)
            ),
            60,
            "every video",
        )
    except AssertionError as missing:
        waiting = [c for c in chats if not _videos_to(telegram, c)]
        logs = "\n".join(r.log[-2000:] for r in survivors)
        raise AssertionError(
            f"{missing}; no video yet in {waiting}; survivors' logs:\n{logs}"
        ) from None
    await asyncio.sleep(2 * TIMEOUT)  # a second video, if any were coming, would be here by now

    # Exactly one paid task and one video per request.
    prompts = [s.body["prompt"] for s in evolink.submissions]
    assert sorted(prompts) == sorted([*ALBUMS.values(), *TOPIC_USERS.values(), prompt])
    assert len(evolink.tasks) == requests
    for album_chat in ALBUMS:
        assert len(_videos_to(telegram, album_chat)) == 1
        drafts = [c for c in telegram.sent("sendMessage", album_chat) if "Your draft" in c.text]
        assert len(drafts) == 1, [d.text for d in drafts]  # one summary for the whole album
    assert len(_videos_to(telegram, chat)) == 1
    topic_videos = _videos_to(telegram, GROUP)
    assert len(topic_videos) == len(TOPIC_USERS)
    assert {v.params.get("message_thread_id") for v in topic_videos} == {TOPIC}
    by_prompt = {s.body["prompt"]: s for s in evolink.submissions}
    for user_prompt in TOPIC_USERS.values():
        assert len(by_prompt[user_prompt].body["image_urls"]) == 2  # the whole album
    for album_prompt in ALBUMS.values():
        assert len(by_prompt[album_prompt].body["image_urls"]) == 3
    # The ordered person: photo, then prompt, then /generate, though three replicas had them.
    assert len(by_prompt[prompt].body["image_urls"]) == 1
    assert not _said(telegram, chat, "nothing to generate")
    assert not _said(telegram, chat, "Prompt: needed")
    # The balancer spread the work, the killed replica held some, the survivors did the rest.
    assert all(cluster.balancer.served[b] for b in cluster.balancer.backends)
    for replica in survivors:
        assert "Traceback" not in replica.log, replica.log[-3000:]
    taken_over = "".join(r.log for r in survivors)
    assert "taken over from a stopped replica" in taken_over, taken_over[-3000:]
