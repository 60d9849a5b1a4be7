"""Incremental indexing with in-memory indexes, the hashing embedder and real small files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from knowledge.indexer import Cancelled, Indexer, IngestProgress, InProcessLoader
from knowledge.lexical import InMemoryLexicalIndex
from knowledge.loaders import LoadLimits
from knowledge.manifest import Manifest, ManifestEntry
from knowledge.vectorstore import InMemoryVectorStore
from models.embedder import FakeEmbedder
from models.errors import ConfigurationError, InvalidInput


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=32)
        self.embedded = 0

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        self.embedded += len(texts)
        return super().embed_passages(texts)


def make_indexer(tmp_path: Path, embedder: FakeEmbedder | None = None) -> Indexer:
    return Indexer(
        embedder=embedder or CountingEmbedder(),
        vectors=InMemoryVectorStore(),
        lexical=InMemoryLexicalIndex(),
        manifest=Manifest(tmp_path / "state" / "manifest.sqlite3"),
        loader=InProcessLoader(),
        limits=LoadLimits(max_bytes=10_000),
    )


def write_corpus(root: Path) -> None:
    (root / "it").mkdir(parents=True)
    (root / "hr" / "confidential").mkdir(parents=True)
    (root / "it" / "vpn.md").write_text(
        "# VPN\n\n## Verbindung\n\nStarten Sie Cisco AnyConnect und wählen Sie vpn.nordwind.de.\n",
        encoding="utf-8",
    )
    (root / "it" / "printer.md").write_text(
        "# Printing\n\n## FollowMe\n\nSend the job to FollowMe and badge at any Kyocera printer.\n",
        encoding="utf-8",
    )
    (root / "hr" / "confidential" / "salary.md").write_text(
        "# Gehaltsbänder\n\n## E3\n\nBand E3 liegt zwischen 58.000 und 66.000 Euro.\n",
        encoding="utf-8",
    )
    (root / "hr" / "confidential" / ".lotse-acl").write_text("# HR only\nhr\n", encoding="utf-8")
    (root / "it" / "budget.xlsx").write_bytes(b"PK\x03\x04 not really")
    (root / "it" / "huge.txt").write_text("x " * 20_000, encoding="utf-8")
    (root / ".hidden.md").write_text("# secret", encoding="utf-8")


def test_first_ingest_indexes_and_reports(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    indexer = make_indexer(tmp_path)
    events: list[IngestProgress] = []
    summary = indexer.ingest(root, source="sample", progress=events.append)
    assert (summary.files_seen, summary.new, summary.changed, summary.unchanged) == (5, 3, 0, 0)
    assert dict(summary.skipped) == {
        "it/budget.xlsx": "unsupported format .xlsx",
        "it/huge.txt": "file is 0.0 MB, the limit is 0.01 MB",
    }
    assert summary.chunks_written == indexer.vectors.count() == indexer.lexical.count() == 3
    assert events[0].phase == "scan" and events[-1].phase == "done"
    assert events[-1].done == events[-1].total == 3
    entries = {e.source_id: e for e in indexer.manifest.entries("sample")}
    assert set(entries) == {"it/vpn.md", "it/printer.md", "hr/confidential/salary.md"}
    assert entries["hr/confidential/salary.md"].acl == ("hr",)
    assert entries["it/vpn.md"].acl == ("everyone",)
    assert entries["it/vpn.md"].language == "de"
    assert entries["it/printer.md"].language == "en"
    assert indexer.manifest.skipped("sample") == [
        ("sample", "it/budget.xlsx", "unsupported format .xlsx"),
        ("sample", "it/huge.txt", "file is 0.0 MB, the limit is 0.01 MB"),
    ]


def test_unchanged_corpus_embeds_nothing(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    embedder = CountingEmbedder()
    indexer = make_indexer(tmp_path, embedder)
    indexer.ingest(root, source="sample")
    before = embedder.embedded
    summary = indexer.ingest(root, source="sample")
    assert embedder.embedded == before
    assert (summary.new, summary.changed, summary.unchanged, summary.deleted) == (0, 0, 3, 0)
    assert summary.chunks_written == 0


def test_changed_file_is_replaced_and_deleted_file_vanishes(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    indexer = make_indexer(tmp_path)
    indexer.ingest(root, source="sample")
    old_ids = set(indexer.manifest.get("sample", "it/vpn.md").chunk_ids)  # type: ignore[union-attr]
    (root / "it" / "vpn.md").write_text("# VPN\n\n## Neu\n\nDer neue Server heißt vpn2.\n")
    (root / "it" / "printer.md").unlink()
    summary = indexer.ingest(root, source="sample")
    assert (summary.new, summary.changed, summary.unchanged, summary.deleted) == (0, 1, 1, 1)
    assert not old_ids & indexer.vectors.ids()
    assert not old_ids & indexer.lexical.ids()
    assert indexer.manifest.get("sample", "it/printer.md") is None
    hits = indexer.lexical.search("vpn2", 5)
    assert [h.chunk.source_id for h in hits] == ["it/vpn.md"]
    assert not indexer.lexical.search("FollowMe Kyocera", 5)
    assert indexer.vectors.count() == indexer.lexical.count() == 2


def test_acl_change_in_sidecar_reindexes(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    indexer = make_indexer(tmp_path)
    indexer.ingest(root, source="sample")
    (root / "hr" / "confidential" / ".lotse-acl").write_text("hr\nmanagement\n")
    summary = indexer.ingest(root, source="sample")
    assert summary.changed == 1
    chunk_ids = indexer.manifest.get("sample", "hr/confidential/salary.md").chunk_ids  # type: ignore[union-attr]
    assert {c.acl for c in indexer.vectors.get(list(chunk_ids))} == {("hr", "management")}


def test_acl_option_applies_where_no_sidecar(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    indexer = make_indexer(tmp_path)
    indexer.ingest(root, source="sample", acl=["staff"])
    assert indexer.manifest.get("sample", "it/vpn.md").acl == ("staff",)  # type: ignore[union-attr]
    assert indexer.manifest.get("sample", "hr/confidential/salary.md").acl == ("hr",)  # type: ignore[union-attr]


def test_single_file_ingest_does_not_delete_siblings(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    indexer = make_indexer(tmp_path)
    indexer.ingest(root, source="docs")
    summary = indexer.ingest(root / "it" / "vpn.md", source="docs")
    assert summary.files_seen == 1 and summary.deleted == 0
    assert summary.unchanged == 0 and summary.new == 1  # its id is relative to its own folder
    assert indexer.manifest.get("docs", "vpn.md") is not None
    assert indexer.manifest.get("docs", "it/printer.md") is not None


def test_interrupted_write_is_repaired_by_the_next_ingest(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    indexer = make_indexer(tmp_path)
    indexer.ingest(root, source="sample")
    entry = indexer.manifest.get("sample", "it/vpn.md")
    assert entry is not None
    # simulate a crash between "pending" and "complete": a half-written replacement
    half = ManifestEntry(
        **{
            **entry.__dict__,
            "state": "pending",
            "chunk_ids": ("ghost",),
            "replaced_chunk_ids": entry.chunk_ids,
        }
    )
    indexer.manifest.begin(half)
    summary = indexer.ingest(root, source="sample")
    assert summary.repaired == 1
    assert summary.new == 1 and summary.unchanged == 2
    assert not indexer.manifest.pending()
    assert indexer.vectors.ids() == indexer.lexical.ids()
    assert "ghost" not in indexer.vectors.ids()


def test_tombstoned_document_is_not_brought_back(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    indexer = make_indexer(tmp_path)
    indexer.ingest(root, source="sample")
    indexer.remove_document("sample", "it/vpn.md")
    indexer.manifest.add_tombstone("sample", "it/vpn.md", "*", "erased")
    summary = indexer.ingest(root, source="sample")
    assert ("it/vpn.md", "erased earlier (tombstoned)") in summary.skipped
    assert indexer.manifest.get("sample", "it/vpn.md") is None
    assert not indexer.lexical.search("AnyConnect", 5)


def test_cancel_keeps_completed_work(tmp_path: Path) -> None:
    import threading

    root = tmp_path / "docs"
    write_corpus(root)
    indexer = make_indexer(tmp_path)
    cancel = threading.Event()

    def progress(p: IngestProgress) -> None:
        if p.phase == "index" and p.done == 1:
            cancel.set()

    with pytest.raises(Cancelled):
        indexer.ingest(root, source="sample", progress=progress, cancel=cancel)
    assert len(indexer.manifest.entries("sample")) == 1
    assert indexer.ingest(root, source="sample").new == 2


def test_embedder_switch_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    indexer = make_indexer(tmp_path)
    indexer.ingest(root, source="sample")
    other = Indexer(
        embedder=FakeEmbedder(dim=16),
        vectors=indexer.vectors,
        lexical=indexer.lexical,
        manifest=indexer.manifest,
        loader=InProcessLoader(),
    )
    with pytest.raises(ConfigurationError, match="fake-hashing-32"):
        other.ingest(root, source="sample")


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        make_indexer(tmp_path).ingest(tmp_path / "nope")


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write_corpus(root)
    outside = tmp_path / "outside.md"
    outside.write_text("# Outside\n\nnot part of the corpus\n")
    os.symlink(outside, root / "link.md")
    summary = make_indexer(tmp_path).ingest(root, source="sample")
    assert ("link.md", "symbolic link (not followed)") in summary.skipped
