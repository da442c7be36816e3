"""The Chinese texts match the English ones key for key and placeholder for placeholder."""

from __future__ import annotations

import ast
import string
import unicodedata
from pathlib import Path

import pytest

import bot.telegram.texts_zh
from bot.drafts import ideas
from bot.telegram.texts import EN, LANGUAGES, language_for, t
from bot.telegram.texts_zh import ZH


def placeholders(template: str) -> set[str]:
    """The names of the `{fields}` a str.format template uses."""
    return {
        field.split(".")[0].split("[")[0]
        for _, field, _, _ in string.Formatter().parse(template)
        if field is not None
    }


def emoji(text: str) -> list[str]:
    """The emoji and pictographs in `text`, in order."""
    return [c for c in text if unicodedata.category(c) == "So"]


def test_zh_has_exactly_the_english_keys() -> None:
    assert set(ZH) - set(EN) == set(), "keys only in ZH"
    assert set(EN) - set(ZH) == set(), "keys missing from ZH"


@pytest.mark.parametrize("key", sorted(EN))
def test_placeholders_match(key: str) -> None:
    assert placeholders(ZH[key]) == placeholders(EN[key])


@pytest.mark.parametrize("table", [EN, ZH], ids=["en", "zh"])
def test_every_template_formats(table: dict[str, str]) -> None:
    for key, template in table.items():
        values = {name: "1" for name in placeholders(template)}
        text = template.format(**values)
        assert text.strip(), key


@pytest.mark.parametrize("key", sorted(EN))
def test_zh_is_translated_and_keeps_markup(key: str) -> None:
    zh, en = ZH[key], EN[key]
    assert zh.count("\n") == en.count("\n"), "line breaks differ"
    for token in ("/generate", "/settings", "/status", "/history", "/balance", "/cancel"):
        assert zh.count(token) == en.count(token), token
    for tag in ("<code>", "</code>"):
        assert zh.count(tag) == en.count(tag), tag
    assert emoji(zh) == emoji(en), "emoji differ"


def test_zh_does_not_import_bot_texts() -> None:
    tree = ast.parse(Path(bot.telegram.texts_zh.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert "bot.telegram.texts" not in imported
    assert "bot" not in imported


@pytest.mark.parametrize("code", ["zh", "zh-hans", "zh-Hans", "zh-TW", "zh-hant", "ZH-CN"])
def test_chinese_language_codes(code: str) -> None:
    assert language_for(code) == "zh"


@pytest.mark.parametrize("code", ["en", "en-US", None, "", "fr", "de-DE"])
def test_other_language_codes_fall_back_to_english(code: str | None) -> None:
    assert language_for(code) == "en"


def test_zh_is_registered() -> None:
    assert LANGUAGES["zh"] is ZH
    assert LANGUAGES["en"] is EN


@pytest.mark.parametrize("key", sorted(EN))
def test_t_returns_chinese(key: str) -> None:
    assert t("zh", key) == ZH[key]


def test_t_formats_chinese() -> None:
    assert t("zh", "ordinal", n=2) == "第2个"
    assert t("zh", "item_nth", nth=t("zh", "ordinal", n=2), noun=t("zh", "source_photo")) == (
        "第2个照片"
    )
    assert t("zh", "draft_cancelled_files", count=3) == "草稿已丢弃，其中的 3 个文件也一并丢弃。"


def test_chinese_prompt_ideas_use_the_api_numbering() -> None:
    assert ideas.skeleton("zh", "new", {"image": 1}).startswith("图片1为首帧。")
    assert ideas.skeleton("zh", "new", {"video": 1}).startswith("视频1为首帧。")
    assert "尾帧为图片3。" in ideas.skeleton("zh", "new", {"image": 3})
    assert ideas.skeleton("zh", "extend", {"video": 3}).startswith("视频1，接视频2，接视频3：")
    assert ideas.skeleton("zh", "new", {"image": 1, "audio": 1}).endswith("音频1作为背景音乐。")
    edit = ideas.skeleton("zh", "edit", {"image": 1, "video": 1})
    assert "视频1" in edit
    assert "图片1" in edit
