"""The staircase of Poole et al. (2019): one critic per bound trained through a rising true MI.

d = 20 coordinate pairs, batch 64, fresh samples every step from
``miestim.gaussian.CorrelatedGaussianTask``; the true MI steps 2 -> 4 -> 6 -> 8 -> 10 nats
every 4,000 steps (``--staircase-steps``) and the same critic (separable, miestim's default, Adam lr 5e-4) is trained
through the whole run. The trace is each step's training-batch estimate, as in the paper. Per
step of the staircase: bias, variance and MSE of those estimates over the step's last three
quarters (the first quarter lets the critic catch up with the new MI).

The paper also trains a concat (joint) critic; on 2 CPU cores that costs about 40 ms a step at
batch 64 (13 minutes per bound), so it is left out here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import miestim
from miestim.gaussian import CorrelatedGaussianTask

from .._report import markdown_table

#: (label, miestim estimator name, estimator options)
BOUNDS = (
    ("NWJ", "nwj", {}),
    ("MINE", "mine", {}),
    ("InfoNCE", "infonce", {}),
    ("JS", "js", {}),
    ("SMILE τ=5", "smile", {"clip": 5.0}),
    ("interpolated α=0.5", "interpolated", {"alpha": 0.5}),
)
LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)


@dataclass
class Trace:
    label: str
    estimator: str
    truth: np.ndarray
    estimate: np.ndarray
    seconds: float

    @property
    def steps_per_second(self) -> float:
        return len(self.estimate) / self.seconds


def run_bound(
    label: str, name: str, options: dict[str, Any], *, dim: int, batch: int, steps_per_level: int, seed: int, lr: float = 5e-4, device: str = "cpu"
) -> Trace:
    tasks = [CorrelatedGaussianTask(dim, mi) for mi in LEVELS]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = miestim.ESTIMATORS[name](dim, dim, critic="separable", **options).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    total = steps_per_level * len(LEVELS)
    truth, estimate = np.repeat(LEVELS, steps_per_level), np.empty(total)
    module.train()
    start = time.perf_counter()
    for step in range(total):
        x, y = tasks[step // steps_per_level].sample(batch, seed * 1_000_003 + step)
        value = module(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device))
        estimate[step] = float(value.detach())
        if not np.isfinite(estimate[step]):  # recorded as a gap; the critic is not updated with it
            continue
        optimizer.zero_grad(set_to_none=True)
        (-value).backward()
        optimizer.step()
    return Trace(label, name, truth, estimate, time.perf_counter() - start)


def level_stats(trace: Trace, steps_per_level: int) -> list[dict[str, float]]:
    """Bias, variance and MSE of the estimates over each level's last three quarters."""
    out = []
    burn = steps_per_level // 4
    for i, mi in enumerate(LEVELS):
        block = trace.estimate[i * steps_per_level + burn : (i + 1) * steps_per_level]
        block = block[np.isfinite(block)]
        bias = float(block.mean() - mi) if len(block) else float("nan")
        var = float(block.var()) if len(block) else float("nan")
        out.append(
            {
                "true_mi": mi,
                "mean": float(block.mean()) if len(block) else float("nan"),
                "bias": bias,
                "variance": var,
                "mse": float(np.mean((block - mi) ** 2)) if len(block) else float("nan"),
            }
        )
    return out


def run(*, dim: int = 20, batch: int = 64, steps_per_level: int = 4_000, seed: int = 0, device: str = "cpu", bounds=BOUNDS, log=print) -> list[Trace]:
    traces = []
    for label, name, options in bounds:
        trace = run_bound(label, name, options, dim=dim, batch=batch, steps_per_level=steps_per_level, seed=seed, device=device)
        log(f"  staircase {label:<20} {trace.seconds:6.1f}s ({trace.steps_per_second:.0f} steps/s)")
        traces.append(trace)
    return traces


def markdown(bounds: list[dict[str, Any]]) -> str:
    """The tables of a run from its record's rows (:func:`record`): MSE per step and speed, then bias and variance."""
    mse = [[b["bound"], *(f"{s['mse']:.3f}" for s in b["levels"]), f"{b['steps_per_second']:.0f}"] for b in bounds]
    per_step = [
        [b["bound"], f"{s['true_mi']:g}", f"{s['mean']:.3f}", f"{s['bias']:+.3f}", f"{s['variance']:.3f}", f"{s['mse']:.3f}"]
        for b in bounds
        for s in b["levels"]
    ]
    return "\n".join(
        [
            "MSE per step of the staircase (nats², lower is better) and training speed:",
            "",
            markdown_table(["bound", *(f"MI={mi:g}" for mi in LEVELS), "steps/s"], mse),
            "",
            "Bias, variance and MSE per step:",
            "",
            markdown_table(["bound", "true MI", "mean estimate", "bias", "variance", "MSE"], per_step),
        ]
    )


def record(traces: list[Trace], steps_per_level: int, block: int = 50) -> list[dict[str, Any]]:
    """JSON rows: the per-level statistics and the trace averaged over blocks of ``block`` steps."""
    out = []
    for t in traces:
        n = len(t.estimate) // block * block
        out.append(
            {
                "bound": t.label,
                "estimator": t.estimator,
                "seconds": t.seconds,
                "steps_per_second": t.steps_per_second,
                "levels": level_stats(t, steps_per_level),
                "trace_block": block,
                "trace": [round(float(v), 4) for v in t.estimate[:n].reshape(-1, block).mean(axis=1)],
            }
        )
    return out


def plot(traces: list[Trace], path: str, *, batch: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    rows = -(-len(traces) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), sharex=True, sharey=True, squeeze=False)
    for ax, t in zip(axes.flat, traces):
        steps = np.arange(len(t.estimate))
        ax.plot(steps, t.estimate, color="tab:blue", alpha=0.25, lw=0.5)
        smooth = _ema(t.estimate, 0.99)
        ax.plot(steps, smooth, color="tab:blue", lw=1.2, label="estimate (EMA 0.99)")
        ax.plot(steps, t.truth, color="black", lw=1.0, label="true MI")
        if t.estimator == "infonce":
            ax.axhline(np.log(batch), color="gray", ls=":", lw=1.0, label=f"log {batch}")
        ax.set_title(t.label)
        ax.set_ylim(-1, 14)
    for ax in axes.flat[len(traces) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    for ax in axes[:, 0]:
        ax.set_ylabel("nats")
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _ema(values: np.ndarray, decay: float) -> np.ndarray:
    out, acc = np.empty_like(values), values[0]
    for i, v in enumerate(values):
        acc = decay * acc + (1 - decay) * v if np.isfinite(v) else acc
        out[i] = acc
    return out
