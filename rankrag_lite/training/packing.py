"""Packing with a shared system head: one copy of the system turn per packed row, many rows behind it.

Every blend row opens with the same ChatQA system turn (about 50 of a ranking row's ~190 tokens).
Plain packing computes that turn once per row; here rows that start with the same system turn are
packed as ``[head, rest_1, rest_2, ...]`` (at most ``max_length`` tokens), where ``rest_i`` is the
row's own token ids after the head, so each row is trained on exactly the tokens it would be alone:

* positions: the head has ``0 .. h-1``; every rest continues at ``h, h+1, ...``;
* attention: each rest sees the head and itself (causally), never another rest; rows without such a
  head (or whose head does not split cleanly off their tokens) form blocks of their own (positions
  from 0), attending only within themselves, as in plain padding-free packing;
* labels: ``-100`` on the head and on the first token of every block and rest (no token is
  predicted across a boundary).

The attention pattern is a function of ``position_ids`` alone (:func:`segment_mask`): a token at
position 0 opens a new block; a token whose position does not follow its predecessor's opens a
segment that continues at position ``p`` and so sees the first ``p`` tokens of its block (the head).
Plain padding-free rows (positions restarting at 0) therefore get the usual block-diagonal mask.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from rankrag_lite.modeling.chat import IGNORE, encode, render

#: attention implementations that take a custom 4D mask (bool for sdpa, additive float for eager)
MASK_IMPLEMENTATIONS = ("sdpa", "eager")


def system_head_length(tokenizer, messages: Sequence[dict], input_ids: Sequence[int],
                       labels: Sequence[int]) -> int:
    """Number of leading tokens of a row that are its system turn (template tokens included), or 0.

    The head is cut where the rendered system message ends; it is kept only when those tokens are
    exactly the row's first tokens (the tokenizer does not merge across the cut), none of them is
    trained, something follows it, and the first token after it is not trained either."""
    messages = list(messages)
    if not messages or messages[0].get("role") != "system":
        return 0
    head_text = render(tokenizer, messages[:1])
    if not render(tokenizer, messages).startswith(head_text):
        return 0
    head = encode(tokenizer, head_text)
    h = len(head)
    if h == 0 or len(input_ids) <= h or list(input_ids[:h]) != head:
        return 0
    if any(x != IGNORE for x in labels[: h + 1]):
        return 0
    return h


def _best_fit_decreasing(sizes: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices of ``sizes`` grouped into bins of at most ``capacity`` (largest first, tightest bin)."""
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, bin index), sorted
    for i in order:
        k = bisect.bisect_left(free, (sizes[i], -1))
        if k < len(free):
            room, b = free.pop(k)
        else:
            room, b = capacity, len(bins)
            bins.append([])
        bins[b].append(i)
        room -= sizes[i]
        if room > 0:
            bisect.insort(free, (room, b))
    return bins


def pack_shared_head(rows: Sequence[dict], max_length: int) -> list[dict]:
    """Packed rows ``{"input_ids", "labels", "position_ids"}`` of at most ``max_length`` tokens.

    ``rows`` are :func:`~rankrag_lite.training.data.tokenize_records` rows; ``row["head_len"]`` (0 or
    missing: no shared head) is the length of the row's system head (:func:`system_head_length`).
    Rows with the same head are packed best-fit-decreasing behind one copy of it; the others are
    packed best-fit-decreasing as blocks of their own."""
    groups: dict[tuple[int, ...], list[tuple[list[int], list[int]]]] = {}
    alone: list[dict] = []
    for r in rows:
        ids, labels, h = list(r["input_ids"]), list(r["labels"]), int(r.get("head_len", 0) or 0)
        if len(ids) > max_length:
            raise ValueError(f"a row of {len(ids)} tokens exceeds max_length={max_length}")
        if h <= 0:
            alone.append(r)
            continue
        head, rest, rest_labels = tuple(ids[:h]), ids[h:], labels[h:]
        assert list(head) + rest == ids, "head + rest must reproduce the row's token ids"
        groups.setdefault(head, []).append((rest, rest_labels))

    packed: list[dict] = []
    for head, rests in groups.items():
        h = len(head)
        for members in _best_fit_decreasing([len(x[0]) for x in rests], max_length - h):
            ids, labels, pos = list(head), [IGNORE] * h, list(range(h))
            for i in members:
                rest, rest_labels = rests[i]
                ids += rest
                labels += [IGNORE] + rest_labels[1:]
                pos += range(h, h + len(rest))
            packed.append({"input_ids": ids, "labels": labels, "position_ids": pos})
    for members in _best_fit_decreasing([len(r["input_ids"]) for r in alone], max_length):
        ids, labels, pos = [], [], []
        for i in members:
            r = alone[i]
            ids += r["input_ids"]
            labels += [IGNORE] + list(r["labels"][1:])
            pos += range(len(r["input_ids"]))
        packed.append({"input_ids": ids, "labels": labels, "position_ids": pos})
    return packed


def packing_stats(rows: Sequence[dict], packed: Sequence[dict]) -> dict:
    """Token counts of the rows one by one vs packed behind shared heads."""
    row_tokens = sum(len(r["input_ids"]) for r in rows)
    packed_tokens = sum(len(p["input_ids"]) for p in packed)
    return {
        "rows": len(rows),
        "rows_with_shared_head": sum(1 for r in rows if r.get("head_len", 0)),
        "packed_rows": len(packed),
        "row_tokens": row_tokens,
        "packed_tokens": packed_tokens,
        "tokens_saved_fraction": round(1 - packed_tokens / max(row_tokens, 1), 4),
    }


def to_packed_dataset(packed: Sequence[dict]):
    from datasets import Dataset

    return Dataset.from_dict({k: [p[k] for p in packed] for k in ("input_ids", "labels", "position_ids")})


def segment_starts(position_ids):
    """Bool tensor ``(batch, length)``: where a row or rest begins (position 0, or not following
    the previous token's position). Their count is the number of rows in a packed batch."""
    import torch

    start = torch.ones_like(position_ids, dtype=torch.bool)
    start[:, 1:] = position_ids[:, 1:] != position_ids[:, :-1] + 1
    return start


def segment_mask(position_ids, lengths=None):
    """Bool attention mask ``(batch, 1, length, length)`` (``True``: query attends to key) for packed
    ``position_ids`` (see the module docstring); tokens at or past ``lengths[b]`` are padding: no
    query attends to them and their own rows are all ``False``."""
    import torch

    batch, length = position_ids.shape
    pos = position_ids
    idx = torch.arange(length, device=pos.device)
    start = segment_starts(pos)
    seg = start.cumsum(1)
    block = (pos == 0).cumsum(1)
    first = torch.where(start, idx, torch.zeros_like(idx)).cummax(1).values
    start_pos = pos.gather(1, first)  # the position each token's segment continues from
    same_block = block[:, :, None] == block[:, None, :]
    same_seg = seg[:, :, None] == seg[:, None, :]
    sees_head = pos[:, None, :] < start_pos[:, :, None]
    causal = idx[None, :, None] >= idx[None, None, :]
    mask = causal & same_block & (same_seg | sees_head)
    if lengths is not None:
        real = idx[None, :] < torch.as_tensor(lengths, device=pos.device)[:, None]
        mask = mask & real[:, :, None] & real[:, None, :]
    return mask[:, None]


def mask_for_attention(mask, implementation: str, dtype):
    """The collator's bool mask in the form ``implementation`` takes: bool for sdpa, an additive
    float mask (0 / dtype min) for eager. Padding queries attend to themselves, so no row of the
    softmax is empty (an empty row gives NaN, which would reach the gradients)."""
    import torch

    if implementation not in MASK_IMPLEMENTATIONS:
        raise ValueError(f"a 4D attention mask needs attn_implementation in {MASK_IMPLEMENTATIONS}, "
                         f"got {implementation!r}")
    length = mask.shape[-1]
    mask = mask | torch.eye(length, dtype=torch.bool, device=mask.device)
    if implementation == "sdpa":
        return mask
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)


@dataclass
class SharedHeadCollator:
    """Batches of packed rows: right-padded ``input_ids`` / ``labels`` (-100) / ``position_ids`` (0)
    and the bool 4D ``attention_mask`` of :func:`segment_mask` (padding masked)."""

    pad_token_id: int

    def __call__(self, examples: Sequence[dict]) -> dict:
        import torch

        length = max(len(e["input_ids"]) for e in examples)
        lengths = [len(e["input_ids"]) for e in examples]

        def padded(key, value):
            return torch.tensor([list(e[key]) + [value] * (length - len(e[key])) for e in examples])

        position_ids = padded("position_ids", 0)
        return {
            "input_ids": padded("input_ids", self.pad_token_id),
            "labels": padded("labels", IGNORE),
            "position_ids": position_ids,
            "attention_mask": segment_mask(position_ids, lengths),
        }


#: SFTConfig settings for training on already-packed rows with :class:`SharedHeadCollator`
SFT_SETTINGS = {"packing": False, "remove_unused_columns": False,
                "dataset_kwargs": {"skip_prepare_dataset": True}}
