"""The catalogue's benchmark suite: ``python -m benchmarks.run [--quick]``.

Each measurement runs in its own subprocess against its own fresh database (SQLite files
under ``var/bench/``, or a PostgreSQL database of its own), prints its figures as JSON,
and ``benchmarks.run`` prints every figure and ratio against the targets. Nothing here
is a timed test: figures are reported, not asserted.
"""
