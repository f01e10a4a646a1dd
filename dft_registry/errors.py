"""Every error the library raises on purpose.

Each message is one line that says what is wrong and what to do next; the CLI
prints it as is and exits non-zero. Codes (E001...) make errors greppable and
stable across versions, like spaCy's ``Errors``.
"""

from __future__ import annotations


class DftError(Exception):
    """Base class: a user-facing problem with a one-line, actionable message."""

    code = "E000"
    exit_code = 1

    def __str__(self) -> str:  # one line, always
        return " ".join(super().__str__().split())


class UsageError(DftError):
    """An argument that cannot work (bad domain name, missing path, bad option)."""

    code = "E001"
    exit_code = 2


class InputError(DftError):
    """Input data that cannot be read (under --strict, or when nothing is usable)."""

    code = "E002"


class BundleNotFound(DftError):
    """A reference (``legal``, ``legal@v2``, ``legal@sha256:ab12``) names no bundle."""

    code = "E003"


class BundleCorrupt(DftError):
    """A bundle whose files do not match its manifest (tampered, truncated, missing)."""

    code = "E004"


class CatalogError(DftError):
    """catalog.json cannot be read or written."""

    code = "E005"


class RemoteError(DftError):
    """A remote registry (directory, fsspec URL, Hub repo) cannot be used."""

    code = "E006"


class RecipeError(DftError):
    """A shipped recipe cannot obtain or prepare its corpus."""

    code = "E007"


class QueryError(DftError):
    """A DuckDB query over bundles failed or tried to write."""

    code = "E008"


class TrainError(DftError):
    """Training cannot start (model, tokenizer, data or configuration problem)."""

    code = "E009"


class EvalError(DftError):
    """Evaluation cannot run on the given generations, model or human text."""

    code = "E010"


class MapTaskFailed(DftError):
    """A map task failed on Ray for a reason that is not about one input."""

    code = "E011"


class StorageError(DftError):
    """The registry's disk is full (or over quota) during a build."""

    code = "E012"
