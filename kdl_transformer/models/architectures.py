"""The translator's network for each `TranslatorConfig.architecture`.

    "transformer"    `Seq2SeqTransformer`: attention only (the default)
    "gru"            `Seq2SeqGRU(attention=False)`: the sentence squeezed into one context vector
    "gru_attention"  `Seq2SeqGRU(attention=True)`: the GRU decoder asks every encoder state

All three share the tokenizers, the training loop (`objectives.compile_translator`,
`training.fit`) and the step interface of the searches (`init_cache` / `next`), so a
`Translator` works the same over any of them.
"""

from kdl_transformer.models.seq2seq_gru import Seq2SeqGRU
from kdl_transformer.models.seq2seq_transformer import Seq2SeqTransformer


def build_translator_model(config, source_vocab_size, target_vocab_size):
    """The network of `config.architecture`, shaped by a `TranslatorConfig` and the vocabularies."""
    shared = dict(
        source_vocab_size=source_vocab_size,
        target_vocab_size=target_vocab_size,
        source_sequence_length=config.sequence_length,
        target_sequence_length=config.sequence_length,
        embed_dim=config.embed_dim,
        num_encoder_layers=config.num_encoder_layers,
        num_decoder_layers=config.num_decoder_layers,
        dropout=config.dropout,
    )
    if config.architecture == "transformer":
        return Seq2SeqTransformer(
            **shared, dense_dim=config.dense_dim, num_heads=config.num_heads,
            norm_first=config.norm_first, positions=config.positions,
            tie_embeddings=config.shared_vocab_size > 0, name="seq2seq_transformer",
        )
    attention = config.architecture == "gru_attention"
    return Seq2SeqGRU(
        **shared, units=config.rnn_units, attention=attention, name=f"seq2seq_{config.architecture}",
    )
