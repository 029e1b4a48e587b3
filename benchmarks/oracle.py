"""What each readout reads with a perfect critic: the exact log density ratio of the Gaussian tasks.

    python -m benchmarks oracle                   # 20 draws per task (about two minutes on one core)
    python -m benchmarks oracle --draws 50 --k 1 10
    python -m benchmarks oracle --quick           # smoke run: 2 draws, small samples

A held-out estimate errs by the readout's own error on a test sample of that size (its
finite-sample bias and spread, which no critic removes) plus the trained critic's shortfall
from the optimal one. This benchmark measures the first part alone: on fresh samples of the
size of ``estimate_mi``'s and ``estimate_cmi``'s test splits (20% of N = 10,000 and of
N = 80,000), it scores the exact pointwise (conditional) MI of the task
(:meth:`~miestim.gaussian.CorrelatedGaussianTask.log_density_ratio`) with each readout, and
reports over the draws the mean error, its spread and how many draws land within the
foundation's accuracy targets.

- MI tasks (the accuracy benchmark's): all pairs of the sample are scored, as ``estimate_mi``
  scores its test split; the readouts are those of SMILE (clip 5, the default estimator),
  DV, NWJ (given its optimal critic, 1 + the log ratio) and InfoNCE on that score matrix.
- CMI (the chain X -> Y -> Z, d = 5, I(X;Y|Z) = 7.592): product triples pair each test triple
  with the x of ``k`` of its k-nearest neighbours in z drawn from the same sample
  (:class:`~miestim.KNNSampler`), as ``estimate_cmi`` draws the test split's; logits are
  clipped to the CMINE default (tau = 1e-4, |logit| <= 9.21); readouts DV, NWJ and the mean
  log-ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import miestim
from miestim.functional import (
    clip_logits,
    dv_lower_bound,
    infonce_lower_bound,
    nwj_lower_bound,
    smile_lower_bound,
    two_sample_dv_bound,
    two_sample_mean_log_ratio,
    two_sample_nwj_bound,
)
from miestim.gaussian import CorrelatedGaussianTask, GaussianChainTask

from ._report import add_run_arguments, finish, markdown_table, run_metadata

#: (dim, true MI, the foundation's |error| target or None) of the accuracy benchmark's tasks.
MI_TASKS = ((1, 1.0, None), (5, 2.0, 0.04), (20, 4.0, 0.08), (20, 10.0, 0.5))
MI_READOUTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    # NWJ is tight at 1 + log ratio (the others at the log ratio, DV and InfoNCE up to any constant).
    "smile": smile_lower_bound,
    "dv": dv_lower_bound,
    "nwj": lambda scores: nwj_lower_bound(scores + 1.0),
    "infonce": infonce_lower_bound,
}
CMI_READOUTS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "dv": two_sample_dv_bound,
    "nwj": two_sample_nwj_bound,
    "mean_log_ratio": lambda joint, product: two_sample_mean_log_ratio(joint),
}
#: Relative |error| target of the CMI issue on the chain.
CMI_RELATIVE_TARGET = 0.05
#: Test-split sizes of estimate_mi (20% of 10,000) and estimate_cmi (20% of 80,000).
MI_TEST, CMI_TEST = 2_000, 16_000
CMINE_TAU = 1e-4


@dataclass
class Row:
    quantity: str
    dim: int
    true_value: float
    readout: str
    k: int
    n: int
    draws: int
    mean_error: float
    sd: float
    min_error: float
    max_error: float
    target: float
    within_target: int


def score_matrix(task: CorrelatedGaussianTask, x: np.ndarray, y: np.ndarray) -> torch.Tensor:
    r"""``S[i, j]`` = the exact log density ratio of ``(x_i, y_j)``, float64, from its quadratic form.

    For zero-mean Gaussian [X; Y] with covariance :math:`\Sigma`,
    :math:`\log\frac{p(x,y)}{p(x)p(y)} = I - \tfrac12 (x^\top A x + 2 x^\top B y + y^\top C y)` with
    :math:`\begin{pmatrix}A & B\\ B^\top & C\end{pmatrix} = \Sigma^{-1} - \operatorname{diag}(\Sigma_X^{-1}, \Sigma_Y^{-1})`,
    so all n² entries cost two matrix products (the pointwise
    :meth:`~miestim.gaussian.CorrelatedGaussianTask.log_density_ratio` would need n² evaluations).
    """
    cov, dx = task.covariance, task.dim_x
    precision = np.linalg.inv(cov)
    precision[:dx, :dx] -= np.linalg.inv(cov[:dx, :dx])
    precision[dx:, dx:] -= np.linalg.inv(cov[dx:, dx:])
    a, b, c = precision[:dx, :dx], precision[:dx, dx:], precision[dx:, dx:]
    quad_x = np.einsum("ij,jk,ik->i", x, a, x)
    quad_y = np.einsum("ij,jk,ik->i", y, c, y)
    return torch.from_numpy(task.mutual_information - 0.5 * (quad_x[:, None] + 2.0 * x @ b @ y.T + quad_y[None, :]))


def summarise(quantity: str, dim: int, truth: float, readout: str, k: int, n: int, errors: list[float], target: float) -> Row:
    sd = statistics.stdev(errors) if len(errors) > 1 else float("nan")
    return Row(
        quantity,
        dim,
        truth,
        readout,
        k,
        n,
        len(errors),
        statistics.mean(errors),
        sd,
        min(errors),
        max(errors),
        target,
        sum(abs(e) <= target for e in errors),
    )


def run_mi(draws: list[int], n: int) -> list[Row]:
    rows = []
    for dim, mi, target in MI_TASKS:
        task = CorrelatedGaussianTask(dim, mi)
        errors: dict[str, list[float]] = {name: [] for name in MI_READOUTS}
        for seed in draws:
            scores = score_matrix(task, *task.sample(n, seed=seed, dtype=np.float64))
            for name, readout in MI_READOUTS.items():
                errors[name].append(float(readout(scores)) - mi)
        for name, errs in errors.items():
            rows.append(summarise("I(X;Y)", dim, mi, name, 0, n, errs, float("nan") if target is None else target))
        print(f"  d={dim} MI={mi}: " + "  ".join(f"{name} {statistics.mean(e):+.3f}" for name, e in errors.items()), file=sys.stderr, flush=True)
    return rows


def run_cmi(draws: list[int], n: int, ks: list[int], dim: int = 5) -> list[Row]:
    task = GaussianChainTask(dim)
    truth = task.conditional_mutual_information
    rows = []
    for k in ks:
        errors: dict[str, list[float]] = {name: [] for name in CMI_READOUTS}
        for seed in draws:
            x, y, z = task.sample(n, seed=seed, dtype=np.float64)
            sampler = miestim.KNNSampler(z, k=k, seed=seed)
            # k partners per anchor, as estimate_cmi draws the test split's product triples.
            partners = torch.stack([sampler.sample_indices(torch.arange(n)) for _ in range(k)], dim=1).reshape(-1).numpy()
            anchors = np.repeat(np.arange(n), k)
            joint = clip_logits(torch.from_numpy(task.log_density_ratio(x, y, z)), CMINE_TAU)
            product = clip_logits(torch.from_numpy(task.log_density_ratio(x[partners], y[anchors], z[anchors])), CMINE_TAU)
            for name, readout in CMI_READOUTS.items():
                errors[name].append(float(readout(joint, product)) - truth)
        for name, errs in errors.items():
            rows.append(summarise("I(X;Y|Z)", dim, truth, name, k, n, errs, CMI_RELATIVE_TARGET * truth))
        print(f"  chain d={dim} k={k}: " + "  ".join(f"{name} {statistics.mean(e):+.3f}" for name, e in errors.items()), file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[Row]) -> str:
    head = ["quantity", "d", "true value", "readout", "k", "test n", "draws", "mean error", "sd over draws", "min / max error", "target |error|"]
    lines = [
        [r.quantity, r.dim, f"{r.true_value:.3f}", r.readout, r.k or "—", r.n, r.draws, f"{r.mean_error:+.3f}", f"{r.sd:.3f}"]
        + [f"{r.min_error:+.3f} / {r.max_error:+.3f}", "—" if np.isnan(r.target) else f"{r.target:.3f}"]
        + ["—" if np.isnan(r.target) else f"{r.within_target}/{r.draws}"]
        for r in rows
    ]
    return markdown_table([*head, "draws within target"], lines)


def row_key(row: dict[str, Any]) -> tuple:
    return (row["quantity"], row["dim"], row["true_value"], row["readout"], row["k"], row["n"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks oracle", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=20, help="independent samples per task (default 20)")
    parser.add_argument("--k", type=int, nargs="+", default=[1], help="k-NN partners per CMI test triple (default 1, estimate_cmi's default)")
    add_run_arguments(parser, quick="smoke run: 2 draws, n = 200 (MI) and 2,000 (CMI)", tolerance=0.1)
    args = parser.parse_args(argv)
    if args.draws < 1:
        parser.error("--draws must be >= 1")
    if min(args.k) < 1:
        parser.error("--k must be >= 1")
    draws, mi_n, cmi_n = list(range(args.seed, args.seed + args.draws)), MI_TEST, CMI_TEST
    if args.quick:
        draws, mi_n, cmi_n = [args.seed, args.seed + 1], 200, 2_000
    meta = run_metadata(
        "oracle",
        list(argv if argv is not None else sys.argv[1:]),
        device="cpu",
        seed=args.seed,
        draws=len(draws),
        estimator="no estimator: each readout (DV, SMILE, mean log-ratio, ...) of the task's exact log density ratio",
    )
    rows = run_mi(draws, mi_n) + run_cmi(draws, cmi_n, args.k)
    return finish(rows, markdown(rows), [], meta, json_path=args.json, baseline_path=args.baseline, tolerance=args.tolerance, key=row_key)


if __name__ == "__main__":
    sys.exit(main())
