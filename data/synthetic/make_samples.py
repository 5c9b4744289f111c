"""Regenerate the synthetic samples in this folder from the package's generators.

    python data/synthetic/make_samples.py

`tests/test_datasets_synthetic.py` checks that the files equal the generators' output,
so a change to the generators that changes the data shows up as a failing test until
this script is run again.
"""

from pathlib import Path

from kdl_transformer.datasets import make_reviews, make_translation_pairs

HERE = Path(__file__).resolve().parent
PAIRS_FILE, PAIRS_N, PAIRS_SEED = HERE / "pairs_sample.tsv", 200, 0
REVIEWS_FILE, REVIEWS_N, REVIEWS_SEED = HERE / "reviews_sample.tsv", 100, 0


def main():
    pairs = make_translation_pairs(PAIRS_N, seed=PAIRS_SEED)
    PAIRS_FILE.write_text(
        "english\tkorean\n" + "".join(f"{en}\t{ko}\n" for en, ko in pairs), encoding="utf-8"
    )
    texts, labels = make_reviews(REVIEWS_N, seed=REVIEWS_SEED)
    REVIEWS_FILE.write_text(
        "label\ttext\n" + "".join(f"{label}\t{text}\n" for label, text in zip(labels, texts)), encoding="utf-8"
    )
    print(f"wrote {PAIRS_FILE} ({len(pairs)} pairs) and {REVIEWS_FILE} ({len(texts)} reviews)")


if __name__ == "__main__":
    main()
