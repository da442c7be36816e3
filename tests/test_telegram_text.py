"""Every text the bot sends stays within Telegram's limits, and says what it left out.

Telegram counts UTF-16 code units: 4,096 for a message, 1,024 for a caption. The worst cases
are built here on purpose: a draft of 15 references each carrying every change note, the
longest prompt, histories and /status lists of any length, and every error text of both
languages filled with the longest values; hypothesis adds arbitrary Unicode (astral emoji
included). The messenger is then checked against the fake Telegram, which refuses what
Telegram refuses.
"""

from __future__ import annotations

import ast
import re
import string
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Bot

from bot.account.history import HistoryService
from bot.account.task_status import status_text
from bot.drafts.service import rejection_text, render_summary
from bot.tasks.delivery import failure_text
from bot.telegram.messenger import Messenger
from bot.telegram.text_limits import (
    CAPTION_MAX,
    TEXT_MAX,
    cut,
    fit_caption,
    fit_html,
    fit_lines,
    fit_text,
    utf16_len,
)
from bot.telegram.texts import EN, LANGUAGES, t
from storage.models import (
    ChatKey,
    Delivery,
    Draft,
    DraftState,
    Options,
    Reference,
    RefStatus,
    Task,
    TaskStatus,
)
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
LANGS = sorted(LANGUAGES)
KEY = ChatKey(chat_id=7, user_id=7)
CHANGE_CODES = sorted(k.removeprefix("change_") for k in EN if k.startswith("change_"))
MARKERS = {
    lang: [t(lang, k, count=0).split("0")[0] for k in ("more_lines", "more_chars", "more_changes")]
    for lang in LANGS
}

any_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12_000
)


def _marked(text: str, lang: str) -> bool:
    return any(marker in text for marker in MARKERS[lang])


# --- the fitting itself ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(text=any_text, lang=st.sampled_from(LANGS))
def test_any_text_fits_and_says_when_it_was_cut(text: str, lang: str) -> None:
    for fitted, limit in ((fit_text(text, lang), TEXT_MAX), (fit_caption(text, lang), CAPTION_MAX)):
        assert utf16_len(fitted) <= limit
        if utf16_len(text) <= limit:
            assert fitted == text
            continue
        assert _marked(fitted, lang)
        # What is kept is the start of the text as it was, the note comes after it.
        at = max(fitted.rfind(marker) for marker in MARKERS[lang])
        assert text.startswith(fitted[:at].removesuffix("\n"))


def test_utf16_counts_as_telegram_does() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("中文") == 2
    assert utf16_len("😀") == 2  # outside the Basic Multilingual Plane: a surrogate pair
    assert utf16_len("👍🏽") == 4


def test_cutting_never_splits_an_emoji() -> None:
    text = "😀" * 3000  # 6,000 code units
    fitted = fit_text(text)
    assert utf16_len(fitted) <= TEXT_MAX
    body = fitted.split("…")[0]
    assert set(body) == {"😀"}
    assert fitted.endswith(t("en", "more_chars", count=3000 - len(body)))


def test_whole_lines_are_kept_and_the_rest_counted() -> None:
    lines = [f"line {n:04d} " + "x" * 90 for n in range(100)]  # 100 lines of 100 characters
    fitted = fit_text("\n".join(lines), "en")
    kept = fitted.split("\n")
    assert kept[:-1] == lines[: len(kept) - 1]
    assert kept[-1] == t("en", "more_lines", count=100 - (len(kept) - 1))


def test_head_and_tail_survive_the_middle() -> None:
    head, tail = ["title"], ["prompt", "cost"]
    middle = [f"note {n} " + "n" * 300 for n in range(40)]
    fitted = fit_lines(head, middle, tail, TEXT_MAX, "zh", more_key="more_changes")
    parts = fitted.split("\n")
    assert parts[0] == "title" and parts[-2:] == tail
    dropped = 40 - (len(parts) - 4)
    assert parts[-3] == t("zh", "more_changes", count=dropped)
    assert utf16_len(fitted) <= TEXT_MAX


def test_html_that_is_too_long_goes_as_plain_text() -> None:
    short = "<code>a &lt;b&gt;</code>"
    assert fit_html(short) == (short, True)
    text, still_html = fit_html("<code>" + "x &amp; y\n" * 1000 + "</code>")
    assert not still_html
    assert "<code>" not in text and "x & y" in text and utf16_len(text) <= TEXT_MAX


def test_cut_handles_limits_smaller_than_its_note() -> None:
    assert utf16_len(cut("x" * 500, 5)) >= 0  # never raises
    assert cut("short", 100) == "short"


# --- worst cases of what the bot writes --------------------------------------------------------


def _ref(n: int, kind: str, changes: list[dict[str, Any]]) -> Reference:
    return Reference(
        id=n,
        draft_id=1,
        position=n,
        kind=kind,
        source="document",
        telegram_file_id=f"f{n}",
        telegram_file_unique_id=f"u{n}",
        message_id=n,
        media_group_id=None,
        file_name="名" * 200 + ".mov",
        status=RefStatus.READY,
        duration=5.0,
        changes=changes,
    )


def _every_change(value: str) -> list[dict[str, Any]]:
    params = {"from": value, "to": value}
    return [{"code": code, "params": params} for code in CHANGE_CODES]


def _draft(lang: str, prompt: str) -> Draft:
    return Draft(
        id=1,
        key=KEY,
        state=DraftState.OPEN,
        prompt=prompt,
        options=Options(duration=15, content_filter=False),
        idempotency_key="k",
        summary_message_id=None,
        language=lang,
        created_at=0.0,
        updated_at=0.0,
    )


WORST_PROMPT = "視" * 9_000  # far past anything a message can carry; the summary quotes 300


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("value", ["6000×4000 HEIC", "x" * 80, "😀" * 40])
def test_the_worst_draft_summary_fits_and_keeps_what_matters(
    lang: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = ["image"] * 9 + ["video"] * 3 + ["audio"] * 3
    refs = [_ref(n, kind, _every_change(value)) for n, kind in enumerate(kinds, start=1)]
    draft = _draft(lang, WORST_PROMPT)
    text = render_summary(draft, refs, pending=3, credit_rate=1.25)
    assert utf16_len(text) <= TEXT_MAX
    assert text.startswith(t(lang, "draft_title"))
    assert "視" * 50 in text  # the prompt's quote
    assert t(lang, "cost_estimate", credits="18.8") in text
    assert text.endswith(t(lang, "cost_video_note"))
    assert t(lang, "more_changes", count=0).split("0")[0] in text
    # Without the guard the same summary is over the limit: this is the case it is for.
    monkeypatch.setattr("bot.drafts.service.TEXT_MAX", 10**9)
    unguarded = render_summary(draft, refs, pending=3, credit_rate=1.25)
    assert utf16_len(unguarded) > TEXT_MAX


def _task(n: int, lang: str, **changes: Any) -> Task:
    base = Task(
        id=n,
        draft_id=n,
        key=KEY,
        language=lang,
        request_message_id=None,
        status_message_id=None,
        idempotency_key="k",
        callback_secret="s",
        upstream_id=None,
        status=TaskStatus.PROCESSING,
        progress=42,
        prompt="😀" * 500,
        options=Options(),
        credits_reserved=None,
        estimated_time=None,
        result_url=None,
        error_code=None,
        error_message=None,
        next_poll_at=None,
        progress_shown=0,
        progress_edited_at=None,
        delivery=Delivery.NONE,
        delivered_message_id=None,
        delivered_file_id=None,
        created_at=0.0,
        updated_at=0.0,
        submitted_at=None,
        finished_at=None,
    )
    return replace(base, **changes)


@pytest.mark.parametrize("lang", LANGS)
def test_status_of_any_number_of_tasks_fits(lang: str) -> None:
    tasks = [_task(10**12 + n, lang) for n in range(1000)]
    text = status_text(lang, tasks, now=10**9)
    assert utf16_len(text) <= TEXT_MAX
    assert text.startswith(t(lang, "status_title"))
    assert t(lang, "more_videos", count=0).split("0")[0] in text


class _Tasks:
    def __init__(self, tasks: list[Task]) -> None:
        self._tasks = tasks

    async def history(self, key: ChatKey) -> list[Task]:
        return self._tasks


class _Store:
    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = _Tasks(tasks)


@pytest.mark.parametrize("lang", LANGS)
async def test_a_history_of_any_length_fits(lang: str) -> None:
    tasks = [
        _task(10**12 + n, lang, status=TaskStatus.COMPLETED, delivery=Delivery.DELIVERED)
        for n in range(500)
    ]
    service = HistoryService(store=_Store(tasks), bot=None)  # type: ignore[arg-type]
    text, _ = await service.render(KEY, lang)
    assert utf16_len(text) <= TEXT_MAX
    assert text.startswith(t(lang, "history_title"))


def _placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("lang", LANGS)
@settings(max_examples=60, deadline=None)
@given(value=st.text(min_size=1, max_size=6000))
def test_every_text_of_both_languages_fits_whatever_fills_it(lang: str, value: str) -> None:
    for key, template in LANGUAGES[lang].items():
        filled = template.format(**{name: value for name in _placeholders(template)})
        assert utf16_len(fit_text(filled, lang)) <= TEXT_MAX, key


@pytest.mark.parametrize("lang", LANGS)
def test_error_texts_with_the_longest_upstream_messages_fit(lang: str) -> None:
    for code in ("content_policy_violation", "service_error", "deadline"):
        task = _task(1, lang, status=TaskStatus.FAILED, error_code=code, error_message="é" * 9999)
        assert utf16_len(fit_text(failure_text(task), lang)) <= TEXT_MAX
    ref = replace(
        _ref(1, "video", []),
        status=RefStatus.REJECTED,
        error_code="unsupported_codec",
        error_params={"codec": "c" * 5000, "kind": "video"},
    )
    assert utf16_len(fit_text(rejection_text(lang, ref, [ref]), lang)) <= TEXT_MAX


@pytest.mark.parametrize("lang", LANGS)
def test_texts_used_as_button_answers_fit_telegrams_200(lang: str) -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "handlers").glob("*.py"))
    keys = set(re.findall(r'answer\(\s*t\([^,]+,\s*"(\w+)"', source))
    keys |= {"history_resent", "history_gone", "not_allowed"}
    assert {"draft_closed", "not_your_draft", "settings_saved"} <= keys
    for key in keys:
        assert utf16_len(t(lang, key)) <= 200, key


# --- one place: every send goes through the fitting ---------------------------------------------

SENDING = {"send_message", "edit_message_text", "reply_text", "edit_message_caption"}
ALLOWED = {("telegram", "messenger.py"), ("handlers", "common.py"), ("handlers", "buttons.py")}


def test_texts_reach_telegram_only_through_the_fitting() -> None:
    offenders = []
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                name = node.func.attr
                rel = (path.parent.name, path.name)
                if name in SENDING and rel not in ALLOWED:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
                captions = [k.value for k in node.keywords if k.arg == "caption"]
                fitted = all(_calls(value, CAPTION_MAKERS) for value in captions)
                # delivery.py passes on the caption video_caption made.
                if captions and name.startswith("send_") and not fitted and rel != DELIVERY:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} caption=")
    assert not offenders, offenders
    # And where they are allowed, the text is fitted first.
    assert "fit_text" in (ROOT / "handlers" / "common.py").read_text()
    assert "fit_text(menu.text" in (ROOT / "handlers" / "buttons.py").read_text()
    assert "return fit_caption(" in (ROOT / "bot" / "tasks" / "notices.py").read_text()


DELIVERY = ("tasks", "delivery.py")
# A caption is made by one of these: video_caption ends in fit_caption.
CAPTION_MAKERS = {"fit_caption", "video_caption"}


def _calls(value: ast.expr, names: set[str]) -> bool:
    """Whether `value` is a call of a function by one of `names`."""
    return (
        isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in names
    )


# --- against the fake Telegram ------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_the_messenger_sends_and_edits_any_text_telegram_would_refuse(lang: str) -> None:
    async with (
        FakeTelegram() as fake,
        Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot,
    ):
        messenger = Messenger(bot)
        huge = "\n".join(["😀" * 100] * 100)  # 20,000 code units
        message_id = await messenger.send(KEY, huge, lang=lang)
        assert message_id is not None
        assert await messenger.edit(KEY.chat_id, message_id, "中" * 5000, lang=lang)
        html_id = await messenger.send(KEY, "<code>" + "a&amp;b " * 2000 + "</code>", html=True)
        assert html_id is not None
    sent = [c for c in fake.calls if c.method in {"sendMessage", "editMessageText"}]
    assert len(sent) == 3 and all(c.ok for c in sent)
    assert all(utf16_len(c.text) <= TEXT_MAX for c in sent)
    assert _marked(sent[0].text, lang) and _marked(sent[1].text, lang)
