"""Every error is application/problem+json, framework errors included."""

from __future__ import annotations

import logging

import pytest

from chirp.server import Chirp

from .conftest import admin


async def problem_of(response: object) -> dict[str, object]:
    assert response.content_type == "application/problem+json"  # type: ignore[attr-defined]
    body = await response.get_json()  # type: ignore[attr-defined]
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == response.status_code  # type: ignore[attr-defined]
    return body


async def test_unknown_paths_are_404_problems(chirp: Chirp) -> None:
    response = await chirp.app.test_client().get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert (await problem_of(response))["detail"] == "no resource at /api/v1/nothing-here"


async def test_wrong_methods_are_405_problems_naming_the_allowed_ones(chirp: Chirp) -> None:
    response = await chirp.app.test_client().delete("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "GET" in (await problem_of(response))["detail"]


async def test_oversized_bodies_are_413_problems(chirp: Chirp) -> None:
    body = b"x" * (chirp.settings.max_body_bytes + 1)
    # Quart's test client sends no Content-Length; a real client does.
    headers = {**admin(), "Content-Length": str(len(body))}
    response = await chirp.app.test_client().post(
        "/admin/actors/fanout.tweet_created.0/kill", data=body, headers=headers
    )
    assert response.status_code == 413
    await problem_of(response)
    assert chirp.system.restarts("fanout.tweet_created.0") == 0, "refused before the handler ran"


async def test_unexpected_errors_are_500_problems_without_internals(
    chirp: Chirp, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> str:
        raise RuntimeError("secret internal detail")

    chirp.app.add_url_rule("/broken", view_func=broken)
    with caplog.at_level(logging.ERROR, logger="chirp.api"):
        response = await chirp.app.test_client().get("/broken")
    assert response.status_code == 500
    body = await problem_of(response)
    assert "secret" not in str(body)
    assert "GET /broken" in caplog.text, "the error is logged with the request line"
    assert (await chirp.app.test_client().get("/healthz")).status_code == 200
