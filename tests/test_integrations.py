"""LangChain and LlamaIndex rerankers with the real packages (langchain-core, llama-index-core) and
the shipped adapter: a BM25 retriever of the kit feeds each framework's own pipeline. ``make setup``
installs both extras, so a missing package fails here (no skip)."""

from __future__ import annotations

import pytest

from api_passages import DOCS, GOLD, QUESTION

pytestmark = pytest.mark.slow

# a second passage that BM25 matches ("Hamlet"), so that the reranker has a choice to make
EXTRA = "Hamlet cigars were sold in Britain with television advertisements."
CORPUS = DOCS + [EXTRA]


@pytest.fixture(scope="module")
def index():
    from rankrag_lite.retrieval import build_index

    return build_index([{"id": f"d{i}", "title": "", "text": t} for i, t in enumerate(CORPUS)])


def test_langchain_compressor_in_a_retriever_chain(shipped_rankrag, index):
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import BaseDocumentCompressor, Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnableLambda

    from rankrag_lite.integrations.langchain import RankRAGCompressor

    class KitBM25(BaseRetriever):
        k: int = 4

        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun):
            return [Document(page_content=h.text, id=h.pid, metadata={"bm25": h.score})
                    for h in index.search([query], k=self.k)[0]]

    compressor = RankRAGCompressor(model=shipped_rankrag, top_n=1)
    assert isinstance(compressor, BaseDocumentCompressor)
    retriever = KitBM25()
    chain = retriever | RunnableLambda(lambda docs: compressor.compress_documents(docs, QUESTION))
    retrieved = retriever.invoke(QUESTION)
    assert len(retrieved) == 2  # the two Hamlet passages
    out = chain.invoke(QUESTION)
    assert len(out) == 1 and out[0].page_content == DOCS[GOLD] and out[0].id == f"d{GOLD}"
    want = shipped_rankrag.score_passages(QUESTION, [d.page_content for d in retrieved])
    assert out[0].metadata["relevance_score"] == pytest.approx(max(want), abs=1e-5)
    assert "bm25" in out[0].metadata  # the retriever's metadata is kept
    both = RankRAGCompressor(model=shipped_rankrag, top_n=5).compress_documents(retrieved, QUESTION)
    scores = [d.metadata["relevance_score"] for d in both]
    assert len(both) == 2 and scores == sorted(scores, reverse=True)
    assert "relevance_score" not in retrieved[0].metadata  # inputs are not modified
    assert compressor.compress_documents([], QUESTION) == []
    with pytest.raises(TypeError):
        RankRAGCompressor(model=3)


def test_llamaindex_postprocessor_in_a_query_engine(shipped_rankrag, index):
    from llama_index.core import Settings, get_response_synthesizer
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from rankrag_lite.integrations.llamaindex import RankRAGRerank

    class KitBM25(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle):
            return [NodeWithScore(node=TextNode(text=h.text, id_=h.pid), score=h.score)
                    for h in index.search([query_bundle.query_str], k=4)[0]]

    rerank = RankRAGRerank(model=shipped_rankrag, top_n=1, keep_retrieval_score=True)
    assert isinstance(rerank, BaseNodePostprocessor)
    Settings.llm = None  # LlamaIndex's "no LLM": the no_text synthesizer only returns the nodes
    engine = RetrieverQueryEngine(KitBM25(), response_synthesizer=get_response_synthesizer(response_mode="no_text"),
                                  node_postprocessors=[rerank])
    response = engine.query(QUESTION)
    assert [n.node.node_id for n in response.source_nodes] == [f"d{GOLD}"]
    top = response.source_nodes[0]
    assert top.score == pytest.approx(shipped_rankrag.score_passages(QUESTION, DOCS[GOLD:GOLD + 1])[0], abs=1e-5)
    assert top.node.metadata["retrieval_score"] > 0
    with pytest.raises(ValueError, match="query"):
        rerank.postprocess_nodes(response.source_nodes)
