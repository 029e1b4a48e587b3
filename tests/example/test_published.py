"""The authors' configuration (presets ``mosi`` / ``mosei``): architecture, parameter counts, warm-up, schedules, clipping.

BERT-shaped encoders with random weights (one layer; hidden size 768 as in bert-base-uncased, or 32
where only the training loop matters) are written to temporary folders with ``save_pretrained`` and
passed as ``--text-model``, so nothing is downloaded.
"""

import json
import re

import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

from examples.sentiment.cli import build_parser, config_from_args, main
from examples.sentiment.config import PRESETS, preset_config
from examples.sentiment.data import SyntheticConfig, make_synthetic, write_unaligned
from examples.sentiment.mi_terms import TERM_NAMES
from examples.sentiment.train import Trainer

# MOSI's frame widths (COVAREP 5, FACET 20 in the MulT files), tiny splits.
TINY = SyntheticConfig(n_train=16, n_valid=8, n_test=8, audio_len=12, vision_len=10, audio_dim=5, vision_dim=20, min_len=3)


def bert_parameters(config: BertConfig) -> int:
    """Parameters of a ``BertModel`` (with its pooler) from its configuration: the independent count."""
    h, i = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * h + 2 * h  # + LayerNorm
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h  # Q, K, V, O; LayerNorm; FFN; LayerNorm
    return embeddings + config.num_hidden_layers * layer + h * h + h  # + pooler


def _save_bert(folder, sentences, *, hidden: int) -> BertConfig:
    words = sorted({w.strip(".,!?'\"").lower() for s in sentences for w in s.split()} - {""})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64, max_position_embeddings=128
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    return config


@pytest.fixture(scope="module")
def data():
    return make_synthetic(TINY, seed=0)


@pytest.fixture(scope="module")
def bert768(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("bert") / "bert768"
    sentences = [s for split in data.splits().values() for s in split.text]
    return folder, _save_bert(folder, sentences, hidden=768)


@pytest.fixture(scope="module")
def bert32(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("bert") / "bert32"
    sentences = [s for split in data.splits().values() for s in split.text]
    return folder, _save_bert(folder, sentences, hidden=32)


def test_the_bert_count_formula_gives_bert_base():
    assert bert_parameters(BertConfig()) == 109_482_240  # bert-base-uncased: BertConfig's defaults


def test_mosi_preset_builds_the_authors_architecture(tmp_path, data, bert768):
    folder, bert_config = bert768
    trainer = Trainer(preset_config("mosi", text_model=str(folder), out=str(tmp_path / "run"), progress=False), data)
    model = trainer.model
    # By hand from the authors' shapes (Model.py, MLPProcess.py, VMI.py):
    gru = lambda width: 2 * 3 * (128 * width + 128 * 128 + 2 * 128) + 2 * 3 * (128 * 256 + 128 * 128 + 2 * 128)  # noqa: E731
    assert model.parameter_counts() == {
        "text encoder": bert_parameters(bert_config),
        "text projection": 768 * 128,  # W_t, no bias
        "audio encoder": gru(5) + 2 * 128,  # 2-layer bidirectional GRU, 128 units per direction, + LayerNorm
        "visual encoder": gru(20) + 2 * 128,
        "fusion": 62_403 + 50_843,  # CubeMLP 100-3-128 -> 50-3-128 -> 10-3-128 (see test_model)
        "head": 128 + 1,
        "total": bert_parameters(bert_config) + 1_023_967,
    }
    branch = (128 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 128 + 128)  # 128 -> 3 x 256 -> 128
    cmine = (257 * 256 + 256) + 2 * (256 * 256 + 256) + (256 + 1)  # [x; y; z] = 128 + 128 + the 1-d label -> 3 x 256 -> 1
    assert trainer.mi.parameter_counts() == {"MI critics (5)": 5 * 2 * branch, "CMI classifiers (6)": 6 * cmine}
    assert (branch, cmine) == (197_504, 197_889)

    assert model.text_encoder.max_length == 100 and not model.text_encoder.freeze
    assert model.text_proj[0].bias is None and model.audio.rnn.hidden_size == 128 and model.audio.style == "published"
    shapes = []
    for block in model.fusion.blocks:
        block.register_forward_hook(lambda module, args, out: shapes.append(tuple(out.shape[1:])))
    out = model.eval()(trainer.splits["train"].batch(torch.arange(4), torch.device("cpu")))
    assert shapes == [(50, 3, 128), (10, 3, 128)] and model.fusion.shapes[0] == (100, 3, 128)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"t": (4, 128), "a": (4, 128), "v": (4, 128), "f": (4, 128), "score": (4,)}
    lrs = {name: opt.param_groups[0]["lr"] for name, opt in trainer.optimizers.items()}
    assert lrs == pytest.approx({"model": 4e-3, "text": 4e-5, "mi": 4e-3}) and set(trainer.schedulers) == {"model", "text", "mi"}


def test_mosei_preset_is_the_mosi_cell_with_nonfinite_audio_zeroed():
    assert PRESETS["mosei"] == {**PRESETS["mosi"], "nonfinite": "zero"}
    config = preset_config("mosi", text_model="bert")
    assert (config.batch_size, config.lr, config.weights, config.k, config.clip, config.decay_epochs, config.epochs) == (
        128,
        4e-3,
        (0.1,) * 8,
        4,
        1.0,
        (50, 60),
        70,
    )


def test_warmup_epoch_has_no_mi_terms_then_estimators_follow_the_schedule_with_values_clipped(tmp_path, data, bert32, monkeypatch):
    calls = []
    clip_value = torch.nn.utils.clip_grad_value_

    def spy(parameters, clip):
        parameters = list(parameters)
        clip_value(parameters, clip)
        calls.append(max(float(p.grad.abs().max()) for p in parameters if p.grad is not None))

    monkeypatch.setattr(torch.nn.utils, "clip_grad_value_", spy)
    small = dict(
        d=16,
        fusion_len=6,
        fusion_shapes=(3, 3, 16, 2, 3, 16),
        critic_hidden=(16,),
        critic_embed=8,
        cmine_hidden=(16,),
        text_mode="cached",
        cache_dir=str(tmp_path / "cache"),
        batch_size=8,
        k=2,
        lr=0.01,
        decay_epochs=(1,),
        clip=2**-10,
    )
    config = preset_config("mosi", text_model=str(bert32[0]), out=str(tmp_path / "run"), progress=False, epochs=2, **small)
    trainer = Trainer(config, data)
    mi_before = {k: v.clone() for k, v in trainer.mi.state_dict().items()}

    first = trainer.run_epoch()  # the warm-up: L1 only
    assert "stage1_loss" not in first and "seconds_bank" not in first
    assert not {f"{split}_{name}" for split in ("train", "valid") for name in TERM_NAMES} & set(first)
    assert all(torch.equal(v, trainer.mi.state_dict()[k]) for k, v in mi_before.items())
    assert len(calls) == 2 and max(calls) <= 2**-10  # stage 2 only: 16 samples in batches of 8
    # The estimators' learning rate is the model's and decays with it (after epoch 1 here).
    assert trainer.optimizers["mi"].param_groups[0]["lr"] == pytest.approx(1e-3) == trainer.optimizers["model"].param_groups[0]["lr"]

    report = trainer.fit()  # epoch 2: bank, 2 stage-1 passes, the terms
    second = trainer.history[1]
    assert second["stage1_loss"] == second["stage1_loss"] and all(f"train_{n}" in second and f"valid_{n}" in second for n in TERM_NAMES)
    assert any(not torch.equal(v, trainer.mi.state_dict()[k]) for k, v in mi_before.items())
    assert len(calls) == 2 + 2 * 2 + 2 and max(calls) <= 2**-10  # + stage 1 (2 passes x 2 batches) + stage 2
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(rows) == 3 and report["epochs"] == 2 and (tmp_path / "run" / "report.json").is_file()


@pytest.mark.parametrize("preset", ["mosi", "mosei"])
def test_bert_presets_need_a_local_text_model(preset):
    args = build_parser().parse_args(["train", "--preset", preset])
    with pytest.raises(ValueError, match=rf"--preset {preset} fine-tunes bert-base-uncased.*pass --text-model DIR, a local folder"):
        config_from_args(args)
    features = config_from_args(build_parser().parse_args(["train", "--preset", preset, "--text-mode", "features"]))
    assert features.text_model is None  # the files' word vectors need no text model


def test_cli_prints_the_parameter_counts_of_the_mosi_preset(tmp_path, data, bert32, capsys):
    write_unaligned(data, tmp_path / "files")
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--preset",
                "mosi",
                "--text-model",
                str(bert32[0]),
                "--data",
                "mosi_unaligned",
                "--data-dir",
                str(tmp_path / "files"),
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    counts = {name.strip(): int(value.replace(",", "")) for name, value in re.findall(r"^  (\S.*?)\s{2,}([\d,]+)$", printed, re.MULTILINE)}
    total = bert_parameters(bert32[1]) + 1_023_967 - 768 * 128 + 32 * 128  # hidden size 32 here
    assert counts["text encoder"] == bert_parameters(bert32[1]) and counts["text projection"] == 32 * 128 and counts["model"] == total
    assert counts["all"] == total + 5 * 2 * 197_504 + 6 * 197_889
    assert json.loads((out / "report.json").read_text())["config"]["fusion"] == "cube-published"
