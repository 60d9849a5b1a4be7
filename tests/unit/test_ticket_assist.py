"""The triage vote, the ticket store's contract and webhook signatures, without a server."""

from __future__ import annotations

import pytest

from api.webhook_auth import lotse_signature, verify_call, zammad_signature
from assistant.ticket_assist import SimilarTicket, triage_of, vote
from assistant.ticket_store import StoredTicket, TicketStore
from models.errors import Conflict, InvalidInput, NotFound, Unauthenticated


def similar(tid: str, sim: float, queue: str, priority: str = "normal") -> SimilarTicket:
    return SimilarTicket(tid, "s", sim, "r", queue=queue, priority=priority, type="incident")


def test_vote_weighs_by_similarity_not_just_by_count() -> None:
    tickets = [
        similar("a", 0.9, "IT-Netzwerk"),
        similar("b", 0.2, "Facility"),
        similar("c", 0.2, "Facility"),
    ]
    result = vote(tickets, "queue")
    assert result is not None
    assert result.value == "IT-Netzwerk" and result.votes == 1
    assert result.confidence == pytest.approx(0.9 / 1.3)


def test_vote_ties_are_deterministic_and_empty_fields_abstain() -> None:
    tied = [similar("a", 0.5, "B"), similar("b", 0.5, "A")]
    assert vote(tied, "queue") == vote(list(reversed(tied)), "queue")
    assert vote([similar("a", 0.5, "")], "queue") is None
    triage = triage_of([similar("a", 0.8, "HR-Service", "high")])
    assert triage.as_dict()["priority"] == {"value": "high", "confidence": 1.0, "votes": 1}


def test_store_contract() -> None:
    now = [1000.0]
    store = TicketStore.memory(clock=lambda: now[0])
    try:
        store.upsert([StoredTicket("T-1", "Drucker", "Papierstau Müller", status="open")])
        assert store.get("T-1").subject == "Drucker"
        with pytest.raises(NotFound):
            store.get("T-2")
        s = store.add_suggestion("T-1", "agent-1", {"draft": "Hallo MÜLLER"})
        assert store.suggestion(s.suggestion_id).payload["suggestion_id"] == s.suggestion_id
        with pytest.raises(InvalidInput):
            store.decide("T-1", s.suggestion_id, "edit")
        with pytest.raises(NotFound):
            store.decide("T-9", s.suggestion_id, "accept")
        decided = store.decide("T-1", s.suggestion_id, "accept")
        assert decided.decision == "accept" and decided.decided == 1000.0
        with pytest.raises(Conflict):
            store.decide("T-1", s.suggestion_id, "reject")
        assert store.claim_nonce("n", keep_s=60) and not store.claim_nonce("n", keep_s=60)
        now[0] += 120
        assert store.claim_nonce("n", keep_s=60), "forgotten after its window"
        # case-folded match, umlauts included
        assert store.forget_matching("müller", dry_run=True) == 2
        assert store.forget_matching("müller") == 2
        assert store.count() == 0
    finally:
        store.close()


def test_signatures_verify_and_refuse() -> None:
    body = b'{"ticket_id": "1"}'
    headers = {"X-Lotse-Timestamp": "1000", "X-Lotse-Signature": lotse_signature("k", "1000", body)}
    assert verify_call(headers, body, "k", tolerance_s=300, clock=lambda: 1100).scheme == "lotse"
    with pytest.raises(Unauthenticated, match="away from now"):
        verify_call(headers, body, "k", tolerance_s=300, clock=lambda: 2000)
    with pytest.raises(Unauthenticated, match="does not match"):
        verify_call(headers, body, "other", tolerance_s=300, clock=lambda: 1100)
    zammad = {"X-Hub-Signature": zammad_signature("k", body), "X-Zammad-Delivery": "d"}
    assert verify_call(zammad, body, "k", tolerance_s=300).nonce == "zammad:d"
    with pytest.raises(Unauthenticated, match="no signature"):
        verify_call({}, body, "k", tolerance_s=300)
