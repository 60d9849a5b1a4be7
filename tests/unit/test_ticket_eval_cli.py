"""``lotse eval triage`` and ``lotse eval replies`` on the sample tickets (fake embedder)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app

SAMPLE = Path(__file__).parents[2] / "knowledge" / "sample"


def _env(root: Path) -> dict[str, str]:
    return {
        "LOTSE_DATA_DIR": str(root / "data"),
        "LOTSE_MODELS__LLM_BACKEND": "fake",
        "LOTSE_MODELS__EMBEDDER": "fake",
        "LOTSE_MODELS__CACHE_DIR": str(root / "models"),
        "LOTSE_LOG_LEVEL": "WARNING",
    }


def _run(env: dict[str, str], *args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


def test_eval_needs_imported_tickets(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["eval", "triage", "--dataset", str(SAMPLE / "tickets.csv")],
        env=_env(tmp_path),
    )
    assert result.exit_code == 1
    assert "lotse tickets import" in result.output


def test_eval_triage_and_replies_on_the_sample(tmp_path: Path) -> None:
    env = _env(tmp_path)
    _run(env, "tickets", "import", str(SAMPLE / "tickets.csv"), "--format", "generic")
    triage = _run(env, "eval", "triage", "--dataset", str(SAMPLE / "tickets.csv"))
    queue = triage["queue"]
    assert isinstance(queue, dict)
    assert queue["n"] == 177  # the solved, labelled sample tickets
    assert set(queue["by_language"]) == {"de", "en"}  # type: ignore[arg-type]
    # even a bag-of-words embedder must beat always answering the most frequent queue
    assert queue["accuracy"] > queue["baseline"]
    replies = _run(env, "eval", "replies", "--dataset", str(SAMPLE / "eval" / "replies.jsonl"))
    assert replies["n"] == 52
    assert 0.0 < float(replies["hit_rate_at_3"]) <= 1.0  # type: ignore[arg-type]
    assert float(replies["hit_rate_at_1"]) <= float(replies["hit_rate_at_3"])  # type: ignore[arg-type]
