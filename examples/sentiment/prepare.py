"""From a data source to batches of tensors: loading, text features, batching.

Text enters the model in one of three ways (``TrainConfig.text_mode``):

- ``cached`` (default): a frozen BERT-family encoder runs once over every split and its
  token states are kept (float16, on disk under ``cache_dir`` so reruns skip it);
- ``frozen`` / ``finetune``: sentences are tokenized once and the encoder runs every step;
- ``features``: the dataset's own word-level vectors (GloVe in MulT pickles and CMU-SDK files,
  BERT token features in MMSA pickles) are the token states; no encoder is loaded (and ``transformers`` is not needed).

Splits that carry word-level vectors but no sentences always use ``features``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import TrainConfig
from .data import (
    SentimentData,
    SentimentSplit,
    SyntheticConfig,
    find_mmsa,
    find_unaligned,
    load_mmsa,
    load_sdk,
    load_unaligned,
    make_synthetic,
)

__all__ = ["TensorSplit", "load_data", "prepare_splits"]


def load_data(config: TrainConfig) -> SentimentData:
    """The dataset named by ``config.data`` (synthetic data are generated with ``config.data_seed``)."""
    if config.data == "synthetic":
        n_train, n_valid, n_test = config.synthetic_size
        return make_synthetic(SyntheticConfig(n_train=n_train, n_valid=n_valid, n_test=n_test), seed=config.data_seed)
    root = Path(config.data_dir)
    if config.data == "mmsa":
        return load_mmsa(find_mmsa(root, file=config.mmsa_file), max_len=config.max_len, nonfinite=config.nonfinite)
    if config.data in ("mosi_unaligned", "mosei_unaligned"):
        pickle_path, csv_path = find_unaligned(root, dataset=config.data.split("_")[0])
        return load_unaligned(pickle_path, csv_path, max_len=config.max_len, name=config.data, nonfinite=config.nonfinite)
    return load_sdk(root, dataset=config.data.split("_")[0], max_len=config.max_len, nonfinite=config.nonfinite)


@dataclass
class TensorSplit:
    """One split as CPU tensors; :meth:`batch` moves a batch to the device and trims padding.

    ``text`` holds token states (N, L_t, H) with ``text_lengths`` (cached / feature modes), or
    ``input_ids`` and ``attention_mask`` (N, L_t) (live encoder modes).
    """

    name: str
    tensors: dict[str, torch.Tensor]

    def __len__(self) -> int:
        return self.tensors["labels"].shape[0]

    @property
    def labels(self) -> torch.Tensor:
        return self.tensors["labels"]

    def batch(self, index: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
        """Rows ``index`` of every tensor, sequences cut to the longest true length in the batch."""
        out = {key: value.index_select(0, index) for key, value in self.tensors.items()}
        for seq, lengths in (("audio", "audio_lengths"), ("vision", "vision_lengths"), ("text", "text_lengths")):
            if seq in out:
                out[seq] = out[seq][:, : int(out[lengths].max())]
        if "attention_mask" in out:
            keep = int(out["attention_mask"].sum(dim=1).max())
            out["input_ids"], out["attention_mask"] = out["input_ids"][:, :keep], out["attention_mask"][:, :keep]
        out["index"] = index
        return {key: value.to(device, non_blocking=True) for key, value in out.items()}


def _split_tensors(split: SentimentSplit) -> dict[str, torch.Tensor]:
    return {
        "labels": torch.from_numpy(np.asarray(split.labels, dtype=np.float32)),
        "audio": torch.from_numpy(split.audio),
        "audio_lengths": torch.from_numpy(split.audio_lengths.astype(np.int64)),
        "vision": torch.from_numpy(split.vision),
        "vision_lengths": torch.from_numpy(split.vision_lengths.astype(np.int64)),
    }


def prepare_splits(config: TrainConfig, data: SentimentData) -> tuple[dict[str, TensorSplit], torch.nn.Module | None, int]:
    """Tensor splits, the live text encoder (``frozen`` / ``finetune`` modes, else None) and the text width."""
    splits = data.splits()
    has_sentences = all(s.text is not None for s in splits.values())
    if config.text_mode == "features" or not has_sentences:
        if any(s.text_features is None for s in splits.values()):
            raise ValueError(
                f"text_mode='features' needs word-level text vectors in every split, and dataset {data.name!r} has none; "
                "use a sentence mode (cached, frozen, finetune)."
            )
        out = {}
        for name, s in splits.items():
            tensors = _split_tensors(s)
            tensors["text"] = torch.from_numpy(s.text_features)
            tensors["text_lengths"] = torch.from_numpy(s.text_lengths.astype(np.int64))
            out[name] = TensorSplit(name, tensors)
        return out, None, next(iter(splits.values())).text_features.shape[2]

    from .text import TextEncoder, cached_text_features  # transformers is needed from here on only

    encoder = TextEncoder(config.text_model, max_length=config.text_max_length, freeze=config.text_mode != "finetune")
    out = {}
    for name, s in splits.items():
        tensors = _split_tensors(s)
        if config.text_mode == "cached":
            cache = Path(config.cache_dir) if config.cache_dir else Path(config.out) / "text_cache"
            features, lengths = cached_text_features(s.text, encoder, cache, progress=config.progress)
            tensors["text"], tensors["text_lengths"] = torch.from_numpy(features), torch.from_numpy(lengths)
        else:
            tokens = encoder.tokenize(list(s.text))
            tensors["input_ids"], tensors["attention_mask"] = tokens["input_ids"], tokens["attention_mask"]
        out[name] = TensorSplit(name, tensors)
    return out, (None if config.text_mode == "cached" else encoder), encoder.hidden_size
