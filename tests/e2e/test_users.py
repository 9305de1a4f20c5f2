"""The users example: users in SQL, preferences in key-value, through the real component."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.testing import Client, Emulator

pytestmark = pytest.mark.e2e

ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}


@pytest.fixture
def edge(emulate: Callable[..., Emulator]) -> Emulator:
    # One region for the plain CRUD tests; the regional ones are at the end.
    return emulate("users", regions=["us-east"])


@pytest.fixture
def users(edge: Emulator) -> Client:
    return edge.client()


def has_users_table(edge: Emulator, region: str = "us-east") -> bool:
    db = edge.sql_replicas()[region]
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users'")
    return bool(found.rows)


def test_crud(users: Client) -> None:
    created = users.post("/users", json={"name": "  Ada Lovelace ", "email": "Ada@Example.com"})
    assert created.status_code == 201
    ada = created.json()
    assert ada["id"] == 1 and ada["created_at"]
    assert (ada["name"], ada["email"]) == ("Ada Lovelace", "ada@example.com")
    assert created.headers["location"] == "/users/1"

    assert users.get("/users/1").json() == ada
    assert users.delete("/users/1").status_code == 204
    assert users.get("/users/1").status_code == 404
    assert users.delete("/users/1").status_code == 404
    # AUTOINCREMENT: a deleted user's id is never handed out again.
    assert users.post("/users", json=ADA).json()["id"] == 2


def test_search_by_name(users: Client) -> None:
    for name, email in [
        ("grace hopper", "grace@example.com"),
        ("Alan Turing", "alan@example.com"),
        ("Ada Lovelace", "ada@example.com"),
        ("100% Ada", "percent@example.com"),
        ("Ada_Byron", "underscore@example.com"),
        ("Barbara Liskov", "barbara@example.com"),
    ]:
        assert users.post("/users", json={"name": name, "email": email}).status_code == 201

    def names(text: str) -> list[str]:
        return [u["name"] for u in users.get("/users", params={"name": text}).json()]

    assert names("ADA") == ["100% Ada", "Ada Lovelace", "Ada_Byron"]  # by name, any case
    everyone = ["100% Ada", "Ada Lovelace", "Ada_Byron", "Alan Turing", "Barbara Liskov"]
    assert names("") == [*everyone, "grace hopper"]  # upper case sorts first (BINARY)
    assert users.get("/users").json() == users.get("/users", params={"name": ""}).json()
    # % and _ are escaped: they match only themselves, not any text or character.
    assert names("%") == ["100% Ada"]
    assert names("a_b") == ["Ada_Byron"]  # unescaped, "arb" in Barbara would match
    assert names("nobody") == []
    assert names("' OR 1=1 --") == []


def test_search_returns_at_most_50(users: Client) -> None:
    for i in range(55):
        users.post("/users", json={"name": f"user {i:02}", "email": f"u{i}@example.com"})
    found = users.get("/users", params={"name": "user"}).json()
    assert [u["name"] for u in found] == [f"user {i:02}" for i in range(50)]


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "object"],
        {"email": "ada@example.com"},
        {"name": "  ", "email": "ada@example.com"},
        {"name": 7, "email": "ada@example.com"},
        {"name": "x" * 201, "email": "ada@example.com"},
        {"name": "Ada"},
        {"name": "Ada", "email": "not-an-address"},
        {"name": "Ada", "email": "a@b@c"},
        {"name": "Ada", "email": "ada lovelace@example.com"},
        {"name": "Ada", "email": "@example.com"},
    ],
)
def test_bad_user_is_400(users: Client, body: object) -> None:
    response = users.post("/users", json=body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_bad_requests(users: Client) -> None:
    assert users.post("/users", content=b"{not json").status_code == 400
    assert users.get("/users/abc").status_code == 400
    assert users.get("/users", params={"name": "x" * 201}).status_code == 400


def test_duplicate_email_is_409(users: Client) -> None:
    assert users.post("/users", json=ADA).status_code == 201
    duplicate = users.post("/users", json={"name": "Someone else", "email": "ADA@example.com"})
    assert duplicate.status_code == 409
    assert duplicate.json() == {"error": "a user with this email already exists"}
    assert len(users.get("/users").json()) == 1


def test_reads_do_not_create_the_schema(edge: Emulator, users: Client) -> None:
    # Before the first user there is no table: reads answer as if empty.
    assert users.get("/users").json() == []
    assert users.get("/users/1").status_code == 404
    assert users.get("/users/1/preferences").status_code == 404
    assert users.delete("/users/1").status_code == 404
    assert not has_users_table(edge)
    assert users.post("/users", json=ADA).status_code == 201
    assert has_users_table(edge)


def test_preferences_round_trip(users: Client) -> None:
    users.post("/users", json=ADA)
    assert users.get("/users/1/preferences").json() == {}
    prefs = {"theme": "dark", "language": "en", "notifications": {"email": False}}
    stored = users.put("/users/1/preferences", json=prefs)
    assert stored.status_code == 200 and stored.json() == prefs
    assert users.get("/users/1/preferences").json() == prefs
    # A PUT replaces the whole object.
    assert users.put("/users/1/preferences", json={"theme": "light"}).status_code == 200
    assert users.get("/users/1/preferences").json() == {"theme": "light"}


def test_preferences_validation(users: Client) -> None:
    users.post("/users", json=ADA)
    assert users.put("/users/1/preferences", json=["dark"]).status_code == 400
    assert users.put("/users/1/preferences", content=b"{oops").status_code == 400
    too_big = users.put("/users/1/preferences", json={"notes": "x" * 4096})
    assert too_big.status_code == 413
    assert users.get("/users/1/preferences").json() == {}


def test_preferences_of_an_unknown_user_are_404(users: Client) -> None:
    users.post("/users", json=ADA)
    assert users.get("/users/2/preferences").status_code == 404
    assert users.put("/users/2/preferences", json={"theme": "dark"}).status_code == 404
    assert users.get("/users/2/preferences").status_code == 404


def test_deleting_a_user_drops_its_preferences(edge: Emulator, users: Client) -> None:
    users.post("/users", json=ADA)
    users.put("/users/1/preferences", json={"theme": "dark"})
    assert users.delete("/users/1").status_code == 204
    assert edge.kv_replicas()["default"]["us-east"].get("prefs:1") is None


def test_preferences_replicate_between_regions(built: dict[str, Path], tmp_path: Path) -> None:
    with Emulator(
        built["users"],
        regions=["us-east", "eu-west"],
        state_dir=tmp_path,
        build=False,
        replication_lag="1s",
        jitter=0,
    ) as edge:
        us, eu = edge.client("us-east"), edge.client("eu-west")
        assert us.post("/users", json=ADA).status_code == 201
        # Preferences answer 404 where the database has no such user: let the
        # user reach eu-west first, so that only the key-value write is in flight.
        edge.settle()
        assert eu.get("/users/1").status_code == 200

        assert us.put("/users/1/preferences", json={"theme": "dark"}).status_code == 200
        assert us.get("/users/1/preferences").json() == {"theme": "dark"}
        assert eu.get("/users/1/preferences").json() == {}  # not replicated yet
        edge.advance("999ms")
        assert eu.get("/users/1/preferences").json() == {}
        edge.advance("1ms")
        assert eu.get("/users/1/preferences").json() == {"theme": "dark"}
        assert edge.replicas_agree("default")
        edge.check_read_your_writes()
        edge.check_monotonic_reads()


REGIONS = ["us-east", "eu-west", "ap-south"]


@pytest.fixture
def world(emulate: Callable[..., Emulator]) -> Emulator:
    return emulate("users", regions=REGIONS, replication_lag="1s", jitter=0)


def test_a_user_created_in_one_region_reaches_the_others_after_the_lag(world: Emulator) -> None:
    us, eu = world.client("us-east"), world.client("eu-west")
    assert us.post("/users", json=ADA).status_code == 201
    assert eu.get("/users/1").status_code == 404  # eu-west's replica is stale
    assert eu.get("/users", params={"name": "ada"}).json() == []
    world.advance("1s")
    assert eu.get("/users/1").json()["email"] == "ada@example.com"
    assert [u["name"] for u in eu.get("/users", params={"name": "ADA"}).json()] == ["Ada Lovelace"]


def test_a_user_created_away_from_the_primary_is_read_there_at_once(world: Emulator) -> None:
    eu, ap = world.client("eu-west"), world.client("ap-south")
    start = world.now()
    created = eu.post("/users", json=ADA)
    assert created.status_code == 201
    # The first insert finds no table, creates it and retries: three round trips
    # of 80 ms to us-east.
    assert world.now() - start == pytest.approx(3 * 0.080)
    assert eu.get("/users/1").json() == created.json()  # read-your-writes
    assert ap.get("/users/1").status_code == 404
    world.settle()
    assert ap.get("/users/1").json() == created.json()


def test_the_primary_catches_a_duplicate_that_a_stale_replica_cannot_see(world: Emulator) -> None:
    us, eu = world.client("us-east"), world.client("eu-west")
    assert us.post("/users", json=ADA).status_code == 201
    assert eu.get("/users", params={"name": "ada"}).json() == []  # not there yet...
    again = eu.post("/users", json={"name": "A. Lovelace", "email": "ADA@example.com"})
    assert again.status_code == 409  # ...but the write runs on the primary, which knows


def test_a_cut_off_region_reads_but_cannot_create(world: Emulator) -> None:
    us, ap = world.client("us-east"), world.client("ap-south")
    us.post("/users", json=ADA)
    world.settle()
    world.partition("ap-south")
    grace = {"name": "Grace Hopper", "email": "grace@example.com"}
    refused = ap.post("/users", json=grace)
    assert refused.status_code == 503
    assert "cannot reach the primary region us-east from ap-south" in refused.json()["error"]
    assert ap.get("/users/1").status_code == 200  # reads go on, from the replica
    assert ap.delete("/users/1").status_code == 503
    world.heal()
    assert ap.post("/users", json=grace).status_code == 201
    world.settle()
    assert [u["name"] for u in us.get("/users").json()] == ["Ada Lovelace", "Grace Hopper"]


def test_a_delete_reaches_every_region(world: Emulator) -> None:
    us, eu = world.client("us-east"), world.client("eu-west")
    us.post("/users", json=ADA)
    world.settle()
    assert eu.delete("/users/1").status_code == 204
    assert eu.get("/users/1").status_code == 404
    assert us.get("/users/1").status_code == 404
    assert world.client("ap-south").get("/users/1").status_code == 200
    world.settle()
    assert world.client("ap-south").get("/users/1").status_code == 404
    assert world.replicas_agree("default")
