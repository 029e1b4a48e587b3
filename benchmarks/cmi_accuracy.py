"""CMINE (``estimate_cmi``) against the Gaussian chain's closed-form conditional MI.

    python -m benchmarks cmi                      # d=5, n=80,000: I(X;Y|Z) and the null I(X;Z|Y)
    python -m benchmarks cmi --quick              # smoke run: d=1, n=3,000, few steps
    python -m benchmarks cmi --json out.json --baseline docs/benchmarks/cmi.json

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
import sys
from dataclasses import dataclass

import miestim
from miestim.gaussian import GaussianChainTask

from ._report import add_run_arguments, finish, run_metadata

#: relative error allowed on I(X;Y|Z), absolute value allowed on the null.
RELATIVE_TARGET, NULL_TARGET = 0.05, 0.05


#: (chain target, which variable the product triples redraw, k, readout; None = the default)
RUNS = (
    ("x;y|z", None, None, "dv"),
    ("x;y|z", None, None, "mean_log_ratio"),
    ("x;z|y", None, None, "dv"),
    ("x;z|y", None, 2, "dv"),
    ("x;z|y", "x", None, "dv"),
)


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


def run(dim: int, n: int, seed: int, max_steps: int | None, device: str) -> list[Row]:
    rows = []
    for target, resample, k, readout in RUNS:
        task = GaussianChainTask(dim, target=target)
        x, y, z = task.sample(n, seed=seed)
        options = {name: value for name, value in (("resample", resample), ("k", k)) if value is not None}
        res = miestim.estimate_cmi(x, y, z, readout=readout, **options, seed=seed, max_steps=max_steps, device=device, progress=False)
        resample = res.extra["resample"] if resample is None else resample
        truth = task.conditional_mutual_information
        rows.append(Row(target, resample, res.extra["k"], readout, dim, n, truth, res.value, res.stderr, res.value - truth, res.seconds,
                        res.extra["nwj"], res.extra["mean_log_ratio"]))
        print(f"  I({target}) resample={resample} k={res.extra['k']} readout={readout} d={dim} n={n}: est={res.value:.3f} ± {res.stderr:.3f} (true {truth:.3f}) "
              f"{res.seconds:.1f}s", file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[Row]) -> str:
    lines = ["| quantity | resample | k | readout | d | n | true CMI | estimate ± stderr | error | NWJ | mean log-ratio | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| I({r.target}) | {r.resample} | {r.k} | {r.readout} | {r.dim} | {r.n} | {r.true_cmi:.3f} | {r.estimate:.3f} ± {r.stderr:.3f} | "
                     f"{r.error:+.3f} | {r.nwj:.3f} | {r.mean_log_ratio:.3f} | {r.seconds:.1f} |")
    return "\n".join(lines)


def check_targets(rows: list[Row]) -> list[str]:
    report = []
    for r in rows:
        if r.true_cmi > 0:
            ok = abs(r.error) <= RELATIVE_TARGET * r.true_cmi
            report.append(f"{'PASS' if ok else 'MISS'} I({r.target}) resample={r.resample} k={r.k} readout={r.readout}: error {r.error / r.true_cmi:+.1%} (target within {RELATIVE_TARGET:.0%})")
        else:
            ok = abs(r.estimate) <= NULL_TARGET
            report.append(f"{'PASS' if ok else 'MISS'} null I({r.target}) resample={r.resample} k={r.k} readout={r.readout}: |estimate| {abs(r.estimate):.3f} (target <= {NULL_TARGET})")
    return report


def row_key(row: dict) -> tuple:
    return (row["target"], row["resample"], row["k"], row["readout"], row["dim"], row["n"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cmi", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--n", type=int, default=80_000)
    add_run_arguments(parser, quick="smoke run: d=1, n=3,000, 100 steps, no target check", tolerance=0.15)
    args = parser.parse_args(argv)
    dim, n, steps = (1, 3000, 100) if args.quick else (args.dim, args.n, None)
    meta = run_metadata("cmi", list(argv if argv is not None else sys.argv[1:]), device=args.device, seed=args.seed)
    rows = run(dim, n, args.seed, steps, args.device)
    targets = [] if args.quick else check_targets(rows)
    return finish(rows, markdown(rows), targets, meta, json_path=args.json, baseline_path=args.baseline, tolerance=args.tolerance, key=row_key)


if __name__ == "__main__":
    sys.exit(main())
