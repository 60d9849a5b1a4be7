"""One ``LLM`` contract, run against the fake, llama.cpp in-process, and an OpenAI-compatible
server (``python -m llama_cpp.server`` on the same 0.5B GGUF, started for this session by the
``llama_server_url`` fixture in tests/contract/conftest.py; marked ``e2e``)."""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from models.errors import GenerationFailed, GenerationInterrupted, ModelUnavailable
from models.llamacpp import LlamaCppLLM, _abort_check, _python_abort_check
from models.llm import LLM, ChatMessage, FakeLLM, GenerationParams, StreamChunk, collect
from models.openai_compat import OpenAICompatibleLLM
from tests.servers import LLAMA_SERVER_N_CTX, SMALL_LLM_ALIAS, free_port

SYSTEM = ChatMessage(
    "system", "You are the IT service desk assistant of Example GmbH. Answer briefly."
)
GERMAN = [SYSTEM, ChatMessage("user", "Wie setze ich mein Passwort zurück?")]
ENGLISH = [SYSTEM, ChatMessage("user", "How do I connect to the company VPN from home?")]
SHORT = GenerationParams(max_tokens=24)


@dataclass
class Backend:
    name: str
    llm: LLM
    # A remote llama.cpp server reuses its KV cache for a repeated prompt but evaluates the
    # last prompt token alone the second time, which can flip a near-tie at temperature 0.
    # Repeats are stable from then on, so its determinism is checked after one warm-up.
    # (LlamaCppLLM always evaluates the last prompt token alone, so it needs no warm-up.)
    warm_up: bool = False

    def settle(self, messages: list[ChatMessage], params: GenerationParams) -> None:
        if self.warm_up:
            self.llm.complete(messages, params)


@pytest.fixture(scope="session")
def remote_llm(llama_server_url: str) -> Iterator[OpenAICompatibleLLM]:
    """The OpenAI-compatible backend against ``llama_server_url`` (tests/contract/conftest.py)."""
    llm = OpenAICompatibleLLM(
        f"{llama_server_url}/v1",
        SMALL_LLM_ALIAS,
        timeout_s=120,
        context_size=LLAMA_SERVER_N_CTX,
    )
    yield llm
    llm.close()


@pytest.fixture(
    scope="session",
    params=[
        "fake",
        pytest.param("llamacpp", marks=pytest.mark.slow),
        pytest.param("openai", marks=[pytest.mark.slow, pytest.mark.e2e]),
    ],
)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "fake":
        return Backend("fake", FakeLLM())
    if request.param == "llamacpp":
        return Backend("llamacpp", request.getfixturevalue("small_llm"))
    return Backend("openai", request.getfixturevalue("remote_llm"), warm_up=True)


def test_implements_the_protocol(backend: Backend) -> None:
    assert isinstance(backend.llm, LLM)
    assert backend.llm.context_size >= 2048
    assert backend.llm.model_id


def test_temperature_zero_is_deterministic(backend: Backend) -> None:
    backend.settle(GERMAN, SHORT)
    first = backend.llm.complete(GERMAN, SHORT)
    second = backend.llm.complete(GERMAN, SHORT)
    assert first.text != ""
    assert second == first


def test_stream_concatenates_to_the_completion(backend: Backend) -> None:
    backend.settle(ENGLISH, SHORT)
    chunks = list(backend.llm.stream(ENGLISH, SHORT))
    completion = backend.llm.complete(ENGLISH, SHORT)

    assert "".join(c.text for c in chunks) == completion.text
    assert len(chunks) >= 2
    *body, last = chunks
    assert all(c.finish_reason is None and c.usage is None for c in body)
    assert last.finish_reason in ("stop", "length")
    assert last.usage is not None and last.usage.prompt_tokens > 0
    assert last.usage.completion_tokens > 0
    assert collect(iter(chunks)) == completion


def test_max_tokens_is_respected(backend: Backend) -> None:
    params = GenerationParams(max_tokens=3)
    completion = backend.llm.complete(ENGLISH, params)

    assert completion.finish_reason == "length"
    assert completion.text.strip() != ""
    assert 1 <= completion.usage.completion_tokens <= 3
    assert backend.llm.count_tokens(completion.text) <= 3


def test_count_tokens_is_positive_and_monotone(backend: Backend) -> None:
    llm = backend.llm
    short = "Passwort zurücksetzen"
    longer = short + " über das Self-Service-Portal"
    longest = " ".join([longer] * 20)
    assert llm.count_tokens("") == 0
    assert 0 < llm.count_tokens(short) < llm.count_tokens(longer) < llm.count_tokens(longest)


@pytest.mark.parametrize("messages", [GERMAN, ENGLISH], ids=["german", "english"])
def test_answers_german_and_english(backend: Backend, messages: list[ChatMessage]) -> None:
    completion = backend.llm.complete(messages, GenerationParams(max_tokens=32))
    assert completion.text.strip() != ""
    assert completion.usage.prompt_tokens > 0


def test_closing_a_stream_early_stops_it_and_the_model_stays_usable(backend: Backend) -> None:
    long_answer = GenerationParams(max_tokens=600)
    messages = [SYSTEM, ChatMessage("user", "Explain in great detail how e-mail works.")]
    stream = backend.llm.stream(messages, long_answer)
    assert isinstance(stream, Generator)  # so callers can close() it
    first: list[StreamChunk] = [next(stream), next(stream)]
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 1.0
    assert all(c.finish_reason is None for c in first)
    with pytest.raises(StopIteration):
        next(stream)

    # If generation had continued in the background (600 tokens), this would have to wait.
    started = time.perf_counter()
    after = backend.llm.complete(ENGLISH, GenerationParams(max_tokens=4))
    assert time.perf_counter() - started < 8.0
    assert after.text.strip() != ""
    assert after.finish_reason == "length"


def test_interrupt_stops_the_stream_and_the_model_stays_usable(backend: Backend) -> None:
    pieces: list[str] = []
    params = GenerationParams(max_tokens=600, interrupt=lambda: len(pieces) >= 2)
    messages = [SYSTEM, ChatMessage("user", "Erkläre ausführlich, wie E-Mail funktioniert.")]
    with pytest.raises(GenerationInterrupted):
        for chunk in backend.llm.stream(messages, params):
            pieces.append(chunk.text)
    assert 2 <= len(pieces) < 60, pieces  # stopped soon after, not after 600 tokens
    after = backend.llm.complete(ENGLISH, GenerationParams(max_tokens=4))
    assert after.text.strip() != ""
    assert after.finish_reason == "length"


# --- backend-specific behaviour ------------------------------------------------------------


@pytest.mark.slow
def test_llamacpp_prompt_longer_than_the_context_fails_cleanly(small_llm: LlamaCppLLM) -> None:
    huge = [ChatMessage("user", "Passwort " * 5000)]
    with pytest.raises(GenerationFailed, match="context of 4096"):
        small_llm.complete(huge, SHORT)
    assert small_llm.complete(GERMAN, GenerationParams(max_tokens=2)).text != ""


@pytest.mark.slow
def test_llamacpp_usage_counts_the_rendered_prompt(small_llm: LlamaCppLLM) -> None:
    completion = small_llm.complete(GERMAN, GenerationParams(max_tokens=2))
    content_tokens = sum(small_llm.count_tokens(m.content) for m in GERMAN)
    # The chat template adds role markers around each message.
    assert completion.usage.prompt_tokens == small_llm.prompt_tokens(GERMAN)
    assert content_tokens < completion.usage.prompt_tokens < content_tokens + 20


def test_llamacpp_corrupt_file_is_model_unavailable(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ModelUnavailable) as caught:
        LlamaCppLLM(broken, model_id="broken")
    assert str(broken) in str(caught.value)
    assert "the file may be corrupt; run `lotse models verify`" in str(caught.value)


def test_llamacpp_missing_file_is_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist"):
        LlamaCppLLM(tmp_path / "nope.gguf", model_id="qwen2.5-0.5b")


def test_openai_unreachable_server_is_model_unavailable() -> None:
    llm = OpenAICompatibleLLM(f"http://127.0.0.1:{free_port()}", "m", timeout_s=5)
    with pytest.raises(
        ModelUnavailable, match=r"cannot reach the LLM server at http://127\.0\.0\.1"
    ):
        llm.complete(ENGLISH, SHORT)
    llm.close()


def _thread_nice_values() -> dict[int, int]:
    """Linux: every thread of this process and its nice value (field 19 of its stat)."""
    values = {}
    for task in Path("/proc/self/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        values[int(task.name)] = int(fields[16])
    return values


@pytest.mark.slow
def test_llamacpp_generates_at_lower_priority_with_the_same_result(small_llm_path: Path) -> None:
    """With ``nice``, llama.cpp's compute threads (the calling one and the workers it starts)
    run at that lower priority, and the replies are those of an instance without it (both
    fresh, so their KV caches see the same prompts in the same order), German and English."""
    plain = LlamaCppLLM(small_llm_path, model_id="qwen2.5-0.5b", n_ctx=4096, n_threads=2)
    niced = LlamaCppLLM(small_llm_path, model_id="qwen2.5-0.5b", n_ctx=4096, n_threads=2, nice=7)
    try:
        for messages in (GERMAN, ENGLISH):
            seen: dict[int, int] = {}
            pieces = []
            for chunk in niced.stream(messages, SHORT):
                seen.update(_thread_nice_values())
                pieces.append(chunk.text)
            assert sum(1 for nice in seen.values() if nice == 7) >= 2, seen
            assert "".join(pieces) == plain.complete(messages, SHORT).text
        assert os.getpriority(os.PRIO_PROCESS, 0) == 0  # the caller's own priority is untouched
    finally:
        niced.close()
        plain.close()


@pytest.mark.slow
def test_llamacpp_interrupt_stops_the_prompt_evaluation_and_the_cache_stays_valid(
    small_llm: LlamaCppLLM,
) -> None:
    """A long prompt takes seconds to evaluate before the first token; ``interrupt`` stops
    llama.cpp inside that evaluation. The cached prefix stays valid: a question asked before
    and after gets the same reply (both evaluated on the same cached system prompt), German
    and English."""
    document = "Der VPN-Client meldet: Zertifikat abgelaufen. The VPN client reports an error. "
    long = [SYSTEM, ChatMessage("user", "Fasse zusammen / summarise: " + document * 90)]
    prompt_tokens = small_llm.prompt_tokens(long)
    assert 2000 < prompt_tokens < small_llm.context_size
    for messages in (GERMAN, ENGLISH):
        small_llm.complete([SYSTEM, ChatMessage("user", "Hallo")], SHORT)  # cache: SYSTEM
        before = small_llm.complete(messages, SHORT)
        with pytest.raises(GenerationInterrupted, match="while evaluating the prompt"):
            small_llm.complete(long, GenerationParams(max_tokens=8, interrupt=lambda: True))
        assert small_llm.raw.n_tokens < prompt_tokens  # it stopped inside the evaluation
        assert small_llm.complete(messages, SHORT) == before
    # and a generation without an interrupt is never stopped by a late one
    assert small_llm.complete(ENGLISH, SHORT).text != ""


@pytest.mark.parametrize(
    "make", [_abort_check, lambda m: _python_abort_check(m.ggml_abort_callback)]
)
def test_llamacpp_abort_check_reads_the_flag(make: Callable[[Any], Any]) -> None:
    """Both forms of the abort callback (libc's strlen, and the Python fallback) say stop
    exactly when the flag buffer holds its byte."""
    import llama_cpp

    check = make(llama_cpp)
    flag = ctypes.create_string_buffer(2)
    assert check(ctypes.cast(flag, ctypes.c_void_p)) is False
    flag[0] = b"x"
    assert check(ctypes.cast(flag, ctypes.c_void_p)) is True
