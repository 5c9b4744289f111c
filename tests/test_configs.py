"""The run configurations: each bad value is refused up front with a message naming it."""

import pytest

from kdl_transformer.configs import ClassifierConfig, TranslatorConfig


def test_classifier_config_rejects_bad_values_with_a_clear_message():
    with pytest.raises(ValueError, match="num_heads=3 does not divide embed_dim=32"):
        ClassifierConfig(embed_dim=32, num_heads=3)
    with pytest.raises(ValueError, match="pooling='sum'"):
        ClassifierConfig(pooling="sum")
    with pytest.raises(ValueError, match="sequence_length=0"):
        ClassifierConfig(sequence_length=0)
    with pytest.raises(ValueError, match="monitor='val_auc'"):
        ClassifierConfig(monitor="val_auc")
    with pytest.raises(ValueError, match="token_dropout=1.0"):
        ClassifierConfig(token_dropout=1.0)
    with pytest.raises(ValueError, match="average_best=1"):
        ClassifierConfig(average_best=1)
    assert ClassifierConfig.book().sequence_length == 600


def test_translator_config_validation():
    with pytest.raises(ValueError, match="num_heads=3 does not divide embed_dim=256"):
        TranslatorConfig(num_heads=3)
    with pytest.raises(ValueError, match="dataset="):
        TranslatorConfig(dataset="wmt")
    with pytest.raises(ValueError, match="token_dropout=1.0"):
        TranslatorConfig(token_dropout=1.0)
    with pytest.raises(ValueError, match="average_best=1"):
        TranslatorConfig(average_best=1)
