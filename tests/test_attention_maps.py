"""Attention maps read back from a trained classifier (the translator's: tests/test_translator.py)."""

import numpy as np

from kdl_transformer.attention_maps import attention_rollout, attention_scores, max_pool_wins
from kdl_transformer.configs import ClassifierConfig
from kdl_transformer.models.classifier import build_classifier

TINY = dict(vocab_size=50, sequence_length=8, embed_dim=16, num_heads=2, dense_dim=16,
            head_dropout=0.0)


def test_attention_scores_per_layer_and_masked():
    model = build_classifier(ClassifierConfig(**TINY, num_layers=2))
    ids = np.array([[5, 6, 7, 0, 0, 0, 0, 0]])
    scores = attention_scores(model, ids)
    assert len(scores) == 2 and scores[0].shape == (1, 2, 8, 8)
    np.testing.assert_allclose(scores[1].sum(-1), 1.0, atol=1e-5)
    assert np.all(scores[0][..., 3:] < 1e-6)  # padded keys get no attention

    mask = ids != 0
    rollout = attention_rollout(scores, mask)
    np.testing.assert_allclose(rollout.sum(), 1.0, atol=1e-6)
    assert np.all(rollout[0, 3:] == 0)
    wins = max_pool_wins(np.random.default_rng(0).normal(size=(1, 8, 16)), mask)
    np.testing.assert_allclose(wins.sum(), 1.0)
    assert np.all(wins[0, 3:] == 0)
