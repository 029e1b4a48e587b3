"""CMINE (``estimate_cmi``) against the Gaussian chain's closed-form conditional MI.

    python -m benchmarks cmi                      # d=5, n=80,000: I(X;Y|Z) and the null I(X;Z|Y)
    python -m benchmarks cmi --quick              # smoke run: d=1, n=3,000, few steps
    python -m benchmarks cmi --json out.json --baseline docs/benchmarks/cmi.json
    python -m benchmarks cmi --runs chain-dv chain-mean_log_ratio --seeds 8   # spread over classifier trainings

Chain: X ~ N(0, 10² I_d), Y = X + N(0, I_d), Z = Y + N(0, 5² I_d); I(X;Y|Z) = 1.5185·d nats
(7.592 for d=5) and I(X;Z|Y) = 0. Targets: within 5% of the truth; null |estimate| <= 0.05. The
chain is read out with the default DV bound and with the mean log-ratio (each run selects its
classifier by its own readout's validation score). The null is run with the defaults (``resample="auto"``
redraws Z, which Y predicts least, from its k-NN conditional given Y; k=1), then redrawing X and
with k=2, to show the k-NN sampling bias; every row also lists the NWJ and mean-log-ratio
readouts of the same classifier.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass

import miestim
from miestim.gaussian import GaussianChainTask

from ._report import add_run_arguments, finish, markdown_table, run_metadata

#: relative error allowed on I(X;Y|Z), absolute value allowed on the null.
RELATIVE_TARGET, NULL_TARGET = 0.05, 0.05


#: name -> (chain target, which variable the product triples redraw, k, readout; None = the default)
RUNS = {
    "chain-dv": ("x;y|z", None, None, "dv"),
    "chain-mean_log_ratio": ("x;y|z", None, None, "mean_log_ratio"),
    "null": ("x;z|y", None, None, "dv"),
    "null-k2": ("x;z|y", None, 2, "dv"),
    "null-x": ("x;z|y", "x", None, "dv"),
}


@dataclass
class Row:
    target: str
    resample: str
    k: int
    readout: str
    dim: int
    n: int
    true_cmi: float
    estimate: float
    stderr: float
    error: float
    seconds: float
    nwj: float = float("nan")
    mean_log_ratio: float = float("nan")
    seed: int = 0


def run(dim: int, n: int, seeds: list[int], max_steps: int | None, device: str, names: list[str]) -> list[Row]:
    rows = []
    for seed, run_name in ((seed, run_name) for seed in seeds for run_name in names):
        target, resample, k, readout = RUNS[run_name]
        task = GaussianChainTask(dim, target=target)
        x, y, z = task.sample(n, seed=seed)
        options = {name: value for name, value in (("resample", resample), ("k", k)) if value is not None}
        res = miestim.estimate_cmi(x, y, z, method="cmine", readout=readout, **options, seed=seed, max_steps=max_steps, device=device, progress=False)
        resample = res.extra["resample"] if resample is None else resample
        truth = task.conditional_mutual_information
        rows.append(
            Row(
                target,
                resample,
                res.extra["k"],
                readout,
                dim,
                n,
                truth,
                res.value,
                res.stderr,
                res.value - truth,
                res.seconds,
                res.extra["nwj"],
                res.extra["mean_log_ratio"],
                seed,
            )
        )
        print(
            f"  I({target}) resample={resample} k={res.extra['k']} readout={readout} d={dim} n={n}: est={res.value:.3f} ± {res.stderr:.3f} (true {truth:.3f}) "
            f"{res.seconds:.1f}s",
            file=sys.stderr,
            flush=True,
        )
    return rows


def markdown(rows: list[Row]) -> str:
    head = ["quantity", "resample", "k", "readout", "d", "n", "true CMI", "estimate ± stderr", "error", "NWJ", "mean log-ratio", "seconds", "seed"]
    lines = [
        [f"I({r.target})", r.resample, r.k, r.readout, r.dim, r.n, f"{r.true_cmi:.3f}", f"{r.estimate:.3f} ± {r.stderr:.3f}"]
        + [f"{r.error:+.3f}", f"{r.nwj:.3f}", f"{r.mean_log_ratio:.3f}", f"{r.seconds:.1f}", r.seed]
        for r in rows
    ]
    return markdown_table(head, lines)


def meets_target(r: Row) -> bool:
    return abs(r.error) <= RELATIVE_TARGET * r.true_cmi if r.true_cmi > 0 else abs(r.estimate) <= NULL_TARGET


def check_targets(rows: list[Row]) -> list[str]:
    report = []
    for r in rows:
        seed = f" seed={r.seed}" if len({row.seed for row in rows}) > 1 else ""
        if r.true_cmi > 0:
            report.append(
                f"{'PASS' if meets_target(r) else 'MISS'} I({r.target}) resample={r.resample} k={r.k} readout={r.readout}{seed}: "
                f"error {r.error / r.true_cmi:+.1%} (target within {RELATIVE_TARGET:.0%})"
            )
        else:
            report.append(
                f"{'PASS' if meets_target(r) else 'MISS'} null I({r.target}) resample={r.resample} k={r.k} readout={r.readout}{seed}: "
                f"|estimate| {abs(r.estimate):.3f} (target <= {NULL_TARGET})"
            )
    return report


def seed_summary(rows: list[Row]) -> list[str]:
    """Per run over its seeds: mean error, its spread, and how many seeds meet the target."""
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        groups.setdefault((r.target, r.resample, r.k, r.readout), []).append(r)
    lines = []
    for (target, resample, k, readout), group in groups.items():
        errors = [r.error for r in group]
        sd = statistics.stdev(errors) if len(errors) > 1 else float("nan")
        lines.append(
            f"I({target}) resample={resample} k={k} readout={readout} over {len(group)} seeds: mean error {statistics.mean(errors):+.3f} "
            f"(sd {sd:.3f}, mean stderr {statistics.mean(r.stderr for r in group):.3f}); target met in {sum(map(meets_target, group))}/{len(group)}"
        )
    return lines


def row_key(row: dict) -> tuple:
    return (row["target"], row["resample"], row["k"], row["readout"], row["dim"], row["n"], row.get("seed", 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cmi", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--n", type=int, default=80_000)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS), help="which runs (default: all)")
    parser.add_argument("--seeds", type=int, default=1, help="repeat every run over seeds SEED .. SEED+SEEDS-1 (default 1)")
    add_run_arguments(parser, quick="smoke run: d=1, n=3,000, 100 steps, no target check", tolerance=0.15)
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    dim, n, steps = (1, 3000, 100) if args.quick else (args.dim, args.n, None)
    seeds = list(range(args.seed, args.seed + args.seeds))
    meta = run_metadata(
        "cmi",
        list(argv if argv is not None else sys.argv[1:]),
        device=args.device,
        seed=args.seed,
        estimator={"function": "estimate_cmi", "method": "cmine", "runs": args.runs},
    )
    rows = run(dim, n, seeds, steps, args.device, args.runs)
    targets = [] if args.quick else check_targets(rows) + (seed_summary(rows) if len(seeds) > 1 else [])
    return finish(rows, markdown(rows), targets, meta, json_path=args.json, baseline_path=args.baseline, tolerance=args.tolerance, key=row_key)


if __name__ == "__main__":
    sys.exit(main())
