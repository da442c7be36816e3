"""Rows the storage tests start from, written through the stores as the bot writes them."""

from __future__ import annotations

from storage import Store
from storage.models import Reference


async def add_photo(
    store: Store,
    draft_id: int,
    *,
    message_id: int = 1,
    size: int | None = 1,
    media_group_id: str | None = None,
) -> Reference:
    """A photo added to the draft, still pending (as it is before its file is checked)."""
    ref = await store.drafts.add_reference(
        draft_id,
        kind="image",
        source="photo",
        file_id=f"f{message_id}",
        file_unique_id=f"u{message_id}",
        message_id=message_id,
        media_group_id=media_group_id,
        file_name=None,
        size=size,
    )
    assert ref is not None
    return ref
