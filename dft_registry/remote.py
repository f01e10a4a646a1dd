"""Publish bundles to, and pull them from, a remote registry: a directory or any fsspec URL.

A remote has the layout of a local registry: ``catalog.json`` plus
``stats/<domain>/<version>/`` (``memory://`` in tests, ``file://``, ``s3://``
and friends when their fsspec backend is installed). ``hf://datasets/ORG/NAME``
goes through :mod:`dft_registry.hub` instead.

Guarantees:

- **pull** downloads into a temporary directory inside the local registry,
  verifies every sha256 and the content hash against both the manifest and the
  remote catalog entry, and only then renames the bundle into place and merges
  its catalog entry under the catalog lock. A tampered, truncated or
  mismatched bundle raises BundleCorrupt and leaves nothing behind.
- **publish** uploads the data files, then the manifest, then the remote
  catalog entry (the catalog is what makes a version visible). A version that
  already exists remotely with a different content hash is refused: versions
  are immutable. A corrupt remote catalog is never overwritten.

A directory remote is updated under its catalog lock, like a local registry.
Object stores have no lock: two publishes to the same bucket at the same
moment can lose one catalog entry (its files stay; publishing again adds it),
so publish to a bucket from one place at a time.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .atomic import atomic_write_json, dumps_json
from .bundle import MANIFEST, bundle_dir, check_bundle, load, read_manifest
from .catalog import (
    catalog_lock,
    catalog_path,
    parse_catalog,
    read_catalog,
    resolve,
    sort_entries,
)
from .errors import BundleCorrupt, BundleNotFound, CatalogError, DftError, RemoteError
from .registry import (
    CATALOG_FILE,
    STATS_DIR,
    BundleRef,
    registry_root,
    validate_domain,
    version_number,
)

TMP_DIR = ".tmp"
SAFE_FILE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


@dataclass
class TransferResult:
    """What publish or pull did: ``created`` is False when the version was already there."""

    ref: str
    content_hash: str
    created: bool
    location: str
    files: int = 0


def is_hub_url(url: str) -> bool:
    return str(url).startswith("hf://")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


@contextlib.contextmanager
def remote_errors(url: str):
    """Turn fsspec/OS failures into one-line RemoteErrors that name the remote."""
    try:
        yield
    except DftError:
        raise
    except ImportError as exc:
        raise RemoteError(f"cannot open {url}: {_reason(exc)} (install the fsspec backend for it)") from None
    except FileNotFoundError as exc:
        raise RemoteError(f"cannot reach {url}: {_reason(exc)} (check the path or URL)") from None
    except PermissionError as exc:
        raise RemoteError(f"no permission for {url}: {_reason(exc)}") from None
    except (OSError, ValueError, TimeoutError, ConnectionError) as exc:
        raise RemoteError(f"cannot use remote {url}: {type(exc).__name__}: {_reason(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - backends (s3fs, gcsfs, ...) raise their own types
        raise RemoteError(f"remote {url} failed: {type(exc).__name__}: {_reason(exc)}") from None


def open_remote(url: str):
    """``(filesystem, base path)`` for a directory or fsspec URL."""
    import fsspec

    if not str(url).strip():
        raise RemoteError("no remote given: pass a directory or an fsspec URL (memory://, s3://, ...)")
    with remote_errors(url):
        fs, base = fsspec.core.url_to_fs(str(url))
    return fs, base.rstrip("/") or "/"


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def _is_local(fs) -> bool:
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def read_remote_catalog(fs, base: str, url: str, missing_ok: bool = False) -> dict:
    """The remote's catalog; RemoteError when it is missing (unless ``missing_ok``) or corrupt."""
    from .catalog import empty_catalog

    path = _join(base, CATALOG_FILE)
    with remote_errors(url):
        exists = fs.exists(path)
        base_exists = exists or fs.exists(base)
    if not exists:
        if missing_ok:
            return empty_catalog()
        if not base_exists:
            raise RemoteError(f"cannot reach {url}: it does not exist (check the path or URL)")
        raise RemoteError(f"{url} has no {CATALOG_FILE}: it is not a DFT registry "
                          "(publish a bundle to it first, or check the URL)")
    with remote_errors(url):
        text = fs.cat_file(path).decode("utf-8", errors="replace")
    try:
        return parse_catalog(text, f"{url.rstrip('/')}/{CATALOG_FILE}")
    except CatalogError as exc:
        raise RemoteError(f"{exc} (remote catalog left untouched)") from None


def _write_remote_catalog(fs, base: str, catalog: dict) -> None:
    path = _join(base, CATALOG_FILE)
    catalog["bundles"] = sort_entries(catalog["bundles"])
    if _is_local(fs):
        atomic_write_json(Path(path), catalog)
    else:
        fs.pipe_file(path, dumps_json(catalog))


@contextlib.contextmanager
def _remote_lock(fs, base: str):
    """The catalog lock when the remote is a local directory (object stores have no locks)."""
    if _is_local(fs):
        with catalog_lock(Path(base)):
            yield
    else:
        yield


def _same_version(catalog: dict, domain: str, version: str) -> dict | None:
    for entry in catalog["bundles"]:
        if entry.get("domain") == domain and entry.get("version") == version:
            return entry
    return None


def _immutable(where: str, ref: str, theirs: str, ours: str) -> RemoteError:
    return RemoteError(f"{where} already has {ref} with a different content hash "
                       f"(sha256:{theirs[:12]} there, sha256:{ours[:12]} here): versions are "
                       "immutable; build a new version or publish to another remote")


# ---------------------------------------------------------------- publish

def publish(ref: str, dest: str, registry: str | Path | None = None, token: str | None = None
            ) -> TransferResult:
    """Copy one verified bundle and its catalog entry to ``dest`` (directory, fsspec URL or hf://)."""
    root = registry_root(registry, must_exist=True)
    bundle = load(ref, registry=root)
    entry = _same_version(read_catalog(root), bundle.domain, bundle.version)
    if is_hub_url(dest):
        from .hub import publish_to_hub

        return publish_to_hub(bundle, entry, dest, token=token)
    fs, base = open_remote(dest)
    with remote_errors(dest):
        fs.makedirs(base, exist_ok=True)
    with _remote_lock(fs, base):
        remote_catalog = read_remote_catalog(fs, base, dest, missing_ok=True)
        existing = _same_version(remote_catalog, bundle.domain, bundle.version)
        if existing is not None:
            if existing.get("content_hash") != bundle.content_hash:
                raise _immutable(dest, bundle.ref, existing.get("content_hash", ""), bundle.content_hash)
            return TransferResult(bundle.ref, bundle.content_hash, False, dest)
        target = _join(base, STATS_DIR, bundle.domain, bundle.version)
        names = sorted(bundle.manifest["files"])
        try:
            with remote_errors(dest):
                fs.makedirs(target, exist_ok=True)
                for name in names:  # data first, manifest last, catalog after that
                    fs.makedirs(_join(target, *name.split("/")[:-1]), exist_ok=True)
                    fs.put_file(str(bundle.path / name), _join(target, name))
                fs.put_file(str(bundle.path / MANIFEST), _join(target, MANIFEST))
                remote_catalog["bundles"].append(dict(entry, path=f"{STATS_DIR}/{bundle.domain}/"
                                                              f"{bundle.version}"))
                _write_remote_catalog(fs, base, remote_catalog)
        except BaseException:
            with contextlib.suppress(Exception):
                fs.rm(target, recursive=True)
            raise
    return TransferResult(bundle.ref, bundle.content_hash, True, dest, len(names) + 1)


# ---------------------------------------------------------------- pull

def parse_pull_ref(text: str) -> BundleRef:
    """``NAME``, ``NAME@vN`` or ``NAME@sha256:PREFIX`` (UsageError otherwise)."""
    return BundleRef.parse(text)


def resolve_remote(catalog: dict, ref: BundleRef, src: str) -> dict:
    """The remote catalog entry for ``ref``, with the remote named in the error."""
    try:
        entry = resolve(catalog, ref)
    except BundleNotFound as exc:
        message = str(exc).replace(" (see `dft-stats list`)", "")
        raise BundleNotFound(f"{message} on {src}") from None
    try:
        validate_domain(entry["domain"])
        version_number(entry["version"])
        if not re.fullmatch(r"[0-9a-f]{64}", entry["content_hash"]):
            raise ValueError
    except (DftError, ValueError, KeyError, TypeError):
        raise RemoteError(f"{src} lists a malformed catalog entry for {ref}; refusing it") from None
    return entry


def check_local_slot(root: Path, entry: dict, src: str) -> TransferResult | None:
    """A result if this exact version is already here; RemoteError if another one holds its slot."""
    label = f"{entry['domain']}@{entry['version']}"
    local = _same_version(read_catalog(root), entry["domain"], entry["version"])
    if local is not None:
        if local["content_hash"] != entry["content_hash"]:
            raise RemoteError(
                f"this registry already has {label} with a different content hash (sha256:"
                f"{local['content_hash'][:12]} here, sha256:{entry['content_hash'][:12]} on {src}): "
                "versions are immutable; pull into another --registry")
        return TransferResult(label, entry["content_hash"], False,
                              str(bundle_dir(root, entry["domain"], entry["version"])))
    if bundle_dir(root, entry["domain"], entry["version"]).exists():
        raise RemoteError(f"{STATS_DIR}/{entry['domain']}/{entry['version']} exists on disk but not in "
                          "the catalog; run `dft-stats catalog rebuild` first")
    return None


def staging_dir(root: Path) -> Path:
    # Named like a build's temp dir so the build's stale-temp cleanup also removes
    # what a killed pull left behind.
    path = Path(root) / STATS_DIR / TMP_DIR / f"build-{os.getpid()}-pull-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path


def install_bundle(root: Path, staged: Path, entry: dict, src: str) -> TransferResult:
    """Verify a downloaded bundle directory and rename it into place (or refuse it).

    ``staged`` must be inside the registry (same filesystem, so the rename is
    atomic). The catalog entry is derived from the verified manifest, not
    copied from the remote.
    """
    from .catalog import catalog_entry

    label = f"{entry['domain']}@{entry['version']}"
    manifest = check_bundle(staged, f"{label} from {src}")
    if (manifest.get("domain"), manifest.get("version"), manifest.get("content_hash")) != (
            entry["domain"], entry["version"], entry["content_hash"]):
        raise BundleCorrupt(f"bundle {label} from {src} does not match its catalog entry (domain, "
                            "version or content hash differ): refusing it")
    with catalog_lock(root):
        already = check_local_slot(root, entry, src)
        if already is not None:
            return already
        catalog = read_catalog(root)
        target = bundle_dir(root, entry["domain"], entry["version"])
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        catalog["bundles"] = sort_entries([*catalog["bundles"], catalog_entry(manifest, target, root)])
        atomic_write_json(catalog_path(root), catalog)
    return TransferResult(label, entry["content_hash"], True, str(target),
                          len(manifest["files"]) + 1)


def safe_file_names(manifest: dict, label: str) -> list[str]:
    """The manifest's file names, refusing any that could escape the bundle directory."""
    names = sorted((manifest.get("files") or {}).keys())
    for name in names:
        if not SAFE_FILE.match(name) or ".." in PurePosixPath(name).parts:
            raise BundleCorrupt(f"bundle {label} lists an unsafe file name {name!r}: refusing it")
    return names


def pull(ref: str, src: str, registry: str | Path | None = None, token: str | None = None
         ) -> TransferResult:
    """Download ``NAME[@vN]`` from ``src``, verify it, and add it to the local registry."""
    parsed = parse_pull_ref(ref)
    root = registry_root(registry)
    read_catalog(root)  # a corrupt local catalog stops us before any download
    if is_hub_url(src):
        from .hub import pull_from_hub

        return pull_from_hub(parsed, src, root, token=token)
    fs, base = open_remote(src)
    entry = resolve_remote(read_remote_catalog(fs, base, src), parsed, src)
    already = check_local_slot(root, entry, src)
    if already is not None:
        return already
    label = f"{entry['domain']}@{entry['version']}"
    remote_dir = _join(base, STATS_DIR, entry["domain"], entry["version"])
    work = staging_dir(root)
    try:
        staged = work / "bundle"
        staged.mkdir()
        with remote_errors(src):
            if not fs.exists(_join(remote_dir, MANIFEST)):
                raise BundleCorrupt(f"bundle {label} on {src} has no {MANIFEST} (an incomplete "
                                    "publish?): refusing it")
            fs.get_file(_join(remote_dir, MANIFEST), str(staged / MANIFEST))
            names = safe_file_names(read_manifest(staged), label)
            for name in names:
                (staged / name).parent.mkdir(parents=True, exist_ok=True)
                if not fs.exists(_join(remote_dir, name)):
                    raise BundleCorrupt(f"bundle {label} on {src} is missing {name}: refusing it")
                fs.get_file(_join(remote_dir, name), str(staged / name))
        return install_bundle(root, staged, entry, src)
    finally:
        shutil.rmtree(work, ignore_errors=True)
