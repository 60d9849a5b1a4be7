"""Document permissions at scale: more than 5,000 chunks in six ACL groups, more than 1,000
questions through every path that returns text, and not one chunk of a group the caller is not
in (issue 4, "Document permissions").

The world is built the way an operator builds it: a generated wiki with ``.lotse-acl`` sidecars
(one nested sidecar narrows a management folder to ``board-x``, the one restricted document of
its group), a runbook source ingested with ``lotse ingest --acl it-admins``, two ticket exports
imported with ``lotse tickets import`` (one of them ``--acl hr``), API keys from
``lotse keys create``. Then the real app (``create_app``, auth mode ``keys``) answers with the
real sentence-transformers MiniLM embedder, real Chroma and real SQLite FTS5.

Every chunk and ticket carries a marker ``ACLMARK-<class>-<n>`` (``tests/e2e/acl_corpus.py``),
so a leak in any returned text is a regex match: answers (streamed and not), search hits, the
sources of every answer, stored conversations, draft replies, similar tickets, a stored
ticket's suggestion, and the OpenAI-compatible endpoint (streamed and not). The questions aim
at the restricted documents: their topic words, German and English, and the marker tokens
themselves, which are keyword hits on every chunk of their class, so a missing filter in either
index would answer them.

Why the language model is a fake: the ACL is decided before the model runs, in the retrieval
filter built from the verified caller; the model sees only what passed it. A real model could
only hide a leak (by not repeating a passage), never show more than it was given. So the
model here is the leakiest possible one: ``EchoLLM`` repeats every passage of its prompt,
with its source label, verbatim. Such a reply is fully grounded (each of its words is in a
passage), so the grounding check lets it through; the evidence gate is switched off
(``min_evidence=-1``), so is the language gate (the echo mixes German and English passages),
and 8 passages go to the model, so that every retrieved chunk reaches the
answer instead of an abstention hiding it.

What every agent may read by design: the agents' full ticket records (source ``NAME-full``, ACL
``agents``, docs/tickets.md) behind similar tickets and the solutions in draft replies. The
ledger allows ticket markers there and nowhere else. The records of the export imported with
``--acl hr`` carry ``agents+hr`` instead: only agents in hr get them
(``test_hr_ticket_export_stays_within_hr_for_agents``).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from api.wiring import Services, build_services
from assistant.prompting import NOT_FOUND
from knowledge.tickets import agent_acl
from models.llm import ChatMessage, Completion, GenerationParams, StreamChunk, Usage, collect
from tests.e2e.acl_corpus import (
    ACL_CLASSES,
    EVERYONE,
    MARKER,
    RESTRICTED_GROUPS,
    TICKET_TOPICS,
    WIKI,
    Corpus,
    Question,
    TicketSet,
    marker,
    markers_in,
    questions,
    readable,
    write_corpus,
    write_tickets,
)

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

EMBEDDER = "sentence-transformers"  # MiniLM: e5 would need ~15 min for 5,000 chunks here


# -- the leakiest model -------------------------------------------------------------------------
_PASSAGE = re.compile(r'<passage id="\d+" source="([^"]*)">\n(.*?)\n</passage>', re.DOTALL)


@dataclass
class EchoLLM:
    """Replies with every passage of its prompt, ``[source label] text``, in prompt order; with
    no passage, ``NOT_FOUND`` as the prompt asks. Tokens are whitespace-separated words; the
    stream sends one passage per chunk (the SSE paths then cost a few events, not hundreds)."""

    model_id: str = "echo-llm"
    context_size: int = 16384
    calls: int = 0
    passages: int = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        return collect(self.stream(messages, params))

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        found = _PASSAGE.findall(messages[-1].content)
        self.calls += 1
        self.passages += len(found)
        pieces = [f"[{label}] {text}" for label, text in found] or [NOT_FOUND]
        budget, finish = params.max_tokens, "stop"
        for i, piece in enumerate(pieces):
            words = piece.split(" ")
            if len(words) > budget:
                words, finish = words[:budget], "length"
            budget -= len(words)
            yield StreamChunk(text=(" ".join(words) if i == 0 else "\n\n" + " ".join(words)))
            if finish == "length":
                break
        prompt = sum(self.count_tokens(m.content) for m in messages)
        used = params.max_tokens - budget
        yield StreamChunk(text="", finish_reason=finish, usage=Usage(prompt, used))


# -- who asks -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class User:
    name: str
    role: str
    groups: tuple[str, ...] = ()

    @property
    def acl_groups(self) -> tuple[str, ...]:
        """What the server must filter by (computed here, not by the code under test)."""
        return tuple(sorted({EVERYONE, *self.groups}))


USERS = (
    User("emp-public", "employee"),
    User("emp-hr", "employee", ("hr",)),
    User("emp-fin-ita", "employee", ("finance", "it-admins")),
    User("emp-mgmt", "employee", ("management",)),
    User("emp-boardx", "employee", ("board-x",)),  # may read exactly one restricted document
    User("emp-sales", "employee", ("sales",)),  # a group without documents
    User("agent-plain", "agent"),
    User("agent-hr", "agent", ("hr",)),
    User("agent-fin", "agent", ("finance",)),
    User("agent-ita-mgmt", "agent", ("it-admins", "management")),
    User("admin-all", "admin", RESTRICTED_GROUPS),
)
BY_NAME = {u.name: u for u in USERS}
AGENT_USERS = tuple(u for u in USERS if u.role in ("agent", "admin"))


# -- the ledger ---------------------------------------------------------------------------------
RESTRICTED_CODES = [c for c, cls in ACL_CLASSES.items() if cls.acl != (EVERYONE,)]
QUESTION_PATHS = ("search", "chat_stream", "chat_json", "ask", "openai", "openai_stream", "suggest")


@dataclass
class Tally:
    requests: int = 0
    marked: int = 0  # responses that carried at least one marker
    insider: int = 0  # responses with restricted content the caller may read
    abstained: int = 0
    seconds: float = 0.0
    leaks: list[str] = field(default_factory=list)
    leaked: set[str] = field(default_factory=set)  # the classes that leaked


class Ledger:
    """Checks every returned text against the caller's groups, per path."""

    def __init__(self) -> None:
        self.paths: dict[str, Tally] = defaultdict(Tally)

    def check(
        self, path: str, user: User, texts: Iterable[str], *, agent_records: bool = False
    ) -> set[str]:
        """``agent_records``: the text may hold the agents' ticket records (agent assist)."""
        tally = self.paths[path]
        tally.requests += 1
        codes: set[str] = set()
        for text in texts:
            for match in MARKER.finditer(text):
                code = match.group(1)
                codes.add(code)
                if not readable(code, user.acl_groups, agent_records=agent_records):
                    tally.leaked.add(code)
                    start = max(0, match.start() - 80)
                    tally.leaks.append(f"{user.name} via {path}: …{text[start : match.end()]}")
        if codes:
            tally.marked += 1
        # restricted content this caller may read through its group (not as an agent)
        if any(c in RESTRICTED_CODES and readable(c, user.acl_groups) for c in codes):
            tally.insider += 1
        return codes

    def leaks(self) -> list[str]:
        return [leak for t in self.paths.values() for leak in t.leaks]


def strings(value: Any, skip: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every string inside a JSON value (keys in ``skip`` left out)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip:
                yield from strings(item, skip)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, skip)


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """``(event, data)`` of a Server-Sent Events body; ``data: [DONE]`` stays a string."""
    events: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            key, _, value = line.partition(":")
            if key == "event":
                name = value.strip()
            elif key == "data":
                data.append(value.removeprefix(" "))
        if data:
            raw = "\n".join(data)
            events.append((name, raw if raw == "[DONE]" else json.loads(raw)))
    return events


# -- the world ----------------------------------------------------------------------------------
@dataclass
class World:
    client: TestClient
    services: Services
    llm: EchoLLM
    corpus: Corpus
    tickets: dict[str, TicketSet]
    keys: dict[str, str]
    ingest_seconds: float
    chunks: Counter[str]  # ACL class -> chunks in the index
    ledger: Ledger = field(default_factory=Ledger)

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[user.name]}"}


def app_settings(data_dir: Path, embedder: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        models={"llm_backend": "fake", "embedder": embedder, "max_tokens": 4096},  # type: ignore[arg-type]
        # the echo repeats German and English passages alike: no language gate either
        retrieval={  # type: ignore[arg-type]
            "min_evidence": -1.0,
            "context_k": 8,
            "withdraw_wrong_language": False,
        },
        auth={"mode": "keys"},  # type: ignore[arg-type]
        log_level="WARNING",
    )


def run_cli(runner: CliRunner, env: dict[str, str], *args: str) -> str:
    result = runner.invoke(cli, list(args), env=env)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def build_world(root: Path, *, embedder: str = EMBEDDER, scale: float = 1.0) -> Iterator[World]:
    """Write the corpus and the ticket exports, index them with the CLI, create the keys, start
    the app. ``scale`` and ``embedder`` exist for a quick trial of the test itself."""
    corpus = write_corpus(root / "corpus", scale=scale)
    count = max(2, round(24 * scale))
    tickets = {
        "tkpub": write_tickets(root, "tkpub", count, first=90001),
        "tkhr": write_tickets(root, "tkhr", count, first=91001),
    }
    data_dir = root / "data"
    env = {
        "LOTSE_DATA_DIR": str(data_dir),
        "LOTSE_MODELS__EMBEDDER": embedder,
        "LOTSE_MODELS__LLM_BACKEND": "fake",
        "LOTSE_LOG_LEVEL": "WARNING",
    }
    runner = CliRunner()
    started = time.perf_counter()
    for source, path in corpus.roots.items():
        args = ["ingest", str(path), "--source", source, "--json"]
        for group in corpus.source_acl[source]:
            args += ["--acl", group]
        summary = json.loads(run_cli(runner, env, *args))
        assert summary["skipped"] == [] and summary["new"] == summary["files_seen"], summary
    for source, (code, extra) in {"tickets": ("tkpub", ()), "hrtickets": ("tkhr", ("hr",))}.items():
        args = ["tickets", "import", str(tickets[code].path), "--format", "generic"]
        args += ["--source", source, "--json"]
        for group in extra:
            args += ["--acl", group]
        imported = json.loads(run_cli(runner, env, *args))
        assert imported["tickets"] == imported["resolved"] == len(tickets[code].ids), imported
    ingest_seconds = time.perf_counter() - started
    keys: dict[str, str] = {}
    for user in USERS:
        args = ["keys", "create", "--user", user.name, "--role", user.role]
        for group in user.groups:
            args += ["--groups", group]
        keys[user.name] = run_cli(runner, env, *args).strip().splitlines()[-1]

    llm = EchoLLM()
    services = build_services(app_settings(data_dir, embedder), llm=llm)
    try:
        chunks = indexed_classes(services)
        with TestClient(create_app(services=services)) as client:
            yield World(client, services, llm, corpus, tickets, keys, ingest_seconds, chunks)
    finally:
        services.close()


def indexed_classes(services: Services) -> Counter[str]:
    """Chunks per ACL class, read back from the manifest and Chroma; checks on the way that
    every chunk text carries exactly one marker and the ACL its folder's sidecar, the ingest's
    ``--acl`` or the ticket import gave it, the same in both indexes."""
    knowledge = services.knowledge
    classes: Counter[str] = Counter()
    for entry in knowledge.manifest.entries():
        chunks = knowledge.vectors.get(list(entry.chunk_ids))
        assert len(chunks) == len(entry.chunk_ids), entry.source_id
        lexical = {c.chunk_id: c.acl for c in knowledge.lexical.get(list(entry.chunk_ids))}
        for chunk in chunks:
            codes = markers_in(chunk.text)
            assert len(codes) == 1, (entry.source, chunk.source_id, chunk.text[:120])
            code = codes.pop()
            acl = ACL_CLASSES[code].acl
            expected = agent_acl(acl) if entry.source.endswith("-full") else acl
            assert chunk.acl == expected == entry.acl, (entry.source, chunk.source_id, chunk.acl)
            assert lexical[chunk.chunk_id] == chunk.acl, chunk.chunk_id
            classes[f"{code}-full" if entry.source.endswith("-full") else code] += 1
    assert knowledge.vectors.count() == knowledge.lexical.count() == sum(classes.values())
    return classes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from build_world(tmp_path_factory.mktemp("acl-at-scale"))


# -- the paths ----------------------------------------------------------------------------------
def search(w: World, user: User, query: str, k: int = 50) -> dict[str, Any]:
    started = time.perf_counter()
    r = w.client.post("/v1/search", json={"query": query, "k": k}, headers=w.headers(user))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    w.ledger.paths["search"].seconds += time.perf_counter() - started
    w.ledger.check("search", user, strings(body["results"]))
    return body


def check_sources(w: World, user: User, sources: list[Any], *, agent_records: bool = False) -> None:
    if sources:
        w.ledger.check("sources", user, strings(sources), agent_records=agent_records)


def chat_stream(w: World, user: User, message: str, conversation: str | None = None) -> str:
    started = time.perf_counter()
    payload = {"message": message, "conversation_id": conversation, "stream": True}
    r = w.client.post("/v1/chat", json=payload, headers=w.headers(user))
    assert r.status_code == 200, r.text
    events = parse_sse(r.text)
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done", names
    done = events[-1][1]
    tally = w.ledger.paths["chat_stream"]
    tally.seconds += time.perf_counter() - started
    tally.abstained += bool(done["abstained"])
    w.ledger.check("chat_stream", user, [r.text])
    check_sources(w, user, events[0][1]["sources"])
    check_sources(w, user, done["sources"])
    return str(done["conversation_id"])


def chat_json(w: World, user: User, message: str, conversation: str | None = None) -> str:
    started = time.perf_counter()
    payload = {"message": message, "conversation_id": conversation, "stream": False}
    r = w.client.post("/v1/chat", json=payload, headers=w.headers(user))
    assert r.status_code == 200, r.text
    body = r.json()
    tally = w.ledger.paths["chat_json"]
    tally.seconds += time.perf_counter() - started
    tally.abstained += bool(body["abstained"])
    w.ledger.check("chat_json", user, strings(body))
    check_sources(w, user, body["sources"])
    return str(body["conversation_id"])


def ask(w: World, user: User, question: str) -> None:
    started = time.perf_counter()
    r = w.client.post("/v1/ask", json={"question": question}, headers=w.headers(user))
    assert r.status_code == 200, r.text
    body = r.json()
    tally = w.ledger.paths["ask"]
    tally.seconds += time.perf_counter() - started
    tally.abstained += bool(body["abstained"])
    w.ledger.check("ask", user, strings(body))
    check_sources(w, user, body["sources"])


def conversation(w: World, user: User, conversation_id: str) -> int:
    """The stored conversation; the user's own questions are left out (they are theirs)."""
    r = w.client.get(f"/v1/conversations/{conversation_id}", headers=w.headers(user))
    assert r.status_code == 200, r.text
    turns = [t for t in r.json()["turns"] if t["role"] == "assistant"]
    w.ledger.check("conversations", user, strings(turns))
    for turn in turns:
        check_sources(w, user, turn["sources"])
    return len(turns)


def openai_chat(w: World, user: User, messages: list[dict[str, str]], stream: bool) -> None:
    started = time.perf_counter()
    payload = {"model": w.llm.model_id, "messages": messages, "stream": stream}
    r = w.client.post("/v1/chat/completions", json=payload, headers=w.headers(user))
    assert r.status_code == 200, r.text
    path = "openai_stream" if stream else "openai"
    tally = w.ledger.paths[path]
    tally.seconds += time.perf_counter() - started
    if stream:
        chunks = [data for _, data in parse_sse(r.text)]
        assert chunks[-1] == "[DONE]", chunks[-1]
        extras = next(c["lotse"] for c in chunks if isinstance(c, dict) and c.get("lotse"))
    else:
        chunks = [r.json()]
        extras = chunks[0]["lotse"]
    tally.abstained += bool(extras["abstained"])
    w.ledger.check(path, user, [r.text])
    check_sources(w, user, extras["sources"])


def suggest(w: World, user: User, payload: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    r = w.client.post("/v1/tickets/suggest", json=payload, headers=w.headers(user))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    tally = w.ledger.paths["suggest"]
    tally.seconds += time.perf_counter() - started
    tally.abstained += bool(body["abstained"])
    w.ledger.check("suggest", user, strings(body, frozenset({"similar"})), agent_records=True)
    w.ledger.check("similar", user, strings(body["similar"]), agent_records=True)
    check_sources(w, user, body["sources"], agent_records=True)
    return body


def stored_ticket(w: World, user: User, ticket_id: str) -> dict[str, Any]:
    r = w.client.get(f"/v1/tickets/{ticket_id}", headers=w.headers(user))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    w.ledger.check("tickets_get", user, strings(body), agent_records=True)
    return body


def hidden_ticket(w: World, user: User, ticket_id: str) -> None:
    """A ticket ``user`` may not read: 404 for it and for a suggestion on it, and no text."""
    headers = w.headers(user)
    for r in (
        w.client.get(f"/v1/tickets/{ticket_id}", headers=headers),
        w.client.post("/v1/tickets/suggest", json={"ticket_id": ticket_id}, headers=headers),
    ):
        assert r.status_code == 404, r.text
        assert not MARKER.search(r.text), r.text
    w.ledger.paths["tickets_hidden"].requests += 2


# -- the run ------------------------------------------------------------------------------------
FOLLOW_UPS = {"de": "und was steht zu ACLMARK {code}?", "en": "and what about ACLMARK {code}?"}


def ticket_text(q: Question) -> tuple[str, str]:
    """A pasted ticket about ``q``'s subject (subject, body)."""
    closing = {"de": "Danke und viele Grüße", "en": "Thanks and regards"}[q.language]
    return q.text[:120], f"{q.text}\n\n{closing}"


def run_everything(w: World, seed: int = 11) -> None:
    """The 1,000+ questions, every user, every path."""
    rng = random.Random(seed)
    qs = iter(questions(w.corpus, 2000, seed))
    conversations: list[tuple[User, str]] = []
    for i in range(350):  # search, a third of them for 50 passages
        search(w, USERS[i % len(USERS)], next(qs).text, k=50 if i % 3 == 0 else 20)
    for i in range(150):  # streamed chat, every third question continued as a follow-up
        user, q = USERS[i % len(USERS)], next(qs)
        cid = chat_stream(w, user, q.text)
        if i % 3 == 0:
            follow = FOLLOW_UPS[q.language].format(code=rng.choice(RESTRICTED_CODES))
            chat_stream(w, user, follow, cid)
        conversations.append((user, cid))
    for i in range(60):  # chat without streaming
        user, q = USERS[(i + 3) % len(USERS)], next(qs)
        conversations.append((user, chat_json(w, user, q.text)))
    for i in range(60):
        ask(w, USERS[(i + 5) % len(USERS)], next(qs).text)
    for user, cid in conversations:
        assert conversation(w, user, cid) >= 1
    # someone else's conversation is not there: not to read, not to continue
    for i in range(20):
        owner, cid = conversations[i]
        # not an admin: an admin may read every conversation (api/routes/chat.py)
        others = [u for u in USERS if u.name != owner.name and u.role != "admin"]
        intruder = others[i % len(others)]
        headers = w.headers(intruder)
        assert w.client.get(f"/v1/conversations/{cid}", headers=headers).status_code == 404
        payload = {"message": "und weiter?", "conversation_id": cid, "stream": False}
        assert w.client.post("/v1/chat", json=payload, headers=headers).status_code == 404
        w.ledger.paths["conversations_foreign"].requests += 2
    for i in range(200):  # OpenAI-compatible, half streamed, some with a conversation
        user, q = USERS[i % len(USERS)], next(qs)
        messages = [{"role": "user", "content": q.text}]
        if i % 4 == 0:
            follow = FOLLOW_UPS[q.language].format(code=rng.choice(RESTRICTED_CODES))
            messages += [{"role": "assistant", "content": "…"}, {"role": "user", "content": follow}]
        openai_chat(w, user, messages, stream=i % 2 == 1)
    suggested: list[tuple[User, str]] = []
    code_of = {t: s.code for s in w.tickets.values() for t in s.ids}

    def may_read(user: User, ticket_id: str) -> bool:
        return readable(code_of[ticket_id], user.acl_groups, agent_records=True)

    for i in range(130):  # agent assist: pasted tickets and stored ones
        user, q = AGENT_USERS[i % len(AGENT_USERS)], next(qs)
        if i % 2:
            ticket_id = rng.choice([t for t in code_of if may_read(user, t)])
            body = suggest(w, user, {"ticket_id": ticket_id})
            suggested.append((user, ticket_id))
        else:
            subject, text = ticket_text(q)
            body = suggest(w, user, {"subject": subject, "body": text})
        assert body["ai_generated"] is True
    for i, (author, ticket_id) in enumerate(suggested):  # the stored ticket, as another agent
        others = [u for u in AGENT_USERS if u != author and may_read(u, ticket_id)]
        for reader in (author, others[i % len(others)]):
            stored_ticket(w, reader, ticket_id)
    hr_ids = [t for t, code in code_of.items() if code == "tkhr"]
    for user in AGENT_USERS:  # the hr export, to every agent outside hr: as if it did not exist
        for ticket_id in rng.sample(hr_ids, 4):
            if not may_read(user, ticket_id):
                hidden_ticket(w, user, ticket_id)


def test_no_chunk_of_a_foreign_group_on_any_path(world: World) -> None:
    w = world
    assert sum(w.corpus.documents.values()) >= 400, w.corpus.documents
    documents = {c: n for c, n in w.chunks.items() if not ACL_CLASSES[c.split("-")[0]].ticket}
    assert sum(documents.values()) >= 5000, w.chunks
    groups = {g for c in documents for g in ACL_CLASSES[c].acl if g != EVERYONE}
    assert groups >= {"hr", "finance", "it-admins", "management", "board-x"}, groups
    assert w.chunks["tkhr"] > 0 and w.chunks["tkhr-full"] > 0 and w.chunks["tkpub"] > 0

    run_everything(w)

    paths = w.ledger.paths
    logger.info(
        "acl_at_scale chunks=%d ingest_s=%.0f %s",
        sum(w.chunks.values()),
        w.ingest_seconds,
        " ".join(
            f"{n}={t.requests}/{t.seconds:.0f}s/leaks={len(t.leaks)}"
            for n, t in sorted(paths.items())
        ),
    )
    assert w.ledger.leaks() == []
    asked = sum(paths[name].requests for name in QUESTION_PATHS)
    assert asked >= 1000, {n: t.requests for n, t in paths.items()}
    minimum = {
        "search": 350,
        "chat_stream": 200,
        "chat_json": 60,
        "ask": 60,
        "conversations": 210,
        "conversations_foreign": 40,
        "tickets_hidden": 16,
        "openai": 100,
        "openai_stream": 100,
        "suggest": 130,
        "similar": 130,
        "tickets_get": 130,
        "sources": 800,
    }
    for name, least in minimum.items():
        tally = paths[name]
        assert tally.requests >= least, (name, tally.requests)
        if name in ("conversations_foreign", "tickets_hidden"):
            continue
        # text flowed on every path, restricted text too, to callers who may read it
        assert tally.marked >= tally.requests // 2, (name, tally)
        assert tally.insider >= 5, (name, tally)
        assert tally.abstained <= tally.requests // 10, (name, tally)
    assert w.llm.passages >= 4 * w.llm.calls, "the model saw what retrieval found"


def test_the_board_x_user_finds_the_one_document_of_their_group(world: World) -> None:
    w = world
    board = BY_NAME["emp-boardx"]
    mark = marker("boardx", w.corpus.board_x_number)
    entries = [e for e in w.services.knowledge.manifest.entries() if e.acl == ("board-x",)]
    assert len(entries) == 1 and w.corpus.documents["boardx"] == 1
    for language in ("de", "en"):
        question = {
            "de": "Welcher Kaufpreis ist für Projekt Nordlicht vorgesehen?",
            "en": "What purchase price is planned for Projekt Nordlicht?",
        }[language]
        hits = search(w, board, question, k=5)["results"]
        assert any(mark in h["title"] for h in hits[:3]), (language, [h["title"] for h in hits])
        r = w.client.post(
            "/v1/chat",
            json={"message": question, "stream": False},
            headers=w.headers(board),
        )
        assert r.status_code == 200, r.text
        answer = r.json()
        assert not answer["abstained"], answer
        assert "84 Millionen" in answer["answer"], answer["answer"]
        assert any(mark in s["title"] for s in answer["sources"]), answer["sources"]
        w.ledger.check("chat_json", board, strings(answer))
        # management, one folder up, does not see it: the nearest sidecar wins
        for other in ("emp-mgmt", "emp-public", "agent-ita-mgmt"):
            found = search(w, BY_NAME[other], question, k=50)["results"]
            assert not any(mark in h["text"] for h in found), other
    assert w.ledger.leaks() == []


def test_the_detector_sees_every_group_when_the_caller_may(world: World) -> None:
    """The negative control: the same kind of questions as an admin in every group return
    markers of every class, and the ledger would call each of them a leak for an outsider."""
    w = world
    admin, outsider = BY_NAME["admin-all"], BY_NAME["emp-public"]
    seen: set[str] = set()
    texts: list[str] = []
    for code in ACL_CLASSES:
        for query in (f"ACLMARK {code}", f"{code} ACLMARK-{code}"):
            body = search(w, admin, query, k=20)
            found = list(strings(body["results"]))
            texts += found
            seen |= {c for t in found for c in markers_in(t)}
    assert seen == set(ACL_CLASSES), seen
    probe = Ledger()
    probe.check("search", outsider, texts)
    assert probe.paths["search"].leaked == set(RESTRICTED_CODES), probe.paths["search"].leaked


def test_hr_ticket_export_stays_within_hr_for_agents(world: World) -> None:
    """The export imported with ``--acl hr``: its full records (``agents+hr``) reach agents in
    hr as similar tickets, and no other agent, in German and English."""
    w = world
    for language in ("de", "en"):
        _, subject, body, _ = next(t for t in TICKET_TOPICS["tkhr"] if t[0] == language)
        ticket = {"subject": subject, "body": body.format(site="Bremen", mark="")}
        seen = {}
        for name in ("agent-hr", "agent-fin", "agent-plain"):
            found = suggest(w, BY_NAME[name], ticket)
            seen[name] = {c for t in strings(found["similar"]) for c in markers_in(t)}
        assert "tkhr" in seen["agent-hr"], (language, seen)
        assert "tkhr" not in seen["agent-fin"] | seen["agent-plain"], (language, seen)


def test_a_reindex_after_a_sidecar_change_moves_the_chunks(world: World) -> None:
    """A public folder becomes management-only: after the admin's reindex, public callers no
    longer get its chunks from either index, management does. (Runs last: it changes the
    corpus; the other tests do not depend on it.)"""
    w = world
    folder = w.corpus.roots[WIKI] / "allgemein" / "aushang"
    files = sorted(folder.glob("*.md"))
    assert files
    (folder / ".lotse-acl").write_text("management\n", encoding="utf-8")
    admin = w.headers(BY_NAME["admin-all"])
    r = w.client.post("/v1/admin/reindex", json={"sources": [WIKI]}, headers=admin)
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]
    deadline = time.monotonic() + 300
    while True:
        status = w.client.get(f"/v1/admin/jobs/{job}", headers=admin).json()
        if status["state"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["state"] == "succeeded", status
    summary = status["summary"][WIKI]
    assert summary["changed"] == len(files) and summary["new"] == 0, summary
    moved = {f"allgemein/aushang/{f.name}" for f in files}
    numbers = [int(f.stem.split("-")[-1]) for f in files]
    for entry in w.services.knowledge.manifest.entries(WIKI):
        if entry.source_id in moved:
            assert entry.acl == ("management",)
            stored = w.services.knowledge.vectors.get(list(entry.chunk_ids))
            assert {c.acl for c in stored} == {("management",)}
    for number in numbers:
        query = marker("pub", number)
        for name, sees in (("emp-public", False), ("agent-fin", False), ("emp-mgmt", True)):
            hits = search(w, BY_NAME[name], query, k=50)["results"]
            got = any(h["source_id"] in moved for h in hits)
            assert got == sees, (name, query)
        r = w.client.post(
            "/v1/chat", json={"message": query, "stream": False}, headers=w.headers(USERS[0])
        )
        assert r.status_code == 200 and query not in r.text, r.text[:300]
