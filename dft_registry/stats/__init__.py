"""Statistics as small pure blocks over sentences of tokens.

Each module computes one statistic of one document; ``partial.py`` holds the
mergeable per-worker accumulator that the build spills to Parquet and the
reduce step merges with DuckDB.
"""
