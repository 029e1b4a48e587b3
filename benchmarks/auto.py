"""``estimate_mi(estimator="auto")`` over seeds on the core Gaussian tasks and the beyond-Gaussian tasks (issue 17).

    python -m benchmarks auto                              # 8 tasks x seeds 0-4, all families
    python -m benchmarks auto --families gaussian          # the Gaussian-copula critic alone
    python -m benchmarks auto --tasks core --seeds 0 1     # a subset
    python -m benchmarks auto --quick                      # smoke run: tiny N and steps

Runs through :func:`miestim.validate`, so the figures are those of the code users run. Each
row is a task's mean error, mean |error| and sd over the seeds, the family each fold kept,
and the mean seconds per estimate; a task's target (the issue's bar) is printed beside it.
Every estimate is cross-fitted: each row of the sample is scored once, by a critic that
neither trained nor stopped on it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from typing import Any

import miestim
from miestim.gaussian import CorrelatedGaussianTask

from ._report import markdown_table, run_metadata, write_record
from ._suites import beyond_gaussian

#: (task, N, target kind, bar): "abs" = mean |error| <= bar; "within" = |mean error| <= bar; "at least" = mean estimate >= bar.
TASKS: dict[str, list[tuple[Any, int, str, float]]] = {
    "core": [
        (CorrelatedGaussianTask(dim=5, mi=2.0), 10_000, "abs", 0.03),
        (CorrelatedGaussianTask(dim=20, mi=4.0), 10_000, "abs", 0.06),
        (CorrelatedGaussianTask(dim=20, mi=10.0), 10_000, "abs", 0.3),
        (CorrelatedGaussianTask(dim=1, mi=5.0), 10_000, "abs", 0.15),
    ],
    "beyond": [(judged.task, judged.n, judged.kind, judged.bar) for judged in beyond_gaussian()],
}


def _verdict(kind: str, bar: float, errors: list[float], estimates: list[float]) -> bool:
    if kind == "abs":
        return statistics.fmean(abs(e) for e in errors) <= bar
    if kind == "within":
        return abs(statistics.fmean(errors)) <= bar
    return statistics.fmean(estimates) >= bar


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks auto", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", choices=("all", "core", "beyond"), default="all")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--families", nargs="+", default=None, help="families for estimator='auto' (default: miestim.crossfit.DEFAULT_FAMILIES)")
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="N = 1,000, 100 steps, seed 0: checks the benchmark runs")
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    args = parser.parse_args(argv)
    groups = ("core", "beyond") if args.tasks == "all" else (args.tasks,)
    seeds = [0] if args.quick else args.seeds
    kwargs: dict[str, Any] = {"estimator": "auto", "progress": False}
    if args.families:
        kwargs["families"] = tuple(args.families)
    if args.folds:
        kwargs["folds"] = args.folds
    if args.quick:
        kwargs["max_steps"] = 100
    estimator = {"function": "estimate_mi", **{k: v for k, v in kwargs.items() if k != "progress"}}
    meta = run_metadata("auto", sys.argv[1:] if argv is None else argv, device="cpu", seed=seeds[0], seeds=seeds, estimator=estimator)
    print(f"# estimate_mi(estimator='auto'), families {args.families or 'default'}, seeds {seeds} ({meta['date']}, torch {meta['torch']})\n")
    rows = []
    for group in groups:
        for task, n, kind, bar in TASKS[group]:
            row = _run_task(task, 1000 if args.quick else n, kind, bar, seeds, kwargs)
            print(f"{task.name}: {row.get('message') or 'done'}", file=sys.stderr, flush=True)
            if "message" not in row:
                rows.append(row)
    print(table(rows))
    if args.json:
        write_record(args.json, meta, rows)
    return 0


def _run_task(task: Any, n: int, kind: str, bar: float, seeds: list[int], kwargs: dict[str, Any]) -> dict[str, Any]:
    """One task over the seeds: its record row (errors and seconds per seed, families kept, target), or a failure message."""
    families: Counter[str] = Counter()

    def estimate(x: Any, y: Any) -> miestim.EstimateResult:
        result = miestim.estimate_mi(x, y, **kwargs)
        families.update(result.extra["families"])
        return result

    report = miestim.validate(estimate, [task], n=n, seeds=seeds, progress=False)
    ok = [r for r in report.rows if r.status == "ok"]
    if not ok:
        return {"task": task.name, "message": f"failed: {report.rows[0].message}"}
    errors, estimates = [r.error for r in ok], [r.estimate for r in ok]
    target = {"abs": f"mean abs error <= {bar}", "within": f"within {bar}", "at least": f">= {bar}"}[kind]
    return {
        "task": task.name,
        "truth": task.mutual_information,
        "n": n,
        "errors": errors,
        "seconds": [r.seconds for r in ok],
        "families": dict(families),
        "target": target,
        "pass": _verdict(kind, bar, errors, estimates),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The record's rows as the benchmark prints them: per task, the error over the seeds, the families kept, the verdict."""
    head = ["task", "truth", "N", "mean error", "mean abs error", "sd", "families kept", "s / estimate", "target", ""]
    lines = []
    for r in rows:
        errors = r["errors"]
        sd = statistics.stdev(errors) if len(errors) > 1 else float("nan")
        kept = ", ".join(f"{f} {c}" for f, c in Counter(r["families"]).most_common())
        mean, mean_abs = statistics.fmean(errors), statistics.fmean(abs(e) for e in errors)
        lines.append(
            [r["task"], f"{r['truth']:.4f}", r["n"], f"{mean:+.3f}", f"{mean_abs:.3f}", f"{sd:.3f}", kept, f"{statistics.fmean(r['seconds']):.1f}"]
        )
        lines[-1] += [r["target"], "PASS" if r["pass"] else "MISS"]
    return markdown_table(head, lines)


if __name__ == "__main__":
    sys.exit(main())
