"""Lotse's one error tree.

Every layer raises these (or subclasses defined here); only ``api/errors.py`` maps them to
HTTP status codes and the one JSON error shape. Errors carry data, never HTTP codes.
Third-party exceptions are wrapped where they enter (``raise ModelUnavailable(...) from exc``).

    LotseError
    ├── ConfigurationError      settings that cannot work together
    ├── ModelUnavailable        a model file or package is missing, corrupt or fails to load
    ├── UnsupportedDocument     a file cannot be turned into text (format, size, time, encryption)
    ├── StoreError              an index or database cannot be opened or written
    │   └── StoreLocked         another process owns the data directory
    ├── NotFound                a named thing (conversation, job, source) does not exist
    ├── Conflict                the request conflicts with work in progress (a running reindex)
    ├── AccessDenied            the caller's identity does not allow this
    ├── Unauthenticated         no credentials, or credentials that do not verify
    ├── InvalidInput            the request itself is malformed or too large
    ├── Overloaded              the generation queue is full; carries ``retry_after`` seconds
    └── GenerationFailed        the model failed or timed out while answering
        └── GenerationInterrupted   the caller stopped it (``GenerationParams.interrupt``)

"Nothing relevant found" is a result (an abstained answer), never an error.
"""

from __future__ import annotations


class LotseError(Exception):
    """Base class of every error Lotse raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigurationError(LotseError):
    """Settings that cannot work together, or name something that does not exist."""


class ModelUnavailable(LotseError):
    """A model file or package is missing, corrupt, or fails to load."""

    def __init__(self, model: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.model = model


class UnsupportedDocument(LotseError):
    """A file cannot be turned into text; ``reason`` is short and human-readable."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StoreError(LotseError):
    """An index or database cannot be opened or written."""


class StoreLocked(StoreError):
    """Another process owns the data directory (one process owns the stores)."""

    def __init__(self, data_dir: str, owner: str) -> None:
        super().__init__(
            f"the data directory {data_dir} is in use by {owner}",
            hint="stop that process, or send the request to the running server "
            "(for example `curl -X POST http://127.0.0.1:8000/v1/admin/reindex`)",
        )
        self.data_dir = data_dir
        self.owner = owner


class NotFound(LotseError):
    """A named thing (conversation, job, source, key) does not exist."""


class Conflict(LotseError):
    """The request conflicts with work in progress."""


class AccessDenied(LotseError):
    """The caller is not allowed to do this."""


class Unauthenticated(LotseError):
    """No credentials, or credentials that do not verify (unknown or revoked key, a token with
    a bad signature, issuer, audience or expiry). ``invalid`` is False when none were sent."""

    def __init__(self, message: str, *, hint: str | None = None, invalid: bool = True) -> None:
        super().__init__(message, hint=hint)
        self.invalid = invalid


class InvalidInput(LotseError):
    """The request is malformed or too large; ``field`` names the culprit when known."""

    def __init__(self, message: str, *, field: str | None = None, too_large: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.too_large = too_large


class Overloaded(LotseError):
    """Too many requests are waiting for the model; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClientGone(LotseError):
    """The client went away before its answer was generated (nobody is left to tell)."""


class GenerationFailed(LotseError):
    """The model failed or ran out of time while generating."""


class GenerationInterrupted(GenerationFailed):
    """Generation stopped because its ``GenerationParams.interrupt`` said so (the client went
    away, or the time limit passed); the caller, who asked, knows which."""
