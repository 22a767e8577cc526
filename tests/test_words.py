"""GloVe word vectorizer, POS rules, sentence arrays, HumanML3D text lines and caption tokens.

The original's formats: docs/original_code.md §2.2, §2.6."""

import pickle
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest

from crossdiff.synthetic.lexicon import LEXICON
from crossdiff.data.words import (POS_ENUMERATOR, VIP_DICT, WordVectorizer, caption_to_tokens, format_text_line,
                                  load_spacy_pipeline, pad_tokens, parse_text_line, read_text_file,
                                  write_glove_vocab)
from crossdiff.errors import UserError
from words_helpers import FakeEnglish

WORDS = ["unk", "sos", "eos", "a", "man", "walk", "left", "slowly", "chair", "and", "jump"]


@pytest.fixture(scope="module")
def glove_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("glove")
    vectors = np.random.default_rng(0).standard_normal((len(WORDS), 300)).astype(np.float32)
    write_glove_vocab(folder, WORDS, vectors)
    return folder


@pytest.fixture(scope="module")
def vectorizer(glove_dir):
    return WordVectorizer(glove_dir)


def vector_of(glove_dir, word):
    return np.load(glove_dir / "our_vab_data.npy")[WORDS.index(word)]


def pos_name(one_hot):
    assert one_hot.shape == (15,) and one_hot.sum() == 1
    return list(POS_ENUMERATOR)[int(one_hot.argmax())]


def test_pos_categories_and_vip_lists_follow_the_spec():
    assert list(POS_ENUMERATOR) == ["VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
                                    "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER"]
    assert list(POS_ENUMERATOR.values()) == list(range(15))
    assert list(VIP_DICT) == ["Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP"]
    assert [len(set(words)) for words in VIP_DICT.values()] == [12, 13, 10, 34, 12]


@pytest.mark.parametrize("token, word, pos", [
    ("man/NOUN", "man", "NOUN"),          # known word, known tag
    ("a/DET", "a", "DET"),
    ("and/CCONJ", "and", "OTHER"),        # tag outside the 15 categories
    ("walk/VERB", "walk", "Act_VIP"),     # a VIP word takes its category over the tag
    ("left/VERB", "left", "Loc_VIP"),
    ("slowly/ADV", "slowly", "Desc_VIP"),
    ("chair/NOUN", "chair", "Obj_VIP"),
    ("foot/NOUN", "unk", "OTHER"),        # out of vocabulary: unk and OTHER, even for a VIP word
    ("zebra/NOUN", "unk", "OTHER"),
])
def test_token_lookup(vectorizer, glove_dir, token, word, pos):
    vector, one_hot = vectorizer[token]
    assert vector.dtype == np.float32 and np.array_equal(vector, vector_of(glove_dir, word))
    assert pos_name(one_hot) == pos


def test_token_without_pos_is_a_user_error(vectorizer):
    with pytest.raises(UserError, match="word/POS"):
        vectorizer["walk"]


@pytest.mark.parametrize("count, sent_len", [(0, 2), (3, 5), (19, 21), (20, 22), (27, 22)])
def test_sentence_arrays_pad_and_crop(vectorizer, glove_dir, count, sent_len):
    tokens = [f"w{i}/NOUN" if i % 2 else "man/NOUN" for i in range(count)]
    word_embs, pos_ohot, length = vectorizer.tokens_to_arrays(tokens)
    assert length == sent_len
    assert word_embs.shape == (22, 300) and pos_ohot.shape == (22, 15)
    assert word_embs.dtype == pos_ohot.dtype == np.float32
    assert np.array_equal(word_embs[0], vector_of(glove_dir, "sos"))
    assert np.array_equal(word_embs[sent_len - 1], vector_of(glove_dir, "eos"))
    assert all(np.array_equal(row, vector_of(glove_dir, "unk")) for row in word_embs[sent_len:])
    kept = min(count, 20)
    expected_words = ["man" if i % 2 == 0 else "unk" for i in range(kept)]
    assert all(np.array_equal(word_embs[1 + i], vector_of(glove_dir, w)) for i, w in enumerate(expected_words))
    names = [pos_name(row) for row in pos_ohot]
    assert names[0] == names[sent_len - 1] == "OTHER" and set(names[sent_len:]) <= {"OTHER"}
    assert names[1:1 + kept] == ["NOUN" if w == "man" else "OTHER" for w in expected_words]


def test_pad_tokens_keeps_the_first_twenty():
    tokens = [f"t{i}/X" for i in range(25)]
    padded, sent_len = pad_tokens(tokens)
    assert sent_len == 22 and padded == ["sos/OTHER", *tokens[:20], "eos/OTHER"]


def test_missing_glove_file_names_the_file_and_the_download_script(tmp_path, glove_dir):
    for name in ("our_vab_data.npy", "our_vab_words.pkl"):
        (tmp_path / name).write_bytes((glove_dir / name).read_bytes())
    with pytest.raises(UserError, match=r"our_vab_idx\.pkl.*prepare/download_glove\.sh"):
        WordVectorizer(tmp_path)


def test_glove_pickles_are_restricted(tmp_path, glove_dir):
    for name in ("our_vab_data.npy", "our_vab_words.pkl"):
        (tmp_path / name).write_bytes((glove_dir / name).read_bytes())
    (tmp_path / "our_vab_idx.pkl").write_bytes(pickle.dumps(OrderedDict((w, i) for i, w in enumerate(WORDS))))
    with pytest.raises(UserError, match="refusing to unpickle collections.OrderedDict"):
        WordVectorizer(tmp_path)


def test_index_must_cover_the_word_list(tmp_path, glove_dir):
    for name in ("our_vab_data.npy", "our_vab_words.pkl"):
        (tmp_path / name).write_bytes((glove_dir / name).read_bytes())
    (tmp_path / "our_vab_idx.pkl").write_bytes(pickle.dumps({"unk": 0, "man": 99}))
    with pytest.raises(UserError, match="no valid row"):
        WordVectorizer(tmp_path)


def test_word_list_saved_as_a_numpy_array_is_accepted(tmp_path, glove_dir):
    (tmp_path / "our_vab_data.npy").write_bytes((glove_dir / "our_vab_data.npy").read_bytes())
    (tmp_path / "our_vab_words.pkl").write_bytes(pickle.dumps(np.array(WORDS)))
    (tmp_path / "our_vab_idx.pkl").write_bytes(pickle.dumps({w: np.int64(i) for i, w in enumerate(WORDS)}))
    vectorizer = WordVectorizer(tmp_path)
    assert len(vectorizer) == len(WORDS) and "chair" in vectorizer


def test_write_glove_vocab_checks_its_input(tmp_path):
    with pytest.raises(UserError, match="unk"):
        write_glove_vocab(tmp_path, ["a", "b"], np.zeros((2, 300)))
    with pytest.raises(UserError, match="shape"):
        write_glove_vocab(tmp_path, ["unk", "b"], np.zeros((3, 300)))
    assert not list(tmp_path.iterdir())


def test_parse_text_line():
    caption, tokens, start, end = parse_text_line("a man walks#a/DET man/NOUN walk/VERB#0.0#0.0")
    assert (caption, tokens, start, end) == ("a man walks", ["a/DET", "man/NOUN", "walk/VERB"], 0.0, 0.0)
    entry = parse_text_line("he jumps #2 times#he/PRON jump/VERB#nan#3.5\n")
    assert (entry.caption, entry.start, entry.end) == ("he jumps #2 times", 0.0, 3.5)
    assert parse_text_line("...##0.0#0.0").tokens == []


@pytest.mark.parametrize("line, message", [
    ("a man walks#0.0#0.0", "expected 'caption#word/POS"),
    ("a man walks#a/DET man#0.0#0.0", "'man' is not of the form word/POS"),
    ("a man walks#a/DET#zero#1.0", "from/to must be numbers"),
])
def test_malformed_text_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "000001.txt"
    path.write_text(f"a person runs#a/DET person/NOUN run/VERB#0.0#0.0\n\n{line}\n")
    with pytest.raises(UserError, match=rf"000001\.txt:3: .*{message}"):
        read_text_file(path)


def test_format_and_parse_round_trip(tmp_path):
    line = format_text_line("a man walks", ["a/DET", "man/NOUN", "walk/VERB"], 1.5, 4)
    assert line == "a man walks#a/DET man/NOUN walk/VERB#1.5#4.0"
    (tmp_path / "x.txt").write_text(line + "\n")
    [entry] = read_text_file(tmp_path / "x.txt")
    assert format_text_line(entry.caption, entry.tokens, entry.start, entry.end) == line


def expected_token(word):
    """The HumanML3D rule applied to the lexicon's own tags: lemma for nouns and verbs, else the word."""
    lemma, pos, _ = LEXICON[word]
    return f"{lemma if pos in ('NOUN', 'VERB') and word != 'left' else word}/{pos}"


def test_caption_tokens_follow_the_humanml3d_rule_on_the_synthetic_lexicon():
    words = sorted(LEXICON)
    tokens = caption_to_tokens(" ".join(words), FakeEnglish())
    assert tokens == [expected_token(w) for w in words]
    assert "walk/VERB" in tokens and "is/AUX" in tokens and "them/PRON" in tokens


def test_caption_tokens_drop_hyphens_and_non_alphabetic_tokens_and_keep_left():
    nlp = FakeEnglish({"left": ("leave", "VERB"), "Tpose": ("tpose", "NOUN"), "steps": ("step", "NOUN")})
    tokens = caption_to_tokens("A man, in T-pose, takes 3 steps left.", nlp)
    assert nlp.calls == ["A man, in Tpose, takes 3 steps left."]
    assert tokens == ["A/X", "man/NOUN", "in/ADP", "tpose/NOUN", "take/VERB", "step/NOUN", "left/VERB"]


def test_missing_spacy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)
    with pytest.raises(UserError, match=r"spaCy is not installed.*python -m spacy download en_core_web_sm"):
        load_spacy_pipeline()


def test_missing_spacy_pipeline_says_how_to_install(monkeypatch):
    def load(name):
        raise OSError(f"[E050] Can't find model '{name}'")

    monkeypatch.setitem(sys.modules, "spacy", types.SimpleNamespace(load=load))
    with pytest.raises(UserError, match=r"'en_core_web_md' is not installed.*spacy download en_core_web_md"):
        load_spacy_pipeline("en_core_web_md")
