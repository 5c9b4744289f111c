"""Tatoeba, FLORES and extra en-ko loaders: tiny made-up files, then the real ones."""

import collections

import pytest

from kdl_transformer.datasets import (
    format_source_report,
    load_extra_enko,
    load_flores_eng_kor,
    load_tatoeba_kor_eng,
    match_key,
    split_by_source,
    tidy_pair,
    unquote_csv_line,
    weigh_sources,
)
from kdl_transformer.text import normalize_text
from tests.data_fixtures import (
    KOR_TXT,
    write_extra_folder,
    write_flores_archive,
    write_flores_folder,
    write_kor_zip,
)


def _english_keys(pairs):
    return {normalize_text(en, lowercase=True) for en, _ in pairs}


# ------------------------------------------------------------------------------ Tatoeba
def test_tatoeba_zip_and_txt_give_the_same_split(tmp_path):
    zipped = load_tatoeba_kor_eng(write_kor_zip(tmp_path / "kor-eng.zip"), seed=0)
    (tmp_path / "kor.txt").write_text(KOR_TXT, encoding="utf-8")
    plain = load_tatoeba_kor_eng(tmp_path / "kor.txt", seed=0)
    assert (zipped.train, zipped.val, zipped.test) == (plain.train, plain.val, plain.test)
    assert len(zipped.all_pairs) == 10
    assert sorted(zipped.all_pairs) == sorted(tuple(line.split("\t")[:2]) for line in KOR_TXT.splitlines())


def test_tatoeba_split_groups_english_sentences_and_keeps_attributions(tmp_path):
    path = write_kor_zip(tmp_path / "kor-eng.zip")
    for seed in range(20):
        data = load_tatoeba_kor_eng(path, splits=(0.5, 0.25, 0.25), seed=seed)
        train, val, test = (_english_keys(p) for p in (data.train, data.val, data.test))
        assert not train & val and not train & test and not val & test  # "I see." / "i see." together
        for name in ("train", "val", "test"):
            pairs = getattr(data, name)
            assert len(data.attributions[name]) == len(pairs)
        hi = [a for p, a in zip(data.all_pairs, sum(data.attributions.values(), [])) if p[0] == "Hi."]
        assert len(hi) == 2 and all("#3 (a)" in a for a in hi)
    same = load_tatoeba_kor_eng(path, splits=(0.5, 0.25, 0.25), seed=4)
    again = load_tatoeba_kor_eng(path, splits=(0.5, 0.25, 0.25), seed=4)
    assert (same.train, same.val, same.test) == (again.train, again.val, again.test)


def test_tatoeba_malformed_line_names_file_and_line(tmp_path):
    bad = KOR_TXT + "only one field\n" + "Bye.\t잘 가.\tCC\n"
    path = write_kor_zip(tmp_path / "kor-eng.zip", bad)
    with pytest.raises(ValueError, match=r"kor\.txt line 11: expected"):
        load_tatoeba_kor_eng(path)
    with pytest.warns(UserWarning, match="Skipped 1 malformed"):
        data = load_tatoeba_kor_eng(path, on_bad_lines="skip")
    assert data.skipped_lines == 1 and len(data.all_pairs) == 11
    with pytest.raises(ValueError, match="on_bad_lines='ignore'"):
        load_tatoeba_kor_eng(path, on_bad_lines="ignore")


def test_tatoeba_accepts_two_column_exports(tmp_path):
    (tmp_path / "kor.txt").write_text("Go.\t가.\nHi.\t안녕.\n", encoding="utf-8")
    data = load_tatoeba_kor_eng(tmp_path, splits=(1.0, 0.0, 0.0))
    assert data.train == [("Go.", "가."), ("Hi.", "안녕.")] and data.attributions["train"] == ["", ""]


def test_split_by_source_validates_fractions():
    with pytest.raises(ValueError, match="summing to 1"):
        split_by_source([("a", "b")], splits=(0.8, 0.1, 0.2))


# ------------------------------------------------------------------------------ FLORES
def test_unquote_csv_line():
    assert unquote_csv_line('"그는 ""좋다""고 말했다."') == '그는 "좋다"고 말했다.'
    assert unquote_csv_line('"Hello," he said.') == '"Hello," he said.'
    assert unquote_csv_line('"Stop."') == '"Stop."'  # a real quotation, no doubled quotes
    assert unquote_csv_line("plain") == "plain"


def test_flores_folder_and_archive(tmp_path):
    folder = write_flores_folder(tmp_path / "flores200-devtest-eng-kor")
    expected = [
        ('He said "fine".', '그는 "좋다"고 말했다.'),
        ("The cat sat.", "고양이가 앉았다."),
        ('"Quoted," she said.', '"인용," 그녀가 말했다.'),
    ]
    assert load_flores_eng_kor(folder) == expected
    assert load_flores_eng_kor(tmp_path) == expected  # the folder that holds it
    assert load_flores_eng_kor(write_flores_archive(tmp_path / "flores200_dataset.tar.gz")) == expected


def test_flores_misaligned_files_fail(tmp_path):
    folder = write_flores_folder(tmp_path / "f", english=["a", "b"], korean=["가"])
    with pytest.raises(ValueError, match="2 lines but kor_Hang.devtest has 1"):
        load_flores_eng_kor(folder)


# ------------------------------------------------------------------------------ extra pairs
def test_extra_pairs_read_by_column_name_dedup_and_exclude(tmp_path):
    folder = write_extra_folder(tmp_path / "extra-enko")
    data = load_extra_enko(folder)
    assert data.pairs == [("What happened?", "무슨 일이야?"), ("I like tea.", "나는 차를 좋아해."),
                          ("what happened ?", "뭐야?"), ("Good night.", "잘 자.")]
    assert data.sources == ["a.en-ko.tsv", "a.en-ko.tsv", "b.en-ko.tsv", "b.en-ko.tsv"]
    assert (data.duplicates, data.empty_rows, data.overlapping) == (1, 1, 0)
    excluded = load_extra_enko(folder, exclude=[("WHAT HAPPENED", "무엇?"), "잘   자!"])
    assert excluded.pairs == [("I like tea.", "나는 차를 좋아해.")]
    assert excluded.overlapping == 3
    only_b = load_extra_enko(folder, files=["b.en-ko.tsv"])
    assert only_b.sources == ["b.en-ko.tsv", "b.en-ko.tsv"]


def test_extra_pairs_report_each_file_and_weigh_it(tmp_path):
    folder = write_extra_folder(tmp_path / "extra-enko")
    data = load_extra_enko(folder, exclude=["good night"])
    assert data.by_source == {
        "a.en-ko.tsv": dict(rows=4, empty=1, duplicates=1, overlapping=0, skipped=0, kept=2),
        "b.en-ko.tsv": dict(rows=2, empty=0, duplicates=0, overlapping=1, skipped=0, kept=1),
    }
    assert (data.empty_rows, data.duplicates, data.overlapping) == (1, 1, 1)

    pairs, report = weigh_sources(data, repeats={"b.en-ko.tsv": 3}, caps={"a.en-ko.tsv": 1}, seed=5)
    assert len(pairs) == 1 + 3 and pairs[1:] == [("what happened ?", "뭐야?")] * 3
    assert pairs[0] in data.pairs[:2]
    assert [report[n]["used"] for n in sorted(report)] == [1, 3]
    assert report["a.en-ko.tsv"]["cap"] == 1 and report["b.en-ko.tsv"]["repeats"] == 3
    assert weigh_sources(data, caps={"a.en-ko.tsv": 1}, seed=5)[0][0] == pairs[0]  # seeded
    assert weigh_sources(data, repeats={"a.en-ko.tsv": 0})[0] == [("what happened ?", "뭐야?")]
    assert weigh_sources(data)[0] == data.pairs  # no weights: every pair once
    table = format_source_report(report)
    assert "a.en-ko.tsv" in table and table.splitlines()[-1].split()[-1] == "4"
    with pytest.raises(ValueError, match="'c.tsv', which is not one of the extra-pair files"):
        weigh_sources(data, repeats={"c.tsv": 2})
    with pytest.raises(ValueError, match=r"extra_caps\['a.en-ko.tsv'\]=0 must be an integer >= 1"):
        weigh_sources(data, caps={"a.en-ko.tsv": 0})


def test_tidy_pair_matches_tatoeba_style():
    assert tidy_pair("i 'm fine , thanks .", "잘 지내, 고마워") == ("i'm fine, thanks.", "잘 지내, 고마워.")
    assert tidy_pair("you do n't like it ?", "싫어") == ("you don't like it?", "싫어?")
    assert tidy_pair("It\u2019s 50 % off!", "반값이야") == ("It's 50% off!", "반값이야!")
    assert tidy_pair("Who's there?", "누구야?") == ("Who's there?", "누구야?")  # already tidy
    assert tidy_pair("Stop", "그만해...") == ("Stop", "그만해...")  # ending kept
    assert tidy_pair("a 'quote' here", "인용") == ("a 'quote' here", "인용.")  # not a clitic


def test_tidy_is_applied_before_deduplication_and_exclusion(tmp_path):
    folder = write_extra_folder(tmp_path / "extra-enko")
    data = load_extra_enko(folder, tidy=True)
    assert data.pairs == [("What happened?", "무슨 일이야?"), ("I like tea.", "나는 차를 좋아해."),
                          ("what happened?", "뭐야?"), ("Good night.", "잘 자.")]


def test_extra_pairs_undo_csv_quoting_but_keep_quotations(tmp_path):
    # CoCoA-MT's source lines are CSV-quoted; other files quote speech without doubled quotes.
    folder = write_extra_folder(tmp_path / "quoted", {"q.en-ko.tsv": (
        'en\tko\n'
        '"Watch out for the ""Apple Police"" :)"\t"""애플 폴리스"" 조심해 :)"\n'
        '"Hello," he said.\t"안녕," 그가 말했다.\n'
        '"Run!"\t"뛰어!"\n'
        'They were ""perfectly normal"".\t"완전히 정상"이었다.\n'
    )})
    assert load_extra_enko(folder).pairs == [
        ('Watch out for the "Apple Police" :)', '"애플 폴리스" 조심해 :)'),
        ('"Hello," he said.', '"안녕," 그가 말했다.'),
        ('"Run!"', '"뛰어!"'),
        ('They were ""perfectly normal"".', '"완전히 정상"이었다.'),  # not CSV-quoted: as published
    ]


def test_extra_pairs_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("KDL_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="KDL_DATA_DIR"):
        load_extra_enko()
    folder = write_extra_folder(tmp_path / "bad", {"x.tsv": "en\tko\nfine\t좋아\ntoo\tmany\tfields\n"})
    with pytest.raises(ValueError, match=r"x\.tsv line 3: expected 2"):
        load_extra_enko(folder)
    with pytest.warns(UserWarning, match="Skipped 1"):
        assert load_extra_enko(folder, on_bad_lines="skip").skipped_lines == 1
    write_extra_folder(tmp_path / "nohead", {"y.tsv": "english\tkorean\nx\ty\n"})
    with pytest.raises(ValueError, match="'en' and 'ko'"):
        load_extra_enko(tmp_path / "nohead")


def test_match_key_ignores_case_spacing_and_punctuation():
    assert match_key("What happened?") == match_key("what happened ?") == "whathappened"
    assert match_key("잘 자.") == match_key("잘자!")


# ------------------------------------------------------------------------------ real data
# Distinct pairs per file of $KDL_DATA_DIR/extra-enko (its README's counts, less repeats).
EXTRA_FILE_PAIRS = {
    "cocoa-mt.en-ko.tsv": 800,
    "comprehensive-rust.en-ko.tsv": 1_683,
    "gnome-help.en-ko.tsv": 3_458,
    "jungyeul-jhe.en-ko.tsv": 1_435,
    "jungyeul-news-devtest.en-ko.tsv": 2_942,
    "korsts-stsb.en-ko.tsv": 2_551,
    "minseye-context-aware.en-ko.tsv": 1_733,
    "mkqa-questions.en-ko.tsv": 4_303,
    "pawsx-wiki.en-ko.tsv": 7_831,
    "stylekqc-kosp2e-highconf.en-ko.tsv": 23_197,
    "ud-pud.en-ko.tsv": 1_000,
    "xpersona-valid-test.en-ko.tsv": 9_827,
}


@pytest.fixture(scope="module")
def tatoeba(data_dir):
    return load_tatoeba_kor_eng(data_dir / "kor-eng.zip")


@pytest.mark.data
def test_real_tatoeba_counts_and_disjoint_split(tatoeba, data_dir):
    assert len(tatoeba.all_pairs) == 5_749
    assert len({en for en, _ in tatoeba.all_pairs}) == 5_130
    train, val, test = (_english_keys(p) for p in (tatoeba.train, tatoeba.val, tatoeba.test))
    assert not train & val and not train & test and not val & test
    assert 0.75 < len(tatoeba.train) / 5_749 < 0.85 and len(tatoeba.test) > 450
    assert all(a.startswith("CC-BY 2.0 (France)") for a in tatoeba.attributions["test"])
    again = load_tatoeba_kor_eng(data_dir)  # same split on every run, from the folder too
    assert (again.train, again.val, again.test) == (tatoeba.train, tatoeba.val, tatoeba.test)


@pytest.mark.data
def test_real_flores(data_dir):
    pairs = load_flores_eng_kor(data_dir / "flores200-devtest-eng-kor")
    assert len(pairs) == 1_012
    assert not any('""' in en or '""' in ko for en, ko in pairs)
    assert all(en and ko for en, ko in pairs)
    assert sum('"' in ko for _, ko in pairs) >= 58  # quotations kept, just unquoted


@pytest.mark.data
def test_real_extra_pairs_exclude_evaluation_sets(tatoeba, data_dir):
    flores = load_flores_eng_kor(data_dir / "flores200-devtest-eng-kor")
    evaluation = tatoeba.val + tatoeba.test + flores
    extra = load_extra_enko(data_dir / "extra-enko", exclude=evaluation)
    # 63,025 rows in 12 files -> 60,760 distinct pairs (XPersona repeats 2,239 of its lines).
    # The smallest file has 800 pairs, so a missing file falls under the lower bound, and
    # broken deduplication (63,025) goes over the upper one.
    assert 60_000 < len(extra.pairs) < 61_500
    assert (extra.skipped_lines, extra.empty_rows) == (0, 0)
    assert 2_200 < extra.duplicates < 2_400
    per_file = collections.Counter(extra.sources)
    assert set(per_file) == set(EXTRA_FILE_PAIRS)  # every file is read, none silently skipped
    for name, pairs in EXTRA_FILE_PAIRS.items():
        assert 0.97 * pairs <= per_file[name] <= pairs, name
    assert not any('""' in en or '""' in ko for (en, ko), name in zip(extra.pairs, extra.sources)
                   if name == "cocoa-mt.en-ko.tsv")  # its CSV-quoted lines are unquoted
    eval_keys = {match_key(s) for pair in evaluation for s in pair}
    assert not any(match_key(en) in eval_keys or match_key(ko) in eval_keys for en, ko in extra.pairs)
    everything = load_extra_enko(data_dir / "extra-enko", exclude=tatoeba.all_pairs)
    assert everything.overlapping > 0  # the README's "What happened?"-style overlaps are found
    tidy = load_extra_enko(data_dir / "extra-enko", exclude=evaluation, tidy=True)
    assert len(extra.pairs) - 10 < len(tidy.pairs) <= len(extra.pairs)  # a few become duplicates
    assert sum(" ." in en or " n't" in en or "\u2019" in en for en, _ in extra.pairs) > 5_000
    assert sum(" ." in en or " n't" in en or "\u2019" in en for en, _ in tidy.pairs) < 100
    assert sum(ko[-1] not in ".?!" for _, ko in extra.pairs) > 20_000  # StyleKQC: no final stop
    assert sum(ko[-1] not in ".?!" for _, ko in tidy.pairs) < 500
    for name, counts in extra.by_source.items():  # the per-file report adds up
        assert counts["kept"] == per_file[name]
        assert counts["rows"] == sum(counts[k] for k in ("empty", "duplicates", "overlapping", "kept"))
