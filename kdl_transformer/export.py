"""SavedModel exports whose signatures take raw strings, loadable with TensorFlow alone.

Every export here is a TensorFlow SavedModel with one endpoint, `serve` (also the
`serving_default` signature), taking a batch of strings `tf.string [None]`. The
vocabularies travel inside the SavedModel (the classifier's word list as a lookup
table, the translator's SentencePiece models embedded in the graph, with readable
copies under `assets/`), so a user needs neither this package nor Keras to use it:

    import tensorflow as tf
    reloaded = tf.saved_model.load("exported_classifier")
    reloaded.serve(tf.constant(["a wonderful film"]))["probability"]  # (1,) float32
"""

from pathlib import Path

import keras
import tensorflow as tf

from kdl_transformer.text.special_tokens import PAD_ID

SERVE_ENDPOINT = "serve"


def string_batch_spec(name="texts"):
    """The input signature of every export: a batch of strings, shape (None,)."""
    return tf.TensorSpec(shape=[None], dtype=tf.string, name=name)


def write_string_endpoint(out, fn, trackables):
    """Write a SavedModel at `out` whose `serve` endpoint runs `fn` on a batch of strings.

    Args:
        out: directory to write (created; an existing SavedModel there is replaced).
        fn: function of one `tf.string` tensor (batch,) returning a tensor or a dict
            of tensors; traced once with `string_batch_spec()`.
        trackables: the Keras layers/models (or `tf.Module`s) whose variables and
            lookup tables `fn` uses; they are saved with it.

    Returns:
        The `Path` of the SavedModel directory.
    """
    out = Path(out)
    archive = keras.export.ExportArchive()
    for trackable in trackables:
        archive.track(trackable)
    archive.add_endpoint(name=SERVE_ENDPOINT, fn=fn, input_signature=[string_batch_spec()])
    out.parent.mkdir(parents=True, exist_ok=True)
    logger = tf.get_logger()  # TensorFlow logs "INFO: Assets written to ..." for every export
    level = logger.level
    logger.setLevel("WARNING")
    try:
        archive.write_out(str(out), verbose=False)
    finally:
        logger.setLevel(level)
    return out


def export_classifier(text_model, out):
    """Export a text classifier (from `build_text_classifier`) as a SavedModel.

    The `serve` signature maps reviews `tf.string [None]` to
    `{"probability": float32 [None]}`, P(positive) for each review.

    Args:
        text_model: a `keras.Model` over raw strings returning (batch, 1) probabilities.
        out: directory to write.

    Returns:
        The `Path` of the SavedModel directory.
    """

    def serve(texts):  # (B,) strings
        probability = text_model(texts, training=False)  # (B, 1)
        return {"probability": tf.reshape(probability, [-1])}  # (B,)

    return write_string_endpoint(out, serve, [text_model])


def export_translator(translator, out, method="beam", beam_size=None, length_penalty=None,
                      no_repeat_ngram_size=None):
    """Export an English->Korean `Translator` as a SavedModel: English strings in, Korean out.

    The `serve` signature maps sentences `tf.string [None]` to `{"translation": tf.string
    [None], "log_prob": float32 [None], "score": float32 [None]}` (score: the length-normalised
    log-probability the search ranked by). Tokenization, the encoder, the search loop (one
    `tf.while_loop` with the decoder's key/value cache, never an unrolled Python loop) and
    detokenization all run inside the graph. The SentencePiece models are embedded in the graph
    (tensorflow-text builds its tokenizer from the serialized model), and a copy of each
    vocabulary folder (`sentencepiece.model`, `vocab.txt`, `tokenizer.json`) is written under
    `assets/english` and `assets/korean` for inspection. Input longer than the model's source
    length is cut; empty input gives "". Loading needs
    `import tensorflow_text` (its SentencePiece ops) besides TensorFlow:

        import tensorflow as tf, tensorflow_text  # noqa: F401
        reloaded = tf.saved_model.load("exported_translator")
        reloaded.serve(tf.constant(["I like coffee."]))["translation"]

    Args:
        translator: a `kdl_transformer.translator.Translator`.
        out: directory to write.
        method: "beam" (default) or "greedy".
        beam_size, length_penalty, no_repeat_ngram_size: search settings (default: the
            translator's).

    Returns:
        The `Path` of the SavedModel directory.
    """
    model = translator.model
    source_tokenizer, target_tokenizer = translator.source_tokenizer, translator.target_tokenizer
    source_length = int(model.source_sequence_length)
    max_length = translator.max_length
    beam_size = int(translator.beam_size if beam_size is None else beam_size)
    alpha = float(translator.length_penalty if length_penalty is None else length_penalty)

    def serve(texts):  # (B,) strings
        ids = source_tokenizer.tokenize(texts)[:, :source_length]  # ragged (B, None)
        source = ids.to_tensor(default_value=PAD_ID, shape=[None, source_length])  # (B, S)
        found = translator.search_tensors(
            source, tf.constant(max_length), tf.constant(alpha), method, beam_size,
            no_repeat_ngram_size,
        )
        translation = target_tokenizer.detokenize(found["tokens"])  # (B,)
        translation = tf.where(ids.row_lengths() > 0, translation, "")
        return {"translation": translation, "log_prob": found["log_probs"], "score": found["scores"]}

    out = write_string_endpoint(out, serve, [model, source_tokenizer, target_tokenizer])
    for name, tokenizer in (("english", source_tokenizer), ("korean", target_tokenizer)):
        asset = tokenizer.model_asset
        tokenizer.save(out / "assets" / name)
        tokenizer.model_asset = asset  # `save` re-points it; keep the translator unchanged
    return out
