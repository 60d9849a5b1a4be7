"""In-process LLM backend on llama.cpp (``llama-cpp-python``).

One ``LlamaCppLLM`` owns one ``llama_cpp.Llama``: keep it for the life of the process, because
llama.cpp reuses its KV cache for the prompt prefix a request shares with the previous one
(a stable system prompt is evaluated once). The object is not thread-safe; callers serialise
generation (see the ``LLM`` protocol).

The chat template is the one stored in the GGUF unless ``chat_format`` names one of
llama-cpp-python's built-in formats.

``GenerationParams.interrupt`` stops llama.cpp inside its computation, so a client that leaves
during the prompt evaluation (seconds to tens of seconds before the first token on a small CPU)
frees the model at once rather than when that evaluation ends (see ``_Interruption``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from models.errors import GenerationFailed, GenerationInterrupted, ModelUnavailable
from models.llm import (
    ChatMessage,
    Completion,
    GenerationParams,
    InterruptWatch,
    StreamChunk,
    TokenCountMemo,
    Usage,
    collect,
)

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

_LLAMA_CPP_REQUIREMENT = "llama-cpp-python>=0.3.9,<0.4"
# Tokens a chat template adds around each message when we cannot render it (named formats).
_PER_MESSAGE_OVERHEAD = 4


class LlamaCppLLM:
    """``LLM`` backed by a GGUF file loaded with llama.cpp.

    Raises ``ModelUnavailable`` when llama-cpp-python is missing or the file does not load,
    ``GenerationFailed`` when llama.cpp fails while generating (for example a prompt longer
    than ``context_size``).
    """

    def __init__(
        self,
        model_path: Path,
        *,
        model_id: str,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        chat_format: str | None = None,
        seed: int = 0,
        nice: int = 0,
    ) -> None:
        """``nice``: when above 0, llama.cpp computes on one thread of its own at that lower
        CPU priority; its worker threads inherit it (Linux nice values are per thread). On
        a 2-core machine generation keeps both cores busy, and without this every other
        request — a question's retrieval, a search, the portal — waits behind it."""
        self.model_id = model_id
        self.model_path = Path(model_path)
        self._seed = seed
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelUnavailable(
                model_id,
                "the llama.cpp backend needs the package llama-cpp-python, which is not installed",
                hint=f"run `pip install '{_LLAMA_CPP_REQUIREMENT}'` (or `pip install lotse`)",
            ) from exc
        if not self.model_path.is_file():
            raise ModelUnavailable(
                model_id,
                f"model file {self.model_path} does not exist",
                hint=f"run `lotse models install --model {model_id}` or fix the configured path",
            )
        threads = n_threads or os.cpu_count() or 1
        started = time.perf_counter()
        try:
            llm = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_threads=threads,
                n_threads_batch=threads,
                chat_format=chat_format,
                seed=seed,
                verbose=False,
            )
        except Exception as exc:  # llama-cpp raises ValueError/RuntimeError/OSError here
            raise ModelUnavailable(
                model_id,
                f"cannot load model {model_id} from {self.model_path}: {exc}",
                hint="the file may be corrupt; run `lotse models verify`",
            ) from exc
        self._llm: Any = llm
        self._token_counts = TokenCountMemo(self._tokenize_count)
        self._abort_check = _abort_check(llama_cpp)
        # what the abort callback reads between generations: always empty (go on), so direct
        # use of ``raw`` (the benchmarks) is never stopped
        self._idle_flag = ctypes.create_string_buffer(2)
        _point_abort_check(llm, self._abort_check, self._idle_flag)
        self._compute: ThreadPoolExecutor | None = None
        if nice > 0:
            self._compute = ThreadPoolExecutor(
                1, thread_name_prefix="lotse-llm", initializer=_lower_priority, initargs=(nice,)
            )
        self.context_size: int = int(llm.n_ctx())
        self._formatter: Any = _template_formatter(llm) if chat_format is None else None
        logger.info(
            "llm_loaded backend=llama.cpp model_id=%s path=%s n_ctx=%d threads=%d seconds=%.2f",
            model_id,
            self.model_path,
            self.context_size,
            threads,
            time.perf_counter() - started,
        )

    @property
    def raw(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (for benchmarks and diagnostics)."""
        return self._llm

    def close(self) -> None:
        """Free the model's memory now instead of at garbage collection."""
        if self._compute is not None:
            self._compute.shutdown(wait=True)
        self._llm.close()

    def _on_compute_thread(self, call: Callable[[], _T]) -> _T:
        """Run ``call`` where llama.cpp computes: the low-priority thread, if there is one."""
        if self._compute is None:
            return call()
        return self._compute.submit(call).result()

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return self._token_counts(text)

    def _tokenize_count(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the rendered chat prompt (what llama.cpp evaluates before answering)."""
        tokens = self._render(messages)
        if tokens is None:
            return sum(self.count_tokens(m.content) + _PER_MESSAGE_OVERHEAD for m in messages)
        return len(tokens)

    def _render(self, messages: Sequence[ChatMessage]) -> list[int] | None:
        """The prompt tokens exactly as llama-cpp's chat handler builds them (GGUF template)."""
        if self._formatter is None:
            return None
        rendered = self._formatter(messages=_to_dicts(messages))
        tokens: list[int] = self._llm.tokenize(
            rendered.prompt.encode("utf-8"),
            add_bos=not getattr(rendered, "added_special", False),
            special=True,
        )
        return tokens

    def _prefill(self, tokens: list[int]) -> None:
        """Evaluate ``tokens`` reusing the cached prefix; the last token always alone.

        llama.cpp's numerics depend on how tokens are batched. Evaluating the final prompt token
        in a batch of its own, whether or not the rest came from the KV cache, makes a repeated
        prompt produce the same logits, so temperature 0 gives the same reply every time.
        ``generate`` then finds the whole prompt cached and samples at once.
        """
        llm = self._llm
        head = tokens[:-1]
        cached = llm.input_ids[: llm.n_tokens]
        limit = min(len(cached), len(head))
        mismatch = (cached[:limit] != head[:limit]).nonzero()[0]
        common = int(mismatch[0]) if len(mismatch) else limit
        llm.n_tokens = common  # eval() drops the KV entries past n_tokens
        if common < len(head):
            llm.eval(head[common:])
        llm.eval(tokens[-1:])

    def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        return collect(self.stream(messages, params))

    def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Iterator[StreamChunk]:
        """Yield text pieces as llama.cpp produces them; the last chunk has finish and usage.

        Closing the generator early stops generation at once (nothing runs between pulls) and
        leaves the model ready for the next request.
        """
        started = time.perf_counter()
        first_token_at: float | None = None
        interruption = _Interruption(
            self._llm, self._abort_check, self._idle_flag, params.interrupt
        )
        try:
            tokens = self._render(messages)
            if tokens is None:
                prompt_tokens = self.prompt_tokens(messages)
            else:
                prompt_tokens = len(tokens)
                if prompt_tokens >= self.context_size:
                    raise GenerationFailed(
                        f"the prompt has {prompt_tokens} tokens but {self.model_id} has a "
                        f"context of {self.context_size}; shorten the prompt"
                    )
                self._on_compute_thread(lambda: self._prefill(tokens))
            chunks = self._llm.create_chat_completion(
                messages=_to_dicts(messages),
                temperature=params.temperature,
                max_tokens=params.max_tokens,
                stop=list(params.stop),
                seed=self._seed,
                stream=True,
            )
        except GenerationFailed:
            interruption.end()
            raise
        except Exception as exc:
            interruption.end()
            if interruption.fired:
                raise self._interrupted(started, "while evaluating the prompt") from exc
            raise GenerationFailed(
                f"llama.cpp failed to start generating with {self.model_id}: {exc}"
            ) from exc
        parts: list[str] = []
        finish: str | None = None
        try:
            while True:
                try:
                    chunk = self._on_compute_thread(lambda: next(chunks, None))
                except Exception as exc:
                    if interruption.fired:
                        raise self._interrupted(started, f"after {len(parts)} pieces") from exc
                    raise GenerationFailed(
                        f"llama.cpp failed while generating with {self.model_id}: {exc}"
                    ) from exc
                if interruption.fired:
                    raise self._interrupted(started, f"after {len(parts)} pieces")
                if chunk is None:
                    break
                choice = chunk["choices"][0]
                text = choice.get("delta", {}).get("content") or ""
                if choice.get("finish_reason"):
                    finish = str(choice["finish_reason"])
                if text:
                    if first_token_at is None:
                        first_token_at = time.perf_counter()
                    parts.append(text)
                    yield StreamChunk(text=text)
        except GeneratorExit:
            logger.info(
                "llm_stream_abandoned model_id=%s pieces=%d seconds=%.2f",
                self.model_id,
                len(parts),
                time.perf_counter() - started,
            )
            raise
        finally:
            interruption.end()
            self._on_compute_thread(chunks.close)
        completion_tokens = self.count_tokens("".join(parts))
        elapsed = time.perf_counter() - started
        logger.info(
            "llm_generated model_id=%s prompt_tokens=%d completion_tokens=%d finish=%s "
            "ttft_s=%.2f seconds=%.2f",
            self.model_id,
            prompt_tokens,
            completion_tokens,
            finish or "stop",
            (first_token_at - started) if first_token_at is not None else elapsed,
            elapsed,
        )
        yield StreamChunk(
            text="",
            finish_reason=finish or "stop",
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
        )

    def _interrupted(self, started: float, when: str) -> GenerationInterrupted:
        seconds = time.perf_counter() - started
        logger.info(
            "llm_interrupted model_id=%s when=%r seconds=%.2f", self.model_id, when, seconds
        )
        return GenerationInterrupted(f"{self.model_id} was interrupted {when}")


class _Interruption:
    """Stops llama.cpp mid-computation once ``interrupt()`` says so, for one generation.

    llama.cpp asks its abort callback before every node of its compute graph, thousands of
    times per prompt batch. A Python callback would take the GIL that often, and wait for it
    whenever another thread runs Python. So the callback (``_abort_check``) reads a two-byte
    buffer of this generation's own without Python: empty means go on, one byte means stop; an
    ``InterruptWatch`` writes that byte. llama.cpp then abandons the batch it is on (its decode
    fails; the tokens evaluated before that batch stay cached and valid). ``end()`` points the
    callback back at the model's always-empty buffer; a watcher that fires late only ever
    writes its own buffer.
    """

    def __init__(
        self,
        llm: Any,
        abort_check: Any,
        idle_flag: ctypes.Array[ctypes.c_char],
        interrupt: Callable[[], bool] | None,
    ) -> None:
        self._llm = llm
        self._abort_check = abort_check
        self._idle_flag = idle_flag
        self._flag = ctypes.create_string_buffer(2)
        if interrupt is not None:
            _point_abort_check(llm, abort_check, self._flag)
        self._watch = InterruptWatch(interrupt, self._fire)
        self._ended = False

    def _fire(self) -> None:
        self._flag[0] = b"x"

    @property
    def fired(self) -> bool:
        return self._watch.fired

    def end(self) -> None:
        """The generation is over (no computation runs now): stop watching."""
        if not self._ended:
            self._ended = True
            self._watch.end()
            _point_abort_check(self._llm, self._abort_check, self._idle_flag)


def _point_abort_check(llm: Any, abort_check: Any, flag: ctypes.Array[ctypes.c_char]) -> None:
    import llama_cpp

    llama_cpp.llama_set_abort_callback(llm.ctx, abort_check, ctypes.cast(flag, ctypes.c_void_p))


def _abort_check(llama_cpp: Any) -> Any:
    """The abort callback for ``_Interruption``: libc's ``strlen`` of the generation's flag
    buffer (0 or 1, which is the callback's bool), so llama.cpp never waits for the GIL;
    ``_python_abort_check`` where libc cannot be loaded."""
    callback_type = llama_cpp.ggml_abort_callback
    try:
        return ctypes.cast(ctypes.CDLL(None).strlen, callback_type)
    except (OSError, AttributeError, TypeError):
        return _python_abort_check(callback_type)


def _python_abort_check(callback_type: Any) -> Any:
    """The same check in Python (it takes the GIL at every call)."""
    return callback_type(lambda data: bool(ctypes.cast(data, ctypes.c_char_p).value))


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority by ``nice`` (Linux: per thread, inherited by
    the threads it starts). Where that is not possible, generation simply keeps its priority."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError) as exc:
        logger.warning("llm_priority_unchanged reason=%s", exc)


def _to_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _template_formatter(llm: Any) -> Any:
    """A renderer for the GGUF's own chat template (used to count prompt tokens), or None."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp import llama_chat_format

    def token_text(token_id: int) -> str:
        if token_id < 0:
            return ""
        return bytes(llm.detokenize([token_id], special=True)).decode("utf-8", errors="replace")

    return llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=token_text(llm.token_eos()),
        bos_token=token_text(llm.token_bos()),
    )
