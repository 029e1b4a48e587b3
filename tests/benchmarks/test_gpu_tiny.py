"""``python -m benchmarks gpu`` runs end to end at toy size on CPU, so the GPU run is one command away."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import gpu


def test_gpu_check_tiny_on_cpu_writes_one_record(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu.main(["--tiny", "--device", "cpu", "--tests", "tests/test_cuda.py", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["meta"]["card"].startswith("cpu") and record["meta"]["tiny"] is True
    parts = [r["part"] for r in record["rows"]]
    assert parts == ["example", "example", "estimate_mi", "cuda tests"]
    with_terms, without = record["rows"][:2]
    assert with_terms["setting"] == "all 8 MI terms" and without["setting"] == "no MI terms"
    assert with_terms["seconds_stage1"] > 0 and without["seconds_stage1"] == 0  # the terms were on in the timed epoch, and only there
    assert 0 < with_terms["mi_share"] < 1 and 0 < with_terms["mi_share_timed"] < 1
    estimate = record["rows"][2]
    assert estimate["n"] == 1000 and estimate["dim"] == 4 and estimate["seconds"] > 0
    assert abs(estimate["estimate"] - 4.0) < 0.5 + 4 * estimate["stderr"]
    tests = record["rows"][3]
    assert tests["returncode"] == 0 and "skipped" in tests["summary"]  # no CUDA here: collected, then skipped
    printed = capsys.readouterr().out
    assert "| all 8 MI terms |" in printed and "MI share of a training epoch" in printed


def test_random_bert_loads_offline_tokenizes_and_leaves_the_rng_alone(tmp_path):
    from transformers import AutoModel, AutoTokenizer, BertConfig

    base = BertConfig()  # what the full run builds: bert-base-uncased's shapes
    assert (base.hidden_size, base.num_hidden_layers, base.num_attention_heads, base.vocab_size) == (768, 12, 12, 30522)
    before = torch.random.get_rng_state()
    folder = gpu.write_random_bert(tmp_path / "bert", tiny=True)
    assert torch.equal(torch.random.get_rng_state(), before)  # seeded apart from the caller's RNG
    assert AutoModel.from_pretrained(folder, local_files_only=True).config.hidden_size == gpu.TINY_BERT["hidden_size"]
    tokens = AutoTokenizer.from_pretrained(folder, local_files_only=True)("the movie was great, 10/10!")["input_ids"]
    assert 1 not in tokens and len(tokens) == len("themoviewasgreat,10/10!") + 2  # no [UNK]: one token a character, plus [CLS], [SEP]


def test_cuda_device_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit):
        gpu.main(["--device", "cuda", "--tiny"])


@pytest.mark.parametrize("argv", [["--batches", "0"], ["--sizes", "1000", "1"], ["--dim", "0"]])
def test_bad_sizes_are_refused(argv):
    with pytest.raises(SystemExit):
        gpu.main(["--device", "cpu", "--tiny", *argv])


def test_a_missing_transformers_stops_before_any_part_runs(monkeypatch, capsys):
    real = gpu.importlib.util.find_spec
    monkeypatch.setattr(gpu.importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else real(name, *a))
    with pytest.raises(SystemExit):
        gpu.main(["--device", "cpu", "--tiny"])
    assert "--parts estimate tests" in capsys.readouterr().err
