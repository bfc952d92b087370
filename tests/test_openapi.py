"""The OpenAPI document: served, valid OpenAPI 3.1, and naming exactly the routes chirp has."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import schemathesis
import trio

from chirp.api.openapi import OPERATIONS, PATH, openapi_document
from chirp.api.problems import PROBLEM_JSON

from .api.conftest import running

#: What the document leaves out: the pages a browser loads, not an API.
PAGES = ("/", "/dashboard", "/static/{filename}")
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


async def test_the_document_is_served_to_anyone(nursery: trio.Nursery) -> None:
    chirp = await running(nursery)
    response = await chirp.app.test_client().get(PATH)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert await response.get_json() == openapi_document()


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    for result in schema.get_all_operations():
        result.ok()  # every operation's parameters and bodies are well-formed
    for reference in _references(document):
        target: Any = document
        for part in reference.removeprefix("#/").split("/"):
            target = target[part]  # a KeyError names a reference to nothing


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


async def test_every_route_is_documented_and_every_documented_route_exists(
    nursery: trio.Nursery,
) -> None:
    chirp = await running(nursery)
    registered = {
        (method, _openapi_path(rule.rule))
        for rule in chirp.app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in IGNORED_METHODS and _openapi_path(rule.rule) not in PAGES
    }
    documented = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert registered - documented == set(), "routes missing from the document"
    assert documented - registered == set(), "documented routes chirp does not have"
    assert {path for _, path in registered if path.startswith("/api/v1/")}, "no API routes?"


def test_every_documented_error_is_problem_json() -> None:
    document = openapi_document()
    for operation in OPERATIONS:
        responses = document["paths"][operation.path][operation.method.lower()]["responses"]
        for status in (status for status in responses if int(status) >= 400):
            name = responses[status]["$ref"].rsplit("/", 1)[-1]
            content = document["components"]["responses"][name]["content"]
            assert list(content) == [PROBLEM_JSON], (operation.path, status)
