"""Answer normalisation and matching (shared by blend labels and evaluation)."""

import pytest

from rankrag_lite.answers import accuracy, exact_match, f1, has_answer, normalize_answer, normalize_question


def test_normalize_answer_squad():
    assert normalize_answer("The  Beatles!") == "beatles"
    assert normalize_answer("An apple, a day") == "apple day"
    assert normalize_question("Who wrote Hamlet?") == normalize_question("who wrote  hamlet")


@pytest.mark.parametrize("answers,text,expected", [
    (["Wilhelm Conrad Röntgen"], "awarded in 1901 to Wilhelm Conrad Röntgen, of Germany", True),
    (["wilhelm conrad rontgen"], "awarded in 1901 to Wilhelm Conrad Röntgen, of Germany", False),  # DPR: accents kept
    (["May 18, 2018"], "released on May 18, 2018.", True),
    (["May 18, 2018"], "released on May 18 2018.", False),  # token sequence includes the comma
    (["cat"], "concatenate", False),  # whole tokens only
    (["New York"], "I love new york city", True),  # case-insensitive
    (["", "zzz"], "anything", False),
    (["3"], "Passage 3: text", True),
])
def test_has_answer(answers, text, expected):
    assert has_answer(answers, text) is expected


def test_exact_match_f1_accuracy():
    assert exact_match("the Beatles", ["Beatles", "x"]) == 1.0
    assert exact_match("Beatles band", ["Beatles"]) == 0.0
    assert f1("Beatles band", ["The Beatles"]) == pytest.approx(2 / 3)
    assert f1("", ["x"]) == 0.0 and f1("a", ["the"]) == 1.0  # both empty after normalisation
    assert accuracy("it was the Beatles, I think", ["beatles"]) == 1.0
    assert accuracy("no", ["beatles"]) == 0.0


def test_answer_metrics_and_their_means():
    from rankrag_lite.answers import METRIC_LABELS, METRIC_NOTES, answer_metrics, mean_answer_metrics

    rows = [answer_metrics("Cork", ["Cork"]), answer_metrics("the city of Cork", ["Cork"]),
            answer_metrics("Dublin", ["Cork"]), answer_metrics("anything", [])]
    assert list(rows[0]) == list(METRIC_NOTES) == list(METRIC_LABELS) == ["em", "f1", "acc"]
    assert rows[3] == {}  # no gold answers: nothing to score, and the row does not count
    mean = mean_answer_metrics([{"prediction": "x", **r} for r in rows])
    assert list(mean) == ["em", "f1", "acc"]
    assert mean["em"] == pytest.approx(1 / 3) and mean["acc"] == pytest.approx(2 / 3)
    assert mean["f1"] == pytest.approx((1 + 0.5 + 0) / 3)  # "city of cork": precision 1/3, recall 1
    assert mean_answer_metrics([{}, {"prediction": "x"}]) == {}
