"""`make bench`: Lotse's pipeline against its raw parts, measured side by side in one run.

Every figure is a ratio of two measurements taken in the same process on the same machine:
- ingestion chunks/s against the raw embedder on exactly the chunks ingestion produced;
- re-ingesting an unchanged corpus against the full ingestion;
- retrieval p50/p95 (query embedding + both indexes + fusion) at 1k, 10k and 100k chunks,
  with each part timed alone, plotted against corpus size (PNG);
- time to first token and tokens/s of ``Assistant.stream`` against llama-cpp-python called
  directly with the identical messages (KV cache reset before every run of either);
- peak memory of each phase (each runs in its own process).
Writes JSON and the generated section of docs/benchmarks.md (between the ``bench`` markers;
the prose around it is kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.settings import Settings
from api.wiring import Knowledge, build_assistant, build_llm, open_knowledge
from assistant.identity import OPERATOR
from knowledge.documents import Chunk
from models.latent import LatentTerms

if TYPE_CHECKING:
    from assistant.answering import Assistant
    from models.llamacpp import LlamaCppLLM

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


def bench_ingestion(settings: Settings, copies: int, rounds: int = 3) -> dict[str, Any]:
    """Ingestion against the raw embedder on exactly the chunks ingestion produced, ``rounds``
    times in turn (each round a fresh index: ingest, then the raw embedding). The embedder's
    own speed on this kind of machine varies by about 10% from minute to minute, as much as
    the overhead being measured, so the ratio is the median of the rounds' ratios, reported
    with their range; the throughputs are that round's."""
    measured = []
    with tempfile.TemporaryDirectory(prefix="lotse-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        for i in range(copies):
            shutil.copytree(SAMPLE, corpus / f"copy{i}")
        for n in range(rounds):
            data = Settings(**{**settings.model_dump(), "data_dir": Path(tmp) / f"data{n}"})
            measured.append(_ingestion_round(data, corpus, reingest=n == 0))

    def overhead(m: dict[str, Any]) -> float:
        return float(m["ingest_s"] / m["raw_embed_s"] - 1)

    by_overhead = sorted(measured, key=overhead)
    row = by_overhead[len(by_overhead) // 2]
    median = overhead(row)
    first = measured[0]
    return {
        "files": row["files"],
        "chunks": row["chunks"],
        "rounds": rounds,
        "raw_includes_latent": row["raw_includes_latent"],
        "ingest_s": round(row["ingest_s"], 2),
        "ingest_chunks_per_s": round(row["chunks"] / row["ingest_s"], 1),
        "raw_embed_s": round(row["raw_embed_s"], 2),
        "raw_embed_chunks_per_s": round(row["chunks"] / row["raw_embed_s"], 1),
        "ingest_overhead": round(median, 4),
        "ingest_overhead_range": [
            round(overhead(by_overhead[0]), 4),
            round(overhead(by_overhead[-1]), 4),
        ],
        "reingest_s": round(first["reingest_s"], 3),
        "reingest_unchanged": first["reingest_unchanged"],
        "reingest_ratio": round(first["reingest_s"] / first["ingest_s"], 4),
        "peak_rss_mb": peak_rss_mb(),
    }


def _ingestion_round(data: Settings, corpus: Path, *, reingest: bool) -> dict[str, Any]:
    knowledge = open_knowledge(data, purpose="lotse bench")
    try:
        started = time.perf_counter()
        full = knowledge.indexer.ingest(corpus, source="bench")
        full_s = time.perf_counter() - started
        again_s, unchanged = 0.0, 0
        if reingest:
            started = time.perf_counter()
            again = knowledge.indexer.ingest(corpus, source="bench")
            again_s, unchanged = time.perf_counter() - started, again.unchanged
        ids = [i for e in knowledge.manifest.entries("bench") for i in e.chunk_ids]
        chunks: list[Chunk] = knowledge.vectors.get(ids)
        texts = [c.embedding_text for c in chunks]
        batch = data.knowledge.embed_batch
        # the embedder's whole work on these chunks: its dense pass, and its latent-term pass
        # when ingestion computes them (the index needs both)
        latent = knowledge.indexer.latent
        started = time.perf_counter()
        for start in range(0, len(texts), batch):
            knowledge.embedder.embed_passages(texts[start : start + batch])
            if latent is not None:
                latent.latent_passages(texts[start : start + batch])
        raw_s = time.perf_counter() - started
    finally:
        knowledge.close()
    return {
        "files": full.files_seen,
        "chunks": full.chunks_written,
        "ingest_s": full_s,
        "raw_embed_s": raw_s,
        "reingest_s": again_s,
        "reingest_unchanged": unchanged,
        "raw_includes_latent": latent is not None,
    }


# syllables for the invented long-tail words
SYLLABLES = re.findall(
    r"\w+", "ka lo mi ne tu ra ve si po da le gri ber wal stein feld an ter ox ul in mar"
)


def corpus_vocabulary(vocab_size: int, seed: int = 7) -> list[str]:
    """The words of a generated corpus, most frequent first: the sample knowledge's own words
    in their observed order, then invented words for the long tail a real corpus has (a 100k
    chunk wiki has far more distinct words than 39 sample files)."""
    counts: Counter[str] = Counter()
    for path in sorted(SAMPLE.rglob("*")):
        if path.suffix in (".md", ".html", ".eml"):
            text = re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8", errors="ignore"))
            counts.update(w.casefold() for w in re.findall(r"[^\W\d_][\w-]+", text))
    words = [w for w, _ in counts.most_common()]
    rng = random.Random(seed)
    seen = set(words)
    while len(words) < vocab_size:
        word = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words[:vocab_size]


def _generated_chunks(
    n_chunks: int, vocab: list[str], words_per_chunk: int, seed: int
) -> Iterator[list[Chunk]]:
    """Chunks whose words follow Zipf's law (s = 1) over ``vocab``, in batches of 1,000."""
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    groups = ["everyone", "hr", "it-admin", "finance"]
    for start in range(0, n_chunks, 1000):
        ids = range(start, min(n_chunks, start + 1000))
        draws = rng.choice(len(vocab), size=(len(ids), words_per_chunk), p=weights)
        yield [
            Chunk(
                chunk_id=f"b{i}",
                text=" ".join(vocab[w] for w in row),
                source_id=f"gen/{i // 10}.md",
                title=f"Doc {i // 10}",
                heading=f"Doc {i // 10} > S{i % 10}",
                position=i % 10,
                language="de",
                acl=(groups[i % 4],),
                content_hash=f"h{i // 10}",
            )
            for i, row in zip(ids, draws, strict=True)
        ]


def dev_questions() -> list[str]:
    path = SAMPLE.parent / "eval" / "retrieval.jsonl"
    return [json.loads(line)["question"] for line in path.read_text("utf-8").splitlines() if line]


def bench_retrieval(settings: Settings, n_chunks: int, queries: int = 200) -> dict[str, Any]:
    """Retrieval latency over a generated corpus of ``n_chunks`` (Zipf-distributed words,
    random unit vectors) with the real dev questions as queries, as a user of two of the four
    groups. Also times the three parts on their own: query embedding, vector index, keyword
    index. Runs in its own process so that its peak memory is its own."""
    import numpy as np

    vocab = corpus_vocabulary(max(20_000, n_chunks // 2))
    questions = dev_questions()
    groups = ("everyone", "hr")
    with tempfile.TemporaryDirectory(prefix="lotse-bench-") as tmp:
        data = Settings(**{**settings.model_dump(), "data_dir": Path(tmp) / "data"})
        knowledge = open_knowledge(data, purpose="lotse bench")
        try:
            np_rng = np.random.default_rng(7)
            latent = knowledge.indexer.latent  # the corpus gets terms when ingestion would
            started = time.perf_counter()
            for chunks in _generated_chunks(n_chunks, vocab, 150, seed=7):
                vectors = np_rng.standard_normal((len(chunks), knowledge.embedder.dim))
                vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(
                    np.float32
                )
                knowledge.vectors.upsert(chunks, vectors)
                knowledge.lexical.upsert(
                    chunks, latent=random_latent(np_rng, len(chunks)) if latent else None
                )
            build_s = time.perf_counter() - started
            retriever = knowledge.retriever
            cfg = retriever.config
            for question in questions[:5]:  # warm-up: caches, first-call allocations
                retriever.retrieve(question, groups)
            total: list[float] = []
            embed: list[float] = []
            latent_ms: list[float] = []
            dense: list[float] = []
            lexical: list[float] = []
            for n in range(queries):
                question = questions[n % len(questions)]
                t0 = time.perf_counter()
                retriever.retrieve(question, groups)
                t1 = time.perf_counter()
                vector = knowledge.embedder.embed_query(question)
                t2 = time.perf_counter()
                embed.append((t2 - t1) * 1000)
                if latent is not None:
                    latent.latent_query(question)
                    latent_ms.append((time.perf_counter() - t2) * 1000)
                    t2 = time.perf_counter()
                knowledge.vectors.query(vector, cfg.dense_k, groups)
                t3 = time.perf_counter()
                knowledge.lexical.search(question, cfg.lexical_k, groups)
                t4 = time.perf_counter()
                total.append((t1 - t0) * 1000)
                dense.append((t3 - t2) * 1000)
                lexical.append((t4 - t3) * 1000)
        finally:
            knowledge.close()

    def p(values: list[float]) -> dict[str, float]:
        return {"p50_ms": round(pct(values, 50), 2), "p95_ms": round(pct(values, 95), 2)}

    return {
        "chunks": n_chunks,
        "queries": queries,
        "vocabulary": len(vocab),
        "build_s": round(build_s, 1),
        **p(total),
        "embed": p(embed),
        "latent": p(latent_ms) if latent_ms else None,
        "dense": p(dense),
        "lexical": p(lexical),
        "peak_rss_mb": peak_rss_mb(),
    }


def random_latent(rng: Any, n: int) -> list[LatentTerms]:
    """Latent terms for generated chunks: 256 of 16,384 features each, as e5's sparse head
    gives, so that rescoring reads and scores records of the real size."""
    return [
        LatentTerms.of(rng.choice(16_384, size=256, replace=False), rng.random(256) + 1e-3)
        for _ in range(n)
    ]


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports ru_maxrss in KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run one measurement in a fresh process: its peak memory is its own, and a 100k-chunk
    corpus leaves nothing behind in the parent."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def plot_retrieval(rows: list[dict[str, Any]], path: Path) -> None:
    """Retrieval latency (p50, p95, and the parts' p95) against corpus size, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display
    import matplotlib.pyplot as plt

    sizes = [r["chunks"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(sizes, [r["p95_ms"] for r in rows], "o-", color="#b03a2e", label="retrieval p95")
    ax.plot(sizes, [r["p50_ms"] for r in rows], "o-", color="#e6a09a", label="retrieval p50")
    for part, colour in (("embed", "#1f618d"), ("dense", "#117a65"), ("lexical", "#7d6608")):
        ax.plot(sizes, [r[part]["p95_ms"] for r in rows], ".--", color=colour, label=f"{part} p95")
    ax.axhline(50, color="grey", linewidth=0.8, linestyle=":", label="target p95 at 10k")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("milliseconds")
    ax.set_title("Lotse retrieval latency against corpus size")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


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


def bench_generation(settings: Settings, max_tokens: int = 96, rounds: int = 2) -> dict[str, Any]:
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
                # the overhead pairs compare identical prompts; the translation before
                # retrieval is a model call of its own, timed separately below
                "retrieval": {
                    **settings.retrieval.model_dump(),
                    "min_evidence": -1.0,
                    "translate_question": False,
                },
            }
        )
        knowledge = open_knowledge(data, purpose="lotse bench")
        try:
            knowledge.indexer.ingest(SAMPLE, source="sample")
            llm = build_llm(data)
            assert isinstance(llm, LlamaCppLLM), "the generation bench needs the llamacpp backend"
            assistant = build_assistant(data, knowledge, llm)
            rows: list[dict[str, float]] = []
            # Each question twice, the raw call first in one round and Lotse first in the
            # other: on this kind of machine a single pair varies by up to 20% (the speed
            # drifts from minute to minute), and a fixed order would put the drift into the ratio.
            for round_ in range(rounds):
                for n, question in enumerate(QUESTIONS):
                    raw_first = (n + round_) % 2 == 0
                    rows.append(
                        _generation_pair(
                            knowledge, llm, assistant, question, max_tokens, raw_first=raw_first
                        )
                    )
            translate_ms = _translation_times(llm, assistant)
        finally:
            knowledge.close()
    raw_ttft = statistics.median(r["raw_ttft_ms"] for r in rows)
    lotse_ttft = statistics.median(r["lotse_ttft_ms"] for r in rows)
    raw_tps = statistics.median(r["raw_tok_s"] for r in rows)
    lotse_tps = statistics.median(r["lotse_tok_s"] for r in rows)
    return {
        "model": data.models.llm,
        "questions": len(QUESTIONS),
        "pairs": len(rows),
        "median_prompt_tokens": statistics.median(r["prompt_tokens"] for r in rows),
        "raw_ttft_ms": round(raw_ttft, 1),
        "lotse_ttft_ms": round(lotse_ttft, 1),
        "ttft_overhead": round(lotse_ttft / raw_ttft - 1, 4),
        "raw_tok_s": round(raw_tps, 1),
        "lotse_tok_s": round(lotse_tps, 1),
        "tok_s_overhead": round(1 - lotse_tps / raw_tps, 4),
        "translate_ms": round(statistics.median(translate_ms), 1),
        "translate_share": round(statistics.median(translate_ms) / lotse_ttft, 4),
        "peak_rss_mb": peak_rss_mb(),
    }


def _translation_times(llm: LlamaCppLLM, assistant: Assistant) -> list[float]:
    """Milliseconds of each question's translation (``retrieval.translate_question``): what it
    adds to the time to first token when on, measured beside it."""
    from assistant.translation import ModelTranslator

    translator = ModelTranslator(llm)
    times = []
    for question in QUESTIONS:
        llm.raw.reset()
        started = time.perf_counter()
        translator.translate(question, assistant.language_of(question))
        times.append((time.perf_counter() - started) * 1000)
    return times


def _generation_pair(
    knowledge: Knowledge,
    llm: LlamaCppLLM,
    assistant: Assistant,
    question: str,
    max_tokens: int,
    *,
    raw_first: bool,
) -> dict[str, float]:
    """One question through llama-cpp-python alone and through Lotse, on the same prompt."""
    from assistant.answering import DoneEvent, TokenEvent
    from assistant.prompting import build_answer_prompt

    retrieval = knowledge.retriever.retrieve(question, None)
    prompt = build_answer_prompt(
        question,
        [r.chunk for r in retrieval.results[: assistant.config.context_k]],
        language=assistant.language_of(question),
        count_tokens=llm.count_tokens,
        budget_tokens=llm.context_size - max_tokens - 16,
    )
    messages = [{"role": m.role, "content": m.content} for m in prompt.messages]

    def raw() -> tuple[float, float]:
        raw_ttft, _, raw_tps = _raw_stream(llm.raw, messages, max_tokens)  # resets the cache
        return raw_ttft, raw_tps

    def lotse() -> tuple[float, float]:
        llm.raw.reset()
        started = time.perf_counter()
        first = end = None
        completion = 0
        for event in assistant.stream(question, OPERATOR):
            if isinstance(event, TokenEvent):
                first = first or time.perf_counter()
            elif isinstance(event, DoneEvent):
                end = time.perf_counter()
                completion = event.answer.timings.completion_tokens
        assert end is not None, "the answer stream ended without its done event"
        ttft = ((first or end) - started) * 1000
        return ttft, completion / max(end - (first or end), 1e-9)

    if raw_first:
        (raw_ttft, raw_tps), (lotse_ttft, lotse_tps) = raw(), lotse()
    else:
        (lotse_ttft, lotse_tps), (raw_ttft, raw_tps) = lotse(), raw()
    return {
        "prompt_tokens": prompt.prompt_tokens,
        "raw_ttft_ms": raw_ttft,
        "lotse_ttft_ms": lotse_ttft,
        "raw_tok_s": raw_tps,
        "lotse_tok_s": lotse_tps,
    }


def markdown(result: dict[str, Any], command: str) -> str:
    ing, gen = result["ingestion"], result["generation"]
    sizes = result["retrieval"]
    ret = next((r for r in sizes if r["chunks"] == 10_000), sizes[-1])
    with_latent = all(r.get("latent") for r in sizes)  # the run rescored with latent terms
    latent_prose = (
        (
            " and random latent terms of the real size",
            "keyword search and the question's latent terms run",
        )
        if with_latent
        else ("", "keyword search runs")
    )

    def ok(flag: bool) -> str:
        return "met" if flag else "**missed**"

    lines = [
        f"Measured {result['date']} on {result['machine']} with `{command}`.",
        "Every comparison is a ratio of two measurements taken in the same run.",
        "",
        "| what | Lotse | raw part | ratio | target | |",
        "|---|---|---|---|---|---|",
        f"| ingestion ({ing['chunks']} chunks, {ing['files']} files) | "
        f"{ing['ingest_chunks_per_s']} chunks/s | {ing['raw_embed_chunks_per_s']} chunks/s "
        f"(embedder alone{', dense and latent terms' if ing.get('raw_includes_latent') else ''}) "
        f"| overhead {ing['ingest_overhead']:+.1%}{_spread(ing)} | < 10% | "
        f"{ok(ing['ingest_overhead'] < 0.10)} |",
        f"| re-ingest unchanged corpus | {ing['reingest_s']} s | {ing['ingest_s']} s (full) | "
        f"{ing['reingest_ratio']:.2%} | < 5% | {ok(ing['reingest_ratio'] < 0.05)} |",
        f"| retrieval at {ret['chunks']:,} chunks ({ret['queries']} queries) | "
        f"p50 {ret['p50_ms']} ms, p95 {ret['p95_ms']} ms | | | p95 < 50 ms | "
        f"{ok(ret['p95_ms'] < 50)} |",
        f"| time to first token ({gen['model']}, median of {_pairs(gen)}, "
        f"~{gen['median_prompt_tokens']:.0f} prompt tokens) | {gen['lotse_ttft_ms']} ms | "
        f"{gen['raw_ttft_ms']} ms (llama-cpp-python) | overhead {gen['ttft_overhead']:+.1%} | "
        f"< 10% | {ok(gen['ttft_overhead'] < 0.10)} |",
        f"| generation speed | {gen['lotse_tok_s']} tok/s | {gen['raw_tok_s']} tok/s | "
        f"overhead {gen['tok_s_overhead']:+.1%} | < 10% | {ok(gen['tok_s_overhead'] < 0.10)} |",
        *(
            [
                f"| the question's translation before retrieval (median of "
                f"{gen['questions']}) | {gen['translate_ms']} ms | | "
                f"{gen['translate_share']:.1%} of Lotse's time to first token, added to it "
                "| | |"
            ]
            if "translate_ms" in gen
            else []
        ),
        "",
        "Time to first token includes Lotse's retrieval (query embedding, both indexes, fusion) "
        "and prompt building; the raw call gets the finished prompt. The KV cache is reset "
        "before every run of either, so neither profits from the other's prompt prefix. Each "
        "question runs twice, the raw call first in one round and Lotse first in the other. "
        "Both sides search with the question alone; the translation Lotse asks the model for "
        "with `LOTSE_RETRIEVAL__TRANSLATE_QUESTION=true` is timed on its own.",
        "",
        "### Retrieval against corpus size",
        "",
        "A generated corpus (150 words per chunk drawn by Zipf's law from the sample "
        "knowledge's own words plus an invented long tail; random unit vectors"
        f"{latent_prose[0]}) in four ACL groups, queried with the real dev questions "
        "(`knowledge/sample/eval/retrieval.jsonl`) as a user of two groups. Total = one "
        f"`retrieve` call (the {latent_prose[1]} beside the query embedding "
        "and the vector search); the parts are timed alone. Each size runs in its own "
        "process; peak memory is that process's peak RSS.",
        "",
        "| chunks | total p50 | total p95 | embed p95 | "
        f"{'latent terms p95 | ' if with_latent else ''}vector p95 "
        "| keyword p95 | index build | peak memory |",
        "|---|---|---|---|---|---|---|---|" + ("---|" if with_latent else ""),
    ]
    for r in sizes:
        latent_cell = f"{r['latent']['p95_ms']} ms | " if with_latent else ""
        lines.append(
            f"| {r['chunks']:,} | {r['p50_ms']} ms | {r['p95_ms']} ms | "
            f"{r['embed']['p95_ms']} ms | {latent_cell}{r['dense']['p95_ms']} ms | "
            f"{r['lexical']['p95_ms']} ms | {r['build_s']} s | {r['peak_rss_mb']:,.0f} MB |"
        )
    lines += [
        "",
        f"![retrieval latency against corpus size]({result['plot']})",
        "",
        f"Peak memory: ingestion {ing['peak_rss_mb']:,.0f} MB; generation with "
        f"{gen['model']} {gen['peak_rss_mb']:,.0f} MB.",
    ]
    return "\n".join(lines)


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def write_section(path: Path, section: str) -> None:
    """Replace the generated part of ``path`` (between the markers) and keep the prose."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def _pairs(gen: dict[str, Any]) -> str:
    """How many runs the medians are of, e.g. "10 runs of 5 questions"."""
    pairs = gen.get("pairs")
    return f"{pairs} runs of {gen['questions']} questions" if pairs else str(gen["questions"])


def _spread(ing: dict[str, Any]) -> str:
    """The range of the rounds' ratios, e.g. " (median of 3 rounds: +8.1% to +12.0%)"."""
    spread = ing.get("ingest_overhead_range")
    if not spread:
        return ""
    low, high = spread
    return f" (median of {ing['rounds']} rounds: {low:+.1%} to {high:+.1%})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--json", type=Path, default=Path("docs/benchmarks.json"))
    parser.add_argument("--plot", type=Path, default=Path("docs/benchmarks-retrieval.png"))
    parser.add_argument("--copies", type=int, default=1, help="copies of the sample corpus")
    parser.add_argument(
        "--sizes", default="1000,10000,100000", help="corpus sizes for retrieval, comma-separated"
    )
    parser.add_argument("--queries", type=int, default=200, help="queries per corpus size")
    args = parser.parse_args(argv)
    settings = Settings()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    retrieval = []
    for n in sizes:
        print(f"retrieval at {n:,} chunks ...", flush=True)
        retrieval.append(in_child(bench_retrieval, settings, n, args.queries))
    print("ingestion ...", flush=True)
    ingestion = in_child(bench_ingestion, settings, args.copies)
    print("generation ...", flush=True)
    generation = in_child(bench_generation, settings)
    plot_retrieval(retrieval, args.plot)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "ingestion": ingestion,
        "retrieval": retrieval,
        "generation": generation,
        "plot": os.path.relpath(args.plot, args.out.parent),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    section = markdown(result, "make bench")
    write_section(args.out, section)
    print(section)


if __name__ == "__main__":
    main()
