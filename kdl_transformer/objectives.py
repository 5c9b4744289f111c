"""The training objectives of every model: losses, metrics, learning-rate schedules, compile.

What `fit` optimises, kept apart from the models so that a model file only says what the
network computes:

- translator: `MaskedSparseCrossentropy` (label smoothing, padding ignored), `MaskedAccuracy`
  (padding ignored), `WarmupSchedule` (linear warm-up, then 1/sqrt(step) decay, as in the
  paper); `translator_optimizer` and `compile_translator` put them together with AdamW.
- classifier: `classifier_optimizer` (AdamW, Adam or RMSprop, on a constant rate or a linear
  warm-up then cosine decay to 0, `warmup_cosine`) and `compile_classifier` (binary
  cross-entropy, accuracy).
- BERT pretraining: `compile_bert_pretrainer` (masked-LM cross-entropy and masked-token
  accuracy at the masked positions, plus next-sentence cross-entropy; AdamW).

The loss, metric and schedule are registered under the package name "kdl_transformer" with
their class names, so a saved `.keras` file (optimizer state included) reloads without
`custom_objects`.
"""

import keras
from keras import ops

from kdl_transformer import distribute
from kdl_transformer.text.special_tokens import PAD_ID


# ---------------------------------------------------------------------------- translator
@keras.saving.register_keras_serializable(package="kdl_transformer")
class MaskedSparseCrossentropy(keras.losses.Loss):
    """Token cross-entropy with label smoothing, averaged over the non-padding targets.

    `loss = (1 - eps) * -log p(y) + eps * mean_v(-log p(v))` per target token; padded targets
    (id `pad_token_id`) count neither in the sum nor in the number of tokens, so the value does
    not depend on how much padding a batch has. The mask comes from `y_true` itself, so the
    result is the same whether or not Keras attached a padding mask to the logits.

    The divisor is the number of real target tokens of the *global* batch
    (`distribute.global_sum`): under a `tf.distribute` strategy with N replicas, each replica
    returns its share of the global mean, the gradients summed over the replicas are those of
    that mean, and training does not depend on N (on one device it is the batch's mean). The
    terms are divided already, hence `reduction="sum"`, which Keras does not rescale by N.

    Args:
        label_smoothing: float in [0, 1).
        pad_token_id: int, the padding id of the targets.
    """

    def __init__(self, label_smoothing=0.0, pad_token_id=PAD_ID, name="masked_crossentropy", dtype=None):
        super().__init__(name=name, reduction="sum", dtype=dtype)
        self.label_smoothing = label_smoothing
        self.pad_token_id = pad_token_id

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")  # (B, T)
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)  # (B, T, V)
        nll = -ops.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]  # (B, T)
        smooth = -ops.mean(log_probs, axis=-1)  # (B, T)
        eps = self.label_smoothing
        losses = (1.0 - eps) * nll + eps * smooth
        mask = ops.cast(ops.not_equal(y_true, self.pad_token_id), "float32")
        tokens = distribute.global_sum(ops.sum(mask))  # real target tokens of the global batch
        return losses * mask / ops.maximum(ops.stop_gradient(tokens), 1.0)

    def get_config(self):
        return {
            "name": self.name,
            "label_smoothing": self.label_smoothing,
            "pad_token_id": self.pad_token_id,
            "dtype": self.dtype,
        }


@keras.saving.register_keras_serializable(package="kdl_transformer")
class MaskedAccuracy(keras.metrics.Metric):
    """Next-token accuracy over non-padding targets (padding would inflate it).

    Args:
        pad_token_id: int, the padding id of the targets.
    """

    def __init__(self, pad_token_id=PAD_ID, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.pad_token_id = pad_token_id
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        mask = ops.cast(ops.not_equal(y_true, self.pad_token_id), "float32")
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        hits = ops.cast(ops.equal(predicted, y_true), "float32") * mask
        self.correct.assign_add(ops.sum(hits))
        self.total.assign_add(ops.sum(mask))

    def result(self):
        return ops.divide_no_nan(self.correct, self.total)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "pad_token_id": self.pad_token_id}


@keras.saving.register_keras_serializable(package="kdl_transformer")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak_learning_rate`, then decay as 1/sqrt(step) (the paper's shape).

    `lr(step) = peak * min(s / warmup, sqrt(warmup / s))` with `s = step + 1`.

    Args:
        peak_learning_rate: float, the rate reached at the end of warm-up.
        warmup_steps: int >= 1.
    """

    def __init__(self, peak_learning_rate, warmup_steps):
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps={warmup_steps} must be at least 1.")
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        s = ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        return self.peak_learning_rate * ops.minimum(s / warmup, ops.sqrt(warmup / s))

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate, "warmup_steps": self.warmup_steps}


def translator_optimizer(config):
    """AdamW (beta_2=0.98, clipnorm 1) on the `WarmupSchedule` of a `TranslatorConfig`.

    `distribute.AdamW`: the clipping sees the gradients summed over replicas.
    """
    return distribute.AdamW(
        learning_rate=WarmupSchedule(config.learning_rate, config.warmup_steps),
        weight_decay=config.weight_decay,
        beta_1=0.9,
        beta_2=0.98,
        epsilon=1e-9,
        clipnorm=1.0,
    )


def compile_translator(model, config):
    """Compile with AdamW (beta_2=0.98) on the warm-up schedule, masked loss and accuracy."""
    model.compile(
        optimizer=translator_optimizer(config),
        loss=MaskedSparseCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[MaskedAccuracy()],
        jit_compile=config.jit_compile,
    )
    return model


# ---------------------------------------------------------------------------- classifier
def warmup_cosine(peak_learning_rate, total_steps, warmup_fraction):
    """Linear warm-up over `warmup_fraction` of `total_steps` to the peak, then cosine decay to 0."""
    total = max(1, int(total_steps))
    warmup = int(warmup_fraction * total)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else peak_learning_rate,
        decay_steps=max(1, total - warmup),
        warmup_target=peak_learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def classifier_optimizer(config, steps_per_epoch):
    """The optimizer of `config`, with linear warm-up + cosine decay when schedule="cosine".

    The `kdl_transformer.distribute` variants of Keras's optimizers (the same on one device).
    """
    learning_rate = config.learning_rate
    if config.schedule == "cosine":
        learning_rate = warmup_cosine(config.learning_rate, steps_per_epoch * config.epochs,
                                      config.warmup_fraction)
    if config.optimizer == "adamw":
        return distribute.AdamW(learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return distribute.Adam(learning_rate)
    return distribute.RMSprop(learning_rate)


def compile_classifier(model, config, steps_per_epoch):
    """Compile a `build_classifier` model: binary cross-entropy, accuracy, `classifier_optimizer`.

    Args:
        model: the token-id model.
        config: its `ClassifierConfig`.
        steps_per_epoch: training batches per epoch (the cosine schedule spans all epochs).
    """
    model.compile(
        optimizer=classifier_optimizer(config, steps_per_epoch),
        loss="binary_crossentropy",
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )
    return model


# ---------------------------------------------------------------------------- BERT pretraining
def compile_bert_pretrainer(model, config, steps_per_epoch):
    """Compile a `BertPretrainer`: masked-LM cross-entropy (+ NSP), masked-token accuracy.

    `fit` reports the masked-token accuracy as "mlm_accuracy" either way; the masked-LM
    loss is "mlm_loss" beside the total "loss" with `nsp`, and is the "loss" itself without.

    The masked-LM loss and accuracy are `MaskedSparseCrossentropy` and `MaskedAccuracy` over
    the chosen positions only (target id 0 marks a padded prediction slot); the NSP loss is
    the binary cross-entropy of its logit, added with weight 1 as in BERT. AdamW (beta_2 0.98,
    clipnorm 1) on a linear warm-up then cosine decay to 0 over all `config.epochs`.

    Args:
        model: a `BertPretrainer`.
        config: its `BertConfig`.
        steps_per_epoch: training batches per epoch.
    """
    losses = {"mlm": MaskedSparseCrossentropy()}
    # Keras prefixes the output name ("mlm_accuracy") only when there are several outputs.
    metrics = {"mlm": [MaskedAccuracy(name="accuracy" if config.nsp else "mlm_accuracy")]}
    if config.nsp:
        losses["nsp"] = keras.losses.BinaryCrossentropy(from_logits=True)
        metrics["nsp"] = [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]
    optimizer = distribute.AdamW(
        learning_rate=warmup_cosine(config.learning_rate, steps_per_epoch * config.epochs,
                                    config.warmup_fraction),
        weight_decay=config.weight_decay, beta_1=0.9, beta_2=0.98, epsilon=1e-6, clipnorm=1.0,
    )
    model.compile(optimizer=optimizer, loss=losses, metrics=metrics,
                  jit_compile=config.jit_compile)
    return model
