"""The reserved subword tokens and their fixed ids, shared by tokenizers, models and searches.

Every `SubwordTokenizer` vocabulary starts with these four pieces, so the ids are the same for
English and Korean, for every run, and inside exported SavedModels:

    0 [PAD]    padding; masked out by every layer, the loss and the accuracy
    1 [UNK]    a piece outside the vocabulary; also what word dropout writes
    2 [START]  the first decoder input of every translation
    3 [END]    the token a translation ends with; the searches stop on it

Defined here once and imported everywhere else (tokenizer, model, searches, workflows, tests).
"""

RESERVED_TOKENS = ("[PAD]", "[UNK]", "[START]", "[END]")
PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
