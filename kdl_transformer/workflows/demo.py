"""The offline demo (`kdl-transformer demo`): both models trained on project-made data.

No download: synthetic movie reviews for the classifier, synthetic English SVO / Korean SOV
sentences for the translator (`kdl_transformer.datasets.synthetic`). Each demo trains in seconds
to minutes on a CPU and prints what the model learned.
"""

import dataclasses
from pathlib import Path

import numpy as np

from kdl_transformer import training
from kdl_transformer.configs import ClassifierConfig, TranslatorConfig
from kdl_transformer.datasets import make_reviews
from kdl_transformer.evaluation import classification_report
from kdl_transformer.plotting import plot_translation_attention
from kdl_transformer.workflows import classifier as classifier_workflow
from kdl_transformer.workflows import translator as translator_workflow

DEMO_REVIEWS = (
    "The acting was brilliant and I loved the music.",
    "The plot was not clever, and the ending was boring.",
    "I did not enjoy the story.",
    "The film was not bad. I liked the cast.",
)


def classifier(out, train_size=3000, epochs=None, verbose=2):
    """Train a tiny classifier on synthetic reviews (offline, seconds) and print predictions.

    Returns:
        dict with the held-out synthetic accuracy, the run directory and the predictions.
    """
    config = ClassifierConfig.demo()
    if epochs is not None:
        config = dataclasses.replace(config, epochs=int(epochs))
    out = Path(out)
    texts, labels = make_reviews(train_size, seed=0)
    n_val = int(config.validation_fraction * train_size)
    test_texts, test_labels = make_reviews(400, seed=1)
    text_model, _ = classifier_workflow.fit_classifier(
        config, (texts[n_val:], labels[n_val:]), (texts[:n_val], labels[:n_val]), out,
        verbose=verbose,
    )
    report = classification_report(test_labels, classifier_workflow.predict_texts(text_model, test_texts))
    training.RunDir(out).update_metrics(
        synthetic_test_accuracy=report["accuracy"], synthetic_test_examples=report["examples"]
    )
    print(f"accuracy on {report['examples']} held-out synthetic reviews: {report['accuracy']:.3f}")
    predictions = classifier_workflow.predict_texts(text_model, list(DEMO_REVIEWS))
    for review, probability in zip(DEMO_REVIEWS, predictions):
        print(f"{probability:.3f}  {'positive' if probability >= 0.5 else 'negative'}  {review}")
    attention_png = classifier_workflow.plot_review_attention(text_model, DEMO_REVIEWS[1], out / "attention.png")[0]
    print(f"wrote {attention_png}")
    return {
        "run_dir": out,
        "synthetic_test_accuracy": report["accuracy"],
        "predictions": dict(zip(DEMO_REVIEWS, map(float, predictions))),
        "attention_png": attention_png,
    }


def translator(out, config=None, examples=8, verbose=2):
    """The offline demo: train a small translator on synthetic pairs and show what it learned.

    Synthetic English SVO sentences and their Korean SOV translations (no download); prints
    held-out translations and the exact-match rate, and writes the cross-attention map of a
    held-out sentence, where the reordering (object before verb, time adverb after the subject)
    shows as a crossing pattern.

    Returns:
        dict with "exact_match" (held-out synthetic test split, greedy), "examples" and the
        PNG paths.
    """
    out = Path(out)
    config = config or TranslatorConfig.demo()
    splits = translator_workflow.load_splits(config)
    translator = translator_workflow.train_run(out, config, splits, verbose=verbose)
    test = splits["test"]
    sources = [en for en, _ in test]
    predictions = translator.translate(sources, method="greedy")
    matches = [p == ko for p, (_, ko) in zip(predictions, test)]
    exact = float(np.mean(matches))
    print(f"\nHeld-out synthetic sentences (exact match {exact:.1%} of {len(test)}):")
    rows = list(zip(test, predictions, matches))
    misses = [row for row in rows if not row[2]][:2]  # show a couple of mistakes too
    for (en, ko), prediction, ok in rows[: examples - len(misses)] + misses:
        print(f"  {'✓' if ok else '✗'} {en}\n      -> {prediction}" + ("" if ok else f"   (reference: {ko})"))
    sentence = next((en for en in sources if "tomorrow" in en or "yesterday" in en), sources[0])
    cross_path, self_path = plot_translation_attention(
        translator.attention(sentence), out / "cross_attention.png"
    )
    print(f"Cross-attention of {sentence!r}: {cross_path}")
    training.RunDir(out).update_metrics(demo_exact_match=exact, demo_test_pairs=len(test))
    return {
        "exact_match": exact,
        "examples": [
            {"english": en, "reference": ko, "translation": p}
            for (en, ko), p in list(zip(test, predictions))[:examples]
        ],
        "cross_attention_png": str(cross_path),
        "self_attention_png": str(self_path),
    }
