"""Hugging Face Hub remotes (``hf://datasets/ORG/NAME``): the only module importing huggingface_hub.

A Hub dataset repo holds a registry: ``catalog.json``, ``stats/<domain>/<version>/``
and a generated ``README.md`` dataset card whose YAML declares the license and
one config per (domain, Parquet table), with one split per version, so the
Hub's dataset viewer shows every table. Publishing is one commit
(``HfApi.create_commit`` with ``CommitOperationAdd`` operations); pulling uses
``snapshot_download`` into a temporary directory inside the local registry and
then the same verification as every other pull.

``plan_publish`` builds the operations and the card without touching the
network, so they can be checked offline; ``publish_to_hub`` and
``pull_from_hub`` do the network calls and turn every failure into one
RemoteError line.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import dumps_json
from .bundle import MANIFEST, TABLES, Bundle
from .catalog import empty_catalog, parse_catalog, sort_entries
from .errors import CatalogError, DftError, RemoteError
from .registry import CATALOG_FILE, STATS_DIR, BundleRef

HUB_URL = re.compile(r"^hf://datasets/([A-Za-z0-9][A-Za-z0-9._-]*)/([A-Za-z0-9][A-Za-z0-9._-]*)/?$")
HUB_LICENSES = {
    "apache-2.0", "mit", "cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0",
    "cc-by-3.0", "cc-by-sa-3.0", "cc-by-nd-4.0", "odc-by", "odbl", "pddl", "gpl-3.0", "lgpl-3.0",
    "bsd-3-clause", "bsd-2-clause", "openrail", "unknown", "other",
}


@dataclass
class HubPlan:
    """Everything one publish commit would send: operations, the card and the merged catalog."""

    repo_id: str
    operations: list
    card: str
    catalog: dict
    commit_message: str
    paths: list[str] = field(default_factory=list)


def parse_hub_url(url: str) -> str:
    """``hf://datasets/ORG/NAME`` -> ``ORG/NAME`` (UsageError-like RemoteError otherwise)."""
    match = HUB_URL.match(str(url).strip())
    if not match:
        raise RemoteError(f"bad Hub URL {url!r}: use hf://datasets/ORG/NAME (a dataset repo)")
    return f"{match.group(1)}/{match.group(2)}"


def hub_license(license_text: str) -> dict:
    """Card metadata for a license: a Hub license id, else ``other`` plus ``license_name``."""
    key = (license_text or "").strip().lower().replace(" ", "-")
    if not key:
        return {"license": "unknown"}
    if key in HUB_LICENSES:
        return {"license": key}
    slug = re.sub(r"[^a-z0-9-]+", "-", key).strip("-") or "custom"
    return {"license": "other", "license_name": slug}


def table_configs(catalog: dict) -> list[dict]:
    """One Hub config per (domain, table); one split per version of that domain."""
    entries = sort_entries(catalog["bundles"])
    domains = sorted({e["domain"] for e in entries})
    configs = []
    for domain in domains:
        versions = [e["version"] for e in entries if e["domain"] == domain]
        for table in TABLES:
            name = table if len(domains) == 1 else f"{domain}-{table}"
            configs.append({
                "config_name": name,
                "data_files": [{"split": v, "path": f"{STATS_DIR}/{domain}/{v}/{table}.parquet"}
                               for v in versions],
            })
    if configs:
        configs[0]["default"] = True
    return configs


def dataset_card(catalog: dict, repo_id: str) -> str:
    """The README.md (YAML header + markdown) for a Hub repo holding ``catalog``."""
    from huggingface_hub import DatasetCard, DatasetCardData

    entries = sort_entries(catalog["bundles"])
    licenses = sorted({e.get("license", "") for e in entries if e.get("license")})
    license_meta = hub_license(licenses[0]) if len(licenses) == 1 else (
        {"license": "other", "license_name": "mixed"} if licenses else {"license": "unknown"})
    data = DatasetCardData(
        pretty_name=f"DFT stat bundles: {', '.join(sorted({e['domain'] for e in entries}))}",
        tags=["dft", "corpus-statistics", "parquet"],
        configs=table_configs(catalog),
        **license_meta,
    )
    lines = [f"# {repo_id}", "",
             ("Corpus-statistics bundles for Distribution Fine-Tuning (DFT): word, n-gram, "
              "sentence-length and entropy statistics as Parquet tables, with no raw text. "
              "Each config is one table of one domain; each split is one immutable version."), "",
             "| domain | version | documents | words | sentence length (mean) | license | sha256 |",
             "|---|---|---:|---:|---:|---|---|"]
    for e in entries:
        totals = e.get("totals", {})
        lines.append(f"| {e['domain']} | {e['version']} | {totals.get('documents', 0):,} | "
                     f"{totals.get('words', 0):,} | "
                     f"{e.get('headline', {}).get('sentence_length_mean', 0):.2f} | "
                     f"{e.get('license') or 'unspecified'} | `{e['content_hash'][:12]}` |")
    for e in entries:
        lines += ["", f"## {e['domain']}@{e['version']}", ""]
        if e.get("description"):
            lines += [e["description"], ""]
        lines.append(f"License: {e.get('license') or 'unspecified'}. Segmenter: "
                     f"`{e.get('segmenter', '?')}`.")
        if e.get("sources"):
            lines += ["", "Sources:", ""]
            lines += [f"- {s.get('name', '?')} ({s.get('license', 'unspecified')})"
                      + (f": {s['attribution']}" if s.get("attribution") else "")
                      for s in e["sources"]]
    lines += ["", "## Use", "",
              "```", f"dft-stats pull DOMAIN --from hf://datasets/{repo_id}",
              "dft-stats show DOMAIN", "```", ""]
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines)))


def plan_publish(bundle: Bundle, entry: dict, remote_catalog: dict, repo_id: str) -> HubPlan:
    """The commit that publishes ``bundle`` to a repo whose catalog is ``remote_catalog``.

    Refuses (RemoteError) a version that exists there with another content hash;
    returns a plan with no operations when the same version is already there.
    """
    from huggingface_hub import CommitOperationAdd

    catalog = json.loads(json.dumps(remote_catalog))
    for existing in catalog["bundles"]:
        if existing.get("domain") == bundle.domain and existing.get("version") == bundle.version:
            if existing.get("content_hash") != bundle.content_hash:
                raise RemoteError(
                    f"hf://datasets/{repo_id} already has {bundle.ref} with a different content hash "
                    f"(sha256:{str(existing.get('content_hash'))[:12]} there, "
                    f"sha256:{bundle.content_hash[:12]} here): versions are immutable; build a new "
                    "version or publish to another repo")
            return HubPlan(repo_id, [], "", catalog, "")
    prefix = f"{STATS_DIR}/{bundle.domain}/{bundle.version}"
    names = [*sorted(bundle.manifest["files"]), MANIFEST]
    operations = [CommitOperationAdd(path_in_repo=f"{prefix}/{name}",
                                     path_or_fileobj=str(bundle.path / name)) for name in names]
    catalog["bundles"] = sort_entries([*catalog["bundles"], dict(entry, path=prefix)])
    card = dataset_card(catalog, repo_id)
    operations.append(CommitOperationAdd(path_in_repo=CATALOG_FILE, path_or_fileobj=dumps_json(catalog)))
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode("utf-8")))
    return HubPlan(repo_id, operations, card, catalog,
                   f"Publish {bundle.ref} (sha256:{bundle.content_hash[:12]})",
                   [op.path_in_repo for op in operations])


@contextlib.contextmanager
def hub_errors(url: str):
    """Turn huggingface_hub and network failures into one RemoteError line."""
    from huggingface_hub import errors

    try:
        yield
    except DftError:
        raise
    except (errors.OfflineModeIsEnabled, errors.LocalEntryNotFoundError):
        raise RemoteError(f"cannot reach the Hugging Face Hub for {url}: offline or no connection "
                          "(check the network, HF_ENDPOINT and HF_HUB_OFFLINE)") from None
    except errors.RepositoryNotFoundError:
        raise RemoteError(f"{url} does not exist or is private: check the name, or log in with "
                          "`hf auth login` / set HF_TOKEN") from None
    except errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise RemoteError(f"not allowed to write {url} (HTTP {status}): log in with "
                              "`hf auth login` or set HF_TOKEN to a token with write access") from None
        raise RemoteError(f"the Hub refused the request for {url}: "
                          f"{' '.join(str(exc).split())[:200]}") from None
    except Exception as exc:  # noqa: BLE001 - httpx/OS connection errors have no common base here
        raise RemoteError(f"cannot reach the Hugging Face Hub for {url}: {type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]}") from None


def _download_catalog(repo_id: str, url: str, workdir: Path, token, endpoint, missing_ok: bool) -> dict:
    from huggingface_hub import errors, hf_hub_download

    try:
        with hub_errors(url):
            try:
                path = hf_hub_download(repo_id, CATALOG_FILE, repo_type="dataset", local_dir=workdir,
                                       token=token, endpoint=endpoint)
            except errors.LocalEntryNotFoundError:
                raise
            except errors.EntryNotFoundError:
                if missing_ok:
                    return empty_catalog()
                raise RemoteError(f"{url} has no {CATALOG_FILE}: it is not a DFT registry "
                                  "(publish a bundle to it first)") from None
    except RemoteError as exc:
        if missing_ok and "does not exist or is private" in str(exc):
            return empty_catalog()
        raise
    try:
        return parse_catalog(Path(path).read_text(encoding="utf-8", errors="replace"),
                             f"{url}/{CATALOG_FILE}")
    except CatalogError as exc:
        raise RemoteError(f"{exc} (remote catalog left untouched)") from None


def publish_to_hub(bundle: Bundle, entry: dict, url: str, token: str | None = None,
                   endpoint: str | None = None):
    """Publish a verified bundle to ``hf://datasets/ORG/NAME`` in one commit."""
    from huggingface_hub import HfApi

    from .remote import TransferResult, staging_dir

    repo_id = parse_hub_url(url)
    api = HfApi(endpoint=endpoint, token=token)
    root = bundle.registry or bundle.path.parent.parent.parent
    work = staging_dir(root)
    try:
        with hub_errors(url):
            api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        remote_catalog = _download_catalog(repo_id, url, work, token, endpoint, missing_ok=True)
        plan = plan_publish(bundle, entry, remote_catalog, repo_id)
        if not plan.operations:
            return TransferResult(bundle.ref, bundle.content_hash, False, url)
        with hub_errors(url):
            api.create_commit(repo_id, plan.operations, commit_message=plan.commit_message,
                              repo_type="dataset")
        return TransferResult(bundle.ref, bundle.content_hash, True, url, len(plan.operations))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pull_from_hub(ref: BundleRef, url: str, root: Path, token: str | None = None,
                  endpoint: str | None = None):
    """Download one version from a Hub repo with ``snapshot_download``, verify it, install it."""
    from huggingface_hub import snapshot_download

    from .remote import check_local_slot, install_bundle, resolve_remote, staging_dir

    repo_id = parse_hub_url(url)
    work = staging_dir(root)
    try:
        catalog = _download_catalog(repo_id, url, work / "catalog", token, endpoint, missing_ok=False)
        entry = resolve_remote(catalog, ref, url)
        already = check_local_slot(root, entry, url)
        if already is not None:
            return already
        prefix = f"{STATS_DIR}/{entry['domain']}/{entry['version']}"
        with hub_errors(url):
            snapshot_download(repo_id, repo_type="dataset", local_dir=work / "snapshot",
                              allow_patterns=[f"{prefix}/*", f"{prefix}/**"], token=token,
                              endpoint=endpoint)
        staged = work / "snapshot" / prefix
        if not (staged / MANIFEST).exists():
            raise RemoteError(f"{url} lists {entry['domain']}@{entry['version']} but holds no "
                              f"{prefix}/{MANIFEST}: refusing it")
        return install_bundle(root, staged, entry, url)
    finally:
        shutil.rmtree(work, ignore_errors=True)
