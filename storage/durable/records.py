"""The codec for chirp's state in journal entries and snapshots: its records, datetimes,
tuples and sets come back as they went in (plain msgpack would return lists)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

import msgpack

from chirp.model import Notification, NotificationPreferences, Trend, Tweet, TweetVersion, User
from storage.protocols import TweetTags

from .codec import Codec

#: The records chirp's stores hold or take as arguments. Only these are ever built from
#: what a file says: a name not listed is damage, never a class to look up.
RECORD_TYPES: tuple[type, ...] = (
    User,
    Tweet,
    TweetVersion,
    Notification,
    NotificationPreferences,
    Trend,
    TweetTags,
)

_TUPLE, _SET, _FROZENSET, _DATETIME, _RECORD = 1, 2, 3, 4, 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EMPTY_TUPLE = msgpack.ExtType(_TUPLE, msgpack.packb([]))  # most of a tweet's fields


def records_codec(types: Iterable[type] = RECORD_TYPES) -> Codec:
    """A `Codec` for values made of msgpack's own types, tuples, sets, frozensets,
    datetimes (naive, or aware with a fixed offset; UTC comes back as `datetime.UTC`) and
    ``types`` (dataclasses or named tuples, rebuilt from their fields in order). Anything
    else raises `TypeError` when packed."""
    fields = {cls: _field_names(cls) for cls in types}
    by_name = {cls.__name__: cls for cls in fields}
    if len(by_name) != len(fields):
        raise ValueError("record types must have distinct names")

    def default(value: Any) -> msgpack.ExtType:
        kind = type(value)
        names = fields.get(kind)
        if names is not None:
            return msgpack.ExtType(
                _RECORD, pack([kind.__name__, *[getattr(value, n) for n in names]])
            )
        if kind is tuple:
            return msgpack.ExtType(_TUPLE, pack(list(value))) if value else _EMPTY_TUPLE
        if kind is set:
            return msgpack.ExtType(_SET, pack(list(value)))
        if kind is frozenset:
            return msgpack.ExtType(_FROZENSET, pack(list(value)))
        if kind is datetime:
            return msgpack.ExtType(_DATETIME, pack(_moment(value)))
        raise TypeError(f"cannot journal a {kind.__name__}")

    def ext_hook(code: int, data: bytes) -> Any:
        value = unpack(data)
        if code == _TUPLE:
            return tuple(value)
        if code == _SET:
            return set(value)
        if code == _FROZENSET:
            return frozenset(value)
        if code == _DATETIME:
            return _from_moment(value)
        if code == _RECORD:
            name, *values = value
            cls = by_name.get(name)
            if cls is None:
                raise ValueError(f"an unknown record type {name!r}")
            return cls(*values)
        raise ValueError(f"an unknown extension type {code}")

    pack: Callable[[Any], bytes] = partial(
        msgpack.packb, default=default, use_bin_type=True, strict_types=True
    )
    unpack: Callable[[bytes], Any] = partial(
        msgpack.unpackb, ext_hook=ext_hook, strict_map_key=False
    )
    return Codec(default=default, ext_hook=ext_hook, strict_types=True)


def _field_names(cls: type) -> tuple[str, ...]:
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    names = getattr(cls, "_fields", None)  # a named tuple
    if names is None:
        raise TypeError(f"{cls.__name__} is neither a dataclass nor a named tuple")
    return tuple(names)


def _moment(value: datetime) -> list[int | None]:
    """Microseconds since the epoch (of the wall time, for a naive datetime) and the
    offset in seconds (None for naive)."""
    offset = value.utcoffset()
    if offset is None:
        return [(value.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND, None]
    return [(value - _EPOCH) // _MICROSECOND, offset // timedelta(seconds=1)]


def _from_moment(value: list[int | None]) -> datetime:
    micros, offset = value
    assert micros is not None
    moment = _EPOCH + timedelta(microseconds=micros)
    if offset is None:
        return moment.replace(tzinfo=None)
    return moment if offset == 0 else moment.astimezone(timezone(timedelta(seconds=offset)))
