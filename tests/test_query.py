"""Read-only DuckDB queries over bundles: statement checks, views, sandboxing."""

from __future__ import annotations

import pytest

from dft_registry.bundle import TABLES, load
from dft_registry.errors import QueryError
from dft_registry.query import check_read_only, query_bundle, query_catalog


@pytest.fixture(scope="module")
def golden(_golden_registry_template):
    return load("golden", registry=_golden_registry_template)


@pytest.mark.parametrize("sql", [
    "SELECT 1",
    "select * from unigrams",
    "WITH t AS (SELECT 1 AS x) SELECT x FROM t",
    "FROM unigrams LIMIT 1",
    "DESCRIBE unigrams",
    "SHOW TABLES",
    "SUMMARIZE sentence_lengths",
    "EXPLAIN SELECT * FROM ngrams",
    "SELECT 1;",
])
def test_read_only_statements_are_accepted(sql):
    assert check_read_only(sql) == sql


@pytest.mark.parametrize("sql, kind", [
    ("INSERT INTO unigrams VALUES (1)", "INSERT"),
    ("UPDATE unigrams SET count = 0", "UPDATE"),
    ("DELETE FROM unigrams", "DELETE"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("DROP VIEW unigrams", "DROP"),
    ("COPY unigrams TO '/tmp/x.parquet'", "COPY"),
    ("ATTACH '/tmp/x.db' AS x", "ATTACH"),
    ("SET threads = 1", "SET"),
    ("PRAGMA version", "PRAGMA"),
    ("INSTALL httpfs", "LOAD"),
    ("EXPORT DATABASE '/tmp/out'", "EXPORT"),
    ("CALL pragma_version()", "CALL"),
])
def test_statements_that_write_or_configure_are_refused(sql, kind):
    with pytest.raises(QueryError, match=f"refusing {kind}: bundles are read-only"):
        check_read_only(sql)


def test_several_statements_are_refused_even_if_all_read():
    with pytest.raises(QueryError, match="2 statements"):
        check_read_only("SELECT 1; SELECT 2")


def test_syntax_errors_are_one_line_query_errors():
    with pytest.raises(QueryError) as info:
        check_read_only("SELECT FROM WHERE")
    assert str(info.value).startswith("SQL syntax error")
    assert "\n" not in str(info.value)


def test_empty_sql_is_refused():
    with pytest.raises(QueryError, match="empty SQL"):
        check_read_only("   ")


def test_every_table_is_a_view(golden):
    result = query_bundle(golden, "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1")
    assert sorted(r[0] for r in result.rows) == sorted(TABLES)


def test_query_reads_the_bundle_numbers(golden):
    result = query_bundle(golden, "SELECT sum(count) FROM unigrams WHERE NOT is_punct")
    assert result.rows == [(golden.manifest["totals"]["words"],)]
    assert result.records() == [{"sum(count)": golden.manifest["totals"]["words"]}]


def test_files_outside_the_bundle_cannot_be_read(golden, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(QueryError, match="outside the bundles"):
        query_bundle(golden, f"SELECT * FROM read_csv('{secret}')")
    with pytest.raises(QueryError, match="outside the bundles"):
        query_bundle(golden, f"SELECT * FROM read_json('{golden.path / '..' / '..' / '..' / 'catalog.json'}')")


def test_the_sandbox_cannot_be_unlocked_from_a_select(golden):
    with pytest.raises(QueryError):
        query_bundle(golden, "SELECT * FROM query('SET enable_external_access = true')")


def test_query_errors_name_the_views(golden):
    with pytest.raises(QueryError, match="views: unigrams, ngrams"):
        query_bundle(golden, "SELECT * FROM tokens")


def test_query_catalog_spans_every_domain(_golden_registry_template):
    result = query_catalog("SELECT DISTINCT domain, version FROM ngrams", registry=_golden_registry_template)
    assert result.rows == [("golden", "v1")]


def test_query_catalog_of_an_empty_registry_says_so(tmp_path):
    with pytest.raises(QueryError, match="catalog is empty"):
        query_catalog("SELECT 1", registry=tmp_path)


def test_bad_sql_is_refused_before_the_catalog_is_read(tmp_path):
    (tmp_path / "catalog.json").write_text("{}")
    with pytest.raises(QueryError, match="read-only"):
        query_catalog("DELETE FROM unigrams", registry=tmp_path)


@pytest.mark.parametrize("inner", ["COPY unigrams TO '{path}'", "CREATE TABLE t AS SELECT 1",
                                   "INSERT INTO t VALUES (1)"])
def test_explain_analyze_of_a_write_is_refused(golden, inner):
    target = golden.path / "written.csv"
    sql = "EXPLAIN ANALYZE " + inner.format(path=target)
    with pytest.raises(QueryError, match="refusing EXPLAIN of"):
        check_read_only(sql)
    assert not target.exists()


def test_explain_analyze_of_a_select_runs(golden):
    result = query_bundle(golden, "EXPLAIN ANALYZE SELECT count(*) FROM unigrams")
    assert result.columns == ["explain_key", "explain_value"]


def test_even_an_unchecked_statement_could_not_create_a_file(golden):
    from dft_registry.query import bundle_connection

    con = bundle_connection(golden)  # bypass the statement check on purpose
    target = golden.path / "written.csv"
    with pytest.raises(Exception, match="(?i)permission"):
        con.execute(f"COPY unigrams TO '{target}'")
    assert not target.exists()
