"""The critic-family contract: every registered family (and a user-defined one) through the same checks, and the race's use of it."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

import miestim
from miestim.crossfit import FAMILIES, CriticFamily, Fold, RaceSettings, fold_splits, resolve_families
from miestim.defaults import Training
from miestim.heldout import js_rows
from miestim.scaling import RankGaussianizer, take_rows

#: Short training, so that every family (the joint one included) fits in seconds.
QUICK = RaceSettings(training=Training(batch_size=64, lr=5e-3, max_steps=40, patience=2, eval_every=20, eval_batch_size=256))
TRUE_MI = 0.5


def _docs_family() -> type[CriticFamily]:
    """The user-defined family of docs/estimators.md, run from the page's own code block (its last lines, the estimate, left out)."""
    page = (Path(__file__).parents[2] / "docs" / "estimators.md").read_text()
    section = page[page.index("### Your own critic family") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace: dict = {}
    exec(code[: code.index("x, y = ")], namespace)  # noqa: S102 -- the docs' own code, as tests/docs runs it
    return namespace["PairedGaussianFamily"]


def _families() -> list[CriticFamily]:
    return [cls() for cls in FAMILIES.values()] + [_docs_family()()]


def _folds(n: int = 600, folds: int = 2) -> list[Fold]:
    """Folds of a 1 x 1 Gaussian task (MI 0.5), scaled to normal scores, each with its Gaussian baseline."""
    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=1, mi=TRUE_MI).sample(n, seed=3)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    out = []
    for rows in fold_splits(n, folds, 0.2, generator=torch.Generator().manual_seed(0)):
        sx, sy = RankGaussianizer(x, rows=rows.train), RankGaussianizer(y, rows=rows.train)
        fold = Fold(x, y, rows, sx, sy, take_rows(x, rows.validation, sx), take_rows(y, rows.validation, sy))
        baseline = FAMILIES["gaussian"]().fit(*fold.training_rows(), fold.x_val, fold.y_val, generator=torch.Generator())
        out.append(Fold(x, y, rows, sx, sy, fold.x_val, fold.y_val, baseline))
    return out


@pytest.fixture(scope="module")
def folds() -> list[Fold]:
    return _folds()


def test_registered_names_are_the_families_own_and_unique():
    assert [cls().name for cls in FAMILIES.values()] == list(FAMILIES)
    assert all(isinstance(cls().trained, bool) and isinstance(cls().lockstep, bool) for cls in FAMILIES.values())


@pytest.mark.parametrize("family", _families(), ids=lambda f: f.name)
def test_family_contract(family: CriticFamily, folds: list[Fold]):
    assert isinstance(family.name, str) and family.name
    assert isinstance(family.applies(1, 1), bool)
    assert 2 <= family.validation_block(256) <= 256
    torch.manual_seed(7)
    before = torch.get_rng_state()
    assert isinstance(family.scaled, bool)
    # The race hands each family the folds as it sees them: scaled, or the data as given.
    views = [family.view(fold) for fold in folds]
    assert all((view is fold) == family.scaled for view, fold in zip(views, folds))
    fitted = family.fit_folds(views, generator=torch.Generator().manual_seed(1), settings=QUICK)
    assert torch.equal(torch.get_rng_state(), before), "a family must draw from the generator it is given only"
    again = family.fit_folds(views, generator=torch.Generator().manual_seed(1), settings=QUICK)
    assert len(fitted) == len(folds)
    for fold, one, two in zip(views, fitted, again):
        assert isinstance(one.critic, miestim.Critic)
        assert one.seconds >= 0 and (len(one.history.steps) > 0) == family.trained
        x_test, y_test = fold.scaled(fold.rows.test)
        critic = family.finalize(one.critic, fold)
        with torch.no_grad():
            scores, pairs = critic(x_test[:50], y_test[:50]), critic.pair_scores(x_test, y_test)
            assert torch.equal(pairs, family.finalize(two.critic, fold).pair_scores(x_test, y_test)), "a seed fixes the fit"
        assert scores.shape == (50, 50) and bool(torch.isfinite(scores).all())
        assert torch.allclose(scores.diagonal(), pairs[:50], atol=1e-4), "pair_scores are the score matrix's diagonal"
        if family.trained:
            # Early stopping hands back the critic of the best validation score (a 40-step critic is no MI estimate yet).
            block = family.validation_block(QUICK.training.eval_batch_size)
            assert float(js_rows(one.critic, fold.x_val, fold.y_val, block_size=block).mean()) == pytest.approx(max(one.history.validation), abs=1e-6)
        else:
            # A log density ratio: its mean over ~200 held-out joint pairs reads the MI. The true
            # ratio's sd here is about 1 nat (se 0.07); 0.3 nats also covers KSG's bias at k = 3.
            assert abs(float(pairs.double().mean()) - TRUE_MI) < 0.3, family.name


def test_fit_alone_gives_a_critic_without_a_race(folds: list[Fold]):
    fold = folds[0]
    for family in (FAMILIES["gaussian"](), FAMILIES["elliptical"](), FAMILIES["knn"](k=5), _docs_family()()):
        critic = family.fit(*fold.training_rows(), fold.x_val, fold.y_val, generator=torch.Generator().manual_seed(0))
        assert isinstance(critic, miestim.Critic)


def test_constructor_arguments_are_the_families_settings():
    knn = FAMILIES["knn"](k=5, max_dim=2)
    assert knn.applies(1, 1) and not knn.applies(2, 1) and FAMILIES["knn"](max_dim=None).applies(50, 50)
    assert "k=5" in repr(knn)
    residual = FAMILIES["residual"](hidden=16, embed_dim=4)
    stacked = miestim.crossfit.StackedResidualCritics([f.baseline for f in _folds(300, 2)], hidden=16, embed_dim=4)
    assert residual.lockstep and stacked.params["x_w1"].shape == (2, 1, 16)


def test_resolve_families_takes_names_and_instances_with_the_gaussian_baseline_first():
    user = _docs_family()()
    raced = resolve_families(["residual", user], x_dim=1, y_dim=1)
    assert [f.name for f in raced] == ["gaussian", "residual", "paired-gaussian"] and raced[2] is user
    assert [f.name for f in resolve_families(None, x_dim=1, y_dim=1)] == ["gaussian", "knn", "elliptical", "residual"]
    assert [f.name for f in resolve_families(None, x_dim=3, y_dim=3)] == ["gaussian", "ica", "elliptical", "residual"]
    assert [f.name for f in resolve_families(["gaussian", "residual"], x_dim=1, y_dim=1)] == ["gaussian", "residual"]
    with pytest.raises(TypeError, match=r"families must hold names .* or CriticFamily instances; got 3 \(int\)"):
        resolve_families([3], x_dim=1, y_dim=1)
    with pytest.raises(TypeError, match="families"):
        resolve_families(user, x_dim=1, y_dim=1)
    with pytest.raises(ValueError, match="families.*'knn'"):
        resolve_families(["knm"], x_dim=1, y_dim=1)
    with pytest.raises(ValueError, match="two families named 'paired-gaussian'"):
        resolve_families([user, _docs_family()()], x_dim=1, y_dim=1)


def test_a_user_family_races_in_estimate_mi_and_can_be_kept():
    family_cls = _docs_family()

    class Exact(family_cls):  # the docs' family, tried before the Gaussian one: the simplest that is not beaten
        name = "exact-pairs"

    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=1, mi=TRUE_MI).sample(1200, seed=0)
    res = miestim.estimate_mi(x, y, families=["gaussian", Exact(), "knn"], seed=0, progress=False)
    assert all(list(v) == ["gaussian", "exact-pairs", "knn"] for v in res.extra["validation"])
    assert abs(res.value - TRUE_MI) < 4 * res.stderr + 0.05
    assert not math.isnan(res.stderr)


@pytest.mark.parametrize("trained", [False, True])
def test_the_race_fits_a_familys_view_of_each_fold_once(trained: bool):
    """A view may fit scalers of its own (the ica family's unmixing): the race keeps the fold it fitted on, not a second fit."""
    family_cls = _docs_family()
    views: list[Fold] = []

    class Viewed(family_cls):
        name = "viewed"

        def view(self, fold: Fold) -> Fold:
            views.append(fold.rescaled(RankGaussianizer))
            return views[-1]

    Viewed.trained = trained
    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=1, mi=TRUE_MI).sample(900, seed=1)
    res = miestim.estimate_mi(x, y, families=["gaussian", Viewed()], seed=0, progress=False)
    assert len(views) == 3, "one view per fold"
    assert all("viewed" in scores for scores in res.extra["validation"])


def test_fold_from_tensors_is_training_rows_then_validation_rows_without_test_rows():
    x_train, y_train = torch.randn(7, 2), torch.randn(7, 1)
    x_val, y_val = torch.randn(3, 2), torch.randn(3, 1)
    baseline = FAMILIES["gaussian"]().fit(x_train, y_train, x_val, y_val)
    fold = Fold.from_tensors(x_train, y_train, x_val, y_val, baseline=baseline)
    assert torch.equal(fold.rows.train, torch.arange(7)) and torch.equal(fold.rows.validation, torch.arange(7, 10))
    assert fold.rows.test.numel() == 0 and fold.sx is None and fold.sy is None and fold.baseline is baseline
    assert all(torch.equal(a, b) for a, b in zip(fold.training_rows(), (x_train, y_train)))
    assert all(torch.equal(a, b) for a, b in zip(fold.scaled(fold.rows.validation), (x_val, y_val)))
    assert torch.equal(fold.x_val, x_val) and torch.equal(fold.y_val, y_val)


@pytest.mark.parametrize("name", [name for name, cls in FAMILIES.items() if cls.trained])
def test_a_trained_familys_fit_alone_learns_what_the_gaussian_critic_cannot(name: str):
    """y = x^2 + noise: no rank correlation, so the Gaussian-copula critic reads about 0; a trained one reads MI on held-out rows."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1600, 1, generator=gen)
    y = x**2 + 0.3 * torch.randn(1600, 1, generator=gen)
    x, y = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    (x_train, x_val, x_test), (y_train, y_val, y_test) = x.split([1000, 300, 300]), y.split([1000, 300, 300])
    critic = FAMILIES[name]().fit(x_train, y_train, x_val, y_val, generator=torch.Generator().manual_seed(1))
    gaussian = FAMILIES["gaussian"]().fit(x_train, y_train, x_val, y_val)
    with torch.no_grad():
        trained, closed_form = critic.pair_scores(x_test, y_test).double(), gaussian.pair_scores(x_test, y_test).double()
    gain = trained - closed_form
    # Trained critics gain 1.17-1.19 nats over the Gaussian one's readout of 0.002 here (seed 0); the gain's se is 0.06-0.15.
    assert float(closed_form.mean()) < 0.15
    assert float(gain.mean()) > 0.4 and float(gain.mean()) > 5 * float(gain.std() / math.sqrt(gain.numel())), name
    again = FAMILIES[name]().fit(x_train, y_train, x_val, y_val, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(again.pair_scores(x_test, y_test).double(), trained), "the generator given fixes the fit"


def test_fold_splits_allow_two_training_and_four_test_rows_and_no_fewer():
    splits = fold_splits(8, 2, 0.25, generator=torch.Generator().manual_seed(0))
    assert [(s.train.numel(), s.validation.numel(), s.test.numel()) for s in splits] == [(2, 2, 4), (2, 2, 4)]
    with pytest.raises(ValueError, match="9 samples are too few for 3 folds: a fold has 3 test and 4 training rows"):
        fold_splits(9, 3, 0.25, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="a fold has 4 test and 1 training rows"):
        fold_splits(8, 2, 0.7, generator=torch.Generator().manual_seed(0))


class _CountingFold(Fold):
    def training_rows(self):
        object.__setattr__(self, "materialised", getattr(self, "materialised", 0) + 1)
        return super().training_rows()


def test_batch_source_materialises_training_rows_up_to_the_limit_only():
    x, y = torch.randn(20, 2), torch.randn(20, 3)
    rows = fold_splits(20, 2, 0.2, generator=torch.Generator().manual_seed(0))[0]  # 8 training rows x 5 columns = 40 values
    for limit, materialised in ((40, 1), (39, 0)):
        fold = _CountingFold(x, y, rows, None, None, x[rows.validation], y[rows.validation])
        batch = fold.batch_source(limit)(torch.tensor([0, 3]))
        assert getattr(fold, "materialised", 0) == materialised
        assert torch.equal(batch[0], x[rows.train[[0, 3]]]) and torch.equal(batch[1], y[rows.train[[0, 3]]])
