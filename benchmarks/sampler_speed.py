"""Speed of k-NN product sampling: ``KNNSampler`` versus refitting sklearn every batch.

CMINE-style training needs, every batch, each anchor's x replaced by the x of one of the
k bank points whose z is nearest to the anchor's z. Published code does this per batch:
fit ``sklearn.neighbors.NearestNeighbors`` on the bank minus the batch's anchors, query
the anchors, pick one of the k neighbours. :class:`miestim.sampling.KNNSampler` builds
the neighbour table once and then answers a batch by indexing (O(batch)).

Both run on the same data in one process; the table prints both per-batch times side by
side, the ratio, and the sampler's one-off build time.

Usage::

    python -m benchmarks.sampler_speed                     # N=16,326, d=128, batch 128, k=2
    python -m benchmarks.sampler_speed --quick             # tiny smoke run
    python -m benchmarks.sampler_speed --json out.json     # also write the numbers
    python -m benchmarks.sampler_speed --baseline out.json # compare with a stored run

Exit status: 0, or 1 when ``--baseline`` finds a regression, 2 when the stored run's
configuration differs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sklearn
import torch
from sklearn.neighbors import NearestNeighbors

from miestim.sampling import KNNSampler

from ._report import markdown_table, run_metadata, write_record

FULL = {"n": 16_326, "dim": 128, "x_dim": 128, "batch": 128, "k": 2, "batches": 2000, "baseline_batches": 30}
QUICK = {"n": 2_000, "dim": 16, "x_dim": 16, "batch": 64, "k": 2, "batches": 200, "baseline_batches": 6}
CONFIG_KEYS = ("n", "dim", "x_dim", "batch", "k", "device")
REPEATS = 5


def _per_batch_seconds(step: Callable[[int], Any], n_batches: int, repeats: int = REPEATS) -> float:
    """Median over ``repeats`` blocks of the mean time of one call of ``step`` (robust to a busy machine)."""
    per_block = max(1, n_batches // repeats)
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        for b in range(r * per_block, (r + 1) * per_block):
            step(b)
        times.append((time.perf_counter() - start) / per_block)
    return statistics.median(times)


def run(
    *,
    n: int,
    dim: int,
    x_dim: int,
    batch: int,
    k: int,
    batches: int,
    baseline_batches: int,
    seed: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Time both samplers on Gaussian data (z ~ N(0, I_dim), x = z-dependent); return the numbers."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, dim)).astype(np.float32)
    x = (z[:, : min(dim, x_dim)].repeat(-(-x_dim // dim), axis=1)[:, :x_dim] + 0.5 * rng.normal(size=(n, x_dim))).astype(np.float32)
    anchors = [rng.choice(n, size=batch, replace=False) for _ in range(max(batches, baseline_batches))]

    # (a) KNNSampler: one-off table build, then O(batch) per batch.
    z_t, x_t = torch.from_numpy(z).to(device), torch.from_numpy(x).to(device)
    anchors_t = [torch.from_numpy(a).to(device) for a in anchors]
    start = time.perf_counter()
    sampler = KNNSampler(z_t, k=k, seed=seed)
    sync = torch.cuda.synchronize if z_t.device.type == "cuda" else (lambda: None)
    sync()
    build_s = time.perf_counter() - start
    generator = torch.Generator(device=sampler.device_).manual_seed(seed)

    def ours(b: int) -> None:
        sampler.product_sample(x_t, anchors_t[b], generator=generator)
        sync()

    ours(0)  # warm-up
    ours_s = _per_batch_seconds(ours, batches)

    # (b) Published approach: refit NearestNeighbors on the bank minus the anchors, every batch.
    choice_rng = np.random.default_rng(seed + 1)

    def refit(b: int) -> np.ndarray:
        keep = np.ones(n, dtype=bool)
        keep[anchors[b]] = False
        rest = np.flatnonzero(keep)
        nn = NearestNeighbors(n_neighbors=k).fit(z[rest])
        found = nn.kneighbors(z[anchors[b]], return_distance=False)
        pick = found[np.arange(batch), choice_rng.integers(k, size=batch)]
        return x[rest[pick]]

    refit(0)
    baseline_s = _per_batch_seconds(refit, baseline_batches, repeats=min(REPEATS, baseline_batches))
    return {
        "config": {
            "n": n,
            "dim": dim,
            "x_dim": x_dim,
            "batch": batch,
            "k": k,
            "device": str(sampler.device_),
            "batches": batches,
            "baseline_batches": baseline_batches,
            "seed": seed,
        },
        "backend": sampler.backend_,
        "build_s": build_s,
        "ours_batch_s": ours_s,
        "baseline_batch_s": baseline_s,
        "speedup": baseline_s / ours_s,
        "versions": {"torch": torch.__version__, "sklearn": sklearn.__version__, "python": platform.python_version()},
        "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads()},
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def format_table(result: dict[str, Any]) -> str:
    """Markdown table of one run."""
    c = result["config"]
    return "\n".join(
        [
            (
                f"k-NN product sampling: N={c['n']:,}, z dim={c['dim']}, x dim={c['x_dim']}, batch={c['batch']}, "
                f"k={c['k']}, device={c['device']}, torch threads={result['machine']['torch_threads']}"
            ),
            "",
            markdown_table(
                ["method", "one-off build", "per batch", "batches timed", "speed-up per batch"],
                [
                    [
                        f"miestim KNNSampler ({result['backend']})",
                        f"{result['build_s']:.2f} s",
                        _ms(result["ours_batch_s"]),
                        c["batches"],
                        f"{result['speedup']:.0f}x",
                    ],
                    ["sklearn NearestNeighbors refit per batch", "-", _ms(result["baseline_batch_s"]), c["baseline_batches"], "1x"],
                ],
            ),
        ]
    )


def compare(result: dict[str, Any], stored: dict[str, Any], *, tolerance: float) -> tuple[str, list[str]]:
    """Markdown comparison with a stored run and the list of regressed metrics (slower by > tolerance)."""
    rows = []
    regressions = []
    for key, higher_is_better in (("ours_batch_s", False), ("build_s", False), ("speedup", True)):
        old, new = float(stored[key]), float(result[key])
        change = new / old - 1.0
        worse = -change if higher_is_better else change
        status = "REGRESSION" if worse > tolerance else "ok"
        if status != "ok":
            regressions.append(key)
        rows.append([key, f"{old:.6g}", f"{new:.6g}", f"{change:+.1%}", status])
    return markdown_table(["metric", "stored", "now", "change", "status"], rows), regressions


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sampler_speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny run for smoke tests (N=2000, d=16, few batches)")
    for name, full in FULL.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=None, help=f"default {full}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="torch device of the bank (default cpu)")
    p.add_argument("--json", metavar="PATH", help="write the numbers to PATH")
    p.add_argument("--baseline", metavar="PATH", help="compare with a JSON written by --json")
    p.add_argument("--tolerance", type=float, default=0.3, help="relative slow-down counted as a regression (default 0.3)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write / compare JSON; return the exit status."""
    args = _parser().parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    for name in sizes:
        value = getattr(args, name)
        if value is not None:
            sizes[name] = value
    result = run(**sizes, seed=args.seed, device=args.device)
    result["config"]["quick"] = args.quick
    print(format_table(result))
    if args.json:
        estimator = {"class": "miestim.sampling.KNNSampler", "k": sizes["k"], "baseline": "sklearn NearestNeighbors refit per batch"}
        meta = run_metadata("sampler", list(argv) if argv is not None else sys.argv[1:], device=args.device, seed=args.seed, estimator=estimator)
        write_record(args.json, meta, **result)
        print(f"\nwrote {args.json}")
    if args.baseline:
        with open(args.baseline, encoding="utf-8") as fh:
            stored = json.load(fh)
        mismatch = {
            key: (stored["config"].get(key), result["config"][key]) for key in CONFIG_KEYS if stored["config"].get(key) != result["config"][key]
        }
        if mismatch:
            print(f"\nbaseline {args.baseline} was run with another configuration {mismatch}; not compared.")
            return 2
        table, regressions = compare(result, stored, tolerance=args.tolerance)
        print(f"\nagainst {args.baseline} (tolerance {args.tolerance:.0%}):\n\n{table}")
        if regressions:
            print(f"\nregressions: {', '.join(regressions)}")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
