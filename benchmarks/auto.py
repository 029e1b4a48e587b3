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
from miestim.gaussian import CorrelatedGaussianTask, GaussianTask
from miestim.tasks import AdditiveUniformTask, SpiralTask, StudentTTask

from ._report import run_metadata

#: (task, N, target kind, bar): "abs" = mean |error| <= bar; "within" = |mean error| <= bar; "at least" = mean estimate >= bar.
TASKS: dict[str, list[tuple[Any, int, str, float]]] = {
    "core": [
        (CorrelatedGaussianTask(dim=5, mi=2.0), 10_000, "abs", 0.03),
        (CorrelatedGaussianTask(dim=20, mi=4.0), 10_000, "abs", 0.06),
        (CorrelatedGaussianTask(dim=20, mi=10.0), 10_000, "abs", 0.3),
        (CorrelatedGaussianTask(dim=1, mi=5.0), 10_000, "abs", 0.15),
    ],
    "beyond": [
        (StudentTTask(6, 6, df=4), 10_000, "within", 0.04),
        (SpiralTask(GaussianTask.correlated_pairs(4, 4, pairs=2, rho=0.8)), 10_000, "at least", 0.92),
        (AdditiveUniformTask(0.2), 10_000, "within", 0.08),
        (GaussianTask.correlated_pairs(20, 20, pairs=3, rho=0.8), 5_000, "within", 0.06),
    ],
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
    print("| task | truth | N | mean error | mean abs error | sd | families kept | s / estimate | target | |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    records = []
    for group in groups:
        for task, n, kind, bar in TASKS[group]:
            n = 1000 if args.quick else n
            families: Counter[str] = Counter()

            def estimate(x: Any, y: Any, families: Counter[str] = families) -> miestim.EstimateResult:
                result = miestim.estimate_mi(x, y, **kwargs)
                families.update(result.extra["families"])
                return result

            report = miestim.validate(estimate, [task], n=n, seeds=seeds, progress=False)
            ok = [r for r in report.rows if r.status == "ok"]
            if not ok:
                print(f"| {task.name} | {task.mutual_information:.4f} | {n} | failed: {report.rows[0].message} |")
                continue
            errors, estimates = [r.error for r in ok], [r.estimate for r in ok]
            passed = _verdict(kind, bar, errors, estimates)
            target = {"abs": f"mean abs error <= {bar}", "within": f"within {bar}", "at least": f">= {bar}"}[kind]
            sd = statistics.stdev(errors) if len(errors) > 1 else float("nan")
            kept = ", ".join(f"{f} {c}" for f, c in families.most_common())
            seconds = statistics.fmean(r.seconds for r in ok)
            print(
                f"| {task.name} | {task.mutual_information:.4f} | {n} | {statistics.fmean(errors):+.3f} | "
                f"{statistics.fmean(abs(e) for e in errors):.3f} | {sd:.3f} | {kept} | {seconds:.1f} | {target} | {'PASS' if passed else 'MISS'} |",
                flush=True,
            )
            records.append(
                {
                    "task": task.name,
                    "truth": task.mutual_information,
                    "n": n,
                    "errors": errors,
                    "seconds": [r.seconds for r in ok],
                    "families": dict(families),
                    "target": target,
                    "pass": passed,
                }
            )
    if args.json:
        import json

        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "rows": records}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
