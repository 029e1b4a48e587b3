"""The same seed gives bit-identical results on CPU: twice in a row, with the progress bar on or
off, and with 1 or 2 torch threads.

Thread count: torch splits a reduction of a whole tensor to one number over 32,768+ entries
among the threads, so its last bits depended on the thread count; the bounds' sums (a 256-batch
is 65,536 scores) and one-column means did. They now go through ``miestim._reduction`` (fixed
blocks, then the block sums), and every one-call API is bit-identical for 1 and 2 threads.
Matrix products were thread-count invariant here (MKL, torch 2.13, x86_64).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import miestim
from miestim.gaussian import CorrelatedGaussianTask, GaussianChainTask

X, Y = CorrelatedGaussianTask(3, 1.0).sample(1000, seed=0)  # splits 600 / 200 / 200
XC, YC, ZC = GaussianChainTask(1).sample(400, seed=0)
# Large enough that the batch (256^2 scores) and the held-out splits (200^2) exceed torch's
# 32,768-entry threshold for multi-threaded reductions, small enough to be quick.
MI = dict(estimator="smile", max_steps=10, eval_every=5, batch_size=256, critic_kwargs={"hidden": (16,), "embed_dim": 8})
# The default estimator: the residual critics of all folds in one stacked module (batch 256).
AUTO = dict(max_steps=10, eval_every=5, batch_size=256)
CMI = dict(method="cmine", max_steps=10, eval_every=5, batch_size=64, hidden=(16,))
TINY_SMILE = dict(max_steps=4, eval_every=2, batch_size=64, critic_kwargs={"hidden": (8,), "embed_dim": 4})
TINY = dict(TINY_SMILE, estimator="smile")
# The chain rule fits MIs only, among them one of a joint variable I(t; a, C); CMI has its own test.
DECOMPOSE = dict(method="chain_rule", mi_estimator="smile", mi_kwargs=TINY_SMILE)


def run_mi(seed=0, progress=False):
    return miestim.estimate_mi(X, Y, seed=seed, progress=progress, **MI)


def run_auto(seed=0, progress=False):
    return miestim.estimate_mi(X, Y, seed=seed, progress=progress, **AUTO)


def run_cmi(seed=0, progress=False):
    return miestim.estimate_cmi(XC, YC, ZC, seed=seed, progress=progress, **CMI)


def run_decompose(seed=0, progress=False):
    return miestim.decompose({"t": XC, "a": YC}, ZC, seed=seed, progress=progress, **DECOMPOSE)


RUNS = {"estimate_mi": run_mi, "estimate_mi[auto]": run_auto, "estimate_cmi": run_cmi, "decompose": run_decompose}


def fingerprint(result):
    """Everything a result holds that a seed should fix: values, errors, traces and the weights."""
    if isinstance(result, miestim.Decomposition):
        record = result.to_dict()
        record.pop("seconds")
        return record, {k: fingerprint(r) for k, r in result.components.items()}
    weights = {k: v.clone() for k, v in result.estimator.state_dict().items()}
    extra = {k: v for k, v in result.extra.items() if k != "family_seconds"}  # timings, not results
    return (result.value, result.stderr, result.history, extra), weights


def assert_identical(a, b):
    (record_a, weights_a), (record_b, weights_b) = a, b
    assert record_a == record_b
    if isinstance(weights_a, dict) and weights_a and isinstance(next(iter(weights_a.values())), torch.Tensor):
        assert weights_a.keys() == weights_b.keys()
        for key in weights_a:
            assert torch.equal(weights_a[key], weights_b[key]), key
    else:  # decomposition: compare component by component
        assert weights_a.keys() == weights_b.keys()
        for key in weights_a:
            assert_identical(weights_a[key], weights_b[key])


@pytest.fixture()
def threads():
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.parametrize("api", list(RUNS))
def test_same_seed_same_bits(api):
    assert_identical(fingerprint(RUNS[api]()), fingerprint(RUNS[api]()))


@pytest.mark.parametrize("api", list(RUNS))
def test_progress_bar_does_not_change_the_result(api, capsys):
    assert_identical(fingerprint(RUNS[api](progress=True)), fingerprint(RUNS[api](progress=False)))
    capsys.readouterr()


@pytest.mark.parametrize("api", list(RUNS))
def test_one_or_two_threads_give_the_same_bits(api, threads):
    threads(1)
    one = fingerprint(RUNS[api]())
    threads(2)
    two = fingerprint(RUNS[api]())
    assert_identical(one, two)


def test_another_seed_gives_another_result():
    # Guards the tests above against comparing constants.
    assert miestim.estimate_mi(XC, YC, seed=0, progress=False, **TINY).value != miestim.estimate_mi(XC, YC, seed=1, progress=False, **TINY).value
    assert run_auto(seed=0).value != run_auto(seed=1).value
    assert run_cmi(seed=0).value != run_cmi(seed=1).value


def test_the_caller_global_rng_is_left_alone():
    torch.manual_seed(123)
    np.random.seed(123)
    expected = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    miestim.estimate_mi(XC, YC, seed=0, progress=False, **TINY)
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.rand(3), expected[1])
