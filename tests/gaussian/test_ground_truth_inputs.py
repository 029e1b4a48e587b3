"""The ground truth's own input checks: covariances, index sets, modalities and task options, each refused by name.

Every ground-truth entry (the closed forms and the Gaussian tasks) refuses the same malformed covariance the
same way; a tensor or an integer matrix gives the numpy result.
"""

import numpy as np
import pytest
import torch

from miestim import gaussian

PD = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 1.0]])
GROUND_TRUTH = {
    "mutual_information": lambda cov, idx=((0,), (1,)): gaussian.mutual_information(cov, *idx),
    "conditional_mutual_information": lambda cov, idx=((0,), (1,), (2,)): gaussian.conditional_mutual_information(cov, *idx),
    "decomposition": lambda cov, idx=None: gaussian.decomposition(cov, {"t": [0], "a": [1]}, [2]),
    "GaussianTask": lambda cov, idx=((0,), (1,)): gaussian.GaussianTask(cov, *idx),
    "GaussianCMITask": lambda cov, idx=((0,), (1,), (2,)): gaussian.GaussianCMITask(cov, *idx),
}
BAD_COVARIANCES = [
    ("singular", np.ones((3, 3)), ValueError, r"cov must be positive definite .*smallest eigenvalue"),
    ("indefinite", np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), ValueError, "cov must be positive definite"),
    ("negative-diagonal", -np.eye(3), ValueError, "cov must be positive definite"),
    ("asymmetric", PD + np.triu(np.full((3, 3), 0.1), 1), ValueError, "cov must be symmetric"),
    ("nan", np.where(np.eye(3) > 0, np.nan, PD), ValueError, "cov must contain only finite values"),
    ("inf", np.where(np.eye(3) > 0, np.inf, PD), ValueError, "cov must contain only finite values"),
    ("non-square", np.ones((3, 2)), ValueError, r"cov must be a non-empty square matrix"),
    ("empty", np.zeros((0, 0)), ValueError, r"cov must be a non-empty square matrix"),
    ("3-d", np.ones((3, 3, 1)), ValueError, r"cov must be a non-empty square matrix"),
    ("complex", PD + 0j, TypeError, "cov must hold real numbers"),
    ("bool", np.eye(3, dtype=bool), TypeError, "cov must hold real numbers"),
    ("object", PD.astype(object), TypeError, "cov must hold real numbers"),
    ("string", "identity", TypeError, "cov must be a numpy array or torch tensor"),
]


@pytest.mark.parametrize("function", list(GROUND_TRUTH))
@pytest.mark.parametrize("case, cov, exc, match", BAD_COVARIANCES, ids=[c[0] for c in BAD_COVARIANCES])
def test_ground_truth_refuses_bad_covariances(function, case, cov, exc, match):
    with pytest.raises(exc, match=match):
        GROUND_TRUTH[function](cov)


@pytest.mark.parametrize("function", list(GROUND_TRUTH))
def test_ground_truth_accepts_tensors_and_integer_covariances(function):
    # A torch tensor (float64, float32 or requiring grad) and an integer matrix give the numpy result.
    ref = GROUND_TRUTH[function](PD)
    for cov in (torch.tensor(PD), torch.tensor(PD, requires_grad=True)):
        out = GROUND_TRUTH[function](cov)
        assert repr(out) == repr(ref) if function.endswith("Task") else out == ref
    assert GROUND_TRUTH[function](np.eye(3, dtype=np.int64) * 2) is not None


BAD_INDICES = [
    ("overlap-x-y", {"mutual_information": ((0, 1), (1,))}, ValueError, r"x_idx and y_idx must not overlap; both contain indices \[1\]"),
    ("overlap-z", {"conditional_mutual_information": ((0,), (1,), (1, 2))}, ValueError, r"y_idx and z_idx must not overlap"),
    ("overlap-x-z", {"GaussianCMITask": ((0, 2), (1,), (2,))}, ValueError, r"x_idx and z_idx must not overlap"),
    ("out-of-range", {"mutual_information": ((0,), (3,))}, ValueError, r"y_idx entries must lie in \[0, 3\)"),
    ("negative", {"GaussianTask": ((-1,), (1,))}, ValueError, r"x_idx entries must lie in \[0, 3\)"),
    ("duplicate", {"mutual_information": ((0, 0), (1,))}, ValueError, r"x_idx must not repeat an index"),
    ("empty", {"mutual_information": ((), (1,))}, ValueError, "x_idx must contain at least one index"),
    ("bool", {"mutual_information": ((True,), (1,))}, TypeError, "x_idx must contain integers only"),
    ("float", {"conditional_mutual_information": ((0,), (1.0,), (2,))}, TypeError, "y_idx must contain integers only"),
    ("string", {"GaussianTask": ("0", (1,))}, TypeError, "x_idx must be an integer or a sequence of integers"),
]


@pytest.mark.parametrize("case, spec, exc, match", BAD_INDICES, ids=[c[0] for c in BAD_INDICES])
def test_ground_truth_refuses_bad_or_overlapping_index_sets(case, spec, exc, match):
    ((function, idx),) = spec.items()
    with pytest.raises(exc, match=match):
        GROUND_TRUTH[function](PD, idx)


def test_decomposition_refuses_overlapping_modalities_target_and_fused():
    cov = np.eye(4) + 0.1
    with pytest.raises(ValueError, match=r"modalities\['t'\] and target must not overlap"):
        gaussian.decomposition(cov, {"t": [0, 2], "a": [1]}, [2])
    with pytest.raises(ValueError, match=r"modalities\['t'\] and modalities\['a'\] must not overlap"):
        gaussian.decomposition(cov, {"t": [0], "a": [0, 1]}, [2])
    with pytest.raises(ValueError, match="target and fused must not overlap"):
        gaussian.decomposition(cov, {"t": [0], "a": [1]}, [2], fused=[2, 3])


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: gaussian.CorrelatedGaussianTask(0, 1.0), ValueError, "dim must be an integer >= 1; got 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, -1.0), ValueError, "mi must be a finite number >= 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, float("inf")), ValueError, "mi must be a finite number >= 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, float("nan")), ValueError, "mi must be a finite number >= 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2.0, 1.0), TypeError, "dim must be an integer"),
        (lambda: gaussian.CorrelatedGaussianTask(2, 1.0).sample(0, seed=0), ValueError, "n must be an integer >= 1; got 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, 1.0).sample(10, seed=-1), ValueError, "seed must be an integer >= 0"),
        (lambda: gaussian.CorrelatedGaussianTask(2, 1.0).sample(10, seed=0, dtype=np.int32), TypeError, "dtype must be a numpy floating dtype"),
        (lambda: gaussian.correlated_mi(2, 1.0), ValueError, r"rho must lie in the open interval \(-1, 1\)"),
        (lambda: gaussian.rho_for_mi(0, 1.0), ValueError, "d must be an integer >= 1"),
        (lambda: gaussian.RotatedTask("task"), TypeError, "task must be an MI task"),
        (lambda: gaussian.TransformedTask(gaussian.CorrelatedGaussianTask(1, 1.0), transform="cubee"), ValueError, "Did you mean 'cube'"),
    ],
)
def test_task_options_are_checked(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
