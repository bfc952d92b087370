"""The web client at ``/``, driven in Chromium against a real chirp process.

Each test signs up its own people (names with a random suffix: the server is shared by
the session). Waits are Playwright's auto-waiting ``expect``s, never sleeps: where chirp is
asynchronous (the stream, the search index's once-a-second commit, trends rescored every
second) the test waits for the condition itself."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, Route, expect

from tests.browser.conftest import screenshot

PASSWORD = "correct horse battery"
#: Trends rescore every second in this server; the client refreshes its box every 10 s
#: and on every navigation.
TRENDING_WAIT_MS = 20_000
#: The search index commits about once a second.
SEARCH_WAIT_MS = 10_000

NewPage = Callable[[], Page]


@pytest.fixture
def open_page(new_page: NewPage) -> Iterator[NewPage]:
    """``new_page``, failing the test if a page logs an error of its own: an uncaught
    exception, or a Content-Security-Policy refusal. (A 4xx answer logs "Failed to load
    resource"; those the tests cause on purpose.)"""
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            errors.append(message.text)

    def make() -> Page:
        page = new_page()
        page.on("console", console)
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    assert errors == []


def unique(prefix: str) -> str:
    """A username (at most 15 characters) no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def sign_up(page: Page, username: str, display_name: str) -> None:
    """Sign up through the form and wait until the live stream is connected (from then
    on nothing the stream carries is missed)."""
    page.goto("/")
    form = page.get_by_role("form", name="Sign up")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Email").fill(f"{username}@example.com")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Display name").fill(display_name)
    form.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect_live(page)


def sign_up_quietly(page: Page, username: str) -> str:
    """An account made through the API, for tests about something else; its access
    token."""
    response = page.request.post(
        "/api/v1/users",
        data={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    assert response.status == 201, response.text()
    return response.json()["access_token"]


def call(page: Page, method: str, path: str, token: str, data: object = None) -> dict:
    """An API call as the owner of ``token``, outside the page (a second person, say)."""
    response = page.request.fetch(
        f"/api/v1{path}", method=method, data=data, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.ok, response.text()
    return response.json()


def log_in(page: Page, username: str) -> None:
    page.goto("/")
    login = page.get_by_role("form", name="Log in")
    login.get_by_label("Username").fill(username)
    login.get_by_label("Password").fill(PASSWORD)
    button(login, "Log in").click()
    expect_live(page)


def expect_live(page: Page) -> None:
    expect(page.locator("#live")).to_have_text("Live")


def home_feed(page: Page) -> Locator:
    return page.get_by_role("region", name="Home feed")


def tweet(scope: Page | Locator, text: str) -> Locator:
    return scope.get_by_role("article").filter(has_text=text)


def button(scope: Page | Locator, name: str) -> Locator:
    return scope.get_by_role("button", name=name, exact=True)


def post(page: Page, text: str) -> Locator:
    """Post from the composer; the new tweet's article in the home feed (found by its id,
    so it is still found after an edit)."""
    composer = page.get_by_role("form", name="New tweet")
    composer.get_by_label("What's happening?").fill(text)
    button(composer, "Post").click()
    expect(page.get_by_role("status")).to_have_text("Tweet posted")
    posted = tweet(home_feed(page), text)
    expect(posted).to_be_visible()
    return home_feed(page).locator(f"article[data-id='{posted.get_attribute('data-id')}']")


def open_profile(page: Page, username: str, display_name: str) -> Locator:
    page.goto(f"/#/users/{username}")
    profile = page.get_by_role("region", name="Profile")
    expect(profile.get_by_role("heading", name=display_name)).to_be_visible()
    return profile


def follow(page: Page, username: str, display_name: str) -> None:
    profile = open_profile(page, username, display_name)
    button(profile, "Follow").click()
    expect(button(profile, "Unfollow")).to_be_visible()
    expect(profile).to_contain_text("1 follower")


def notifications_link(page: Page, unread: int = 0) -> Locator:
    name = f"Notifications {unread} unread" if unread else "Notifications"
    return page.get_by_role("link", name=name, exact=True)


def wait_until_searchable(page: Page, query: str, kind: str = "tweets") -> None:
    """The search index commits about once a second: wait until the API finds ``query``
    (polled from the page, as ``expect`` polls), so the search through the form is
    deterministic."""
    found = page.evaluate(
        """async ({query, kind, limit}) => {
            const url = "/api/v1/search?" + new URLSearchParams({q: query, type: kind});
            const deadline = Date.now() + limit;
            for (;;) {
                const answer = await (await fetch(url)).json();
                const found = answer.results.length;
                if (found > 0 || Date.now() > deadline) return found;
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
        }""",
        {"query": query, "kind": kind, "limit": SEARCH_WAIT_MS},
    )
    assert found, f"the search index did not find {query!r} within {SEARCH_WAIT_MS} ms"


def test_follow_post_live_feed_like_notify_search_and_trend(open_page: NewPage) -> None:
    alice, bob = open_page(), open_page()
    alice_name, bob_name = unique("alice"), unique("bob")
    tag = f"tag{uuid.uuid4().hex[:10]}"
    sign_up(alice, alice_name, "Alice")
    sign_up(bob, bob_name, "Bob")

    follow(bob, alice_name, "Alice")
    bob.get_by_role("link", name="Home", exact=True).click()
    expect(home_feed(bob)).to_contain_text("Your feed is empty")

    # The follow reaches Alice live; opening Notifications reads it and clears the badge.
    notifications_link(alice, 1).click()
    notifications = alice.get_by_role("region", name="Notifications")
    expect(notifications.get_by_role("listitem")).to_have_text(
        re.compile(r"^New: Bob followed you")
    )
    expect(notifications_link(alice)).to_be_visible()
    alice.get_by_role("link", name="Home", exact=True).click()

    bob_requests: list[str] = []
    bob.on("request", lambda sent: bob_requests.append(sent.url))
    composer = alice.get_by_role("form", name="New tweet")
    text = f"hello #{tag}"
    composer.get_by_label("What's happening?").fill(text)
    expect(composer.locator(".counter")).to_have_text(str(280 - len(text)))
    post(alice, text)

    # Bob's feed gets it over the stream: no reload, no navigation, no feed read; the
    # "feed" event named the tweet and the client fetched just that.
    arrived = tweet(home_feed(bob), text)
    expect(arrived).to_contain_text(f"Alice @{alice_name}")
    tweet_id = arrived.get_attribute("data-id")
    assert [url for url in bob_requests if "/api/v1/feed" in url] == []
    assert any(url.endswith(f"/api/v1/tweet/{tweet_id}") for url in bob_requests)
    expect(arrived.get_by_role("link", name=f"#{tag}")).to_have_attribute(
        "href", f"#/hashtag/{tag}"
    )
    screenshot(bob, "feed")

    like = button(arrived, "Like")
    expect(like).to_have_attribute("aria-pressed", "false")
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(arrived).to_contain_text("1 like")

    notifications_link(alice, 1).click()
    newest = notifications.get_by_role("listitem").first
    expect(newest).to_have_text(re.compile(r"Bob liked your tweet"))
    expect(notifications.get_by_role("link", name="Bob")).to_have_count(2)
    expect(notifications_link(alice)).to_be_visible()
    screenshot(alice, "notifications")

    wait_until_searchable(bob, f"hello {tag}")
    search = bob.get_by_role("search")
    search.get_by_label("Search", exact=True).fill(f"hello {tag}")
    search.get_by_label("Search type").select_option("Tweets")
    button(search, "Search").click()
    results = bob.get_by_role("region", name="Search results")
    expect(tweet(results, text)).to_be_visible()
    expect(bob).to_have_url(re.compile(r"#/search\?q=hello\+tag\w+&type=tweets$"))
    screenshot(bob, "search")

    trending = bob.get_by_role("complementary", name="Trending")
    expect(trending.get_by_label("Region")).to_have_value("global")
    trend = trending.get_by_role("link", name=f"#{tag}", exact=True)
    expect(trend).to_be_visible(timeout=TRENDING_WAIT_MS)
    trend.click()
    expect(results.get_by_role("heading", name=f"#{tag}")).to_be_visible()
    expect(tweet(results, text)).to_be_visible()

    # The other kinds of search.
    wait_until_searchable(bob, tag, "hashtags")
    search.get_by_label("Search", exact=True).fill(tag)
    search.get_by_label("Search type").select_option("Hashtags")
    button(search, "Search").click()
    found = results.get_by_role("listitem").filter(has=bob.get_by_role("link", name=f"#{tag}"))
    expect(found).to_have_text(f"#{tag} 1 tweet")
    wait_until_searchable(bob, alice_name, "users")
    search.get_by_label("Search", exact=True).fill(alice_name)
    search.get_by_label("Search type").select_option("Users")
    button(search, "Search").click()
    results.get_by_role("link", name=f"Alice @{alice_name}").click()
    profile = bob.get_by_role("region", name="Profile")
    expect(profile.get_by_role("heading", name="Alice")).to_be_visible()
    expect(button(profile, "Unfollow")).to_be_visible()
    expect(tweet(profile, text)).to_contain_text("1 like")


def test_edit_reply_retweet_and_delete(open_page: NewPage) -> None:
    carol, dave = open_page(), open_page()
    carol_name, dave_name = unique("carol"), unique("dave")
    sign_up(carol, carol_name, "Carol")
    sign_up(dave, dave_name, "Dave")
    follow(dave, carol_name, "Carol")
    dave.get_by_role("link", name="Home", exact=True).click()
    expect(home_feed(dave)).to_contain_text("Your feed is empty")

    draft, final = f"first draft {carol_name}", f"final words {carol_name}"
    mine = post(carol, draft)
    expect(tweet(home_feed(dave), draft)).to_be_visible()  # live

    # Edit: an inline form on your own tweet.
    button(mine, "Edit").click()
    edit_form = mine.get_by_role("form", name="Edit tweet")
    edit_form.get_by_label("Tweet text").fill(final)
    button(edit_form, "Save").click()
    expect(edit_form).to_have_count(0)
    expect(mine.locator(".content")).to_have_text(final)
    expect(mine).to_contain_text("edited")
    expect(button(mine, "Edit")).to_be_focused()

    # Dave sees the edit once he reads again; not his tweet, so no Edit or Delete.
    dave.reload()
    theirs = tweet(home_feed(dave), final).filter(has_not_text="You retweeted")
    expect(theirs).to_be_visible()
    expect(button(theirs, "Edit")).to_have_count(0)
    expect(button(theirs, "Delete")).to_have_count(0)

    # Reply: an inline form; the reply joins Dave's feed and the count goes up.
    button(theirs, "Reply").click()
    reply_form = theirs.get_by_role("form", name=f"Reply to @{carol_name}")
    reply_box = reply_form.get_by_label("Your reply")
    expect(reply_box).to_be_focused()
    expect(reply_box).to_have_value(f"@{carol_name} ")
    reply_box.press_sequentially("nice one")
    button(reply_form, "Send reply").click()
    expect(reply_form).to_have_count(0)
    expect(theirs).to_contain_text("1 reply")
    reply = tweet(home_feed(dave), f"@{carol_name} nice one")
    expect(reply).to_contain_text("Replying to a tweet")
    expect(reply.get_by_role("link", name=f"@{carol_name}")).to_be_visible()

    # Retweet: pressed, counted, and shown in Dave's feed as his retweet; then undone.
    retweet = button(theirs, "Retweet")
    retweet.click()
    expect(retweet).to_have_attribute("aria-pressed", "true")
    expect(theirs).to_contain_text("1 retweet")
    retweeted = home_feed(dave).get_by_role("article").filter(has_text="You retweeted")
    expect(retweeted).to_contain_text(final)
    expect(button(retweeted, "Retweet")).to_have_attribute("aria-pressed", "true")
    button(retweeted, "Retweet").click()
    expect(retweeted).to_have_count(0)
    expect(retweet).to_have_attribute("aria-pressed", "false")
    expect(theirs).to_contain_text("0 retweets")

    # Carol was told of each.
    notifications_link(carol, 4).click()
    told = carol.get_by_role("region", name="Notifications").get_by_role("listitem")
    expect(told).to_have_text(
        [
            re.compile(r"Dave retweeted your tweet"),
            re.compile(r"Dave (replied to your tweet|mentioned you)"),
            re.compile(r"Dave (replied to your tweet|mentioned you)"),
            re.compile(r"Dave followed you"),
        ]
    )

    # Delete, confirmed inline: Dave's reply, then Carol's tweet.
    button(reply, "Delete").click()
    confirm = reply.get_by_role("group", name="Confirm delete")
    expect(confirm).to_contain_text("Delete this tweet?")
    expect(button(confirm, "Cancel")).to_be_focused()
    button(confirm, "Cancel").click()
    expect(confirm).to_have_count(0)
    button(reply, "Delete").click()
    button(confirm, "Yes, delete").click()
    expect(reply).to_have_count(0)
    expect(dave.get_by_role("status")).to_have_text("Tweet deleted")

    carol.get_by_role("link", name="Home", exact=True).click()
    mine = tweet(home_feed(carol), final)
    button(mine, "Delete").click()
    button(mine.get_by_role("group", name="Confirm delete"), "Yes, delete").click()
    expect(mine).to_have_count(0)
    carol.reload()
    expect(home_feed(carol)).to_contain_text("Your feed is empty")


def test_the_280_counter(open_page: NewPage) -> None:
    page = open_page()
    sign_up(page, unique("erin"), "Erin")
    composer = page.get_by_role("form", name="New tweet")
    box = composer.get_by_label("What's happening?")
    counter = composer.locator(".counter")
    post_button = button(composer, "Post")

    expect(counter).to_have_text("280")
    expect(post_button).to_be_disabled()  # empty
    box.fill("   ")
    expect(post_button).to_be_disabled()  # blank
    box.fill("a" * 281)
    expect(counter).to_have_text("-1")
    expect(post_button).to_be_disabled()
    box.fill("a" * 280)
    expect(counter).to_have_text("0")
    expect(post_button).to_be_enabled()
    box.fill("\N{GRINNING FACE}")
    expect(counter).to_have_text("279")  # one code point, though two UTF-16 units
    box.fill("e\N{COMBINING ACUTE ACCENT}")
    expect(counter).to_have_text("279")  # NFC composes it to one
    box.fill("")
    expect(counter).to_have_text("280")
    expect(post_button).to_be_disabled()

    # chirp agrees: 280 emoji are 280 characters.
    emoji = "\N{PARTY POPPER}" * 280
    box.fill(emoji)
    expect(counter).to_have_text("0")
    post(page, emoji)


def test_keyboard_only_login_and_labelled_controls(open_page: NewPage) -> None:
    page = open_page()
    username = unique("kim")
    sign_up_quietly(page, username)
    page.goto("/")

    # Signed out: the two forms, every field labelled.
    login = page.get_by_role("form", name="Log in")
    signup = page.get_by_role("form", name="Sign up")
    for label in ("Username", "Password"):
        expect(login.get_by_label(label)).to_be_visible()
    for label in ("Username", "Email", "Password", "Display name"):
        expect(signup.get_by_label(label)).to_be_visible()
    expect(button(signup, "Sign up")).to_be_visible()

    # Tab, type, Enter: nothing but the keyboard.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="chirp")).to_be_focused()
    page.keyboard.press("Tab")
    expect(login.get_by_label("Username")).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    expect(login.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(button(page, "Log out")).to_be_visible()
    expect_live(page)

    # Signed in: every control found by its role and name.
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Home", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(notifications_link(page)).to_be_visible()
    expect(nav.get_by_role("link", name=f"Profile @{username}")).to_have_attribute(
        "href", f"#/users/{username}"
    )
    composer = page.get_by_role("form", name="New tweet")
    expect(composer.get_by_role("textbox", name="What's happening?")).to_be_visible()
    expect(button(composer, "Post")).to_be_visible()
    expect(home_feed(page)).to_be_visible()
    search = page.get_by_role("search")
    expect(search.get_by_role("searchbox", name="Search", exact=True)).to_be_visible()
    expect(search.get_by_role("combobox", name="Search type")).to_be_visible()
    expect(button(search, "Search")).to_be_visible()
    trending = page.get_by_role("complementary", name="Trending")
    expect(trending.get_by_role("combobox", name="Region")).to_be_visible()

    # Write and send a tweet from the keyboard (Ctrl+Enter), then like it with Space.
    composer.get_by_label("What's happening?").focus()
    page.keyboard.type(f"typed by {username}")
    page.keyboard.press("Control+Enter")
    posted = tweet(home_feed(page), f"typed by {username}")
    expect(posted).to_be_visible()
    like = button(posted, "Like")
    like.focus()
    page.keyboard.press("Space")
    expect(like).to_have_attribute("aria-pressed", "true")

    # The search form submits with Enter, and routes to its results.
    search.get_by_label("Search", exact=True).focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(button(search, "Search")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/search\?q=\w+&type=tweets$"))
    expect(page.get_by_role("region", name="Search results")).to_be_visible()

    # Logging out closes the live stream.
    with page.expect_event(
        "requestfailed", predicate=lambda failed: failed.url.endswith("/api/v1/stream")
    ):
        button(page, "Log out").click()
    expect(login.get_by_label("Username")).to_be_focused()
    expect(page.get_by_role("status")).to_have_text("You are logged out.")


def test_problems_are_shown(open_page: NewPage) -> None:
    page = open_page()
    taken = unique("taken")
    sign_up_quietly(page, taken)
    page.goto("/")

    signup = page.get_by_role("form", name="Sign up")
    signup.get_by_label("Username").fill(taken)
    signup.get_by_label("Email").fill(f"other.{taken}@example.com")
    signup.get_by_label("Password").fill(PASSWORD)
    button(signup, "Sign up").click()
    expect(page.get_by_role("alert")).to_have_text("that username is taken")

    login = page.get_by_role("form", name="Log in")
    login.get_by_label("Username").fill(taken)
    login.get_by_label("Password").fill("not the password")
    button(login, "Log in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong username or password")
    expect(signup).to_be_visible()


def test_an_expired_access_token_is_refreshed_once(open_page: NewPage) -> None:
    page = open_page()
    username = unique("fay")
    sign_up(page, username, "Fay")

    # A refused access token: the client refreshes and carries on.
    page.evaluate(
        """() => {
            const tokens = JSON.parse(localStorage.getItem("chirp.tokens"));
            tokens.access_token = "not-a-token";
            localStorage.setItem("chirp.tokens", JSON.stringify(tokens));
        }"""
    )
    page.reload()
    expect(button(page, "Log out")).to_be_visible()
    expect_live(page)
    post(page, f"still here {username}")

    # A refused refresh token too: back to the log-in screen, saying why.
    page.evaluate(
        """() => localStorage.setItem(
            "chirp.tokens",
            JSON.stringify({access_token: "bad", refresh_token: "bad"}),
        )"""
    )
    page.reload()
    expect(page.get_by_role("form", name="Log in")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Your session has ended. Log in again.")


def test_load_more_pages_the_feed(open_page: NewPage) -> None:
    page = open_page()
    username = unique("gus")
    token = sign_up_quietly(page, username)
    for n in range(21):
        call(page, "POST", "/tweet", token, {"content": f"number {n} of {username}"})
    log_in(page, username)

    tweets = home_feed(page).get_by_role("article")
    expect(tweets).to_have_count(20)
    expect(tweets.first).to_contain_text("number 20 of")
    button(home_feed(page), "Load more").click()
    expect(tweets).to_have_count(21)
    expect(tweets.last).to_contain_text("number 0 of")
    expect(button(home_feed(page), "Load more")).to_be_hidden()


def test_likes_of_one_tweet_are_one_notification(open_page: NewPage) -> None:
    page = open_page()
    username = unique("ivy")
    token = sign_up_quietly(page, username)
    tweet_id = call(page, "POST", "/tweet", token, {"content": "like this"})["tweet_id"]
    log_in(page, username)
    for n in range(3):
        liker = unique(f"fan{n}")
        call(page, "POST", f"/tweet/{tweet_id}/like", sign_up_quietly(page, liker))

    notifications_link(page, 3).click()
    told = page.get_by_role("region", name="Notifications").get_by_role("listitem")
    expect(told).to_have_text([re.compile(rf"^New: {liker} and 2 others liked your tweet")])
    expect(notifications_link(page)).to_be_visible()


def test_the_stream_reconnects_after_a_failure(open_page: NewPage) -> None:
    page = open_page()
    attempts: list[int] = []

    def refuse_the_first(route: Route) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            route.fulfill(status=503, content_type="application/problem+json", body="{}")
        else:
            route.continue_()

    page.route("**/api/v1/stream", refuse_the_first)
    sign_up(page, unique("hal"), "Hal")  # waits for "Live"
    assert len(attempts) == 2
