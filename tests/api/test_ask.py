from __future__ import annotations

from fastapi.testclient import TestClient

from models.llm import FakeLLM


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ask_returns_the_cli_shape(client: TestClient, llm: FakeLLM) -> None:
    llm.queue("The per diem is 28 euros.")
    response = client.post("/v1/ask", json={"question": "What is the per diem in Germany?"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"answer", "abstained", "sources", "model", "ai_generated", "timings"}
    assert body["answer"] == "The per diem is 28 euros."
    assert body["abstained"] is False
    assert body["ai_generated"] is True
    assert body["model"] == "fake-llm"
    assert body["sources"][0]["source_id"] == "finance/travel.md"
    assert set(body["sources"][0]) == {"source_id", "title", "heading", "snippet", "score"}
    assert set(body["timings"]) == {
        "retrieval_ms",
        "first_token_ms",
        "total_ms",
        "prompt_tokens",
        "completion_tokens",
    }


def test_ask_abstains_in_german(client: TestClient, llm: FakeLLM) -> None:
    llm.queue("NOT_FOUND")
    body = client.post("/v1/ask", json={"question": "Wie verbinde ich mich mit dem VPN?"}).json()
    assert body["abstained"] is True
    assert body["answer"] == "Dazu habe ich in der Wissensbasis nichts gefunden."
    assert body["sources"] == []


def test_too_long_question_is_413_with_the_error_shape(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "x" * 5000})
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": "the question has 5000 characters, the limit is 2000",
            "field": "question",
        }
    }


def test_empty_and_malformed_questions_are_422(client: TestClient) -> None:
    empty = client.post("/v1/ask", json={"question": ""})
    assert empty.status_code == 422
    assert empty.json()["error"]["code"] == "invalid_input"
    assert empty.json()["error"]["field"] == "question"
    missing = client.post("/v1/ask", json={})
    assert missing.status_code == 422
    not_json = client.post("/v1/ask", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422


def test_unknown_route_uses_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_openapi_documents_error_responses(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ask = spec["paths"]["/v1/ask"]["post"]
    assert {"200", "413", "422", "503"} <= set(ask["responses"])
    ref = ask["responses"]["413"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ErrorResponse")
