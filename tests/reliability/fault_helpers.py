"""Helpers of the fault suite, in a plain module (not conftest) so that processes
spawned by a test can import them: ``conftest`` is ambiguous there (tests/ has one too).
"""

from __future__ import annotations

from pathlib import Path


def snapshot(registry: Path) -> dict[str, bytes]:
    """catalog.json and every file under stats/ (not temp areas, caches or lock files)."""
    files = [registry / "catalog.json", *sorted((registry / "stats").rglob("*"))]
    return {str(p.relative_to(registry)): p.read_bytes() for p in files
            if p.is_file() and not p.name.endswith(".lock") and ".tmp" not in p.parts}


def parquet_bytes(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.glob("*.parquet"))}


def build_and_publish(args):
    """One concurrent writer: build a domain, then publish it to a shared remote."""
    index, corpus, registry, remote = args
    import dft_registry
    from dft_registry.remote import publish

    result = dft_registry.build(f"d{index % 4}", corpus, registry=registry, workers=1)
    published = publish(result.ref, remote, registry=registry)
    return result.ref, result.content_hash, published.created
