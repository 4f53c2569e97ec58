"""The runner's arithmetic and tables: percentiles, targets, lookups, the rendered report."""

from benchmarks import report
from benchmarks.common import percentile, summarize_ms
from benchmarks.config import TARGETS


def test_percentile_is_nearest_rank():
    values = list(range(1, 21))  # 1..20
    assert percentile(values, 0.95) == 19
    assert percentile(values, 0.5) == 10
    assert percentile([7.0], 0.95) == 7.0


def test_summary_in_milliseconds():
    summary = summarize_ms([0.001, 0.002, 0.003])
    assert summary["median_ms"] == 2.0
    assert summary["p95_ms"] == 3.0


def test_targets_judge_both_ways():
    at_most = next(t for t in TARGETS if t.op == "<=")
    at_least = next(t for t in TARGETS if t.op == ">=")
    assert at_most.judge(at_most.bound) == "PASS"
    assert at_most.judge(at_most.bound * 2 + 1) == "MISS"
    assert at_least.judge(at_least.bound - 1) == "MISS"
    assert at_most.judge(None) == "n/a"


def test_lookup_walks_dicts_and_lists():
    result = {"floors": [{"s3_s": 1.5}], "phases": {"first": {"seconds": 2}}}
    assert report.lookup(result, "floors.0.s3_s") == 1.5
    assert report.lookup(result, "phases.first.seconds") == 2
    assert report.lookup(result, "phases.second.seconds") is None


def test_the_report_shows_every_target_and_flags_missing_figures():
    summary = {
        "plan": "quick",
        "stamp": "x",
        "wall_s": 1.0,
        "results": {
            "sqlite": {"load": {"page_over_trivial": 0.5, "errors": 0, "locked": 0}},
            "postgres": {},
        },
    }
    text = report.render(summary)
    for target in TARGETS:
        assert target.text in text
    assert "| page/trivial throughput >= 0.3 | 0.5 | PASS |" in text
    assert report.missing_figures(summary, items=["load"]) == []
    summary["results"]["sqlite"]["load"].pop("locked")
    assert report.missing_figures(summary, items=["load"]) == ["load.locked (sqlite)"]
    # A figure its measurement names as undefined (and why) is n/a, not missing.
    summary["results"]["sqlite"]["load"]["undefined_figures"] = ["locked"]
    assert report.missing_figures(summary, items=["load"]) == []


def test_the_pages_table_has_cold_and_warm_columns():
    pages = {
        "pages": [
            {"page": "home", "status": 200, "median_ms": 40.0, "p95_ms": 44.0, "queries": 8}
            | {"warm_median_ms": 4.0, "warm_p95_ms": 5.0, "warm_queries": 3},
            {"page": "healthz", "status": 200, "median_ms": 1.0, "p95_ms": 2.0, "queries": 4},
        ]
    }
    lines = report._pages_table(pages, None)
    assert lines[0] == (
        "| page | status | median ms | p95 ms | queries |"
        " warm median ms | warm p95 ms | warm queries |"
    )
    assert lines[2] == "| home | 200 | 40.0 | 44.0 | 8 | 4.0 | 5.0 | 3 |"
    assert lines[3] == "| healthz | 200 | 1.0 | 2.0 | 4 | - | - | - |"
    with_pg = report._pages_table(pages, pages)
    assert with_pg[0].count("PG ") == 6
    assert with_pg[2].endswith("| 40.0 | 44.0 | 8 | 4.0 | 5.0 | 3 |")
