"""Speed: training steps per second of every miestim estimator with every critic type, wall seconds
per estimate of every library (from the comparison's own rows) and the k-NN product sampler
against a per-batch refit (:mod:`benchmarks.sampler_speed`, run here with its own settings).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch

import miestim
from miestim.validation import ValidationRow

from .. import sampler_speed
from .._report import markdown_table

CRITICS = ("separable", "bilinear", "concat")


def training_steps_per_second(
    estimator: str, critic: str, *, dim: int, batch: int, budget_s: float, min_steps: int = 5, device: str = "cpu", seed: int = 0
) -> dict[str, Any]:
    """Adam steps per second of ``estimator`` with ``critic`` on random (dim, dim) batches, timed for about ``budget_s``."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = miestim.ESTIMATORS[estimator](dim, dim, critic=critic).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=5e-4)
    data = [(torch.randn(batch, dim, generator=gen).to(device), torch.randn(batch, dim, generator=gen).to(device)) for _ in range(4)]

    def step(i: int) -> None:
        x, y = data[i % len(data)]
        loss = -module(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step(0)  # warm-up
    steps, start = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - start < budget_s:
        step(steps)
        steps += 1
    seconds = time.perf_counter() - start
    return {
        "estimator": estimator,
        "critic": critic,
        "dim": dim,
        "batch": batch,
        "steps": steps,
        "seconds": seconds,
        "steps_per_second": steps / seconds,
    }


def run_training(
    *, dim: int, batch: int, budget_s: float, device: str, estimators: list[str] | None = None, min_steps: int = 5, log: Callable[[str], Any] = print
) -> list[dict[str, Any]]:
    rows = []
    for critic in CRITICS:
        for name in estimators or sorted(miestim.ESTIMATORS):
            row = training_steps_per_second(name, critic, dim=dim, batch=batch, budget_s=budget_s, device=device, min_steps=min_steps)
            log(f"  speed {name:<12} {critic:<9} {row['steps_per_second']:8.1f} steps/s")
            rows.append(row)
    return rows


def run_sampler(*, quick: bool, device: str) -> dict[str, Any]:
    sizes = sampler_speed.QUICK if quick else sampler_speed.FULL
    return sampler_speed.run(**sizes, device=device)


def per_estimate(compare_rows: list[ValidationRow]) -> list[dict[str, Any]]:
    """Mean wall seconds per estimate and training steps per second by library, estimator and n, from the comparison."""
    groups: dict[tuple, list[ValidationRow]] = defaultdict(list)
    for r in compare_rows:
        if math.isfinite(r.seconds) and r.labels["kind"] == "mi":
            groups[(r.labels["library"], r.labels["estimator"], r.n)].append(r)
    out = []
    for (library, estimator, n), rows in sorted(groups.items()):
        seconds = [r.seconds for r in rows]
        rates = [r.labels["steps"] / r.seconds for r in rows if r.labels.get("steps") and r.seconds]
        out.append(
            {
                "library": library,
                "estimator": estimator,
                "n": n,
                "estimates": len(rows),
                "mean_seconds": sum(seconds) / len(seconds),
                "max_seconds": max(seconds),
                "steps_per_second": sum(rates) / len(rates) if rates else None,
            }
        )
    return out


def markdown(training: list[dict[str, Any]], estimates: list[dict[str, Any]], sampler: dict[str, Any] | None) -> str:
    parts = []
    if estimates:
        parts += [
            (
                "Wall seconds per estimate (mean over every MI task and seed it ran on; the estimate alone, no interpreter start "
                "or import) and training steps per second (steps taken / those seconds, so evaluation and early-stopping "
                "checks are included):"
            ),
            "",
        ]
        lines = [
            [r["library"], r["estimator"], f"{r['n']:,}", r["estimates"], f"{r['mean_seconds']:.1f}", f"{r['max_seconds']:.1f}"]
            + [_rate(r["steps_per_second"]) if r["steps_per_second"] else "-"]
            for r in estimates
        ]
        parts += [markdown_table(["library", "estimator", "n", "estimates", "mean s", "max s", "steps/s"], lines), ""]
    if training:
        d, b = training[0]["dim"], training[0]["batch"]
        critics = sorted({r["critic"] for r in training}, key=CRITICS.index)
        parts += [
            f"miestim training steps per second (forward, backward, Adam; d={d}, batch {b}):",
            "",
        ]
        table = {(r["estimator"], r["critic"]): r["steps_per_second"] for r in training}
        lines = [[name, *(_rate(table[(name, c)]) for c in critics)] for name in sorted({r["estimator"] for r in training})]
        parts += [markdown_table(["estimator", *critics], lines), ""]
    if sampler is not None:
        parts += [sampler_speed.format_table(sampler), ""]
    return "\n".join(parts)


def _rate(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"
