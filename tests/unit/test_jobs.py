"""Background reindex jobs with in-memory indexes, the hashing embedder and real small files."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.jobs import INTERRUPTED, META_KEY, JobRunner, JobStatus
from knowledge.documents import Chunk
from knowledge.indexer import Indexer
from knowledge.lexical import InMemoryLexicalIndex
from knowledge.manifest import Manifest
from knowledge.vectorstore import InMemoryVectorStore
from models.embedder import FakeEmbedder
from models.errors import Conflict, InvalidInput, NotFound
from tests.loaders import GateLoader

WAIT_S = 20.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make_indexer(tmp_path: Path, loader: GateLoader) -> Indexer:
    return Indexer(
        embedder=FakeEmbedder(),
        vectors=InMemoryVectorStore(),
        lexical=InMemoryLexicalIndex(),
        manifest=Manifest(tmp_path / "state" / "manifest.sqlite3"),
        loader=loader,
    )


def write_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "a-vpn.md").write_text(
        "# VPN\n\n## Verbindung\n\nStarten Sie Cisco AnyConnect und wählen Sie vpn.nordwind.de.\n",
        encoding="utf-8",
    )
    (root / "b-printer.md").write_text(
        "# Printing\n\n## FollowMe\n\nSend the job to FollowMe and badge at any printer.\n",
        encoding="utf-8",
    )
    (root / "c-urlaub.md").write_text(
        "# Urlaub\n\n## Antrag\n\nUrlaub beantragen Sie im Personalportal.\n", encoding="utf-8"
    )
    (root / "notes.xlsx").write_bytes(b"PK")
    return root


@pytest.fixture
def loader() -> GateLoader:
    return GateLoader()


@pytest.fixture
def indexer(tmp_path: Path, loader: GateLoader) -> Indexer:
    indexer = make_indexer(tmp_path, loader)
    indexer.manifest.register_source("kb", "folder", str(write_folder(tmp_path / "kb")), ("all",))
    indexer.manifest.register_source(
        "hr", "folder", str(write_folder(tmp_path / "hr")), ("hr", "all")
    )
    return indexer


@pytest.fixture
def runner(indexer: Indexer) -> Iterator[JobRunner]:
    clock = Clock()
    jobs = JobRunner(indexer, indexer.manifest, keep=3, clock=clock, monotonic=clock)
    yield jobs
    jobs.close()


def test_a_job_indexes_every_registered_source(runner: JobRunner, indexer: Indexer) -> None:
    accepted = runner.start()
    assert accepted.state == "queued"
    assert accepted.sources == ("hr", "kb")
    done = runner.wait(accepted.job_id, WAIT_S)
    assert done.state == "succeeded", done.error
    assert (done.done, done.total, done.percent) == (6, 6, 100.0)
    assert (done.eta_s, done.current) == (None, "")
    assert done.started_at == done.finished_at == 1_700_000_000.0
    assert done.error is None and done.errors == {}
    assert set(done.summary) == {"hr", "kb"}
    kb = done.summary["kb"]
    assert (kb["files_seen"], kb["new"], kb["chunks_written"]) == (4, 3, 3)
    assert kb["skipped"] == [{"source_id": "notes.xlsx", "reason": "unsupported format .xlsx"}]
    assert indexer.vectors.count() == indexer.lexical.count() == 6
    assert {e.acl for e in indexer.manifest.entries("hr")} == {("all", "hr")}
    assert all(s.last_indexed is not None for s in indexer.manifest.sources())


def test_only_the_named_sources_are_reindexed(runner: JobRunner, indexer: Indexer) -> None:
    job = runner.wait(runner.start(["kb"]).job_id, WAIT_S)
    assert job.state == "succeeded"
    assert job.sources == ("kb",)
    assert list(job.summary) == ["kb"]
    assert indexer.manifest.entries("hr") == []
    assert runner.last_errors() == {"kb": None}


def test_unknown_sources_and_no_sources_are_refused(tmp_path: Path, runner: JobRunner) -> None:
    with pytest.raises(NotFound, match="unknown source\\(s\\): nope"):
        runner.start(["kb", "nope"])
    empty = make_indexer(tmp_path / "empty", GateLoader())
    with pytest.raises(InvalidInput, match="no sources are registered"):
        JobRunner(empty, empty.manifest).start()


def test_one_job_at_a_time_and_progress_while_running(
    runner: JobRunner, loader: GateLoader, indexer: Indexer
) -> None:
    loader.block_on = "b-printer.md"
    job = runner.start(["kb"])
    assert loader.entered.wait(WAIT_S)
    running = runner.get(job.job_id)
    assert running.state == "running"
    # "kb" has 3 loadable files; the second one is being loaded
    assert (running.done, running.total, running.percent) == (1, 3, 33.3)
    assert running.current == "kb/b-printer.md"
    assert running.eta_s == 0.0  # the fake clock did not move
    assert runner.active() == running
    with pytest.raises(Conflict, match=f"reindex job {job.job_id} is running") as refused:
        runner.start()
    assert refused.value.hint is not None and f"/v1/admin/jobs/{job.job_id}" in refused.value.hint
    loader.release.set()
    assert runner.wait(job.job_id, WAIT_S).state == "succeeded"
    assert runner.active() is None
    assert runner.wait(runner.start(["kb"]).job_id, WAIT_S).state == "succeeded"


def test_cancel_stops_before_the_next_file_and_keeps_the_work(
    runner: JobRunner, loader: GateLoader, indexer: Indexer
) -> None:
    loader.block_on = "b-printer.md"
    job = runner.start(["kb", "hr"])
    assert loader.entered.wait(WAIT_S)
    assert runner.cancel(job.job_id).job_id == job.job_id
    loader.release.set()
    cancelled = runner.wait(job.job_id, WAIT_S)
    assert cancelled.state == "cancelled"
    assert cancelled.error is None
    assert cancelled.summary == {}
    assert [e.source_id for e in indexer.manifest.entries("kb")] == ["a-vpn.md", "b-printer.md"]
    assert indexer.manifest.entries("hr") == []
    assert runner.cancel(job.job_id) == cancelled  # cancelling again changes nothing


def test_cancelling_a_finished_job_is_a_conflict(runner: JobRunner) -> None:
    job = runner.wait(runner.start(["kb"]).job_id, WAIT_S)
    with pytest.raises(Conflict, match="already succeeded"):
        runner.cancel(job.job_id)
    with pytest.raises(NotFound, match="no reindex job nope"):
        runner.cancel("nope")


def test_a_failing_source_fails_the_job_but_the_others_are_indexed(
    tmp_path: Path, runner: JobRunner, indexer: Indexer
) -> None:
    indexer.manifest.register_source("gone", "folder", str(tmp_path / "gone"), ("all",))
    job = runner.wait(runner.start().job_id, WAIT_S)
    assert job.state == "failed"
    assert set(job.summary) == {"hr", "kb"}
    assert job.errors == {"gone": f"{tmp_path / 'gone'} does not exist"}
    assert job.error == f"1 of 3 source(s) failed: gone: {tmp_path / 'gone'} does not exist"
    assert job.percent == 100.0
    assert runner.last_errors() == {
        "gone": f"{tmp_path / 'gone'} does not exist",
        "hr": None,
        "kb": None,
    }


def test_sources_of_an_unknown_kind_are_reported_not_faked(
    runner: JobRunner, indexer: Indexer
) -> None:
    indexer.manifest.register_source("tickets", "csv", "/srv/tickets.csv", ("agents",))
    job = runner.wait(runner.start(["tickets"]).job_id, WAIT_S)
    assert job.state == "failed"
    assert job.errors == {"tickets": "sources of kind 'csv' cannot be indexed"}


def test_a_ticket_source_without_a_ticket_store_is_reported(
    runner: JobRunner, indexer: Indexer
) -> None:
    options = {"format": "generic"}
    indexer.manifest.register_source("tk", "tickets", "/srv/t.csv", ("everyone",), options)
    job = runner.wait(runner.start(["tk"]).job_id, WAIT_S)
    assert job.state == "failed"
    assert job.errors == {"tk": "without a ticket store, ticket sources cannot be indexed"}


def test_jobs_survive_a_restart_and_only_the_last_ones_are_kept(
    runner: JobRunner, indexer: Indexer
) -> None:
    ids = [runner.wait(runner.start(["kb"]).job_id, WAIT_S).job_id for _ in range(4)]
    assert [j.job_id for j in runner.recent()] == ids[:0:-1]  # newest first, keep=3
    again = JobRunner(indexer, indexer.manifest, keep=3)
    assert [j.job_id for j in again.recent()] == ids[:0:-1]
    restored = again.get(ids[-1])
    assert restored == runner.get(ids[-1])
    with pytest.raises(NotFound):
        again.get(ids[0])


def test_a_job_that_was_running_at_a_crash_is_loaded_as_failed(indexer: Indexer) -> None:
    stored = JobStatus(job_id="j1", state="running", sources=("kb",), done=1, total=3)
    indexer.manifest.set_meta(META_KEY, json.dumps([stored.as_dict()]))
    loaded = JobRunner(indexer, indexer.manifest).get("j1")
    assert (loaded.state, loaded.error, loaded.done) == ("failed", INTERRUPTED, 1)


def test_unreadable_stored_jobs_are_ignored(indexer: Indexer) -> None:
    indexer.manifest.set_meta(META_KEY, "{not json")
    assert JobRunner(indexer, indexer.manifest).recent() == []


def test_close_cancels_the_running_job_and_refuses_new_ones(
    indexer: Indexer, loader: GateLoader
) -> None:
    runner = JobRunner(indexer, indexer.manifest)
    loader.block_on = "a-vpn.md"
    job = runner.start(["kb"])
    assert loader.entered.wait(WAIT_S)
    threading.Timer(0.2, loader.release.set).start()
    runner.close(timeout_s=WAIT_S)
    assert runner.get(job.job_id).state == "cancelled"
    stored = json.loads(indexer.manifest.meta(META_KEY) or "[]")
    assert [(j["job_id"], j["state"]) for j in stored] == [(job.job_id, "cancelled")]
    with pytest.raises(Conflict, match="shutting down"):
        runner.start()


def test_exclusive_work_holds_off_jobs_and_waits_for_none(
    runner: JobRunner, loader: GateLoader
) -> None:
    with (
        runner.exclusive("removing the source kb"),
        pytest.raises(Conflict, match="busy: removing the source kb"),
    ):
        runner.start()
    loader.block_on = "a-vpn.md"
    job = runner.start(["kb"])
    assert loader.entered.wait(WAIT_S)
    with pytest.raises(Conflict, match="is running"), runner.exclusive("removing"):
        pass
    loader.release.set()
    assert runner.wait(job.job_id, WAIT_S).state == "succeeded"


def test_the_in_memory_stores_can_be_searched_while_a_job_writes() -> None:
    """Without their locks these raised "dictionary changed size during iteration"."""
    embedder, vectors, lexical = FakeEmbedder(), InMemoryVectorStore(), InMemoryLexicalIndex()
    finished = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for i in range(800):
                chunk = Chunk(
                    chunk_id=f"c{i}",
                    text=f"Drucker Toner printer word{i}",
                    source_id=f"doc{i}.md",
                    title="Drucker",
                    heading="Drucker",
                    position=0,
                    language="de",
                    acl=("everyone",),
                    content_hash=str(i),
                )
                vectors.upsert([chunk], embedder.embed_passages([chunk.text]))
                lexical.upsert([chunk])
                if i % 3 == 0:
                    vectors.delete([f"c{i - 1}"])
                    lexical.delete([f"c{i - 1}"])
        finally:
            finished.set()

    def search() -> None:
        query = embedder.embed_query("Drucker Toner")
        while not finished.is_set():
            try:
                vectors.query(query, 5, ["everyone"])
                lexical.search("Drucker Toner printer", 5, ["everyone"])
            except RuntimeError as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=write), *(threading.Thread(target=search) for _ in "ab")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert errors == []
    assert vectors.count() == lexical.count() == 800 - 266  # i = 0 deletes nothing
