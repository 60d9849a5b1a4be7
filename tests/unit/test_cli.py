"""The command line, end to end in-process, with the fake models and the real stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.lock import DataDirLock


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "LOTSE_DATA_DIR": str(tmp_path / "data"),
        "LOTSE_MODELS__LLM_BACKEND": "fake",
        "LOTSE_MODELS__EMBEDDER": "fake",
        "LOTSE_MODELS__CACHE_DIR": str(tmp_path / "models"),
        "LOTSE_RETRIEVAL__MIN_EVIDENCE": "-1",
        "LOTSE_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "it").mkdir(parents=True)
    (root / "it" / "wlan.md").write_text(
        "# WLAN\n\n## Gäste\n\nGäste erhalten einen Voucher für NW-Guest am Empfang.\n",
        encoding="utf-8",
    )
    (root / "it" / "teams.md").write_text(
        "# Teams\n\n## Meetings\n\nExternal guests join Teams meetings from the lobby.\n",
        encoding="utf-8",
    )
    (root / "notes.xlsx").write_bytes(b"PK")
    return root


def test_ingest_twice_then_search_and_ask(env: dict[str, str], corpus: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(corpus), "--source", "kb", "--json"], env=env)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (summary["files_seen"], summary["new"], summary["chunks_written"]) == (3, 2, 2)
    assert summary["skipped"] == [{"source_id": "notes.xlsx", "reason": "unsupported format .xlsx"}]

    second = runner.invoke(app, ["ingest", str(corpus), "--source", "kb"], env=env)
    assert second.exit_code == 0, second.output
    assert "2 unchanged" in second.stdout
    assert "nothing changed: no embedding needed" in second.stdout
    assert "skipped notes.xlsx: unsupported format .xlsx" in second.stdout

    found = runner.invoke(app, ["search", "Voucher Gäste", "-k", "1", "--json"], env=env)
    assert found.exit_code == 0, found.output
    rows = json.loads(found.stdout)["results"]
    assert [r["source_id"] for r in rows] == ["it/wlan.md"]
    assert rows[0]["heading"] == "WLAN > Gäste"

    asked = runner.invoke(app, ["ask", "Wie bekommen Gäste WLAN?", "--json"], env=env)
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    assert set(answer) == {"answer", "abstained", "sources", "model", "ai_generated", "timings"}
    assert answer["ai_generated"] is True
    # the fake model's default reply is the German decline sentence -> abstention
    assert answer["abstained"] is True
    assert answer["answer"] == "Dazu habe ich in der Wissensbasis nichts gefunden."


def test_write_while_server_owns_the_data_dir_is_refused(
    env: dict[str, str], corpus: Path, tmp_path: Path
) -> None:
    with DataDirLock(tmp_path / "data", "lotse serve"):
        result = CliRunner().invoke(app, ["ingest", str(corpus)], env=env)
    assert result.exit_code == 1
    assert "is in use by `lotse serve`" in result.stderr
    assert "/v1/admin/reindex" in result.stderr


def test_missing_folder_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope")], env=env)
    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_missing_model_names_the_fix(env: dict[str, str], corpus: Path) -> None:
    real = {**env, "LOTSE_MODELS__LLM_BACKEND": "llamacpp", "LOTSE_MODELS__LLM": "qwen2.5-0.5b"}
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(corpus)], env=env).exit_code == 0
    result = runner.invoke(app, ["ask", "Wie bekommen Gäste WLAN?"], env=real)
    assert result.exit_code == 1
    assert "qwen2.5-0.5b" in result.stderr
    assert "lotse models install" in result.stderr
    assert "Traceback" not in result.output


def test_models_verify_fails_for_missing_files(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["models", "verify", "--model", "qwen2.5-0.5b"], env=env)
    assert result.exit_code == 1
    assert "qwen2.5-0.5b" in result.stderr


def test_invalid_setting_is_reported(env: dict[str, str]) -> None:
    bad = {**env, "LOTSE_RETRIEVAL__DENSE_K": "0"}
    result = CliRunner().invoke(app, ["search", "x"], env=bad)
    assert result.exit_code == 2
    assert "dense_k" in result.stderr
