"""Request bodies read strictly: what Quart lets through by default is refused here.

Quart's ``get_json`` answers invalid UTF-8 and deep nesting with a 500, accepts NaN and
duplicate keys, and returns None for a wrong Content-Type. Every handler reads its body
through `json_body` instead, then validates it with a model that forbids unknown fields.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

import pydantic
from pydantic_core import PydanticUndefined
from quart import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

MAX_DEPTH = 32

Model = TypeVar("Model", bound=pydantic.BaseModel)


class Invalid(Exception):
    """A well-formed body that breaks a rule: answered 422 with the fields at fault."""

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class StrictModel(pydantic.BaseModel):
    """Request models: unknown fields are refused, never ignored (a client that sends
    ``user_id`` or ``verified`` must learn they do nothing), and no type coercion."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)


def ruled(default: Any = PydanticUndefined, **rule: Any) -> Any:
    """A field with a rule the services enforce, with their own messages, shown in the
    OpenAPI document as JSON Schema keywords (``maxLength=280``). The model does not check
    them: what a field may hold is the services' to say, here only documented."""
    return pydantic.Field(default, json_schema_extra=rule)


async def json_body(model: type[Model]) -> Model:
    """The request's JSON body, parsed strictly and validated against ``model``.

    Raises `UnsupportedMediaType` (415), `BadRequest` (400) for bodies that are not one
    well-formed JSON document, `Invalid` (422) for one that breaks the model's rules, and
    lets Quart's 413 through for oversize bodies.
    """
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    value = parse_json(await request.get_data(cache=True))
    return validate(model, value)


def parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not valid UTF-8") from None
    try:
        value = json.loads(
            text,
            parse_constant=_no_constants,
            parse_float=_finite,
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError:
        raise BadRequest(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, and our own refusals
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise BadRequest(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    return value


def validate(model: type[Model], value: Any) -> Model:
    if not isinstance(value, dict):
        raise Invalid("the body must be a JSON object")
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        errors = [
            {"field": ".".join(map(str, error["loc"])), "problem": error["msg"]}
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise Invalid("; ".join(f"{e['field']}: {e['problem']}" for e in errors), errors) from None


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:20]} is too large for a JSON number here")
    return number


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise ValueError(f"the key {key!r} appears twice")
        value[key] = item
    return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                children = item.values() if isinstance(item, dict) else item
                stack.extend((child, depth + 1) for child in children)
    return deepest
