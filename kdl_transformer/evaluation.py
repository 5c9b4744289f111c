"""Model quality: for the translator, BLEU and chrF with sacrebleu and the beam-search error
analysis; for the classifier, accuracy, cross-entropy and the confusion matrix.

Korean BLEU depends heavily on how the text is split into "words", so every BLEU here names its
tokenizer and chrF (character n-grams, no tokenizer) is always reported beside it:

- `bleu_13a`: sacrebleu's default tokenizer (13a): words are whitespace-separated 어절 with
  punctuation split off. A Korean 어절 carries its particles and endings (카페에서, 마셨다), so one
  wrong particle loses the whole word: low, harsh numbers, comparable with most published
  sacrebleu scores that did not say otherwise.
- `bleu_char`: sacrebleu's `char` tokenizer (every character a token): far less sensitive to
  Korean morphology, but not comparable with word-level BLEU.
- `chrf`: sacrebleu's chrF (character 6-grams, beta=2), the primary number here.

The Korean-aware tokenizers of sacrebleu are not usable offline on these machines (measured):
`ko-mecab` needs `pip install sacrebleu[ko]` (mecab-ko and its dictionary), and `flores200` /
`spm` download a SentencePiece model on first use. `available_bleu_tokenizers()` says which
work here.

Error analysis (from the seed notes, 빔 서치 오류 분석): for each test pair whose translation
y_hat differs from the reference y*, compare the model's length-normalised log-probabilities
(as the search ranks them). If log P(y*|x) > log P(y_hat|x), the model preferred the
reference but the search did not find it: a *search* error (try a wider beam). Otherwise the
model itself prefers its wrong output: a *model* error (more data, a better model).
"""

import time
import warnings

import numpy as np
import sacrebleu

from kdl_transformer.decoding import normalized_score
from kdl_transformer.text.normalization import normalize_text

BLEU_TOKENIZERS = ("13a", "char")


def available_bleu_tokenizers(candidates=("13a", "char", "intl", "ko-mecab", "flores200")):
    """The sacrebleu tokenizers that work on this machine (some need extras or a download)."""
    working = []
    for name in candidates:
        try:
            sacrebleu.corpus_bleu(["카페 가요"], [["카페 가요"]], tokenize=name)
        except Exception:  # noqa: BLE001 - missing extras raise RuntimeError, downloads URLError
            continue
        working.append(name)
    return working


def corpus_scores(hypotheses, references):
    """BLEU (13a and char tokenizers) and chrF of a system against one reference each.

    Args:
        hypotheses: list of N translated strings.
        references: list of N reference strings.

    Returns:
        dict: "bleu_13a", "bleu_char", "chrf" (0-100), "signatures" (sacrebleu signature of
        each metric, naming its tokenizer), "sentences" (N).
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"Got {len(hypotheses)} translations for {len(references)} references; pass one "
            "translation per reference."
        )
    results, signatures = {}, {}
    for tokenizer in BLEU_TOKENIZERS:
        bleu = sacrebleu.metrics.BLEU(tokenize=tokenizer)
        results[f"bleu_{tokenizer}"] = round(bleu.corpus_score(hypotheses, [references]).score, 2)
        signatures[f"bleu_{tokenizer}"] = str(bleu.get_signature())
    chrf = sacrebleu.metrics.CHRF()
    results["chrf"] = round(chrf.corpus_score(hypotheses, [references]).score, 2)
    signatures["chrf"] = str(chrf.get_signature())
    return {**results, "signatures": signatures, "sentences": len(references)}


LENGTH_BUCKETS = ((1, 4), (5, 8), (9, 12), (13, None))  # English words per source sentence


def chrf_by_source_length(sources, hypotheses, references, buckets=LENGTH_BUCKETS):
    """Corpus chrF of the sentences in each source-length bucket (English words, split on spaces).

    Where a model's quality falls with the sentence's length shows here (an RNN's single context
    vector, truncated sources).

    Returns:
        dict bucket label ("1-4", ..., "13+") -> {"sentences": n, "chrf": score or None}.
    """
    if not len(sources) == len(hypotheses) == len(references):
        raise ValueError(
            f"Got {len(sources)} sources, {len(hypotheses)} translations and {len(references)} "
            "references; pass one of each per sentence."
        )
    words = [len(source.split()) for source in sources]
    report = {}
    for low, high in buckets:
        label = f"{low}-{high}" if high is not None else f"{low}+"
        picked = [i for i, n in enumerate(words) if n >= low and (high is None or n <= high)]
        chrf = sacrebleu.metrics.CHRF().corpus_score(
            [hypotheses[i] for i in picked], [[references[i] for i in picked]]
        ).score if picked else None
        report[label] = {"sentences": len(picked), "chrf": None if chrf is None else round(chrf, 2)}
    return report


def multi_reference_chrf(sources, hypotheses, references):
    """chrF against one reference and against all the references of each source sentence.

    Tatoeba often has several Korean translations of one English sentence, and a good
    translation that matches another of them scores low against the one it is paired with.
    Pairs are grouped by source sentence (the first hypothesis of a source stands for it).

    Args:
        sources, hypotheses, references: one of each per pair; a source may repeat.

    Returns:
        dict: "sentences" (distinct sources), "with_several_references", and chrF of the
        distinct sources against their first reference ("one_reference") and against all of
        them ("all_references"), for every sentence and for those with several references
        ("several_one_reference", "several_all_references"; None when there are none).
    """
    if not len(sources) == len(hypotheses) == len(references):
        raise ValueError(
            f"Got {len(sources)} sources, {len(hypotheses)} translations and {len(references)} "
            "references; pass one of each per pair."
        )
    grouped = {}
    for source, hypothesis, reference in zip(sources, hypotheses, references):
        grouped.setdefault(source, (hypothesis, []))[1].append(reference)
    groups = list(grouped.values())
    several = [group for group in groups if len(group[1]) > 1]

    def chrf(picked, all_references):
        if not picked:
            return None
        count = max(len(refs) for _, refs in picked) if all_references else 1
        streams = [[refs[i] if i < len(refs) else None for _, refs in picked] for i in range(count)]
        return round(sacrebleu.metrics.CHRF().corpus_score([h for h, _ in picked], streams).score, 2)

    return {
        "sentences": len(groups),
        "with_several_references": len(several),
        "one_reference": chrf(groups, False),
        "all_references": chrf(groups, True),
        "several_one_reference": chrf(several, False),
        "several_all_references": chrf(several, True),
    }


def search_error_analysis(reference_scores, hypothesis_scores, is_error):
    """Blame each wrong translation on the search or on the model.

    Args:
        reference_scores: (N,) length-normalised log P(y*|x) of the references.
        hypothesis_scores: (N,) length-normalised log P(y_hat|x) of the translations.
        is_error: (N,) bool, True where the translation differs from the reference.

    Returns:
        dict: "errors" (count), "search_errors" / "model_errors" (counts),
        "search_error_share" / "model_error_share" (of the errors, 0-1; None when no errors),
        and "mean_score_gap" (mean of log P(y*|x) - log P(y_hat|x) over the errors).
    """
    reference_scores = np.asarray(reference_scores, "float64")
    hypothesis_scores = np.asarray(hypothesis_scores, "float64")
    is_error = np.asarray(is_error, bool)
    errors = int(is_error.sum())
    search = int((is_error & (reference_scores > hypothesis_scores)).sum())
    gap = (reference_scores - hypothesis_scores)[is_error]
    return {
        "errors": errors,
        "search_errors": search,
        "model_errors": errors - search,
        "search_error_share": round(search / errors, 4) if errors else None,
        "model_error_share": round((errors - search) / errors, 4) if errors else None,
        "mean_score_gap": round(float(gap.mean()), 4) if errors else None,
    }


def evaluate_translator(
    translator, pairs, methods=("greedy", "beam"), beam_size=None, length_penalty=None, samples=8
):
    """Translate `pairs` with each method; scores, samples and the search/model error analysis.

    Args:
        translator: a `Translator` (anything with `search`, `detokenize`, `score_ids`,
            `encode_source`, `encode_target` and `length_penalty`).
        pairs: list of (english, korean) reference pairs.
        methods: "greedy" and/or "beam".
        beam_size, length_penalty: beam settings (default: the translator's).
        samples: how many (source, reference, translation) examples to keep.

    Sources longer than the model accepts are cut (counted as "truncated_sources", without
    a warning per call).

    Returns:
        dict method -> {corpus scores..., "exact_match", "decode_seconds",
        "truncated_sources", "error_analysis", "chrf_by_source_length", "samples"}.
    """
    sources = [s for s, _ in pairs]
    references = [t for _, t in pairs]
    alpha = translator.length_penalty if length_penalty is None else length_penalty
    limit = int(translator.model.source_sequence_length)
    truncated = sum(len(ids) > limit for ids in translator.source_tokenizer.tokenize(sources).to_list())
    report = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*truncated to the model's source_sequence_length")
        reference_scores = translator.score(sources, references, length_penalty=alpha)
        for method in methods:
            report[method] = _evaluate_method(
                translator, sources, references, reference_scores, method, beam_size, alpha, samples
            )
            report[method]["truncated_sources"] = truncated
    return report


def _evaluate_method(translator, sources, references, reference_scores, method, beam_size, alpha, samples):
    """Scores, samples and error analysis of one search method (see `evaluate_translator`)."""
    start = time.perf_counter()
    found = translator.search(sources, method=method, beam_size=beam_size, length_penalty=alpha)
    seconds = time.perf_counter() - start
    hypotheses = translator.detokenize(found["tokens"])
    # Score y_hat exactly as generated (ids, not re-tokenized text), the same way as y*.
    hypothesis_scores = _normalized_scores(translator, sources, found["tokens"], alpha)
    same = np.array([normalize_text(h) == normalize_text(r) for h, r in zip(hypotheses, references)])
    return {
        **corpus_scores(hypotheses, references),
        "exact_match": round(float(same.mean()), 4) if len(same) else None,
        "decode_seconds": round(seconds, 2),
        "ms_per_sentence": round(1000 * seconds / max(len(sources), 1), 2),
        "error_analysis": search_error_analysis(reference_scores, hypothesis_scores, ~same),
        "chrf_by_source_length": chrf_by_source_length(sources, hypotheses, references),
        "samples": [
            {"english": s, "reference": r, "translation": h}
            for s, r, h in list(zip(sources, references, hypotheses))[:samples]
        ],
    }


def _normalized_scores(translator, sources, tokens, alpha):
    scores = []
    for start in range(0, len(sources), translator.batch_size):
        end = start + translator.batch_size
        log_probs, lengths = translator.score_ids(
            translator.encode_source(sources[start:end]), tokens[start:end]
        )
        scores.append(normalized_score(log_probs, np.maximum(lengths, 1), alpha).numpy())
    return np.concatenate(scores) if scores else np.zeros(0)


# ------------------------------------------------------------------------------ classifier
def classification_report(labels, probabilities):
    """Accuracy, binary cross-entropy and the 2x2 confusion matrix (rows: true neg/pos)."""
    labels = np.asarray(labels).astype("int64").reshape(-1)
    probabilities = np.asarray(probabilities, dtype="float64").reshape(-1)
    predicted = (probabilities >= 0.5).astype("int64")
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    matrix = np.zeros((2, 2), dtype="int64")
    np.add.at(matrix, (labels, predicted), 1)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "loss": float(loss),
        "confusion_matrix": matrix.tolist(),
        "confusion_matrix_labels": ["negative", "positive"],
        "examples": int(len(labels)),
    }
