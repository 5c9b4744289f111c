"""The Translator end to end on small models trained (~1 minute each) on synthetic pairs.

One module-scoped training run per architecture (the Transformer, the GRU seq2seq with its single
context vector, the GRU with additive attention) serves every test here: it must really learn
(held-out exact match; chrF for the context-vector GRU, which loses the object of longer
sentences), its searches must agree with each other and with teacher-forced scoring, odd input
must not crash it, its attention maps must plot in Hangul, and its SavedModel must translate the
same in a process that imports only TensorFlow (+ tensorflow_text).
"""

import json
import logging
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sacrebleu

from kdl_transformer.configs import TranslatorConfig
from kdl_transformer.text.special_tokens import END_ID
from kdl_transformer.workflows import translator as workflow

ODD_SENTENCES = [
    "The rabbit writes a cake tomorrow.",  # nonsense, but made of known words
    "A doctor sold the umbrella every day.",
    "She did not drink the tea.",
    "They will not open the window.",
    "The teacher helped me yesterday.",
]


@pytest.fixture(scope="module", params=["transformer", "gru", "gru_attention"])
def trained(request, tmp_path_factory):
    architecture = request.param
    run_dir = tmp_path_factory.mktemp(f"synthetic_{architecture}")
    config = TranslatorConfig.demo(epochs=8, architecture=architecture, rnn_units=64)
    splits = workflow.load_splits(config)
    translator = workflow.train_run(run_dir, config, splits, verbose=0)
    return {"run_dir": run_dir, "translator": translator, "test": splits["test"][:200],
            "architecture": architecture}


@pytest.mark.slow
def test_held_out_synthetic_sentences_are_translated(trained):
    test = trained["test"]
    predictions = trained["translator"].translate([en for en, _ in test])
    exact = np.mean([p == ko for p, (_, ko) in zip(predictions, test)])
    if trained["architecture"] == "gru":  # one context vector: the structure, not every word
        chrf = sacrebleu.corpus_chrf(predictions, [[ko for _, ko in test]]).score
        assert chrf >= 40, list(zip(test, predictions))[:10]
    else:
        assert exact >= 0.9, list(zip(test, predictions))[:10]


def test_beam_size_one_equals_greedy(trained):
    translator = trained["translator"]
    sources = [en for en, _ in trained["test"][:30]] + ODD_SENTENCES
    greedy = translator.search(sources, method="greedy")
    beam = translator.search(sources, method="beam", beam_size=1)
    np.testing.assert_array_equal(beam["tokens"], greedy["tokens"])
    np.testing.assert_allclose(beam["log_probs"], greedy["log_probs"], rtol=1e-5)


def test_beam_never_scores_below_greedy(trained):
    """Under the same length-normalised score, beam search finds at least greedy's."""
    translator = trained["translator"]
    sources = ODD_SENTENCES + [en for en, _ in trained["test"][:20]]
    greedy = translator.search(sources, method="greedy", length_penalty=0.6)
    beam = translator.search(sources, method="beam", beam_size=4, length_penalty=0.6)
    assert np.all(beam["scores"] >= greedy["scores"] - 1e-5), (beam["scores"], greedy["scores"])


def test_score_matches_the_search(trained):
    """score(src, translation) is the log-probability the search reported for it."""
    translator = trained["translator"]
    sources = ODD_SENTENCES
    found = translator.search(sources, method="beam")
    translations = translator.detokenize(found["tokens"])
    assert all(found["tokens"][i, found["lengths"][i] - 1] == END_ID for i in range(len(sources)))
    np.testing.assert_allclose(translator.score(sources, translations), found["log_probs"], atol=2e-3)
    normalised = translator.score(sources, translations, length_penalty=translator.length_penalty)
    np.testing.assert_allclose(normalised, found["scores"], atol=2e-3)
    # A wrong reference is less likely than the model's own translation.
    wrong = translator.score(sources[:1], ["고양이는 사과를 먹는다."])
    assert wrong[0] < found["log_probs"][0]


NEGATIVE_ALPHA = "length_penalty=-0.5 must be >= 0: a negative exponent favours ever longer"


def test_config_refuses_a_negative_length_penalty():
    with pytest.raises(ValueError, match=NEGATIVE_ALPHA):
        TranslatorConfig(length_penalty=-0.5)


def test_search_refuses_a_negative_length_penalty(trained):
    translator = trained["translator"]
    with pytest.raises(ValueError, match=NEGATIVE_ALPHA):
        translator.search(["hi"], method="beam", length_penalty=-0.5)
    with pytest.raises(ValueError, match=NEGATIVE_ALPHA):
        translator.translate(["hi"], method="greedy", length_penalty=-0.5)


def test_odd_input_returns_without_crashing(trained):
    translator = trained["translator"]
    long_input = " ".join(["the student reads the book"] * 20)
    odd = ["", "   ", "🙂🙂", "學生은 책을 읽는다", "The cat 🐱 eats an apple."]
    with pytest.warns(UserWarning, match="truncated to the model's source_sequence_length"):
        outputs = translator.translate(odd + [long_input], method="beam")
    assert outputs[:2] == ["", ""]
    assert all(isinstance(o, str) for o in outputs)
    assert translator.translate("", method="greedy") == ""
    assert translator.translate([]) == []
    assert len(translator.translate([long_input] * 3, method="greedy", max_length=5)) == 3
    with pytest.raises(ValueError, match="max_length=999"):
        translator.translate(["hi"], max_length=999)
    with pytest.raises(ValueError, match="method='sample'"):
        translator.translate(["hi"], method="sample")
    with pytest.raises(ValueError, match="attention needs an English sentence"):
        translator.attention("   ")


def repeats(tokens, length, n):
    """How many n-grams of `tokens[:length]` occur there more than once."""
    grams = [tuple(tokens[i : i + n]) for i in range(length - n + 1)]
    return len(grams) - len(set(grams))


def test_the_repeat_guard_reaches_both_searches(trained):
    """The run's default guard (3), and stricter ones asked for: unguarded, some translations
    repeat a subword; guarded, none does."""
    translator = trained["translator"]
    assert translator.no_repeat_ngram_size == TranslatorConfig().no_repeat_ngram_size == 3
    sources = [en for en, _ in trained["test"][:60]] + ODD_SENTENCES
    unguarded = translator.search(sources, method="greedy", no_repeat_ngram_size=0)
    assert any(repeats(t, n, 1) for t, n in zip(unguarded["tokens"], unguarded["lengths"]))
    for method in ("greedy", "beam"):
        for size in (1, 2):
            found = translator.search(sources, method=method, no_repeat_ngram_size=size)
            assert not any(repeats(t, n, size) for t, n in zip(found["tokens"], found["lengths"]))
    with pytest.raises(ValueError, match="no_repeat_ngram_size=-1 must be a whole number"):
        translator.translate(["hi"], no_repeat_ngram_size=-1)


def test_attention_maps_and_hangul_plots(trained, tmp_path):
    translator = trained["translator"]
    if trained["architecture"] == "gru":
        with pytest.raises(ValueError, match="no attention map"):
            translator.attention("The student will read the book tomorrow.")
        return
    maps = translator.attention("The student will read the book tomorrow.")
    s, t = len(maps["source_tokens"]), len(maps["output_tokens"])
    assert maps["output_tokens"][-1] == "[END]" and maps["decoder_input_tokens"][0] == "[START]"
    heads = getattr(translator.model, "num_heads", 1)  # additive attention: one "head"
    for layer in maps["cross_attention"]:
        assert layer.shape == (heads, t, s)
        np.testing.assert_allclose(layer.sum(-1), 1.0, atol=1e-4)
    for layer in maps["decoder_self_attention"]:
        assert layer.shape == (heads, t, t)
        assert np.all(np.triu(layer, k=1) == 0)  # the causal triangle
    # The object (책을) attends to "book" most, though it comes before the verb in Korean.
    row = next(i for i, tok in enumerate(maps["output_tokens"]) if "책" in tok)
    column = maps["source_tokens"][int(maps["cross_attention"][-1][:, row].mean(0).argmax())]
    assert "book" in column
    forced = translator.attention("The student will read the book tomorrow.", "학생은 내일 책을 읽을 것이다.")
    assert forced["translation"] == "학생은 내일 책을 읽을 것이다."

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("matplotlib").addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cross, causal = workflow.plot_translation_attention(maps, tmp_path / "cross.png")
    finally:
        logging.getLogger("matplotlib").removeHandler(handler)
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in records]
    assert not [m for m in messages if "Glyph" in m or "missing from font" in m], messages
    assert cross.stat().st_size > 10_000
    if trained["architecture"] == "transformer":
        assert causal.stat().st_size > 10_000
    else:  # an RNN decoder has no self-attention: one figure, the alignment
        assert causal is None and not maps["decoder_self_attention"]


def test_run_directory_reloads_and_exports(trained, tmp_path):
    run_dir = trained["run_dir"]
    for name in ("config.json", "model.keras", "history.json", "metrics.json", "learning_curves.png"):
        assert (run_dir / name).exists(), name
    assert (run_dir / "tokenizers" / "korean" / "vocab.txt").exists()
    reloaded = workflow.load_translator(run_dir)
    sentences = [en for en, _ in trained["test"][:6]] + ["", "The cat 🐱 eats an apple."]
    expected = reloaded.translate(sentences, method="beam")
    assert expected == trained["translator"].translate(sentences, method="beam")

    exported = workflow.export(run_dir, tmp_path / "exported")
    assert (exported / "assets" / "korean" / "sentencepiece.model").exists()
    script = (
        "import json, sys\n"
        "import tensorflow as tf\n"
        "import tensorflow_text  # noqa: F401  (SentencePiece ops)\n"
        "model = tf.saved_model.load(sys.argv[1])\n"
        "out = model.serve(tf.constant(json.loads(sys.argv[2])))\n"
        "print(json.dumps([t.decode('utf-8') for t in out['translation'].numpy()]))\n"
        "assert 'kdl_transformer' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(exported), json.dumps(sentences)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
