"""rankrag-lite: RankRAG (Yu et al., NeurIPS 2024) with QLoRA, one model to rank and answer."""

__version__ = "0.1.0"
