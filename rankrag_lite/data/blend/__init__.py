"""The Stage-2 training blend (RankRAG Sec. 4.2, App. B): five parts, BM25 hard negatives, mixed to ratios.

Parts (every example is ``{"messages", "part", "source", "meta"}``, its messages made by
:mod:`rankrag_lite.prompts`):

1. ``sft``: SFT chat conversations (:func:`prompts.sft_chat`).
2. ``context_qa``: the gold passage + (history) + question -> answer, with the source's per-dataset
   instruction (:func:`prompts.context_rich_qa`).
3. ``ra_qa``: the gold passage(s) + BM25 passages that do NOT contain an answer, ``num_passages`` in
   all, shuffled -> answer (:func:`prompts.retrieval_augmented_qa`). A source without gold passages
   (e.g. WebQuestions) takes its best BM25 passage that contains an answer as the gold one.
4. ``ranking``: (question, passage) -> ``True``/``False`` (:func:`prompts.context_ranking`;
   claims use :func:`prompts.claim_ranking`). Positives: gold passages (or, without gold flags,
   BM25 passages that contain an answer; for ranking data the given positives / qrels). Negatives:
   the source's own negatives (``{query, pos, neg}``, Climate-FEVER NOT_ENOUGH_INFO evidence), then
   BM25 hard negatives: never a positive, never a passage that contains an answer.
5. ``ra_ranking``: ``num_passages`` shuffled passages (1+ positives, the rest hard negatives) -> the
   relevant ids, ``Passage 2, Passage 5`` (:func:`prompts.retrieval_augmented_ranking`). A passage
   is relevant iff it is gold or contains an answer.

BM25 indexes, per source, the pool of passages that source has (gold and distractor passages of
all its questions, its corpus) plus the corpora the recipe lists under the source's ``corpus``
(the mining steps are :mod:`rankrag_lite.data.hard_negatives`', whose ``mine_hard_negatives``
works on its own too). ``max_passage_words`` cuts passages (gold ones around the answer) so that
examples stay short for CPU training; answer containment of negatives is checked on the full
passage.

``judge`` (optional): the scores of ``rankrag-lite label`` (:mod:`rankrag_lite.data.labels`) drop the
ranking / RA-ranking rows whose negatives a judge rates relevant or whose positives it rates
irrelevant; the manifest's ``judge`` section counts them. By default they leave the pools before the
mix draws; with ``apply_to: blend`` they leave the drawn blend instead (the same draw as without a judge).

Output folder (built in a temporary sibling and swapped in on success): ``{part}.jsonl`` for each
part in the mix (every example the sources gave), ``blend.jsonl`` (examples sampled to the mix's
weights, smaller sources repeated when the blend asks for more than they have, shuffled) and
``manifest.json`` (counts per part and source, the recipe, seed, excluded questions, sha256 of every
file). Same recipe + seed -> byte-identical files.

Modules: :mod:`~.config` (the recipe section, strict validation), :mod:`~.source` (a source loaded:
questions, exclusion, BM25 pool, positives and negatives), :mod:`~.passages` (cutting,
``negative_lengths``), :mod:`~.parts` (the five parts), :mod:`~.mix` (weights -> blend),
:mod:`~.manifest` (the output folder) and :mod:`~.build` (:func:`build_blend`, :func:`check_blend`).
"""

from rankrag_lite.data.blend.build import build_blend, check_blend
from rankrag_lite.data.blend.config import PARTS, BlendConfig, MixEntry, SourceSpec, parse_blend
from rankrag_lite.data.blend.mix import allocate
from rankrag_lite.data.blend.passages import cut_passage
from rankrag_lite.data.blend.source import RANKING_SOURCE_FORMATS

__all__ = ["PARTS", "RANKING_SOURCE_FORMATS", "BlendConfig", "MixEntry", "SourceSpec", "allocate", "build_blend",
           "check_blend", "cut_passage", "parse_blend"]
