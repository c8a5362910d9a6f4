"""``rankrag-lite finetune --stage 1|2``: QLoRA/LoRA SFT through TRL's SFTTrainer.

Output folder (appears only when the run completes)::

    OUT/adapter/          LoRA adapter + tokenizer (chat template included)
    OUT/merged/           the merged model (when the stage's ``merge: true``; Stage 2 starts from it),
                          written after OUT is complete: a failed merge leaves the adapter, and
                          ``rankrag-lite merge OUT`` redoes it alone
    OUT/plan.json         the plan printed before training (steps, tokens, passes, memory estimate)
    OUT/recipe.yaml       the resolved settings of this run + the recipe file it came from
    OUT/train_log.jsonl   one line per logging step: step, loss, learning_rate, grad_norm, ...
    OUT/loss.png          the loss curve
    OUT/summary.json      steps, tokens, tokens/s, probe loss before/after, resumed_from, ...
    OUT/snapshots/step-N/ the adapter at each save (when the stage's ``snapshot_adapters: true``)
    OUT/start-model/      the adapters' base when the run started from a bare LoRA adapter (merged
                          first; kept, since the adapters name it as their base)

While training, everything lives in the hidden sibling ``.OUT.work/`` (checkpoints, the running log);
``--resume`` continues from its last checkpoint. An interrupted run therefore never leaves an ``OUT``
that looks complete.

Batches: with ``packing`` (default) examples are packed best-fit-decreasing into rows of at most
``max_length`` tokens and run padding-free (block-diagonal attention through ``position_ids``), so no
compute goes to padding; ``batch_size`` then counts packed rows. Without packing, batches are
length-grouped. TRL's fused LM head projects only the positions whose label is trained.

With the stage's ``share_system_head: true`` (hf backend, packing on) rows that open with the same
system turn are packed behind one copy of it, with a 4D attention mask that keeps the rows apart
(:mod:`rankrag_lite.training.packing`): the ChatQA system text every blend row repeats is computed
once per packed row instead of once per example.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from pathlib import Path

import yaml

from rankrag_lite.errors import RankragError
from rankrag_lite.io import atomic_dir, clean_leftovers, output_lock, write_json
from rankrag_lite.modeling.chat import IGNORE
from rankrag_lite.modeling.loading import finetune_output_model, resolve_model
from rankrag_lite.progress import log
from rankrag_lite.training.config import StageConfig, trl_arguments

PROBE_EXAMPLES = 8


def work_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.work"


def last_checkpoint(ckpt_root: Path) -> Path | None:
    if not ckpt_root.is_dir():
        return None
    found = []
    for p in ckpt_root.iterdir():
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and (p / "trainer_state.json").exists():
            found.append((int(m.group(1)), p))
    return max(found)[1] if found else None


def resolve_start_model(cfg: StageConfig, work: Path) -> str:
    """The model a stage trains on: a model folder / hub name / alias, or a finetune output / adapter
    (merged first: Stage 2 starts from the merged Stage-1 model)."""
    path = Path(cfg.model).expanduser()
    inner = finetune_output_model(path) if path.is_dir() else None  # the one "merged first" rule
    if inner is not None and inner.name == "merged":
        return str(inner)
    if inner is not None or (path / "adapter_config.json").exists():
        from rankrag_lite.training.merge import merge_adapter

        dest = work / "start-model"
        if not (dest / "config.json").exists():
            log(f"merging the adapter in {path} to start from it")
            merge_adapter(path, dest)
        return str(dest)
    return resolve_model(cfg.model)


def probe_loss(model, rows: list[dict]) -> float:
    """Mean loss over the trained (assistant) tokens of ``rows``, one example at a time."""
    import torch

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    dev = next(model.parameters()).device
    with torch.no_grad():
        for r in rows:
            ids = torch.tensor([r["input_ids"]], device=dev)
            labels = torch.tensor([r["labels"]], device=dev)
            logits = model(input_ids=ids).logits[:, :-1].float()
            tgt = labels[:, 1:]
            mask = tgt != IGNORE
            lp = torch.log_softmax(logits, -1).gather(-1, tgt.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            total += float(-(lp * mask).sum())
            count += int(mask.sum())
    if was_training:
        model.train()
    return total / max(count, 1)


def check_shared_head(cfg: StageConfig, backend: str) -> None:
    """``share_system_head`` runs only where its 4D attention mask does: the hf backend, packing on."""
    if not cfg.share_system_head:
        return
    key = f"finetune.stage{cfg.stage}.share_system_head"
    if not cfg.packing:
        raise RankragError(f"{key} packs rows behind one system turn: it needs packing: true")
    if backend != "hf":
        raise RankragError(f"{key} needs the hf backend (Unsloth's attention does not take its 4D mask); "
                           "use --backend hf or set it to false")


def _sft_config(cfg: StageConfig, backend: str, ckpt_root: Path, on_cuda: bool):
    from trl import SFTConfig

    from rankrag_lite.training.plan import effective_packing, micro_and_accum

    packing = effective_packing(cfg, backend, on_cuda)
    micro, accum = micro_and_accum(cfg, packing, on_cuda)
    kwargs = dict(
        trl_arguments(cfg),  # lr -> learning_rate, epochs -> num_train_epochs, ... (training/config.py says)
        output_dir=str(ckpt_root),
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accum,
        save_strategy="steps",
        data_seed=cfg.seed,
        packing=packing,
        packing_strategy="bfd",
        gradient_checkpointing=cfg.gradient_checkpointing and backend != "unsloth",
        bf16=False,
        fp16=False,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataset_num_proc=None,
        use_cpu=not on_cuda,
        save_only_model=False,
    )
    if on_cuda:
        import torch

        from rankrag_lite.modeling.loading import default_dtype

        kwargs["bf16"] = default_dtype("cuda") == torch.bfloat16  # native bf16 only (sm80+): fp16 on a T4
        kwargs["fp16"] = not kwargs["bf16"]
    if packing and cfg.share_system_head:  # rows come packed (training.packing), TRL packs nothing
        from rankrag_lite.training.packing import SFT_SETTINGS

        kwargs.update(SFT_SETTINGS)
    if not packing:
        kwargs["train_sampling_strategy"] = "group_by_length"
    return SFTConfig(**kwargs), packing


def set_decay_steps(trainer, cfg: StageConfig) -> None:
    """``decay_ratio`` as warmup_stable_decay's ``num_decay_steps``: a share of the optimizer steps this
    run takes (counted as transformers counts them, once the trainer holds its data)."""
    kwargs = trainer.args.lr_scheduler_kwargs or {}
    if cfg.scheduler != "warmup_stable_decay" or "num_decay_steps" in kwargs:
        return
    from rankrag_lite.training.plan import optimizer_steps

    args = trainer.args
    batches = len(trainer.get_train_dataloader()) if args.max_steps <= 0 else 0
    total = optimizer_steps(batches, args.gradient_accumulation_steps, args.num_train_epochs, args.max_steps)
    # a new dict: trl_arguments passed cfg's own, which OUT/recipe.yaml records as the recipe gave it
    decay = max(1, round(cfg.decay_ratio * total))
    args.lr_scheduler_kwargs = {**kwargs, "num_decay_steps": decay}
    log(f"warmup_stable_decay: the last {decay} of {total} steps decay")


def _check_scheduler(cfg: StageConfig) -> None:
    from transformers.trainer_utils import SchedulerType

    names = [t.value for t in SchedulerType]
    if cfg.scheduler not in names:
        raise RankragError(f"finetune.stage{cfg.stage}.scheduler: unknown schedule {cfg.scheduler!r}; "
                           f"one of {names}")


def finetune(cfg: StageConfig, out: str | Path, *, recipe_path: str | Path | None = None,
             recipe: dict | None = None, resume: bool = False, dry_run: bool = False):
    """Run one stage; returns the output folder (with ``dry_run``: the :class:`TrainingPlan`, made and
    printed without loading the model or writing anything).

    The run owns ``out`` (:func:`~rankrag_lite.io.output_lock`): a second run on the same folder
    stops at once with one line naming this one. A run that fails before its first checkpoint
    leaves no ``.OUT.work`` behind (there is nothing to ``--resume``). The adapter lands in ``OUT``
    before the merge starts: a merge that fails leaves ``OUT/adapter`` (``rankrag-lite merge OUT``
    redoes it alone)."""
    if not isinstance(cfg, StageConfig):
        raise TypeError(f"cfg must be a StageConfig (rankrag_lite.training.config.stage_config), "
                        f"got {type(cfg).__name__}")
    cfg.validate()  # again: a field may have been set since it was built (the notebooks do)
    out = Path(out)
    if dry_run:
        return _prepare(cfg, out)[0]
    with output_lock(out):
        clean_leftovers(out)
        try:
            return _finetune(cfg, out, recipe_path=recipe_path, recipe=recipe, resume=resume)
        except BaseException:
            work = work_dir(out)
            if work.exists() and last_checkpoint(work / "checkpoints") is None:
                shutil.rmtree(work, ignore_errors=True)
            raise


def train_loss_over_all_steps(training_loss: float, global_step: int, resumed_step: int,
                              log_history: list[dict]) -> tuple[float, int]:
    """Mean training loss over every step of a run that was resumed at ``resumed_step``.

    transformers' ``training_loss`` of a resumed run sums only this run's losses but divides by all
    steps. This run's sum is ``training_loss * global_step``; the steps before the resume come from
    the checkpoint's ``log_history`` (each logged loss is the mean over the steps since the previous
    log). Returns ``(mean loss, steps it covers)``: steps between the last log and the checkpoint
    have no recorded loss and are left out."""
    this_sum = training_loss * max(global_step, 0.001)
    before_sum, covered, prev = 0.0, 0, 0
    for entry in sorted((e for e in log_history if "loss" in e and "step" in e), key=lambda e: e["step"]):
        if entry["step"] > resumed_step:
            break
        span = entry["step"] - prev
        before_sum += float(entry["loss"]) * span
        covered += span
        prev = entry["step"]
    steps = covered + (global_step - resumed_step)
    return (before_sum + this_sum) / max(steps, 1), steps


def _prepare(cfg: StageConfig, out: Path):
    """Everything checkable before a weight loads or a file is written: the data, the backend, the
    tokenised rows, the plan (printed) and its checks. Returns ``(plan, cfg, backend, records, rows,
    stats, tokenizer)``; ``cfg`` carries the steps the plan decided."""
    from rankrag_lite.modeling.loading import check_max_length, load_tokenizer
    from rankrag_lite.training.backends import device, resolve_training_backend
    from rankrag_lite.training.data import data_stats, load_chat_records, tokenize_records
    from rankrag_lite.training.plan import (check_merge_disk, check_plan, load_config, make_plan, model_source,
                                            tokenizer_source)

    if cfg.data is None:
        raise RankragError(f"no training data: pass --data or set finetune.stage{cfg.stage}.data")
    backend = resolve_training_backend(cfg)  # imports unsloth (first, before transformers) on its backend
    check_shared_head(cfg, backend)
    _check_scheduler(cfg)
    records = load_chat_records(cfg.data, cfg.max_examples, cfg.seed)
    if not Path(cfg.model).expanduser().is_dir():
        resolve_model(cfg.model)  # unknown model -> one-line error now
    config = load_config(model_source(cfg))
    capped = check_max_length(config, cfg.max_length, option=f"finetune.stage{cfg.stage} max_length")
    if capped != cfg.max_length:
        cfg = dataclasses.replace(cfg, max_length=capped)
    tok = load_tokenizer(tokenizer_source(cfg))
    rows = tokenize_records(tok, records, cfg.max_length, cfg.last_turn_only,
                            system_head=cfg.share_system_head)
    stats = data_stats(records, rows)
    plan, cfg = make_plan(cfg, backend, device() == "cuda", records, rows, stats, config)
    check_merge_disk(cfg, out, plan)
    for line in plan.lines():
        log(line)
    check_plan(plan, cfg)
    return plan, cfg, backend, records, rows, stats, tok


def _finetune(cfg: StageConfig, out: Path, *, recipe_path: str | Path | None,
              recipe: dict | None, resume: bool) -> Path:
    """The run, step by step: checks and plan, work folder, model, data, trainer, training, outputs,
    merge."""
    from rankrag_lite.training.backends import build_model

    plan, cfg, backend, records, rows, stats, plan_tok = _prepare(cfg, out)
    work, resume_from = _open_work_folder(cfg, out, backend, resume)
    start_model = resolve_start_model(cfg, work)
    log(f"stage {cfg.stage}: {backend} backend, model {start_model}")
    model, tok = build_model(cfg, backend, start_model)
    if getattr(tok, "chat_template", None) != getattr(plan_tok, "chat_template", None):
        # the backend's tokenizer renders otherwise than the one the plan counted with: its own rows
        from rankrag_lite.training.data import tokenize_records

        rows = tokenize_records(tok, records, cfg.max_length, cfg.last_turn_only,
                                system_head=cfg.share_system_head)
    data, shared = _train_data(cfg, model, tok, rows)
    probe = rows[:PROBE_EXAMPLES]
    probe_before = probe_loss(model, probe)
    trainer, packing = _build_trainer(cfg, backend, model, tok, work, data, shared)
    run = _train(trainer, resume_from)
    probe_after = probe_loss(trainer.model, probe)
    # a run that started from a bare adapter trained on a merge of it inside the work folder, which goes:
    # that merge is kept as OUT/start-model, the base its adapters name
    keep_start = _inside(start_model, work)
    base = str(Path(out).resolve() / "start-model") if keep_start else start_model
    summary = {
        "stage": cfg.stage, "backend": backend, "method": cfg.method,
        "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "device": run["device"], "start_model": base, "global_step": trainer.state.global_step,
        "resumed_from": resume_from.name if resume_from else None,
        "train_loss": run["train_loss"], "train_loss_steps": run["loss_steps"],
        "probe_examples": len(probe), "probe_loss_before": probe_before, "probe_loss_after": probe_after,
        "packing": packing, "shared_system_head": shared, "tokens_this_run": run["tokens"],
        "wall_s_this_run": run["wall_s"], "tokens_per_s_this_run": run["tokens_per_s"], "data": stats,
        **({"peak_vram_gib": run["peak_vram_gib"]} if "peak_vram_gib" in run else {}),
    }
    resolved = {"finetune_run": {**dataclasses.asdict(cfg), "backend": backend}, "start_model": base}
    if recipe is not None:
        resolved["recipe"] = recipe
    if recipe_path is not None:
        resolved["recipe_file"] = str(recipe_path)
    _write_outputs(out, work, cfg, trainer.model, tok, start_model=start_model, base=base, keep_start=keep_start,
                   files={"summary.json": summary, "plan.json": plan.as_dict()}, resolved=resolved,
                   title=f"stage {cfg.stage} ({backend})")
    shutil.rmtree(work, ignore_errors=True)
    log(f"stage {cfg.stage} done: {trainer.state.global_step} steps, probe loss "
        f"{probe_before:.4f} -> {probe_after:.4f}; adapter in {out / 'adapter'}")
    if cfg.merge and cfg.method != "full":
        del trainer, model  # the merge streams the base from disk: free the trained model first
        _free_memory()
        merge_run(out)
    return out


def _open_work_folder(cfg: StageConfig, out: Path, backend: str, resume: bool) -> tuple[Path, Path | None]:
    """The hidden ``.OUT.work`` folder of this run (fresh, or kept with ``--resume`` when it belongs to
    the same run), and the checkpoint to resume from."""
    work = work_dir(out)
    resume_from = last_checkpoint(work / "checkpoints") if resume else None
    if resume and resume_from is None:
        log(f"--resume: no checkpoint in {work}; starting from scratch")
    if resume_from is None and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    run_record = {"stage": cfg.stage, "model": cfg.model, "data": str(cfg.data), "backend": backend}
    run_file = work / "run.json"
    if resume_from is not None and run_file.exists():
        old = json.loads(run_file.read_text())
        if old != run_record:
            raise RankragError(f"--resume: {work} belongs to another run ({old}); drop --resume to restart")
    write_json(run_file, run_record)
    return work, resume_from


def _train_data(cfg: StageConfig, model, tok, rows: list[dict]) -> tuple[dict, dict | None]:
    """The trainer's data arguments: the token rows (TRL packs them), or rows packed behind a shared
    system head with their collator; and the shared head's packing statistics (``None`` without)."""
    from rankrag_lite.training.data import to_dataset

    if not cfg.share_system_head:
        return {"train_dataset": to_dataset(rows)}, None
    from rankrag_lite.training.packing import (MASK_IMPLEMENTATIONS, SharedHeadCollator, pack_shared_head,
                                               packing_stats, to_packed_dataset)

    impl = model.config._attn_implementation
    if impl not in MASK_IMPLEMENTATIONS:
        raise RankragError(f"finetune.stage{cfg.stage}.share_system_head needs sdpa or eager attention, "
                           f"the model uses {impl}")
    packed = pack_shared_head(rows, cfg.max_length)
    shared = packing_stats(rows, packed)
    log(f"shared system head: {shared['rows_with_shared_head']} of {shared['rows']} rows behind one head, "
        f"{shared['packed_rows']} packed rows, {shared['packed_tokens']} tokens instead of "
        f"{shared['row_tokens']} ({100 * shared['tokens_saved_fraction']:.1f}% fewer)")
    return {"train_dataset": to_packed_dataset(packed), "data_collator": SharedHeadCollator(tok.pad_token_id)}, shared


def _build_trainer(cfg: StageConfig, backend: str, model, tok, work: Path, data: dict, shared: dict | None):
    """TRL's SFTTrainer (or the kit's selective-head subclass) with the run's logs and callbacks;
    returns ``(trainer, packing)``."""
    from trl import SFTTrainer

    from rankrag_lite.training.backends import device
    from rankrag_lite.training.callbacks import AdapterSnapshotCallback, JsonlLogCallback, ProgressCallback
    from rankrag_lite.training.sft import SelectiveHeadSFTTrainer, trl_kernels_available

    # Unsloth brings its own loss path (on CPU it replaces TRL's Triton kernels); the hf backend
    # uses TRL's fused head where its kernels load, the selective-head loss otherwise (CPU).
    # Rows packed behind a shared head need the selective-head loss, which takes their 4D mask.
    trainer_cls = SFTTrainer if (backend == "unsloth" or trl_kernels_available()) else SelectiveHeadSFTTrainer
    if shared is not None:
        trainer_cls = SelectiveHeadSFTTrainer
    args, packing = _sft_config(cfg, backend, work / "checkpoints", device() == "cuda")
    trainer = trainer_cls(model=model, args=args, processing_class=tok,
                          callbacks=[JsonlLogCallback(work / "train_log.jsonl"), ProgressCallback(f"stage {cfg.stage}")],
                          **data)
    set_decay_steps(trainer, cfg)
    if cfg.snapshot_adapters:
        trainer.add_callback(AdapterSnapshotCallback(work / "snapshots"))
    return trainer, packing


def _train(trainer, resume_from: Path | None) -> dict:
    """Train (from ``resume_from`` when given); the loss over every step, tokens, time and peak VRAM."""
    import torch

    from rankrag_lite.training.backends import device

    on_cuda = device() == "cuda"
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    # read now: checkpoint rotation (save_total_limit) may delete the resumed checkpoint while training
    resumed_state = json.loads((resume_from / "trainer_state.json").read_text()) if resume_from else None
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    wall = time.time() - t0
    train_loss, loss_steps = result.training_loss, trainer.state.global_step
    if resumed_state is not None:
        train_loss, loss_steps = train_loss_over_all_steps(
            result.training_loss, trainer.state.global_step, int(resumed_state.get("global_step", 0)),
            resumed_state.get("log_history", []))
    tokens = getattr(trainer, "_total_train_tokens", None)
    run = {"device": device(), "train_loss": train_loss, "loss_steps": loss_steps, "tokens": tokens,
           "wall_s": round(wall, 2), "tokens_per_s": round(tokens / wall, 1) if tokens and wall > 0 else None}
    if on_cuda:
        run["peak_vram_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return run


def _write_outputs(out: Path, work: Path, cfg: StageConfig, model, tok, *, start_model: str, base: str,
                   keep_start: bool, files: dict, resolved: dict, title: str) -> None:
    """``OUT`` written atomically: the adapter (or the fully trained model), recipe.yaml, the log and its
    loss curve, the kept start model, the snapshots and the JSON ``files``. The merge comes after."""
    from rankrag_lite.training.callbacks import plot_loss

    log_path, snapshots = work / "train_log.jsonl", work / "snapshots"
    with atomic_dir(out) as tmp:
        adapter = tmp / "adapter"
        if cfg.method == "full":  # the trained model itself: OUT/merged, as a LoRA run's merge
            model.save_pretrained(str(tmp / "merged"), safe_serialization=True)
            tok.save_pretrained(str(tmp / "merged"))
        else:
            model.save_pretrained(str(adapter))
            tok.save_pretrained(str(adapter))
            _fix_adapter_base(adapter, start_model)
        # the run's settings by their recipe keys (auto resolved to the backend that trained)
        (tmp / "recipe.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
        if log_path.exists():
            shutil.copy(log_path, tmp / "train_log.jsonl")
        else:
            (tmp / "train_log.jsonl").write_text("")
        plot_loss(tmp / "train_log.jsonl", tmp / "loss.png", title)
        if keep_start:
            shutil.move(start_model, str(tmp / "start-model"))
            if adapter.exists():
                _fix_adapter_base(adapter, base)
        if cfg.snapshot_adapters and snapshots.exists():
            for snap in sorted(snapshots.iterdir()):
                if snap.name.startswith("step-"):
                    _fix_adapter_base(snap, base)
                else:  # a copy cut short by a kill before --resume
                    shutil.rmtree(snap, ignore_errors=True)
            shutil.move(str(snapshots), str(tmp / "snapshots"))
        for name, obj in files.items():
            write_json(tmp / name, obj)


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def merge_run(out: Path) -> Path:
    """Merge ``OUT/adapter`` into ``OUT/merged`` (atomic on its own: a failed merge leaves the adapter,
    and ``rankrag-lite merge OUT`` redoes it)."""
    from rankrag_lite.training.merge import merge_adapter

    try:
        merge_adapter(out / "adapter", out / "merged")
    except BaseException as e:
        from rankrag_lite.progress import warn

        warn(f"the merge did not finish ({type(e).__name__}); the adapter is saved in {out / 'adapter'}: "
             f"redo the merge alone with: rankrag-lite merge {out}")
        raise
    log(f"merged model in {out / 'merged'}")
    return out / "merged"


def _inside(path: str, folder: Path) -> bool:
    p = Path(path)
    return p.exists() and p.resolve().is_relative_to(folder.resolve())


def _fix_adapter_base(adapter: Path, start_model: str) -> None:
    """Record the start model as the adapter's base so that it reloads from anywhere: the alias
    ``smollm2-135m`` for the bundled tiny model (its cache path differs between machines), the hub
    name for a hub-cache snapshot (offline runs load from one), else the absolute path of a local
    folder, else the hub name."""
    from rankrag_lite.modeling.loading import TINY_ALIASES, cache_dir

    cfg_path = adapter / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    p = Path(start_model)
    tiny = (cache_dir() / "smollm2-135m-instruct").resolve()
    snapshot = re.fullmatch(r"models--(.+)", p.parent.parent.name) if p.parent.name == "snapshots" else None
    if start_model.lower() in TINY_ALIASES or (p.exists() and p.resolve() == tiny):
        cfg["base_model_name_or_path"] = "smollm2-135m"
    elif snapshot is not None:
        cfg["base_model_name_or_path"] = snapshot.group(1).replace("--", "/")
    else:
        cfg["base_model_name_or_path"] = str(p.resolve()) if p.exists() else start_model
    cfg_path.write_text(json.dumps(cfg, indent=2))
