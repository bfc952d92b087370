"""JSON responses through orjson: a feed page is a hundred tweets' dicts, and the standard
library's encoder was a third of what chirp itself spent on one (profiled under
``python -m bench http``). Request bodies keep their strict parser (`chirp.api.bodies`)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider
from quart import Response


class OrjsonProvider(DefaultJSONProvider):
    """Compact UTF-8 JSON, keys in the order the code builds them (as before). A value
    orjson refuses (a lone surrogate in a string, an integer beyond 64 bits) falls back
    to the standard library, which escapes or writes it, so no response becomes a 500."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # indentation or other options asked for: the standard encoder's
            return super().dumps(obj, **kwargs)
        return encode(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(encode(obj), mimetype=self.mimetype)


def encode(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()
