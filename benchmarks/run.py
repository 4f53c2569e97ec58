"""Run the benchmark suite and print every figure and ratio against its target.

    python -m benchmarks.run            # the full plan (make bench), SQLite + PostgreSQL
    python -m benchmarks.run --quick    # the same code, small (make bench-quick, CI)

Each measurement runs as its own subprocess with its own database and writes a JSON
result under ``var/bench/results/<stamp>/``; this prints the tables and writes
``summary.json`` and ``summary.md`` beside them. Nothing is asserted about speed: the
exit code is non-zero only when a measurement failed to produce its figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import report
from benchmarks.config import BENCH_DIR

ITEMS = ("e2e", "reconcile", "pages", "leaderboard", "load")
POSTGRES_ITEMS = ("reconcile", "pages")


def run_item(item: str, *, plan: str, backend: str, out_dir: Path, rebuild: bool) -> dict:
    out = out_dir / f"{item}-{backend}.json"
    command = [
        sys.executable,
        "-m",
        f"benchmarks.bench_{item}",
        "--plan",
        plan,
        "--backend",
        backend,
        "--out",
        str(out),
    ]
    if rebuild:
        command.append("--rebuild")
    started = time.monotonic()
    print(f"== {item} ({backend}, {plan})", flush=True)
    completed = subprocess.run(command, check=False)
    seconds = round(time.monotonic() - started, 1)
    if completed.returncode != 0 or not out.exists():
        return {"failed": True, "exit_code": completed.returncode, "wall_s": seconds}
    result = json.loads(out.read_text())
    result["wall_s"] = seconds
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small plan (CI smoke test)")
    parser.add_argument("--only", default=",".join(ITEMS), help=f"comma-separated of {ITEMS}")
    postgres = parser.add_mutually_exclusive_group()
    postgres.add_argument("--postgres", dest="postgres", action="store_true", default=None)
    postgres.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached worlds")
    args = parser.parse_args(argv)
    plan = "quick" if args.quick else "full"
    with_postgres = (not args.quick) if args.postgres is None else args.postgres
    items = [item.strip() for item in args.only.split(",") if item.strip()]
    unknown = sorted(set(items) - set(ITEMS))
    if unknown:
        parser.error(f"unknown items {unknown}; choose from {ITEMS}")

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out_dir = BENCH_DIR / "results" / f"{stamp}-{plan}"
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, dict[str, dict]] = {"sqlite": {}, "postgres": {}}
    for item in items:
        results["sqlite"][item] = run_item(
            item, plan=plan, backend="sqlite", out_dir=out_dir, rebuild=args.rebuild
        )
    if with_postgres:
        for item in items:
            if item in POSTGRES_ITEMS:
                results["postgres"][item] = run_item(
                    item, plan=plan, backend="postgres", out_dir=out_dir, rebuild=args.rebuild
                )
    summary = {
        "plan": plan,
        "stamp": stamp,
        "wall_s": round(time.monotonic() - started, 1),
        "machine": report.machine(),
        "results": results,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    text = report.render(summary)
    (out_dir / "summary.md").write_text(text)
    print()
    print(text)
    print(f"results: {out_dir}")
    missing = report.missing_figures(summary, items=items)
    if missing:
        print(f"MISSING FIGURES: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
