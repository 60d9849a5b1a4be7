"""`make bench`: Lotse's pipeline against its raw parts, measured side by side in one run.

Every figure is a ratio of two measurements taken in the same process on the same machine:
- ingestion chunks/s against the raw embedder on exactly the chunks ingestion produced;
- re-ingesting an unchanged corpus against the full ingestion;
- retrieval p50/p95 (query embedding + both indexes + fusion) at 10k chunks;
- time to first token and tokens/s of ``Assistant.stream`` against llama-cpp-python called
  directly with the identical messages (KV cache reset before every run of either).
Writes JSON and a Markdown table (docs/benchmarks.md by default).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from api.settings import Settings
from api.wiring import build_assistant, build_llm, open_knowledge
from assistant.identity import OPERATOR
from knowledge.documents import Chunk

SAMPLE = Path(__file__).resolve().parent.parent / "knowledge" / "sample" / "docs"
QUESTIONS = [
    "Wie verbinde ich mich von zu Hause mit dem VPN?",
    "How many vacation days do full-time employees get?",
    "Wie melde ich eine Phishing-Mail?",
    "How do I print on the FollowMe printers?",
    "Bis wann muss ich mich krankmelden?",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def bench_ingestion(settings: Settings, copies: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lotse-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        for i in range(copies):
            shutil.copytree(SAMPLE, corpus / f"copy{i}")
        data = Settings(**{**settings.model_dump(), "data_dir": Path(tmp) / "data"})
        knowledge = open_knowledge(data, purpose="lotse bench")
        try:
            started = time.perf_counter()
            full = knowledge.indexer.ingest(corpus, source="bench")
            full_s = time.perf_counter() - started
            started = time.perf_counter()
            again = knowledge.indexer.ingest(corpus, source="bench")
            again_s = time.perf_counter() - started
            ids = [i for e in knowledge.manifest.entries("bench") for i in e.chunk_ids]
            chunks: list[Chunk] = knowledge.vectors.get(ids)
            texts = [c.embedding_text for c in chunks]
            batch = data.knowledge.embed_batch
            started = time.perf_counter()
            for start in range(0, len(texts), batch):
                knowledge.embedder.embed_passages(texts[start : start + batch])
            raw_s = time.perf_counter() - started
        finally:
            knowledge.close()
    return {
        "files": full.files_seen,
        "chunks": full.chunks_written,
        "ingest_s": round(full_s, 2),
        "ingest_chunks_per_s": round(full.chunks_written / full_s, 1),
        "raw_embed_s": round(raw_s, 2),
        "raw_embed_chunks_per_s": round(len(texts) / raw_s, 1),
        "ingest_overhead": round(full_s / raw_s - 1, 4),
        "reingest_s": round(again_s, 3),
        "reingest_unchanged": again.unchanged,
        "reingest_ratio": round(again_s / full_s, 4),
    }


def bench_retrieval(settings: Settings, n_chunks: int, queries: int = 200) -> dict[str, Any]:
    import numpy as np

    rng = random.Random(7)
    vocab = (  # noqa: SIM905 - easier to edit as prose
        "drucker passwort vpn urlaub reise kosten laptop wlan teams outlook konto zugang "
        "printer password leave travel expenses badge parking meeting room software request "
        "anmeldung fehler netzwerk server portal ticket rechnung antrag genehmigung "
        "onboarding sick note manager policy device phone mobile update install"
    ).split()
    with tempfile.TemporaryDirectory(prefix="lotse-bench-") as tmp:
        data = Settings(**{**settings.model_dump(), "data_dir": Path(tmp) / "data"})
        knowledge = open_knowledge(data, purpose="lotse bench")
        try:
            dim = knowledge.embedder.dim
            np_rng = np.random.default_rng(7)
            groups = ["everyone", "hr", "it-admin", "finance"]
            for start in range(0, n_chunks, 1000):
                chunks = [
                    Chunk(
                        chunk_id=f"b{i}",
                        text=" ".join(rng.choices(vocab, k=60)),
                        source_id=f"gen/{i // 10}.md",
                        title=f"Doc {i // 10}",
                        heading=f"Doc {i // 10} > S{i % 10}",
                        position=i % 10,
                        language="de",
                        acl=(groups[i % 4],),
                        content_hash=f"h{i // 10}",
                    )
                    for i in range(start, min(n_chunks, start + 1000))
                ]
                vectors = np_rng.standard_normal((len(chunks), dim)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                knowledge.vectors.upsert(chunks, vectors)
                knowledge.lexical.upsert(chunks)
            latencies = []
            for _ in range(queries):
                query = " ".join(rng.choices(vocab, k=6))
                started = time.perf_counter()
                knowledge.retriever.retrieve(query, ("everyone", "hr"))
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            knowledge.close()
    return {
        "chunks": n_chunks,
        "queries": queries,
        "p50_ms": round(pct(latencies, 50), 2),
        "p95_ms": round(pct(latencies, 95), 2),
    }


def _raw_stream(
    raw: Any, messages: list[dict[str, str]], max_tokens: int
) -> tuple[float, int, float]:
    raw.reset()
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    for part in raw.create_chat_completion(
        messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
    ):
        delta = part["choices"][0].get("delta", {}).get("content")
        if delta:
            tokens += 1
            first = first or time.perf_counter()
    end = time.perf_counter()
    assert first is not None
    return (first - started) * 1000, tokens, tokens / max(end - first, 1e-9)


def bench_generation(settings: Settings, max_tokens: int = 96) -> dict[str, Any]:
    from assistant.answering import DoneEvent, TokenEvent
    from assistant.prompting import build_answer_prompt
    from models.llamacpp import LlamaCppLLM

    with tempfile.TemporaryDirectory(prefix="lotse-bench-") as tmp:
        data = Settings(
            **{
                **settings.model_dump(),
                "data_dir": Path(tmp) / "data",
                "models": {
                    **settings.models.model_dump(),
                    "temperature": 0.0,
                    "max_tokens": max_tokens,
                },
                "retrieval": {**settings.retrieval.model_dump(), "min_evidence": -1.0},
            }
        )
        knowledge = open_knowledge(data, purpose="lotse bench")
        try:
            knowledge.indexer.ingest(SAMPLE, source="sample")
            llm = build_llm(data)
            assert isinstance(llm, LlamaCppLLM), "the generation bench needs the llamacpp backend"
            assistant = build_assistant(data, knowledge, llm)
            rows: list[dict[str, float]] = []
            for question in QUESTIONS:
                retrieval = knowledge.retriever.retrieve(question, None)
                prompt = build_answer_prompt(
                    question,
                    [r.chunk for r in retrieval.results[: assistant.config.context_k]],
                    language=assistant.language_of(question),
                    count_tokens=llm.count_tokens,
                    budget_tokens=llm.context_size - max_tokens - 16,
                )
                messages = [{"role": m.role, "content": m.content} for m in prompt.messages]
                raw_ttft, _, raw_tps = _raw_stream(llm.raw, messages, max_tokens)
                llm.raw.reset()
                started = time.perf_counter()
                first = None
                pieces = 0
                for event in assistant.stream(question, OPERATOR):
                    if isinstance(event, TokenEvent):
                        pieces += 1
                        first = first or time.perf_counter()
                    elif isinstance(event, DoneEvent):
                        end = time.perf_counter()
                        completion = event.answer.timings.completion_tokens
                lotse_ttft = ((first or end) - started) * 1000
                lotse_tps = completion / max(end - (first or end), 1e-9)
                rows.append(
                    {
                        "prompt_tokens": prompt.prompt_tokens,
                        "raw_ttft_ms": raw_ttft,
                        "lotse_ttft_ms": lotse_ttft,
                        "raw_tok_s": raw_tps,
                        "lotse_tok_s": lotse_tps,
                    }
                )
        finally:
            knowledge.close()
    raw_ttft = statistics.median(r["raw_ttft_ms"] for r in rows)
    lotse_ttft = statistics.median(r["lotse_ttft_ms"] for r in rows)
    raw_tps = statistics.median(r["raw_tok_s"] for r in rows)
    lotse_tps = statistics.median(r["lotse_tok_s"] for r in rows)
    return {
        "model": data.models.llm,
        "questions": len(rows),
        "median_prompt_tokens": statistics.median(r["prompt_tokens"] for r in rows),
        "raw_ttft_ms": round(raw_ttft, 1),
        "lotse_ttft_ms": round(lotse_ttft, 1),
        "ttft_overhead": round(lotse_ttft / raw_ttft - 1, 4),
        "raw_tok_s": round(raw_tps, 1),
        "lotse_tok_s": round(lotse_tps, 1),
        "tok_s_overhead": round(1 - lotse_tps / raw_tps, 4),
    }


def markdown(result: dict[str, Any], command: str) -> str:
    ing, ret, gen = result["ingestion"], result["retrieval"], result["generation"]

    def ok(flag: bool) -> str:
        return "met" if flag else "**missed**"

    lines = [
        "# Benchmarks",
        "",
        f"Measured {result['date']} on {result['machine']} with `{command}`.",
        "Every comparison is a ratio of two measurements taken in the same run.",
        "",
        "| what | Lotse | raw part | ratio | target | |",
        "|---|---|---|---|---|---|",
        f"| ingestion ({ing['chunks']} chunks, {ing['files']} files) | "
        f"{ing['ingest_chunks_per_s']} chunks/s | {ing['raw_embed_chunks_per_s']} chunks/s "
        f"(embedder alone) | overhead {ing['ingest_overhead']:+.1%} | < 10% | "
        f"{ok(ing['ingest_overhead'] < 0.10)} |",
        f"| re-ingest unchanged corpus | {ing['reingest_s']} s | {ing['ingest_s']} s (full) | "
        f"{ing['reingest_ratio']:.2%} | < 5% | {ok(ing['reingest_ratio'] < 0.05)} |",
        f"| retrieval at {ret['chunks']:,} chunks ({ret['queries']} queries) | "
        f"p50 {ret['p50_ms']} ms, p95 {ret['p95_ms']} ms | | | p95 < 50 ms | "
        f"{ok(ret['p95_ms'] < 50)} |",
        f"| time to first token ({gen['model']}, median of {gen['questions']}, "
        f"~{gen['median_prompt_tokens']:.0f} prompt tokens) | {gen['lotse_ttft_ms']} ms | "
        f"{gen['raw_ttft_ms']} ms (llama-cpp-python) | overhead {gen['ttft_overhead']:+.1%} | "
        f"< 10% | {ok(gen['ttft_overhead'] < 0.10)} |",
        f"| generation speed | {gen['lotse_tok_s']} tok/s | {gen['raw_tok_s']} tok/s | "
        f"overhead {gen['tok_s_overhead']:+.1%} | < 10% | {ok(gen['tok_s_overhead'] < 0.10)} |",
        "",
        "Time to first token includes Lotse's retrieval (query embedding, both indexes, fusion) "
        "and prompt building; the raw call gets the finished prompt. The KV cache is reset "
        "before every run of either, so neither profits from the other's prompt prefix.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--json", type=Path, default=Path("docs/benchmarks.json"))
    parser.add_argument("--copies", type=int, default=1, help="copies of the sample corpus")
    parser.add_argument("--chunks", type=int, default=10_000)
    args = parser.parse_args(argv)
    settings = Settings()
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "ingestion": bench_ingestion(settings, args.copies),
        "retrieval": bench_retrieval(settings, args.chunks),
        "generation": bench_generation(settings),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    text = markdown(result, "make bench")
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
