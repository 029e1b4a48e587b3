"""The linear family: the Gaussian model of the data as given, which the chain rule needs where Z's marginals are not Gaussian."""

from __future__ import annotations

import pytest
import torch

import miestim
from miestim.crossfit import FAMILIES, GaussianFamily, LinearFamily, fold_splits
from miestim.crossfit.family import Fold
from miestim.entry.decomposition import _held_out
from miestim.scaling import RankGaussianizer, Standardizer, take_rows
from miestim.tasks import AdditiveConditionalTask


def test_its_view_z_scores_every_column_with_the_folds_training_rows():
    x = torch.randn(300, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([1000.0, 0.01]) + 5.0
    y = x[:, :1] ** 3
    rows = fold_splits(300, 2, 0.2, generator=torch.Generator().manual_seed(1))[0]
    prepared = Fold(x, y, rows, RankGaussianizer(x, rows=rows.train), RankGaussianizer(y, rows=rows.train), x[:0], y[:0])
    seen = LinearFamily().view(prepared)
    assert isinstance(seen.sx, Standardizer) and isinstance(seen.sy, Standardizer)
    train = x[rows.train]
    expected = (x[rows.validation] - train.mean(dim=0)) / train.std(dim=0)
    assert torch.allclose(seen.x_val, expected, atol=1e-4)
    assert torch.allclose(seen.y_val, take_rows(y, rows.validation, Standardizer(y, rows=rows.train)))


def test_its_in_sample_readout_is_the_gaussian_one_of_the_data_as_given_whatever_its_scale():
    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=2, mi=1.0).sample(2000, seed=0)
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    # A Gaussian fit is unchanged by an affine map of each side: float64 rows keep that at a scale of 1e4 and an offset of 1e3.
    moved = LinearFamily().in_sample_readout(x * 1e4 + 1e3, y * 1e-3 - 7.0)
    plain = GaussianFamily().in_sample_readout(x, y)
    assert moved is not None and plain is not None
    assert torch.allclose(moved.values, plain.values, atol=1e-8)


@pytest.mark.parametrize("z_law", ["student-t", "uniform"])
def test_the_chain_rule_reads_a_linear_relation_on_a_non_gaussian_z_that_normal_scores_bend(z_law):
    task = AdditiveConditionalTask(20, rho=0.8, z_law=z_law)
    x, y, z = task.sample(5000, 0)
    truth = task.conditional_mutual_information
    default = miestim.estimate_cmi(x, y, z, progress=False)
    copula = miestim.estimate_cmi(x, y, z, families=("gaussian",), progress=False)
    # Seed 0 (measured): the default reads within 2 stderrs; the Gaussian copula alone 3.3 (uniform) and 7.5 (Student-t) below.
    assert abs(default.value - truth) < 3 * default.stderr
    assert "linear" in default.extra["families"]["I(Y;X,Z)"]
    assert copula.value < truth - 3 * copula.stderr


def test_decompose_reads_every_named_gaussian_family_on_held_out_rows():
    families = _held_out(("linear", "residual", "Gaussian"))
    assert [type(f) for f in families] == [GaussianFamily, LinearFamily, str]
    assert all(not f.bias_corrected for f in families[:2])  # type: ignore[union-attr]
    own = LinearFamily()
    assert _held_out(("gaussian", own))[1] is own, "an instance is the user's choice, kept as given"
    assert FAMILIES["linear"] is LinearFamily
