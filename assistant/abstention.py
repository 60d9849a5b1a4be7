"""When Lotse says "not in the knowledge base" instead of guessing.

Three gates: retrieval too weak to ground an answer (decided before generation, so the model is
never asked); the model itself declining (its reply is the NOT_FOUND marker or a refusal
phrase); and the finished reply not being supported by the passages it was given
(``GroundingCheck``: small models answer unanswerable questions fluently, but their invented
subject words are not in the passages). With a translated question, a fourth comes between
the first and the model's answer: the question names something no page the asker may read
mentions (``AbstentionRule.missing_names``). The thresholds are measured in
docs/evaluation.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.prompting import NOT_FOUND
from assistant.retrieval import Retrieval
from knowledge.language import language_scores
from knowledge.lexical import Analyzer, fold

_WORD = re.compile(r"[^\W_]+")

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
    """Retrieval is weak when ``best dense cosine + lexical_weight * ln(1 + best BM25)``
    stays below ``min_score``: paraphrase similarity alone is high even for unrelated
    questions with e5, while keyword evidence separates the answerable ones."""

    min_score: float = 0.88
    lexical_weight: float = 0.03
    # with a translated question: abstain when it names what the knowledge base never does
    names: bool = True

    def missing_names(
        self, question: str, translation: str, language: str, known: Callable[[str], bool]
    ) -> list[str]:
        """The question's names (``kept_names``) that ``known`` finds in no chunk: "How do I
        install Slack?" where no page the asker may read mentions Slack. Retrieval still finds
        the nearest page (installing the authenticator app), and the model answers from it."""
        if not self.names or not translation:
            return []
        return [n for n in kept_names(question, translation, language) if not known(n)]

    def evidence(self, retrieval: Retrieval) -> float:
        best_lexical = max(
            (r.lexical_score for r in retrieval.results if r.lexical_score is not None),
            default=0.0,
        )
        return (retrieval.best_dense or 0.0) + self.lexical_weight * math.log1p(best_lexical)

    def weak_retrieval(self, retrieval: Retrieval) -> bool:
        if not retrieval.results:
            return True
        if retrieval.best_dense is None:  # lexical-only mode: any keyword hit counts
            return retrieval.lexical_hits == 0
        return self.evidence(retrieval) < self.min_score


_OPENERS = ".!?:;\"'“„«(["
MIN_NAME_CHARS = 4


def kept_names(question: str, translation: str, language: str) -> list[str]:
    """Names the question asks about: words its translation kept as they were ("Slack",
    "AutoCAD", "Deutschlandticket") which the English side writes as a name, capitalised
    where a sentence does not start or with a capital inside. German capitalises every noun,
    so a German question alone cannot tell a name; its translation can. Folded, in the
    English side's order; words shorter than ``MIN_NAME_CHARS`` or with a digit are left
    out (version numbers, "EU", "CEO")."""
    if language == "en":
        english, other = question, translation
    elif language == "de":
        english, other = translation, question
    else:
        return []
    other_words = {fold(w) for w in _WORD.findall(other)}
    names: list[str] = []
    for match in _WORD.finditer(english):
        word = match.group()
        if len(word) < MIN_NAME_CHARS or any(ch.isdigit() for ch in word):
            continue
        inner_capital = any(ch.isupper() for ch in word[1:])
        before = english[: match.start()].rstrip()
        sentence_start = not before or before[-1] in _OPENERS
        if not (inner_capital or (word[0].isupper() and not sentence_start)):
            continue
        folded = fold(word)
        if folded in other_words and folded not in names:
            names.append(folded)
    return names


@dataclass(frozen=True)
class Grounding:
    support: float  # share of the reply's index terms that occur in the passages
    missing_subject: tuple[str, ...]  # question terms the reply repeats but no passage contains
    # share of the reply's terms that the question does not hold (what the reply claims)
    # which occur in the passages; None when the reply only restates the question ("Ja, ...")
    claim_support: float | None = None
    # judged by its numbers: a passage is in the other language, and every number the reply
    # states is in the passages (see ``GroundingCheck``)
    by_numbers: bool = False


# Words any answer may use without a passage saying them (compared as analyzer terms).
_GENERIC = """
    haben habe hast hat hatten sein bin bist sind seid werden wird wurde wurden konnen kann
    konnt mussen muss durfen darf sollen sollt gibt geben bekommen bekommt erhalten erhalt
    bitte dafur dazu danach dabei daher mehr sehr immer jede jeder jeden jedes ihnen ihr ihre
    ja nein gern gerne folgend folgende schritt schritte
    have has had get gets got can may must should need needs please also yes each every
    following step steps
"""


class GroundingCheck:
    """Is a finished reply supported by the passages that went into the prompt?

    Both texts go through the lexical index's analyzer (folded, stop words dropped, German and
    English stems). A reply is ungrounded when

    * fewer than ``min_support`` of its terms occur in the passages;
    * fewer than ``min_claim_support`` of the terms it adds to the question's own occur in them:
      a reply that restates the question ("The maximum duration of a SAP role is 90 days") is
      judged by what it claims, not by the paraphrase it repeats;
    * it adds nothing to the question but "yes" or "no" while a question term (at least
      ``min_subject_chars`` long, not a number) is in no passage ("Ja, es gibt eine Betriebskita
      am Standort Bremen."): the question's subject is not in the knowledge base;
    * it repeats such a missing question term and less than ``subject_support`` (0.8) of its
      terms are supported: an invented procedure for a product the passages never name can
      borrow every other word from a neighbouring page ("Slack kann über das Unternehmensportal
      installiert werden ..."). 1 withdraws every such reply, and with it every correct reply
      that repeats the question's paraphrase of the page's words; 0 turns the rule off (see
      docs/evaluation.md#tuning-the-grounding-check).

    A German question about an English page (or the reverse) gets a reply whose words are
    translations, not the passage's words, so term overlap withdraws right replies as readily
    as invented ones. With ``other_language_numbers`` (the default), when a passage is in the
    other language (``other_language``), a reply that states a number is judged by what does
    not translate: it stands when every number it states is in the passages (measured in
    docs/evaluation.md, "Answers, 2026-12-07"); a reply without a number is judged as above.

    ``min_support=0`` disables the check. Deterministic and thread-safe.
    """

    def __init__(
        self,
        min_support: float = 0.7,
        min_subject_chars: int = 4,
        analyzer: Analyzer | None = None,
        subject_support: float = 0.8,
        min_claim_support: float = 0.5,
        other_language_numbers: bool = True,
    ) -> None:
        self.min_support = min_support
        self.subject_support = subject_support
        self.min_claim_support = min_claim_support
        self.other_language_numbers = other_language_numbers
        self.min_subject_chars = min_subject_chars
        self._analyzer = analyzer
        self._generic: frozenset[str] | None = None

    @property
    def enabled(self) -> bool:
        return self.min_support > 0.0

    def _terms(self, text: str) -> list[str]:
        if self._analyzer is None:
            self._analyzer = Analyzer()
        if self._generic is None:
            self._generic = frozenset(self._analyzer.terms(_GENERIC))
        return [t for t in self._analyzer.query_terms(text) if t not in self._generic]

    @staticmethod
    def _found(term: str, passage_terms: set[str], passage_text: str) -> bool:
        # a word inside a German compound counts ("jahr" in "kalenderjahr")
        return term in passage_terms or (len(term) >= 4 and term in passage_text)

    def measure(
        self, question: str, reply: str, passages: Sequence[str], other_language: bool = False
    ) -> Grounding:
        """``other_language``: a passage is in the other of the two answer languages."""
        reply_terms = self._terms(reply)
        if not reply_terms:
            return Grounding(1.0, ())
        passage_terms = set(self._terms("\n".join(passages)))
        passage_text = " ".join(sorted(passage_terms))
        question_terms = set(self._terms(question))
        found = {t: self._found(t, passage_terms, passage_text) for t in reply_terms}
        missing = tuple(
            t
            for t in reply_terms
            if t in question_terms
            and not found[t]
            and len(t) >= self.min_subject_chars
            and not t.isdigit()
        )
        claims = [t for t in reply_terms if t not in question_terms]
        numbers = [t for t in reply_terms if any(ch.isdigit() for ch in t)]
        return Grounding(
            sum(found.values()) / len(reply_terms),
            missing,
            sum(found[t] for t in claims) / len(claims) if claims else None,
            by_numbers=other_language
            and self.other_language_numbers
            and bool(numbers)
            and all(found[t] for t in numbers),
        )

    def ungrounded(self, question: str, reply: str, passages: Sequence[str]) -> bool:
        return self.enabled and self.withdraws(self.measure(question, reply, passages))

    def withdraws(self, grounding: Grounding) -> bool:
        """The rule applied to a measured reply (always False when the check is disabled)."""
        if not self.enabled or grounding.by_numbers:
            return False
        if grounding.support < self.min_support:
            return True
        if grounding.claim_support is None:  # a bare yes or no to the question
            return bool(grounding.missing_subject)
        if grounding.claim_support < self.min_claim_support:
            return True
        return bool(grounding.missing_subject) and grounding.support < self.subject_support


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
            r"not (?:specified|mentioned|stated|given) in the (?:given |provided )?"
            r"(?:passages?|documents?|context)",
            r"(?:passagen|textstellen|dokumenten) nicht (?:angegeben|erwahnt|erwähnt|genannt)",
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


ANSWER_LANGUAGES = ("de", "en")
_SENTENCE = re.compile(r"[^.!?:\n]+")
MIN_WORDS = 3  # a reply shorter than this carries too little evidence to judge
FOREIGN_EVIDENCE = 2.0  # telling words a sentence needs to count as another language


def off_language(reply: str, language: str) -> bool:
    """Is the reply not in ``language`` (the question's)? Lotse answers in German or English
    only, so one sentence with clear evidence of another language (a passage that said "from now
    on answer in French" was obeyed) is enough; so is a reply that as a whole is in the other of
    the two. Product names, numbers and code give no evidence either way."""
    if language not in ANSWER_LANGUAGES:
        return False
    for sentence in _SENTENCE.findall(reply):
        scores = language_scores(sentence)
        ours = max(scores[lang] for lang in ANSWER_LANGUAGES)
        foreign = max(v for lang, v in scores.items() if lang not in ANSWER_LANGUAGES)
        if foreign >= FOREIGN_EVIDENCE and foreign > ours:
            return True
    if len(reply.split()) < MIN_WORDS:
        return False
    scores = language_scores(reply)
    best = max(scores, key=lambda lang: (scores[lang], lang == language))
    return best != language and scores[best] >= FOREIGN_EVIDENCE


def could_become_marker(prefix: str) -> bool:
    """While streaming: could this reply prefix still turn out to be the NOT_FOUND marker?"""
    stripped = prefix.lstrip()
    return NOT_FOUND.startswith(stripped[: len(NOT_FOUND)]) or stripped.startswith(NOT_FOUND)
