"""Hugging Face Hub remotes, offline: the exact commit operations, the dataset card, and
network failures turned into one clear line. The real huggingface_hub code runs up
to the network call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from huggingface_hub import CommitOperationAdd, DatasetCard

from dft_registry.bundle import TABLES, load
from dft_registry.catalog import empty_catalog, read_catalog
from dft_registry.cli import cli
from dft_registry.errors import RemoteError
from dft_registry.hub import hub_license, parse_hub_url, plan_publish
from dft_registry.remote import pull


@pytest.fixture
def golden(built_registry):
    bundle = load("golden", registry=built_registry)
    entry = read_catalog(built_registry)["bundles"][0]
    return bundle, entry


def test_hub_urls_name_a_dataset_repo():
    assert parse_hub_url("hf://datasets/my-org/dft-legal") == "my-org/dft-legal"
    for bad in ("hf://models/org/name", "hf://datasets/only-org", "hf://datasets/a/b/c"):
        with pytest.raises(RemoteError, match="use hf://datasets/ORG/NAME"):
            parse_hub_url(bad)


def test_licenses_map_to_hub_ids_or_other():
    assert hub_license("CC-BY-4.0") == {"license": "cc-by-4.0"}
    assert hub_license("public-domain") == {"license": "other", "license_name": "public-domain"}
    assert hub_license("") == {"license": "unknown"}


def test_publish_plan_adds_every_file_then_catalog_and_card(golden):
    bundle, entry = golden
    plan = plan_publish(bundle, entry, empty_catalog(), "my-org/dft-golden")
    assert all(isinstance(op, CommitOperationAdd) for op in plan.operations)
    files = [f"stats/golden/v1/{name}" for name in sorted(bundle.manifest["files"])]
    assert plan.paths == [*files, "stats/golden/v1/manifest.json", "catalog.json", "README.md"]
    for op in plan.operations[:-2]:
        name = op.path_in_repo.removeprefix("stats/golden/v1/")
        assert Path(op.path_or_fileobj) == bundle.path / name
    assert plan.commit_message.startswith("Publish golden@v1 (sha256:")


def test_publish_plan_catalog_is_the_merged_registry_catalog(golden):
    bundle, entry = golden
    other = dict(entry, domain="aardvark", path="stats/aardvark/v1")
    remote = {**empty_catalog(), "bundles": [other]}
    plan = plan_publish(bundle, entry, remote, "org/all")
    catalog_op = next(op for op in plan.operations if op.path_in_repo == "catalog.json")
    catalog = json.loads(catalog_op.path_or_fileobj)
    assert [(e["domain"], e["version"]) for e in catalog["bundles"]] == [("aardvark", "v1"), ("golden", "v1")]
    assert catalog == plan.catalog
    assert remote["bundles"] == [other]  # the input is not modified


def test_dataset_card_declares_license_configs_description_and_sources(golden):
    bundle, entry = golden
    plan = plan_publish(bundle, entry, empty_catalog(), "my-org/dft-golden")
    card = DatasetCard(plan.card)
    data = card.data.to_dict()
    assert data["license"] == "other" and data["license_name"] == "public-domain"
    configs = {c["config_name"]: c for c in data["configs"]}
    assert sorted(configs) == sorted(TABLES)  # one config per Parquet table
    assert configs["unigrams"]["data_files"] == [{"split": "v1", "path": "stats/golden/v1/unigrams.parquet"}]
    assert configs[TABLES[0]].get("default") is True
    assert "Golden test corpus" in card.text
    assert "Sources:" in card.text and str(bundle.manifest["sources"][0]["name"]) in card.text
    readme = next(op for op in plan.operations if op.path_in_repo == "README.md").path_or_fileobj
    assert readme.decode("utf-8") == plan.card


def test_card_of_a_multi_domain_repo_prefixes_config_names(golden):
    bundle, entry = golden
    remote = {**empty_catalog(), "bundles": [dict(entry, domain="news", path="stats/news/v1")]}
    data = DatasetCard(plan_publish(bundle, entry, remote, "org/all").card).data.to_dict()
    names = [c["config_name"] for c in data["configs"]]
    assert "golden-unigrams" in names and "news-ngrams" in names
    assert len(names) == 2 * len(TABLES)


def test_a_version_already_on_the_hub_with_another_hash_is_refused(golden):
    bundle, entry = golden
    remote = {**empty_catalog(), "bundles": [dict(entry, content_hash="b" * 64)]}
    with pytest.raises(RemoteError, match="versions are immutable"):
        plan_publish(bundle, entry, remote, "org/name")


def test_the_same_version_on_the_hub_needs_no_commit(golden):
    bundle, entry = golden
    plan = plan_publish(bundle, entry, {**empty_catalog(), "bundles": [entry]}, "org/name")
    assert plan.operations == []


def test_the_hub_layout_is_a_registry_that_pull_accepts(golden, tmp_path):
    """Write the planned commit to a directory, as the Hub would store it, and pull from it."""
    bundle, entry = golden
    plan = plan_publish(bundle, entry, empty_catalog(), "org/name")
    repo = tmp_path / "repo"
    for op in plan.operations:
        target = repo / op.path_in_repo
        target.parent.mkdir(parents=True, exist_ok=True)
        source = op.path_or_fileobj
        target.write_bytes(source if isinstance(source, bytes) else Path(source).read_bytes())
    result = pull("golden", str(repo), registry=tmp_path / "local")
    assert result.created and result.content_hash == bundle.content_hash


def test_publish_when_the_hub_is_unreachable_is_one_line(built_registry, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    before = (built_registry / "catalog.json").read_bytes()
    result = CliRunner().invoke(cli, ["publish", "golden", "--to", "hf://datasets/org/name",
                                      "--registry", str(built_registry), "--token", "hf_fake"],
                                catch_exceptions=False)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: cannot reach the Hugging Face Hub for hf://datasets/org/name")
    assert (built_registry / "catalog.json").read_bytes() == before
    assert not any((built_registry / "stats" / ".tmp").glob("*"))


def test_pull_when_offline_is_one_line_and_changes_nothing(registry, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    result = CliRunner().invoke(cli, ["pull", "golden", "--from", "hf://datasets/org/name"],
                                catch_exceptions=False)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "cannot reach the Hugging Face Hub" in lines[0]
    assert not (registry / "catalog.json").exists()
    assert not any((registry / "stats" / ".tmp").glob("*"))


def test_a_bad_hub_url_is_one_line(built_registry):
    result = CliRunner().invoke(cli, ["publish", "golden", "--to", "hf://org/name",
                                      "--registry", str(built_registry)], catch_exceptions=False)
    assert result.exit_code != 0
    assert "use hf://datasets/ORG/NAME" in result.output
