"""``GET /v1/me`` (who the portal is talking to) and the per-day split of ``/v1/admin/stats``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import KeyStore
from api.routes.stats import DAY_S, day_bounds
from api.settings import AuthSettings
from api.wiring import Services
from assistant.conversations import InMemoryConversationStore, Turn
from tests.api.test_auth_api import AUDIENCE, ISSUER, Provider, auth_services


def test_me_in_auth_mode_none_is_the_dev_caller(client: TestClient) -> None:
    response = client.get("/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "user_id": "anonymous",
        "role": "admin",
        "groups": [],
        "auth_mode": "none",
    }


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[TestClient, Services, Provider]]:
    provider = Provider(tmp_path / "jwks.json")
    auth = AuthSettings(
        mode="keys+oidc",
        jwks_path=provider.jwks_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        role_map={"helpdesk": "agent"},
    )
    svc = auth_services(tmp_path, auth)
    with TestClient(create_app(services=svc)) as client:
        yield client, svc, provider
    svc.close()


def test_me_names_the_key_or_token_holder_and_needs_credentials(
    secured: tuple[TestClient, Services, Provider],
) -> None:
    client, svc, provider = secured
    _, secret = KeyStore(svc.settings.data_dir).create("alice", "agent", ("hr", "it"))
    for headers in ({"X-API-Key": secret}, {"Authorization": f"Bearer {secret}"}):
        response = client.get("/v1/me", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "user_id": "alice",
            "role": "agent",
            "groups": ["hr", "it"],
            "auth_mode": "keys+oidc",
        }
    token = provider.token(sub="dora", groups=["helpdesk"])
    by_token = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert by_token.json() == {
        "user_id": "dora",
        "role": "agent",
        "groups": ["helpdesk"],
        "auth_mode": "keys+oidc",
    }
    employee = provider.token(sub="emil")
    assert (
        client.get("/v1/me", headers={"Authorization": f"Bearer {employee}"}).json()["role"]
        == "employee"
    )
    missing = client.get("/v1/me")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    garbage = client.get("/v1/me", headers={"X-API-Key": "lotse_" + "x" * 43})
    assert garbage.status_code == 401


def test_day_bounds_are_utc_days_clipped_to_the_window() -> None:
    noon = datetime(2025, 3, 10, 12, tzinfo=UTC).timestamp()
    bounds = day_bounds(noon - 2 * DAY_S, noon)
    assert [datetime.fromtimestamp(lo, tz=UTC).isoformat() for lo, _ in bounds] == [
        "2025-03-08T12:00:00+00:00",
        "2025-03-09T00:00:00+00:00",
        "2025-03-10T00:00:00+00:00",
    ]
    assert [hi - lo for lo, hi in bounds] == [DAY_S / 2, DAY_S, DAY_S / 2]
    assert day_bounds(noon, noon) == []
    assert len(day_bounds(noon - 400 * DAY_S, noon)) == 366
    assert day_bounds(noon - 400 * DAY_S, noon)[-1] == (noon - DAY_S / 2, noon)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def answer(store: InMemoryConversationStore, n: int, *, abstained: bool) -> str:
    conversation = store.create("pseudonym")
    answer_id = f"answer-{n}"
    store.append(
        conversation.conversation_id,
        [
            Turn(role="user", text=f"Frage {n}"),
            Turn(
                role="assistant",
                text="Antwort",
                answer_id=answer_id,
                abstained=abstained,
                timings={"total_ms": 100.0 + n, "first_token_ms": 10.0},
            ),
        ],
    )
    return answer_id


def test_stats_per_day_splits_the_window_and_adds_up(
    services: Services, client: TestClient
) -> None:
    today = datetime.now(tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    clock = Clock(today - 2 * DAY_S + 3600)  # two days ago, 01:00 UTC
    store = InMemoryConversationStore(clock=clock)
    services.conversations.close()
    services.conversations = store
    first = answer(store, 1, abstained=False)
    answer(store, 2, abstained=True)
    store.add_feedback(first, "up")
    clock.now = today + 60  # today, 00:01 UTC
    third = answer(store, 3, abstained=False)
    store.add_feedback(third, "down")
    answer(store, 4, abstained=False)
    answer(store, 5, abstained=True)

    body = client.get("/v1/admin/stats", params={"days": 3}).json()
    days = {d["day"]: d for d in body["per_day"]}
    assert len(body["per_day"]) in (3, 4)  # 4 unless the request ran exactly at midnight
    assert list(days) == sorted(days)
    iso = [datetime.fromtimestamp(today - k * DAY_S, tz=UTC).date().isoformat() for k in (2, 1, 0)]
    assert days[iso[0]] == {
        "day": iso[0],
        "questions": 2,
        "answered": 1,
        "abstained": 1,
        "feedback_up": 1,
        "feedback_down": 0,
    }
    assert days[iso[1]]["questions"] == 0
    assert days[iso[2]] == {
        "day": iso[2],
        "questions": 3,
        "answered": 2,
        "abstained": 1,
        "feedback_up": 0,
        "feedback_down": 1,
    }
    for key in ("questions", "answered", "abstained", "feedback_up", "feedback_down"):
        assert sum(d[key] for d in body["per_day"]) == body[key]
    assert body["questions"] == 5

    one_day = client.get("/v1/admin/stats", params={"days": 1}).json()
    assert [d["questions"] for d in one_day["per_day"]][-1] == 3
    assert sum(d["questions"] for d in one_day["per_day"]) == one_day["questions"] == 3
