"""``estimate_mi``: input checks, then the cross-fitted race (``estimator="auto"``) or a named estimator on one split."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from .._validation import (
    as_sample_matrix,
    check_choice,
    check_consistent_length,
    check_constant_columns,
    check_kwargs,
    check_positive_float,
    check_positive_int,
    make_generator,
    refuse_unused,
    resolve_device,
)
from ..critics import Critic
from ..crossfit import CriticFamily, crossfit_rows, fold_splits, in_sample_readout, resolve_families, trained_gain
from ..defaults import CROSSFIT_FOLDS, CROSSFIT_TRAINING, NAMED_TRAINING, SPLIT, TRAINED_GAIN_STDERRS, Training
from ..distributed import check_same_on_every_rank
from ..estimators import ESTIMATORS, MIEstimator
from ..heldout import summarize_rows
from ..result import EstimateResult
from ..scaling import resolve_scaler
from ..single_split import fit_named
from ._common import crossfit_result, resolve_distributed, resolve_seed, resolve_steps, validation_share

__all__ = ["estimate_mi"]


def _resolve_folds(folds: int | None, estimator: str | MIEstimator) -> int:
    auto = isinstance(estimator, str) and estimator == "auto"
    if folds is None:
        return CROSSFIT_FOLDS if auto else 1
    folds = check_positive_int(folds, name="folds")
    if folds > 1 and not auto:
        raise ValueError(f"folds={folds} cross-fits estimator='auto' only; a named estimator uses one train/validation/test split (folds=None or 1).")
    if auto and folds < 2:
        raise ValueError(f"estimator='auto' cross-fits, so folds must be >= 2; got {folds}.")
    return folds


def estimate_mi(
    x: Any,
    y: Any,
    *,
    estimator: str | MIEstimator = "auto",
    critic: str | Critic | None = None,
    critic_kwargs: dict[str, Any] | None = None,
    estimator_kwargs: dict[str, Any] | None = None,
    batch_size: int | None = None,
    max_steps: int | None = None,
    max_epochs: int | None = None,
    lr: float | None = None,
    split: tuple[float, float, float] = SPLIT,
    standardize: bool | str = "rank",
    eval_every: int = 100,
    patience: int | None = None,
    eval_batch_size: int = 4096,
    device: torch.device | str | None = None,
    seed: int | None = 0,
    progress: bool | None = None,
    distributed: bool | None = None,
    folds: int | None = None,
    families: Sequence[str | CriticFamily] | None = None,
) -> EstimateResult:
    r"""Estimate the mutual information :math:`I(X;Y)` in nats, on rows the critic never trained or stopped on.

    .. math::

        I(X;Y) = \mathbb{E}_{p(x,y)}\Big[\log \frac{p(x,y)}{p(x)\,p(y)}\Big]

    Default procedure (``estimator="auto"``): the rows are cut into ``folds`` test folds. For
    each fold the other rows are split into training and validation rows, each column is
    mapped to normal scores with the training rows' empirical CDF (see ``standardize``), and
    a race of critic families is run on them (see ``estimator``). The family the validation
    rows choose scores the fold's test rows; every row is held out exactly once, ``value`` is
    the mean of all ``n`` per-row scores and ``stderr`` their standard error.

    Named estimators (``estimator="smile"`` ...) use one random train / validation / test
    split instead: the estimator's critic is trained with Adam on mini-batches of the
    training split, and its weights are averaged over steps (Polyak, decay 0.99). Every
    ``eval_every`` steps the averaged critic is scored on the validation split
    (:meth:`~miestim.MIEstimator.validation_score`: the bound itself, or the classification
    objective for JS-trained critics); training stops when that score has not improved for
    ``patience`` evaluations or after ``max_steps``, and the critic of the best validation
    score is kept. It is then evaluated on the test split, which it never trained on and
    which played no part in stopping: all pairs of the test split (in batches of at most
    ``eval_batch_size``) are scored, ``value`` is the estimator's readout on them and
    ``stderr`` its delete-a-group jackknife standard error.

    Accepted inputs: numpy arrays — memory-mapped ones (``np.load(path, mmap_mode="r")``)
    included —, torch tensors (detached; ``requires_grad`` is ignored), pandas objects and
    nested lists. Integer dtypes are read as real values; float16 / bfloat16 are upcast; all
    computation is in float32. A C-contiguous float32 input is used in place. The named
    estimators fit their scaler on the training rows block by block, gather training batches
    from the input step by step and materialise only the validation and test splits; the
    default ``"auto"`` materialises each fold's scaled training rows (its Gaussian critic is fitted
    on them whole), so its peak memory grows with ``n``: measure yours with
    ``python -m benchmarks large-data``.

    Args:
        x: ``(n, dx)`` samples (numpy array or torch tensor; 1-D means ``dx = 1``).
        y: ``(n, dy)`` samples paired row by row with ``x``.
        estimator: ``"auto"`` (default): critic families chosen on validation, cross-fitted
            (see ``folds``). In each fold the Gaussian-copula critic
            (:class:`~miestim.critics.GaussianCopulaCritic`, the closed-form log density ratio of
            a Ledoit-Wolf Gaussian fitted to the training rows' normal scores) is fitted, and so
            is each other family of ``families``: ``"ica"`` (default when the wider side has 2
            to 10 columns; :class:`~miestim.crossfit.ICAFamily`, the same Gaussian-copula critic
            of each side's independent components, for sides mixed after a coordinatewise map),
            ``"elliptical"`` (default;
            :class:`~miestim.critics.EllipticalCritic`, an elliptical law of ``(x, y)`` whose
            radial laws are estimated in one dimension, fitted to the data as given: heavy
            tails and a common scale), ``"knn"`` (default when ``x`` and ``y`` have
            at most ``KNNFamily().max_dim`` = 4 columns together;
            :class:`~miestim.critics.KSGCritic`, the KSG estimate of the log density ratio
            from the training rows, nothing trained), ``"residual"`` (default; the Gaussian
            critic plus a separable MLP residual that starts at zero, trained with the JS
            objective; the residual critics of all folds train in lockstep as one stacked
            module, :class:`~miestim.crossfit.StackedResidualCritics`), ``"joint"`` (opt-in;
            the Gaussian critic plus an MLP on ``[x; y]``, trained on 16 sampled product pairs
            per row), ``"separable"`` (opt-in; a plain separable critic). A neural family is
            dropped after two validation rounds unless its per-row JS objective beats the
            Gaussian critic's by two paired standard errors. Each fold keeps the simplest family
            (in the order of :data:`~miestim.crossfit.FAMILIES`) that the family of the best
            validation JS objective does not beat by two paired standard errors; a kept k-NN
            critic is rebuilt on all of the fold's non-test rows. The readout is the kept
            critic's mean score on the test rows: the JS objective is maximised by the log
            density ratio, so that mean is the held-out mean log ratio, the readout with zero
            bias for the exact critic (DV's partition estimate is dominated by the product
            pairs a critic scores far off the joint support). When every fold kept the Gaussian
            critic, the readout is instead in-sample and bias-corrected: the Gaussian-copula
            critic fitted to all rows (sample covariance), less its bias in closed form
            (:func:`~miestim.crossfit.plug_in_bias`); ``GaussianFamily(bias_corrected=False)``
            keeps the held-out readout (the ica family reads out the same way, on the
            components of all rows). With more than 20,000 training rows a fold (twice
            :data:`~miestim.crossfit.race.SCREEN_ROWS`), the other families first race on a
            subsample of 10,000 of them, and only those that win some fold's subsample are fitted
            on the full folds. ``result.extra`` says which family each fold kept, every family's
            validation JS score and readout, the readout used (``"readout"``; the held-out value
            and stderr are in ``"held_out"``) and the families screened out on the subsample
            (``"screened_out"``); ``result.estimator`` is a :class:`torch.nn.ModuleList` of the
            folds' kept critics, or of the one critic fitted to all rows.
            Or a name from :data:`miestim.ESTIMATORS` (``"smile"``, ``"mine"``, ``"nwj"``,
            ``"infonce"``, ``"js"``, ``"dv"``, ``"tuba"``, ``"interpolated"``): that bound, on one
            split, with ``critic``; or an :class:`~miestim.MIEstimator` instance (used as is;
            ``critic`` must then be left out).
        critic: named estimators only: ``"separable"`` (default), ``"concat"``, ``"bilinear"`` or
            a critic instance.
        critic_kwargs: named estimators only: passed to the critic (``hidden``, ``embed_dim``, ``activation``).
        estimator_kwargs: named estimators only: passed to the estimator (``clip``, ``alpha``, ``momentum``, ...).
        batch_size: training batch size (default 256; 128 for ``"auto"``); shrunk with a warning
            if larger than the training split.
        max_steps: maximum training steps (default 3000; 1500 for ``"auto"``); or give ``max_epochs``.
        max_epochs: maximum passes over the training split.
        lr: Adam learning rate (default 5e-4; 5e-3 for ``"auto"``, whose residual critics start
            at the Gaussian solution and reach their best validation score in fewer, larger steps).
        split: train / validation / test fractions (default 0.7 / 0.1 / 0.2). The critic's
            held-out bias shrinks as its training split grows, and a tenth of the data scored
            over all its pairs is enough to stop on: against 0.6 / 0.2 / 0.2 this lowers the
            mean error of SMILE at d = 20 from -0.25 to -0.18 nats (MI = 4) and from -0.77 to
            -0.55 (MI = 10) over five seeds, with no seed worse by more than 0.05, on the same
            test rows (``python -m benchmarks seeds``).
        standardize: ``"rank"`` (default) maps each column to the normal scores of its
            training-split empirical CDF — a strictly increasing map, so MI is unchanged, and
            heavy tails (e.g. a cubed Gaussian) no longer dominate the critic; ``True`` /
            ``"zscore"`` z-scores each column with training-split statistics; ``False`` uses
            the raw data.
        eval_every: steps between validation estimates (default 100).
        patience: validation estimates without improvement before stopping (default 5; 3 for ``"auto"``).
        eval_batch_size: largest held-out batch scored as one matrix (default 4096; lower it for concat critics).
        device: where to compute; default: the device of tensor inputs, else CPU.
        seed: seeds the split, initialisation and batch order (default 0); the same seed on
            CPU gives an identical result. ``None`` draws a fresh seed.
        progress: show a tqdm bar (default: when stderr is a terminal; rank 0 only).
        folds: ``estimator="auto"`` only: the number of cross-fitting folds (default 3). Every
            row is held out exactly once and scored by a critic that neither trained nor stopped
            on it; in each fold the other rows are split into training and validation in the
            ratio ``split[0] : split[1]`` (3 folds give 58 / 8 / 33 per fold, 5 give 70 / 10 / 20). ``value`` is the
            mean of the per-row values of all ``n`` rows (``result.row_values``) and ``stderr`` their
            standard error. Named estimators use one split (``folds=None`` or 1).
        families: ``estimator="auto"`` only: the critic families to consider, from
            :data:`miestim.crossfit.FAMILIES`, or :class:`~miestim.CriticFamily` instances, your own
            included (default :data:`~miestim.crossfit.DEFAULT_FAMILIES`: the Gaussian, k-NN and
            residual families, the k-NN one only up to ``KNNFamily().max_dim`` columns; the
            Gaussian critic is always fitted).
        distributed: run as one of the ranks of a ``torch.distributed`` process group (e.g.
            under ``torchrun``). ``None`` (default): when a group of more than one process is
            initialised. Every rank must pass the same data and options; the split, scaling
            and batch order are then the same on every rank, and each global training batch
            of ``batch_size`` rows is split among the ranks: with a separable critic each rank
            embeds its share and every rank scores the gathered global batch (see
            :class:`~miestim.MIEstimator`), so the bound and, after the gradients are
            averaged over the ranks, the step are those of one process (other critics: every
            rank computes the whole batch, no speed-up). The validation and test splits are
            embedded in shares the same way. The result — read on rank 0 and broadcast — is
            identical on every rank and equal to a one-process run's up to float rounding.
            ``seed=None`` uses rank 0's fresh seed. ``False``: ignore the process group
            (e.g. independent estimates on each rank). With ``estimator="auto"`` every rank
            runs the whole cross-fit (no speed-up) and rank 0's result is broadcast.

    Returns:
        :class:`~miestim.EstimateResult` with ``value`` and ``stderr`` in nats.

    Raises:
        ValueError: mismatched lengths, NaN/Inf, finite values beyond float32, constant
            columns, a single sample, more than 2 dimensions, too few samples for the split,
            bad hyper-parameters, unknown names (the message suggests the closest ones);
            ``distributed=True`` without a process group of more than one process; data of
            different shapes on different ranks; ``distributed=False`` with an estimator
            instance that gathers the global batch.
        TypeError: non-numeric, boolean or complex inputs; hyper-parameters of the wrong
            type; ``critic_kwargs`` / ``estimator_kwargs`` keys the critic or estimator does
            not accept.
        FloatingPointError: the training loss or validation score became NaN/Inf (the
            message names the step; no step is skipped), or the held-out estimate did.

    Example:
        >>> import miestim
        >>> x, y = miestim.gaussian.CorrelatedGaussianTask(dim=2, mi=1.0).sample(3000, seed=0)
        >>> res = miestim.estimate_mi(x, y, max_steps=300, progress=False)
        >>> abs(res.value - 1.0) < 0.3
        True
    """
    start = time.perf_counter()
    dev = resolve_device(device, x, y)
    x_t, y_t = as_sample_matrix(x, name="x", device=dev), as_sample_matrix(y, name="y", device=dev)
    n = check_consistent_length(x=x_t, y=y_t)
    check_constant_columns(x_t, name="x")
    check_constant_columns(y_t, name="y")
    if isinstance(estimator, str):
        estimator = check_choice(estimator, name="estimator", choices=["auto", *ESTIMATORS])
    auto = estimator == "auto"
    defaults = CROSSFIT_TRAINING if auto else NAMED_TRAINING
    training = Training(
        batch_size=check_positive_int(defaults.batch_size if batch_size is None else batch_size, name="batch_size", minimum=2),
        lr=check_positive_float(defaults.lr if lr is None else lr, name="lr"),
        max_steps=defaults.max_steps,
        patience=check_positive_int(defaults.patience if patience is None else patience, name="patience"),
        eval_every=check_positive_int(eval_every, name="eval_every"),
        eval_batch_size=check_positive_int(eval_batch_size, name="eval_batch_size", minimum=2),
    )
    critic_kwargs = check_kwargs(critic_kwargs, name="critic_kwargs")
    estimator_kwargs = check_kwargs(estimator_kwargs, name="estimator_kwargs")
    scaler = resolve_scaler(standardize)
    distributed = resolve_distributed(distributed)
    if distributed:
        check_same_on_every_rank({"n": n, "x columns": x_t.shape[1], "y columns": y_t.shape[1]}, what="estimate_mi's data")
    generator = make_generator(resolve_seed(seed, distributed=distributed))
    folds = _resolve_folds(folds, estimator)
    if not auto:
        refuse_unused({"families": families}, method=f"estimator={getattr(estimator, 'name', estimator)!r}", owner="estimator='auto'")
        options: dict[str, Any] = {"critic": critic, "critic_kwargs": critic_kwargs, "estimator_kwargs": estimator_kwargs, "split": split}
        return fit_named(x_t, y_t, estimator=estimator, training=training, max_steps=max_steps, max_epochs=max_epochs, scaler=scaler,
                         generator=generator, progress=progress, distributed=distributed, start=start, **options)  # fmt: skip
    given = {"critic": critic, "critic_kwargs": critic_kwargs or None, "estimator_kwargs": estimator_kwargs or None}
    refuse_unused(given, method="estimator='auto' (the default; it chooses its own critics)", owner="a named estimator (e.g. estimator='smile')")
    training = replace(training, max_steps=resolve_steps(max_steps, max_epochs, n, training.batch_size, default=training.max_steps))
    families_raced = resolve_families(families, x_dim=x_t.shape[1], y_dim=y_t.shape[1])
    splits = fold_splits(n, folds, validation_share(split), generator=generator)
    values, reports, critics = crossfit_rows(
        x_t, y_t, splits=splits, families=families_raced, scaler=scaler, training=training, generator=generator, progress=progress
    )
    chosen = [r.family for r in reports]
    extra = {
        "family": Counter(chosen).most_common(1)[0][0],
        "families": chosen,
        "folds": folds,
        "validation": [r.validation for r in reports],
        "validation_readout": [r.readout for r in reports],
        "family_seconds": [r.seconds for r in reports],
        "screened_out": list(reports[0].screened_out),
    }
    # The flag of docs/guide.md: a trained family beat every untrained one by far more than the estimate's noise.
    gain = trained_gain(reports, families_raced)
    extra |= {"trained_gain": gain, "rests_on_training": gain > TRAINED_GAIN_STDERRS * summarize_rows(values)[1]}
    in_sample = in_sample_readout(x_t, y_t, families=families_raced, reports=reports, scaler=scaler)
    return crossfit_result(values, reports, critics, quantity="I(X;Y)", method="auto", extra=extra, start=start, distributed=distributed,
                           description="estimate_mi[auto]", in_sample=in_sample)  # fmt: skip
