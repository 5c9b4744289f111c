"""SubwordTokenizer: reserved ids, round trips, normalisation, files, tf.data and SavedModel."""

import json
import unicodedata
import warnings

import numpy as np
import pytest
import tensorflow as tf

from kdl_transformer.datasets import make_translation_pairs
from kdl_transformer.text import RESERVED_TOKENS, SubwordTokenizer, normalize_text

KOREAN_SAMPLES = [
    "고양이는 사과를 먹는다.",
    "학생은 책을 읽지 않았다.",
    "기다려!",
    "내일   서울에\t갈 거야?",
    "그는 \"괜찮다\"고 말했다.",
    "나는 3시에 커피를 마셨어요.",
]
ENGLISH_SAMPLES = [
    "The cat eats an apple.",
    "Don't worry, Tom!",
    "I'm  going to   Seoul at 3 o'clock.",
    "He said \"fine\".",
]


def _decode(tensor):
    return [s.decode("utf-8") for s in tensor.numpy()]


@pytest.fixture(scope="module")
def corpus():
    pairs = make_translation_pairs(1500, seed=0)
    korean = [k for _, k in pairs] + KOREAN_SAMPLES * 3
    english = [e for e, _ in pairs] + ENGLISH_SAMPLES * 3
    return english, korean


@pytest.fixture(scope="module")
def korean_tokenizer(corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SubwordTokenizer.train(corpus[1], vocab_size=300)


@pytest.fixture(scope="module")
def english_tokenizer(corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SubwordTokenizer.train(corpus[0], vocab_size=300, lowercase=True)


def test_reserved_ids_are_fixed(korean_tokenizer):
    tok = korean_tokenizer
    assert (tok.pad_id, tok.unk_id, tok.start_id, tok.end_id) == (0, 1, 2, 3)
    assert tok.get_vocabulary()[:4] == list(RESERVED_TOKENS) == ["[PAD]", "[UNK]", "[START]", "[END]"]
    assert [tok.token_to_id(t) for t in RESERVED_TOKENS] == [0, 1, 2, 3]
    assert tok.id_to_token(3) == "[END]"
    assert tok.token_to_id("no-such-piece") == tok.unk_id
    with pytest.raises(IndexError):
        tok.id_to_token(tok.vocabulary_size)


def test_korean_round_trip_is_exact_after_normalisation(korean_tokenizer):
    ids = korean_tokenizer.tokenize(KOREAN_SAMPLES)
    assert isinstance(ids, tf.RaggedTensor) and ids.dtype == tf.int32
    assert _decode(korean_tokenizer.detokenize(ids)) == [normalize_text(s) for s in KOREAN_SAMPLES]
    assert not np.isin(ids.flat_values.numpy(), [0, 1, 2, 3]).any()


def test_english_round_trip_is_lowercased_and_exact(english_tokenizer):
    ids = english_tokenizer.tokenize(ENGLISH_SAMPLES)
    expected = [normalize_text(s, lowercase=True) for s in ENGLISH_SAMPLES]
    assert _decode(english_tokenizer.detokenize(ids)) == expected
    upper = english_tokenizer.tokenize(["THE CAT EATS AN APPLE."])
    assert upper.to_list() == english_tokenizer.tokenize(["the cat eats an apple."]).to_list()


def test_subwords_are_shorter_than_characters_and_never_jamo(korean_tokenizer):
    ids = korean_tokenizer.tokenize(KOREAN_SAMPLES[:2])
    assert all(n < len(s) for n, s in zip(ids.row_lengths().numpy(), KOREAN_SAMPLES[:2]))
    for piece in korean_tokenizer.get_vocabulary():
        assert not any(0x1100 <= ord(c) <= 0x11FF or 0x3131 <= ord(c) <= 0x318E for c in piece), piece


def test_nfd_input_is_normalised_to_nfc(korean_tokenizer):
    sentence = KOREAN_SAMPLES[0]
    nfd = unicodedata.normalize("NFD", sentence)
    assert nfd != sentence
    assert korean_tokenizer.tokenize([nfd]).to_list() == korean_tokenizer.tokenize([sentence]).to_list()


def test_unknown_characters_become_unk_without_crashing(korean_tokenizer):
    ids = korean_tokenizer.tokenize(["고양이 😀 漢字"]).to_list()[0]
    assert ids.count(korean_tokenizer.unk_id) >= 2
    text = _decode(korean_tokenizer.detokenize([ids]))[0]
    assert "고양이" in text and "😀" not in text


def test_byte_fallback_round_trips_emoji_and_hanja(corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = SubwordTokenizer.train(corpus[1], vocab_size=600, byte_fallback=True)
    ids = tokenizer.tokenize(["고양이 😀 漢字"])
    assert tokenizer.unk_id not in ids.to_list()[0]
    assert _decode(tokenizer.detokenize(ids)) == ["고양이 😀 漢字"]


def test_empty_string_gives_empty_sequence(korean_tokenizer):
    ids = korean_tokenizer.tokenize(["", "  ", "고양이"])
    assert ids.row_lengths().numpy().tolist()[:2] == [0, 0]
    assert _decode(korean_tokenizer.detokenize(ids))[:2] == ["", ""]
    scalar = korean_tokenizer.tokenize("")
    assert scalar.shape == (0,)


def test_detokenize_drops_pad_start_end_in_dense_batches(korean_tokenizer):
    ids = korean_tokenizer.tokenize(KOREAN_SAMPLES[:2]).to_list()
    dense = np.zeros((2, 20), dtype="int32")
    for row, seq in enumerate(ids):
        dense[row, : len(seq) + 2] = [2, *seq, 3]
    assert _decode(korean_tokenizer.detokenize(dense)) == KOREAN_SAMPLES[:2]
    single = korean_tokenizer.detokenize(dense[0])
    assert single.shape == () and single.numpy().decode() == KOREAN_SAMPLES[0]


def test_vocab_size_is_capped_with_a_warning_and_too_small_fails():
    texts = ["고양이는 사과를 먹는다.", "개는 빵을 먹었다."]
    with pytest.warns(UserWarning, match="vocab_size=8000"):
        tokenizer = SubwordTokenizer.train(texts, vocab_size=8000)
    assert 4 < tokenizer.vocabulary_size < 8000
    assert tokenizer.metadata["requested_vocabulary_size"] == 8000
    assert tokenizer.metadata["vocabulary_size"] == tokenizer.vocabulary_size
    with pytest.raises(ValueError, match="too small"):
        SubwordTokenizer.train(texts, vocab_size=8)
    with pytest.raises(ValueError, match="no non-empty text"):
        SubwordTokenizer.train(["", " "], vocab_size=50)


def test_training_is_deterministic(corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = SubwordTokenizer.train(corpus[1][:500], vocab_size=200)
        b = SubwordTokenizer.train(corpus[1][:500], vocab_size=200)
    assert a.get_vocabulary() == b.get_vocabulary()


def test_save_and_load(tmp_path, korean_tokenizer):
    korean_tokenizer.save(tmp_path / "ko")
    assert {p.name for p in (tmp_path / "ko").iterdir()} == {"sentencepiece.model", "vocab.txt", "tokenizer.json"}
    metadata = json.loads((tmp_path / "ko" / "tokenizer.json").read_text(encoding="utf-8"))
    assert metadata["vocabulary_size"] == korean_tokenizer.vocabulary_size
    assert metadata["lowercase"] is False
    vocab = (tmp_path / "ko" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab == korean_tokenizer.get_vocabulary()
    loaded = SubwordTokenizer.load(tmp_path / "ko")
    assert loaded.tokenize(KOREAN_SAMPLES).to_list() == korean_tokenizer.tokenize(KOREAN_SAMPLES).to_list()
    assert loaded.lowercase is False


def test_load_errors(tmp_path, korean_tokenizer):
    with pytest.raises(FileNotFoundError, match="SubwordTokenizer.save"):
        SubwordTokenizer.load(tmp_path / "missing")
    korean_tokenizer.save(tmp_path / "ko")
    (tmp_path / "ko" / "sentencepiece.model").write_bytes(b"changed")
    with pytest.raises(ValueError, match="sha256"):
        SubwordTokenizer.load(tmp_path / "ko")


def test_tokenize_inside_tf_data_map(korean_tokenizer):
    dataset = tf.data.Dataset.from_tensor_slices(KOREAN_SAMPLES).batch(3).map(korean_tokenizer.tokenize)
    rows = [row for batch in dataset for row in batch.to_list()]
    assert rows == korean_tokenizer.tokenize(KOREAN_SAMPLES).to_list()


def test_saved_model_carries_the_tokenizer(tmp_path, korean_tokenizer):
    korean_tokenizer.save(tmp_path / "ko")
    tokenizer = SubwordTokenizer.load(tmp_path / "ko")

    class Wrapper(tf.Module):
        def __init__(self, tokenizer):
            super().__init__()
            self.tokenizer = tokenizer

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def round_trip(self, strings):
            ids = self.tokenizer.tokenize(strings)
            return {"ids": ids.to_tensor(), "text": self.tokenizer.detokenize(ids)}

    export = tmp_path / "export"
    tf.saved_model.save(Wrapper(tokenizer), str(export))
    assert (export / "assets" / "sentencepiece.model").is_file()
    reloaded = tf.saved_model.load(str(export))
    out = reloaded.round_trip(tf.constant(KOREAN_SAMPLES))
    assert _decode(out["text"]) == [normalize_text(s) for s in KOREAN_SAMPLES]
    expected = tokenizer.tokenize(KOREAN_SAMPLES).to_tensor().numpy()
    np.testing.assert_array_equal(out["ids"].numpy(), expected)


def test_train_rejects_a_single_string():
    with pytest.raises(TypeError, match="wrap it in a list"):
        SubwordTokenizer.train("고양이는 사과를 먹는다.", vocab_size=50)


def test_tokenizer_survives_seeding_and_clear_session(korean_tokenizer):
    import keras

    expected = korean_tokenizer.tokenize(KOREAN_SAMPLES[:1]).to_list()
    keras.utils.set_random_seed(3)  # clears TF's eager kernel cache
    keras.backend.clear_session()
    assert korean_tokenizer.tokenize(KOREAN_SAMPLES[:1]).to_list() == expected


def test_tokenize_and_detokenize_survive_every_cache_clear(korean_tokenizer):
    import keras

    tok = korean_tokenizer
    ids = tok.tokenize(KOREAN_SAMPLES)
    text = _decode(tok.detokenize(ids))
    traced = tf.function(lambda s: tok.tokenize(s).to_tensor())
    traced_ids = traced(tf.constant(KOREAN_SAMPLES)).numpy()
    built_before = tf.data.Dataset.from_tensor_slices(KOREAN_SAMPLES).batch(4).map(tok.tokenize)
    assert [r for b in built_before for r in b.to_list()] == ids.to_list()

    keras.utils.set_random_seed(1)
    tf.random.set_seed(2)
    keras.backend.clear_session()

    assert tok.tokenize(KOREAN_SAMPLES).to_list() == ids.to_list()
    assert _decode(tok.detokenize(ids)) == text
    np.testing.assert_array_equal(traced(tf.constant(KOREAN_SAMPLES)).numpy(), traced_ids)
    assert [r for b in built_before for r in b.to_list()] == ids.to_list()
    built_after = tf.data.Dataset.from_tensor_slices(KOREAN_SAMPLES).batch(4).map(tok.tokenize)
    assert [r for b in built_after for r in b.to_list()] == ids.to_list()
    rebuilt = built_after.map(lambda batch: tok.detokenize(batch))
    assert [s.decode("utf-8") for b in rebuilt for s in b.numpy()] == text


def test_plain_tf_text_tokenizer_loses_its_model_when_caches_clear(korean_tokenizer):
    # The failure SubwordTokenizer._sentencepiece guards against. If tf-text ever keeps its
    # model across cache clears, this fails and the rebuild there can go.
    import keras
    import tensorflow_text as tf_text

    plain = tf_text.SentencepieceTokenizer(model=korean_tokenizer._model_proto, out_type=tf.int32)
    expected = plain.tokenize(["고양이"]).to_list()
    assert korean_tokenizer.tokenize(["고양이"]).to_list() == expected
    keras.utils.set_random_seed(0)
    with pytest.raises(tf.errors.NotFoundError, match="SentencepieceOp"):
        plain.tokenize(["고양이"])
    assert korean_tokenizer.tokenize(["고양이"]).to_list() == expected


def test_ids_are_those_of_the_sentencepiece_library(korean_tokenizer, english_tokenizer):
    import sentencepiece as spm

    for tokenizer, samples in ((korean_tokenizer, KOREAN_SAMPLES), (english_tokenizer, ENGLISH_SAMPLES)):
        processor = spm.SentencePieceProcessor(model_proto=tokenizer._model_proto)
        texts = [normalize_text(s, lowercase=tokenizer.lowercase) for s in samples]
        assert tokenizer.tokenize(samples).to_list() == processor.encode(texts)


def test_exported_tokenizer_reloads_in_a_fresh_process_without_this_package(tmp_path, korean_tokenizer):
    import subprocess
    import sys

    import keras

    tokenizer = SubwordTokenizer.load(korean_tokenizer.save(tmp_path / "ko"))

    def serve(texts):
        ids = tokenizer.tokenize(texts)
        return {"ids": ids.to_tensor(), "text": tokenizer.detokenize(ids)}

    archive = keras.export.ExportArchive()  # as kdl_transformer.export writes its SavedModels
    archive.track(tokenizer)
    archive.add_endpoint(name="serve", fn=serve, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.write_out(str(tmp_path / "export"), verbose=False)
    expected = {"ids": tokenizer.tokenize(KOREAN_SAMPLES).to_tensor().numpy().tolist(),
                "text": [normalize_text(s) for s in KOREAN_SAMPLES]}
    script = f"""
import json, sys
sys.modules["kdl_transformer"] = None  # importing this package now fails
import tensorflow as tf, tensorflow_text  # noqa: F401
reloaded = tf.saved_model.load({str(tmp_path / "export")!r})
texts = tf.constant(json.loads({json.dumps(KOREAN_SAMPLES)!r}))
outputs = []
for _ in range(2):
    out = reloaded.serve(texts)
    outputs.append({{"ids": out["ids"].numpy().tolist(), "text": [s.decode() for s in out["text"].numpy()]}})
    tf.random.set_seed(0)  # clears TensorFlow's caches between the two calls
print(json.dumps(outputs))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [expected, expected]
