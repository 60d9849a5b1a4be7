"""The SQLite audit log under real crashes and real concurrency (no models involved).

A writer process is killed with SIGKILL in the middle of heavy appending, 20 times over; every
acknowledged record must survive and the chain must verify. A torn last write (the WAL cut in
the middle of a frame) is dropped by SQLite and then reported by the signed checkpoint, never
accepted silently. Four processes appending at once keep one linear chain.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.audit import DB_FILE, SqliteAuditLog, read_checkpoint

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]

# Appends forever (or ``count`` records), printing each committed seq; with a checkpoint path
# it signs the head after ``count`` records and then waits to be killed.
WRITER = """
import sys, time
from pathlib import Path
from assistant.audit import AuditEvent, SqliteAuditLog

data, user, count, checkpoint = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
log = SqliteAuditLog(Path(data))
print("ready", flush=True)
i = 0
while count <= 0 or i < count:
    record = log.append(AuditEvent(
        event="answer", user_id=user, role="employee", request_id=f"{user}-{i}",
        question="Wie verbinde ich mich mit dem VPN?" if i % 2 else "How do I reset my password?",
        answer="Öffnen Sie AnyConnect [1]." if i % 2 else "Use the self-service portal [1].",
        chunk_ids=(f"c{i}",), content_hashes=("a" * 64,), acl_filter=("everyone",),
        model_id="qwen2.5-0.5b", prompt_version="answer-v2", decision="answered",
        latency_ms={"total_ms": 1.0 * i}, details={"writer": user, "i": i},
    ))
    print(record.seq, flush=True)
    i += 1
if checkpoint:
    Path(checkpoint).write_text(log.checkpoint().to_json(), encoding="utf-8")
    print("checkpointed", flush=True)
    time.sleep(600)
"""


def start_writer(
    data: Path, user: str, count: int = 0, checkpoint: Path | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data), user, str(count), str(checkpoint or "")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.fixture
def writers() -> Iterator[list[subprocess.Popen[str]]]:
    """The writers a test starts: killed and their pipes closed at its end, also when it
    fails half-way (an open pipe left to the garbage collector fails a later test)."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def read_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"the writer exited early with {proc.wait()}"
    return line.strip()


def kill(proc: subprocess.Popen[str]) -> str:
    """SIGKILL; returns what it printed and nobody read yet."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return finish(proc)


def finish(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    with proc.stdout:
        return proc.stdout.read()


def test_twenty_kills_mid_write_lose_no_acknowledged_record(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    rng = random.Random(20250301)
    acknowledged = 0
    for _round in range(20):
        proc = start_writer(tmp_path, f"writer{_round}")
        writers.append(proc)
        assert read_line(proc) == "ready"
        deadline = time.monotonic() + rng.uniform(0.05, 0.25)
        while time.monotonic() < deadline:
            acknowledged = max(acknowledged, int(read_line(proc)))
        unread = kill(proc)  # somewhere inside an append: before, during or after its commit
        for line in unread.split():
            acknowledged = max(acknowledged, int(line))
        log = SqliteAuditLog(tmp_path)
        try:
            result = log.verify()
        finally:
            log.close()
        assert result.ok, result.describe()
        # every seq the writer printed was committed; at most the one in flight is extra
        assert acknowledged <= result.head_seq <= acknowledged + 1
        assert result.records == result.head_seq
        acknowledged = result.head_seq
    assert acknowledged > 20


def test_a_torn_last_write_is_dropped_then_reported_by_the_checkpoint(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    checkpoint_file = tmp_path / "checkpoint.json"
    data = tmp_path / "data"
    proc = start_writer(data, "writer", count=30, checkpoint=checkpoint_file)
    writers.append(proc)
    lines = [read_line(proc) for _ in range(32)]
    assert lines[0] == "ready" and lines[-1] == "checkpointed"
    kill(proc)  # the WAL still holds every transaction: nobody checkpointed it into the file
    wal = data / f"{DB_FILE}-wal"
    size = wal.stat().st_size
    assert size > 4096
    os.truncate(wal, size - 1000)  # the last frame (the checkpoint record's commit) is torn
    checkpoint = read_checkpoint(checkpoint_file)
    assert checkpoint.count == 31
    log = SqliteAuditLog(data)
    try:
        repaired = log.verify()
        assert repaired.ok, repaired.describe()  # SQLite rolled the torn transaction back
        assert repaired.head_seq == 30
        reported = log.verify(checkpoint)
        assert (reported.ok, reported.bad_seq) == (False, 31)
        assert "tail was cut off" in reported.reason
        # the chain goes on from the last intact record
        assert log.checkpoint().count == 31
        assert log.verify().ok
    finally:
        log.close()


def test_four_processes_append_one_linear_chain(
    tmp_path: Path, writers: list[subprocess.Popen[str]]
) -> None:
    per_writer = 60
    procs = [start_writer(tmp_path, f"proc{n}", count=per_writer) for n in range(4)]
    writers.extend(procs)
    for proc in procs:
        assert read_line(proc) == "ready"
    for proc in procs:
        assert proc.wait(timeout=90) == 0
        finish(proc)
    log = SqliteAuditLog(tmp_path)
    try:
        result = log.verify()
        assert result.ok, result.describe()
        assert result.records == 4 * per_writer
        records = log.records()
        assert [r.seq for r in records] == list(range(1, 4 * per_writer + 1))
        times = [r.time for r in records]
        assert times == sorted(times)  # the time is taken under the write lock
        per_actor: dict[str, int] = {}
        for r in records:
            per_actor[r.actor] = per_actor.get(r.actor, 0) + 1
        assert sorted(per_actor.values()) == [per_writer] * 4
        # each writer's own records keep their order inside the shared chain
        for n in range(4):
            own = [r.details["i"] for r in records if r.details["writer"] == f"proc{n}"]
            assert own == list(range(per_writer))
    finally:
        log.close()
