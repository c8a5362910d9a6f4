"""Fine-tuning (Stage 1 SFT, Stage 2 blend) and merging; see :mod:`rankrag_lite.training.finetune`."""
