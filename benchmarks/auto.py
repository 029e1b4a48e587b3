"""``estimate_mi(estimator="auto")`` over seeds on the core Gaussian tasks and the beyond-Gaussian tasks (issue 17).

    python -m benchmarks auto                              # 8 tasks x seeds 0-4, all families
    python -m benchmarks auto --families gaussian          # the Gaussian-copula critic alone
    python -m benchmarks auto --tasks core --seeds 0 1     # a subset
    python -m benchmarks auto --quick                      # smoke run: tiny N and steps
    python -m benchmarks auto --tasks gaps                 # issue 30's acceptance tasks (N = 5,000)

Runs through :func:`miestim.validate`, so the figures are those of the code users run. Each
row is a task's mean error, mean |error| and sd over the seeds, the family each fold kept,
and the mean seconds per estimate; a task's target (the issue's bar) is printed beside it.
Every estimate is cross-fitted: each row of the sample is scored once, by a critic that
neither trained nor stopped on it.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from collections import Counter
from typing import Any

import numpy as np

import miestim
from miestim.gaussian import CorrelatedGaussianTask, GaussianTask, TransformedTask
from miestim.tasks import AdditiveUniformTask, MixingTask, ScaleMixtureTask, SpiralTask, StudentTTask

from ._report import markdown_table, run_metadata, write_record
from ._suites import beyond_gaussian


def _spiral(dim: int, *, normal_cdf: bool) -> SpiralTask:
    """Czyż et al.'s spiral on a ``dim`` x ``dim`` Gaussian with two pairs of correlation 0.8 (1.0217 nats), optionally after a normal CDF."""
    gaussian = GaussianTask.correlated_pairs(dim, dim, pairs=2, rho=0.8)
    return SpiralTask(TransformedTask(gaussian, transform="normal-cdf") if normal_cdf else gaussian)


def _equicorrelated(dim: int, rho: float) -> GaussianTask:
    """A ``dim`` x ``dim`` Gaussian pair with every correlation, within and across the sides, equal to ``rho``."""
    cov = np.full((2 * dim, 2 * dim), rho) + (1 - rho) * np.eye(2 * dim)
    return GaussianTask(cov, list(range(dim)), list(range(dim, 2 * dim)), name=f"gaussian-{dim}x{dim}-all-rho{rho:g}")


def _gap_tasks() -> list[tuple[Any, int, str, float]]:
    """Issue 30's acceptance tasks, at N = 5,000 unless it says otherwise, with its bars on the mean relative error."""
    tasks: list[tuple[Any, int, str, float]] = [(StudentTTask(d, d, df=df), 5_000, "relative", 0.05) for d in (2, 3, 5) for df in (1, 2, 3)]
    tasks += [(_spiral(d, normal_cdf=cdf), 5_000, "relative", 0.05) for cdf in (False, True) for d in (3, 5, 25)]
    tasks += [
        (_equicorrelated(50, 0.5), 5_000, "relative", 0.03),
        (GaussianTask.correlated_pairs(20, 20, pairs=3, rho=0.8), 1_000, "abs", 0.05),
    ]
    tasks += [(AdditiveUniformTask(eps), 5_000, "relative", 0.05) for eps in (0.1, 0.2, 0.75)]
    tasks += [(MixingTask(CorrelatedGaussianTask(5, 2.0), nonlinearity=f), 5_000, "relative", 0.05) for f in ("asinh", "cube")]
    return tasks + [(ScaleMixtureTask(3, 3, sigma=1.0), 5_000, "relative", 0.06)]


#: (task, N, target kind, bar): "abs" = mean |error| <= bar; "within" = |mean error| <= bar; "at least" = mean estimate >= bar;
#: "relative" = mean |error| / truth <= bar.
TASKS: dict[str, list[tuple[Any, int, str, float]]] = {
    "core": [
        (CorrelatedGaussianTask(dim=5, mi=2.0), 10_000, "abs", 0.03),
        (CorrelatedGaussianTask(dim=20, mi=4.0), 10_000, "abs", 0.06),
        (CorrelatedGaussianTask(dim=20, mi=10.0), 10_000, "abs", 0.3),
        (CorrelatedGaussianTask(dim=1, mi=5.0), 10_000, "abs", 0.15),
    ],
    "beyond": [(judged.task, judged.n, judged.kind, judged.bar) for judged in beyond_gaussian()],
    "gaps": _gap_tasks(),
}


def _verdict(kind: str, bar: float, errors: list[float], estimates: list[float], truth: float) -> bool:
    if kind == "relative":
        return statistics.fmean(abs(e) for e in errors) / truth <= bar
    if kind == "abs":
        return statistics.fmean(abs(e) for e in errors) <= bar
    if kind == "within":
        return abs(statistics.fmean(errors)) <= bar
    return statistics.fmean(estimates) >= bar


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks auto", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", choices=("all", "core", "beyond", "gaps"), default="all", help="all: core and beyond; gaps: issue 30's tasks")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--families", nargs="+", default=None, help="families for estimator='auto' (default: miestim.crossfit.DEFAULT_FAMILIES)")
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--match", help="regular expression: only the tasks whose name it matches (e.g. 'student-t|scale')")
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
        for task, n, kind, bar in (t for t in TASKS[group] if args.match is None or re.search(args.match, t[0].name)):
            row = _run_task(task, 1000 if args.quick else n, kind, bar, seeds, kwargs)
            print(f"{task.name}: {row.get('message') or 'done'}", file=sys.stderr, flush=True)
            if "message" not in row:
                rows.append(row)
    print(table(rows))
    print("\n".join(f"- {line}" for line in summary(rows)))
    if args.json:
        write_record(args.json, meta, rows)
    return 0


def _run_task(task: Any, n: int, kind: str, bar: float, seeds: list[int], kwargs: dict[str, Any]) -> dict[str, Any]:
    """One task over the seeds: its record row (errors and seconds per seed, families kept, target), or a failure message."""
    families: Counter[str] = Counter()
    flags: list[bool] = []

    def estimate(x: Any, y: Any) -> miestim.EstimateResult:
        result = miestim.estimate_mi(x, y, **kwargs)
        families.update(result.extra["families"])
        flags.append(bool(result.extra["rests_on_training"]))
        return result

    report = miestim.validate(estimate, [task], n=n, seeds=seeds, progress=False)
    ok = [r for r in report.rows if r.status == "ok"]
    if not ok:
        return {"task": task.name, "message": f"failed: {report.rows[0].message}"}
    errors, estimates = [r.error for r in ok], [r.estimate for r in ok]
    target = {"abs": f"mean abs error <= {bar}", "within": f"within {bar}", "at least": f">= {bar}", "relative": f"mean relative error <= {bar:.0%}"}[
        kind
    ]
    return {
        "task": task.name,
        "truth": task.mutual_information,
        "n": n,
        "errors": errors,
        "seconds": [r.seconds for r in ok],
        "stderrs": [r.stderr for r in ok],
        "rests_on_training": flags,
        "families": dict(families),
        "target": target,
        "pass": _verdict(kind, bar, errors, estimates, task.mutual_information),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The record's rows as the benchmark prints them: per task, the error over the seeds, the families kept, the verdict."""
    head = [
        "task",
        "truth",
        "N",
        "mean error",
        "mean abs error",
        "relative",
        "sd",
        "families kept",
        "rests on training",
        "s / estimate",
        "target",
        "",
    ]
    lines = []
    for r in rows:
        errors = r["errors"]
        sd = statistics.stdev(errors) if len(errors) > 1 else float("nan")
        kept = ", ".join(f"{f} {c}" for f, c in Counter(r["families"]).most_common())
        mean, mean_abs = statistics.fmean(errors), statistics.fmean(abs(e) for e in errors)
        lines.append([r["task"], f"{r['truth']:.4f}", r["n"], f"{mean:+.3f}", f"{mean_abs:.3f}", f"{mean_abs / r['truth']:.1%}", f"{sd:.3f}", kept])
        flags = r.get("rests_on_training")
        lines[-1] += [f"{sum(flags)} of {len(flags)}" if flags is not None else "—", f"{statistics.fmean(r['seconds']):.1f}"]
        lines[-1] += [r["target"], "PASS" if r["pass"] else "MISS"]
    return markdown_table(head, lines)


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """Lines under the table: how many tasks meet their bar, and the median seconds per estimate over every estimate."""
    seconds = [s for row in rows for s in row["seconds"]]
    met = sum(bool(row["pass"]) for row in rows)
    lines = [
        f"{met} of {len(rows)} tasks meet their target",
        f"median seconds per estimate over all {len(seconds)} estimates: {statistics.median(seconds):.1f}",
    ]
    return lines + _flag_rates(rows) + _noise_floors(rows)


#: Noise floors at least this large (relative to the truth) are listed under the table.
FLOOR_SHOWN = 0.03


def _noise_floors(rows: list[dict[str, Any]]) -> list[str]:
    r"""The tasks where sampling noise alone puts the mean relative error near a few percent.

    An unbiased estimate with standard error :math:`\sigma` is off by :math:`\sqrt{2/\pi}\,\sigma`
    on average, and no estimator's stderr is below the efficient one, :math:`\mathrm{sd}(\log r)/\sqrt{n}`,
    which the default's held-out stderr estimates; so a bar below this floor is met only by luck.
    """
    floors = []
    for row in rows:
        if "relative" in row["target"] and row.get("stderrs"):
            floor = math.sqrt(2 / math.pi) * statistics.fmean(row["stderrs"]) / row["truth"]
            if floor >= FLOOR_SHOWN:
                floors.append(f"{row['task']} {floor:.1%}")
    if not floors:
        return []
    return [
        f"noise floor (the mean relative error of an unbiased estimate with the default's stderrs, sqrt(2/pi) x stderr / truth): {'; '.join(floors)}"
    ]


def _flag_rates(rows: list[dict[str, Any]]) -> list[str]:
    """How often ``extra["rests_on_training"]`` fired on the estimates off by more than 3 standard errors, and on the others."""
    estimates = [
        (abs(e) > 3 * se, flag)
        for row in rows
        if "rests_on_training" in row
        for e, se, flag in zip(row["errors"], row["stderrs"], row["rests_on_training"])
    ]
    if not estimates:
        return []
    off = [flag for far, flag in estimates if far]
    near = [flag for far, flag in estimates if not far]
    fired = f"`rests_on_training` fired on {sum(off)} of the {len(off)} estimates off by more than 3 standard errors"
    return [f"{fired}, and on {sum(near)} of the {len(near)} within 3"]


if __name__ == "__main__":
    sys.exit(main())
