"""When Lotse says "not in the knowledge base" instead of guessing.

Two gates: retrieval too weak to ground an answer (decided before generation, so the model is
never asked), and the model itself declining (its reply is the NOT_FOUND marker or a refusal
phrase). The thresholds are chosen with ``lotse eval answers`` (docs/evaluation.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.prompting import NOT_FOUND
from assistant.retrieval import Retrieval

ABSTAIN_MESSAGES = {
    "de": "Dazu habe ich in der Wissensbasis nichts gefunden.",
    "en": "I could not find this in the knowledge base.",
}

TICKET_OFFERS = {
    "de": "Soll ich ein Ticket beim IT-Servicedesk für Sie vorbereiten?",
    "en": "Shall I prepare a ticket for the service desk?",
}


def abstain_message(language: str) -> str:
    return ABSTAIN_MESSAGES.get(language, ABSTAIN_MESSAGES["en"])


@dataclass(frozen=True)
class AbstentionRule:
    min_dense_score: float = 0.80
    """Best cosine similarity below which retrieval counts as weak ..."""
    lexical_rescue_score: float = 0.0
    """... unless the top fused passage also matched lexically with at least this score
    (0 disables the rescue)."""

    def weak_retrieval(self, retrieval: Retrieval) -> bool:
        if not retrieval.results:
            return True
        if retrieval.best_dense is None:  # lexical-only mode: any keyword hit counts
            return retrieval.lexical_hits == 0
        if retrieval.best_dense >= self.min_dense_score:
            return False
        top = retrieval.results[0]
        return not (
            self.lexical_rescue_score > 0
            and top.lexical_score is not None
            and top.lexical_score >= self.lexical_rescue_score
        )


_DECLINE = re.compile(
    r"|".join(
        [
            re.escape(NOT_FOUND),
            r"NOT[_ ]FOUND",
            r"nicht in der wissensbasis",
            r"in der wissensbasis nichts",
            r"keine (?:informationen|angaben|hinweise)",
            r"not in the knowledge base",
            r"could not find (?:this|any|the)",
            r"(?:passages|documents) do not (?:contain|mention|answer)",
            r"no information (?:about|on|in)",
            r"i (?:don't|do not) (?:know|have)",
        ]
    ),
    re.IGNORECASE,
)


def is_decline(reply: str) -> bool:
    """The model's reply says it cannot answer (or is empty)."""
    text = reply.strip()
    if len(text) < 2:
        return True
    return bool(_DECLINE.search(text[:200]))


def could_become_marker(prefix: str) -> bool:
    """While streaming: could this reply prefix still turn out to be the NOT_FOUND marker?"""
    stripped = prefix.lstrip()
    return NOT_FOUND.startswith(stripped[: len(NOT_FOUND)]) or stripped.startswith(NOT_FOUND)
