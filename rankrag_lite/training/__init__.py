"""Fine-tuning (Stage 1 SFT, Stage 2 blend) and merging; see :mod:`rankrag_lite.training.finetune`.

Where each idea lives: a stage's settings (:class:`~.config.StageConfig`, checked in ``__post_init__``)
and their recipe keys in :mod:`.config`; ``finetune`` as a list of steps in :mod:`.finetune`; the plan
printed before a run (steps, tokens, passes, memory) in :mod:`.plan`; chat rows to tokens with
assistant-only labels in :mod:`.data`; packing and the shared system head in :mod:`.packing`; the
trainer (TRL's SFTTrainer) in :mod:`.sft` with its callbacks in :mod:`.callbacks`; the hf / Unsloth
backends in :mod:`.backends`; the streaming 16-bit merge in :mod:`.merge`; GPU profiles for the
notebooks in :mod:`.gpu_profile`."""
