"""Packing behind a shared system head: the packer, positions and 4D mask on hand-made ids (fast), the
system-head cut on the real tokenizer (fast), and the real tiny model computing the same per-row loss
packed with a shared head as one row at a time."""

from __future__ import annotations

import json

import pytest
import torch

from rankrag_lite.modeling.chat import IGNORE, encode, render
from rankrag_lite.training.data import load_chat_records, tokenize_records
from rankrag_lite.training.packing import (SharedHeadCollator, mask_for_attention, pack_shared_head,
                                          packing_stats, segment_mask, segment_starts)

HEAD = [11, 12, 13]


def _row(ids, labels, head_len):
    return {"input_ids": list(ids), "labels": list(labels), "head_len": head_len}


def _allowed(blocks):
    """Expected mask from an explicit description: ``blocks`` is a list of (head indices, [segment
    indices, ...]); a segment token sees the head tokens and the earlier tokens of its own segment."""
    n = sum(len(h) + sum(len(s) for s in segs) for h, segs in blocks)
    m = torch.zeros(n, n, dtype=torch.bool)
    for head, segs in blocks:
        for q_i, q in enumerate(head):
            for k in head[: q_i + 1]:
                m[q, k] = True
        for seg in segs:
            for q_i, q in enumerate(seg):
                for k in head:
                    m[q, k] = True
                for k in seg[: q_i + 1]:
                    m[q, k] = True
    return m


def test_pack_positions_labels_and_mask_on_hand_made_ids():
    a = _row(HEAD + [21, 22], [IGNORE] * 4 + [22], 3)
    b = _row(HEAD + [31, 32, 33], [IGNORE] * 4 + [32, 33], 3)
    c = _row([41, 42], [IGNORE, 42], 0)  # no shared head: a block of its own
    packed = pack_shared_head([a, b, c], max_length=16)
    assert len(packed) == 2
    shared, alone = packed
    # best-fit-decreasing: the longer rest first; one copy of the head
    assert shared["input_ids"] == HEAD + [31, 32, 33] + [21, 22]
    assert shared["position_ids"] == [0, 1, 2, 3, 4, 5, 3, 4]
    assert shared["labels"] == [IGNORE] * 3 + [IGNORE, 32, 33] + [IGNORE, 22]
    assert alone == {"input_ids": [41, 42], "labels": [IGNORE, 42], "position_ids": [0, 1]}

    mask = segment_mask(torch.tensor([shared["position_ids"]]))[0, 0]
    expected = _allowed([([0, 1, 2], [[3, 4, 5], [6, 7]])])
    assert torch.equal(mask, expected)
    assert not mask[6, 3:6].any()  # the second rest never sees the first
    assert segment_starts(torch.tensor([shared["position_ids"]])).sum() == 2  # two rows trained


def test_plain_padding_free_positions_give_block_diagonal_mask():
    mask = segment_mask(torch.tensor([[0, 1, 2, 0, 1]]))[0, 0]
    assert torch.equal(mask, _allowed([([], [[0, 1, 2]]), ([], [[3, 4]])]))


def test_head_continuing_at_its_own_length_and_a_headless_block_in_one_row():
    # head of 2, two rests, then a block restarting at 0 with a head of 1 and one rest
    pos = torch.tensor([[0, 1, 2, 3, 2, 0, 1, 1]])
    mask = segment_mask(pos)[0, 0]
    assert torch.equal(mask, _allowed([([0, 1], [[2, 3], [4]]), ([5], [[6], [7]])]))


def test_collator_pads_and_masks_padding():
    packed = pack_shared_head([_row(HEAD + [21, 22], [IGNORE] * 4 + [22], 3),
                               _row([41, 42, 43], [IGNORE, 42, 43], 0)], max_length=8)
    batch = SharedHeadCollator(pad_token_id=0)(packed)
    assert batch["input_ids"].tolist() == [HEAD + [21, 22], [41, 42, 43, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE] * 4 + [22], [IGNORE, 42, 43, IGNORE, IGNORE]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 0, 0]]
    m = batch["attention_mask"]
    assert m.shape == (2, 1, 5, 5) and m.dtype == torch.bool
    assert not m[1, 0, 3:].any() and not m[1, 0, :, 3:].any()  # padding: no row, no column
    assert torch.equal(m[1, 0, :3, :3], torch.tril(torch.ones(3, 3, dtype=torch.bool)))
    assert int(m.diagonal(dim1=-2, dim2=-1).sum()) == 8  # the real tokens (what the trainer counts)
    # the model-side forms: padding queries see themselves only (no empty softmax row)
    sdpa = mask_for_attention(m, "sdpa", torch.float32)
    assert sdpa.dtype == torch.bool and sdpa[1, 0, 3].tolist() == [False, False, False, True, False]
    eager = mask_for_attention(m, "eager", torch.float32)
    assert eager.dtype == torch.float32
    assert torch.equal(eager == 0, sdpa) and (eager[~sdpa] == torch.finfo(torch.float32).min).all()
    with pytest.raises(ValueError, match="attn_implementation"):
        mask_for_attention(m, "flash_attention_2", torch.float32)


def _unpack(packed):
    """Rebuild the rows from packed rows: a segment continuing at position p is the first p tokens
    of its block (the head) followed by the segment; a segment at position 0 is a row by itself."""
    rows = []
    for p in packed:
        ids, pos = p["input_ids"], p["position_ids"]
        starts = [i for i in range(len(ids)) if i == 0 or pos[i] != pos[i - 1] + 1]
        block = 0
        for s, e in zip(starts, starts[1:] + [len(ids)]):
            if pos[s] == 0:
                block = s
            rows.append(ids[block: block + pos[s]] + ids[s:e])
    return rows


def test_bfd_fits_max_length_and_keeps_every_row():
    import random

    rng = random.Random(0)
    rows = []
    for i in range(60):
        n = rng.randint(2, 40)
        rest = [100 + rng.randint(0, 50) for _ in range(n)]
        labels = [IGNORE] + rest[1:]
        if i % 4 == 0:
            rows.append(_row(rest, labels, 0))
        else:
            rows.append(_row(HEAD + rest, [IGNORE] * 3 + labels, 3))
    packed = pack_shared_head(rows, max_length=64)
    assert all(len(p["input_ids"]) <= 64 for p in packed)
    assert sorted(map(tuple, _unpack(packed))) == sorted(tuple(r["input_ids"]) for r in rows)
    st = packing_stats(rows, packed)
    assert st["rows_with_shared_head"] == 45
    # one head per packed shared row instead of one per row
    n_shared_packed = sum(1 for p in packed if p["input_ids"][:3] == HEAD)
    assert st["row_tokens"] - st["packed_tokens"] == 3 * (45 - n_shared_packed)


# ---------------------------------------------------------------- the real tokenizer and model


@pytest.fixture(scope="module")
def tok(tiny_model_path):
    from rankrag_lite.modeling.loading import load_tokenizer

    return load_tokenizer(tiny_model_path)


def test_system_head_is_cut_at_the_end_of_the_system_turn(tok, fixtures):
    records = load_chat_records(fixtures / "blend_tiny.jsonl")
    rows = tokenize_records(tok, records, 512, system_head=True)
    by_ids = {tuple(tokenize_records(tok, [r], 512)[0]["input_ids"]): r for r in records}
    with_head = [r for r in rows if r["head_len"]]
    assert len(with_head) >= 40
    for row in rows:
        msgs = by_ids[tuple(row["input_ids"])]["messages"]
        if msgs[0]["role"] != "system":
            assert row["head_len"] == 0
            continue
        head = encode(tok, render(tok, msgs[:1]))
        h = row["head_len"]
        assert h == len(head) and row["input_ids"][:h] == head
        assert tok.decode(row["input_ids"][:h]).endswith("<|im_end|>\n")
        assert tok.decode(row["input_ids"][h:]).startswith("<|im_start|>user")
        assert all(x == IGNORE for x in row["labels"][: h + 1])
    # one head shared by all of them: the ChatQA system turn
    assert len({tuple(r["input_ids"][: r["head_len"]]) for r in with_head}) == 1
    packed = pack_shared_head(rows, 512)
    st = packing_stats(rows, packed)
    h = with_head[0]["head_len"]
    n_shared = sum(1 for p in packed if p["input_ids"][:h] == with_head[0]["input_ids"][:h])
    assert st["row_tokens"] - st["packed_tokens"] == h * (len(with_head) - n_shared)
    assert st["tokens_saved_fraction"] > 0.1  # 2-3 rows of ~200 tokens per 512: one head of ~50 each


def _row_nll(model, ids, labels, position_ids=None, attention_mask=None):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), position_ids=position_ids,
                       attention_mask=attention_mask, use_cache=False).logits[0, :-1].float()
    tgt = torch.tensor(labels[1:])
    lp = torch.log_softmax(logits, -1).gather(-1, tgt.clamp(min=0)[:, None])[:, 0]
    return -lp, tgt != IGNORE


def _per_row_losses(model, packed_row, mask):
    """Mean NLL of each row (segment) of one packed row, under ``mask`` (None: no 4D mask)."""
    pos = torch.tensor([packed_row["position_ids"]])
    nll, trained = _row_nll(model, packed_row["input_ids"], packed_row["labels"], pos, mask)
    starts = segment_starts(pos)[0].nonzero()[:, 0].tolist() + [len(packed_row["input_ids"])]
    out = []
    for s, e in zip(starts, starts[1:]):
        # nll[p] scores token p + 1: the row's labelled tokens s+1 .. e-1 are scored at s .. e-2
        sel = trained[s: e - 1]
        out.append(float(nll[s: e - 1][sel].mean()))
    return out


def test_shared_head_packing_gives_each_rows_own_loss(tiny_model, fixtures):
    """Rows packed behind one copy of the system turn (4D mask, continued positions) score every
    trained token as the row does alone; without the mask they do not (the test can fail)."""
    model, tok = tiny_model
    records = [json.loads(x) for x in (fixtures / "blend_tiny.jsonl").read_text().splitlines()]
    records = [r for r in records if r["part"] in ("ranking", "context_qa")][:4] + \
        [r for r in records if r["part"] == "ra_ranking"][:1]
    rows = tokenize_records(tok, records, 1024, system_head=True)
    assert all(r["head_len"] > 0 for r in rows)
    packed = pack_shared_head(rows, 1024)
    assert len(packed) == 1 and len(packed[0]["input_ids"]) < sum(len(r["input_ids"]) for r in rows)
    p = packed[0]
    # the rows in packing order (head + each rest)
    order = [next(r for r in rows if r["input_ids"] == ids) for ids in _unpack(packed)]
    assert len(order) == len(rows)
    alone = []
    for r in order:
        nll, trained = _row_nll(model, r["input_ids"], r["labels"])
        alone.append(float(nll[trained].mean()))

    mask = SharedHeadCollator(tok.pad_token_id)([p])["attention_mask"]
    for impl in ("sdpa", "eager"):  # the bool mask, and the additive float form (sdpa takes both)
        shared = _per_row_losses(model, p, mask_for_attention(mask, impl, torch.float32))
        assert max(abs(a - b) for a, b in zip(shared, alone)) < 1e-4, (impl, shared, alone)
    # without the mask, transformers splits the row where positions restart: later rows lose the head
    unmasked = _per_row_losses(model, p, None)
    assert max(abs(a - b) for a, b in zip(unmasked[1:], alone[1:])) > 1e-2


# ---------------------------------------------------------------- where it cannot run: one-line errors


@pytest.mark.parametrize("stage2, extra, needle", [
    ("{share_system_head: true, packing: false}", [], "packing: true"),
    ("{share_system_head: true}", ["--backend", "unsloth"], "hf backend"),
])
def test_share_system_head_where_it_cannot_run(tmp_path, fixtures, stage2, extra, needle):
    from typer.testing import CliRunner

    from rankrag_lite.cli import app

    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"finetune:\n  backend: hf\n  model: smollm2-135m\n  stage2: {stage2}\n")
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["finetune", "--stage", "2", "--recipe", str(recipe), "--data",
                                   str(fixtures / "blend_tiny.jsonl"), "--out", str(out), *extra])
    err = res.stderr if hasattr(res, "stderr") else res.output
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert res.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0] and "share_system_head" in lines[0]
    assert not out.exists() and not (tmp_path / ".o.work").exists()


@pytest.mark.slow
def test_finetune_with_a_shared_system_head(tmp_path, fixtures, tiny_model_path):
    """Stage 2 through the CLI with ``share_system_head: true``: it trains (the loss on the probe rows
    goes down) and its summary counts the tokens the shared head saved. The issue-12 recipe's
    warmup-stable-decay rate rides along: ``decay_ratio`` becomes the schedule's num_decay_steps (2 of 3)."""
    from typer.testing import CliRunner

    from rankrag_lite.cli import app

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "seed: 3\nfinetune:\n  backend: hf\n  model: " + tiny_model_path + "\n  max_length: 512\n"
        "  lora: {r: 8, alpha: 16}\n  stage2: {max_examples: 12, batch_size: 1, lr: 2.0e-3, max_steps: 3,"
        " save_steps: 10, warmup_ratio: 0.0, scheduler: warmup_stable_decay,"
        " decay_ratio: 0.67, share_system_head: true}\n")
    out = tmp_path / "s2"
    res = CliRunner().invoke(app, ["finetune", "--stage", "2", "--recipe", str(recipe), "--data",
                                   str(fixtures / "blend_tiny.jsonl"), "--out", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["global_step"] == 3 and summary["packing"] is True
    shared = summary["shared_system_head"]
    assert shared["rows"] == summary["data"]["examples"] and shared["rows_with_shared_head"] > 0
    assert shared["packed_tokens"] < shared["row_tokens"]
    assert 0 < summary["tokens_this_run"] <= 3 * 512
    assert summary["probe_loss_after"] < summary["probe_loss_before"]
    # one stable step, then a cosine decay over two (the rate logged at step k is the one it ran at)
    lrs = [json.loads(x)["learning_rate"] for x in (out / "train_log.jsonl").read_text().splitlines()
           if "loss" in json.loads(x)]
    assert lrs == pytest.approx([2e-3, 2e-3, 1e-3])
