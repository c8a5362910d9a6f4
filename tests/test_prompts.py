"""Prompt templates: the paper's verbatim wording, chat messages and the ChatQA plain-text rendering."""

from rankrag_lite import prompts as P

Q = "who wrote hamlet"
PASSAGE = {"title": "Hamlet", "text": "Hamlet is a tragedy   written by William Shakespeare."}


def test_system_prompt_verbatim():
    assert P.SYSTEM_PROMPT == (
        "This is a chat between a user and an artificial intelligence assistant. The assistant gives "
        "helpful, detailed, and polite answers to the user's questions based on the context. The assistant "
        "should also indicate when the answer cannot be found in the context.")


def test_context_ranking_verbatim_with_access_typo():
    msgs = P.context_ranking(Q, PASSAGE, label=True)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
    assert msgs[1]["content"] == (
        "Passage: Hamlet\nHamlet is a tragedy written by William Shakespeare.\n\n"
        "For the question who wrote hamlet, access whether the passage is relevant to the question. "
        "Return True if relevant, otherwise False.")
    assert msgs[2]["content"] == "True"
    assert P.context_ranking(Q, PASSAGE, label=False)[2]["content"] == "False"
    assert len(P.context_ranking(Q, PASSAGE)) == 2  # scoring prompt: no target
    assert P.ranking_prompt(Q, PASSAGE) == P.context_ranking(Q, PASSAGE)


def test_ra_ranking_wording_and_ids_roundtrip():
    ps = [PASSAGE, {"title": "", "text": "Other."}, "Third."]
    msgs = P.retrieval_augmented_ranking(Q, ps, relevant_ids=[3, 1])
    user = msgs[1]["content"]
    assert user.startswith("Passage 1: Hamlet\n")
    assert "\n\nPassage 2: Other.\n\nPassage 3: Third.\n\n" in user
    assert user.endswith("For the question who wrote hamlet, access whether the above passages are relevant "
                         "to the question. Return all the relevant passage id.")
    assert msgs[2]["content"] == "Passage 1, Passage 3"
    assert P.parse_relevant_ids(msgs[2]["content"]) == [1, 3]
    assert P.format_relevant_ids([]) == "None" and P.parse_relevant_ids("None") == []


def test_qa_prompts():
    m = P.context_rich_qa("Who?", PASSAGE, answer="Shakespeare", dataset="squad")
    assert m[1]["content"].endswith("Answer the following question with a short span. Who?")
    tat = P.context_rich_qa("How much?", PASSAGE, dataset="tatqa")[1]["content"]
    assert tat.endswith("Answer the following question with a number from the context or through math arithmetic. How much?")
    conv = P.context_rich_qa("Q2", PASSAGE, answer="A2", dataset="convqa",
                             history=[{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}])
    assert [m["role"] for m in conv] == ["system", "user", "assistant", "user", "assistant"]
    assert conv[1]["content"].startswith("Passage: Hamlet") and conv[1]["content"].endswith("Q1")
    assert conv[3]["content"] == "Please give a full and complete answer for the question. Q2"
    inf = P.inference_qa("who wrote hamlet", [PASSAGE])[1]["content"]
    assert inf.endswith("\n\nwho wrote hamlet. Answer the above question with a short phrase.")
    ra = P.retrieval_augmented_qa(Q, [PASSAGE, PASSAGE], answer="x")
    assert ra[1]["content"].startswith("Passage 1: ") and ra[1]["content"].endswith("\n\nwho wrote hamlet")


def test_fever_prompts():
    c = P.claim_ranking("Earth is flat", PASSAGE, label=False)
    assert c[1]["content"].endswith("For the claim Earth is flat, access whether the passage is relevant to the "
                                    "claim. Return True if relevant, otherwise False.")
    v = P.claim_verification("Earth is flat", [PASSAGE], label=False)
    assert v[1]["content"].endswith("Answer the following question with True or False. Is the claim "
                                    "'Earth is flat' correct?")
    assert v[2]["content"] == "False"


def test_render_chatqa():
    msgs = P.context_ranking(Q, PASSAGE, label=True)
    text = P.render_chatqa(msgs)
    assert text == (
        f"System: {P.SYSTEM_PROMPT}\n\nPassage: Hamlet\nHamlet is a tragedy written by William Shakespeare.\n\n"
        "User: For the question who wrote hamlet, access whether the passage is relevant to the question. "
        "Return True if relevant, otherwise False.\n\nAssistant: True")
    prompt = P.render_chatqa(msgs[:-1])
    assert prompt.endswith("otherwise False.\n\nAssistant:")


def test_sft_chat_adds_system_once():
    conv = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    out = P.sft_chat(conv)
    assert out[0] == {"role": "system", "content": P.SYSTEM_PROMPT} and out[1:] == conv
    own = [{"role": "system", "content": "be brief"}] + conv
    assert P.sft_chat(own) == own


def test_read_ranking_example_inverts_the_ranking_prompts():
    p1 = {"title": "Alpha  Beta", "text": "one\ntwo   three"}
    p2 = "no title here"
    ex = P.read_ranking_example(P.context_ranking("who is x?", p1, label=True))
    assert ex == P.RankingExample("who is x?", (P.PromptPassage("one two three", "Alpha  Beta"),), (True,), False)
    ex = P.read_ranking_example(P.claim_ranking("x is y.", p2, label=False))
    assert ex == P.RankingExample("x is y.", (P.PromptPassage("no title here"),), (False,), True)
    msgs = P.retrieval_augmented_ranking("q, with a comma", [p1, p2, p1], relevant_ids=[1, 3])
    ex = P.read_ranking_example(msgs)
    assert ex.question == "q, with a comma" and ex.labels == (True, False, True) and not ex.claim
    assert P.retrieval_augmented_ranking(ex.question, ex.passages, relevant_ids=[1, 3]) == msgs
    none = P.read_ranking_example(P.retrieval_augmented_ranking("q", [p1, p2], relevant_ids=[]))
    assert none.labels == (False, False)
    # other prompts, and ranking prompts without a target, are not ranking examples
    assert P.read_ranking_example(P.retrieval_augmented_qa("q", [p1, p2], answer="a")) is None
    assert P.read_ranking_example(P.context_rich_qa("q", p1, answer="a")) is None
    assert P.read_ranking_example(P.ranking_prompt("q", p1)) is None
