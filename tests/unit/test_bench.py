"""`make bench`'s own parts: the generated corpus, the per-size run, the plot and the report.

The measurements themselves are not asserted (they depend on the machine); what is tested is that
the bench measures what it says it does and keeps the hand-written prose of docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

from api.bench import (
    BEGIN,
    END,
    _generated_chunks,
    bench_retrieval,
    corpus_vocabulary,
    dev_questions,
    markdown,
    plot_retrieval,
    write_section,
)
from api.settings import Settings


def fake_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", models={"embedder": "fake", "llm_backend": "fake"})


def test_vocabulary_starts_with_the_sample_words_and_has_a_long_tail() -> None:
    vocab = corpus_vocabulary(6_000)
    assert len(vocab) == len(set(vocab)) == 6_000
    head = set(vocab[:200])
    assert {"the", "und", "vpn"} <= head  # real German and English words, frequent first
    assert vocab[-1] not in {"the", "und"} and vocab[-1].isalpha()


def test_generated_chunks_follow_zipf_and_spread_over_four_groups() -> None:
    vocab = corpus_vocabulary(5_000)
    batches = list(_generated_chunks(2_500, vocab, 50, seed=1))
    chunks = [c for batch in batches for c in batch]
    assert [len(b) for b in batches] == [1000, 1000, 500]
    assert len({c.chunk_id for c in chunks}) == 2_500
    assert {c.acl for c in chunks} == {("everyone",), ("hr",), ("it-admin",), ("finance",)}
    words = [w for c in chunks for w in c.text.split()]
    first, hundredth = words.count(vocab[0]), words.count(vocab[99])
    assert first > 20 * hundredth > 0  # rank 1 about 100x as frequent as rank 100


def test_bench_retrieval_reports_totals_parts_and_memory(tmp_path: Path) -> None:
    result = bench_retrieval(fake_settings(tmp_path), 1_200, queries=12)
    assert result["chunks"] == 1_200 and result["queries"] == 12
    for part in ("embed", "dense", "lexical"):
        assert 0 < result[part]["p50_ms"] <= result[part]["p95_ms"]
    assert 0 < result["p50_ms"] <= result["p95_ms"]
    assert result["peak_rss_mb"] > 50
    assert len(dev_questions()) >= 100


def _row(n: int, p95: float) -> dict[str, object]:
    part = {"p50_ms": 1.0, "p95_ms": 2.0}
    return {
        "chunks": n,
        "queries": 200,
        "p50_ms": p95 / 2,
        "p95_ms": p95,
        "embed": part,
        "dense": part,
        "lexical": part,
        "build_s": 1.0,
        "peak_rss_mb": 300.0,
    }


def test_plot_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "plot.png"
    plot_retrieval([_row(1_000, 20.0), _row(10_000, 30.0), _row(100_000, 60.0)], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_report_marks_missed_targets_and_keeps_the_prose(tmp_path: Path) -> None:
    ingestion_row: dict[str, object] = {
        "files": 39,
        "chunks": 271,
        "ingest_chunks_per_s": 5.5,
        "raw_embed_chunks_per_s": 5.8,
        "ingest_overhead": 0.054,
        "ingest_s": 50.0,
        "reingest_s": 0.02,
        "reingest_ratio": 0.0004,
        "peak_rss_mb": 500.0,
    }
    generation_row: dict[str, object] = {
        "model": "qwen2.5-1.5b",
        "questions": 5,
        "median_prompt_tokens": 700,
        "lotse_ttft_ms": 100.0,
        "raw_ttft_ms": 95.0,
        "ttft_overhead": 0.0526,
        "lotse_tok_s": 10.0,
        "raw_tok_s": 10.1,
        "tok_s_overhead": 0.0099,
        "peak_rss_mb": 2_000.0,
    }
    result = {
        "date": "2026-12-02",
        "machine": "x86_64, 2 cores",
        "plot": "benchmarks-retrieval.png",
        "retrieval": [_row(1_000, 20.0), _row(10_000, 61.0)],
        "ingestion": ingestion_row,
        "generation": generation_row,
    }
    section = markdown(result, "make bench")
    assert "| retrieval at 10,000 chunks (200 queries) | p50 30.5 ms, p95 61.0 ms" in section
    assert "p95 < 50 ms | **missed** |" in section
    assert "overhead +5.4% | < 10% | met |" in section
    ingestion = {**ingestion_row, "rounds": 3, "ingest_overhead": 0.104}
    ingestion["ingest_overhead_range"] = [0.06, 0.15]
    rounds = markdown({**result, "ingestion": ingestion}, "make bench")
    assert "overhead +10.4% (median of 3 rounds: +6.0% to +15.0%) | < 10% | **missed** |" in rounds
    assert "| 1,000 | 10.0 ms | 20.0 ms |" in section
    assert "| time to first token (qwen2.5-1.5b, median of 5, ~700 prompt tokens)" in section
    paired = markdown({**result, "generation": {**generation_row, "pairs": 10}}, "x")
    assert "(qwen2.5-1.5b, median of 10 runs of 5 questions, ~700 prompt tokens)" in paired
    assert "translation" not in section.split("Time to first token includes")[0]
    translated = markdown(
        {
            **result,
            "generation": {**generation_row, "translate_ms": 1500.0, "translate_share": 0.15},
        },
        "x",
    )
    assert (
        "| the question's translation before retrieval (median of 5) | 1500.0 ms | | "
        "15.0% of Lotse's time to first token, added to it | | |"
    ) in translated
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\nIntro.\n\n## Where the misses come from\n\nProse.\n", "utf-8")
    write_section(path, section)
    write_section(path, section.replace("61.0 ms", "48.0 ms"))  # a second run replaces the first
    text = path.read_text("utf-8")
    assert text.count(BEGIN) == text.count(END) == 1
    assert "Intro." in text and "Prose." in text and "p95 48.0 ms" in text
    assert "p95 61.0 ms" not in text
