"""BLEU / chrF reporting and the beam-search error analysis."""

import numpy as np
import pytest

from kdl_transformer import evaluation


def test_corpus_scores_name_their_tokenizers():
    references = ["나는 카페에서 커피를 마셨다.", "고양이는 사과를 먹는다."]
    perfect = evaluation.corpus_scores(references, references)
    assert perfect["bleu_13a"] == perfect["bleu_char"] == perfect["chrf"] == 100.0
    assert "tok:13a" in perfect["signatures"]["bleu_13a"]
    assert "tok:char" in perfect["signatures"]["bleu_char"]
    assert perfect["sentences"] == 2
    # One wrong particle: word-level BLEU loses the whole 어절, chrF and char BLEU much less.
    hypotheses = ["나는 카페에서 커피을 마셨다.", "고양이는 사과를 먹는다."]
    partial = evaluation.corpus_scores(hypotheses, references)
    assert partial["bleu_13a"] < partial["bleu_char"] < 100.0
    assert partial["bleu_13a"] < partial["chrf"] < 100.0


def test_corpus_scores_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="2 translations for 1 references"):
        evaluation.corpus_scores(["a", "b"], ["a"])


def test_offline_tokenizers():
    available = evaluation.available_bleu_tokenizers(("13a", "char"))
    assert available == ["13a", "char"]


def test_search_error_analysis_blames_search_or_model():
    reference = np.array([-1.0, -3.0, -2.0, -0.5])
    hypothesis = np.array([-2.0, -1.0, -2.0, -0.1])
    is_error = np.array([True, True, True, False])
    result = evaluation.search_error_analysis(reference, hypothesis, is_error)
    # Pair 0: the model preferred the reference -> search error; pairs 1 and 2 (tie) -> model.
    assert result["errors"] == 3
    assert result["search_errors"] == 1 and result["model_errors"] == 2
    assert result["search_error_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["model_error_share"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["mean_score_gap"] == pytest.approx((1.0 - 2.0 + 0.0) / 3, abs=1e-4)
    none = evaluation.search_error_analysis(reference, hypothesis, np.zeros(4, bool))
    assert none["errors"] == 0 and none["search_error_share"] is None


def test_chrf_by_source_length_buckets_by_english_words():
    sources = ["Hi.", "I like green tea a lot.", "one two three four five six seven eight nine ten",
               "a b c d e f g h i j k l m n"]
    references = ["안녕.", "나는 녹차를 아주 좋아해.", "하나 둘 셋 넷 다섯", "가 나 다 라 마 바 사"]
    hypotheses = [references[0], references[1], "전혀 다른 문장", references[3]]
    report = evaluation.chrf_by_source_length(sources, hypotheses, references)
    assert list(report) == ["1-4", "5-8", "9-12", "13+"]
    assert [report[k]["sentences"] for k in report] == [1, 1, 1, 1]
    assert report["1-4"]["chrf"] == report["13+"]["chrf"] == 100.0
    assert report["9-12"]["chrf"] < 20
    empty = evaluation.chrf_by_source_length(["Hi."], ["안녕."], ["안녕."])
    assert empty["13+"] == {"sentences": 0, "chrf": None}
    with pytest.raises(ValueError, match="2 sources, 1 translations"):
        evaluation.chrf_by_source_length(["a", "b"], ["가"], ["가", "나"])


def test_multi_reference_chrf_credits_a_translation_that_matches_another_reference():
    from kdl_transformer import evaluation

    sources = ["I'm tired.", "I'm tired.", "Thanks."]
    references = ["나는 피곤해.", "피곤하다.", "고마워."]
    hypotheses = ["피곤하다.", "피곤하다.", "고마워."]  # right, but not the first reference
    scores = evaluation.multi_reference_chrf(sources, hypotheses, references)
    assert scores["sentences"] == 2 and scores["with_several_references"] == 1
    assert scores["several_all_references"] == 100.0
    assert scores["several_one_reference"] < 60
    assert scores["one_reference"] < scores["all_references"] == 100.0
    with pytest.raises(ValueError, match="one of each per pair"):
        evaluation.multi_reference_chrf(sources, hypotheses[:2], references)
