"""The dashboard in a real browser: live panels from /admin/dashboard, and the kill
button restarting a fan-out actor."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import ChirpServer, screenshot

FANOUT_ACTOR = "fanout.tweet_created.0"
#: The write latency chart's description once a write was timed, e.g. "p50 3.1 ms, …".
TIMED = re.compile(r"p50 [\d.]+ (µs|ms|s), p99 [\d.]+ (µs|ms|s)")


def some_writes(server: ChirpServer) -> None:
    name = f"dash{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        created = client.post(
            "/api/v1/users",
            json={"username": name, "email": f"{name}@example.org", "password": "a long pass"},
        )
        assert created.status_code == 201, created.text
        headers = {"Authorization": f"Bearer {created.json()['access_token']}"}
        for n in range(3):
            posted = client.post("/api/v1/tweet", json={"content": f"{n}"}, headers=headers)
            assert posted.status_code == 201, posted.text
            assert client.get("/api/v1/feed", headers=headers).status_code == 200


def test_the_dashboard_draws_the_panels_and_kills_a_fanout_actor(
    new_page: Callable[[], Page], chirp_server: ChirpServer
) -> None:
    page = new_page()
    page.goto(f"/dashboard#token={chirp_server.admin_token}")
    expect(page.get_by_role("heading", name="Worker health")).to_be_visible()
    assert "token" not in page.url, "the token leaves the address bar and the history"

    some_writes(chirp_server)
    # Points arrive with the page's refreshes (every 2 s); the writes show within a window.
    write_chart = page.locator('[data-chart="write-latency"] svg')
    expect(write_chart).to_have_attribute("aria-label", TIMED, timeout=20_000)
    expect(page.locator('[data-chart="throughput"] polyline').first).to_be_attached()

    page.locator('details[data-group="fanout"] > summary').click()
    row = page.locator(f'tr[data-actor="{FANOUT_ACTOR}"]')
    expect(row.locator(".state")).to_have_text("running")
    before = int(row.locator(".restarts").inner_text())
    page.get_by_role("button", name=f"Kill {FANOUT_ACTOR}", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Killed {FANOUT_ACTOR}")
    expect(row.locator(".restarts")).to_have_text(str(before + 1))
    expect(row.locator(".state")).to_have_text("running")
    expect(row.locator(".error")).to_have_text("killed")
    screenshot(page, "dashboard")


def test_the_dashboard_asks_for_the_token_when_it_has_a_wrong_one(
    new_page: Callable[[], Page], chirp_server: ChirpServer
) -> None:
    page = new_page()
    page.goto("/dashboard#token=not-the-admin-token")
    form = page.get_by_role("form", name="Admin token")
    expect(form).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("refused")
    # Keyboard only: the field has the focus, Enter submits.
    expect(page.get_by_role("textbox", name="Admin token")).to_be_focused()
    page.keyboard.type(chirp_server.admin_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Worker health")).to_be_visible()
    expect(form).to_be_hidden()
