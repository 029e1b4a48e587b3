"""Run by ``torchrun --nproc_per_node 2`` from test_distributed.py: the multi-process side of its comparisons.

Each rank writes what it computed to ``<out>/rank<r>.pt``; the test computes the one-process
references itself. One launch for all of it: starting processes is the slow part. (The
example is launched on its own, ``torchrun -m examples.sentiment train``: a process group is
not re-initialised within one launch, which torchrun's shared store does not support reliably.)

Usage: ``torchrun --nproc_per_node 2 tests/distributed/_distributed_worker.py OUT``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import miestim
from miestim.distributed import get_rank, rank_slice

# Shared with the test: the global batch and the estimator settings of the gradient check.
GLOBAL_N, DIM = 13, 3  # 13 rows over 2 ranks: shares of 7 and 6 (unequal on purpose)
BOUNDS = ("infonce", "nwj", "tuba")
MI_OPTIONS = dict(estimator="infonce", batch_size=64, max_steps=60, eval_every=20, eval_batch_size=128, progress=False)
# The default estimator: every rank runs the whole cross-fit and rank 0's result is broadcast.
AUTO_OPTIONS = dict(batch_size=64, max_steps=60, eval_every=20, progress=False)
CMI_OPTIONS = dict(method="cmine", hidden=(32,), batch_size=64, max_steps=40, eval_every=20, progress=False)


def sentiment_args(data_dir: str, out: str) -> list[str]:
    """A short run of the example (smoke preset, 2 epochs, no dropout so that 1 and 2 processes can agree)."""
    return [
        "train",
        "--preset",
        "smoke",
        "--data",
        "mosi_unaligned",
        "--data-dir",
        data_dir,
        "--text-mode",
        "features",
        "--epochs",
        "2",
        "--dropout",
        "0",
        "--no-progress",
        "--num-threads",
        "1",
        "--out",
        out,
    ]


def global_batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(GLOBAL_N, DIM, generator=g)
    return x, x + 0.5 * torch.randn(GLOBAL_N, DIM, generator=g)


def build(name: str) -> miestim.MIEstimator:
    torch.manual_seed(1)
    return miestim.ESTIMATORS[name](DIM, DIM, critic_kwargs={"hidden": (16,), "embed_dim": 8})


def mi_data() -> tuple[torch.Tensor, torch.Tensor]:
    return miestim.gaussian.CorrelatedGaussianTask(dim=2, mi=1.0).sample(600, seed=3)


def cmi_data():
    return miestim.gaussian.GaussianChainTask(1).sample(600, seed=4)


def bound_and_gradients() -> dict:
    """Each rank: its share of the global batch through a DDP-wrapped estimator; the value and averaged gradients."""
    x, y = global_batch()
    share = rank_slice(GLOBAL_N)
    out = {}
    for name in BOUNDS:
        module = DistributedDataParallel(build(name))
        value = module(x[share], y[share])
        value.backward()
        out[name] = {"value": value.detach(), "grads": {k: p.grad.clone() for k, p in module.module.named_parameters()}}
    return out


def knn_bank() -> torch.Tensor:
    return torch.randn(301, 4, generator=torch.Generator().manual_seed(5))


def knn_tables() -> dict:
    """A k-NN table built in shares, and the product draws that follow it (generator in step)."""
    sampler = miestim.KNNSampler(knn_bank(), k=3, seed=2, distributed=True)
    return {"neighbors": sampler.neighbors_, "draws": sampler.sample_indices(torch.arange(301))}


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    torch.set_num_threads(1)
    rank = get_rank()
    result = {"bounds": bound_and_gradients(), "knn": knn_tables()}
    result["estimate_mi"] = miestim.estimate_mi(*mi_data(), **MI_OPTIONS)
    result["estimate_mi[auto]"] = miestim.estimate_mi(*mi_data(), **AUTO_OPTIONS)
    result["estimate_cmi"] = miestim.estimate_cmi(*cmi_data(), **CMI_OPTIONS)
    try:  # every rank must pass the same data: a different n on rank 1 is refused on both ranks
        x, y = mi_data()
        miestim.estimate_mi(x[: 600 - rank * 10], y[: 600 - rank * 10], **MI_OPTIONS)
    except ValueError as err:
        result["mismatch_error"] = str(err)
    try:  # an estimator that gathers cannot be used with distributed=False
        x, y = mi_data()
        miestim.estimate_mi(x, y, **{**MI_OPTIONS, "estimator": miestim.InfoNCE(2, 2)}, distributed=False)
    except ValueError as err:
        result["instance_error"] = str(err)
    for res in ("estimate_mi", "estimate_mi[auto]", "estimate_cmi"):
        r = result[res]
        result[res] = {"value": r.value, "stderr": r.stderr, "history": r.history}
    torch.save(result, out / f"rank{rank}.pt")
    dist.barrier()  # no rank tears gloo down while another's last collective is in flight
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
