"""Accounts, login and follows through the real app."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chirp.server import Chirp

from .conftest import sign_up

PASSWORD = "correct horse battery"


async def test_signing_up_answers_the_user_and_tokens(chirp: Chirp) -> None:
    response = await chirp.app.test_client().post(
        "/api/v1/users",
        json={
            "username": "Alice",
            "email": "alice@example.org",
            "password": PASSWORD,
            "display_name": "Alice A.",
        },
    )
    assert response.status_code == 201
    body = await response.get_json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["access_token"] and body["refresh_token"]
    user = body["user"]
    assert {
        k: user[k]
        for k in (
            "username",
            "display_name",
            "email",
            "bio",
            "verified",
            "follower_count",
            "following_count",
            "tweet_count",
        )
    } == {
        "username": "Alice",
        "display_name": "Alice A.",
        "email": "alice@example.org",
        "bio": "",
        "verified": False,
        "follower_count": 0,
        "following_count": 0,
        "tweet_count": 0,
    }
    assert isinstance(user["user_id"], int) and user["created_at"].endswith("Z")
    assert "password" not in str(body) and "argon2" not in str(body)


@pytest.mark.parametrize(
    ("username", "email"),
    [
        ("alice", "other@example.org"),
        ("ALICE", "other@example.org"),
        ("other", "alice@example.org"),
        ("other", "Alice@Example.org"),
    ],
)
async def test_taken_usernames_and_emails_are_409(chirp: Chirp, username: str, email: str) -> None:
    await sign_up(chirp, "alice")
    response = await chirp.app.test_client().post(
        "/api/v1/users", json={"username": username, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert (await chirp.app.test_client().get("/api/v1/users?username=other")).status_code == 404


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "bad name"},
        {"username": ""},
        {"username": "x" * 16},
        {"email": "not-an-email"},
        {"password": "short"},
        {"display_name": "x" * 51},
        {"user_id": 5},
        {"verified": True},
        {"follower_count": 10**6},
        {"username": 123},
    ],
)
async def test_sign_up_rules_are_422_and_create_nothing(chirp: Chirp, fields: dict) -> None:
    body = {"username": "bob", "email": "bob@example.org", "password": PASSWORD, **fields}
    response = await chirp.app.test_client().post("/api/v1/users", json=body)
    assert response.status_code == 422, await response.get_data()
    assert (await response.get_json())["detail"]
    assert (await chirp.app.test_client().get("/api/v1/users?username=bob")).status_code == 404


async def test_login_by_json_and_by_oauth2_form_then_refresh(chirp: Chirp) -> None:
    await sign_up(chirp, "carol")
    client = chirp.app.test_client()
    by_json = await client.post(
        "/api/v1/auth/token", json={"username": "CAROL", "password": PASSWORD}
    )
    assert by_json.status_code == 200
    by_form = await client.post(
        "/api/v1/auth/token",
        form={"grant_type": "password", "username": "carol", "password": PASSWORD},
    )
    assert by_form.status_code == 200
    refresh_token = (await by_form.get_json())["refresh_token"]
    renewed = await client.post(
        "/api/v1/auth/token", form={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )
    assert renewed.status_code == 200
    access = (await renewed.get_json())["access_token"]
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
    assert (await me.get_json())["username"] == "carol"
    # A refresh token is not an access token.
    refused = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {refresh_token}"}
    )
    assert refused.status_code == 401


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "dave", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "no such name!", "password": PASSWORD},
    ],
)
async def test_wrong_credentials_are_401_alike(chirp: Chirp, credentials: dict) -> None:
    await sign_up(chirp, "dave")
    response = await chirp.app.test_client().post("/api/v1/auth/token", json=credentials)
    assert response.status_code == 401
    assert (await response.get_json())["detail"] == "wrong username or password"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic YWxpY2U6cHc="},
    ],
)
async def test_my_profile_needs_a_valid_token(chirp: Chirp, headers: dict) -> None:
    response = await chirp.app.test_client().get("/api/v1/users/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_profiles_are_public_and_emails_private(chirp: Chirp) -> None:
    user_id, me = await sign_up(chirp, "erin")
    client = chirp.app.test_client()
    public = await (await client.get(f"/api/v1/users/{user_id}")).get_json()
    assert public["username"] == "erin" and "email" not in public
    assert (await (await client.get("/api/v1/users?username=ERIN")).get_json())[
        "user_id"
    ] == user_id
    assert (await client.get("/api/v1/users/999999")).status_code == 404
    changed = await client.patch(
        "/api/v1/users/me",
        headers=me,
        json={"bio": "hello", "profile_image_url": "https://img.example/e.png"},
    )
    assert changed.status_code == 200
    assert (await changed.get_json())["bio"] == "hello"


@pytest.mark.parametrize(
    "changes",
    [
        {"bio": "x" * 161},
        {"display_name": ""},
        {"profile_image_url": "javascript:alert(1)"},
        {"verified": True},
        {"user_id": 1},
        {"username": "renamed"},
    ],
)
async def test_refused_profile_changes_change_nothing(chirp: Chirp, changes: dict) -> None:
    user_id, me = await sign_up(chirp, "frank")
    client = chirp.app.test_client()
    before = await (await client.get(f"/api/v1/users/{user_id}")).get_json()
    response = await client.patch("/api/v1/users/me", headers=me, json=changes)
    assert response.status_code == 422
    assert await (await client.get(f"/api/v1/users/{user_id}")).get_json() == before


async def test_follows_are_idempotent_counted_and_listed(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    star, star_headers = await sign_up(chirp, "star")
    fans = [await sign_up(chirp, f"fan{n}") for n in range(5)]
    for _, headers in fans:
        for _ in range(2):
            response = await client.post(f"/api/v1/users/{star}/follow", headers=headers)
            assert (response.status_code, await response.get_json()) == (200, {"following": True})
    await client.delete(f"/api/v1/users/{star}/follow", headers=fans[1][1])
    await client.delete(f"/api/v1/users/{star}/follow", headers=fans[1][1])
    star_view = await (await client.get(f"/api/v1/users/{star}")).get_json()
    assert star_view["follower_count"] == 4
    first = await (await client.get(f"/api/v1/users/{star}/followers?limit=3")).get_json()
    assert [u["username"] for u in first["users"]] == ["fan4", "fan3", "fan2"]
    rest = await (
        await client.get(f"/api/v1/users/{star}/followers?limit=3&cursor={first['next_cursor']}")
    ).get_json()
    assert ([u["username"] for u in rest["users"]], rest["next_cursor"]) == (["fan0"], None)
    following = await (await client.get(f"/api/v1/users/{fans[0][0]}/following")).get_json()
    assert [u["user_id"] for u in following["users"]] == [star]
    themselves = await client.post(f"/api/v1/users/{star}/follow", headers=star_headers)
    assert themselves.status_code == 422
    assert (
        await client.post("/api/v1/users/999999/follow", headers=star_headers)
    ).status_code == 404
    assert (await client.post(f"/api/v1/users/{star}/follow")).status_code == 401
    published = sum(await chirp.log.end_offsets("user_followed"))
    assert published == 5, "one event per follow that changed the graph"
    assert sum(await chirp.log.end_offsets("user_unfollowed")) == 1


async def test_a_relationship_says_who_follows_whom_and_needs_a_caller(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    ann, ann_headers = await sign_up(chirp, "ann")
    ben, ben_headers = await sign_up(chirp, "ben")

    async def relationship(headers: dict[str, str], user_id: int) -> dict:
        response = await client.get(f"/api/v1/users/{user_id}/relationship", headers=headers)
        assert response.status_code == 200
        return await response.get_json()

    assert await relationship(ann_headers, ben) == {"following": False, "followed_by": False}
    await client.post(f"/api/v1/users/{ben}/follow", headers=ann_headers)
    assert await relationship(ann_headers, ben) == {"following": True, "followed_by": False}
    assert await relationship(ben_headers, ann) == {"following": False, "followed_by": True}
    await client.delete(f"/api/v1/users/{ben}/follow", headers=ann_headers)
    assert await relationship(ann_headers, ben) == {"following": False, "followed_by": False}
    anonymous = await client.get(f"/api/v1/users/{ben}/relationship")
    assert anonymous.status_code == 401
    assert anonymous.content_type == "application/problem+json"
    nobody = await client.get("/api/v1/users/999999/relationship", headers=ann_headers)
    assert nobody.status_code == 404


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": b"username=x", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"form": {"grant_type": "client_credentials", "client_id": "x"}}, 422),
        ({"json": {"grant_type": "refresh_token"}}, 422),
        ({"json": {"grant_type": "refresh_token", "refresh_token": "forged"}}, 401),
        ({"json": {"username": "x"}}, 422),
        ({"data": b"{bad json", "headers": {"Content-Type": "application/json"}}, 400),
    ],
)
async def test_the_token_endpoint_refuses_what_it_cannot_use(
    chirp: Chirp, kwargs: dict, status: int
) -> None:
    response = await chirp.app.test_client().post("/api/v1/auth/token", **kwargs)
    assert response.status_code == status, await response.get_data()
    assert response.content_type == "application/problem+json"


async def test_authenticated_requests_mark_their_user_active(chirp: Chirp) -> None:
    week = timedelta(days=7)
    active_id, active = await sign_up(chirp, "active")
    quiet_id, _ = await sign_up(chirp, "quiet")
    client = chirp.app.test_client()
    await client.get(f"/api/v1/users/{quiet_id}")  # anonymous: nobody's activity
    assert await chirp.services.users.active_among([active_id, quiet_id], week) == set()
    await client.get(f"/api/v1/users/{quiet_id}", headers=active)
    assert await chirp.services.users.active_among([active_id, quiet_id], week) == {active_id}
