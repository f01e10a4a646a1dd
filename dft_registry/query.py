"""Read-only DuckDB SQL over one bundle, or over the latest bundle of every domain.

Two locks keep a query from writing anything:

1. the statement is parsed first (``duckdb.extract_statements``) and only one
   SELECT-like statement is accepted (SELECT, WITH, FROM, DESCRIBE, SHOW,
   SUMMARIZE, EXPLAIN);
   ``EXPLAIN ANALYZE`` runs its statement, so that inner statement must be a
   SELECT too;
2. it runs on a fresh in-memory connection whose only objects are views over
   the bundles' Parquet files, with file access limited to exactly those
   files and the configuration locked, so a statement the first check missed
   could neither create a file nor read anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from .bundle import TABLES, Bundle
from .catalog import latest_entries, read_catalog
from .errors import QueryError
from .registry import registry_root

READ_ONLY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
ALLOWED = "SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN"
BUNDLES_VIEW = "bundles"


@dataclass
class QueryResult:
    """Column names and rows of a query (rows are tuples of Python values)."""

    columns: list[str]
    rows: list[tuple]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:400] + ("..." if len(text) > 400 else "")


def check_read_only(sql: str) -> str:
    """The single read-only statement in ``sql``; QueryError for syntax errors or writes."""
    if not sql or not sql.strip():
        raise QueryError("empty SQL: give one statement, e.g. \"SELECT * FROM unigrams LIMIT 10\"")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"SQL syntax error: {_one_line(exc)}") from None
    if not statements:
        raise QueryError("no SQL statement found: give one, e.g. \"SELECT * FROM unigrams LIMIT 10\"")
    if len(statements) > 1:
        raise QueryError(f"{len(statements)} statements given: run one read-only statement at a time")
    statement = statements[0]
    if statement.type == duckdb.StatementType.EXPLAIN:
        _check_explained(statement.query)
    if statement.type not in READ_ONLY_STATEMENTS:
        kind = statement.type.name.replace("_", " ")
        raise QueryError(f"refusing {kind}: bundles are read-only; "
                         f"only {ALLOWED} queries are allowed")
    return sql


EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s*(\([^)]*\)\s*)?(ANALY[SZ]E\b)?", re.IGNORECASE)


def _check_explained(sql: str) -> None:
    """``EXPLAIN [ANALYZE] X`` runs or plans X: X must be a SELECT as well."""
    match = EXPLAIN_PREFIX.match(sql)
    inner = duckdb.extract_statements(sql[match.end():]) if match else []
    if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
        kind = inner[0].type.name.replace("_", " ") if len(inner) == 1 else "this statement"
        raise QueryError(f"refusing EXPLAIN of {kind}: bundles are read-only; "
                         f"only {ALLOWED} queries are allowed")


def referenced_views(sql: str, available: tuple[str, ...]) -> tuple[str, ...]:
    """The views ``sql`` reads (all of them when that cannot be told, e.g. ``SHOW TABLES``).

    Creating only these keeps a query over 100 bundles from opening 700 files.
    """
    try:
        names = duckdb.get_table_names(sql, qualified=False)
    except duckdb.Error:
        return available
    wanted = tuple(name for name in available if name in {n.lower() for n in names})
    return wanted or available


def _quote(path: Path | str) -> str:
    return "'" + Path(path).as_posix().replace("'", "''") + "'"


def _connection(files: list[Path]) -> duckdb.DuckDBPyConnection:
    """An in-memory connection that may open only ``files`` (no directories, no extensions)."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False})
    allowed = ", ".join(_quote(f) for f in files)
    con.execute(f"SET allowed_paths = [{allowed}]")
    con.execute("SET enable_external_access = false")
    return con


def _lock(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET lock_configuration = true")


def bundle_connection(bundle: Bundle, views: tuple[str, ...] = TABLES) -> duckdb.DuckDBPyConnection:
    """A locked, read-only connection with a view per table of ``bundle`` (or only ``views``)."""
    path = bundle.path.resolve()
    con = _connection([path / f"{name}.parquet" for name in views])
    for name in views:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_quote(path / f'{name}.parquet')})")
    _lock(con)
    return con


def catalog_connection(root: Path, catalog: dict | None = None,
                       views: tuple[str, ...] = (*TABLES, BUNDLES_VIEW)) -> duckdb.DuckDBPyConnection:
    """A locked, read-only connection over the latest bundle of every domain.

    Each table view gains leading ``domain`` and ``version`` columns, and a
    ``bundles`` view lists the catalog (domain, version, documents, words, ...).
    """
    root = Path(root).resolve()
    catalog = catalog if catalog is not None else read_catalog(root)
    entries = latest_entries(catalog)
    if not entries:
        raise QueryError("the catalog is empty: nothing to query (build or pull a bundle first)")
    dirs = [(root / e["path"]).resolve() for e in entries]
    tables = [v for v in views if v in TABLES]
    con = _connection([d / f"{name}.parquet" for name in tables for d in dirs])
    for name in tables:
        files = ", ".join(_quote(d / f"{name}.parquet") for d in dirs)
        # Every bundle of format v1 has the same schema: no union_by_name, which
        # would read the footer of every file when the view is created.
        con.execute(
            f"CREATE VIEW {name} AS SELECT string_split(filename, '/')[-3] AS domain, "
            f"string_split(filename, '/')[-2] AS version, * EXCLUDE (filename) "
            f"FROM read_parquet([{files}], filename = true)")
    if BUNDLES_VIEW in views:
        _create_bundles_table(con, entries)
    _lock(con)
    return con


BUNDLES_COLUMNS = (
    ("domain", "VARCHAR"), ("version", "VARCHAR"), ("content_hash", "VARCHAR"),
    ("documents", "BIGINT"), ("sentences", "BIGINT"), ("words", "BIGINT"), ("vocabulary", "BIGINT"),
    ("sentence_length_mean", "DOUBLE"), ("unigram_entropy_bits", "DOUBLE"), ("size_bytes", "BIGINT"),
    ("license", "VARCHAR"), ("description", "VARCHAR"),
)


def _create_bundles_table(con: duckdb.DuckDBPyConnection, entries: list[dict]) -> None:
    """The ``bundles`` table: one row per latest bundle, inserted in one statement."""
    con.execute(f"CREATE TABLE {BUNDLES_VIEW} ("
                + ", ".join(f"{name} {kind}" for name, kind in BUNDLES_COLUMNS) + ")")
    params: list = []
    for e in entries:
        totals, headline = e.get("totals", {}), e.get("headline", {})
        params += [e["domain"], e["version"], e["content_hash"], totals.get("documents", 0),
                   totals.get("sentences", 0), totals.get("words", 0), totals.get("vocabulary", 0),
                   float(headline.get("sentence_length_mean", 0.0)),
                   float(headline.get("unigram_entropy_bits", 0.0)), e.get("size_bytes", 0),
                   e.get("license", ""), e.get("description", "")]
    row = "(" + ", ".join("?" * len(BUNDLES_COLUMNS)) + ")"
    con.execute(f"INSERT INTO {BUNDLES_VIEW} VALUES " + ", ".join([row] * len(entries)), params)


def run_query(con: duckdb.DuckDBPyConnection, sql: str, tables: tuple[str, ...] = TABLES
              ) -> QueryResult:
    """Check ``sql`` is one read-only statement and run it on ``con``."""
    check_read_only(sql)
    try:
        relation = con.sql(sql)
        if relation is None:  # defensive: a statement that returns nothing
            return QueryResult([], [])
        return QueryResult(list(relation.columns), relation.fetchall())
    except duckdb.ParserException as exc:
        raise QueryError(f"SQL syntax error: {_one_line(exc)}") from None
    except duckdb.PermissionException:
        raise QueryError("the query tried to read or write a file outside the bundles: queries "
                         f"can only read the views {', '.join(tables)}") from None
    except duckdb.CatalogException as exc:
        raise QueryError(f"{_one_line(exc)} (views: {', '.join(tables)})") from None
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {_one_line(exc)}") from None


def query_bundle(bundle: Bundle, sql: str) -> QueryResult:
    """Run one read-only statement over a bundle's views (``unigrams``, ``ngrams``, ...)."""
    con = bundle_connection(bundle, referenced_views(sql, TABLES))
    try:
        return run_query(con, sql)
    finally:
        con.close()


def query_catalog(sql: str, registry: str | Path | None = None) -> QueryResult:
    """Run one read-only statement over the latest bundle of every domain (with ``domain``)."""
    root = registry_root(registry, must_exist=True)
    check_read_only(sql)
    con = catalog_connection(root, views=referenced_views(sql, (*TABLES, BUNDLES_VIEW)))
    try:
        return run_query(con, sql, (*TABLES, BUNDLES_VIEW))
    finally:
        con.close()
