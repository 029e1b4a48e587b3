"""Every estimator module is its bound: ``est(x, y)`` equals the functional bound on ``est.critic(x, y)``.

A contract run over :data:`miestim.ESTIMATORS`: each module's value and gradient are compared with the pure
function of :mod:`miestim.functional` that it names, on one fixed batch. A module that returns another bound
(NWJ reading out DV, SMILE forgetting its clip, TUBA dropping its baseline) fails here, where the Gaussian accuracy
tests, which only set a floor, would let it pass.
"""

from collections.abc import Callable

import pytest
import torch

import miestim
from miestim import ESTIMATORS, functional

Reference = Callable[[miestim.MIEstimator, torch.Tensor, torch.Tensor], torch.Tensor]

#: name -> the bound of miestim.functional the module must compute from its critic's scores (and its own options).
REFERENCES: dict[str, Reference] = {
    "dv": lambda est, scores, y: functional.dv_lower_bound(scores),
    "nwj": lambda est, scores, y: functional.nwj_lower_bound(scores),
    # In training mode MINE first moves its average towards the batch's partition function, then divides by it.
    "mine": lambda est, scores, y: functional.mine_lower_bound(
        scores, functional.update_log_ema(est.log_ema, _log_partition(scores), momentum=est.momentum)
    ),
    "infonce": lambda est, scores, y: functional.infonce_lower_bound(scores),
    "js": lambda est, scores, y: functional.js_lower_bound(scores, report=est.report),
    "smile": lambda est, scores, y: functional.smile_lower_bound(scores, clip=est.clip),
    "tuba": lambda est, scores, y: functional.tuba_lower_bound(scores, est.baseline(y)),
    "interpolated": lambda est, scores, y: functional.interpolated_lower_bound(scores, est.baseline(y), alpha=est.alpha),
}

#: Options away from the defaults where a default would hide a mix-up (SMILE's clip at 5 never bites on this batch).
OPTIONS = {"smile": {"clip": 0.3}, "interpolated": {"alpha": 0.3}, "js": {"report": "nwj"}}


def _log_partition(scores: torch.Tensor) -> torch.Tensor:
    """log (1/(n(n-1))) sum_{i != j} exp(S_ij), from the DV bound's definition."""
    return (scores.diagonal().mean() - functional.dv_lower_bound(scores)).detach()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, 3, generator=g)
    y = 0.8 * x[:, :2] + 0.6 * torch.randn(24, 2, generator=g)
    return x, y


def _module(name: str) -> miestim.MIEstimator:
    torch.manual_seed(1)
    est = ESTIMATORS[name](3, 2, **OPTIONS.get(name, {}))
    # Scale the critic up so its scores spread over several nats: the bounds then differ clearly from each other.
    with torch.no_grad():
        for p in est.critic.parameters():
            p.mul_(3.0)
    if isinstance(est, miestim.MINE):
        # Training mode with a history unlike this batch, so the moving average changes the gradient (not the value).
        est.log_ema.fill_(1.5)
        return est.train()
    return est.eval()


def test_every_registered_estimator_has_a_reference():
    assert set(REFERENCES) == set(ESTIMATORS)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_module_value_and_gradient_equal_its_functional_bound(name):
    est = _module(name)
    x, y = _batch()
    expected = REFERENCES[name](est, est.critic(x, y), y)  # first: MINE's forward moves its average
    expected_grads = torch.autograd.grad(expected, list(est.parameters()), allow_unused=True)
    value = est(x, y)
    grads = torch.autograd.grad(value, list(est.parameters()), allow_unused=True)
    torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-6)
    for got, want in zip(grads, expected_grads):
        assert (got is None) == (want is None)
        if got is not None:
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_the_references_tell_the_bounds_apart_on_this_batch():
    # Guard for the test above: on this batch every pair of distinct bounds differs by far more than its tolerance,
    # so a module computing another bound than its own cannot pass (MINE shares DV's value, not its gradient).
    x, y = _batch()
    values = {}
    for name in ESTIMATORS:
        est = _module(name)
        with torch.no_grad():
            values[name] = float(REFERENCES[name](est, est.critic(x, y), y))
    names = sorted(values)
    gaps = [abs(values[a] - values[b]) for i, a in enumerate(names) for b in names[i + 1 :] if {a, b} != {"dv", "mine"}]
    assert min(gaps) > 1e-3, values
