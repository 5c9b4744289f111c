"""Optional extra English-Korean pairs (`extra-enko/*.tsv`), deduplicated against test sets.

The folder `extra-enko/` (12 files, 63,025 rows, 60,760 distinct pairs: UD-PUD, dialogue,
chit-chat, assistant requests, Wikipedia, captions, search questions, news, desktop help, a
programming course...; see its README for provenance, licenses and which files are noisy) is not
downloadable as one file: it is looked for in `path` or in `$KDL_DATA_DIR/extra-enko`.
Each `*.tsv` has a header row; the columns named `en` and `ko` are the pair. A cell that is
CSV-quoted in the source (CoCoA-MT: `"... ""Apple Police"" ..."`) is unquoted
(`unquote_csv_line`, as for FLORES); quotations without doubled quotes are kept.

Rows with an empty side are dropped; repeated pairs are kept once; and every pair whose
English *or* Korean side matches a sentence of the evaluation sets passed as `exclude`
is removed. Matching ignores case, spacing and punctuation (`match_key`), so that
"what happened ?" (XPersona's tokenized English) matches Tatoeba's "What happened?".

`tidy=True` brings the pairs closer to Tatoeba's style (`tidy_pair`): XPersona's tokenized
English is detokenized ("i 'm fine ." -> "i'm fine."), curly apostrophes become straight ones
(StyleKQC's "don’t" -> "don't"), and Korean without final punctuation
(all of StyleKQC) gets the English sentence's ("?" or ".").
"""

import csv
import dataclasses
import os
import re
import unicodedata
from pathlib import Path

from kdl_transformer.datasets.files import DATA_DIR_VARIABLE, check_on_bad_lines, report_skipped
from kdl_transformer.datasets.flores import unquote_csv_line
from kdl_transformer.text.normalization import normalize_text

EXTRA_DIR_NAME = "extra-enko"


@dataclasses.dataclass
class ExtraEnKoData:
    """Extra pairs and what was removed.

    Attributes:
        pairs: list of `(english, korean)` str pairs.
        sources: list of the file name each pair came from (aligned with `pairs`).
        empty_rows: rows dropped because a side was empty.
        duplicates: repeated pairs dropped.
        overlapping: pairs dropped because a side matched an evaluation sentence.
        skipped_lines: malformed rows skipped (`on_bad_lines="skip"`).
        by_source: file name -> the same counts for that file: "rows" read, "empty",
            "duplicates" (of a pair seen before, in this file or an earlier one), "overlapping",
            "skipped" and "kept".
    """

    pairs: list
    sources: list
    empty_rows: int = 0
    duplicates: int = 0
    overlapping: int = 0
    skipped_lines: int = 0
    by_source: dict = dataclasses.field(default_factory=dict)


def match_key(text):
    """Comparison key: NFC, lowercase, letters and digits only ("What happened?" -> "whathappened")."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text).lower() if ch.isalnum())


# Tokenized English: a space before punctuation and clitics ("i 'm", "do n't", "great .").
_SPACE_BEFORE = re.compile(r" (?=[.,!?;:%)]|n't\b|'(?:s|m|re|ve|ll|d)\b)", re.IGNORECASE)
_FINAL_PUNCTUATION = ".?!…~\"')"


def tidy_pair(english, korean):
    """One pair in Tatoeba's style: detokenized English, Korean ending in punctuation.

    >>> tidy_pair("i do n't know , do you ?", "몰라 너는 알아")
    ("i don't know, do you?", '몰라 너는 알아?')
    >>> tidy_pair("Don\u2019t wait.", "기다리지 마")
    ("Don't wait.", '기다리지 마.')
    """
    english = _SPACE_BEFORE.sub("", english.replace("\u2019", "'"))
    if korean and korean[-1] not in _FINAL_PUNCTUATION:
        korean += "?" if english.endswith("?") else "!" if english.endswith("!") else "."
    return english, korean


def _find_folder(path, data_dir):
    if path is not None:
        folder = Path(path).expanduser()
    else:
        data_dir = data_dir if data_dir is not None else os.environ.get(DATA_DIR_VARIABLE)
        if not data_dir:
            raise FileNotFoundError(
                f"The optional extra English-Korean pairs were not found: pass path=... (the {EXTRA_DIR_NAME} "
                f"folder) or set ${DATA_DIR_VARIABLE} to a folder holding {EXTRA_DIR_NAME}/."
            )
        folder = Path(data_dir).expanduser() / EXTRA_DIR_NAME
    if folder.is_file() and folder.suffix == ".tsv":
        return [folder]
    files = sorted(folder.glob("*.tsv")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"{folder} holds no *.tsv files of extra pairs; pass the {EXTRA_DIR_NAME} folder.")
    return files


def _read_tsv(file, on_bad_lines):
    with open(file, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if not header or "en" not in header or "ko" not in header:
            raise ValueError(f"{file} line 1: the header must name the columns 'en' and 'ko', got {header}.")
        en_col, ko_col = header.index("en"), header.index("ko")
        rows, skipped = [], 0
        for number, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) != len(header):
                if on_bad_lines == "skip":
                    skipped += 1
                    continue
                raise ValueError(
                    f"{file} line {number}: expected {len(header)} tab-separated fields, got {len(fields)}; "
                    "fix the line or pass on_bad_lines='skip'."
                )
            rows.append((fields[en_col], fields[ko_col]))
    return rows, skipped


def _exclusion_keys(exclude):
    keys = set()
    for item in exclude:
        for text in (item,) if isinstance(item, str) else item:
            key = match_key(text)
            if key:
                keys.add(key)
    return keys


def load_extra_enko(path=None, exclude=(), files=None, on_bad_lines="error", data_dir=None, tidy=False):
    """Load the optional extra English-Korean pairs, minus anything in `exclude`.

    Args:
        path: the `extra-enko` folder or one `.tsv` file; None: `$KDL_DATA_DIR/extra-enko`.
        exclude: iterable of evaluation pairs `(english, korean)` and/or single
            sentences; every extra pair with a matching side (see `match_key`) is removed.
        files: optional iterable of file names to read (default: every `*.tsv`).
        on_bad_lines: `"error"` or `"skip"`.
        data_dir: folder of datasets; default `$KDL_DATA_DIR`.
        tidy: rewrite each pair with `tidy_pair` (the translator trains on tidied pairs).

    Returns:
        `ExtraEnKoData` (pairs in file-name order, then file order).

    Example:

    >>> tatoeba = load_tatoeba_kor_eng()  # doctest: +SKIP
    >>> extra = load_extra_enko(exclude=tatoeba.val + tatoeba.test + load_flores_eng_kor())
    >>> training_pairs = tatoeba.train + extra.pairs
    """
    check_on_bad_lines(on_bad_lines)
    paths = _find_folder(path, data_dir)
    if files is not None:
        wanted = set(files)
        paths = [p for p in paths if p.name in wanted]
        missing = wanted - {p.name for p in paths}
        if missing:
            raise FileNotFoundError(f"{sorted(missing)[0]} is not among the extra-pair files {[p.name for p in paths]}.")
    excluded = _exclusion_keys(exclude)
    result = ExtraEnKoData(pairs=[], sources=[])
    seen = set()
    for file in paths:
        rows, skipped = _read_tsv(file, on_bad_lines)
        report_skipped(file, skipped)
        counts = result.by_source[file.name] = dict(
            rows=len(rows), empty=0, duplicates=0, overlapping=0, skipped=skipped, kept=0
        )
        for en, ko in rows:
            en, ko = (normalize_text(unquote_csv_line(text.strip())) for text in (en, ko))
            if not en or not ko:
                counts["empty"] += 1
                continue
            if tidy:
                en, ko = tidy_pair(en, ko)
            if (en, ko) in seen:
                counts["duplicates"] += 1
                continue
            seen.add((en, ko))
            if match_key(en) in excluded or match_key(ko) in excluded:
                counts["overlapping"] += 1
                continue
            counts["kept"] += 1
            result.pairs.append((en, ko))
            result.sources.append(file.name)
    for name, field in (("empty", "empty_rows"), ("duplicates", "duplicates"),
                        ("overlapping", "overlapping"), ("skipped", "skipped_lines")):
        setattr(result, field, sum(counts[name] for counts in result.by_source.values()))
    return result


def weigh_sources(data, repeats=None, caps=None, seed=0):
    """The training pairs of `data` with each file weighted: a cap on its pairs, then copies.

    Args:
        data: `ExtraEnKoData` from `load_extra_enko`.
        repeats: dict file name -> copies of its pairs (int >= 0; 0 leaves the file out);
            files not named get 1.
        caps: dict file name -> at most this many of its pairs (a seeded random subset, in
            file order); files not named keep all of theirs.
        seed: int, seeds the capped subsets.

    Returns:
        `(pairs, report)`: the weighted pair list (file by file), and dict file name -> the
        file's `data.by_source` counts plus "cap", "repeats" and "used" (pairs it contributes).

    Raises:
        ValueError: a name that is not one of the files read, or a negative or zero value.
    """
    import random

    repeats, caps = dict(repeats or {}), dict(caps or {})
    for label, values, least in (("extra_repeats", repeats, 0), ("extra_caps", caps, 1)):
        unknown = sorted(set(values) - set(data.by_source))
        if unknown:
            raise ValueError(
                f"{label} names {unknown[0]!r}, which is not one of the extra-pair files read: "
                f"{sorted(data.by_source)}."
            )
        for name, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"{label}[{name!r}]={value!r} must be an integer >= {least}.")
    by_file = {name: [] for name in data.by_source}
    for pair, source in zip(data.pairs, data.sources):
        by_file[source].append(pair)
    pairs, report = [], {}
    for name, file_pairs in by_file.items():
        cap = caps.get(name)
        if cap is not None and cap < len(file_pairs):
            keep = sorted(random.Random(f"{seed}-{name}").sample(range(len(file_pairs)), cap))
            file_pairs = [file_pairs[i] for i in keep]
        copies = repeats.get(name, 1)
        pairs.extend(file_pairs * copies)
        report[name] = {**data.by_source[name], "cap": cap, "repeats": copies,
                        "used": len(file_pairs) * copies}
    return pairs, report


def format_source_report(report):
    """The per-file report of `weigh_sources` as a fixed-width text table (one line a file)."""
    columns = ("rows", "empty", "duplicates", "overlapping", "kept", "cap", "repeats", "used")
    width = max(len(name) for name in report) if report else 4
    lines = [f"{'file':<{width}} " + " ".join(f"{c:>11}" for c in columns)]
    for name, counts in report.items():
        cells = ("-" if counts[c] is None else f"{counts[c]:,}" for c in columns)
        lines.append(f"{name:<{width}} " + " ".join(f"{cell:>11}" for cell in cells))
    totals = {c: sum(counts[c] or 0 for counts in report.values()) for c in columns}
    lines.append(f"{'total':<{width}} " + " ".join(
        f"{'' if c in ('cap', 'repeats') else format(totals[c], ','):>11}" for c in columns))
    return "\n".join(lines)
