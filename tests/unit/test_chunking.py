import itertools

from knowledge.chunking import ChunkingConfig, chunk_document, estimate_tokens, heading_path
from knowledge.documents import Document


def doc(text: str, title: str = "VPN-Anleitung", language: str = "de") -> Document:
    return Document(
        source_id="it/vpn.md",
        title=title,
        text=text,
        format="markdown",
        language=language,
        content_hash="h1",
        acl=("everyone",),
        source="sample",
    )


def test_heading_path_is_kept_with_each_chunk() -> None:
    text = (
        "# VPN-Anleitung\n\nEinleitung zum Zugang aus dem Homeoffice und unterwegs. " * 3
        + "\n\n## Installation\n\nLaden Sie den Cisco AnyConnect Client aus dem Softwarecenter. "
        * 2
        + "\n\n### Windows\n\nStarten Sie das Installationsprogramm als Administrator. " * 2
        + "\n\n## Verbindung\n\nGeben Sie vpn.nordwind.de als Server ein und bestätigen Sie MFA. "
        * 2
    )
    chunks = chunk_document(doc(text), ChunkingConfig(target_tokens=300))
    headings = [c.heading for c in chunks]
    assert headings == [
        "VPN-Anleitung",
        "VPN-Anleitung > Installation",
        "VPN-Anleitung > Installation > Windows",
        "VPN-Anleitung > Verbindung",
    ]
    assert "AnyConnect" in chunks[1].text
    assert chunks[2].embedding_text.startswith("VPN-Anleitung > Installation > Windows\n")


def test_long_section_is_split_near_target_with_overlap() -> None:
    sentences = [
        f"Satz Nummer {i} erklärt einen Schritt der Einrichtung genau." for i in range(200)
    ]
    text = "# Handbuch\n\n## Lang\n\n" + " ".join(sentences)
    config = ChunkingConfig(target_tokens=200, overlap_tokens=30)
    chunks = chunk_document(doc(text, title="Handbuch"), config)
    assert len(chunks) >= 8
    assert all(estimate_tokens(c.text) <= 200 for c in chunks)
    assert all(c.heading == "Handbuch > Lang" for c in chunks)
    # neighbouring chunks share text (the overlap), and together they cover every sentence
    for left, right in itertools.pairwise(chunks):
        assert right.text[:40] in left.text
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_no_empty_and_no_duplicate_chunks() -> None:
    text = (
        "# T\n\n## A\n\nGleicher Absatz über Drucker.\n\n## B\n\n\n\n## C\n\n"
        + ("Gleicher Absatz über Drucker und Warteschlangen. " * 20)
        + "\n\n## D\n\n"
        + ("Gleicher Absatz über Drucker und Warteschlangen. " * 20)
    )
    chunks = chunk_document(doc(text, title="T"))
    texts = [c.text for c in chunks]
    assert all(t.strip() for t in texts)
    assert len(texts) == len(set(texts))


def test_tiny_sections_merge_forward() -> None:
    text = "# FAQ\n\n## Kurz\n\nJa.\n\n## Ausführlich\n\n" + "Eine lange Erklärung zum WLAN. " * 20
    chunks = chunk_document(doc(text, title="FAQ"))
    assert len(chunks) == 1
    assert chunks[0].text.startswith("Ja.\n\n## Ausführlich")
    assert chunks[0].heading == "FAQ > Ausführlich"


def test_chunk_ids_are_stable_and_carry_metadata() -> None:
    text = "# Parken\n\n" + "Parkausweise gibt es am Empfang in Bremen. " * 30
    first = chunk_document(doc(text, title="Parken", language="de"))
    second = chunk_document(doc(text, title="Parken", language="de"))
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert {c.acl for c in first} == {("everyone",)}
    assert {c.language for c in first} == {"de"}
    assert [c.position for c in first] == list(range(len(first)))


def test_english_document_and_heading_path_without_repeating_title() -> None:
    assert heading_path("Travel Expenses", ["Travel Expenses", "Per diem"]) == (
        "Travel Expenses > Per diem"
    )
    text = "# Travel Expenses\n\n## Per diem\n\n" + "The per diem for Germany is 28 euros. " * 12
    chunks = chunk_document(doc(text, title="Travel Expenses", language="en"))
    assert [c.heading for c in chunks] == ["Travel Expenses > Per diem"]


def test_empty_document_gives_no_chunks() -> None:
    assert chunk_document(doc("   \n\n  ")) == []
