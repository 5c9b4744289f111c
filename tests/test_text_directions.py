"""A shared vocabulary with tied embeddings, both directions with tags, and subword sampling."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer import batching
from kdl_transformer.configs import TranslatorConfig
from kdl_transformer.datasets import make_translation_pairs
from kdl_transformer.models.seq2seq_transformer import Seq2SeqTransformer
from kdl_transformer.text import SubwordTokenizer, directions, subword_sampling
from kdl_transformer.text.translation_dataset import encode_translation_batch
from kdl_transformer.workflows import translator as workflow

PAIRS = make_translation_pairs(400, seed=3)


@pytest.fixture(scope="module")
def shared():
    return directions.train_shared_tokenizers(PAIRS, vocab_size=300, both_directions=True)


def test_training_pairs_tag_both_directions_and_validation_keeps_one():
    pairs = [("The Cat sat.", "고양이가 앉았다.")]
    assert directions.training_pairs(pairs, both_directions=False) == pairs
    assert directions.training_pairs(pairs, both_directions=True) == [
        ("<2ko> The Cat sat.", "고양이가 앉았다."), ("<2en> 고양이가 앉았다.", "the cat sat.")]
    assert directions.training_pairs(pairs, True, reverse=False) == [("<2ko> The Cat sat.", "고양이가 앉았다.")]


def test_shared_tokenizers_hold_one_vocabulary_and_the_tag_is_one_piece(shared, tmp_path):
    english, korean = shared
    assert english.get_vocabulary() == korean.get_vocabulary() and english.vocabulary_size == 300
    assert english.lowercase and not korean.lowercase and english.prefix == "<2ko> "
    tag = english.token_to_id("<2ko>")
    ids = english.tokenize(["The man will help them."])[0].numpy()
    pieces = [english.id_to_token(i) for i in ids]
    assert pieces[:3] == ["▁", "<2ko>", "▁the"] and english.unk_id not in ids, pieces
    untagged = directions.source_tokenizer(english).tokenize(["<2ko> the man will help them."])
    np.testing.assert_array_equal(untagged[0].numpy(), ids)  # training text = inference text
    assert korean.token_to_id("<2en>") != korean.unk_id
    reloaded = SubwordTokenizer.load(english.save(tmp_path / "english"))
    assert reloaded.prefix == "<2ko> " and "prefix='<2ko> '" in repr(reloaded)
    np.testing.assert_array_equal(reloaded.tokenize(["The man will help them."])[0].numpy(), ids)


def test_sampling_changes_the_segmentation_never_the_text(shared):
    _, korean = shared
    sentences = [ko for _, ko in PAIRS[:50]]
    best = korean.tokenize(sentences)
    subword_sampling.seed(7)
    first = korean.tokenize(sentences, sampling=0.3)
    second = korean.tokenize(sentences, sampling=0.3)
    assert first.to_list() != second.to_list() and first.to_list() != best.to_list()
    assert np.sum(first.row_lengths()) > np.sum(best.row_lengths())  # merges were dropped
    assert korean.detokenize(first).numpy().tolist() == korean.detokenize(best).numpy().tolist()
    subword_sampling.seed(7)
    assert korean.tokenize(sentences, sampling=0.3).to_list() == first.to_list()  # seeded
    scalar = korean.tokenize(sentences[0], sampling=0.3)
    assert scalar.shape.rank == 1 and korean.detokenize(scalar).numpy().decode() == sentences[0]
    with pytest.raises(ValueError, match=r"sampling=1.0 must be in \[0, 1\)"):
        korean.tokenize(sentences, sampling=1.0)


def test_the_sampling_pipeline_segments_each_epoch_anew(shared):
    english, korean = shared
    source = directions.source_tokenizer(english)
    pairs = directions.training_pairs(PAIRS[:64], both_directions=True)
    config = TranslatorConfig.quick(subword_sampling=0.2, token_dropout=0.0, batch_size=16)
    dataset = workflow.make_dataset(pairs, source, korean, config, shuffle=True)
    assert len(dataset) == 8  # 128 pairs / 16, as without sampling

    def epoch_sources():
        return sorted(tuple(int(i) for i in row if i) for (s, _), _ in dataset for row in s.numpy())

    assert epoch_sources() != epoch_sources()  # the same 128 sentences, segmented anew
    (src, target_input), target_output = next(iter(dataset))
    np.testing.assert_array_equal(target_input[:, 1:], np.where(target_output[:, :-1] == 3, 0,
                                                                target_output[:, :-1]))
    rows = encode_translation_batch(tf.constant(["<2ko> a"]), tf.constant(["가"]), source, korean, 8)
    assert [tuple(r.shape) for r in rows] == [(1, 8)] * 3


def test_encode_runs_on_each_window_before_sorting():
    texts = np.array(["a", "a b c", "a b", "a b c d"], dtype=object)

    def encode(features, labels):
        ids = tf.strings.split(features).to_tensor(shape=[None, 4]) != ""
        return tf.cast(ids, tf.int32), labels

    batches = list(batching.length_bucketed_dataset(texts, texts, batch_size=2, encode=encode))
    assert [tuple(f.shape) for f, _ in batches] == [(2, 2), (2, 4)]  # sorted, then trimmed
    assert [b.decode() for b in batches[0][1].numpy()] == ["a", "a b"]


def test_tied_embeddings_share_one_table_and_survive_saving(tmp_path):
    untied = Seq2SeqTransformer(100, 100, 16, 16, embed_dim=32, dense_dim=64, num_heads=2)
    tied = Seq2SeqTransformer(100, 100, 16, 16, embed_dim=32, dense_dim=64, num_heads=2,
                              tie_embeddings=True)
    assert untied.count_params() - tied.count_params() == 100 * 32 + (32 * 100 + 100)
    table = tied.source_embedding.token_embedding
    assert tied.target_embedding.token_embedding is table and tied.logits_dense is None
    source = np.random.default_rng(0).integers(1, 100, (2, 5)).astype("int32")
    target = np.random.default_rng(1).integers(1, 100, (2, 7)).astype("int32")
    out = tied.forward(source, target, return_attention_scores=True)
    states = keras.ops.convert_to_numpy(out["logits"])
    assert states.shape == (2, 7, 100) and states.dtype == np.float32
    tied.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = keras.ops.convert_to_numpy(table.embeddings).copy()
    tied.fit([source, target], target, epochs=1, verbose=0)
    assert not np.allclose(before, keras.ops.convert_to_numpy(table.embeddings))
    tied.save(tmp_path / "tied.keras")
    reloaded = keras.models.load_model(tmp_path / "tied.keras")
    assert reloaded.target_embedding.token_embedding is reloaded.source_embedding.token_embedding
    assert reloaded.count_params() == tied.count_params()
    np.testing.assert_allclose(reloaded([source, target]), tied([source, target]), atol=1e-6)
    with pytest.raises(ValueError, match="tie_embeddings=True needs one vocabulary"):
        Seq2SeqTransformer(100, 120, 16, 16, embed_dim=32, tie_embeddings=True)


def test_config_refuses_what_cannot_be_built():
    with pytest.raises(ValueError, match="both_directions=True needs one vocabulary"):
        TranslatorConfig(both_directions=True)
    with pytest.raises(ValueError, match="architecture='gru' has no tied version"):
        TranslatorConfig(shared_vocab_size=1000, architecture="gru")
    with pytest.raises(ValueError, match=r"subword_sampling=1.5 must be in \[0, 1\)"):
        TranslatorConfig(subword_sampling=1.5)


def test_a_run_in_both_directions_translates_english_and_its_files_say_how(tmp_path):
    overrides = {"dataset": "synthetic", "synthetic_pairs": "500", "shared_vocab_size": "300",
                 "both_directions": "true", "subword_sampling": "0.1"}
    metrics = workflow.train(tmp_path, epochs=1, quick=True, overrides=overrides)
    assert metrics["train_pairs"] == 800 and metrics["source_vocabulary_size"] == 300
    english = json.loads((tmp_path / "tokenizers" / "english" / "tokenizer.json").read_text())
    assert english["prefix"] == "<2ko> " and english["user_defined_symbols"] == ["<2ko>", "<2en>"]
    translator = workflow.load_translator(tmp_path)
    assert translator.model.tie_embeddings
    tag = translator.source_tokenizer.token_to_id("<2ko>")
    assert tag in translator.encode_source(["The cat eats."]).numpy()[0, :2]
    sentences = ["The cat eats an apple.", "The man will help them.", ""]
    expected = workflow.translate(tmp_path, sentences, method="beam")
    exported = workflow.export(tmp_path, tmp_path / "exported")  # the tag goes into the graph
    script = (
        "import json, sys\n"
        "import tensorflow as tf\n"
        "import tensorflow_text  # noqa: F401\n"
        "model = tf.saved_model.load(sys.argv[1])\n"
        "out = model.serve(tf.constant(json.loads(sys.argv[2])))['translation'].numpy()\n"
        "assert 'kdl_transformer' not in sys.modules\n"
        "print(json.dumps([t.decode('utf-8') for t in out]))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(exported), json.dumps(sentences)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
