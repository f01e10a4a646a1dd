"""Publish and pull through directories and fsspec URLs (``memory://``), with the CLI.

Every refusal checks that nothing was left behind: no bundle directory, no
temporary download, an unchanged catalog.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import fsspec
import pytest
from click.testing import CliRunner

from dft_registry.cli import cli
from dft_registry.errors import BundleCorrupt, BundleNotFound, RemoteError
from dft_registry.remote import publish, pull


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def leftovers(root: Path) -> list[str]:
    tmp = Path(root) / "stats" / ".tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def one_line_error(result, fragment: str) -> None:
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert fragment in lines[0], lines[0]


@pytest.fixture
def memory_url():
    url = f"memory://dft-test-{uuid.uuid4().hex[:8]}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url.removeprefix("memory:/")):
        fs.rm(url.removeprefix("memory:/"), recursive=True)


@pytest.fixture
def empty_registry(tmp_path) -> Path:
    root = tmp_path / "local"
    root.mkdir()
    return root


def test_publish_then_pull_through_a_directory(built_registry, empty_registry, tmp_path):
    remote = tmp_path / "remote"
    result = run("publish", "golden", "--to", str(remote), "--registry", str(built_registry))
    assert result.exit_code == 0, result.output
    assert "Published golden@v1" in result.output
    remote_catalog = json.loads((remote / "catalog.json").read_text())
    assert [e["domain"] for e in remote_catalog["bundles"]] == ["golden"]
    result = run("pull", "golden@v1", "--from", str(remote), "--registry", str(empty_registry))
    assert result.exit_code == 0, result.output
    assert "Pulled golden@v1" in result.output
    assert tree_digest(empty_registry / "stats" / "golden") == tree_digest(built_registry / "stats" / "golden")
    local = json.loads(run("list", "--json", "--registry", str(empty_registry)).output)
    assert local[0]["content_hash"] == remote_catalog["bundles"][0]["content_hash"]
    assert run("verify", "golden", "--registry", str(empty_registry)).exit_code == 0
    assert leftovers(empty_registry) == []


def test_publish_then_pull_through_memory_fsspec(built_registry, empty_registry, memory_url):
    assert publish("golden", memory_url, registry=built_registry).created
    result = pull("golden", memory_url, registry=empty_registry)
    assert result.created and result.ref == "golden@v1"
    assert (empty_registry / "stats" / "golden" / "v1" / "manifest.json").exists()


def test_publish_and_pull_twice_are_no_ops(built_registry, empty_registry, memory_url):
    publish("golden", memory_url, registry=built_registry)
    assert not publish("golden", memory_url, registry=built_registry).created
    pull("golden", memory_url, registry=empty_registry)
    before = tree_digest(empty_registry)
    result = run("pull", "golden", "--from", memory_url, "--registry", str(empty_registry))
    assert result.exit_code == 0 and "already here" in result.output
    assert tree_digest(empty_registry) == before


def test_publishing_an_existing_version_with_another_hash_is_refused(built_registry, memory_url):
    publish("golden", memory_url, registry=built_registry)
    fs = fsspec.filesystem("memory")
    path = memory_url.removeprefix("memory:/") + "/catalog.json"
    catalog = json.loads(fs.cat_file(path))
    catalog["bundles"][0]["content_hash"] = "f" * 64
    fs.pipe_file(path, json.dumps(catalog).encode())
    before = fs.cat_file(path)
    result = run("publish", "golden", "--to", memory_url, "--registry", str(built_registry))
    one_line_error(result, "versions are immutable")
    assert fs.cat_file(path) == before


def test_a_tampered_remote_bundle_is_refused_and_nothing_is_left(built_registry, empty_registry, tmp_path):
    remote = tmp_path / "remote"
    publish("golden", str(remote), registry=built_registry)
    target = remote / "stats" / "golden" / "v1" / "unigrams.parquet"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    before = tree_digest(empty_registry)
    result = run("pull", "golden", "--from", str(remote), "--registry", str(empty_registry))
    one_line_error(result, "unigrams.parquet does not match its sha256")
    assert tree_digest(empty_registry) == before
    assert not (empty_registry / "stats" / "golden").exists()
    assert leftovers(empty_registry) == []


def test_a_truncated_remote_bundle_is_refused(built_registry, empty_registry, memory_url):
    publish("golden", memory_url, registry=built_registry)
    fs = fsspec.filesystem("memory")
    path = memory_url.removeprefix("memory:/") + "/stats/golden/v1/windows.parquet"
    fs.pipe_file(path, fs.cat_file(path)[:50])
    with pytest.raises(BundleCorrupt, match="windows.parquet"):
        pull("golden", memory_url, registry=empty_registry)
    assert not (empty_registry / "stats" / "golden").exists()
    assert leftovers(empty_registry) == []


def test_a_missing_remote_file_is_refused(built_registry, empty_registry, memory_url):
    publish("golden", memory_url, registry=built_registry)
    fs = fsspec.filesystem("memory")
    fs.rm(memory_url.removeprefix("memory:/") + "/stats/golden/v1/openers.parquet")
    with pytest.raises(BundleCorrupt, match="missing openers.parquet"):
        pull("golden", memory_url, registry=empty_registry)
    assert leftovers(empty_registry) == []


def test_a_bundle_that_does_not_match_the_remote_catalog_is_refused(built_registry, empty_registry,
                                                                   memory_url):
    publish("golden", memory_url, registry=built_registry)
    fs = fsspec.filesystem("memory")
    path = memory_url.removeprefix("memory:/") + "/catalog.json"
    catalog = json.loads(fs.cat_file(path))
    catalog["bundles"][0]["content_hash"] = "0" * 64
    fs.pipe_file(path, json.dumps(catalog).encode())
    with pytest.raises(BundleCorrupt, match="does not match its catalog entry"):
        pull("golden", memory_url, registry=empty_registry)
    assert not (empty_registry / "stats" / "golden").exists()


def test_a_manifest_with_an_unsafe_file_name_is_refused(built_registry, empty_registry, tmp_path):
    remote = tmp_path / "remote"
    publish("golden", str(remote), registry=built_registry)
    manifest_path = remote / "stats" / "golden" / "v1" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["../../../escape.parquet"] = {"sha256": "0" * 64, "rows": 0, "bytes": 0}
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BundleCorrupt, match="unsafe file name"):
        pull("golden", str(remote), registry=empty_registry)
    assert not (tmp_path / "escape.parquet").exists()
    assert leftovers(empty_registry) == []


def test_pull_of_an_unknown_domain_suggests_names_on_the_remote(built_registry, empty_registry, memory_url):
    publish("golden", memory_url, registry=built_registry)
    with pytest.raises(BundleNotFound, match=f"did you mean golden.*on {memory_url}"):
        pull("goldne", memory_url, registry=empty_registry)


def test_pull_of_a_missing_version_lists_the_remote_versions(built_registry, empty_registry, memory_url):
    publish("golden", memory_url, registry=built_registry)
    result = run("pull", "golden@v3", "--from", memory_url, "--registry", str(empty_registry))
    one_line_error(result, "golden has no version v3 (versions: v1)")


def test_pull_with_bad_reference_syntax_is_a_usage_error(empty_registry, memory_url):
    result = run("pull", "golden@three", "--from", memory_url, "--registry", str(empty_registry))
    one_line_error(result, "bad bundle reference")
    assert result.exit_code == 2


def test_an_unreachable_remote_is_one_line(empty_registry, tmp_path):
    before = tree_digest(empty_registry)
    for src, fragment in ((str(tmp_path / "no" / "such" / "dir"), "does not exist"),
                          ("nosuchprotocol://host/path", "Protocol not known"),
                          ("http://127.0.0.1:9/registry", "cannot")):
        result = run("pull", "golden", "--from", src, "--registry", str(empty_registry))
        one_line_error(result, fragment)
    assert tree_digest(empty_registry) == before
    assert leftovers(empty_registry) == []


def test_a_remote_without_catalog_is_one_line(empty_registry, tmp_path):
    (tmp_path / "bare").mkdir()
    result = run("pull", "golden", "--from", str(tmp_path / "bare"), "--registry", str(empty_registry))
    one_line_error(result, "has no catalog.json")


def test_a_corrupt_remote_catalog_is_reported_and_never_overwritten(built_registry, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "catalog.json").write_text("[1, 2", encoding="utf-8")
    result = run("publish", "golden", "--to", str(remote), "--registry", str(built_registry))
    one_line_error(result, "catalog.json is not valid JSON")
    assert (remote / "catalog.json").read_text() == "[1, 2"
    assert not (remote / "stats").exists()
    result = run("pull", "golden", "--from", str(remote), "--registry", str(tmp_path / "other"))
    one_line_error(result, "catalog.json is not valid JSON")


def test_pull_into_a_registry_with_a_corrupt_catalog_is_refused_before_downloading(
        built_registry, empty_registry, memory_url):
    publish("golden", memory_url, registry=built_registry)
    (empty_registry / "catalog.json").write_text("nope")
    result = run("pull", "golden", "--from", memory_url, "--registry", str(empty_registry))
    one_line_error(result, "catalog.json is not valid JSON")
    assert (empty_registry / "catalog.json").read_text() == "nope"
    assert not (empty_registry / "stats").exists()


def test_a_local_version_with_another_hash_blocks_the_pull(built_registry, tmp_path, memory_url):
    publish("golden", memory_url, registry=built_registry)
    other = tmp_path / "other"
    shutil.copytree(built_registry, other)
    catalog = json.loads((other / "catalog.json").read_text())
    catalog["bundles"][0]["content_hash"] = "a" * 64
    (other / "catalog.json").write_text(json.dumps(catalog))
    with pytest.raises(RemoteError, match="versions are immutable"):
        pull("golden", memory_url, registry=other)


def test_publishing_two_versions_keeps_both_in_the_remote_catalog(built_registry, golden_corpus, tmp_path,
                                                                  memory_url):
    import dft_registry

    corpus = tmp_path / "more"
    shutil.copytree(golden_corpus, corpus)
    (corpus / "extra.txt").write_text("A new document. It adds a few words to the corpus.\n")
    dft_registry.build("golden", corpus, registry=built_registry, workers=1)
    publish("golden@v1", memory_url, registry=built_registry)
    publish("golden@v2", memory_url, registry=built_registry)
    fs = fsspec.filesystem("memory")
    catalog = json.loads(fs.cat_file(memory_url.removeprefix("memory:/") + "/catalog.json"))
    assert [e["version"] for e in catalog["bundles"]] == ["v1", "v2"]
    local = tmp_path / "pulled"
    assert pull("golden", memory_url, registry=local).ref == "golden@v2"  # latest by default


def test_file_urls_work_like_directories(built_registry, empty_registry, tmp_path):
    url = (tmp_path / "remote").as_uri()
    assert publish("golden", url, registry=built_registry).created
    assert (tmp_path / "remote" / "catalog.json").exists()
    assert pull("golden", url, registry=empty_registry).created
