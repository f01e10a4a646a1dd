"""CLI tests for browsing the catalog: search, query, diff, plot, verify, html, catalog rebuild.

Every bad-input case checks the three promises: one clear line, a non-zero
exit, and nothing changed on disk.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import dft_registry
from dft_registry.cli import cli

SENTENCES = [
    "The court held that the contract was void.",
    "The defendant appealed the judgment of the court.",
    "Counsel for the plaintiff filed a motion to dismiss the appeal.",
    "The statute requires written notice before any action is taken.",
    "The court of appeals reversed the judgment and remanded the case.",
]


def write_legal_corpus(directory: Path, documents: int = 6) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(documents):
        text = " ".join(SENTENCES[(i + j) % len(SENTENCES)] for j in range(12))
        (directory / f"doc{i}.txt").write_text(text + "\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def two_domains(tmp_path_factory, _golden_registry_template) -> Path:
    """golden@v1 (from conftest) plus lawcases@v1 (a tiny legal-sounding corpus)."""
    root = tmp_path_factory.mktemp("two-domains") / "registry"
    shutil.copytree(_golden_registry_template, root)
    corpus = write_legal_corpus(tmp_path_factory.mktemp("legal-corpus"))
    dft_registry.build("lawcases", corpus, registry=root, workers=1,
                       description="Court opinions (synthetic)", license="CC0-1.0")
    return root


@pytest.fixture
def registry_copy(two_domains, tmp_path) -> Path:
    root = tmp_path / "registry"
    shutil.copytree(two_domains, root)
    return root


def run(*args, registry: Path | None = None):
    argv = [*args] + (["--registry", str(registry)] if registry is not None else [])
    return CliRunner().invoke(cli, argv, catch_exceptions=False)


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under a registry with its sha256 (to prove nothing changed)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


def assert_one_line_error(result, fragment: str, exit_code: int | None = None) -> None:
    assert result.exit_code != 0, result.output
    if exit_code is not None:
        assert result.exit_code == exit_code
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), lines[0]
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- list / show

def test_list_json_shows_every_domain_with_totals(two_domains):
    result = run("list", "--json", registry=two_domains)
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert [e["domain"] for e in entries] == ["golden", "lawcases"]
    assert all(e["totals"]["words"] > 0 for e in entries)


def test_show_accepts_a_content_hash_prefix(two_domains):
    entry = json.loads(run("list", "--json", registry=two_domains).output)[1]
    result = run("show", f"lawcases@sha256:{entry['content_hash'][:8]}", "--json", registry=two_domains)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ref"] == "lawcases@v1"


# ---------------------------------------------------------------- search

def test_search_ranks_bundles_by_how_often_they_use_a_word(two_domains):
    result = run("search", "court", "--json", registry=two_domains)
    assert result.exit_code == 0, result.output
    usage = json.loads(result.output)["usage"]
    assert usage[0]["domain"] == "lawcases"
    assert usage[0]["per_million"] > 10_000


def test_search_matches_descriptions_and_licenses(two_domains):
    found = json.loads(run("search", "opinions", "--json", registry=two_domains).output)
    assert [h["domain"] for h in found["catalog"]] == ["lawcases"]
    assert "description" in found["catalog"][0]["matched"]
    by_license = json.loads(run("search", "public-domain", "--json", registry=two_domains).output)
    assert [h["domain"] for h in by_license["catalog"]] == ["golden"]


def test_search_finds_a_phrase_in_the_ngrams(two_domains):
    usage = json.loads(run("search", "the court", "--json", registry=two_domains).output)["usage"]
    assert usage and usage[0]["domain"] == "lawcases"


def test_search_table_output_says_when_nothing_matches(two_domains):
    result = run("search", "zyzzyva", registry=two_domains)
    assert result.exit_code == 0
    assert "Nothing matches" in result.output


# ---------------------------------------------------------------- query

def test_query_prints_a_table(two_domains):
    result = run("query", "lawcases", "SELECT token, count FROM unigrams ORDER BY count DESC, token LIMIT 3",
                 registry=two_domains)
    assert result.exit_code == 0, result.output
    assert "token" in result.output and "the" in result.output


def test_query_json_and_csv_give_the_same_rows(two_domains):
    sql = "SELECT length, count FROM sentence_lengths ORDER BY length"
    as_json = json.loads(run("query", "golden", sql, "--json", registry=two_domains).output)
    as_csv = list(csv.DictReader(io.StringIO(run("query", "golden", sql, "--csv",
                                                 registry=two_domains).output)))
    assert len(as_json) == len(as_csv) > 0
    assert [int(r["count"]) for r in as_csv] == [r["count"] for r in as_json]


def test_query_all_adds_a_domain_column(two_domains):
    sql = "SELECT domain, version, sum(count) AS words FROM unigrams WHERE NOT is_punct GROUP BY ALL ORDER BY domain"
    rows = json.loads(run("query", "--all", sql, "--json", registry=two_domains).output)
    assert [(r["domain"], r["version"]) for r in rows] == [("golden", "v1"), ("lawcases", "v1")]
    catalog = {e["domain"]: e for e in json.loads(run("list", "--json", registry=two_domains).output)}
    assert all(r["words"] == catalog[r["domain"]]["totals"]["words"] for r in rows)


def test_query_all_has_a_bundles_view_of_the_catalog(two_domains):
    rows = json.loads(run("query", "--all", "SELECT domain, license FROM bundles ORDER BY domain",
                          "--json", registry=two_domains).output)
    assert rows == [{"domain": "golden", "license": "public-domain"},
                    {"domain": "lawcases", "license": "CC0-1.0"}]


def test_query_table_output_is_capped_with_a_hint(two_domains):
    result = run("query", "lawcases", "SELECT * FROM unigrams", "--max-rows", "2", registry=two_domains)
    assert result.exit_code == 0
    assert "more rows" in result.output


def test_query_with_a_syntax_error_is_one_line(registry_copy):
    before = tree_digest(registry_copy)
    result = run("query", "golden", "SELEC * FROM unigrams", registry=registry_copy)
    assert_one_line_error(result, "SQL syntax error")
    assert tree_digest(registry_copy) == before


@pytest.mark.parametrize("sql", [
    "DROP VIEW unigrams",
    "CREATE TABLE stolen AS SELECT * FROM unigrams",
    "COPY unigrams TO 'out.csv'",
    "INSERT INTO unigrams VALUES ('x', 1, 1, false)",
    "ATTACH 'other.db'",
])
def test_query_that_writes_is_refused(registry_copy, sql, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = tree_digest(registry_copy)
    result = run("query", "golden", sql, registry=registry_copy)
    assert_one_line_error(result, "read-only")
    assert tree_digest(registry_copy) == before
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.db").exists()


def test_query_of_an_unknown_table_names_the_views(registry_copy):
    result = run("query", "golden", "SELECT * FROM words", registry=registry_copy)
    assert_one_line_error(result, "unigrams")


def test_query_needs_both_ref_and_sql(registry_copy):
    result = run("query", "SELECT 1", registry=registry_copy)
    assert_one_line_error(result, "give a bundle and the SQL", exit_code=2)


# ---------------------------------------------------------------- bad references

def test_unknown_domain_suggests_the_closest_names(registry_copy):
    before = tree_digest(registry_copy)
    result = run("show", "lawcase", registry=registry_copy)
    assert_one_line_error(result, "did you mean lawcases")
    assert tree_digest(registry_copy) == before


def test_bad_reference_syntax_is_one_line(registry_copy):
    for ref in ("golden@2", "golden@latest", "Golden!"):
        result = run("query", ref, "SELECT 1", registry=registry_copy)
        assert_one_line_error(result, "golden" if "@" in ref else "invalid domain name", exit_code=2)


def test_version_that_does_not_exist_lists_the_versions(registry_copy):
    before = tree_digest(registry_copy)
    result = run("diff", "golden@v9", "lawcases", registry=registry_copy)
    assert_one_line_error(result, "golden has no version v9 (versions: v1)")
    assert tree_digest(registry_copy) == before


def test_corrupt_catalog_is_reported_and_never_overwritten(registry_copy):
    catalog = registry_copy / "catalog.json"
    catalog.write_text("{ not json", encoding="utf-8")
    before = tree_digest(registry_copy)
    for args in (("list",), ("show", "golden"), ("search", "court"), ("query", "--all", "SELECT 1"),
                 ("verify", "--all"), ("html", "-o", str(registry_copy.parent / "site"))):
        result = run(*args, registry=registry_copy)
        assert_one_line_error(result, "catalog.json is not valid JSON")
    assert tree_digest(registry_copy) == before
    assert not (registry_copy.parent / "site").exists()


# ---------------------------------------------------------------- diff / plot

def test_diff_reports_every_distance(two_domains):
    result = run("diff", "golden", "lawcases", "--json", "--top", "5", registry=two_domains)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["a"], data["b"]) == ("golden@v1", "lawcases@v1")
    assert 0 < data["unigram_js_bits"] <= 1
    assert data["sentence_length"]["wasserstein1_words"] > 0
    assert set(data["ngram_overlap"]) <= {"2", "3", "4"}
    assert any(row["metric"] == "unigram_entropy" for row in data["entropy"])
    assert "court" in [w["token"] for w in data["under_represented"]]
    assert len(data["over_represented"]) <= 5


def test_diff_of_a_bundle_with_itself_is_zero(two_domains):
    data = json.loads(run("diff", "lawcases", "lawcases@v1", "--json", registry=two_domains).output)
    assert data["unigram_js_bits"] == 0
    assert data["sentence_length"]["wasserstein1_words"] == 0
    assert data["over_represented"] == [] and data["under_represented"] == []


def test_diff_table_output_names_both_bundles(two_domains):
    result = run("diff", "golden", "lawcases", registry=two_domains)
    assert result.exit_code == 0, result.output
    assert "golden@v1 vs lawcases@v1" in result.output
    assert "Jensen-Shannon" in result.output and "Wasserstein-1" in result.output


def test_plot_writes_a_png_with_several_bundles(two_domains, tmp_path):
    out = tmp_path / "plots" / "compare.png"
    result = run("plot", "golden", "lawcases", "-o", str(out), registry=two_domains)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


def test_plot_refuses_an_unknown_image_format(two_domains, tmp_path):
    result = run("plot", "golden", "-o", str(tmp_path / "x.bmp"), registry=two_domains)
    assert_one_line_error(result, ".png", exit_code=2)


# ---------------------------------------------------------------- verify

def test_verify_passes_on_intact_bundles(two_domains):
    result = run("verify", "--all", registry=two_domains)
    assert result.exit_code == 0, result.output
    assert result.output.count("ok") == 2


def test_verify_fails_on_a_tampered_file(registry_copy):
    path = registry_copy / "stats" / "golden" / "v1" / "ngrams.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    result = run("verify", "golden", registry=registry_copy)
    assert result.exit_code == 1
    assert "FAIL golden@v1: ngrams.parquet does not match its sha256" in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: 1 of 1 bundle(s) failed")


def test_verify_fails_on_an_edited_manifest(registry_copy):
    path = registry_copy / "stats" / "lawcases" / "v1" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["content_hash"] = "0" * 64
    path.write_text(json.dumps(manifest))
    data = json.loads(run("verify", "--all", "--json", registry=registry_copy).output)
    assert data["ok"] is False
    bad = [b for b in data["bundles"] if b["problems"]]
    assert [b["ref"] for b in bad] == ["lawcases@v1"]
    assert "content_hash" in bad[0]["problems"][0]


# ---------------------------------------------------------------- html

def test_html_writes_an_index_and_a_page_per_bundle(two_domains, tmp_path):
    site = tmp_path / "site"
    result = run("html", "-o", str(site), "-q", registry=two_domains)
    assert result.exit_code == 0, result.output
    index = (site / "index.html").read_text()
    assert 'href="bundles/lawcases-v1.html"' in index and "<script>" in index
    assert "http://" not in index and "https://" not in index  # nothing fetched from a CDN
    page = (site / "bundles" / "lawcases-v1.html").read_text()
    assert "data:image/png;base64," in page
    assert "CC0-1.0" in page and "Court opinions (synthetic)" in page
    assert "the court" in page  # a top bigram


# ---------------------------------------------------------------- catalog rebuild

def test_catalog_rebuild_restores_a_corrupt_catalog_and_keeps_a_backup(registry_copy):
    original = json.loads((registry_copy / "catalog.json").read_text())
    (registry_copy / "catalog.json").write_text("garbage", encoding="utf-8")
    result = run("catalog", "rebuild", registry=registry_copy)
    assert result.exit_code == 0, result.output
    rebuilt = json.loads((registry_copy / "catalog.json").read_text())
    strip = [{k: v for k, v in e.items()} for e in original["bundles"]]
    assert rebuilt["bundles"] == strip
    assert (registry_copy / "catalog.json.bak").read_text() == "garbage"


def test_catalog_rebuild_leaves_out_corrupt_bundles(registry_copy):
    (registry_copy / "stats" / "golden" / "v1" / "unigrams.parquet").write_bytes(b"truncated")
    data = json.loads(run("catalog", "rebuild", "--json", registry=registry_copy).output)
    assert data["bundles"] == ["lawcases@v1"]
    assert data["skipped"][0]["ref"] == "golden@v1"


def test_catalog_rebuild_dry_run_changes_nothing(registry_copy):
    before = tree_digest(registry_copy)
    result = run("catalog", "rebuild", "--dry-run", registry=registry_copy)
    assert result.exit_code == 0 and "Would write" in result.output
    assert tree_digest(registry_copy) == before


# ---------------------------------------------------------------- help

@pytest.mark.parametrize("command", [
    ["search"], ["query"], ["diff"], ["plot"], ["verify"], ["html"], ["publish"], ["pull"],
    ["catalog"], ["catalog", "rebuild"],
])
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "dft-stats" in result.output


def test_search_suggests_close_domain_names_for_a_typo(two_domains):
    found = json.loads(run("search", "lawcsaes", "--json", registry=two_domains).output)
    assert [(h["domain"], h["matched"]) for h in found["catalog"]] == [("lawcases", ["domain (close)"])]


def test_search_counts_case_variants_of_a_word(two_domains):
    usage = json.loads(run("search", "THE", "--json", registry=two_domains).output)["usage"]
    exact = json.loads(run("query", "lawcases", "SELECT sum(count) AS n FROM unigrams WHERE lower(token) = 'the'",
                           "--json", registry=two_domains).output)[0]["n"]
    assert next(u for u in usage if u["domain"] == "lawcases")["count"] == exact
