"""``funnel-bench``: how fast the project loads and builds, at sizes and on targets.

The package, by concern: ``warehouses`` (the throwaway DuckDB file or PostgreSQL database
of one run), ``measure`` (the generated data, the timed child processes and the steps of
one run), ``report`` (the table and ``target/bench.json``) and ``cli`` (``funnel-bench``,
whose ``--help`` describes every step).
"""
