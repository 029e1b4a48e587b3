"""Critic families and cross-fitting: the Gaussian-copula critic, per-row readouts, folds, estimate_mi(estimator="auto")."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf

import miestim
from miestim.critics import GaussianCopulaCritic, JointResidualCritic, SeparableResidualCritic
from miestim.crossfit import choose, fold_splits
from miestim.heldout import summarize_rows


def _mi_of(cov: np.ndarray, k: int) -> float:
    return 0.5 * (np.linalg.slogdet(cov[:k, :k])[1] + np.linalg.slogdet(cov[k:, k:])[1] - np.linalg.slogdet(cov)[1])


def _tensors(*arrays: np.ndarray) -> list[torch.Tensor]:
    return [torch.as_tensor(np.asarray(a, dtype=np.float32).reshape(len(a), -1)) for a in arrays]


def test_ledoit_wolf_fit_matches_scikit_learn_in_blocks():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 7)) @ rng.standard_normal((7, 7))
    x, y = _tensors(z[:, :3], z[:, 3:])
    critic = GaussianCopulaCritic.fit(x, y, block_rows=37)
    reference, _ = ledoit_wolf(z)
    assert critic.mutual_information == pytest.approx(_mi_of(reference, 3), rel=1e-5)


def test_gaussian_critic_is_the_exact_log_density_ratio_of_its_model():
    task = miestim.gaussian.CorrelatedGaussianTask(dim=3, mi=1.5)
    x, y = task.sample(200_000, seed=1)
    xt, yt = _tensors(x, y)
    critic = GaussianCopulaCritic.fit(xt, yt)
    exact = torch.as_tensor(task.log_density_ratio(x[:50], y[:50]), dtype=torch.float32)
    # 200,000 samples fit the covariance to ~1e-3, which moves the pointwise ratio by a few hundredths.
    assert torch.allclose(critic.pair_scores(xt[:50], yt[:50]), exact, atol=0.05)
    assert torch.allclose(critic(xt[:5], yt[:5]).diagonal(), critic.pair_scores(xt[:5], yt[:5]), atol=1e-5)


def test_residual_critics_start_as_their_anchor():
    x, y = _tensors(*miestim.gaussian.CorrelatedGaussianTask(dim=2, mi=1.0).sample(300, seed=0))
    anchor = GaussianCopulaCritic.fit(x, y)
    for critic in (SeparableResidualCritic(anchor), JointResidualCritic(anchor)):
        assert torch.allclose(critic(x[:20], y[:20]), anchor(x[:20], y[:20]), atol=1e-5)
        assert torch.allclose(critic.pair_scores(x[:20], y[:20]), anchor.pair_scores(x[:20], y[:20]), atol=1e-5)


def test_summarize_rows_is_mean_and_standard_error():
    values = torch.tensor([1.0, 2.0, 3.0, 6.0], dtype=torch.float64)
    value, stderr = summarize_rows(values)
    assert value == pytest.approx(3.0)
    assert stderr == pytest.approx(float(values.std()) / 2)


def test_folds_score_every_row_exactly_once_and_never_train_on_it():
    splits = fold_splits(103, 5, 0.125, generator=torch.Generator().manual_seed(0))
    tests = torch.cat([s.test for s in splits])
    assert sorted(tests.tolist()) == list(range(103))
    for s in splits:
        parts = [set(s.train.tolist()), set(s.validation.tolist()), set(s.test.tolist())]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
        assert sum(len(p) for p in parts) == 103


def test_auto_keeps_the_gaussian_critic_on_gaussian_data():
    task = miestim.gaussian.CorrelatedGaussianTask(dim=3, mi=1.0)
    x, y = task.sample(3000, seed=0)
    res = miestim.estimate_mi(x, y, estimator="auto", max_steps=200, families=("gaussian", "residual"), progress=False)
    assert res.method == "auto" and res.extra["folds"] == 3 and len(res.extra["families"]) == 3
    assert res.extra["family"] == "gaussian"
    assert all(set(v) == {"gaussian", "residual"} for v in res.extra["validation"])
    assert res.row_values.shape == (3000,) and float(res.row_values.mean()) == pytest.approx(res.value)
    # Every fold kept the closed form, so the readout is its bias-corrected fit to all 3,000 rows.
    assert res.extra["readout"] == "in-sample, bias-corrected" and "bias-corrected" in res.evaluated_on
    assert res.extra["bias_correction"] == pytest.approx(miestim.crossfit.plug_in_bias(3000, 3, 3))
    assert abs(res.value - task.mutual_information) < 4 * res.stderr + 0.03
    # The held-out readout is kept beside it: every row held out once, with the noise of 3,000 rows.
    held_out, held_out_se = res.extra["held_out"]
    assert abs(held_out - task.mutual_information) < 4 * held_out_se + 0.03 and held_out != res.value


def test_auto_leaves_the_gaussian_critic_where_its_copula_is_wrong():
    # y = x^2 + 0.3 noise: zero correlation, so the Gaussian critic reads ~0, while the MI is
    # h(Y) - h(noise) = 1.141 nats (h(Y) by quadrature of the density of Y on a fine grid).
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3000)
    y = x**2 + 0.3 * rng.standard_normal(3000)
    # Two folds, so that it runs in seconds.
    res = miestim.estimate_mi(x, y, estimator="auto", folds=2, progress=False)
    assert "gaussian" not in res.extra["families"]
    assert all(v["gaussian"] < max(v.values()) for v in res.extra["validation"])
    # 1.112 +- 0.022 at seed 0 (the k-NN critic of each fold; the residual one read 1.035, about 0.1 short):
    # a reading 0.15 short, or above the truth by 4 standard errors, fails.
    assert 1.141 - 0.15 < res.value < 1.141 + 4 * res.stderr


def test_auto_is_deterministic_for_a_seed():
    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=2, mi=1.0).sample(1000, seed=0)
    options = {"seed": 3, "estimator": "auto", "folds": 2, "max_steps": 100, "families": ("gaussian", "residual"), "progress": False}
    a, b = miestim.estimate_mi(x, y, **options), miestim.estimate_mi(x, y, **options)
    assert a.value == b.value and a.extra["families"] == b.extra["families"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"folds": 1, "estimator": "auto"}, ValueError, "folds must be >= 2"),
        ({"folds": 3, "estimator": "smile"}, ValueError, "cross-fits estimator='auto' only"),
        ({"estimator": "auto", "families": ("gaussian", "kernel")}, ValueError, "families"),
        ({"estimator": "auto", "families": "residual"}, TypeError, "families must be a sequence"),
        ({"estimator": "auto", "critic": "concat"}, ValueError, "critic is an option of a named estimator.*chooses its own critics"),
        (
            {"estimator": "smile", "families": ("gaussian",)},
            ValueError,
            "families is an option of estimator='auto', which estimator='smile' does not use",
        ),
        ({"estimator": "auto", "folds": 0}, ValueError, "folds"),
    ],
)
def test_auto_refuses_bad_options(kwargs, error, match):
    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=1, mi=0.5).sample(200, seed=0)
    with pytest.raises(error, match=match):
        miestim.estimate_mi(x, y, progress=False, **kwargs)


def test_covariance_candidates_include_the_sample_covariance_and_thresholded_cross_blocks():
    x, y = _tensors(*miestim.gaussian.CorrelatedGaussianTask(dim=3, mi=0.3).sample(2000, seed=0))
    candidates = GaussianCopulaCritic.candidates(x, y)
    assert {"ledoit-wolf", "sample", "threshold-1", "threshold-2", "threshold-3"} <= set(candidates)
    z = torch.cat([x, y], dim=1).double().numpy()
    assert candidates["sample"].mutual_information == pytest.approx(_mi_of(np.cov(z.T, bias=True), 3), rel=1e-5)
    # Thresholding only shrinks cross-correlations towards 0, so the model's MI can only fall.
    mis = [candidates[f"threshold-{c}"].mutual_information for c in (1, 2, 3)]
    assert candidates["sample"].mutual_information > mis[0] > mis[1] > mis[2] >= 0


def test_auto_gathers_large_training_folds_batch_by_batch_with_the_same_result(monkeypatch):
    # Folds above MATERIALISED_ELEMENTS are scaled batch by batch instead of once: the same numbers either way.
    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=2, mi=1.0).sample(1000, seed=0)
    options = {"estimator": "auto", "folds": 2, "max_steps": 60, "eval_every": 20, "progress": False}
    kept = miestim.estimate_mi(x, y, **options)
    monkeypatch.setattr(miestim.crossfit.residual, "MATERIALISED_ELEMENTS", 0)
    gathered = miestim.estimate_mi(x, y, **options)
    assert gathered.value == pytest.approx(kept.value, abs=1e-6)
    assert all(a.keys() == b.keys() for a, b in zip(gathered.extra["validation"], kept.extra["validation"]))
    assert [v["residual"] for v in gathered.extra["validation"]] == pytest.approx([v["residual"] for v in kept.extra["validation"]], abs=1e-6)


def test_choose_keeps_the_best_family_only_when_it_beats_every_simpler_one_significantly():
    from miestim.crossfit import choose

    gen = torch.Generator().manual_seed(0)
    noise = torch.randn(400, generator=gen, dtype=torch.float64)
    # Names in reverse alphabetical order of merit, so a choice by name rather than by score is caught.
    rows = {"b-simple": noise, "a-better": noise + 0.5}
    assert choose(rows) == "a-better"
    assert choose({"b-simple": noise, "a-close": noise + 1e-3 * torch.randn(400, generator=gen, dtype=torch.float64)}) == "b-simple"
    # The margin is in paired standard errors of the gain: a gain of 1.5 se is kept at margin 1 and not at margin 2.
    gain = torch.randn(400, generator=gen, dtype=torch.float64)
    gain = gain - gain.mean() + 1.5 * gain.std() / 20
    assert choose({"simple": noise, "rich": noise + gain}, margin=1.0) == "rich"
    assert choose({"simple": noise, "rich": noise + gain}, margin=2.0) == "simple"


def test_choose_does_not_keep_a_family_below_a_simpler_beaten_one_however_wide_its_stderr():
    from miestim.crossfit import choose

    gen = torch.Generator().manual_seed(1)
    noise = torch.randn(400, generator=gen, dtype=torch.float64)
    # A critic that scores a few rows thousands of nats off: its paired gap to the best is not "significant".
    wild = noise - 0.2
    wild[:3] = -2000.0
    rows = {"simple": noise - 0.5, "wild": wild, "best": noise}
    assert float(rows["wild"].mean()) < float(rows["simple"].mean())
    assert choose(rows) == "best"
    # Reading above the beaten simpler family, the same rows are kept: the rule is about order, not spread.
    assert choose({"simple": noise - 25.0, "wild": wild, "best": noise}) == "wild"


def test_a_trained_familys_readout_above_log_n_is_not_credible():
    from miestim.crossfit.race import _credible

    trained, closed_form = miestim.crossfit.ResidualFamily(), miestim.crossfit.GaussianFamily()
    n = 1000
    assert _credible(trained, np.log(n), n) and not _credible(trained, np.log(n) + 1e-9, n)
    assert _credible(closed_form, np.log(n) + 5, n), "a model's readout is not capped by log n"


def test_losing_needs_the_baseline_rows():
    from miestim.crossfit import Fold
    from miestim.crossfit.race import _losing

    fold = Fold.from_tensors(torch.randn(5, 1), torch.randn(5, 1), torch.randn(3, 1), torch.randn(3, 1))
    with pytest.raises(AssertionError, match="a fold with challengers is prepared with its baseline's rows"):
        _losing(fold, torch.zeros(3), 2)


def test_knn_family_defaults_and_its_final_critic_keep_k():
    family = miestim.crossfit.KNNFamily()
    assert repr(family) == "KNNFamily(k=3, max_dim=4, block=64, leave_one_out=True)" and family.validation_block(4096) == 64
    assert repr(family.held_out_readout()) == "KNNFamily(k=3, max_dim=4, block=64, leave_one_out=False)"
    x, y = torch.randn(40, 1), torch.randn(40, 1)
    rows = next(iter(fold_splits(40, 2, 0.25, generator=torch.Generator().manual_seed(0))))
    fold = miestim.crossfit.Fold(x, y, rows, None, None, x[rows.validation], y[rows.validation])
    five = miestim.crossfit.KNNFamily(k=5)
    assert five.finalize(five.fit(*fold.training_rows(), fold.x_val, fold.y_val), fold).k == 5


class _RecordingGaussian(miestim.crossfit.GaussianFamily):
    """The Gaussian baseline, recording the generator the race hands its fit."""

    def fit(self, x_train, y_train, x_val, y_val, *, generator=None):
        self.generators = [*getattr(self, "generators", []), generator]
        return super().fit(x_train, y_train, x_val, y_val, generator=generator)


class _RecordingResidual(miestim.crossfit.ResidualFamily):
    """The residual family, recording the settings the race hands it."""

    def fit_folds(self, folds, *, generator, settings):
        self.settings = settings
        return super().fit_folds(folds, generator=generator, settings=settings)


def test_crossfit_rows_hands_families_the_callers_settings_and_reports_each_fold():
    """y = x^2 + noise, already standardised (no scaler): the residual family beats the Gaussian one on every fold."""
    from miestim.crossfit import crossfit_rows
    from miestim.defaults import Training
    from miestim.heldout import joint_scores

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(900, 1, generator=gen)
    y = x**2 + 0.3 * torch.randn(900, 1, generator=gen)
    y = (y - y.mean()) / y.std()
    splits = fold_splits(900, 3, 0.2, generator=torch.Generator().manual_seed(1))
    training = Training(batch_size=64, lr=5e-3, max_steps=200, patience=3, eval_every=50, eval_batch_size=512)
    baseline, residual = _RecordingGaussian(), _RecordingResidual(hidden=32, embed_dim=8)
    values, reports, critics = crossfit_rows(
        x, y, splits=splits, families=(baseline, residual), scaler=None, training=training, generator=gen, progress=False, label="mine[x"
    )
    assert all(isinstance(g, torch.Generator) for g in baseline.generators) and len(baseline.generators) == 3
    settings = residual.settings
    assert settings.training == training and settings.progress is False and settings.label == "mine[x" and settings.screen is not None
    for report, rows, critic in zip(reports, splits, critics):
        assert report.family == "residual" and len(report.history.steps) > 0 and max(report.history.steps) <= 200
        assert (report.n_train, report.n_validation, report.n_test) == (rows.train.numel(), rows.validation.numel(), rows.test.numel())
        assert set(report.seconds) == {"gaussian", "residual"} and all(s > 0 for s in report.seconds.values())
        readout = float(joint_scores(critic, x[rows.validation], y[rows.validation]).mean())
        assert report.readout["residual"] == pytest.approx(readout, abs=1e-5)
        assert torch.equal(values[rows.test], joint_scores(critic, x[rows.test], y[rows.test]))


def test_the_screen_drops_a_trained_family_that_an_untrained_one_beats_or_that_does_not_beat_the_baseline():
    from miestim.crossfit.race import SCREEN_EVALUATIONS, _losing

    gen = torch.Generator().manual_seed(0)
    baseline = torch.randn(400, generator=gen, dtype=torch.float64) * 0.1 - 1.0
    better = baseline + 0.2  # beats the baseline by far more than 2 paired standard errors
    fold = miestim.crossfit.Fold(torch.zeros(1, 1), torch.zeros(1, 1), None, None, None, torch.zeros(1, 1), torch.zeros(1, 1), None, baseline)  # type: ignore[arg-type]
    level_with_baseline = baseline + 0.01 * torch.randn(400, generator=gen, dtype=torch.float64)
    assert not _losing(fold, better, SCREEN_EVALUATIONS) and _losing(fold, level_with_baseline, SCREEN_EVALUATIONS)
    assert not _losing(fold, baseline, SCREEN_EVALUATIONS - 1), "only at the screening round"
    # An untrained family far ahead (the elliptical law on heavy tails): the trained one could not be kept.
    ahead = replace(fold, reference_rows=baseline + 0.5)
    assert _losing(ahead, better, SCREEN_EVALUATIONS)
    # One only level with it (a spiral's residual critic at 200 steps, still learning) trains on.
    level = replace(fold, reference_rows=better + 0.001 * torch.randn(400, generator=gen, dtype=torch.float64))
    assert not _losing(level, better, SCREEN_EVALUATIONS)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k must be"),
        ({"max_dim": 0}, "max_dim must be"),
        ({"block": 1.5}, "block must be"),
        ({"leave_one_out": 1}, "leave_one_out must be"),
    ],
)
def test_knn_family_refuses_bad_options_naming_them(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        miestim.crossfit.KNNFamily(**kwargs)


def test_a_trained_family_reading_below_an_untrained_one_is_not_kept():
    from miestim.crossfit.race import _reading_check

    by_name = {"gaussian": miestim.crossfit.GaussianFamily(), "knn": miestim.crossfit.KNNFamily(), "residual": miestim.crossfit.ResidualFamily()}
    noise = torch.randn(500, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # Paired rows: the residual critic's JS objective beats both others by far more than two standard errors.
    js = {"gaussian": -1.30 + noise, "knn": -1.28 + noise, "residual": -1.24 + noise}
    assert choose(js) == "residual"
    # ... but it reads below the k-NN critic (additive uniform noise of half-width 0.75): the k-NN critic is kept.
    assert _reading_check("residual", js, {"gaussian": 0.15, "knn": 0.29, "residual": 0.23}, by_name) == "knn"
    # Of the untrained families reading above it, the race's own rule picks: here the JS objective favours knn.
    assert _reading_check("residual", js, {"gaussian": 0.30, "knn": 0.29, "residual": 0.23}, by_name) == "knn"
    assert _reading_check("residual", js, {"gaussian": 0.30, "knn": 0.20, "residual": 0.23}, by_name) == "gaussian"
    # Reading at least as high as every untrained family, or being untrained itself, keeps the choice.
    assert _reading_check("residual", js, {"gaussian": 0.15, "knn": 0.23, "residual": 0.23}, by_name) == "residual"
    assert _reading_check("gaussian", js, {"gaussian": 0.15, "knn": 0.29, "residual": 0.40}, by_name) == "gaussian"
