"""chirp's OpenAPI 3.1 document, generated from the code: request bodies are the strict
models the routes parse with, responses the models of `chirp.api.schemas`.

`OPERATIONS` names every route chirp documents, with what it answers and which errors;
``tests/test_openapi.py`` holds it to the routes the app registers, both ways, and the
fuzz tests (``tests/test_fuzz.py``) hold every response to it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal

import pydantic
from pydantic.json_schema import models_json_schema
from quart import Blueprint

from . import schemas
from .auth import PasswordGrant, RefreshGrant
from .notifications import PreferenceChanges, ReadMark
from .operations import UNLIMITED_PATHS
from .paging import DEFAULT_LIMIT, MAX_LIMIT
from .problems import PROBLEM_JSON
from .search import KINDS
from .tweets import NewTweet, TweetEdit
from .users import NewUser, ProfileChanges

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
PATH = "/api/v1/openapi.json"

#: Who may call: anyone (``open``: no token is even looked at), anyone with an optional
#: user token (a token sent must be valid; it personalises ``liked``/``retweeted``), a
#: signed-in user, or the operator with the admin token.
Access = Literal["open", "anyone", "user", "admin"]


@dataclass(frozen=True)
class Parameter:
    """A query parameter."""

    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """A documented route and method: what it takes, what it answers, who may call it."""

    method: str
    path: str
    summary: str
    #: The success response's model; None: no body.
    answer: type[pydantic.BaseModel] | None
    status: int = 200
    body: tuple[type[pydantic.BaseModel], ...] = ()
    query: tuple[Parameter, ...] = ()
    access: Access = "anyone"
    #: Errors beyond those its parameters, body and access imply.
    errors: tuple[int, ...] = ()
    #: It records an event: refused with 503 while the event log is unavailable.
    writes: bool = False
    #: Its success body's media type, when it is not JSON.
    media: str = JSON
    #: Headers of its success answer, with what each says.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def rate_limited(self) -> bool:
        return self.path not in UNLIMITED_PATHS


_POSITION = {"type": "string", "pattern": r"^[0-9]{1,19}$"}
LIMIT = Parameter(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    "how many to answer at most",
)
CURSOR = Parameter("cursor", _POSITION, "a previous page's `next_cursor`: the page after it")
MAX_ID = Parameter("max_id", _POSITION, "only tweets older than this id (a `next_cursor`)")
SINCE_ID = Parameter("since_id", _POSITION, "only tweets newer than this id")
OWN_ID = Parameter("userId", {"type": "string"}, "the caller's own user id, if given (else 403)")

#: Path parameters by name: (schema, description).
PATH_PARAMETERS: dict[str, tuple[dict[str, Any], str]] = {
    "user_id": ({"type": "integer", "minimum": 0, "format": "int64"}, "a user id"),
    "tweet_id": (_POSITION, "a tweet id, as a string of digits"),
    "tag": ({"type": "string", "minLength": 1}, "a hashtag, with or without its `#`"),
    "name": ({"type": "string", "minLength": 1}, "an actor's name (`GET /admin/actors`)"),
}
_PAGE = (LIMIT, CURSOR)
_TWEETS = (LIMIT, MAX_ID, SINCE_ID)

OPERATIONS: tuple[Operation, ...] = (
    # operations (chirp.api.operations)
    Operation("GET", "/healthz", "The process is alive", schemas.Health, access="open"),
    Operation(
        "GET", "/readyz", "Every actor is running", schemas.Ready, access="open", errors=(503,)
    ),
    Operation("GET", "/metrics", "Prometheus metrics", None, access="admin", media="text/plain"),
    Operation(
        "GET", "/admin/dashboard", "The dashboard's figures", schemas.Dashboard, access="admin"
    ),
    Operation("GET", "/admin/actors", "The supervision tree", schemas.ActorNode, access="admin"),
    Operation(
        "POST",
        "/admin/actors/{name}/kill",
        "Kill an actor as if it crashed; its supervisor restarts it",
        schemas.Killed,
        status=202,
        access="admin",
        errors=(409,),
    ),
    # auth (chirp.api.auth)
    Operation(
        "POST",
        "/api/v1/auth/token",
        "Sign in (OAuth2 password grant) or renew (refresh_token grant)",
        schemas.Tokens,
        body=(PasswordGrant, RefreshGrant),
        access="open",
        errors=(401,),
    ),
    # users (chirp.api.users)
    Operation(
        "POST",
        "/api/v1/users",
        "Sign up",
        schemas.SignedUp,
        status=201,
        body=(NewUser,),
        access="open",
        errors=(409,),
        writes=True,
    ),
    Operation(
        "GET",
        "/api/v1/users",
        "Find a user by username",
        schemas.User,
        errors=(404,),
        query=(Parameter("username", {"type": "string"}, "the username", required=True),),
    ),
    Operation("GET", "/api/v1/users/me", "The caller's profile", schemas.OwnUser, access="user"),
    Operation(
        "PATCH",
        "/api/v1/users/me",
        "Change the caller's profile",
        schemas.OwnUser,
        body=(ProfileChanges,),
        access="user",
        writes=True,
    ),
    Operation("GET", "/api/v1/users/{user_id}", "A profile", schemas.User),
    Operation(
        "POST",
        "/api/v1/users/{user_id}/follow",
        "Follow (idempotent)",
        schemas.Following,
        access="user",
        errors=(422,),
        writes=True,
    ),
    Operation(
        "DELETE",
        "/api/v1/users/{user_id}/follow",
        "Unfollow (idempotent)",
        schemas.Following,
        access="user",
        writes=True,
    ),
    Operation(
        "GET",
        "/api/v1/users/{user_id}/relationship",
        "Whether the caller follows the user, and the other way",
        schemas.Relationship,
        access="user",
    ),
    Operation("GET", "/api/v1/users/{user_id}/followers", "Followers", schemas.Users, query=_PAGE),
    Operation(
        "GET",
        "/api/v1/users/{user_id}/following",
        "Who the user follows",
        schemas.Users,
        query=_PAGE,
    ),
    Operation(
        "GET",
        "/api/v1/users/{user_id}/tweets",
        "The user's timeline, newest first",
        schemas.Tweets,
        query=_TWEETS,
    ),
    # tweets (chirp.api.tweets)
    Operation(
        "POST",
        "/api/v1/tweet",
        "Post a tweet or a reply",
        schemas.PostedTweet,
        status=201,
        body=(NewTweet,),
        access="user",
        errors=(404,),
        writes=True,
    ),
    Operation("GET", "/api/v1/tweet/{tweet_id}", "A tweet", schemas.Tweet),
    Operation(
        "PATCH",
        "/api/v1/tweet/{tweet_id}",
        "Edit a tweet (its author, within 30 minutes)",
        schemas.Tweet,
        body=(TweetEdit,),
        access="user",
        errors=(403,),
        writes=True,
    ),
    Operation(
        "DELETE",
        "/api/v1/tweet/{tweet_id}",
        "Delete a tweet (its author)",
        None,
        status=204,
        access="user",
        errors=(403,),
        writes=True,
    ),
    Operation(
        "GET",
        "/api/v1/tweet/{tweet_id}/history",
        "A tweet's earlier versions",
        schemas.TweetHistory,
    ),
    Operation(
        "POST",
        "/api/v1/tweet/{tweet_id}/like",
        "Like (idempotent)",
        schemas.Tweet,
        access="user",
        writes=True,
    ),
    Operation(
        "DELETE",
        "/api/v1/tweet/{tweet_id}/like",
        "Unlike (idempotent)",
        schemas.Tweet,
        access="user",
        writes=True,
    ),
    Operation(
        "POST",
        "/api/v1/tweet/{tweet_id}/retweet",
        "Retweet (one per user and tweet)",
        schemas.Tweet,
        status=201,
        access="user",
        errors=(422,),
        writes=True,
    ),
    Operation(
        "DELETE",
        "/api/v1/tweet/{tweet_id}/retweet",
        "Undo a retweet (idempotent)",
        None,
        status=204,
        access="user",
        writes=True,
    ),
    Operation(
        "GET",
        "/api/v1/tweet/{tweet_id}/replies",
        "Replies to a tweet, newest first",
        schemas.Tweets,
        query=_TWEETS,
    ),
    Operation(
        "GET",
        "/api/v1/feed",
        "The caller's home feed, newest first",
        schemas.Tweets,
        query=(LIMIT, MAX_ID, OWN_ID),
        access="user",
        errors=(403,),
        headers={"X-Feed-Source": "`cache`, or `regenerated` after a cache miss"},
    ),
    Operation(
        "GET",
        "/api/v1/hashtag/{tag}",
        "Tweets with a hashtag, newest first",
        schemas.Tweets,
        errors=(422,),
        query=_TWEETS,
    ),
    # trending (chirp.api.trending)
    Operation(
        "GET",
        "/api/v1/trending",
        "A trending table",
        schemas.Trending,
        errors=(404,),
        query=(
            Parameter(
                "region",
                {"type": "string", "default": "global"},
                "a region or category (`GET /api/v1/trending/regions`)",
            ),
            Parameter(
                "limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}, "at most"
            ),
        ),
    ),
    Operation(
        "GET",
        "/api/v1/trending/regions",
        "The trending tables there are",
        schemas.TrendingTables,
    ),
    # search (chirp.api.search)
    Operation(
        "GET",
        "/api/v1/search",
        "Search tweets, users or hashtags",
        schemas.SearchResults,
        query=(
            Parameter("q", {"type": "string"}, "words, `#tag`, `@user`, a quoted phrase", True),
            Parameter("type", {"type": "string", "enum": list(KINDS), "default": "tweets"}, "what"),
            LIMIT,
            CURSOR,
        ),
    ),
    # notifications (chirp.api.notifications)
    Operation(
        "GET",
        "/api/v1/notifications",
        "The caller's notifications, newest first",
        schemas.Inbox,
        query=(LIMIT, CURSOR, OWN_ID),
        access="user",
        errors=(403,),
    ),
    Operation(
        "POST",
        "/api/v1/notifications/read",
        "Mark notifications read, up to an id",
        schemas.UnreadCount,
        body=(ReadMark,),
        access="user",
    ),
    Operation(
        "GET",
        "/api/v1/users/me/notification_preferences",
        "Which notifications the caller gets",
        schemas.NotificationPreferences,
        access="user",
    ),
    Operation(
        "PATCH",
        "/api/v1/users/me/notification_preferences",
        "Change which notifications the caller gets",
        schemas.NotificationPreferences,
        body=(PreferenceChanges,),
        access="user",
    ),
    Operation(
        "GET",
        "/api/v1/stream",
        "Server-sent events: `notification` and `feed` as they happen, "
        "`: keep-alive` every 15 s. Never ends; a client too far behind is disconnected.",
        None,
        query=(OWN_ID,),
        access="user",
        errors=(403,),
        media="text/event-stream",
    ),
    # this document
    Operation("GET", PATH, "This OpenAPI document", None),
)

#: Every error chirp documents: (title, model). Each is `application/problem+json`.
ERRORS: dict[int, tuple[str, type[schemas.Problem]]] = {
    400: (
        "A malformed body (not one JSON document, NaN, duplicate keys, nested too "
        "deep) or query parameter",
        schemas.Problem,
    ),
    401: ("No valid access token (or admin token): see `WWW-Authenticate`", schemas.Problem),
    403: ("Valid credentials, but not for this", schemas.Problem),
    404: ("No such resource", schemas.Problem),
    409: ("Conflicts with what is there", schemas.Problem),
    413: ("The body is larger than 64 KiB", schemas.Problem),
    415: ("The body is not `application/json`", schemas.Problem),
    422: (
        "A well-formed body that breaks a rule; `errors` names the fields at fault",
        schemas.InvalidBody,
    ),
    429: ("Rate limited: retry after `Retry-After` seconds", schemas.Problem),
    503: ("Not available now: retry after `Retry-After` seconds", schemas.Problem),
}
_ERROR_HEADERS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": '`Bearer realm="chirp"`'},
    429: {
        "Retry-After": "seconds until a retry may succeed",
        "X-RateLimit-Limit": "the bucket's size",
        "X-RateLimit-Remaining": "requests left in it",
        "X-RateLimit-Reset": "seconds until it is full again",
    },
    503: {"Retry-After": "seconds until a retry may succeed"},
}


def errors_of(operation: Operation) -> list[int]:
    """The error statuses ``operation`` may answer."""
    statuses = set(operation.errors)
    if operation.body:
        statuses |= {400, 413, 415, 422}
    if operation.query:
        statuses.add(400)
    if "{" in operation.path:
        statuses.add(404)
    if operation.access in ("anyone", "user", "admin"):
        statuses.add(401)  # a token sent to any of these is checked
    if operation.access == "admin":
        statuses.add(403)
    if operation.rate_limited:
        statuses.add(429)
    if operation.writes:
        statuses.add(503)
    return sorted(statuses)


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document, as a JSON-ready dict (built once; treat it as frozen)."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chirp",
            "version": metadata.version("chirp"),
            "description": "A Twitter-style social backend. Every error is "
            "`application/problem+json` (RFC 9457). Ids of tweets and notifications "
            "are strings of digits.",
        },
        "paths": paths,
        "components": {
            "schemas": _component_schemas(),
            "responses": {
                _error_name(status): _error_response(status) for status in sorted(ERRORS)
            },
            "securitySchemes": {
                "user": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "an access token from `POST /api/v1/users` or "
                    "`POST /api/v1/auth/token`",
                },
                "admin": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the admin token (`CHIRP_ADMIN_TOKEN`, or printed at start)",
                },
            },
        },
    }


def openapi_routes() -> Blueprint:
    routes = Blueprint("openapi", __name__)

    @routes.get(PATH)
    async def document() -> dict[str, Any]:
        return openapi_document()

    return routes


def _operation(operation: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": operation.summary}
    if operation.answer is not None:
        success["content"] = {operation.media: {"schema": _ref(operation.answer)}}
    elif operation.status != 204:
        success["content"] = {operation.media: {"schema": _free_form(operation.media)}}
    if operation.headers:
        success["headers"] = _headers(operation.headers)
    responses: dict[str, Any] = {str(operation.status): success}
    for status in errors_of(operation):
        responses[str(status)] = {"$ref": f"#/components/responses/{_error_name(status)}"}
    described: dict[str, Any] = {
        "operationId": _operation_id(operation),
        "summary": operation.summary,
        "tags": [_tag(operation.path)],
        "security": _security(operation.access),
        "responses": responses,
    }
    parameters = _path_parameters(operation.path) + [_query(p) for p in operation.query]
    if parameters:
        described["parameters"] = parameters
    if operation.body:
        described["requestBody"] = _request_body(operation.body)
    return described


def _security(access: Access) -> list[dict[str, list[str]]]:
    return {
        "open": [],
        "anyone": [{}, {"user": []}],
        "user": [{"user": []}],
        "admin": [{"admin": []}],
    }[access]


def _request_body(models: tuple[type[pydantic.BaseModel], ...]) -> dict[str, Any]:
    schema = _ref(models[0]) if len(models) == 1 else {"anyOf": [_ref(m) for m in models]}
    content = {JSON: {"schema": schema}}
    if len(models) > 1:  # the OAuth2 token endpoint: RFC 6749's form, or the same as JSON
        content[FORM] = {"schema": schema}
    return {"required": True, "content": content}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": PATH_PARAMETERS[name][0],
            "description": PATH_PARAMETERS[name][1],
        }
        for name in names
    ]


def _query(parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": "query",
        "required": parameter.required,
        "schema": parameter.schema,
        "description": parameter.description,
    }


def _headers(headers: dict[str, str]) -> dict[str, Any]:
    return {
        name: {"description": description, "schema": {"type": "string"}}
        for name, description in headers.items()
    }


def _error_response(status: int) -> dict[str, Any]:
    description, model = ERRORS[status]
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": _ref(model)}},
    }
    if status in _ERROR_HEADERS:
        response["headers"] = _headers(_ERROR_HEADERS[status])
    return response


def _error_name(status: int) -> str:
    return f"Problem{status}"


def _free_form(media: str) -> dict[str, Any]:
    return {"type": "object"} if media == JSON else {"type": "string"}


def _ref(model: type[pydantic.BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _component_schemas() -> dict[str, Any]:
    """Every model's JSON Schema: request models as they validate, responses as they
    serialise."""
    requests = {model for operation in OPERATIONS for model in operation.body}
    responses = {operation.answer for operation in OPERATIONS if operation.answer is not None}
    responses |= {model for _, model in ERRORS.values()}
    named = [(model, "validation") for model in requests]
    named += [(model, "serialization") for model in responses]
    named.sort(key=lambda pair: pair[0].__name__)
    _, definitions = models_json_schema(named, ref_template="#/components/schemas/{model}")
    return dict(sorted(definitions["$defs"].items()))


def _operation_id(operation: Operation) -> str:
    words = [w.strip("{}") for w in operation.path.removeprefix("/api/v1").split("/") if w]
    return "_".join([operation.method.lower(), *words]).replace(".", "_")


def _tag(path: str) -> str:
    if not path.startswith("/api/v1/"):
        return "operations"
    return path.removeprefix("/api/v1/").split("/")[0].split(".")[0]
