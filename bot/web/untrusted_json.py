"""JSON from outside (webhook updates, callbacks): parsed without letting its shape hurt us."""

from __future__ import annotations

import json
from typing import Any

# Telegram's deepest updates (a callback query's message replying to a message with a keyboard)
# nest about a dozen levels; 32 leaves room. Deeper documents are refused before anything
# recursive (python-telegram-bot's de_json, json.dumps into the inbox) walks them.
MAX_DEPTH = 32


def parse_object(body: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any] | None:
    """The JSON object in `body`, or None when it is not one, is malformed or nests too deep."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(data, dict) or nests_deeper_than(data, max_depth):
        return None
    return data


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest more than `limit` levels (walked without
    recursion, so any depth can be measured)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
