"""One vocabulary for English and Korean, and one model for both directions (language tags).

A shared vocabulary is one SentencePiece model trained on the English (lowercased) and the
Korean side together. Both tokenizers of a translator then hold the same pieces with the same
ids: the English one lowercases, the Korean one does not. With one id space the model can use
one token table for its source embedding, its target embedding and its output projection
(tied embeddings, `Seq2SeqTransformer(tie_embeddings=True)`): a third of the parameters of
three separate tables, and a piece shared by both languages ("cafe", "iPhone", "3") is one
vector.

On top of it, one model can learn both directions (Johnson et al., 2017): every training
pair is used once as English -> Korean and once as Korean -> English, and the source says
which language to write with a tag piece put before it:

    "<2ko> i drink coffee at the cafe."   ->  "나는 카페에서 커피를 마신다."
    "<2en> 나는 카페에서 커피를 마신다."  ->  "i drink coffee at the cafe."

The English side is lowercased in both roles (the vocabulary has no capitals). The English
tokenizer of such a run carries `prefix="<2ko> "`, so `Translator`, the attention maps and
the exported SavedModel tag what they translate without being told; training reads the
tagged pairs of `training_pairs` with `source_tokenizer`, the same vocabulary without it.
"""

from kdl_transformer.text.normalization import normalize_text

TAGS = {"ko": "<2ko>", "en": "<2en>"}  # "write Korean", "write English"


def tagged(text, language):
    """`text` with the tag that asks for a translation into `language` ("ko" or "en")."""
    return f"{TAGS[language]} {text}"


def training_pairs(pairs, both_directions, reverse=True):
    """The (source, target) pairs a model is trained on.

    Args:
        pairs: list of (english, korean).
        both_directions: False: `pairs` unchanged. True: every pair tagged as
            English -> Korean, followed (with `reverse`) by the same pairs as
            Korean -> English (English lowercased).
        reverse: add the Korean -> English pairs (False for validation: the model is
            chosen on the direction it is evaluated in).

    Returns:
        list of (source, target) str pairs.
    """
    if not both_directions:
        return list(pairs)
    forward = [(tagged(en, "ko"), ko) for en, ko in pairs]
    if not reverse:
        return forward
    return forward + [(tagged(ko, "en"), normalize_text(en, lowercase=True)) for en, ko in pairs]


def source_tokenizer(english):
    """The tokenizer of training sources already tagged by `training_pairs` (no prefix)."""
    return english.with_options(prefix="") if english.prefix else english


def train_shared_tokenizers(pairs, vocab_size, both_directions=False):
    """`(english, korean)` `SubwordTokenizer`s over one vocabulary trained on both sides.

    Args:
        pairs: the training (english, korean) pairs (the train split only).
        vocab_size: int, pieces of the one vocabulary (reserved tokens included).
        both_directions: add the tags as pieces and give the English tokenizer the
            "<2ko> " prefix (`training_pairs`).
    """
    from kdl_transformer.text.subword_tokenizer import SubwordTokenizer

    texts = [normalize_text(en, lowercase=True) for en, _ in pairs] + [ko for _, ko in pairs]
    symbols = tuple(TAGS.values()) if both_directions else ()
    korean = SubwordTokenizer.train(texts, vocab_size=vocab_size, lowercase=False,
                                    user_defined_symbols=symbols)
    prefix = tagged("", "ko") if both_directions else ""
    return korean.with_options(lowercase=True, prefix=prefix), korean
