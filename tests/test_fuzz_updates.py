"""Thousands of odd Telegram updates thrown at the real handlers.

The real `Application` (`bot.app.build_application`) runs against the fake Telegram and the
fake Evolink; hypothesis builds updates (every message kind, huge and strange text, albums with
nothing in them, edits, channel posts, forged button data, commands for other bots...) and they
go straight to `application.process_update`, no polling. After each batch:

- nothing reached the error handler, and nothing else was logged as an error;
- every Bot API call the bot made was well formed: the fake Telegram answered it `ok` (the fake
  refuses what Telegram would: empty or too long text, a reply to nothing, a bad keyboard...).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import AIORateLimiter

from bot.app import build_application
from bot.services import BotApplication
from bot.settings import load_settings
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import NOT_MODIFIED, Call, FakeTelegram
from tests.mediagen import image_bytes, write_audio, write_video

pytestmark = pytest.mark.e2e

T = TypeVar("T")
JSON = dict[str, Any]

BOT_NAME = "seedance_test_bot"
USERS = (4101, 4102, 4103)
GROUP, FORUM, CHANNEL = -4201, -1004202, -1004203
EXAMPLES = 800
SQLITE_MAX = 2**63 - 1
# Placeholders the strategies leave for `Rig.materialise`, which knows the chat's history:
# strategies must not depend on state that changes between examples.
PICK_REPLY = "_pick_reply"
PICK_BOT_MESSAGE = "_pick_bot_message"


class _ErrorLog(logging.Handler):
    """Every record at ERROR or above, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Rig:
    """The bot's Application and the two fakes, on an event loop of their own.

    Hypothesis calls the test synchronously once per example; each example runs its coroutine
    on this loop, so the bot's state (drafts, tasks, files) carries over, as in real life.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.loop = asyncio.new_event_loop()
        self.telegram = FakeTelegram(bot_username=BOT_NAME)
        self.evolink = FakeEvolink(auto_progress=True)
        self.application: BotApplication | None = None
        self.errors = _ErrorLog()
        self.media: dict[str, JSON | list[JSON]] = {}
        self.checked_calls = 0
        self._ids = itertools.count(10_000)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def start(self) -> None:
        await self.telegram.start()
        await self.evolink.start()
        settings = load_settings(
            telegram_bot_token=self.telegram.token,
            telegram_api_base_url=self.telegram.base_url,
            telegram_file_base_url=self.telegram.base_file_url,
            evolink_api_key=self.evolink.api_key,
            evolink_base_url=self.evolink.base_url,
            evolink_files_base_url=self.evolink.files_base_url,
            evolink_callbacks="off",
            poll_interval_seconds=0.2,
            progress_edit_seconds=0,
            album_quiet_seconds=0.05,
            data_dir=self.data_dir,
        )
        self.application = build_application(settings)
        await self.application.initialize()
        assert self.application.post_init is not None
        await self.application.post_init(self.application)
        await self.application.start()
        await self._make_media()
        self.checked_calls = len(self.telegram.calls)
        logging.getLogger().addHandler(self.errors)

    async def stop(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        if self.application is not None:
            await self.application.stop()
            assert self.application.post_shutdown is not None
            await self.application.post_shutdown(self.application)
            await self.application.shutdown()
        await self.evolink.stop()
        await self.telegram.stop()

    async def _make_media(self) -> None:
        """Real files the fake Telegram serves, so downloads work as they would."""
        fake, user = self.telegram, USERS[0]
        tmp = self.data_dir.parent
        clip = (write_video(tmp / "clip.mp4", width=640, height=640, seconds=3)).read_bytes()
        tone = write_audio(tmp / "tone.mp3", seconds=3).read_bytes()
        messages = {
            "photo": fake.send_photo(user, user, image_bytes(800, 600)),
            "photo_small": fake.send_photo(user, user, image_bytes(120, 90)),
            "document": fake.send_document(user, user, image_bytes(700, 500), file_name="a.png"),
            "junk": fake.send_document(user, user, b"%PDF-1.4 junk", file_name="b.pdf"),
            "video": fake.send_video(user, user, clip, width=640, height=640, duration=3),
            "voice": fake.send_voice(user, user, tone, duration=3),
            "audio": fake.send_audio(user, user, tone, duration=3, file_name="t.mp3"),
        }
        for kind, message in messages.items():
            key = kind.removesuffix("_small") if kind != "junk" else "document"
            self.media[kind] = message[key]
        fake._updates.clear()  # made through the user side; only their files are wanted

    def materialise(self, update: JSON) -> JSON:
        """The update as Telegram would send it: its message stored (so it gets an id, and
        replies to it work), placeholders resolved against the chat's history."""
        update = {"update_id": next(self._ids), **update}
        for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
            if kind in update:
                update[kind] = self._store(update[kind])
        query = update.get("callback_query")
        if query is not None:
            pick = query.pop(PICK_BOT_MESSAGE)
            chat_id = query["message"]["chat"]["id"]
            mine = [
                m
                for m in self.telegram.messages.get(chat_id, {}).values()
                if m["from"].get("is_bot") and not m.get("_deleted")
            ][-10:]
            if pick is not None and mine:
                query["message"] = _public(mine[pick % len(mine)])
            self.telegram.allow_callback_query(query["id"])
        return update

    def _store(self, message: JSON) -> JSON:
        pick = message.pop(PICK_REPLY, None)
        earlier = [
            m
            for m in self.telegram.messages.get(message["chat"]["id"], {}).values()
            if not m.get("_deleted")
        ][-20:]
        if pick is not None and earlier:
            target = _public(earlier[pick % len(earlier)])
            target.pop("reply_to_message", None)
            message["reply_to_message"] = target
        return _public(self.telegram.store_message(message))

    async def feed(self, updates: list[JSON]) -> None:
        assert self.application is not None
        for raw in updates:
            update = Update.de_json(self.materialise(raw), self.application.bot)
            await self.application.process_update(update)
        await self._quiet()

    async def _quiet(self, timeout: float = 5.0) -> None:
        """Wait until the background work the updates started is over (files, summaries)."""
        assert self.application is not None
        background = self.application.bot_data.services.background
        deadline = time.monotonic() + timeout
        while len(background) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    def new_calls(self) -> list[Call]:
        calls = self.telegram.calls[self.checked_calls :]
        self.checked_calls = len(self.telegram.calls)
        return calls


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    rig = Rig(tmp_path_factory.mktemp("fuzz") / "data")
    with pytest.MonkeyPatch.context() as patch:
        # The rate limiter paces groups at 20 messages a minute, as Telegram wants: right for
        # the bot, but it would stretch this test to minutes. Pacing is not what it checks.
        paced = AIORateLimiter.__init__

        def unpaced(self: AIORateLimiter, *args: Any, **kwargs: Any) -> None:
            paced(self, *args, **(kwargs | {"overall_max_rate": 0, "group_max_rate": 0}))

        patch.setattr(AIORateLimiter, "__init__", unpaced)
        try:
            rig.run(rig.start())
            yield rig
        finally:
            rig.run(rig.stop())
            rig.loop.run_until_complete(rig.loop.shutdown_asyncgens())
            rig.loop.close()


# ---------------------------------------------------------------------- strategies

_ALPHABETS = st.sampled_from(
    [
        "abc xyz ABC 123 .,!?",
        "😀🎬🦊🏳️‍🌈👨‍👩‍👧‍👦🇺🇦✨",  # emoji, ZWJ sequences, flags
        "שלום עולם مرحبا بالعالم ‏‎",  # RTL text and direction marks
        "漢字かなカナ한국어",
        "\u200b\u200c\u200d\ufeff\u00ad\t\n",  # zero-width and invisible
        "<>&\"'`*_[]()~|#+-=\\{}/@",  # HTML and Markdown specials
    ]
)


@st.composite
def texts(draw: st.DrawFn, max_size: int = 300) -> str:
    alphabet = draw(_ALPHABETS)
    size = draw(st.sampled_from([0, 1, 5, 40, max_size]))
    return draw(st.text(alphabet=alphabet, min_size=0, max_size=size))


@st.composite
def huge_texts(draw: st.DrawFn, limit: int) -> str:
    unit = draw(st.sampled_from(["x", "é", "😀", "漢", "ש "]))
    return (unit * limit)[:limit]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@st.composite
def commands(draw: st.DrawFn) -> str:
    name = draw(
        st.sampled_from(
            [
                *("generate", "start", "help", "cancel", "status", "history", "settings"),
                *("balance", "stats", "unknown", "GENERATE", "generate_now"),
            ]
        )
    )
    mention = draw(st.sampled_from(["", f"@{BOT_NAME}", "@other_bot", "@"]))
    args = draw(st.one_of(st.just(""), texts(80), huge_texts(4000).map(lambda t: t[:4000])))
    return f"/{name}{mention}" + (f" {args}" if args else "")


def _chat(chat_id: int) -> JSON:
    if chat_id == GROUP:
        return {"id": GROUP, "type": "group", "title": "Fuzz group"}
    if chat_id == FORUM:
        return {"id": FORUM, "type": "supergroup", "title": "Fuzz forum", "is_forum": True}
    if chat_id == CHANNEL:
        return {"id": CHANNEL, "type": "channel", "title": "Fuzz channel"}
    return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}


def _user(user_id: int, language: str | None) -> JSON:
    user: JSON = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
    if language is not None:
        user["language_code"] = language
    return user


@st.composite
def contents(draw: st.DrawFn, rig: Rig) -> JSON:
    """What a message carries: text, a file of some kind, or something the bot cannot use."""
    kind = draw(
        st.sampled_from(
            [
                *("text", "text", "command", "command", "huge_text", "photo", "photo"),
                *("document", "small_photo", "junk_doc", "sticker", "poll", "location"),
                *("contact", "dice", "venue", "service", "empty", "video", "voice", "audio"),
                "video_note",
            ]
        )
    )
    caption = draw(st.one_of(st.none(), texts(), commands(), huge_texts(1024)))
    media = rig.media
    fields: JSON
    if kind == "text":
        fields = {"text": draw(texts()) or "."}
    elif kind == "huge_text":
        fields = {"text": draw(huge_texts(4096))}
    elif kind == "command":
        text = draw(commands())
        command = text.split(" ", 1)[0]
        entity = {"type": "bot_command", "offset": 0, "length": _utf16(command)}
        fields = {"text": text, "entities": [entity]}
    elif kind in {"photo", "small_photo"}:
        fields = {"photo": media["photo" if kind == "photo" else "photo_small"]}
    elif kind in {"document", "junk_doc"}:
        found = media["document" if kind == "document" else "junk"]
        assert isinstance(found, dict)
        document = dict(found)
        document["file_name"] = draw(st.one_of(texts(60), st.just("..")).map(lambda n: n or "f"))
        fields = {"document": document}
    elif kind in {"video", "voice", "audio"}:
        fields = {kind: media[kind]}
    elif kind == "video_note":
        video = media["video"]
        assert isinstance(video, dict)
        note = {k: video[k] for k in ("file_id", "file_unique_id", "duration", "file_size")}
        fields = {"video_note": note | {"length": 640}}
    elif kind == "sticker":
        fields = {
            "sticker": {
                "file_id": "CAACAgIAAxkBAAIBsticker",
                "file_unique_id": "AgADsticker",
                "type": draw(st.sampled_from(["regular", "mask", "custom_emoji"])),
                "width": 512,
                "height": 512,
                "is_animated": draw(st.booleans()),
                "is_video": draw(st.booleans()),
                "emoji": "🦊",
            }
        }
    elif kind == "poll":
        fields = {
            "poll": {
                "id": str(draw(st.integers(1, 10**12))),
                "question": draw(texts(100)) or "?",
                "options": [
                    {"text": "a", "voter_count": 0, "persistent_id": "a"},
                    {"text": draw(texts(50)) or "b", "voter_count": 1, "persistent_id": "b"},
                ],
                "total_voter_count": 1,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": False,
                "members_only": False,
            }
        }
    elif kind == "location":
        fields = {
            "location": {
                "latitude": draw(st.floats(-90, 90)),
                "longitude": draw(st.floats(-180, 180)),
            }
        }
    elif kind == "venue":
        location = {"latitude": 48.85, "longitude": 2.35}
        venue = {"location": location, "title": draw(texts(40)) or "x", "address": "1 rue"}
        fields = {"venue": venue, "location": location}
    elif kind == "contact":
        fields = {"contact": {"phone_number": "+10000000000", "first_name": draw(texts(20)) or "A"}}
    elif kind == "dice":
        fields = {"dice": {"emoji": "🎲", "value": draw(st.integers(1, 6))}}
    elif kind == "service":
        fields = draw(
            st.sampled_from(
                [
                    {"new_chat_members": [_user(USERS[1], "en")]},
                    {"left_chat_member": _user(USERS[2], None)},
                    {"new_chat_title": "renamed"},
                    {"group_chat_created": True},
                    {"delete_chat_photo": True},
                ]
            )
        )
    else:  # "empty": an album item, or a message, with nothing in it the bot can use
        fields = {}
    if caption is not None and kind in {"photo", "small_photo", "document", "junk_doc"}:
        fields["caption"] = caption
        if caption.startswith("/"):
            command = caption.split(" ", 1)[0]
            fields["caption_entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16(command)}
            ]
    return fields


@st.composite
def messages(draw: st.DrawFn, rig: Rig, chat_id: int, user_id: int | None) -> JSON:
    """A message as Telegram has it; `Rig.materialise` stores it in the fake (ids, replies)."""
    message: JSON = {"date": int(time.time()), "chat": _chat(chat_id)}
    if user_id is not None:
        language = draw(st.sampled_from([None, "en", "zh", "zh-hans", "ar", "xx"]))
        message["from"] = _user(user_id, language)
    else:
        message["sender_chat"] = _chat(chat_id)
    if chat_id == FORUM and draw(st.booleans()):
        message |= {"message_thread_id": draw(st.sampled_from([2, 3])), "is_topic_message": True}
    if draw(st.integers(0, 4)) == 0:
        message["media_group_id"] = draw(st.sampled_from(["album1", "album2", "1" * 30]))
    if draw(st.integers(0, 3)) == 0:
        message[PICK_REPLY] = draw(st.integers(0, 19))  # one of the chat's latest messages
    message |= draw(contents(rig))
    return message


@st.composite
def callback_data(draw: st.DrawFn) -> str:
    # Button data can be forged: ids past SQLite's 64-bit range too.
    number = draw(st.one_of(st.integers(0, 50), st.integers(-5, 2**70), st.just(SQLITE_MAX + 1)))
    action = draw(
        st.one_of(
            st.sampled_from(["gen", "x", "back", "q", "snd", "flt", "menu=dur", "menu=ar"]),
            st.sampled_from(["menu=ideas", "idea=new", "idea=edit", "dur=7", "ar=9:16", "done"]),
            texts(30),
        )
    )
    structured = draw(st.sampled_from(["d", "s:u", "s:g", "h"]))
    data = draw(st.one_of(st.just(f"{structured}:{number}:{action}"), texts(64)))
    return data.encode()[:64].decode(errors="ignore") or "?"


@st.composite
def updates(draw: st.DrawFn, rig: Rig) -> JSON:
    kind = draw(
        st.sampled_from(
            ["message"] * 14
            + ["edited_message", "channel_post", "edited_channel_post"]
            + ["callback_query"] * 4
            + ["my_chat_member", "inline_query", "poll"]
        )
    )
    user = draw(st.sampled_from(USERS))
    chat = draw(st.sampled_from([user, user, user, GROUP, FORUM]))
    update: JSON = {}
    if kind == "message":
        update["message"] = draw(messages(rig, chat, user))
    elif kind == "edited_message":
        message = draw(messages(rig, chat, user))
        update["edited_message"] = message | {"edit_date": int(time.time())}
    elif kind in {"channel_post", "edited_channel_post"}:
        post = draw(messages(rig, CHANNEL, None))
        if kind == "edited_channel_post":
            post["edit_date"] = int(time.time())
        update[kind] = post
    elif kind == "callback_query":
        query: JSON = {
            "id": str(draw(st.integers(1, 2**62))),
            "from": _user(user, draw(st.sampled_from([None, "en", "zh"]))),
            "chat_instance": str(abs(chat) * 7919),
            "data": draw(callback_data()),
            # One of the bot's latest messages in the chat, or one too old to be shown.
            PICK_BOT_MESSAGE: draw(st.one_of(st.none(), st.integers(0, 9))),
            "message": {"chat": _chat(chat), "message_id": 1, "date": 0},
        }
        update["callback_query"] = query
    elif kind == "my_chat_member":
        status = draw(st.sampled_from(["kicked", "member", "left"]))
        update["my_chat_member"] = {
            "chat": _chat(chat),
            "from": _user(user, None),
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": {"id": 123456, "is_bot": True}}
            | {"user": {"id": 123456, "is_bot": True, "first_name": "Seedance"}},
            "new_chat_member": {"status": status}
            | ({"until_date": 0} if status == "kicked" else {})
            | {"user": {"id": 123456, "is_bot": True, "first_name": "Seedance"}},
        }
    elif kind == "inline_query":
        update["inline_query"] = {
            "id": str(draw(st.integers(1, 10**9))),
            "from": _user(user, None),
            "query": draw(texts(64)),
            "offset": "",
        }
    else:
        update["poll"] = {
            "id": "5",
            "question": "q",
            "options": [
                {"text": "a", "voter_count": 1, "persistent_id": "a"},
                {"text": "b", "voter_count": 0, "persistent_id": "b"},
            ],
            "total_voter_count": 1,
            "is_closed": True,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
    return update


def _public(message: JSON) -> JSON:
    return {k: v for k, v in message.items() if not k.startswith("_")}


def _malformed(calls: list[Call]) -> list[str]:
    """Calls the fake refused; "not modified" is Telegram's normal answer to a no-op edit."""
    bad = []
    for call in calls:
        if call.ok:
            continue
        description = str((call.response or {}).get("description"))
        if description == NOT_MODIFIED:
            continue
        params = {k: str(v)[:120] for k, v in call.params.items()}
        bad.append(f"{call.method} {params} -> {description}")
    return bad


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_odd_updates_never_break_the_handlers(rig: Rig, data: st.DataObject) -> None:
    batch = data.draw(st.lists(updates(rig), min_size=1, max_size=4), label="updates")
    rig.run(rig.feed(batch))
    errors = [
        f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "")
        for r in rig.errors.records
    ]
    rig.errors.records.clear()
    malformed = _malformed(rig.new_calls())
    assert not errors, errors
    assert not malformed, malformed


@pytest.mark.parametrize("data", [f"d:{2**63}:gen", f"h:{2**64}:again"])
def test_forged_button_data_with_a_huge_id_is_answered_quietly(rig: Rig, data: str) -> None:
    update = {
        "callback_query": {
            "id": "77",
            "from": _user(USERS[0], "en"),
            "chat_instance": "1",
            "data": data,
            PICK_BOT_MESSAGE: None,
            "message": {"chat": _chat(USERS[0]), "message_id": 1, "date": 0},
        }
    }
    rig.run(rig.feed([update]))
    errors = [r.getMessage() for r in rig.errors.records]
    rig.errors.records.clear()
    malformed = _malformed(rig.new_calls())
    assert not errors, errors
    assert not malformed, malformed
