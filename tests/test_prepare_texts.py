"""prepare/texts.py: plain captions -> HumanML3D texts/<id>.txt lines (with a stand-in spaCy pipeline)."""

import subprocess
import sys
from pathlib import Path

import pytest

from crossdiff.data.words import read_text_file
from crossdiff.errors import UserError
from prepare import texts
from words_helpers import FakeEnglish

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def captions(tmp_path):
    folder = tmp_path / "captions"
    folder.mkdir()
    (folder / "clip_a.txt").write_text("a man walks forward slowly\n\nthe person jumps#1.5#3.25\n")
    (folder / "clip_b.txt").write_text("a woman turns left#a/DET woman/NOUN#0#0\n")
    (folder / "notes.md").write_text("not a caption file\n")
    return folder


def test_writes_one_text_file_per_caption_file(captions, tmp_path):
    nlp = FakeEnglish()
    written = texts.main(captions, tmp_path / "data" / "texts", nlp=nlp, progress=False)
    assert [p.name for p in written] == ["clip_a.txt", "clip_b.txt"]
    entries = read_text_file(tmp_path / "data" / "texts" / "clip_a.txt")
    assert [(e.caption, e.tokens, e.start, e.end) for e in entries] == [
        ("a man walks forward slowly", ["a/DET", "man/NOUN", "walk/VERB", "forward/ADV", "slowly/ADV"], 0.0, 0.0),
        ("the person jumps", ["the/DET", "person/NOUN", "jump/VERB"], 1.5, 3.25),
    ]
    [entry] = read_text_file(tmp_path / "data" / "texts" / "clip_b.txt")
    assert entry.tokens == ["a/DET", "woman/NOUN", "turn/VERB", "left/ADJ"]   # old tokens are replaced
    assert nlp.calls == ["a man walks forward slowly", "the person jumps", "a woman turns left"]


def test_a_single_caption_file(captions, tmp_path):
    written = texts.main(captions / "clip_b.txt", tmp_path / "texts", nlp=FakeEnglish(), progress=False)
    assert written == [tmp_path / "texts" / "clip_b.txt"]
    assert written[0].read_text() == "a woman turns left#a/DET woman/NOUN turn/VERB left/ADJ#0.0#0.0\n"


@pytest.mark.parametrize("line, message", [("a man walks#2.0", "expected 'caption' or 'caption#from#to'"),
                                           ("a man walks#soon#2.0", "from/to must be seconds")])
def test_malformed_lines_name_file_and_line(captions, tmp_path, line, message):
    (captions / "clip_c.txt").write_text(f"a man runs\n{line}\n")
    with pytest.raises(UserError, match=rf"clip_c\.txt:2: {message}"):
        texts.main(captions, tmp_path / "texts", nlp=FakeEnglish(), progress=False)
    assert not (tmp_path / "texts" / "clip_c.txt").exists()


def test_missing_input_and_empty_folder(tmp_path):
    with pytest.raises(UserError, match="no such file or folder"):
        texts.main(tmp_path / "nowhere", tmp_path / "texts", nlp=FakeEnglish())
    with pytest.raises(UserError, match="holds no <id>.txt caption files"):
        texts.main(tmp_path, tmp_path / "texts", nlp=FakeEnglish())


def test_cli_without_spacy_exits_2_with_install_instructions(captions, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "spacy", None)
    assert texts.cli(["--captions", str(captions), "--out", str(tmp_path / "texts")]) == 2
    assert "python -m spacy download en_core_web_sm" in capsys.readouterr().err
    assert not (tmp_path / "texts").exists()


def test_runs_as_a_script(tmp_path):
    result = subprocess.run([sys.executable, "prepare/texts.py", "--captions", str(tmp_path / "missing"),
                             "--out", str(tmp_path / "texts")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "no such file or folder" in result.stderr
