"""``decompose`` on a 3-modality Gaussian against the closed form, both methods with their defaults: accuracy and time.

    python -m benchmarks decomposition            # d=8 per modality, N=20,000
    python -m benchmarks decomposition --quick    # smoke run: d=2, N=2,000, few steps
    python -m benchmarks decomposition --json out.json --baseline docs/benchmarks/decomposition.json

Model: a 6-dimensional latent L ~ N(0, I); each modality m in (t, a, v) is W_m L + noise
(8-d), the target C = w·L + noise (1-d), all weights fixed by --seed. The true terms come
from ``miestim.gaussian.decomposition`` on the model's covariance. Each method runs with decompose's
other defaults (MIs by ``estimate_mi(estimator="auto")``, CMIs by CMINE for ``"cmi"``); the summary
names decompose's default method, which should be the one with the smaller largest error.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from dataclasses import dataclass

import numpy as np

import miestim
from miestim.gaussian import decomposition

from ._report import add_run_arguments, finish, markdown_table, run_metadata

NAMES = ("t", "a", "v")
LATENT = 6


@dataclass
class Row:
    method: str
    term: str
    true: float
    estimate: float
    stderr: float
    error: float
    seconds: float


def model(dim: int, seed: int) -> tuple[np.ndarray, dict[str, list[int]], list[int]]:
    """Covariance of (t, a, v, C) for the latent-factor model, its modality index sets and the target's."""
    rng = np.random.default_rng(seed)
    loadings = [rng.normal(scale=0.6, size=(dim, LATENT)) for _ in NAMES] + [rng.normal(scale=0.5, size=(1, LATENT))]
    mix = np.vstack(loadings)
    cov = mix @ mix.T + np.eye(len(mix))
    blocks = {m: list(range(i * dim, (i + 1) * dim)) for i, m in enumerate(NAMES)}
    return cov, blocks, [len(NAMES) * dim]


def run(dim: int, n: int, seed: int, fast: bool, device: str) -> list[Row]:
    cov, blocks, target = model(dim, seed)
    truth = decomposition(cov, blocks, target)
    rng = np.random.default_rng(seed + 1)
    x = (rng.standard_normal((n, len(cov))) @ np.linalg.cholesky(cov).T).astype(np.float32)
    steps = {"max_steps": 100} if fast else {}
    rows = []
    for method in ("cmi", "chain_rule"):
        d = miestim.decompose(
            {m: x[:, idx] for m, idx in blocks.items()},
            x[:, target],
            method=method,
            seed=seed,
            mi_kwargs=steps,
            cmi_kwargs=steps if method == "cmi" else None,
            device=device,
            progress=False,
        )
        true = {"Inv": truth.invariant, "Comp": truth.complementary, **{f"Spec_{m}": v for m, v in truth.specific.items()}}
        for term, value, se in d.terms():
            rows.append(Row(method, term, true[term], value, se, value - true[term], d.seconds))
        print(f"  {method}: {d.seconds:.1f}s", file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[Row]) -> str:
    head = ["method", "term", "true", "estimate ± stderr", "error", "seconds (whole call)"]
    return markdown_table(
        head, [[r.method, r.term, f"{r.true:+.3f}", f"{r.estimate:+.3f} ± {r.stderr:.3f}", f"{r.error:+.3f}", f"{r.seconds:.1f}"] for r in rows]
    )


def summary(rows: list[Row]) -> list[str]:
    default = inspect.signature(miestim.decompose).parameters["method"].default
    out = [f"default method: {default}"]
    for method in ("cmi", "chain_rule"):
        mine = [r for r in rows if r.method == method]
        worst = max(mine, key=lambda r: abs(r.error))
        out.append(
            f"{method}: max |error| {abs(worst.error):.3f} ({worst.term}), mean |error| "
            f"{np.mean([abs(r.error) for r in mine]):.3f}, {mine[0].seconds:.1f} s"
        )
    return out


def row_key(row: dict) -> tuple:
    return (row["method"], row["term"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks decomposition", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dim", type=int, default=8, help="dimension of each modality (default 8)")
    parser.add_argument("--n", type=int, default=20_000)
    add_run_arguments(parser, quick="smoke run: d=2, N=2,000, 100 steps", tolerance=0.1)
    args = parser.parse_args(argv)
    dim, n = (2, 2000) if args.quick else (args.dim, args.n)
    meta = run_metadata(
        "decomposition",
        list(argv if argv is not None else sys.argv[1:]),
        device=args.device,
        seed=args.seed,
        dim=dim,
        n=n,
        estimator={"function": "decompose", "method": ["cmi", "chain_rule"], "mi_estimator": "auto (default)"},
    )
    rows = run(dim, n, args.seed, args.quick, args.device)
    return finish(rows, markdown(rows), summary(rows), meta, json_path=args.json, baseline_path=args.baseline, tolerance=args.tolerance, key=row_key)


if __name__ == "__main__":
    sys.exit(main())
