"""rankrag_lite.training.gpu_profile: the notebooks' GPU profile from the GPU found (name, else memory
and compute capability), and the recipe it writes (effective batch kept, five-passage rows kept)."""

from __future__ import annotations

import pytest

from rankrag_lite.recipes import load_recipe
from rankrag_lite.errors import RankragError
from rankrag_lite.training.gpu_profile import (PROFILES, GpuIdentity, choose_profile, parse_nvidia_smi,
                                               profile_recipe)
from rankrag_lite.training.config import stage_config

# names, memory and capability as torch.cuda reports them on each card
CARDS = {
    "Tesla T4": (14.7, (7, 5), "T4"),
    "NVIDIA L4": (22.0, (8, 9), "L4"),
    "NVIDIA A100-SXM4-40GB": (39.4, (8, 0), "A100-40GB"),
    "NVIDIA A100-SXM4-80GB": (79.2, (8, 0), "A100-80GB"),
    "NVIDIA H100 80GB HBM3": (79.2, (9, 0), "H100"),
}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_profile_by_name(name):
    mem, cc, expect = CARDS[name]
    assert choose_profile({"name": name, "memory_gib": mem, "capability": list(cc)}).name == expect


@pytest.mark.parametrize("name", sorted(CARDS))
def test_profile_by_memory_and_capability_when_the_name_is_unknown(name):
    mem, cc, expect = CARDS[name]
    assert choose_profile(GpuIdentity("GPU-1234", mem, cc)).name == expect


def test_a_gpu_too_small_is_refused_and_a_bad_identity_is_an_error():
    with pytest.raises(RankragError, match="needs about"):
        choose_profile(GpuIdentity("Tesla K80", 11.2, (3, 7)))
    with pytest.raises(RankragError, match="capability"):
        choose_profile({"name": "T4"})


def test_every_profile_keeps_the_five_passage_rows():
    # the RA rows need up to ~1,500 Llama 3 tokens (scripts/row_lengths.py, docs/recipes.md)
    assert all(p.max_length >= 1536 for p in PROFILES.values())


@pytest.mark.parametrize("recipe", ["recipes/llama3-8b-qlora.yaml", "recipes/tiny-cpu.yaml"])
def test_profile_recipe_keeps_the_effective_batch(recipe, tmp_path):
    before = load_recipe(recipe)
    out = profile_recipe(recipe, PROFILES["T4"], tmp_path / "r.yaml")
    after = load_recipe(out)
    assert "T4 GPU profile" in out.read_text().splitlines()[0]
    for stage in (1, 2):
        a, b = stage_config(before, stage), stage_config(after, stage)
        assert b.max_length == 2048 and b.batch_size == min(1, a.batch_size)
        assert b.batch_size * b.grad_accum == a.batch_size * a.grad_accum
        assert (b.lr, b.max_steps, b.model) == (a.lr, a.max_steps, a.model)  # nothing else moves


def test_nvidia_smi_line_parses_into_the_identity_the_profile_reads():
    # nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv,noheader,nounits on a Colab T4
    g = parse_nvidia_smi("Tesla T4, 15360, 7.5")
    assert g == GpuIdentity("Tesla T4", 15.0, (7, 5)) and choose_profile(g).name == "T4"
    assert choose_profile(parse_nvidia_smi("NVIDIA H100 80GB HBM3, 81559, 9.0")).name == "H100"
