"""Ingestion survives awkward files and being killed, with the real stores."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.settings import Settings
from api.wiring import open_knowledge
from models.embedder import FakeEmbedder
from tests.e2e.conftest import REPO, SAMPLE_DOCS

pytestmark = pytest.mark.e2e

MESSY = REPO.parent / "shared" / "data" / "messy-docs"


def consistent(settings: Settings) -> tuple[int, int]:
    """Both indexes hold exactly the chunks the manifest lists; returns (documents, chunks)."""
    knowledge = open_knowledge(settings, purpose="check", embedder=FakeEmbedder(dim=384))
    try:
        entries = knowledge.manifest.entries()
        assert not knowledge.manifest.pending()
        listed = {i for e in entries for i in e.chunk_ids}
        assert knowledge.vectors.ids() == listed
        assert knowledge.lexical.ids() == listed
        return len(entries), len(listed)
    finally:
        knowledge.close()


def complete_documents(data_dir: Path) -> int:
    path = data_dir / "manifest.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as db:
            row = db.execute("SELECT count(*) FROM documents WHERE state='complete'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


def test_kill_9_during_ingest_is_repaired_by_the_next_ingest(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "LOTSE_DATA_DIR": str(data_dir),
        "LOTSE_MODELS__EMBEDDER": "e5",
        "LOTSE_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "api.cli", "ingest", str(SAMPLE_DOCS), "--source", "s"]
    killed_at = []
    for target in (2, 9, 17):
        log = tmp_path / f"ingest-{target}.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr
            )
            deadline = time.monotonic() + 240
            while complete_documents(data_dir) < target and process.poll() is None:
                assert time.monotonic() < deadline, "ingest made no progress"
                time.sleep(0.02)
            assert process.poll() is None, log.read_text(errors="replace")
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        killed_at.append(complete_documents(data_dir))
    assert killed_at == sorted(killed_at) and killed_at[-1] < 34
    finished = subprocess.run(
        [*command, "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    documents, chunks = consistent(Settings(data_dir=data_dir))
    assert documents >= 30 and chunks > documents
    again = subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )
    assert again.returncode == 0, again.stderr
    assert "nothing changed: no embedding needed" in again.stdout


def test_the_messy_folder_is_ingested_or_skipped_with_reasons(tmp_path: Path) -> None:
    if not MESSY.is_dir():
        pytest.fail(f"{MESSY} is missing: check out the shared folder beside the repository")
    settings = Settings(data_dir=tmp_path / "data", knowledge={"file_timeout_s": 60})  # type: ignore[arg-type]
    knowledge = open_knowledge(settings, purpose="messy", embedder=FakeEmbedder(dim=384))
    try:
        summary = knowledge.indexer.ingest(MESSY, source="messy")
        files = [p for p in MESSY.rglob("*") if p.is_file() and not p.name.startswith(".")]
        assert summary.files_seen == len(files)
        assert summary.new + len(summary.skipped) == summary.files_seen
        assert summary.new >= 40
        assert all(reason.strip() for _, reason in summary.skipped)
        reasons = dict(summary.skipped)
        assert reasons["2023-half-year-analyses-by-segment.xlsx"] == "unsupported format .xlsx"
        assert reasons["fake-text-all-whitespace.txt"] == "no text"
        titles = {e.source_id: e.title for e in knowledge.manifest.entries("messy")}
        assert "umlauts-non-utf8.md" in titles
        hits = knowledge.lexical.search("können", 50)
        assert "umlauts-non-utf8.md" in {h.chunk.source_id for h in hits}, "umlauts decoded"
    finally:
        knowledge.close()
    consistent(settings)
