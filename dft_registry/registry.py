"""Where a registry lives, what names are valid, and how a reference is parsed.

A registry is a directory with ``catalog.json`` and ``stats/<domain>/<version>/``.
The root comes from ``--registry``, else ``$DFT_REGISTRY``, else the project
checkout this package was imported from (it ships bundles), else
``~/.local/share/dft``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

DOMAIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
VERSION_PATTERN = re.compile(r"^v([1-9][0-9]*)$")
HASH_PATTERN = re.compile(r"^sha256:([0-9a-f]{4,64})$")
CATALOG_FILE = "catalog.json"
STATS_DIR = "stats"


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def registry_root(registry: str | Path | None = None, must_exist: bool = False) -> Path:
    """The registry directory to use (created if it does not exist yet).

    ``must_exist`` (read-only commands): a registry named by ``--registry`` or
    ``$DFT_REGISTRY`` that does not exist is a UsageError, not a new empty
    registry, so a mistyped path is reported instead of showing an empty catalog.
    """
    named = registry is not None
    if registry is None:
        registry = os.environ.get("DFT_REGISTRY") or None
        named = registry is not None
    if registry is None:
        checkout = project_root()
        if (checkout / CATALOG_FILE).exists() and (checkout / "pyproject.toml").exists():
            return checkout
        registry = Path.home() / ".local" / "share" / "dft"
    root = Path(registry).expanduser()
    if root.exists() and not root.is_dir():
        raise UsageError(f"registry {str(root)!r} is a file, not a directory; pass --registry DIR")
    if must_exist and named and not root.exists():
        raise UsageError(
            f"no registry at {str(root)!r}: check --registry (or $DFT_REGISTRY), or create one "
            "with `dft-stats build DOMAIN --registry DIR` or `dft-stats pull`")
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_root(root: Path) -> Path:
    """Where derived, re-creatable data lives (tokenizer projections, recipe sources)."""
    env = os.environ.get("DFT_CACHE")
    return Path(env).expanduser() if env else root / ".cache"


def validate_domain(domain: str) -> str:
    """Return ``domain`` if it is a valid name, else raise a UsageError saying why."""
    if not isinstance(domain, str) or not DOMAIN_PATTERN.match(domain):
        hint = ""
        if isinstance(domain, str) and DOMAIN_PATTERN.match(domain.lower()):
            hint = f" (did you mean {domain.lower()!r}?)"
        raise UsageError(
            f"invalid domain name {domain!r}{hint}: use 1-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return domain


@dataclass(frozen=True)
class BundleRef:
    """A reference to a bundle: ``legal`` (latest), ``legal@v2``, ``legal@sha256:1a2b``."""

    domain: str
    version: int | None = None
    hash_prefix: str | None = None

    @classmethod
    def parse(cls, text: str) -> BundleRef:
        domain, sep, selector = str(text).strip().partition("@")
        validate_domain(domain)
        if not sep:
            return cls(domain)
        if match := VERSION_PATTERN.match(selector):
            return cls(domain, version=int(match.group(1)))
        if match := HASH_PATTERN.match(selector):
            return cls(domain, hash_prefix=match.group(1))
        raise UsageError(
            f"bad bundle reference {text!r}: use DOMAIN, DOMAIN@vN or DOMAIN@sha256:HEXPREFIX"
        )

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.domain}@v{self.version}"
        if self.hash_prefix is not None:
            return f"{self.domain}@sha256:{self.hash_prefix}"
        return self.domain


def version_name(number: int) -> str:
    return f"v{number}"


def version_number(name: str) -> int:
    match = VERSION_PATTERN.match(name)
    if not match:
        raise ValueError(name)
    return int(match.group(1))
