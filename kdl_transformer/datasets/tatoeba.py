"""Tatoeba English-Korean pairs from manythings.org (`kor-eng.zip` / `kor.txt`).

Each line of `kor.txt` is `english<TAB>korean<TAB>attribution` (older exports have no
attribution column; both are read). Pairs are split into train/validation/test by
English sentence: all translations of one English sentence (compared after NFC,
whitespace collapsing and lowercasing) land in the same split, so no source sentence is
seen in training and then tested. The split is a seeded shuffle of the distinct English
sentences, the same on every run and machine.

The data are CC-BY 2.0 (France); every pair's attribution line is kept in
`TatoebaData.attributions`, aligned with the pairs of each split.
"""

import dataclasses
import random
import zipfile
from pathlib import Path

from kdl_transformer.datasets.files import check_on_bad_lines, report_skipped, resolve_data_file
from kdl_transformer.text.normalization import normalize_text

TATOEBA_URL = "https://www.manythings.org/anki/kor-eng.zip"
TATOEBA_NAMES = ("kor-eng.zip", "kor.txt")


@dataclasses.dataclass
class TatoebaData:
    """Tatoeba pairs split by English sentence.

    Attributes:
        train, val, test: lists of `(english, korean)` str pairs.
        attributions: dict split name -> list of attribution strings aligned with pairs.
        skipped_lines: number of malformed lines skipped (`on_bad_lines="skip"`).
        source: Path the pairs were read from.
    """

    train: list
    val: list
    test: list
    attributions: dict
    skipped_lines: int
    source: Path

    @property
    def all_pairs(self):
        return self.train + self.val + self.test


def read_tatoeba_lines(text, where, on_bad_lines="error"):
    """Parse `kor.txt` content into (english, korean, attribution) triples.

    Args:
        text: str, the file's content.
        where: str, file name used in error messages.
        on_bad_lines: `"error"` (ValueError naming file and line) or `"skip"`.

    Returns:
        `(triples, skipped)`.
    """
    check_on_bad_lines(on_bad_lines)
    triples, skipped = [], 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3) or not fields[0].strip() or not fields[1].strip():
            if on_bad_lines == "skip":
                skipped += 1
                continue
            raise ValueError(
                f"{where} line {number}: expected 'english<TAB>korean<TAB>attribution', got "
                f"{len(fields)} field(s) {line[:60]!r}; fix the line or pass on_bad_lines='skip'."
            )
        attribution = fields[2].strip() if len(fields) == 3 else ""
        triples.append((normalize_text(fields[0]), normalize_text(fields[1]), attribution))
    return triples, skipped


def _read_source(source):
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            names = [n for n in archive.namelist() if Path(n).name == "kor.txt"]
            if not names:
                raise ValueError(f"{source} holds no kor.txt; download kor-eng.zip from {TATOEBA_URL}.")
            return archive.read(names[0]).decode("utf-8"), f"{source}:{names[0]}"
    if source.is_dir():
        raise FileNotFoundError(f"{source} holds neither kor-eng.zip nor kor.txt.")
    return source.read_text(encoding="utf-8"), str(source)


def split_by_source(triples, splits=(0.8, 0.1, 0.1), seed=1337, key=None):
    """Split (source, target, ...) rows so that each distinct source is in one split only.

    Args:
        triples: sequence of tuples whose first item is the source sentence.
        splits: three fractions (train, val, test) summing to 1, applied to the
            distinct source sentences.
        seed: int, seed of the shuffle.
        key: callable source -> grouping key; default lowercased `normalize_text`.

    Returns:
        three lists of rows, each in the input order.
    """
    if len(splits) != 3 or any(s < 0 for s in splits) or abs(sum(splits) - 1.0) > 1e-6:
        raise ValueError(f"splits={splits} must be three non-negative fractions summing to 1.")
    key = key or (lambda source: normalize_text(source, lowercase=True))
    groups = sorted({key(row[0]) for row in triples})
    random.Random(seed).shuffle(groups)
    n_train = int(round(splits[0] * len(groups)))
    n_val = int(round(splits[1] * len(groups)))
    side = {g: 0 for g in groups[:n_train]}
    side.update({g: 1 for g in groups[n_train : n_train + n_val]})
    side.update({g: 2 for g in groups[n_train + n_val :]})
    parts = ([], [], [])
    for row in triples:
        parts[side[key(row[0])]].append(row)
    return parts


def load_tatoeba_kor_eng(path=None, splits=(0.8, 0.1, 0.1), seed=1337, on_bad_lines="error",
                         data_dir=None, cache_dir=None, download=True):
    """Load the manythings.org Tatoeba English-Korean pairs, split by English sentence.

    Args:
        path: `kor-eng.zip`, `kor.txt`, or a folder holding either; None looks in
            `$KDL_DATA_DIR`, the cache, then downloads (with a browser-like User-Agent).
        splits: (train, val, test) fractions of the distinct English sentences.
        seed: int, seed of the split (the same split on every run).
        on_bad_lines: `"error"` or `"skip"` (then a warning and `skipped_lines` say how many).
        data_dir, cache_dir, download: see `resolve_data_file`.

    Returns:
        `TatoebaData`; the 2023-02-20 export has 5,749 pairs and 5,130 distinct English
        sentences.

    Example:

    >>> data = load_tatoeba_kor_eng()  # doctest: +SKIP
    >>> english, korean = data.train[0]
    """
    source = resolve_data_file(TATOEBA_NAMES, path=path, url=TATOEBA_URL, data_dir=data_dir,
                               cache_dir=cache_dir, download=download)
    text, where = _read_source(source)
    triples, skipped = read_tatoeba_lines(text, where, on_bad_lines)
    if not triples:
        raise ValueError(f"{where} holds no sentence pairs.")
    report_skipped(where, skipped)
    parts = split_by_source(triples, splits, seed)
    names = ("train", "val", "test")
    return TatoebaData(
        *[[(en, ko) for en, ko, _ in part] for part in parts],
        attributions={name: [a for _, _, a in part] for name, part in zip(names, parts)},
        skipped_lines=skipped,
        source=source,
    )

