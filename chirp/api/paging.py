"""List parameters: ``limit`` and cursors, checked before anything is read."""

from __future__ import annotations

from quart import request
from werkzeug.exceptions import BadRequest

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
#: Digits of the largest number a list parameter holds (63 bits). Checked before `int`,
#: which refuses strings of over 4,300 digits with a ValueError (a 500, not a 400).
MAX_DIGITS = 19


def limit(default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    text = request.args.get("limit")
    if text is None:
        return default
    if not _is_number(text) or not 1 <= int(text) <= maximum:
        raise BadRequest(f"limit must be a whole number from 1 to {maximum}")
    return int(text)


def cursor(name: str = "cursor") -> int | None:
    """An opaque position from a previous page's ``next_cursor`` (digits, 63 bits)."""
    text = request.args.get(name)
    if text is None:
        return None
    if not _is_number(text) or int(text) >= 1 << 63:
        raise BadRequest(f"{name} is not a cursor this API gave out")
    return int(text)


def next_cursor(position: int | None) -> str | None:
    return None if position is None else str(position)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS
