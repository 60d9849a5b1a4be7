"""The question in the other language: the model's translation, retrieval with both texts, and
the assistant asking for it in the model's turn (fakes: hashing embedder, in-memory indexes,
replaying LLM, a recording translator)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant.abstention import AbstentionRule, kept_names
from assistant.answering import Assistant, DoneEvent, SourcesEvent
from assistant.eval_answers import load_recorded_run
from assistant.generation import GenerationGate
from assistant.identity import Caller
from assistant.retrieval import HybridRetriever, RetrievalConfig
from assistant.translation import (
    MAX_SOURCE_CHARS,
    ModelTranslator,
    RecordedTranslations,
    clean_translation,
)
from knowledge.chunking import chunk_document
from knowledge.documents import Chunk, Document
from knowledge.lexical import InMemoryLexicalIndex
from knowledge.vectorstore import InMemoryVectorStore
from models.embedder import FakeEmbedder
from models.errors import GenerationFailed
from models.latent import FakeLatentEmbedder, LatentTerms, similarity, summed
from models.llm import FakeLLM

PAGES = [
    (
        "it/guest-wifi.md",
        "Guest Wi-Fi",
        "en",
        "# Guest Wi-Fi\n\n## Validity\n\nA guest voucher for the visitor network is valid for "
        "24 hours. Reception prints the voucher.",
    ),
    (
        "hr/urlaub.md",
        "Urlaub",
        "de",
        "# Urlaub\n\n## Anspruch\n\nJede Vollzeitkraft hat 30 Tage Urlaub im Kalenderjahr. "
        "Wie lange gilt ein Antrag? Urlaub beantragen Sie im HR-Portal.",
    ),
    (
        "it/drucker.md",
        "Drucker",
        "de",
        "# Drucker\n\n## Druckauftrag\n\nEin Druckauftrag bleibt 24 Stunden in der Warteschlange. "
        "Wie lange gilt der Auftrag? Bis Sie ihn am Gerät abholen.",
    ),
    (
        "hr/confidential/board.md",
        "Board list",
        "en",
        "# Board list\n\nThe board keeps its own list in Confluence; a long stay needs approval.",
    ),
]
RESTRICTED = {"hr/confidential/board.md": ("hr",)}
QUESTION = "Wie lange gilt der Gutschein für das Besuchernetz?"
TRANSLATION = "How long is the voucher for the visitor network valid?"


def page_chunks() -> list[list[Chunk]]:
    return [
        chunk_document(
            Document(
                source_id=source_id,
                title=title,
                text=text,
                format="markdown",
                language=lang,
                content_hash=source_id,
                acl=RESTRICTED.get(source_id, ("everyone",)),
                source="sample",
            )
        )
        for source_id, title, lang, text in PAGES
    ]


def stores(
    embedder: FakeEmbedder, latent: FakeLatentEmbedder | None = None
) -> tuple[InMemoryVectorStore, InMemoryLexicalIndex]:
    vectors, lexical = InMemoryVectorStore(), InMemoryLexicalIndex()
    for chunks in page_chunks():
        texts = [c.embedding_text for c in chunks]
        vectors.upsert(chunks, embedder.embed_passages(texts))
        lexical.upsert(chunks, latent.latent_passages(texts) if latent else None)
    return vectors, lexical


def retriever(config: RetrievalConfig | None = None) -> HybridRetriever:
    embedder = FakeEmbedder(dim=256)
    vectors, lexical = stores(embedder)
    return HybridRetriever(embedder, vectors, lexical, config or RetrievalConfig(3, 3))


def ranked(result_sources: list[str]) -> list[str]:
    return list(dict.fromkeys(result_sources))


# --- cleaning the model's reply ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (TRANSLATION, TRANSLATION),
        (f'"{TRANSLATION}"', TRANSLATION),
        (f"Translation: {TRANSLATION}\n\nThis asks about the guest network.", TRANSLATION),
        ("\n  Übersetzung: „Wie lange gilt der Gastzugang?“ ", "Wie lange gilt der Gastzugang?"),
        ("", None),
        ("  \n ", None),
        ('"  "', None),
        (QUESTION.upper(), None),  # the model echoed the question
    ],
)
def test_the_reply_is_cut_to_its_translation(reply: str, expected: str | None) -> None:
    assert clean_translation(reply, QUESTION) == expected


def test_the_model_is_asked_for_the_other_language_with_a_short_limit() -> None:
    llm = FakeLLM()
    llm.queue(TRANSLATION, "Wie lange ist der Gutschein für das Besuchernetz gültig?")
    translator = ModelTranslator(llm)
    assert translator.translate(QUESTION, "de") == TRANSLATION
    system, user = llm.prompts[0]
    assert system.role == "system" and "into English" in system.content
    assert user.role == "user" and user.content == QUESTION
    english = "How long is the voucher for the visitor network valid?"
    assert translator.translate(english, "en") == (
        "Wie lange ist der Gutschein für das Besuchernetz gültig?"
    )
    assert "ins Deutsche" in llm.prompts[1][0].content


def test_a_model_that_answers_instead_is_cut_at_the_limit() -> None:
    llm = FakeLLM()
    llm.queue(" ".join(["word"] * 500))
    translation = ModelTranslator(llm).translate(QUESTION, "de")
    assert translation is not None
    # FakeLLM counts words: eight words -> at most 8 * 2 + 16 generated
    assert len(translation.split()) == 2 * len(QUESTION.split()) + 16


def test_a_huge_question_is_cut_before_it_reaches_the_model() -> None:
    llm = FakeLLM()
    llm.queue("A log file.")
    pasted = "Fehler " * 5_000
    assert ModelTranslator(llm).translate(pasted, "de") == "A log file."
    assert len(llm.prompts[0][1].content) <= MAX_SOURCE_CHARS


@pytest.mark.parametrize("language", ["fr", "und", ""])
def test_other_languages_are_not_translated_and_cost_no_model_call(language: str) -> None:
    llm = FakeLLM()
    assert ModelTranslator(llm).translate("Combien de jours de congé ?", language) is None
    assert ModelTranslator(llm).translate("   ", "de") is None
    assert llm.prompts == []


def test_recorded_translations_are_given_back_by_question() -> None:
    recorded = RecordedTranslations({QUESTION: TRANSLATION})
    assert recorded.translate(QUESTION, "de") == TRANSLATION
    assert recorded.translate("Eine andere Frage?", "de") is None


def test_a_recorded_run_keeps_its_translations(tmp_path: Path) -> None:
    report = {
        "model": "qwen2.5-1.5b",
        "prompt_version": "answer-v2",
        "per_item": [
            {"id": "a1", "decision": "answered", "answer": "24 Stunden.", "withdrawn": "",
             "translation": TRANSLATION},
            {"id": "a2", "decision": "abstained", "answer": "", "withdrawn": ""},
        ],
    }  # fmt: skip
    path = tmp_path / "run.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    run = load_recorded_run(path)
    assert run.translations == {"a1": TRANSLATION}
    assert run.withheld == frozenset({"a2"})


# --- retrieval with both texts -----------------------------------------------------------------


def test_the_translation_finds_the_page_in_the_other_language() -> None:
    r = retriever()
    alone = ranked([x.chunk.source_id for x in r.retrieve(QUESTION, ["everyone"]).results])
    both = r.retrieve(QUESTION, ["everyone"], translation=TRANSLATION)
    assert alone[0] != "it/guest-wifi.md"  # the German question meets the German pages first
    assert both.results[0].chunk.source_id == "it/guest-wifi.md"
    assert both.results[0].lexical_rank == 1  # the keyword index met its words
    assert both.query == QUESTION  # the report names the question as asked


@pytest.mark.parametrize("weight", [0.6, 0.5, 0.0, 1.0])
def test_the_vector_index_is_searched_with_the_weighted_mean_of_both_embeddings(
    weight: float,
) -> None:
    embedder = FakeEmbedder(dim=256)
    vectors, lexical = stores(embedder)
    seen: list[np.ndarray] = []

    class RecordingVectors(InMemoryVectorStore):
        def query(self, vector, k, groups=None):  # type: ignore[no-untyped-def]
            seen.append(np.asarray(vector))
            return vectors.query(vector, k, groups)

    config = RetrievalConfig(3, 3, mode="dense", translation_weight=weight)
    r = HybridRetriever(embedder, RecordingVectors(), lexical, config)
    r.retrieve(QUESTION, ["everyone"], translation=TRANSLATION)
    mean = (1 - weight) * embedder.embed_query(QUESTION) + weight * embedder.embed_query(
        TRANSLATION
    )
    np.testing.assert_allclose(seen[0], mean / np.linalg.norm(mean), rtol=1e-5, atol=1e-7)
    assert RetrievalConfig().translation_weight == 0.6


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_the_translation_cannot_reach_a_page_the_caller_may_not_see(mode: str) -> None:
    r = retriever(RetrievalConfig(5, 5, mode=mode))
    seen = {
        x.chunk.source_id
        for x in r.retrieve(QUESTION, ["everyone"], translation=TRANSLATION).results
    }
    assert "hr/confidential/board.md" not in seen
    hr = {x.chunk.source_id for x in r.retrieve(QUESTION, ["hr"], translation=TRANSLATION).results}
    assert hr == {"hr/confidential/board.md"}


def test_keyword_only_retrieval_searches_both_texts() -> None:
    r = retriever(RetrievalConfig(3, 3, mode="lexical"))
    alone = r.retrieve(QUESTION, ["everyone"]).results
    assert "it/guest-wifi.md" not in {x.chunk.source_id for x in alone}
    both = r.retrieve(QUESTION, ["everyone"], translation=TRANSLATION)
    assert both.results[0].chunk.source_id == "it/guest-wifi.md"


def test_latent_terms_of_both_texts_are_summed() -> None:
    a, b = LatentTerms.of([1, 5], [3.0, 4.0]), LatentTerms.of([5, 9], [1.0, 1.0])
    both = summed(a, b)
    assert both.indices.tolist() == [1, 5, 9]
    assert float(np.linalg.norm(both.weights)) == pytest.approx(1.0, abs=1e-6)
    raw = np.array([0.6, 0.8 + 0.5**0.5, 0.5**0.5])  # each set normalised, then added
    np.testing.assert_allclose(both.weights, raw / np.linalg.norm(raw), rtol=1e-5)
    assert similarity(summed(a), a) == pytest.approx(1.0, abs=1e-6)
    assert len(summed()) == 0


@pytest.mark.parametrize("one_pass", [False, True])
def test_the_latent_rescoring_uses_both_texts(one_pass: bool) -> None:
    embedder = FakeLatentEmbedder(dim=256, one_pass=one_pass)
    vectors, lexical = stores(embedder, latent=embedder)
    config = RetrievalConfig(3, 3, latent_weight=3.0, latent_candidates=3)
    r = HybridRetriever(embedder, vectors, lexical, config)
    assert r.latent_indexed()
    both = r.retrieve(QUESTION, ["everyone"], translation=TRANSLATION)
    assert both.results[0].chunk.source_id == "it/guest-wifi.md"
    assert both.results[0].latent_score is not None
    if one_pass:
        assert embedder.query_passes == 2  # the question and its translation, one pass each


# --- the assistant -----------------------------------------------------------------------------


class RecordingTranslator:
    """A ``Translator`` that gives a fixed translation and notes whether the model's turn was
    held while it ran."""

    def __init__(self, gate: GenerationGate, translation: str | None = TRANSLATION) -> None:
        self.gate = gate
        self.translation = translation
        self.calls: list[tuple[str, str, bool]] = []

    def translate(
        self, text: str, language: str, *, interrupt: Callable[[], bool] | None = None
    ) -> str | None:
        self.calls.append((text, language, self.gate.stats().running == 1))
        assert interrupt is not None and interrupt() is False
        return self.translation


def assistant(
    llm: FakeLLM,
    translation: str | None = TRANSLATION,
    min_evidence: float = -1.0,
    names: bool = True,
) -> tuple[Assistant, RecordingTranslator]:
    gate = GenerationGate()
    translator = RecordingTranslator(gate, translation)
    return (
        Assistant(
            retriever=retriever(),
            llm=llm,
            gate=gate,
            abstention=AbstentionRule(min_evidence, names=names),
            translator=translator,
        ),
        translator,
    )


def test_the_assistant_translates_in_the_models_turn_and_answers_from_the_found_page() -> None:
    llm = FakeLLM()
    llm.queue("Ein Gutschein für das Besuchernetz gilt 24 Stunden.")
    a, translator = assistant(llm)
    events = list(a.stream(QUESTION, Caller("u1")))
    assert translator.calls == [(QUESTION, "de", True)]
    assert isinstance(events[0], SourcesEvent)
    assert events[0].sources[0].source_id == "it/guest-wifi.md"
    done = events[-1]
    assert isinstance(done, DoneEvent)
    answer = done.answer
    assert not answer.abstained
    assert answer.translation == TRANSLATION
    assert "guest voucher" in llm.prompts[0][-1].content  # the English page is in the prompt


def test_without_a_translation_the_question_alone_is_searched() -> None:
    llm = FakeLLM()
    llm.queue("Jede Vollzeitkraft hat 30 Tage Urlaub im Kalenderjahr.")
    a, translator = assistant(llm, translation=None)
    answer = a.ask("Wie viele Tage Urlaub hat eine Vollzeitkraft?", Caller("u1"))
    assert len(translator.calls) == 1
    assert answer.sources[0].source_id == "hr/urlaub.md"
    assert answer.translation == ""


def test_weak_retrieval_abstains_before_translating() -> None:
    llm = FakeLLM()
    a, translator = assistant(llm, min_evidence=2.0)
    answer = a.ask(QUESTION, Caller("u1"))
    assert answer.abstained and answer.reason == "weak_retrieval"
    assert translator.calls == [] and llm.prompts == []


def test_a_failing_translation_fails_the_question_and_frees_the_model() -> None:
    class Failing(RecordingTranslator):
        def translate(self, text, language, *, interrupt=None):  # type: ignore[no-untyped-def]
            raise GenerationFailed("llama.cpp failed to start generating")

    gate = GenerationGate()
    a = Assistant(
        retriever=retriever(),
        llm=FakeLLM(),
        gate=gate,
        abstention=AbstentionRule(-1.0),
        translator=Failing(gate),
    )
    with pytest.raises(GenerationFailed):
        a.ask(QUESTION, Caller("u1"))
    assert gate.stats().running == 0 and gate.stats().waiting == 0


# --- names the knowledge base never mentions ---------------------------------------------------


@pytest.mark.parametrize(
    ("question", "translation", "language", "names"),
    [
        (
            "How do I install Slack on my laptop?",
            "Wie installiere ich Slack auf meinem Laptop?",
            "en",
            ["slack"],
        ),
        (
            "Wie installiere ich Slack auf meinem Firmenlaptop?",
            "How do I install Slack on my company laptop?",
            "de",
            ["slack"],
        ),
        (
            "Gibt es einen Zuschuss zum Deutschlandticket?",
            "Is there a subsidy for the Deutschlandticket?",
            "de",
            ["deutschlandticket"],
        ),
        (
            "Which AutoCAD version runs on the CAD laptops?",
            "Welche AutoCAD-Version läuft auf den CAD-Laptops?",
            "en",
            ["autocad"],
        ),
        (
            "Does Nordwind pay for the Jobrad of a Werkstudent?",
            "Zahlt Nordwind das Jobrad eines Werkstudenten?",
            "en",
            ["nordwind", "jobrad"],
        ),
        # a sentence's first word is capitalised anyway
        ("Slack crashes, what can I do?", "Slack stürzt ab, was kann ich tun?", "en", []),
        ("Is this allowed? Slack crashes.", "Ist das erlaubt? Slack stürzt ab.", "en", []),
        # German capitalises every noun: only the English side tells a name
        ("Wie lange gilt der Gutschein?", "How long is the Voucher valid?", "de", []),
        # a noun the translation left in German reads as a name: it must be in the pages
        ("Wie lange gilt der Gutschein?", "How long is the Gutschein valid?", "de", ["gutschein"]),
        # a word the translation changed is no name; short words and numbers are left out
        ("Who approves a SAP role in the ERP?", "Wer genehmigt eine SAP-Rolle im ERP?", "en", []),
        (
            "Is Win11 on the new Dell laptops?",
            "Ist Win11 auf den neuen Dell-Laptops?",
            "en",
            ["dell"],
        ),
        ("Was kostet Slack?", "", "de", []),
        ("Combien coûte Slack ?", "What does Slack cost?", "fr", []),
    ],
)
def test_kept_names_are_the_words_the_translation_keeps_and_english_writes_as_names(
    question: str, translation: str, language: str, names: list[str]
) -> None:
    assert kept_names(question, translation, language) == names


SLACK = "How do I install Slack on the guest network?"
SLACK_DE = "Wie installiere ich Slack im Gastnetz?"


def test_a_name_no_page_mentions_abstains_after_the_translation_without_an_answer() -> None:
    llm = FakeLLM()
    a, translator = assistant(llm, translation=SLACK_DE)
    events = list(a.stream(SLACK, Caller("u1")))
    assert translator.calls == [(SLACK, "en", True)]
    assert llm.prompts == []  # the model is not asked for an answer
    assert isinstance(events[0], SourcesEvent) and events[0].sources == ()
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.answer.abstained and done.answer.reason == "unknown_name"
    assert done.answer.sources == () and done.answer.translation == SLACK_DE


def test_the_name_rule_can_be_turned_off() -> None:
    llm = FakeLLM()
    llm.queue("A guest voucher is valid for 24 hours.")
    a, _ = assistant(llm, translation=SLACK_DE, names=False)
    answer = a.ask(SLACK, Caller("u1"))
    assert not answer.abstained and len(llm.prompts) == 1


def test_a_name_only_a_restricted_page_mentions_is_unknown_to_who_may_not_read_it() -> None:
    question = "Where does the board keep its Confluence list?"
    translation = "Wo führt der Vorstand seine Confluence-Liste?"
    llm = FakeLLM()
    a, _ = assistant(llm, translation=translation)
    answer = a.ask(question, Caller("u1"))
    assert answer.abstained and answer.reason == "unknown_name"
    llm.queue("The board keeps its own list in Confluence.")
    answer = a.ask(question, Caller("u2", groups=("hr",)))
    assert not answer.abstained
    assert answer.sources[0].source_id == "hr/confidential/board.md"


def test_a_name_the_pages_mention_goes_to_the_model() -> None:
    llm = FakeLLM()
    llm.queue("Reception prints the voucher.")
    a, _ = assistant(llm, translation="Wer druckt den Gutschein für das Guest Wi-Fi?")
    answer = a.ask("Who prints the voucher for the Guest Wi-Fi?", Caller("u1"))
    assert not answer.abstained and len(llm.prompts) == 1
