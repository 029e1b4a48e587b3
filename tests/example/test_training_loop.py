"""The sentiment example's training loop where it can go wrong: the stage-2 sign, stage 1's direction, the batching, learning.

Gradients that are non-zero and parameters that change say nothing about a flipped sign or labels paired with
the wrong rows; these tests check the values themselves, on tiny data with text features given directly (no
text encoder), so each costs a second or so.
"""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from examples.sentiment import train as train_module
from examples.sentiment.config import TrainConfig
from examples.sentiment.data import SentimentData, SyntheticConfig, make_synthetic
from examples.sentiment.mi_terms import CMI_TRIPLES, MI_PAIRS
from examples.sentiment.prepare import prepare_splits
from examples.sentiment.train import Trainer, train

TINY = SyntheticConfig(n_train=48, n_valid=24, n_test=24, audio_len=8, vision_len=8, min_len=3)


def _with_text_features(data: SentimentData, *, seed: int) -> SentimentData:
    """``data`` with word-level text vectors (the polarity factor plus noise), so no text encoder is needed."""
    rng = np.random.default_rng(seed)
    splits = {}
    for name, split in data.splits().items():
        n, length = len(split), 5
        features = rng.normal(scale=0.5, size=(n, length, 4)).astype(np.float32)
        features[:, :, 0] += split.latents["shared"][:, None]
        lengths = rng.integers(2, length + 1, size=n)
        features[np.arange(length)[None, :] >= lengths[:, None]] = 0.0  # valid words first, zeros after
        splits[name] = replace(split, text_features=features, text_lengths=lengths)
    return SentimentData(**splits, name=data.name)


def _config(tmp_path, **options) -> TrainConfig:
    base = dict(text_mode="features", d=8, fusion_len=4, fusion_blocks=1, batch_size=48, epochs=1, stage1_passes=1, progress=False, dropout=0.0)
    return TrainConfig(out=str(tmp_path / "run"), **{**base, **options})


@pytest.fixture(scope="module")
def tiny() -> SentimentData:
    return _with_text_features(make_synthetic(TINY, seed=0), seed=0)


def test_stage2_loss_is_the_task_loss_minus_the_weighted_terms(tmp_path, tiny, monkeypatch):
    # Weights of both signs and sizes, so a term entering with the wrong sign or weight changes the loss.
    weights = (3.0, -2.0, 1.0, 2.5, -1.5, 0.5, 2.0, -1.0)
    trainer = Trainer(_config(tmp_path, weights=weights), tiny)  # one batch of 48: stage 2 takes one step
    features, _ = trainer.features(trainer.splits["train"])
    labels = trainer.splits["train"].labels
    bank = trainer.mi.make_bank(features, labels, seed=0)
    seen: dict[str, list] = {"loss": [], "terms": []}
    check_finite, terms = train_module._check_finite, trainer.mi.terms
    monkeypatch.setattr(
        train_module, "_check_finite", lambda loss, what, epoch: seen["loss"].append(loss.detach()) or check_finite(loss, what, epoch)
    )
    monkeypatch.setattr(trainer.mi, "terms", lambda estimates: seen["terms"].append(terms(estimates)) or seen["terms"][-1])
    row = trainer._stage2(bank)
    (loss,), (values,) = seen["loss"], seen["terms"]
    objective = sum(w * float(values[name].detach()) for name, w in zip(values, weights))
    assert abs(objective) > 1e-2  # the terms are not zero here, so their sign shows
    assert float(loss) == pytest.approx(row["task_loss"] - objective, abs=1e-5)


def test_one_stage1_step_raises_every_bound_it_trains(tmp_path, tiny):
    trainer = Trainer(_config(tmp_path), tiny)
    features, _ = trainer.features(trainer.splits["train"])
    labels = trainer.splits["train"].labels
    bank = trainer.mi.make_bank(features, labels, seed=0)
    index = torch.arange(len(labels))
    cols = {**features, "c": labels.reshape(-1, 1)}
    assert len(trainer.mi.cmi) == len(CMI_TRIPLES)  # every weight is non-zero: all six classifiers, in CMI_TRIPLES order
    classifiers = dict(zip(CMI_TRIPLES, trainer.mi.cmi.values()))

    def readings() -> dict[str, float]:
        # The MI bounds the estimators maximise and minus the cross-entropies the CMINE classifiers minimise.
        with torch.no_grad():
            out = {name: float(trainer.mi.estimates(features, labels, bank, index)[name]) for name in MI_PAIRS}
            for name, (x, y, z) in CMI_TRIPLES.items():
                out[name] = -float(classifiers[name].loss(cols[x], cols[y], cols[z], bank.product_sample(x, z, index)))
        return out

    before = readings()
    trainer._stage1(features, labels, bank)  # stage1_passes=1, one batch of 48: one optimiser step
    after = readings()
    assert all(after[name] > before[name] for name in before), {name: after[name] - before[name] for name in before}


def test_batches_keep_each_rows_label_with_its_own_features(tmp_path, tiny):
    splits, encoder, width = prepare_splits(_config(tmp_path), tiny)
    assert encoder is None and width == 4
    for name, source in tiny.splits().items():
        index = torch.randperm(len(source), generator=torch.Generator().manual_seed(1))[:10]
        batch = splits[name].batch(index, torch.device("cpu"))
        rows = index.numpy()
        np.testing.assert_array_equal(batch["labels"].numpy(), source.labels[rows])
        for seq in ("audio", "vision", "text"):
            frames = source.text_features if seq == "text" else getattr(source, seq)
            lengths = getattr(source, f"{seq}_lengths")[rows]
            np.testing.assert_array_equal(batch[f"{seq}_lengths"].numpy(), lengths)
            np.testing.assert_array_equal(batch[seq].numpy(), frames[rows][:, : lengths.max()])
        np.testing.assert_array_equal(batch["index"].numpy(), rows)  # the rows the MI terms' bank looks up


def test_a_short_run_on_informative_data_beats_a_constant_predictor(tmp_path):
    # The score is the shared factor plus a little noise, and the text vectors carry that factor: a model whose
    # labels stay with their own rows learns it within a few epochs; one fed shuffled labels cannot beat the median.
    strong = SyntheticConfig(
        n_train=160,
        n_valid=48,
        n_test=96,
        audio_len=6,
        vision_len=6,
        min_len=3,
        text_specific=0.0,
        audio_specific=0.0,
        visual_specific=0.0,
        complementary=0.0,
        noise=0.1,
        observation_noise=0.2,
    )
    data = _with_text_features(make_synthetic(strong, seed=0), seed=0)
    errors = np.abs(data.test.labels - np.median(data.train.labels))
    constant_mae, constant_se = errors.mean(), errors.std(ddof=1) / np.sqrt(len(errors))
    maes = np.array(
        [
            train(_config(tmp_path / str(seed), weights=(0.0,), epochs=8, batch_size=32, lr=1e-2, seed=seed), data=data)["test"]["mae"]
            for seed in range(3)
        ]
    )
    # The margin: 3 SE of the gap, from the constant's sampling error and the trained MAE's spread over seeds.
    margin = 3 * np.hypot(constant_se, maes.std(ddof=1))
    assert constant_mae - maes.mean() > margin, (constant_mae, maes, margin)


def _recording_optimizer_steps(optimizer, parameters, seen: list) -> None:
    """Record the largest gradient value of ``parameters`` each time ``optimizer`` steps."""
    step = optimizer.step

    def recorded(*args, **kwargs):
        seen.append(max(float(p.grad.abs().max()) for p in parameters if p.grad is not None))
        return step(*args, **kwargs)

    optimizer.step = recorded


def test_stage1_reports_the_mean_loss_of_its_steps_clipped_and_named(tmp_path, tiny, monkeypatch, capsys):
    trainer = Trainer(_config(tmp_path, batch_size=24, clip_mode="value", clip=1e-4, progress=True), tiny)  # 48 rows: two steps
    features, _ = trainer.features(trainer.splits["train"])
    labels = trainer.splits["train"].labels
    bank = trainer.mi.make_bank(features, labels, seed=0)
    losses, grads = [], []
    estimator_loss = trainer.mi.estimator_loss
    monkeypatch.setattr(trainer.mi, "estimator_loss", lambda *args: losses.append(estimator_loss(*args)) or losses[-1])
    _recording_optimizer_steps(trainer.optimizers["mi"], list(trainer.mi.parameters()), grads)
    mean = trainer._stage1(features, labels, bank)
    assert len(losses) == 2 and mean == pytest.approx(sum(float(v) for v in losses) / 2, rel=1e-6)
    assert len(grads) == 2 and max(grads) <= 1e-4  # clip_mode="value" clips every gradient value of the estimators
    assert "epoch 0 stage 1: 2 batches" in capsys.readouterr().err
    one_batch = Trainer(_config(tmp_path / "one", progress=False), tiny)  # 48 rows, batch 48: its one step's loss
    one_losses = []
    one_loss = one_batch.mi.estimator_loss
    monkeypatch.setattr(one_batch.mi, "estimator_loss", lambda *args: one_losses.append(one_loss(*args)) or one_losses[-1])
    assert one_batch._stage1(features, labels, bank) == pytest.approx(float(one_losses[0]), rel=1e-6)
    monkeypatch.setattr(trainer.mi, "estimator_loss", lambda *args: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(FloatingPointError, match="stage 1 estimator loss became nan in epoch 0"):
        trainer._stage1(features, labels, bank)


def test_stage2_shuffles_its_batches_and_sums_the_mi_time_of_every_batch(tmp_path, tiny, monkeypatch):
    trainer = Trainer(_config(tmp_path, batch_size=24), tiny)  # 48 rows: two batches
    features, _ = trainer.features(trainer.splits["train"])
    bank = trainer.mi.make_bank(features, trainer.splits["train"].labels, seed=0)
    train_split, seen = trainer.splits["train"], []
    batch = train_split.batch
    monkeypatch.setattr(train_split, "batch", lambda index, device: seen.append(index.clone()) or batch(index, device))
    clock = iter(range(10_000))
    monkeypatch.setattr(train_module, "time", SimpleNamespace(perf_counter=lambda: float(next(clock))))
    row = trainer._stage2(bank)
    assert torch.equal(torch.cat(seen).sort().values, torch.arange(48)) and not torch.equal(seen[0], torch.arange(24))
    assert row["seconds_mi_forward"] == 2.0  # one tick of the fake clock per batch's MI terms, summed over both


def test_the_feature_bank_keeps_a_label_with_few_values_continuous_and_uses_k(tmp_path, tiny):
    trainer = Trainer(_config(tmp_path, k=3), tiny)
    features, _ = trainer.features(trainer.splits["train"])
    labels = (trainer.splits["train"].labels > 0).float()  # two integer values: detection would read them as classes
    bank = trainer.mi.make_bank(features, labels, seed=0)
    assert "c" in bank.samplers and all(not s.discrete_ and s.k == 3 for s in bank.samplers.values())


def test_a_batch_of_short_rows_is_cut_to_its_longest_true_length(tmp_path, tiny):
    splits, _, _ = prepare_splits(_config(tmp_path), tiny)
    source = tiny.train
    for seq in ("audio", "vision", "text"):
        lengths = getattr(source, f"{seq}_lengths")
        frames = source.text_features if seq == "text" else getattr(source, seq)
        short = np.argsort(lengths, kind="stable")[:3]  # the three shortest rows
        assert lengths[short].max() < frames.shape[1], "the tiny data must have rows shorter than the padding"
        batch = splits["train"].batch(torch.as_tensor(short), torch.device("cpu"))
        np.testing.assert_array_equal(batch[seq].numpy(), frames[short][:, : lengths[short].max()])
        assert batch[f"{seq}_lengths"].dtype == torch.int64
