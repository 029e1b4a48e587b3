r"""The MIMRL network: per-modality encoders, CubeMLP fusion and a regression head.

Shapes (B = batch, L = time, d = model width):

- audio / visual: (B, L_m, d_m) frames, valid first, with true lengths (B,) ->
  :class:`SequenceEncoder` (2-layer bidirectional GRU by default, over packed true lengths)
  -> (B, L_m, d), LayerNorm, ReLU, dropout; padded positions are zero. ``rnn_style="compact"``
  (default): d/2 units per direction, concatenated; ``"published"`` (the authors'): d units per
  direction, summed, orthogonal recurrent weights, no dropout between the layers.
- text: (B, L_t, H) token states of a BERT-family encoder (cached, frozen or fine-tuned,
  see :mod:`examples.sentiment.text`) -> ``text_projection="layernorm"`` (default): linear map
  to d, LayerNorm, ReLU, dropout; ``"linear"`` (the authors'): a linear map without bias, dropout.
- utterance vectors :math:`h_m = \frac{1}{n_m}\sum_{t < n_m} s_{m,t}` (masked means), (B, d).
- fusion: each sequence is brought to a common length ``fusion_len`` by
  :func:`resample_time` (segment means over its true length; shorter sequences are padded,
  never cropped) and the three are stacked into a (B, L, 3, d) cube; :class:`CubeMLP` mixes it
  along time, modality and channel in turn — with :class:`PublishedCubeMLPBlock` (CubeMLP as
  published: the axes may shrink, e.g. time 100 -> 50 -> 10, projected residuals, LayerNorm along
  the mixed axis) or :class:`CubeMLPBlock` (shape-keeping blocks, LayerNorm over channels);
  :math:`h_f` is the mean over the (time, modality) positions of the output, (B, d); a linear
  head gives the score.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["CubeMLP", "CubeMLPBlock", "MIMRLModel", "PublishedCubeMLPBlock", "SequenceEncoder", "masked_mean", "resample_time"]

SEQUENCE_KINDS = ("gru", "lstm", "conv")
RNN_STYLES = ("compact", "published")
TEXT_PROJECTIONS = ("layernorm", "linear")
#: CubeMLP block kinds, by the name of the ``--fusion`` option.
FUSIONS = ("cube-shape-keeping", "cube-published")
ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


def _check_choice(value: str, choices, name: str) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}.")
    return value


def _time_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, max_len) bool, True at valid (t < length) positions."""
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def masked_mean(states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    r"""Mean of ``states`` (B, L, d) over the first ``lengths`` (B,) time steps: (B, d)."""
    mask = _time_mask(lengths, states.shape[1]).unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(dim=1) / lengths.clamp(min=1).unsqueeze(1).to(states.dtype)


def resample_time(states: torch.Tensor, lengths: torch.Tensor, length: int) -> torch.Tensor:
    r"""Bring each sequence to ``length`` steps by segment means over its *true* length.

    With true length :math:`n` and :math:`m = \min(n, L)`, valid step :math:`t < n` goes to
    bin :math:`\lfloor t\,m / n \rfloor`, and each bin is the mean of its steps: sequences
    with :math:`n \le L` are kept as they are (zero padded to :math:`L`), longer ones are
    averaged over :math:`m` contiguous segments — the whole utterance is seen, nothing is
    cropped. Padded steps are ignored.

    Args:
        states: (B, L_in, d).
        lengths: (B,) true lengths, 1 <= length <= L_in.
        length: target number of steps L.

    Returns:
        (B, L, d), zero after the first :math:`m` steps of each row.
    """
    batch, steps, dim = states.shape
    t = torch.arange(steps, device=states.device).unsqueeze(0)
    n = lengths.unsqueeze(1).to(t.dtype)
    m = n.clamp(max=length)
    bins = torch.where(t < n, t * m // n, torch.full_like(t, length))  # bin L collects padding, dropped below
    bins = bins.expand(batch, steps)
    sums = states.new_zeros(batch, length + 1, dim).scatter_add_(1, bins.unsqueeze(-1).expand(-1, -1, dim), states)
    counts = states.new_zeros(batch, length + 1).scatter_add_(1, bins, torch.ones_like(bins, dtype=states.dtype))
    return sums[:, :length] / counts[:, :length].clamp(min=1).unsqueeze(-1)


class SequenceEncoder(nn.Module):
    """Frame sequence (B, L, in_dim) with true lengths -> (B, L, d) states, zero at padding.

    ``kind="gru"`` / ``"lstm"``: ``layers``-layer bidirectional RNN run on the packed true
    lengths (padding never enters the recurrence). With ``style="compact"`` (default) it has
    ``d // 2`` units per direction, the two directions concatenated, dropout between the layers
    and PyTorch's initialisation; with ``style="published"`` (the authors' Model.py and
    Customization.py) ``d`` units per direction, the two directions *summed*, no dropout between
    the layers, and every recurrent matrix ``weight_hh`` orthogonally initialised.
    ``kind="conv"``: ``layers`` 1-D convolutions (kernel 3) with the padding masked to zero
    before each (``style`` does not apply). Then LayerNorm, ReLU and dropout.
    """

    def __init__(self, in_dim: int, d: int = 128, *, kind: str = "gru", layers: int = 2, dropout: float = 0.1, style: str = "compact") -> None:
        super().__init__()
        _check_choice(kind, SEQUENCE_KINDS, "encoder kind")
        self.style = _check_choice(style, RNN_STYLES, "rnn_style")
        summed = style == "published" and kind != "conv"
        if kind != "conv" and d % 2 and not summed:
            raise ValueError(f"d must be even for a bidirectional {kind} encoder (d // 2 units per direction); got {d}.")
        self.kind = kind
        if kind == "conv":
            widths = [in_dim] + [d] * layers
            self.convs = nn.ModuleList(nn.Conv1d(a, b, 3, padding=1) for a, b in itertools.pairwise(widths))
        else:
            rnn = nn.GRU if kind == "gru" else nn.LSTM
            between = dropout if layers > 1 and not summed else 0.0
            self.rnn = rnn(in_dim, d if summed else d // 2, num_layers=layers, batch_first=True, bidirectional=True, dropout=between)
            if summed:
                for name, weight in self.rnn.named_parameters():
                    if name.startswith("weight_hh"):
                        nn.init.orthogonal_(weight)
        # The authors' LayerNorms use eps 1e-6.
        self.out = nn.Sequential(nn.LayerNorm(d, eps=1e-6 if summed else 1e-5), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = _time_mask(lengths, frames.shape[1]).unsqueeze(-1)
        if self.kind == "conv":
            h = frames
            for conv in self.convs:
                h = torch.relu(conv((h * mask).transpose(1, 2))).transpose(1, 2)
        else:
            packed = pack_padded_sequence(frames, lengths.cpu(), batch_first=True, enforce_sorted=False)
            h, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=frames.shape[1])
            if self.style == "published":
                forward, backward = h.chunk(2, dim=-1)
                h = forward + backward
        return self.out(h) * mask


class CubeMLPBlock(nn.Module):
    r"""One shape-keeping CubeMLP block on a (B, L, M, D) cube: MLPs along time, modality, then channel.

    Each mixing is :math:`X \leftarrow \mathrm{LN}(X + \mathrm{MLP}_{axis}(X))` when the axis
    keeps its size, and :math:`X \leftarrow \mathrm{LN}(\mathrm{MLP}_{axis}(X))` when the block
    reshapes it (``out_shape`` differs from ``in_shape``); LayerNorm is over the channels.
    The MLPs are ``Linear -> activation -> Linear`` with hidden size ``expansion`` × the axis size.
    This is the example's own block (``--fusion cube-shape-keeping``); the published one is
    :class:`PublishedCubeMLPBlock`.
    """

    def __init__(
        self, in_shape: Sequence[int], out_shape: Sequence[int], *, expansion: int = 2, dropout: float = 0.1, activation: str = "gelu"
    ) -> None:
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        act = ACTIVATIONS[_check_choice(activation, ACTIVATIONS, "fusion activation")]
        self.mixers = nn.ModuleList(
            nn.Sequential(nn.Linear(a, expansion * max(a, b)), act(), nn.Dropout(dropout), nn.Linear(expansion * max(a, b), b))
            for a, b in zip(self.in_shape, self.out_shape)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(self.out_shape[2] if axis < 2 else b) for axis, b in enumerate(self.out_shape))

    def forward(self, cube: torch.Tensor) -> torch.Tensor:
        for axis, (mixer, norm) in enumerate(zip(self.mixers, self.norms)):
            dim = axis + 1  # cube axes: 1 time, 2 modality, 3 channel
            mixed = mixer(cube.transpose(dim, -1)).transpose(dim, -1)
            cube = norm(cube + mixed if self.in_shape[axis] == self.out_shape[axis] else mixed)
        return cube


class PublishedCubeMLPBlock(nn.Module):
    r"""One CubeMLP block as published (Sun et al., ACM MM 2022; the ``MLPsBlock`` of CubeMLP's MLPProcess.py).

    For the time, modality and channel axis in turn, with :math:`X` read with that axis last
    (size :math:`a` in, :math:`b` out):

    .. math::

        X \leftarrow \mathrm{LN}_b\big(\mathrm{Dropout}(W_2\,\sigma(W_1 X + c_1) + c_2) + P X\big),

    with :math:`W_1 \in \mathbb{R}^{b \times a}`, :math:`W_2 \in \mathbb{R}^{b \times b}` (the hidden
    width equals the output size), a residual projection :math:`P \in \mathbb{R}^{b \times a}`
    without bias on every axis (also where :math:`a = b`), :math:`\sigma` GELU or ReLU, and a
    LayerNorm (eps :math:`10^{-6}`) *along that axis* — over the :math:`b` time steps, the
    modalities, or the channels. So the block can shrink the time axis, e.g. (100, 3, 128) ->
    (50, 3, 128), and a stack of them reduces it (100 -> 50 -> 10).

    Shapes: (B, L, M, D) = (B, *in_shape) -> (B, *out_shape).
    """

    def __init__(self, in_shape: Sequence[int], out_shape: Sequence[int], *, activation: str = "gelu", dropout: float = 0.0) -> None:
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        act = ACTIVATIONS[_check_choice(activation, ACTIVATIONS, "fusion activation")]
        pairs = list(zip(self.in_shape, self.out_shape))
        self.mixers = nn.ModuleList(nn.Sequential(nn.Linear(a, b), act(), nn.Linear(b, b)) for a, b in pairs)
        self.residuals = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in pairs)
        self.norms = nn.ModuleList(nn.LayerNorm(b, eps=1e-6) for _, b in pairs)
        self.dropout = nn.Dropout(dropout)

    def forward(self, cube: torch.Tensor) -> torch.Tensor:
        for axis, (mixer, residual, norm) in enumerate(zip(self.mixers, self.residuals, self.norms)):
            x = cube.transpose(axis + 1, -1)  # the mixed axis last: 1 time, 2 modality, 3 channel
            cube = norm(self.dropout(mixer(x)) + residual(x)).transpose(axis + 1, -1)
        return cube


class CubeMLP(nn.Module):
    """A stack of CubeMLP blocks with the given (L, M, D) shapes, mean-pooled to (B, D_last).

    Args:
        shapes: cube shapes, first = the input (L, 3, d); each consecutive pair is one block.
            ``((50, 3, 128), (50, 3, 128), (50, 3, 128))`` = two shape-preserving blocks;
            ``((100, 3, 128), (50, 3, 128), (10, 3, 128))`` = the authors' MOSI fusion.
        block: ``"cube-shape-keeping"`` (:class:`CubeMLPBlock`, default) or ``"cube-published"``
            (:class:`PublishedCubeMLPBlock`).
        activation: ``"gelu"`` (default) or ``"relu"``, inside the MLPs.
        expansion: hidden size / axis size of :class:`CubeMLPBlock` (the published block's hidden
            width is its output size).
        dropout: inside the MLPs (default 0.1).
    """

    def __init__(
        self,
        shapes: Sequence[Sequence[int]],
        *,
        block: str = "cube-shape-keeping",
        activation: str = "gelu",
        expansion: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        shapes = [tuple(int(v) for v in s) for s in shapes]
        if len(shapes) < 2 or any(len(s) != 3 or min(s) < 1 for s in shapes):
            raise ValueError(f"shapes must list at least two (L, M, D) cube shapes of positive sizes; got {shapes}.")
        self.shapes = shapes
        if _check_choice(block, FUSIONS, "fusion") == "cube-published":
            blocks = [PublishedCubeMLPBlock(a, b, activation=activation, dropout=dropout) for a, b in itertools.pairwise(shapes)]
        else:
            blocks = [CubeMLPBlock(a, b, expansion=expansion, dropout=dropout, activation=activation) for a, b in itertools.pairwise(shapes)]
        self.blocks = nn.ModuleList(blocks)

    def forward(self, cube: torch.Tensor) -> torch.Tensor:
        if tuple(cube.shape[1:]) != self.shapes[0]:
            raise ValueError(f"CubeMLP expects cubes of shape (B, {', '.join(map(str, self.shapes[0]))}); got {tuple(cube.shape)}.")
        for block in self.blocks:
            cube = block(cube)
        return cube.mean(dim=(1, 2))


class MIMRLModel(nn.Module):
    r"""Encoders + CubeMLP fusion + head; returns the utterance vectors the MI terms act on.

    ``forward`` takes token states for text (from a cached or live BERT-family encoder,
    ``text_encoder`` below handles the live case) and frames for audio / visual, and returns
    ``{"t", "a", "v", "f": (B, d) utterance vectors, "score": (B,)}``.

    Args:
        text_dim, audio_dim, vision_dim: input widths (the text encoder's hidden size, d_a, d_v).
        d: model width (default 128).
        encoder: ``"gru"`` (default), ``"lstm"`` or ``"conv"`` for audio and visual.
        rnn_style: ``"compact"`` (default) or ``"published"``, see :class:`SequenceEncoder`.
        text_projection: ``"layernorm"`` (default: Linear, LayerNorm, ReLU, dropout) or
            ``"linear"`` (the authors': Linear without bias, dropout).
        fusion_len: common cube length L (default 50).
        fusion_blocks: number of shape-preserving CubeMLP blocks (default 2), or explicit
            ``fusion_shapes`` (a list of (L, 3, D) shapes starting at (fusion_len, 3, d) and
            ending with D = d, so that :math:`h_f` lives in the same space width as the :math:`h_m`).
        fusion: the CubeMLP block, ``"cube-shape-keeping"`` (default) or ``"cube-published"``.
        fusion_activation: ``"gelu"`` (default) or ``"relu"`` inside the CubeMLP.
        dropout: dropout of the encoders (default 0.1).
        fusion_dropout: dropout inside the CubeMLP (default None: ``dropout``).
        text_encoder: an optional live :class:`~examples.sentiment.text.TextEncoder`; when given,
            ``forward`` accepts ``input_ids`` / ``attention_mask`` instead of ``text`` states.
    """

    def __init__(
        self,
        text_dim: int,
        audio_dim: int,
        vision_dim: int,
        *,
        d: int = 128,
        encoder: str = "gru",
        rnn_style: str = "compact",
        text_projection: str = "layernorm",
        fusion_len: int = 50,
        fusion_blocks: int = 2,
        fusion_shapes: Sequence[Sequence[int]] | None = None,
        fusion: str = "cube-shape-keeping",
        fusion_activation: str = "gelu",
        dropout: float = 0.1,
        fusion_dropout: float | None = None,
        text_encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.d, self.fusion_len = d, fusion_len
        self.text_encoder = text_encoder
        if _check_choice(text_projection, TEXT_PROJECTIONS, "text_projection") == "linear":
            self.text_proj = nn.Sequential(nn.Linear(text_dim, d, bias=False), nn.Dropout(dropout))
        else:
            self.text_proj = nn.Sequential(nn.Linear(text_dim, d), nn.LayerNorm(d), nn.ReLU(), nn.Dropout(dropout))
        self.audio = SequenceEncoder(audio_dim, d, kind=encoder, dropout=dropout, style=rnn_style)
        self.vision = SequenceEncoder(vision_dim, d, kind=encoder, dropout=dropout, style=rnn_style)
        shapes = fusion_shapes or [(fusion_len, 3, d)] * (fusion_blocks + 1)
        if tuple(shapes[0]) != (fusion_len, 3, d) or shapes[-1][2] != d:
            raise ValueError(f"fusion_shapes must start at ({fusion_len}, 3, {d}) and end with D = {d}; got {list(shapes)}.")
        self.fusion = CubeMLP(shapes, block=fusion, activation=fusion_activation, dropout=dropout if fusion_dropout is None else fusion_dropout)
        self.head = nn.Linear(d, 1)

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per component (the live text encoder's only when the model holds one), and their ``"total"``."""
        parts = {
            "text encoder": self.text_encoder,
            "text projection": self.text_proj,
            "audio encoder": self.audio,
            "visual encoder": self.vision,
            "fusion": self.fusion,
            "head": self.head,
        }
        counts = {name: sum(p.numel() for p in part.parameters()) for name, part in parts.items() if part is not None}
        return {**counts, "total": sum(counts.values())}

    def text_states(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states (B, L_t, H) and lengths (B,) from cached states or the live encoder."""
        if "input_ids" in batch:
            if self.text_encoder is None:
                raise ValueError("the batch holds input_ids but the model has no text_encoder; pass cached text states or a TextEncoder.")
            states = self.text_encoder(batch["input_ids"], batch["attention_mask"])
            return states, batch["attention_mask"].sum(dim=1)
        return batch["text"].float(), batch["text_lengths"]

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        text, text_len = self.text_states(batch)
        mask = _time_mask(text_len, text.shape[1]).unsqueeze(-1)
        sequences = {
            "t": (self.text_proj(text) * mask, text_len),
            "a": (self.audio(batch["audio"], batch["audio_lengths"]), batch["audio_lengths"]),
            "v": (self.vision(batch["vision"], batch["vision_lengths"]), batch["vision_lengths"]),
        }
        out = {m: masked_mean(s, n) for m, (s, n) in sequences.items()}
        cube = torch.stack([resample_time(s, n, self.fusion_len) for s, n in sequences.values()], dim=2)
        out["f"] = self.fusion(cube)
        out["score"] = self.head(out["f"]).squeeze(-1)
        return out
