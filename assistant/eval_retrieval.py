"""``lotse eval retrieval``: does the right document come back, and how high?

Each row of a JSONL dataset ``{"id", "question", "language", "relevant": [source ids]}`` is
searched with several retrieval configurations over the same index — dense only, keyword only,
and the hybrid fusion Lotse answers with — and scored at the *document* level: the ranked
chunks are first collapsed to distinct source ids in rank order (a document's second chunk
does not count twice), then compared with ``relevant``:

* ``recall@k``: the share of the relevant documents among the first ``k`` documents, averaged
  over the questions;
* ``mrr``: the mean of ``1 / rank`` of the first relevant document (0 when none came back);
* ``ndcg@10``: binary-relevance nDCG over the first 10 documents.

The retrieval runs with a filter of the given ``groups`` (the CLI passes every ACL group in
the index), so restricted documents the dataset targets are reachable. Which embedders are
compared is the caller's business: one index per embedder (``lotse eval retrieval --corpus``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.eval_common import load_cases, read_report
from assistant.retrieval import LATENT_WEIGHT, HybridRetriever, RankedChunk, RetrievalConfig
from models.errors import InvalidInput

MODES = ("dense", "lexical", "hybrid", "hybrid-latent")
CUTOFFS = (1, 5, 10)


def mode_config(base: RetrievalConfig, mode: str) -> RetrievalConfig:
    """``hybrid`` is what answers use, as configured; ``hybrid-latent`` the same candidates
    rescored with latent terms (the configured weight, or the measured one when they are off)."""
    if mode == "hybrid-latent":
        return replace(base, mode="hybrid", latent_weight=base.latent_weight or LATENT_WEIGHT)
    return replace(base, mode=mode)


@dataclass(frozen=True)
class RetrievalCase:
    id: str
    question: str
    language: str
    relevant: tuple[str, ...]


def load_retrieval_cases(path: Path) -> list[RetrievalCase]:
    cases = load_cases(path, RetrievalCase, what="a retrieval case")
    for case in cases:
        if not case.relevant:
            raise InvalidInput(f"{path}: case {case.id} lists no relevant document")
    return cases


# ------------------------------------------------------------------------------------ metrics


def distinct_documents(results: Sequence[RankedChunk]) -> list[str]:
    """The source ids of ranked chunks, each once, in the order of their best chunk."""
    seen: dict[str, None] = {}
    for r in results:
        seen.setdefault(r.chunk.source_id, None)
    return list(seen)


def recall_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(set(relevant))


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    wanted = set(relevant)
    for rank, doc in enumerate(ranked, start=1):
        if doc in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    wanted = set(relevant)
    if not wanted:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, doc in enumerate(ranked[:k], start=1) if doc in wanted)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


@dataclass
class Scores:
    """Sums of the per-question metrics; the report divides by ``n``."""

    n: int = 0
    recall: dict[int, float] = field(default_factory=lambda: dict.fromkeys(CUTOFFS, 0.0))
    mrr: float = 0.0
    ndcg10: float = 0.0

    def add(self, ranked: Sequence[str], relevant: Collection[str]) -> None:
        self.n += 1
        for k in CUTOFFS:
            self.recall[k] += recall_at(ranked, relevant, k)
        self.mrr += reciprocal_rank(ranked, relevant)
        self.ndcg10 += ndcg_at(ranked, relevant, 10)

    def as_dict(self) -> dict[str, object]:
        def mean(total: float) -> float | None:
            return round(total / self.n, 4) if self.n else None

        out: dict[str, object] = {f"recall@{k}": mean(self.recall[k]) for k in CUTOFFS}
        out["mrr"] = mean(self.mrr)
        out["ndcg@10"] = mean(self.ndcg10)
        out["n"] = self.n
        return out


@dataclass(frozen=True)
class ConfigReport:
    name: str
    mode: str
    embedder: str
    overall: Scores
    per_language: dict[str, Scores]
    misses: tuple[str, ...] = ()  # ids with no relevant document in the first 10

    def as_dict(self) -> dict[str, object]:
        out = self.overall.as_dict()
        out["mode"] = self.mode
        out["embedder"] = self.embedder
        out["per_language"] = {
            lang: scores.as_dict() for lang, scores in sorted(self.per_language.items())
        }
        out["misses@10"] = list(self.misses)
        return out


@dataclass(frozen=True)
class RetrievalReport:
    dataset: str
    n: int
    chunks: int
    configs: dict[str, ConfigReport]
    groups: tuple[str, ...] = ()
    embedders: dict[str, dict[str, object]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # embedder -> why it was not compared
    translations: dict[str, str] = field(default_factory=dict)  # case id -> translated question

    def as_dict(self) -> dict[str, object]:
        return {
            "configs": {name: c.as_dict() for name, c in self.configs.items()},
            "dataset": self.dataset,
            "n": self.n,
            "chunks": self.chunks,
            "groups": list(self.groups),
            "embedders": self.embedders,
            "skipped": self.skipped,
            "translations": self.translations,
        }


def config_name(mode: str, embedder_label: str, translated: bool = False) -> str:
    """``hybrid/e5``, ``dense/minilm``; keyword search needs no embedder: ``lexical``; with the
    question's translation searched too: ``hybrid/e5+translated``."""
    name = "lexical" if mode == "lexical" else f"{mode}/{embedder_label}"
    return f"{name}+translated" if translated else name


def evaluate_retrieval(
    retriever: HybridRetriever,
    cases: Sequence[RetrievalCase],
    *,
    groups: Collection[str] | None,
    modes: Sequence[str] = MODES,
    embedder_label: str = "",
    translations: Mapping[str, str] | None = None,
) -> dict[str, ConfigReport]:
    """Score every case under each retrieval mode over one index; the query is embedded once
    per case and reused by the dense and hybrid runs. ``translations`` (case id -> the question
    in the other language, ``assistant.translation``): each mode is scored a second time with
    it searched too, as answers do with ``retrieval.translate_question``; a case without one
    is searched as asked."""
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"unknown retrieval mode(s) {unknown}; known: {', '.join(MODES)}")
    if not retriever.latent_indexed():  # no latent terms to rescore with: nothing to compare
        modes = [m for m in modes if m != "hybrid-latent"]
    label = embedder_label or retriever.embedder.name
    base = retriever.config
    variants = [(m, False) for m in modes]
    if translations is not None:
        variants += [(m, True) for m in modes]
    overall = {v: Scores() for v in variants}
    per_language: dict[tuple[str, bool], dict[str, Scores]] = {v: {} for v in variants}
    misses: dict[tuple[str, bool], list[str]] = {v: [] for v in variants}
    for case in cases:
        needs_vector = any(m != "lexical" for m in modes)
        vector = retriever.embedder.embed_query(case.question) if needs_vector else None
        for mode, translated in variants:
            translation = (translations or {}).get(case.id) if translated else None
            result = retriever.retrieve(
                case.question,
                groups,
                config=mode_config(base, mode),
                vector=vector,
                translation=translation,
            )
            ranked = distinct_documents(result.results)
            key = (mode, translated)
            overall[key].add(ranked, case.relevant)
            per_language[key].setdefault(case.language, Scores()).add(ranked, case.relevant)
            if not set(ranked[:10]) & set(case.relevant):
                misses[key].append(case.id)
    return {
        config_name(m, label, t): ConfigReport(
            name=config_name(m, label, t),
            mode=m,
            embedder="" if m == "lexical" else label,
            overall=overall[(m, t)],
            per_language=per_language[(m, t)],
            misses=tuple(misses[(m, t)]),
        )
        for m, t in variants
    }


def translate_cases(
    cases: Sequence[RetrievalCase],
    translate: Callable[[str, str], str | None],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, str]:
    """Each case's question in the other language (case id -> text; a case the translator
    gives nothing for is left out)."""
    translations: dict[str, str] = {}
    for number, case in enumerate(cases, start=1):
        text = translate(case.question, case.language)
        if text:
            translations[case.id] = text
        if progress is not None:
            progress(number, len(cases))
    return translations


def load_translations(path: Path) -> dict[str, str]:
    """The ``translations`` of a saved ``lotse eval retrieval --translate --out`` report."""

    def parse(report: Any) -> dict[str, str]:
        table = report["translations"]
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            raise TypeError("translations must map case ids to texts")
        return dict(table)

    return read_report(
        path,
        parse,
        needs="lotse eval retrieval --translate --out (it needs translations: {case id: text})",
    )
