"""``rankrag-lite serve``: the model behind the rerank HTTP API that Cohere, Jina and vLLM clients speak.

- :mod:`~rankrag_lite.serving.limits`: the request limits and the JSON error every failure returns;
- :mod:`~rankrag_lite.serving.batching`: concurrent requests merged into one scoring thread;
- :mod:`~rankrag_lite.serving.app`: the FastAPI app (``/v1/rerank``, ``/v2/rerank``, ``/rerank``,
  ``/health``, ``/v1/models``);
- :mod:`~rankrag_lite.serving.server`: uvicorn, bound to 127.0.0.1 by default, draining on SIGTERM.

Needs the ``serve`` extra (``pip install "rankrag-lite[serve]"``: fastapi, uvicorn).
"""

#: what ``serve`` loads (the ``--model`` help and docs/serving.md say the same)
LOADS = ("a merged model folder (config.json + weights, what finetune's merge and full fine-tuning write; "
         "a finetune output folder is read as its merged/ or adapter/), a LoRA adapter folder (merged on its "
         "base), smollm2-135m-rankrag (the shipped adapter), smollm2-135m, or a cached hub name")
