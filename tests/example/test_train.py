"""Two-stage training end to end on tiny data: synthetic, MulT/MMIM files, CMU-SDK files, resume."""

import csv
import json
import math

import pytest
import torch

from examples.sentiment.cli import build_parser, config_from_args, main
from examples.sentiment.config import PRESETS, TrainConfig
from examples.sentiment.data import SyntheticConfig, make_synthetic, write_mmsa, write_sdk, write_unaligned
from examples.sentiment.mi_terms import TERM_NAMES
from examples.sentiment.train import Trainer, train

TINY = SyntheticConfig(n_train=48, n_valid=24, n_test=24, audio_len=12, vision_len=10, min_len=3)


@pytest.fixture(scope="module")
def tiny():
    return make_synthetic(TINY, seed=0)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    # One text cache for the module: each sentence list is encoded once.
    return str(tmp_path_factory.mktemp("text_cache"))


def _config(tmp_path, cache_dir, **options):
    base = dict(
        d=16,
        fusion_len=6,
        fusion_blocks=1,
        batch_size=16,
        epochs=1,
        stage1_passes=1,
        progress=False,
        out=str(tmp_path / "run"),
        cache_dir=cache_dir,
        seed=0,
    )
    return TrainConfig(**{**base, **options})


def _comparable(history):
    return [{k: v for k, v in row.items() if not k.startswith("seconds")} for row in history]


def test_one_epoch_writes_log_report_and_checkpoint(tmp_path, tiny, cache_dir):
    config = _config(tmp_path, cache_dir, epochs=2)
    report = train(config, data=tiny)
    out = tmp_path / "run"
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for name in TERM_NAMES:  # every term, on training batches and held out on validation
        assert f"train_{name}" in rows[0] and f"valid_{name}" in rows[0]
    best = min(rows, key=lambda r: float(r["valid_mae"]))
    assert report["selected_epoch"] == int(best["epoch"])
    assert report["test"]["mae"] == pytest.approx(float(best["test_mae"]))
    saved = json.loads((out / "report.json").read_text())
    assert saved["selected_epoch"] == report["selected_epoch"] and "validation" in saved["selection"]
    assert (out / "checkpoint.pt").exists() and (out / "best_model.pt").exists()


def test_stage1_changes_only_estimators_and_stage2_only_the_model(tmp_path, tiny, cache_dir):
    trainer = Trainer(_config(tmp_path, cache_dir), tiny)
    model_before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    mi_before = {k: v.clone() for k, v in trainer.mi.state_dict().items()}
    features, _ = trainer.features(trainer.splits["train"])
    labels = trainer.splits["train"].labels
    bank = trainer.mi.make_bank(features, labels, seed=0)
    trainer._stage1(features, labels, bank)
    assert all(torch.equal(v, trainer.model.state_dict()[k]) for k, v in model_before.items())
    assert any(not torch.equal(v, trainer.mi.state_dict()[k]) for k, v in mi_before.items())
    mi_after_stage1 = {k: v.clone() for k, v in trainer.mi.state_dict().items()}
    trainer._stage2(bank)
    assert all(torch.equal(v, trainer.mi.state_dict()[k]) for k, v in mi_after_stage1.items())
    assert any(not torch.equal(v, trainer.model.state_dict()[k]) for k, v in model_before.items())


def test_stage2_features_are_the_next_epochs_bank(tmp_path, tiny, cache_dir, monkeypatch):
    # dropout 0: train mode computes eval mode's features; lr 1e-9: the model barely moves within the epoch.
    trainer = Trainer(_config(tmp_path, cache_dir, dropout=0.0, lr=1e-9, epochs=2), tiny)
    start, _ = trainer.features(trainer.splits["train"])
    banks = []
    make_bank = trainer.mi.make_bank
    monkeypatch.setattr(trainer.mi, "make_bank", lambda features, labels, *, seed: banks.append(features) or make_bank(features, labels, seed=seed))
    trainer.run_epoch()
    kept = trainer._kept_features
    for key, value in start.items():  # every row of the training split, from the stage-2 pass
        torch.testing.assert_close(kept[key], value, atol=1e-4, rtol=0)
    trainer.run_epoch()
    assert banks[2] is kept  # epoch 2's training bank (each epoch also builds one of the validation split)
    separate = Trainer(_config(tmp_path / "pass", cache_dir, epochs=2), tiny, bank="pass")
    separate.run_epoch()
    assert separate._kept_features is None
    with pytest.raises(ValueError, match=r"bank must be one of \('stage2', 'pass'\); got 'eval'"):
        Trainer(_config(tmp_path, cache_dir), tiny, bank="eval")


def test_resume_continues_identically(tmp_path, tiny, cache_dir):
    # Epoch 2's bank is epoch 1's stage-2 features: the checkpoint carries them.
    straight = Trainer(_config(tmp_path / "a", cache_dir, epochs=2), tiny)
    straight.fit()
    first = Trainer(_config(tmp_path / "b", cache_dir, epochs=1), tiny)
    first.fit()
    resumed = Trainer(_config(tmp_path / "b", cache_dir, epochs=2), tiny)
    resumed.fit(resume=True)
    assert _comparable(resumed.history) == _comparable(straight.history)
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)


def test_resume_refuses_other_settings_and_missing_checkpoint(tmp_path, tiny, cache_dir):
    Trainer(_config(tmp_path, cache_dir), tiny).fit()
    with pytest.raises(ValueError, match=r"different settings for \['lr'\]"):
        Trainer(_config(tmp_path, cache_dir, lr=0.5, epochs=2), tiny).fit(resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer(_config(tmp_path / "other", cache_dir), tiny).fit(resume=True)


def test_without_mi_terms_no_estimator_is_built_or_trained(tmp_path, tiny, cache_dir):
    trainer = Trainer(_config(tmp_path, cache_dir, weights=(0.0,)), tiny)
    row = trainer.run_epoch()
    assert not trainer.mi.active and "mi" not in trainer.optimizers
    assert "stage1_loss" not in row and not any(k.startswith("valid_I(") for k in row)


@pytest.mark.parametrize("mode", ["frozen", "finetune"])
def test_live_text_encoder_modes(tmp_path, mode):
    data = make_synthetic(SyntheticConfig(n_train=16, n_valid=8, n_test=8, audio_len=6, vision_len=6, min_len=2), seed=1)
    trainer = Trainer(_config(tmp_path, None, text_mode=mode, text_max_length=16, batch_size=8, stage1_passes=0), data)
    text = trainer.model.text_encoder.model
    before = [p.clone() for p in text.parameters()][:3]
    trainer.run_epoch()
    changed = any(not torch.equal(a, b) for a, b in zip(before, text.parameters()))
    assert changed == (mode == "finetune")
    assert ("text" in trainer.optimizers) == (mode == "finetune")


def test_real_formats_through_the_cli(tmp_path, tiny, cache_dir):
    write_unaligned(tiny, tmp_path / "unaligned", csv_name="MOSI-label.csv")  # MulT's pickle beside MMIM's CSV name
    write_sdk(tiny, tmp_path / "sdk", dataset="mosi")
    common = [
        "--d",
        "16",
        "--fusion-len",
        "6",
        "--fusion-blocks",
        "1",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--no-progress",
        "--cache-dir",
        cache_dir,
    ]
    for source, folder in (("mosi_unaligned", "unaligned"), ("mosi_sdk", "sdk")):
        out = tmp_path / f"run_{source}"
        assert main(["train", "--data", source, "--data-dir", str(tmp_path / folder), "--out", str(out), *common]) == 0
        report = json.loads((out / "report.json").read_text())
        assert report["config"]["data"] == source and report["epochs"] == 1
    # The pickle's own word vectors (GloVe in MulT files) as text input: no text encoder is loaded.
    out = tmp_path / "run_features"
    assert (
        main(["train", "--data", "mosi_unaligned", "--data-dir", str(tmp_path / "unaligned"), "--text-mode", "features", "--out", str(out), *common])
        == 0
    )
    assert json.loads((out / "report.json").read_text())["config"]["text_mode"] == "features"


def test_mmsa_pickles_through_the_cli(tmp_path, tiny, cache_dir):
    root = tmp_path / "MOSI"
    write_mmsa(tiny, root / "Processed")  # MMSA's layout: MOSI/Processed/unaligned_50.pkl
    out = tmp_path / "run_mmsa"
    common = ["--preset", "smoke", "--fusion-len", "6", "--no-progress", "--cache-dir", cache_dir]
    assert main(["train", "--data", "mmsa", "--data-dir", str(root), "--out", str(out), *common]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["data"] == "mmsa" and report["epochs"] == 1 and report["test"]["mae"] > 0
    # Both files in the folder: the option picks one; the file's own token features as text input.
    write_mmsa(tiny, root, file_name="aligned_50.pkl", aligned=True)
    out = tmp_path / "run_mmsa_aligned"
    assert (
        main(
            [
                "train",
                "--data",
                "mmsa",
                "--data-dir",
                str(root),
                "--mmsa-file",
                "aligned_50.pkl",
                "--text-mode",
                "features",
                "--out",
                str(out),
                *common,
            ]
        )
        == 0
    )
    assert json.loads((out / "report.json").read_text())["config"]["mmsa_file"] == "aligned_50.pkl"
    with pytest.raises(ValueError, match="holds several MMSA pickles"):
        main(["train", "--data", "mmsa", "--data-dir", str(root), "--out", str(out), *common])


def test_a_last_batch_of_one_sample_joins_the_previous_one(tmp_path, cache_dir):
    # 33 = 2 x 16 + 1: a batch of one would give the MI bounds no negatives (it raised "scores needs n >= 2").
    data = make_synthetic(SyntheticConfig(n_train=33, n_valid=24, n_test=24, audio_len=12, vision_len=10, min_len=3), seed=0)
    trainer = Trainer(_config(tmp_path, cache_dir), data)
    batches = trainer._batches(33, shuffle=True)
    assert [len(b) for b in batches] == [16, 17] and sorted(torch.cat(batches).tolist()) == list(range(33))
    row = trainer.run_epoch()
    assert math.isfinite(row["loss"]) and math.isfinite(row["stage1_loss"])


def test_features_mode_needs_word_vectors(tmp_path, tiny, cache_dir):
    with pytest.raises(ValueError, match="text_mode='features' needs word-level text vectors"):
        Trainer(_config(tmp_path, cache_dir, text_mode="features"), tiny)


def test_cli_presets_and_explicit_options():
    args = build_parser().parse_args(
        [
            "train",
            "--preset",
            "mosi",
            "--data",
            "mosi_unaligned",
            "--data-dir",
            "d",
            "--lr",
            "0.1",
            "--text-model",
            "bert",
            "--fusion-shapes",
            "20",
            "3",
            "128",
        ]
    )
    config = config_from_args(args)
    assert config.lr == 0.1 and config.fusion_shapes == (20, 3, 128)  # the explicit options win over the preset
    assert (config.batch_size, config.epochs, config.decay_epochs, config.k) == (128, 70, (50, 60), 4)
    assert config.weights == (0.1,) * 8 and PRESETS["mosi"]["text_lr_scale"] == 0.01
    eight = config_from_args(build_parser().parse_args(["train", "--weights", *map(str, range(8))]))
    assert eight.weights == tuple(float(i) for i in range(8))


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(data="imdb"), "data must be one of"),
        (dict(data="mosi_sdk"), "needs data_dir"),
        (dict(text_mode="lazy"), "text_mode must be one of"),
        (dict(weights=(1.0, 2.0)), "weights must be one number or 8"),
        (dict(batch_size=0), "batch_size must be >= 1"),
        (dict(lr=0.0), "lr must be > 0"),
        (dict(stage1_passes=-1), "stage1_passes, fusion_blocks and warmup_epochs"),
        (dict(warmup_epochs=-1), "stage1_passes, fusion_blocks and warmup_epochs"),
        (dict(fusion="mlp"), "fusion must be one of"),
        (dict(rnn_style="wide"), "rnn_style must be one of"),
        (dict(text_projection="mlp"), "text_projection must be one of"),
        (dict(clip_mode="both"), "clip_mode must be one of"),
        (dict(mi_lr_schedule="cosine"), "mi_lr_schedule must be one of"),
        (dict(fusion_activation="swish"), "fusion_activation must be one of"),
        (dict(fusion_shapes=(50, 3)), r"fusion_shapes must be \(L, M, D\) triples"),
        (dict(fusion_shapes=(50, 3, 64)), "the last with D = d = 128"),
        (dict(fusion_dropout=1.5), "fusion_dropout must be in"),
        (dict(mi_lr=0.0), "mi_lr must be > 0"),
        (dict(critic_hidden=(0,)), "critic_hidden and cmine_hidden must be positive"),
        (dict(dropout=1.0), "dropout must be in"),
        (dict(nonfinite="drop"), "nonfinite must be 'raise' or 'zero'"),
        (dict(mmsa_file="aligned_50.pkl"), "mmsa_file is read only with data='mmsa'; got data='synthetic'"),
    ],
)
def test_config_rejects_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**options)


def test_non_finite_loss_stops_with_a_clear_message(tmp_path, tiny, cache_dir, monkeypatch):
    trainer = Trainer(_config(tmp_path, cache_dir), tiny)
    monkeypatch.setattr(trainer.mi, "objective", lambda terms: torch.tensor(float("nan")))
    with pytest.raises(FloatingPointError, match="stage 2 loss became nan in epoch 1"):
        trainer.run_epoch()


def test_unavailable_cuda_is_a_clear_error(tmp_path, tiny, cache_dir):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        Trainer(_config(tmp_path, cache_dir, device="cuda"), tiny)
