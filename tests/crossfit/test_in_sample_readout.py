"""The Gaussian family's bias-corrected in-sample readout: its bias formula, when the race reads it out, and its honesty."""

import numpy as np
import pytest
import torch

import miestim
from miestim.crossfit import FoldReport, GaussianFamily, in_sample_readout, plug_in_bias
from miestim.gaussian import GaussianTask
from miestim.scaling import RankGaussianizer


def _plug_in_mi(z: np.ndarray, dx: int) -> float:
    cov = np.cov(z, rowvar=False)
    logdet = lambda c: np.linalg.slogdet(c)[1]  # noqa: E731
    return 0.5 * (logdet(cov[:dx, :dx]) + logdet(cov[dx:, dx:]) - logdet(cov))


def test_plug_in_bias_is_the_mean_plug_in_mi_of_independent_gaussians():
    n, dx, dy, reps = 40, 2, 3, 4000
    rng = np.random.default_rng(0)
    plug_ins = np.array([_plug_in_mi(rng.standard_normal((n, dx + dy)), dx) for _ in range(reps)])
    # The truth is 0, so the plug-in's mean is its bias; 4 Monte Carlo standard errors (about 0.004 nats).
    assert abs(plug_ins.mean() - plug_in_bias(n, dx, dy)) < 4 * plug_ins.std() / np.sqrt(reps)
    # Its large-n limit dx dy / (2 n), and symmetric in the sides.
    assert plug_in_bias(100_000, 4, 6) == pytest.approx(24 / 200_000, rel=1e-3)
    assert plug_in_bias(500, 3, 7) == pytest.approx(plug_in_bias(500, 7, 3), rel=1e-12)


def test_plug_in_bias_needs_more_rows_than_columns():
    with pytest.raises(ValueError, match="more rows than columns; got n=5 rows for 5 columns"):
        plug_in_bias(5, 2, 3)


def test_the_readout_is_the_plug_in_less_its_bias_and_off_when_asked():
    x, y = GaussianTask.correlated_pairs(3, 2, pairs=2, rho=0.6).sample(400, seed=1)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    readout = GaussianFamily().in_sample_readout(x, y)
    assert readout is not None and readout.values.dtype == torch.float64 and readout.values.shape == (400,)
    assert readout.correction == plug_in_bias(400, 3, 2)
    assert float(readout.values.mean()) == pytest.approx(
        _plug_in_mi(torch.cat([x, y], 1).numpy().astype(np.float64), 3) - readout.correction, abs=1e-5
    )
    assert GaussianFamily(bias_corrected=False).in_sample_readout(x, y) is None
    # Too few rows for a sample covariance of full rank: no readout, the held-out one stays.
    assert GaussianFamily().in_sample_readout(x[:5], y[:5]) is None
    with pytest.raises(TypeError, match="bias_corrected must be True or False"):
        GaussianFamily(bias_corrected="yes")  # type: ignore[arg-type]


def test_the_readout_keeps_float64_where_the_correlation_is_within_1e_7_of_1():
    # d = 1, MI = 10: float32 scores of this fit read 7.50 of its 8.00 nats.
    x, y = (torch.as_tensor(a).reshape(-1, 1) for a in miestim.gaussian.CorrelatedGaussianTask(1, 10.0).sample(1000, seed=0))
    readout = GaussianFamily().in_sample_readout(x, y)
    z = torch.cat([x, y], 1).numpy().astype(np.float64)
    assert float(readout.values.mean()) + readout.correction == pytest.approx(_plug_in_mi(z, 1), abs=1e-6)  # type: ignore[union-attr]


def _report(family: str) -> FoldReport:
    return FoldReport(family, {}, {}, 10, 2, 5)


def test_the_race_reads_it_out_only_when_every_fold_kept_a_family_that_has_one():
    x, y = (torch.as_tensor(a) for a in GaussianTask.correlated_pairs(2, 2, pairs=1, rho=0.5).sample(300, seed=0))
    families = (GaussianFamily(), miestim.crossfit.KNNFamily())
    kept = in_sample_readout(x, y, families=families, reports=[_report("gaussian")] * 3, scaler=RankGaussianizer)
    scaled = RankGaussianizer(x)(x), RankGaussianizer(y)(y)
    assert kept is not None and torch.equal(kept.values, GaussianFamily().in_sample_readout(*scaled).values)  # type: ignore[union-attr]
    assert in_sample_readout(x, y, families=families, reports=[_report("gaussian"), _report("knn")], scaler=RankGaussianizer) is None
    knn = in_sample_readout(x, y, families=families, reports=[_report("knn")] * 3, scaler=RankGaussianizer)
    assert knn is not None and knn.readout == "leave-one-out" and knn.correction == 0.0
    assert torch.equal(knn.values, miestim.critics.KSGCritic(*scaled, k=3).leave_one_out_scores())
    held_out = (GaussianFamily(), miestim.crossfit.KNNFamily(leave_one_out=False))
    assert in_sample_readout(x, y, families=held_out, reports=[_report("knn")] * 3, scaler=RankGaussianizer) is None


def test_the_corrected_readout_is_unbiased_where_the_held_out_one_is_not_and_its_stderr_is_honest():
    # 8 x 8 with two pairs at 0.8 (1.02 nats), n = 300: 64 cross-covariances, most of them zero.
    task = GaussianTask.correlated_pairs(8, 8, pairs=2, rho=0.8)
    results = [miestim.estimate_mi(*task.sample(300, seed=s), families=("gaussian",), progress=False) for s in range(30)]
    values = np.array([r.value for r in results])
    held_out = np.array([r.extra["held_out"][0] for r in results])
    sd = values.std(ddof=1)
    assert abs(values.mean() - task.mutual_information) < 3.5 * sd / np.sqrt(len(values))
    # A fold's fit on 175 training rows costs its held-out readout far more than the corrected one's noise.
    assert task.mutual_information - held_out.mean() > 5 * held_out.std(ddof=1) / np.sqrt(len(values))
    # The rows' standard error matches the spread over seeds (30 seeds: sd known to about 13%).
    assert 0.6 < np.mean([r.stderr for r in results]) / sd < 1.6
