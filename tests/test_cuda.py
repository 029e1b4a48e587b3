"""The one-call estimators on a CUDA device (skipped where none is present)."""

import numpy as np
import pytest
import torch

import miestim
from miestim.gaussian import CorrelatedGaussianTask, GaussianChainTask

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_estimate_mi_on_cuda_matches_ground_truth():
    x, y = CorrelatedGaussianTask(5, 2.0).sample(6000, seed=0)
    res = miestim.estimate_mi(torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda(), seed=0, max_steps=600, progress=False)
    assert next(res.estimator.parameters()).device.type == "cuda"
    assert abs(res.value - 2.0) <= 0.3 + 4 * res.stderr, res


def test_estimate_cmi_on_cuda_matches_ground_truth():
    task = GaussianChainTask(1)
    x, y, z = task.sample(6000, seed=0)
    res = miestim.estimate_cmi(x, y, z, method="cmine", device="cuda", seed=0, hidden=(64, 64), max_steps=800, progress=False)
    assert next(res.estimator.parameters()).device.type == "cuda"
    truth = task.conditional_mutual_information
    assert truth - 0.15 * truth - 4 * res.stderr <= res.value <= truth + 4 * res.stderr, res
    assert np.isfinite(res.extra["nwj"])
