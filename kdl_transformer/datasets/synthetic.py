"""Synthetic data made by code: English->Korean pairs and sentiment reviews.

Both generators are deterministic functions of `(n, seed)`; they need no download and
are what the offline demo and the "does the model really learn?" tests train on.

English->Korean (`make_translation_pairs`): simple English SVO sentences and their
Korean SOV translations in the plain written style (해라체), e.g.

    The cat eats an apple.              고양이는 사과를 먹는다.
    The student did not read the book.  학생은 책을 읽지 않았다.
    The baby will sleep tomorrow.       아기가 내일 잘 것이다.

What a model has to learn from them:

- word order: the object moves before the verb (SVO -> SOV), a time adverb moves from
  the end of the English sentence to after the Korean subject;
- particles chosen by the last syllable of the noun (`hangul.attach_particle`): 을/를 on
  objects, 은/는 on subjects of transitive sentences, 이/가 on subjects of intransitive
  ones ("I" is irregular: 나는 / 내가);
- tense (present / past / future) and negation (`-지 않다`) on the Korean verb, with
  every verb's forms written out by hand (irregular stems such as 걷다 -> 걸었다,
  돕다 -> 도왔다, 울다 -> 운다 included);
- many-to-one: "a"/"the" both disappear in Korean.

The full set of sentences (a few tens of thousands) is enumerated, English sentences
with two different Korean meanings (e.g. "I read a book." present or past) are dropped,
and `n` distinct sentences are drawn with the seed, so any held-out slice holds only
novel combinations of words the training slice has seen.

Reviews (`make_reviews`): one to three sentiment clauses ("the acting was not good",
"I loved the music") mixed with neutral filler. The label is the majority polarity of
the clauses after negation, so a model has to see which adjective a "not" belongs to;
bag-of-words cannot always tell when several clauses disagree.
"""

import dataclasses
import functools
import random

import numpy as np

from kdl_transformer.datasets.hangul import attach_particle


@dataclasses.dataclass(frozen=True)
class _Noun:
    english: str
    korean: str
    tags: frozenset
    countable: bool = True


@dataclasses.dataclass(frozen=True)
class _Pronoun:
    english: str  # subject form ("I")
    english_object: str  # object form ("me")
    korean: str  # stem ("나")
    korean_subject: str  # subject form with 이/가 ("내가")
    third_person: bool
    tags: frozenset = frozenset({"human", "reader", "pronoun"})


@dataclasses.dataclass(frozen=True)
class _Verb:
    english: tuple  # (base, third person singular, past)
    korean: tuple  # (present, past, future, stem for -지 않다)
    subjects: frozenset  # tags a subject must carry (any)
    objects: frozenset  # tags an object must carry (any); empty = intransitive


def _noun(english, korean, *tags, countable=True):
    return _Noun(english, korean, frozenset(tags), countable)


_NOUNS = (
    # people (also objects of help / meet / see / like / love)
    _noun("student", "학생", "human", "reader"),
    _noun("teacher", "선생님", "human", "reader"),
    _noun("boy", "소년", "human", "reader"),
    _noun("girl", "소녀", "human", "reader"),
    _noun("doctor", "의사", "human", "reader"),
    _noun("farmer", "농부", "human", "reader"),
    _noun("man", "남자", "human", "reader"),
    _noun("woman", "여자", "human", "reader"),
    _noun("child", "아이", "human"),
    _noun("baby", "아기", "human", "creature"),
    # animals
    _noun("cat", "고양이", "animal", "creature"),
    _noun("dog", "개", "animal", "creature"),
    _noun("bird", "새", "animal", "creature"),
    _noun("rabbit", "토끼", "animal", "creature"),
    # food and drink
    _noun("apple", "사과", "food", "goods"),
    _noun("orange", "오렌지", "food", "goods"),
    _noun("egg", "달걀", "food", "goods"),
    _noun("cake", "케이크", "food", "goods", "made"),
    _noun("bread", "빵", "food", "goods", "made", countable=False),
    _noun("rice", "밥", "food", countable=False),
    _noun("fish", "생선", "food", "goods", countable=False),
    _noun("water", "물", "drink", countable=False),
    _noun("milk", "우유", "drink", "goods", countable=False),
    _noun("coffee", "커피", "drink", "goods", countable=False),
    _noun("tea", "차", "drink", "goods", countable=False),
    _noun("juice", "주스", "drink", "goods", countable=False),
    # things to read and write
    _noun("book", "책", "text", "goods", "writing", "portable"),
    _noun("letter", "편지", "text", "writing", "portable"),
    _noun("newspaper", "신문", "text", "goods", "portable"),
    # other things
    _noun("bag", "가방", "thing", "goods", "portable", "openable"),
    _noun("flower", "꽃", "thing", "goods", "portable"),
    _noun("hat", "모자", "thing", "goods", "portable"),
    _noun("umbrella", "우산", "thing", "goods", "portable"),
    _noun("key", "열쇠", "thing", "portable"),
    _noun("box", "상자", "thing", "portable", "openable", "made"),
    _noun("chair", "의자", "thing", "goods", "made"),
    _noun("door", "문", "thing", "openable"),
    _noun("window", "창문", "thing", "openable"),
    # subjects of study (no article)
    _noun("math", "수학", "lesson", countable=False),
    _noun("English", "영어", "lesson", countable=False),
    _noun("Korean", "한국어", "lesson", countable=False),
    _noun("music", "음악", "lesson", countable=False),
    _noun("history", "역사", "lesson", countable=False),
)

_PRONOUNS = (
    _Pronoun("I", "me", "나", "내가", third_person=False),
    _Pronoun("we", "us", "우리", "우리가", third_person=False),
    _Pronoun("he", "him", "그", "그가", third_person=True),
    _Pronoun("she", "her", "그녀", "그녀가", third_person=True),
    _Pronoun("they", "them", "그들", "그들이", third_person=False),
)


def _verb(english, korean, subjects, objects=()):
    return _Verb(tuple(english), tuple(korean), frozenset(subjects), frozenset(objects))


_PEOPLE = ("human",)
_LIVING = ("human", "animal")
_VERBS = (
    # transitive: English (base, 3sg, past), Korean (present, past, future, stem)
    _verb(("eat", "eats", "ate"), ("먹는다", "먹었다", "먹을 것이다", "먹"), _LIVING, ["food"]),
    _verb(("drink", "drinks", "drank"), ("마신다", "마셨다", "마실 것이다", "마시"), _LIVING, ["drink"]),
    _verb(("read", "reads", "read"), ("읽는다", "읽었다", "읽을 것이다", "읽"), ["reader"], ["text"]),
    _verb(("write", "writes", "wrote"), ("쓴다", "썼다", "쓸 것이다", "쓰"), ["reader"], ["writing"]),
    _verb(("buy", "buys", "bought"), ("산다", "샀다", "살 것이다", "사"), ["reader"], ["goods"]),
    _verb(("sell", "sells", "sold"), ("판다", "팔았다", "팔 것이다", "팔"), ["reader"], ["goods"]),
    _verb(("make", "makes", "made"), ("만든다", "만들었다", "만들 것이다", "만들"), ["reader"], ["made"]),
    _verb(("see", "sees", "saw"), ("본다", "보았다", "볼 것이다", "보"), _LIVING, ["human", "animal", "thing"]),
    _verb(("like", "likes", "liked"), ("좋아한다", "좋아했다", "좋아할 것이다", "좋아하"), _LIVING,
          ["human", "animal", "food", "drink", "lesson", "goods"]),
    _verb(("find", "finds", "found"), ("찾는다", "찾았다", "찾을 것이다", "찾"), _LIVING,
          ["portable", "animal"]),
    _verb(("open", "opens", "opened"), ("연다", "열었다", "열 것이다", "열"), ["reader"], ["openable"]),
    _verb(("help", "helps", "helped"), ("돕는다", "도왔다", "도울 것이다", "돕"), ["reader"], ["human"]),
    _verb(("meet", "meets", "met"), ("만난다", "만났다", "만날 것이다", "만나"), ["reader"], ["human"]),
    _verb(("love", "loves", "loved"), ("사랑한다", "사랑했다", "사랑할 것이다", "사랑하"), _PEOPLE,
          ["human", "animal"]),
    _verb(("study", "studies", "studied"), ("공부한다", "공부했다", "공부할 것이다", "공부하"), ["reader"],
          ["lesson"]),
    # intransitive (subject takes 이/가)
    _verb(("sleep", "sleeps", "slept"), ("잔다", "잤다", "잘 것이다", "자"), _LIVING),
    _verb(("run", "runs", "ran"), ("달린다", "달렸다", "달릴 것이다", "달리"), _LIVING),
    _verb(("walk", "walks", "walked"), ("걷는다", "걸었다", "걸을 것이다", "걷"), _LIVING),
    _verb(("laugh", "laughs", "laughed"), ("웃는다", "웃었다", "웃을 것이다", "웃"), _PEOPLE),
    _verb(("cry", "cries", "cried"), ("운다", "울었다", "울 것이다", "울"), _PEOPLE),
    _verb(("sing", "sings", "sang"), ("노래한다", "노래했다", "노래할 것이다", "노래하"), _PEOPLE),
    _verb(("come", "comes", "came"), ("온다", "왔다", "올 것이다", "오"), _LIVING),
)

TENSES = ("present", "past", "future")
# Time adverbs agreeing with each tense: English goes last, Korean after the subject.
_ADVERBS = {"present": ("every day", "매일"), "past": ("yesterday", "어제"), "future": ("tomorrow", "내일")}
_NEGATED_ENDINGS = {"present": "지 않는다", "past": "지 않았다", "future": "지 않을 것이다"}


def _english_verb(verb, tense, negated, third_person):
    base, third, past = verb.english
    if tense == "future":
        return f"will not {base}" if negated else f"will {base}"
    if tense == "past":
        return f"did not {base}" if negated else past
    if negated:
        return f"{'does' if third_person else 'do'} not {base}"
    return third if third_person else base


def _korean_verb(verb, tense, negated):
    present, past, future, stem = verb.korean
    if negated:
        return stem + _NEGATED_ENDINGS[tense]
    return {"present": present, "past": past, "future": future}[tense]


def _english_noun_phrases(noun):
    """Every English phrase for a noun used as an object ("an apple", "the apple")."""
    if isinstance(noun, _Pronoun):
        return (noun.english_object,)
    if not noun.countable:
        return (noun.english,)
    article = "an" if noun.english[0] in "aeiou" else "a"
    return (f"{article} {noun.english}", f"the {noun.english}")


def _subjects():
    return [n for n in _NOUNS if n.tags & {"human", "animal"}] + list(_PRONOUNS)


def _sentence(subject, verb, obj, tense, negated, adverb):
    """One (english, korean) pair per English object phrase."""
    third = subject.third_person if isinstance(subject, _Pronoun) else True
    english_subject = subject.english if isinstance(subject, _Pronoun) else f"the {subject.english}"
    english_verb = _english_verb(verb, tense, negated, third)
    korean_verb = _korean_verb(verb, tense, negated)
    english_adverb, korean_adverb = _ADVERBS[tense] if adverb else ("", "")
    if obj is None:  # intransitive: subject particle 이/가
        if isinstance(subject, _Pronoun):
            korean_subject = subject.korean_subject
        else:
            korean_subject = attach_particle(subject.korean, "subject")
        korean_middle = [korean_adverb] if adverb else []
        english_objects = ("",)
    else:  # transitive: topic 은/는 on the subject, object 을/를
        korean_subject = attach_particle(subject.korean, "topic")
        korean_middle = ([korean_adverb] if adverb else []) + [attach_particle(obj.korean, "object")]
        english_objects = _english_noun_phrases(obj)
    korean = " ".join([korean_subject, *korean_middle, korean_verb]) + "."
    for english_object in english_objects:
        words = [english_subject, english_verb, english_object, english_adverb]
        english = " ".join(w for w in words if w)
        yield english[0].upper() + english[1:] + ".", korean


@functools.lru_cache(maxsize=1)
def all_translation_pairs():
    """Every distinct synthetic pair, sorted; English sentences are unambiguous.

    Returns:
        tuple of (english, korean) string pairs (about 30,000).
    """
    objects = list(_NOUNS) + list(_PRONOUNS)
    meanings = {}
    for subject in _subjects():
        for verb in _VERBS:
            if not subject.tags & verb.subjects:
                continue
            candidates = [o for o in objects if o.tags & verb.objects] if verb.objects else [None]
            for obj in candidates:
                if obj is not None and obj.korean == subject.korean:
                    continue  # "I help me", "The cat sees the cat"
                for tense in TENSES:
                    for negated in (False, True):
                        for adverb in (False, True):
                            for pair in _sentence(subject, verb, obj, tense, negated, adverb):
                                meanings.setdefault(pair[0], set()).add(pair[1])
    unambiguous = [(en, ko.pop()) for en, ko in meanings.items() if len(ko) == 1]
    return tuple(sorted(unambiguous))


def make_translation_pairs(n, seed=0):
    """Make `n` distinct synthetic English->Korean sentence pairs.

    Args:
        n: int, how many pairs; at most `len(all_translation_pairs())`.
        seed: int, the same `(n, seed)` always gives the same list. The first `k`
            pairs for a given seed do not depend on `n`, so a larger `n` extends a
            smaller one.

    Returns:
        list of `(english, korean)` tuples of str, all English sentences distinct.

    Example:

    >>> make_translation_pairs(2, seed=0)  # doctest: +SKIP
    [('The farmer sold the cake yesterday.', '농부는 어제 케이크를 팔았다.'), ...]
    """
    pool = all_translation_pairs()
    if not 0 <= n <= len(pool):
        raise ValueError(
            f"n={n} is outside 0..{len(pool)}, the number of distinct synthetic pairs; ask for fewer."
        )
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    return [pool[i] for i in order[:n]]


# ----------------------------------------------------------------------------- reviews
_ASPECTS = ("movie", "film", "story", "plot", "acting", "music", "ending", "cast", "script",
            "dialogue", "camera work", "soundtrack")
_POSITIVE = ("good", "great", "wonderful", "excellent", "brilliant", "funny", "moving",
             "beautiful", "enjoyable", "clever")
_NEGATIVE = ("bad", "boring", "awful", "terrible", "dull", "weak", "poor", "silly",
             "predictable", "slow")
_POSITIVE_VERBS = (("like", "liked"), ("love", "loved"), ("enjoy", "enjoyed"))
_NEGATIVE_VERBS = (("hate", "hated"), ("dislike", "disliked"))
_FILLERS = (
    "I watched it on Sunday", "my sister picked it", "it runs about two hours",
    "we saw it in a small theater", "I went with two friends", "it came out last year",
    "the theater was full", "I had read about it before", "it is based on a novel",
    "we rented it on a rainy evening",
)
_JOINERS = (", and ", ", but ", ". ", "; ")


def _clause(rng, polarity):
    """A sentiment clause whose meaning has the sign `polarity` (+1 / -1)."""
    negated = rng.random() < 0.4
    word_polarity = -polarity if negated else polarity
    aspect = rng.choice(_ASPECTS)
    if rng.random() < 0.6:
        adjective = rng.choice(_POSITIVE if word_polarity > 0 else _NEGATIVE)
        return f"the {aspect} was {'not ' if negated else ''}{adjective}"
    base, past = rng.choice(_POSITIVE_VERBS if word_polarity > 0 else _NEGATIVE_VERBS)
    return f"I did not {base} the {aspect}" if negated else f"I {past} the {aspect}"


def _review(rng, label):
    sign = 1 if label == 1 else -1
    if rng.random() < 0.5:
        polarities = [sign]
    else:  # three clauses, the majority (two) agreeing with the label
        polarities = [sign, sign, -sign]
        rng.shuffle(polarities)
    clauses = [_clause(rng, p) for p in polarities]
    for filler in rng.sample(_FILLERS, rng.randint(0, 2)):
        clauses.insert(rng.randint(0, len(clauses)), filler)
    text = clauses[0]
    for clause in clauses[1:]:
        text += rng.choice(_JOINERS) + clause
    sentences = [s[0].upper() + s[1:] for s in text.split(". ")]
    return ". ".join(sentences) + "."


def make_reviews(n, seed=0):
    """Make `n` synthetic movie reviews with balanced 0/1 sentiment labels.

    Each review holds one or three sentiment clauses, possibly negated ("the plot was
    not clever", "I did not enjoy the music"), and up to two neutral ones. The label is
    the majority polarity of the sentiment clauses after negation.

    Args:
        n: int >= 0, how many reviews.
        seed: int, the same `(n, seed)` always gives the same reviews.

    Returns:
        `(texts, labels)`: list of `n` str and an int64 array of shape (n,) with
        `n // 2` (or `n // 2 + 1`) ones.

    Example:

    >>> texts, labels = make_reviews(4, seed=0)
    >>> len(texts), labels.shape
    (4, (4,))
    """
    if n < 0:
        raise ValueError(f"n={n} must be >= 0.")
    rng = random.Random(seed)
    labels = [i % 2 for i in range(n)]
    rng.shuffle(labels)
    texts = [_review(rng, label) for label in labels]
    return texts, np.asarray(labels, dtype="int64")
