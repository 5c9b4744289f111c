"""`Seq2SeqGRU`: the RNN translators that came before the Transformer (순환 신경망 seq2seq).

    English ids (B, S) -> Embedding -> N x Bidirectional(GRU), the two directions summed
                            | every encoder state h_i (B, S, U)   | the last states, summed:
                            |                                     | the context vector (B, U)
    [START] + Korean ids -> Embedding -> M x GRU, starting from the context vector
                            | decoder states s_t (B, T, U)
         attention=False:   s_t                                 -> Dense(V) -> logits (B, T, V)
         attention=True:    [s_t ; Σ_i a_ti h_i], a_t = softmax_i vᵀ tanh(W₁ s_t + W₂ h_i)
                                                                -> Dense(V) -> logits

With `attention=False` (the context-vector model of Sutskever et al. 2014, the book's GRU
seq2seq) the whole English sentence reaches the decoder through one vector of U numbers: long
sentences lose their beginning. With `attention=True` each decoder state asks every encoder state
(additive attention, `layers.AdditiveAttention`): the query is s_t, keys and values are the h_i.
The context joins the state before the output layer (the order of Luong et al., 2015, with
Bahdanau's additive score), so teacher forcing runs the decoder GRU once over the whole sentence.

The same interface as `Seq2SeqTransformer`, so the searches, `Translator.score`, the error
analysis, attention maps (with attention) and the SavedModel export work unchanged:
`call([source_ids, decoder_input_ids])` -> logits, `init_cache` and the cached step `next(token_ids,
cache, index) -> (logits, cache)`, `forward(..., return_attention_scores=True)`.
"""

import keras
from keras import ops

from kdl_transformer.layers import masking
from kdl_transformer.layers.additive_attention import AdditiveAttention
from kdl_transformer.text.special_tokens import PAD_ID


@keras.saving.register_keras_serializable(package="kdl_transformer")
class Seq2SeqGRU(keras.Model):
    """GRU encoder-decoder for translation, with or without additive attention.

    Built as a functional model over two inputs, so it has a summary with shapes and reloads
    from `.keras` files with no `custom_objects`. Token id 0 is padding on both sides: the
    encoder GRUs skip padded source steps (both directions), attention gives them weight 0.

    Args:
        source_vocab_size: int, English vocabulary size.
        target_vocab_size: int, Korean vocabulary size.
        source_sequence_length: int, longest source (longer input is cut by the translator).
        target_sequence_length: int, longest decoder input (and generated sequence).
        embed_dim: int, token embedding width.
        units: int, width of every GRU state (and of the attention's hidden layer).
        num_encoder_layers: int, stacked bidirectional GRU layers.
        num_decoder_layers: int, stacked GRU layers; each starts from the context vector.
        attention: bool, additive attention over all encoder states (else the context
            vector alone).
        dropout: float, on embeddings, between layers and before the output layer.

    Call arguments:
        inputs: `[source_ids (B, S), decoder_input_ids (B, T)]`, int; decoder inputs start
            with `[START]` (teacher forcing).
        training: bool, enables dropout.

    Returns:
        logits (B, T, target_vocab_size).

    Example:

    >>> model = Seq2SeqGRU(100, 120, 16, 16, embed_dim=32, units=32, attention=True)
    >>> model([np.ones((2, 5), "int32"), np.ones((2, 7), "int32")]).shape
    (2, 7, 120)

    References:
        - [Sutskever et al., 2014](https://arxiv.org/abs/1409.3215)
        - [Bahdanau et al., 2015](https://arxiv.org/abs/1409.0473)
        - [Luong et al., 2015](https://arxiv.org/abs/1508.04025)
        - Chollet, Deep Learning with Python, 2nd ed., section 11.5.2.
    """

    # The cache entries `next` changes; beam search reorders only these (the rest is per sentence).
    step_cache_keys = ("decoder_states",)

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        source_sequence_length,
        target_sequence_length,
        embed_dim=256,
        units=512,
        num_encoder_layers=1,
        num_decoder_layers=1,
        attention=True,
        dropout=0.3,
        **kwargs,
    ):
        # === Layers ===
        self.source_embedding = keras.layers.Embedding(
            source_vocab_size, embed_dim, name="source_embedding")
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size, embed_dim, name="target_embedding")
        self.encoder_layers = [
            keras.layers.Bidirectional(
                keras.layers.GRU(units, return_sequences=True, return_state=True),
                merge_mode="sum", name=f"encoder_{i}",
            )
            for i in range(num_encoder_layers)
        ]
        self.decoder_layers = [
            keras.layers.GRU(units, return_sequences=True, return_state=True, name=f"decoder_{i}")
            for i in range(num_decoder_layers)
        ]
        self.attention_layer = AdditiveAttention(units, name="attention") if attention else None
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        # float32 logits under mixed precision too: the softmax over the vocabulary needs them.
        self.logits_dense = keras.layers.Dense(target_vocab_size, dtype="float32", name="logits")

        # === Config (read by the graph below) ===
        self.attention = attention

        # === Functional model ===
        source = keras.Input(shape=(None,), dtype="int32", name="source")
        target = keras.Input(shape=(None,), dtype="int32", name="decoder_inputs")
        logits = self.forward(source, target)
        super().__init__(inputs=[source, target], outputs=logits, **kwargs)

        # === Config ===
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.source_sequence_length = source_sequence_length
        self.target_sequence_length = target_sequence_length
        self.embed_dim = embed_dim
        self.units = units
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.dropout = dropout

    # --------------------------------------------------------------------------- passes
    def encode(self, source_ids, training=False):
        """Run the encoder once per sentence.

        Returns:
            `(encoder_states (B, S, U), context_vector (B, U), source_padding_mask (B, S))`;
            the context vector is the sum of the last layer's final forward and backward
            states.
        """
        source_mask = ops.not_equal(source_ids, PAD_ID)  # (B, S)
        x = self.dropout_layer(self.source_embedding(source_ids), training=training)
        for i, layer in enumerate(self.encoder_layers):
            if i:
                x = self.dropout_layer(x, training=training)
            x, forward_state, backward_state = layer(x, mask=source_mask, training=training)
        # The GRUs attach the mask to their outputs; it is passed explicitly from here on.
        x = masking.without_keras_mask(x, source_mask)
        return x, forward_state + backward_state, source_mask

    def _logits_from_states(self, states, encoder_states, source_mask, projected_values=None, training=False):
        """Logits from the top decoder states (B, [T,] U), with attention when the model has it."""
        weights = None
        if self.attention:
            context, weights = self.attention_layer(
                states, encoder_states, values_mask=source_mask, return_attention_scores=True,
                projected_values=projected_values,
            )
            states = ops.concatenate([states, context], axis=-1)
        return self.logits_dense(self.dropout_layer(states, training=training)), weights

    def forward(self, source_ids, decoder_input_ids, training=None, return_attention_scores=False):
        """The teacher-forced pass behind `call`, optionally with the attention weights.

        Returns:
            logits (B, T, V); with `return_attention_scores` (attention models only), a dict
            with "logits", "cross_attention" (one layer (B, 1, T, S): one "head"), and empty
            "encoder_self_attention" / "decoder_self_attention" lists (an RNN has none).
        """
        if return_attention_scores and not self.attention:
            raise ValueError(
                f"{self.name} is a GRU seq2seq without attention: its decoder sees the "
                "sentence only through the context vector, so there is no attention map. "
                "Train architecture=gru_attention (or transformer) to see one."
            )
        encoder_states, context_vector, source_mask = self.encode(source_ids, training)
        target_mask = ops.not_equal(decoder_input_ids, PAD_ID)  # (B, T)
        x = self.dropout_layer(self.target_embedding(decoder_input_ids), training=training)
        for i, layer in enumerate(self.decoder_layers):
            if i:
                x = self.dropout_layer(x, training=training)
            x, _ = layer(x, initial_state=context_vector, mask=target_mask, training=training)
        x = masking.without_keras_mask(x, target_mask)  # the loss masks padding itself
        logits, weights = self._logits_from_states(x, encoder_states, source_mask, training=training)
        if not return_attention_scores:
            return logits
        return {
            "logits": logits,
            "encoder_self_attention": [],
            "decoder_self_attention": [],
            "cross_attention": [weights[:, None]],
        }

    def init_cache(self, source_ids, max_length):
        """Encode a batch and prepare the decoding cache for `next`.

        Args:
            source_ids: int (B, S) English ids, 0-padded.
            max_length: unused (an RNN's state does not grow); kept for the searches' interface.

        Returns:
            dict: "decoder_states" (per decoder layer (B, U), all the context vector); with
            attention also "encoder_states" (B, S, U), "projected_values" (B, S, U), W₂ h_i
            computed once, and "source_padding_mask" (B, S).
        """
        del max_length
        encoder_states, context_vector, source_mask = self.encode(source_ids)
        cache = {"decoder_states": tuple(context_vector for _ in self.decoder_layers)}
        if self.attention:
            cache.update(
                encoder_states=encoder_states,
                projected_values=self.attention_layer.project_values(encoder_states),
                source_padding_mask=source_mask,
            )
        return cache

    def next(self, token_ids, cache, index):
        """One decoding step: each GRU cell advances once, then attention and the logits.

        Args:
            token_ids: int (B, 1), the decoder input at position `index`.
            cache: dict from `init_cache` (or a previous `next`).
            index: int32 scalar, the position of `token_ids` (unused: the state knows it).

        Returns:
            `(logits (B, V) for position index + 1, updated cache)`.
        """
        del index
        x = self.target_embedding(token_ids)[:, 0, :]  # (B, E)
        states = []
        for layer, state in zip(self.decoder_layers, cache["decoder_states"]):
            x, _ = layer.cell(x, [state])  # (B, U)
            states.append(x)
        logits, _ = self._logits_from_states(
            x, cache.get("encoder_states"), cache.get("source_padding_mask"),
            cache.get("projected_values"),
        )
        return logits, {**cache, "decoder_states": tuple(states)}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "source_sequence_length": self.source_sequence_length,
            "target_sequence_length": self.target_sequence_length,
            "embed_dim": self.embed_dim,
            "units": self.units,
            "num_encoder_layers": self.num_encoder_layers,
            "num_decoder_layers": self.num_decoder_layers,
            "attention": self.attention,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
