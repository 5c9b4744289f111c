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


def test_classifier_models_and_their_own_fields():
    from kdl_transformer import training

    assert ClassifierConfig(init_from="runs/bert").model == "bert"  # init_from alone asks for BERT
    assert ClassifierConfig(model="bigrams", bigram_output_mode="tf_idf").model == "bigrams"
    with pytest.raises(ValueError, match="model='bert' fine-tunes a pretrained encoder"):
        ClassifierConfig(model="bert")
    with pytest.raises(ValueError, match="init_from applies to model='bert' only"):
        ClassifierConfig(model="bigrams", init_from="runs/bert")
    with pytest.raises(ValueError, match="pooling='cls' needs model='bert'"):
        ClassifierConfig(pooling="cls")
    with pytest.raises(ValueError, match="truncation='head_tail' needs model='bert'"):
        ClassifierConfig(truncation="head_tail")
    with pytest.raises(ValueError, match="model='gpt'"):
        ClassifierConfig(model="gpt")
    with pytest.raises(ValueError, match="bigram_output_mode='count'"):
        ClassifierConfig(model="bigrams", bigram_output_mode="count")
    parsed = training.apply_overrides(ClassifierConfig(), {"init_from": "runs/bert", "pooling": "cls"})
    assert (parsed.model, parsed.pooling) == ("bert", "cls")


def test_a_config_json_written_before_the_bert_fields_loads_unchanged(tmp_path):
    import dataclasses
    import json

    from kdl_transformer import training

    old = {"kind": "ClassifierConfig", **dataclasses.asdict(ClassifierConfig())}
    for name in ("model", "init_from", "bigram_output_mode", "truncation", "split_seed"):
        del old[name]
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert training.load_config(tmp_path, ClassifierConfig) == ClassifierConfig()
    assert ClassifierConfig().model == "transformer" and ClassifierConfig().pooling == "mean_max"


def test_bert_config_validation():
    from kdl_transformer.configs import BertConfig

    config = BertConfig()
    assert config.nsp and config.mask_rate == 0.15 and config.max_predictions == 39
    assert BertConfig.quick().validation_fraction == ClassifierConfig.quick().validation_fraction
    assert (config.validation_fraction, config.seed) == (ClassifierConfig().validation_fraction,
                                                         ClassifierConfig().seed)
    with pytest.raises(ValueError, match="num_heads=3 does not divide embed_dim=256"):
        BertConfig(num_heads=3)
    with pytest.raises(ValueError, match="mask_rate=0.0 must be in \\(0, 1\\)"):
        BertConfig(mask_rate=0.0)
    with pytest.raises(ValueError, match="mask_token_rate \\+ random_token_rate = 1.2"):
        BertConfig(mask_token_rate=0.9, random_token_rate=0.3)
    with pytest.raises(ValueError, match="sequence_length=4 must be at least 8"):
        BertConfig(sequence_length=4)
    with pytest.raises(ValueError, match="steps_per_epoch=-1"):
        BertConfig(steps_per_epoch=-1)
    with pytest.raises(ValueError, match="vocab_size=10 must be at least 16"):
        BertConfig(vocab_size=10)
