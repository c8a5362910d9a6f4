"""LlamaIndex: ``RankRAGRerank``, a node postprocessor that reranks by RankRAG's P("True").

    from rankrag_lite.integrations.llamaindex import RankRAGRerank
    rerank = RankRAGRerank(model=RankRAG.from_pretrained("smollm2-135m-rankrag"), top_n=3)
    query_engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[rerank])

Each kept node's ``score`` becomes P("True") (the retrieval score is kept in
``metadata["retrieval_score"]`` when ``keep_retrieval_score``), best first.
"""

from __future__ import annotations

import os
from typing import Any

try:
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError("rankrag_lite.integrations.llamaindex needs llama-index-core: "
                      "pip install 'rankrag-lite[llamaindex]'") from e

from rankrag_lite.model import RankRAG


class RankRAGRerank(BaseNodePostprocessor):
    """Keep the ``top_n`` nodes by RankRAG's P("True") for the query."""

    top_n: int = Field(default=3, ge=1, description="How many nodes to return.")
    title_key: str = Field(default="title", description="Metadata key of a node's title (if any).")
    keep_retrieval_score: bool = Field(default=False,
                                       description="Keep the retriever's score in metadata['retrieval_score'].")
    _model: Any = PrivateAttr()

    def __init__(self, model: RankRAG | str | os.PathLike, top_n: int = 3, title_key: str = "title",
                 keep_retrieval_score: bool = False):
        super().__init__(top_n=top_n, title_key=title_key, keep_retrieval_score=keep_retrieval_score)
        if isinstance(model, (str, os.PathLike)):
            model = RankRAG.from_pretrained(model)
        if not isinstance(model, RankRAG):
            raise TypeError(f"model must be a RankRAG or a model name or path, got {type(model).__name__}")
        self._model = model

    @classmethod
    def class_name(cls) -> str:
        return "RankRAGRerank"

    def _postprocess_nodes(self, nodes: list[NodeWithScore],
                           query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("RankRAGRerank needs the query (query_bundle is None)")
        if not nodes:
            return []
        passages = [{"title": str(n.node.metadata.get(self.title_key) or ""),
                     "text": n.node.get_content(metadata_mode=MetadataMode.NONE)} for n in nodes]
        out = []
        for hit in self._model.rank(query_bundle.query_str, passages, top_k=self.top_n):
            n = nodes[hit["corpus_id"]]
            if self.keep_retrieval_score:
                n.node.metadata["retrieval_score"] = n.score
            out.append(NodeWithScore(node=n.node, score=hit["score"]))
        return out
