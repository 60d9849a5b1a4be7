"""Follow-up questions: a standalone retrieval query and a compact history for the prompt.

"und auf dem Mac?" after "Wie verbinde ich mich mit dem VPN?" means nothing to the indexes on
its own. ``standalone_query`` decides with a cheap deterministic rule whether a question leans
on the conversation; if it does, the retrieval query is the previous user question(s) followed
by the follow-up. ``recent_history`` gives the last few turns, trimmed, for the prompt (which
``assistant.prompting.build_answer_prompt`` fits into the context budget).

Both work on plain ``(role, text)`` pairs, oldest first, so any caller (chat conversations, the
OpenAI-compatible endpoint) can use them. Leave abstentions ("Dazu habe ich … nichts gefunden")
out of the history: they carry no information and invite the model to abstain again. No model
is involved: the rule costs microseconds and never changes a standalone question.

The rule (German and English): a question is a follow-up when there is an earlier user question
and it
- starts with a connector ("und", "aber", "und was ist mit", "and", "what about", "how about"),
- or is elliptic: at most six words starting with a preposition ("auf dem Mac?", "on Linux?"),
- or is short (at most ten words) and refers back with a pronoun or pronominal adverb
  ("Wie mache ich das?", "dafür", "does it work offline?"),
- or is at most two words ("Mac?", "Und Linux?").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

History = Sequence[tuple[str, str]]  # (role, text), oldest first; role "user" or "assistant"

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")

_CONNECTORS = (
    ("und",),
    ("oder",),
    ("aber",),
    ("sowie",),
    ("was", "ist", "mit"),
    ("wie", "ist", "es", "mit"),
    ("wie", "sieht", "es"),
    ("gilt", "das", "auch"),
    ("and",),
    ("or",),
    ("but",),
    ("also",),
    ("what", "about"),
    ("how", "about"),
    ("same", "for"),
    ("does", "that", "also"),
)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_PREPOSITIONS = _wordset(
    """
    auf unter bei mit für im am in an ohne vom von zum zur über
    on under with for at from without via
    """
)

# Words that point back into the conversation. "das", "es", "dies", "this" and "that" are also
# articles, determiners or expletives, so they only count as the last word ("Wie mache ich das?",
# "How do I change that?").
_BACK_REFERENCES = _wordset(
    """
    dafür dazu damit davon darauf dabei daran darin darüber dorthin dort dasselbe
    ebenfalls ihn ihm
    it its it's those these them same
    """
)
_BACK_REFERENCES_AT_END = frozenset({"das", "dies", "es", "dieses", "diese", "that", "this"})


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def is_follow_up(question: str) -> bool:
    """Does this question (asked after another one) lean on the conversation?"""
    words = _words(question)
    if not words:
        return False
    if len(words) <= 2:
        return True
    if any(tuple(words[: len(c)]) == c for c in _CONNECTORS):
        return True
    if words[0] in _PREPOSITIONS and len(words) <= 6:
        return True
    if len(words) <= 10:
        if any(w in _BACK_REFERENCES for w in words):
            return True
        if words[-1] in _BACK_REFERENCES_AT_END:
            return True
    return False


def standalone_query(history: History, question: str, *, max_questions: int = 2) -> str:
    """The retrieval query for ``question`` asked after ``history``.

    A standalone question is returned unchanged. A follow-up is prefixed with the earlier user
    question it leans on; when that one was itself a follow-up, with up to ``max_questions``
    earlier ones, oldest first.
    """
    earlier = [text.strip() for role, text in history if role == "user" and text.strip()]
    if not earlier or not is_follow_up(question):
        return question
    chain: list[str] = []
    for text in reversed(earlier):
        chain.insert(0, text)
        if len(chain) >= max_questions or not is_follow_up(text):
            break
    return " ".join([*chain, question.strip()])


def trim(text: str, max_chars: int) -> str:
    """Collapse whitespace and cut at a word boundary, marking the cut with " …"."""
    flat = " ".join(text.split())
    if len(flat) <= max_chars:
        return flat
    cut = flat[:max_chars].rsplit(" ", 1)[0]
    return f"{cut} …"


def recent_history(
    history: History, *, max_turns: int = 4, max_chars: int = 400
) -> list[tuple[str, str]]:
    """The last ``max_turns`` user/assistant turns, each trimmed to ``max_chars``."""
    turns = [(role, text) for role, text in history if role in ("user", "assistant")]
    if max_turns <= 0:
        return []
    return [(role, trim(text, max_chars)) for role, text in turns[-max_turns:]]
