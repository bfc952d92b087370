"""JSON responses go out through orjson, and what orjson refuses still goes out."""

from __future__ import annotations

import json

from chirp.api.json_provider import encode


def test_orjson_writes_compact_utf8_in_the_order_built() -> None:
    assert (
        encode({"b": 1, "a": "é", "c": [None, True]}) == '{"b":1,"a":"é","c":[null,true]}'.encode()
    )


def test_what_orjson_refuses_falls_back_to_the_standard_encoder() -> None:
    for value in ({"text": "\ud800"}, {"n": 2**70}):
        assert json.loads(encode(value)) == value
