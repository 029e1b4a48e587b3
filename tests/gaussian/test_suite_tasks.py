"""The ground truth the validation suites add: discrete conditioning, and sampled modalities with their exact decomposition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from miestim.gaussian import ClassConditionalGaussianTask, GaussianDecompositionTask, decomposition


def test_class_conditional_truth_and_sample():
    task = ClassConditionalGaussianTask((0.0, 0.5, 0.9), dim=2, probabilities=(0.2, 0.3, 0.5))
    expected = -(2 / 2) * (0.3 * math.log(1 - 0.25) + 0.5 * math.log(1 - 0.81))
    assert task.conditional_mutual_information == pytest.approx(expected)
    x, y, z = task.sample(30_000, 0)
    assert x.shape == y.shape == (30_000, 2) and z.shape == (30_000, 1) and x.dtype == np.float32
    for c, (p, rho) in enumerate(zip((0.2, 0.3, 0.5), (0.0, 0.5, 0.9))):
        rows = z[:, 0] == c
        assert rows.mean() == pytest.approx(p, abs=0.01)
        assert np.corrcoef(x[rows, 1], y[rows, 1])[0, 1] == pytest.approx(rho, abs=0.03)
    again = task.sample(30_000, 0)
    assert all(np.array_equal(a, b) for a, b in zip((x, y, z), again))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((0.5,), {}, TypeError, "rhos must be a sequence"),
        (((0.5,),), {}, ValueError, "at least 2 classes"),
        (((0.5, 1.0),), {}, ValueError, r"rhos\[1\] must lie in the open interval"),
        (((0.5, 0.2),), {"probabilities": (0.5, 0.6)}, ValueError, "probabilities must sum to 1"),
        (((0.5, 0.2),), {"probabilities": (1.0,)}, ValueError, "one value per class"),
        (((0.5, 0.2),), {"probabilities": "ab"}, TypeError, "probabilities must be a sequence"),
        (((0.5, 0.2),), {"dim": 0}, ValueError, "dim must be an integer >= 1"),
    ],
)
def test_class_conditional_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ClassConditionalGaussianTask(*args, **kwargs)


def test_decomposition_task_carries_the_closed_form_and_samples_its_covariance():
    task = GaussianDecompositionTask.latent_factor(("t", "a", "v"), dim=2, seed=1)
    modalities, target = task.sample(40_000, 3)
    assert list(modalities) == ["t", "a", "v"] and target.shape == (40_000, 1)
    joint = np.concatenate([*modalities.values(), target], axis=1).astype(np.float64)
    cov = np.cov(joint, rowvar=False)
    blocks = {"t": [0, 1], "a": [2, 3], "v": [4, 5]}
    estimated = decomposition(cov, blocks, [6])
    assert estimated.invariant == pytest.approx(task.decomposition.invariant, abs=0.02)
    names = [name for name, _ in task.decomposition.terms()]
    assert names == ["Inv", "Comp", "Spec_t", "Spec_a", "Spec_v"] and task.name == "latent-factor-t-a-v-2d"


def test_decomposition_task_bad_arguments():
    with pytest.raises(ValueError, match="at least 2 modalities"):
        GaussianDecompositionTask(np.eye(3), {"t": [0]}, [2])
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        GaussianDecompositionTask.latent_factor(("t", "a"), dim=0)
