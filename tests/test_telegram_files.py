"""Downloads stop at their cap (TELEGRAM_LOCAL_MAX_FILE_MB from a self-hosted Bot API server,
20 MB from the cloud), whatever Telegram said about the file's size; the refusal carries the
limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import Bot

from bot.runtime.http_session import LazySession
from bot.telegram.files import DownloadError, TelegramFiles
from tests.fakes.telegram import FakeTelegram

MB = 2**20


def _sizes_unsaid(monkeypatch: pytest.MonkeyPatch) -> None:
    """getFile answers without the file's size from now on."""
    original = Bot.get_file

    async def without_size(self: Bot, *args: object, **kwargs: object) -> object:
        found = await original(self, *args, **kwargs)  # type: ignore[arg-type]
        found._unfreeze()
        found.file_size = None
        return found

    monkeypatch.setattr(Bot, "get_file", without_size)


@pytest.mark.parametrize("size_known", [True, False])
async def test_a_local_file_over_the_cap_is_refused_by_name_of_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size_known: bool
) -> None:
    async with (
        FakeTelegram() as fake,
        Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot,
    ):
        fake.local_mode = True
        message = fake.send_document(1, 1, b"\0" * (3 * MB), file_name="big.bin")
        file_id = message["document"]["file_id"]
        if not size_known:  # a server that does not say: the copy itself stops at the cap
            _sizes_unsaid(monkeypatch)
        files = TelegramFiles(bot, LazySession(), local_mode=True, max_bytes=2 * MB)
        with pytest.raises(DownloadError) as refused:
            await files.download(file_id, tmp_path / "out")
    assert refused.value.code == "too_big_to_download"
    assert refused.value.params["limit"] == 2 * MB
    assert files.size_refusal(3 * MB) == ("too_big_to_download", {"size": 3 * MB, "limit": 2 * MB})
    assert files.size_refusal(1 * MB) is None


async def test_under_the_cap_a_local_file_is_copied_whole(tmp_path: Path) -> None:
    async with (
        FakeTelegram() as fake,
        Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot,
    ):
        fake.local_mode = True
        data = bytes(range(256)) * 4096  # 1 MB
        message = fake.send_document(1, 1, data, file_name="ok.bin")
        files = TelegramFiles(bot, LazySession(), local_mode=True, max_bytes=2 * MB)
        size = await files.download(message["document"]["file_id"], tmp_path / "out")
    assert size == len(data) and (tmp_path / "out").read_bytes() == data


def test_the_cloud_limit_keeps_its_own_wording() -> None:
    files = TelegramFiles(None, None, local_mode=False, max_bytes=20 * MB)  # type: ignore[arg-type]
    assert files.size_refusal(21 * MB) == ("too_big_for_telegram", {"size": 21 * MB})


async def test_a_cloud_file_is_streamed_whole_and_stopped_at_the_cap_whatever_its_size_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads = LazySession()
    async with (
        FakeTelegram() as fake,
        Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot,
    ):
        data = bytes(range(256)) * 4096  # 1 MB
        small = fake.send_document(1, 1, data, file_name="ok.bin")["document"]["file_id"]
        big = fake.send_document(1, 1, b"\0" * (3 * MB), file_name="big.bin")["document"]
        files = TelegramFiles(bot, downloads, local_mode=False, max_bytes=2 * MB)
        size = await files.download(small, tmp_path / "small")
        _sizes_unsaid(monkeypatch)
        with pytest.raises(DownloadError) as refused:
            await files.download(big["file_id"], tmp_path / "big")
    await downloads.aclose()
    assert size == len(data) and (tmp_path / "small").read_bytes() == data
    assert refused.value.code == "too_big_for_telegram"
    assert (tmp_path / "big").stat().st_size <= 2 * MB + 256 * 1024  # stopped, not fetched whole
