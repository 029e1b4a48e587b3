"""The cheap race: challengers first race on a subsample of each large fold, and only the winners are fitted on the full folds."""

import pytest
import torch

import miestim
from miestim.crossfit import race
from miestim.gaussian import CorrelatedGaussianTask
from miestim.tasks import AdditiveUniformTask
from miestim.training import Split


@pytest.fixture
def small_screen(monkeypatch):
    # Folds of a few thousand training rows stand in for large ones: the subsample is 1,000 of them.
    monkeypatch.setattr(race, "SCREEN_ROWS", 1000)


def test_a_subsample_keeps_the_ratio_of_a_folds_rows_and_their_order():
    rows = Split(torch.arange(100, 800), torch.arange(800, 900), torch.arange(100))
    sub = race._subsample(rows, 350)
    assert torch.equal(sub.train, torch.arange(100, 450)) and torch.equal(sub.validation, torch.arange(800, 850)) and sub.test.numel() == 0


def test_a_family_losing_every_subsample_is_not_fitted_on_the_full_folds(small_screen, monkeypatch):
    fitted_on = []
    fit_folds = miestim.crossfit.ResidualFamily.fit_folds

    def spy(self, folds, **kwargs):
        fitted_on.append([fold.rows.train.numel() for fold in folds])
        return fit_folds(self, folds, **kwargs)

    monkeypatch.setattr(miestim.crossfit.ResidualFamily, "fit_folds", spy)
    x, y = CorrelatedGaussianTask(2, 0.5).sample(6000, seed=0)
    res = miestim.estimate_mi(x, y, families=("gaussian", "residual"), max_steps=200, progress=False)
    # Trained once, on the 1,000-row subsamples only; every fold keeps the Gaussian critic.
    assert fitted_on == [[1000] * 3]
    assert res.extra["screened_out"] == ["residual"] and res.extra["families"] == ["gaussian"] * 3
    assert res.extra["validation"] == [{}] * 3  # the baseline raced alone on the full folds


def test_a_family_winning_a_subsample_races_on_the_full_folds(small_screen):
    x, y = AdditiveUniformTask(0.2).sample(6000, seed=0)
    res = miestim.estimate_mi(x, y, families=("gaussian", "residual"), max_steps=300, progress=False)
    assert res.extra["screened_out"] == [] and res.extra["families"] == ["residual"] * 3
    assert all(set(v) == {"gaussian", "residual"} for v in res.extra["validation"])


def test_small_folds_race_every_family_without_a_screen():
    x, y = CorrelatedGaussianTask(2, 0.5).sample(3000, seed=0)
    res = miestim.estimate_mi(x, y, families=("gaussian", "residual"), max_steps=200, progress=False)
    assert res.extra["screened_out"] == [] and all(set(v) == {"gaussian", "residual"} for v in res.extra["validation"])
