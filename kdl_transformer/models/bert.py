"""BERT (Devlin et al., 2019) built from the package's layers: the encoder, its pretraining, its fine-tuning.

    token ids (B, T) ----> PositionalEmbedding (tokens + learned positions) --+
    segment ids (B, T) --> Embedding (A = 0, B = 1) --------------------------+--> LayerNorm
        -> Dropout -> N x TransformerEncoder -> [final LayerNorm] -> hidden states (B, T, D)

- `BertBackbone`: the encoder above (a functional `keras.Model`), what pretraining trains
  and fine-tuning starts from.
- `BertPretrainer`: the backbone with a masked-LM head, keras_hub's `MaskedLMHead`, which
  gathers the hidden states at the masked positions only, (B, P, D) with P << T, and projects
  them onto the vocabulary with the token embedding table itself (weight tying, Press & Wolf
  2017: no separate (D, V) output matrix); with `nsp`, also a next-sentence head on [CLS].
- `BertClassifier`: the backbone with a sentiment head on [CLS] or on pooled tokens, over
  token ids (segment ids all 0), the model a `WordPieceVectorizer` feeds.

The two task models keep the backbone as an attribute and save it as their config (as
keras_hub's tasks do), so a reloaded model is built again by its constructor: the masked-LM
head is tied to the reloaded backbone's token embedding, not to a copy of it.
"""

import keras

from kdl_transformer.layers import MaskedGlobalPooling1D, PositionalEmbedding, TransformerEncoder


@keras.saving.register_keras_serializable(package="kdl_transformer")
class BertBackbone(keras.Model):
    """The BERT encoder: token, learned position and segment embeddings, then encoder blocks.

    Masking: token id 0 is padding; padded positions are excluded as attention keys (an
    explicit padding mask computed from the token ids, handed to every block).

    Args:
        vocab_size: int, WordPiece vocabulary size.
        sequence_length: int, the size of the position table (the longest input).
        embed_dim: int, width of the embeddings and of every block.
        num_heads: int, attention heads; must divide `embed_dim`.
        dense_dim: int, hidden width of each block's feed-forward network.
        num_layers: int, stacked `TransformerEncoder` blocks.
        dropout: float, dropout on the embeddings, attention weights and residual branches.
        norm_first: bool, pre-norm blocks plus a final LayerNormalization.
        num_segments: int, segment embeddings (2: A and B).

    Call arguments:
        inputs: dict with "token_ids" and "segment_ids", int (batch, length).

    Returns:
        hidden states (batch, length, embed_dim).

    Example:

    >>> backbone = BertBackbone(100, 16, embed_dim=8, num_heads=2, dense_dim=16, num_layers=1)
    >>> backbone({"token_ids": np.array([[2, 9, 3, 0]]), "segment_ids": np.zeros((1, 4), "int32")}).shape
    TensorShape([1, 4, 8])
    """

    def __init__(self, vocab_size, sequence_length, embed_dim, num_heads, dense_dim, num_layers,
                 dropout=0.1, norm_first=True, num_segments=2, **kwargs):
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (B, T)
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")  # (B, T)
        tokens = PositionalEmbedding(sequence_length, vocab_size, embed_dim,
                                     name="positional_embedding")(token_ids)  # (B, T, D)
        segments = keras.layers.Embedding(num_segments, embed_dim,
                                          name="segment_embedding")(segment_ids)  # (B, T, D)
        x = keras.layers.Add(name="embeddings")([tokens, segments])
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="embedding_norm")(x)
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        padding_mask = keras.ops.not_equal(token_ids, 0)  # (B, T)
        for index in range(num_layers):
            x = TransformerEncoder(embed_dim, dense_dim, num_heads, dropout=dropout,
                                   norm_first=norm_first, activation="gelu",
                                   name=f"encoder_{index}")(x, padding_mask=padding_mask)
        if norm_first:
            x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
        super().__init__(inputs={"token_ids": token_ids, "segment_ids": segment_ids},
                         outputs=x, **kwargs)
        self.vocab_size = vocab_size
        self.sequence_length = sequence_length
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.dense_dim = dense_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.norm_first = norm_first
        self.num_segments = num_segments

    @property
    def token_embedding(self):
        """The (vocab_size, embed_dim) token table, a `keras.layers.ReversibleEmbedding`."""
        return self.get_layer("positional_embedding").token_embedding

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocab_size": self.vocab_size,
            "sequence_length": self.sequence_length,
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "dense_dim": self.dense_dim,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "norm_first": self.norm_first,
            "num_segments": self.num_segments,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_bert_backbone(config):
    """The `BertBackbone` of a `BertConfig` (named "backbone") for a vocabulary of `config.vocab_size`."""
    return BertBackbone(config.vocab_size, config.sequence_length, config.embed_dim,
                        config.num_heads, config.dense_dim, config.num_layers,
                        dropout=config.dropout, norm_first=config.norm_first, name="backbone")


class _BackboneTask(keras.Model):
    """What the two task models share: the backbone saved as their config, and rebuilt from it."""

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                **self._task_config()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="kdl_transformer")
class BertPretrainer(_BackboneTask):
    """The backbone with its pretraining heads: masked LM (tied), and next-sentence prediction.

    The masked-LM head is keras_hub's `MaskedLMHead` given the backbone's token embedding:
    Dense(D, gelu) and LayerNorm on the hidden states at `mask_positions` only, then logits
    = h @ E^T + b with E the token embedding table (no output matrix of its own). The NSP
    head (with `nsp`) is BERT's: Dense(D, tanh) on [CLS] (the "pooler"), then one logit,
    "B follows A".

    Args:
        backbone: a `BertBackbone`.
        nsp: bool, add the next-sentence head.

    Call arguments:
        inputs: dict with "token_ids", "segment_ids" (batch, T) and "mask_positions"
            (batch, P), int.

    Returns:
        dict: "mlm" logits (batch, P, vocab_size) and, with `nsp`, "nsp" logits (batch, 1).
    """

    def __init__(self, backbone, nsp=True, **kwargs):
        import keras_hub

        inputs = {
            "token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids"),
            "segment_ids": keras.Input(shape=(None,), dtype="int32", name="segment_ids"),
            "mask_positions": keras.Input(shape=(None,), dtype="int32", name="mask_positions"),
        }
        hidden = backbone({"token_ids": inputs["token_ids"],
                           "segment_ids": inputs["segment_ids"]})  # (B, T, D)
        head = keras_hub.layers.MaskedLMHead(token_embedding=backbone.token_embedding,
                                             intermediate_activation="gelu", name="mlm_head")
        outputs = {"mlm": head(hidden, mask_positions=inputs["mask_positions"])}  # (B, P, V)
        if nsp:
            first = MaskedGlobalPooling1D("cls", name="cls")(hidden)  # (B, D)
            pooled = keras.layers.Dense(backbone.embed_dim, activation="tanh", name="pooler")(first)
            outputs["nsp"] = keras.layers.Dense(1, name="nsp_head")(pooled)  # (B, 1) logits
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.backbone = backbone
        self.nsp = nsp

    def _task_config(self):
        return {"nsp": self.nsp}


@keras.saving.register_keras_serializable(package="kdl_transformer")
class BertClassifier(_BackboneTask):
    """A pretrained backbone with a sentiment head: P(positive) of `[CLS] review [SEP]` ids.

    Args:
        backbone: a `BertBackbone` (pretrained).
        pooling: "cls" (the hidden state of [CLS], BERT's choice) or a
            `MaskedGlobalPooling1D` mode over the real tokens ("mean", "max", "mean_max").
        head_dropout: float, dropout between the pooled vector and the sigmoid.

    Call arguments:
        inputs: int token ids (batch, length <= the backbone's sequence_length), 0 = padding;
            every input is one segment (segment ids 0).

    Returns:
        P(positive) (batch, 1), float32.
    """

    def __init__(self, backbone, pooling="cls", head_dropout=0.1, **kwargs):
        kwargs.setdefault("name", "classifier")
        token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")  # (B, T)
        token_ids_32 = keras.ops.cast(token_ids, "int32")
        hidden = backbone({"token_ids": token_ids_32,
                           "segment_ids": keras.ops.zeros_like(token_ids_32)})  # (B, T, D)
        pooled = MaskedGlobalPooling1D(pooling, name="pooling")(
            hidden, mask=keras.ops.not_equal(token_ids_32, 0))  # (B, D) or (B, 2D)
        x = keras.layers.Dropout(head_dropout, name="head_dropout")(pooled)
        probability = keras.layers.Dense(1, activation="sigmoid", dtype="float32",
                                         name="probability")(x)  # (B, 1)
        super().__init__(inputs=token_ids, outputs=probability, **kwargs)
        self.backbone = backbone
        self.pooling = pooling
        self.head_dropout = head_dropout

    def _task_config(self):
        return {"pooling": self.pooling, "head_dropout": self.head_dropout}
