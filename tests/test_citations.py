"""Section citations resolve: every `docs/original_code.md §N` (or any other repository document's
`PATH.md §N`) names a numbered heading of that file.

The notes on the original implementation live in docs/original_code.md, one numbered section per
topic; measurement history lives in docs/measurements.md. A comment, config or document cites them
as `docs/original_code.md §N`; more sections may follow on the same line (`§5.2, §5.5`,
`§9.3-§9.4`); inside a document a bare `§N` is its own section N. The internal specification the
notes were written from is not in the repository, so nothing may cite it.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO / "docs" / "original_code.md"
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".sh", ".txt", ".toml", ".js", ".html", ".cfg"}
SKIPPED_DIRS = {"data", "save", "node_modules", "__pycache__"}
INTERNAL_SPEC = re.compile(r"SPEC ?§")
SECTION = re.compile(r"§ ?(\d+(?:\.\d+)?)")
DOCUMENT = re.compile(r"([\w./-]+\.md) $")                  # `docs/original_code.md §7`
# Documents outside the repository that a § may name: the golden arrays' README and papers.
OUTSIDE = re.compile(r"(golden( README)?|Nichol & Dhariwal 2021,) $")


def _text_files() -> list[Path]:
    files = []
    for path in REPO.rglob("*"):
        parts = path.relative_to(REPO).parts
        if parts[0].startswith(".") or parts[0] in SKIPPED_DIRS or "__pycache__" in parts:
            continue
        if path.suffix in SUFFIXES and path.is_file() and path != Path(__file__).resolve():
            files.append(path)
    return files


def headings(text: str) -> set[str]:
    """Section numbers of `## 7. Title` and `### 7.4 Title` headings."""
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, flags=re.MULTILINE))


def citations(line: str) -> tuple[list[tuple[str, str]], list[str]]:
    """([(document, section)] cited in the repository's documents, [§ uses naming no document]) of one line."""
    cited, unnamed = [], []
    document = None
    for match in SECTION.finditer(line):
        before = line[: match.start()]
        named = DOCUMENT.search(before)
        if named:
            document = named.group(1)
        elif OUTSIDE.search(before):
            document = "outside"
        elif document is None and not re.search(r"golden", before):
            unnamed.append(match.group(0))
            continue
        if document not in (None, "outside"):   # a list or range continues the last named document
            cited.append((document, match.group(1)))
    return cited, unnamed


def test_line_parser_follows_lists_and_names():
    notes = "docs/original_code.md"
    assert citations(f"as the reference ({notes} §2.4, §13.8) and §9.3-§9.4") == (
        [(notes, "2.4"), (notes, "13.8"), (notes, "9.3"), (notes, "9.4")], [])
    assert citations(f"golden README §6, §10; {notes} §5.2 and docs/measurements.md §3") == (
        [(notes, "5.2"), ("docs/measurements.md", "3")], [])
    assert citations("see §4.3") == ([], ["§4.3"])
    assert headings("## 3. Skeleton\ntext ## 9.\n### 3.1 Layout\n#### 3.1.1 no\n") == {"3", "3.1"}


def test_every_citation_names_a_section_of_a_repository_document():
    assert {"2.4", "7.4", "13.7"} <= headings(NOTES.read_text(encoding="utf-8"))
    sections: dict[str, set[str]] = {}
    unresolved, unnamed, notes_cited = [], [], 0
    for path in _text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            where = f"{path.relative_to(REPO)}:{number}"
            assert not INTERNAL_SPEC.search(line), f"{where}: cites the internal specification: {line.strip()}"
            cited, bare = citations(line)
            for document, section in cited:
                target = REPO / document
                if document not in sections:
                    sections[document] = headings(target.read_text(encoding="utf-8")) if target.is_file() else set()
                if section not in sections[document]:
                    unresolved.append(f"{where}: {document} §{section}")
                notes_cited += document == "docs/original_code.md"
            if path.suffix == ".md":  # a document's bare §N refers to its own sections
                own = headings(path.read_text(encoding="utf-8"))
                unresolved += [f"{where}: {b} (not a section of this file)" for b in bare if b.lstrip("§ ") not in own]
            else:
                unnamed += [f"{where}: {b} (name the document, e.g. docs/original_code.md {b})" for b in bare]
    assert not unresolved, "citations of missing files or sections:\n" + "\n".join(unresolved)
    assert not unnamed, "§ citations without a document:\n" + "\n".join(unnamed)
    assert notes_cited > 100  # the scan found the repository's citations of the notes


def test_document_sections_are_unique_and_in_order():
    for document in sorted((REPO / "docs").glob("*.md")):
        numbers = re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", document.read_text(encoding="utf-8"), flags=re.MULTILINE)
        keys = [tuple(int(p) for p in n.split(".")) for n in numbers]
        assert len(set(keys)) == len(keys) and keys == sorted(keys), document.name
