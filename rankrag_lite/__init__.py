"""rankrag-lite: RankRAG (Yu et al., NeurIPS 2024) with QLoRA, one model to rank and answer.

    from rankrag_lite import RankRAG
    model = RankRAG.from_pretrained("smollm2-135m-rankrag")

    from rankrag_lite import mine_hard_negatives   # BM25 hard negatives for training data
"""

__version__ = "0.1.0"
__all__ = ["RankRAG", "__version__", "mine_hard_negatives"]


def __getattr__(name: str):
    # lazy, so that ``import rankrag_lite`` (and the CLI's --help) stays light
    if name == "RankRAG":
        from rankrag_lite.model import RankRAG

        return RankRAG
    if name == "mine_hard_negatives":
        from rankrag_lite.data.hard_negatives import mine_hard_negatives

        return mine_hard_negatives
    raise AttributeError(f"module 'rankrag_lite' has no attribute {name!r}")
