"""The race's own signal beyond sampling noise: how far a kept trained family read above every untrained one."""

import pytest

import miestim
from miestim.crossfit import FoldReport, resolve_families, trained_gain
from miestim.gaussian import GaussianTask
from miestim.tasks import SpiralTask

FAMILIES = resolve_families(["elliptical", "knn", "residual"], x_dim=1, y_dim=1)


def _report(kept: str, **readout: float) -> FoldReport:
    return FoldReport(kept, {}, {}, 100, 20, 50, readout=readout)


def test_the_gain_is_over_the_best_untrained_family_and_zero_where_none_trained_was_kept():
    reports = [
        _report("residual", gaussian=0.2, elliptical=0.5, knn=0.4, residual=0.9),  # 0.4 over the elliptical law
        _report("knn", gaussian=0.2, knn=0.6, residual=0.7),  # an untrained family kept: nothing rests on training
        _report("residual", gaussian=0.1, residual=0.3),  # 0.2 over the Gaussian critic
    ]
    assert trained_gain(reports, FAMILIES) == pytest.approx((0.4 + 0.0 + 0.2) / 3)
    assert trained_gain([_report("gaussian", gaussian=1.0)], FAMILIES) == 0.0


def test_estimate_mi_flags_an_estimate_that_rests_on_a_trained_critic():
    spiral = SpiralTask(GaussianTask.correlated_pairs(3, 3, pairs=2, rho=0.8))
    res = miestim.estimate_mi(*spiral.sample(3000, seed=0), progress=False)
    assert res.extra["families"] == ["residual"] * 3
    # The residual critic reads far above the closed forms on a spiral: far more than the estimate's noise.
    assert res.extra["trained_gain"] > 10 * res.stderr and res.extra["rests_on_training"] is True
    gaussian = GaussianTask.correlated_pairs(3, 3, pairs=2, rho=0.8)
    res = miestim.estimate_mi(*gaussian.sample(3000, seed=0), progress=False)
    assert res.extra["trained_gain"] == 0.0 and res.extra["rests_on_training"] is False
