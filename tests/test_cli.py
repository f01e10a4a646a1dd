"""dft-stats build / list / show / recipes through click's CliRunner on real small corpora."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dft_registry.cli import cli


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    return result


def test_build_then_show_prints_the_headline_numbers(tmp_path, golden_corpus):
    registry = str(tmp_path / "reg")
    built = invoke("build", "mydomain", "--source", str(golden_corpus), "--registry", registry, "-q")
    assert built.exit_code == 0, built.output
    assert "Built mydomain@v1 (5 documents, 602 words" in built.output
    again = invoke("build", "mydomain", "--source", str(golden_corpus), "--registry", registry, "-q")
    assert again.exit_code == 0 and "up to date" in again.output
    # piped (not a terminal): no progress bar, and no empty line where it would have been
    piped = invoke("build", "other", "--source", str(golden_corpus), "--registry", registry)
    assert piped.output.startswith("Built other@v1 (5 documents"), piped.output
    shown = invoke("show", "mydomain", "--registry", registry)
    assert shown.exit_code == 0, shown.output
    for expected in ("mydomain@v1", "documents", "602", "sentence length", "spacy-sentencizer.v1", "the"):
        assert expected in shown.output


def test_list_and_show_json_are_machine_readable(built_registry):
    listed = invoke("list", "--json", "--registry", str(built_registry))
    entries = json.loads(listed.output)
    assert [(e["domain"], e["version"]) for e in entries] == [("golden", "v1")]
    assert entries[0]["totals"]["documents"] == 5 and entries[0]["size_bytes"] > 0
    shown = json.loads(invoke("show", "golden@v1", "--json", "--registry", str(built_registry)).output)
    assert shown["totals"]["words"] == 602
    assert shown["top_words"][0]["token"] in {"the", "of", "that"}
    assert shown["sentence_length"]["sentences"] == shown["totals"]["sentences"]
    assert abs(shown["sentence_length"]["mean"] - 602 / shown["totals"]["sentences"]) < 1e-3


def test_build_json_reports_the_version_and_skips(tmp_path, golden_corpus):
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.txt").write_text((golden_corpus / "gettysburg.txt").read_text())
    (source / "b.txt").write_bytes(b"\xff\xfe\x00bad")
    out = invoke("build", "tiny", "--source", str(source), "--registry", str(tmp_path / "r"), "--json")
    data = json.loads(out.output)
    assert data["ref"] == "tiny@v1" and data["created"] is True
    assert data["skipped"] == [{"file": "b.txt", "reason": "binary file", "count": 1}]


def test_registry_comes_from_the_environment(tmp_path, golden_corpus, monkeypatch):
    monkeypatch.setenv("DFT_REGISTRY", str(tmp_path / "env-reg"))
    assert invoke("build", "envdomain", "--source", str(golden_corpus), "-q").exit_code == 0
    assert (tmp_path / "env-reg" / "stats" / "envdomain" / "v1" / "manifest.json").exists()
    assert "envdomain" in invoke("list").output


def test_every_command_has_help_with_an_example():
    for command in ("build", "list", "show", "recipes"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Example" in result.output, command


def test_recipes_lists_the_shipped_domains_with_licenses():
    rows = json.loads(invoke("recipes", "--json").output)
    domains = {r["domain"] for r in rows}
    assert {"legal", "news", "fiction", "academic", "technical", "product", "speech"} <= domains
    assert all(r["license"] and r["sources"] for r in rows)


def test_a_mistyped_registry_is_reported_and_not_created(tmp_path):
    missing = tmp_path / "regsitry"
    for args in (["list"], ["show", "legal"], ["search", "shall"], ["query", "legal", "SELECT 1"],
                 ["query", "--all", "SELECT 1"], ["publish", "legal", "--to", str(tmp_path / "out")],
                 ["verify", "--all"]):
        result = invoke(*args, "--registry", str(missing))
        assert result.exit_code != 0, (args, result.output)
        assert f"no registry at '{missing}'" in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1
    assert not missing.exists()
    # a build creates the registry it is given
    built = invoke("build", "x", "--source", str(tmp_path / "none"), "--registry", str(missing))
    assert "no registry at" not in built.output


def test_counts_take_the_right_plural(built_registry):
    from dft_registry.describe import plural

    assert [plural(n, "domain") for n in (0, 1, 2, 12000)] == [
        "0 domains", "1 domain", "2 domains", "12,000 domains"]
    listed = invoke("list", "--registry", str(built_registry))
    assert listed.exit_code == 0 and "1 domain" in listed.output
    assert "1 domains" not in listed.output
