"""Reading archives: the real corpus, the seed, text cleaning on real data, and malformed files."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from assistant.corpus.archive import (
    MAX_ARCHIVE_BYTES,
    ArchiveError,
    Link,
    archive_paths,
    file_hash,
    read_archive,
    read_archives,
)
from helpers import SEED_ID, deadline, write_archive

ARCHIVES = 98
WITH_MESSAGES = 91
TOP_LEVEL_MESSAGES = 1_881
REPLIES = 3_534

_MARKDOWN_LINK = re.compile(r"\[[^\]\n]+\]\(https?://[^)\s]+\)")


def _all_texts(books):
    """(book id, text) of every top-level message and reply."""
    for book in books:
        for message in book.messages:
            yield book.id, message.text
            for reply in message.replies:
                yield book.id, reply.text


def _raw_front_matter(path: Path) -> dict:
    """The front matter parsed without assistant.corpus.archive (real archives end it with a bare '---' line)."""
    text = path.read_text(encoding="utf-8")
    front_matter = text.removeprefix("---\n").split("\n---\n", 1)[0]
    return yaml.load(front_matter, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# --- the real corpus ----------------------------------------------------------------------------


def test_every_archive_reads_without_errors(corpus):
    assert [str(error) for error in corpus.errors] == []
    assert len(corpus.books) == ARCHIVES


def test_templates_and_notes_are_not_archives(tmp_path, seed_file, data_dir):
    shutil.copy(seed_file, tmp_path)
    shutil.copy(seed_file, tmp_path / "_template.md")
    for note in ("SOURCE.md", "README.md"):
        shutil.copy(data_dir / "SOURCE.md", tmp_path / note)
    assert archive_paths([tmp_path]) == [tmp_path / seed_file.name]


def test_corpus_message_counts(corpus):
    assert sum(1 for book in corpus.books if book.messages) == WITH_MESSAGES
    assert sum(len(book.messages) for book in corpus.books) == TOP_LEVEL_MESSAGES
    assert sum(len(m.replies) for book in corpus.books for m in book.messages) == REPLIES


def test_file_without_archive_field_is_a_book_without_messages(corpus):
    empty = [book for book in corpus.books if not book.messages]
    assert len(empty) == ARCHIVES - WITH_MESSAGES
    assert all(book.title for book in empty)


@pytest.mark.parametrize("book_id", ["20210816-tuning-up", "20230123-snowflake-definitive-guide"])
def test_archive_whose_text_contains_dashes_reads_fully(books_dir, book_id):
    path = books_dir / f"{book_id}.md"
    assert "---" in path.read_text(encoding="utf-8").split("\n", 1)[1].rsplit("\n---\n", 1)[0]
    book = read_archive(path)
    raw = _raw_front_matter(path)["archive"]
    assert [m.name for m in book.messages] == [m["name"] for m in raw]
    assert [len(m.replies) for m in book.messages] == [len(m.get("replies") or []) for m in raw]
    assert any("---" in text for _, text in _all_texts([book]))


# --- the seed ------------------------------------------------------------------------------------


def test_seed_metadata(seed_book):
    assert seed_book.id == SEED_ID
    assert seed_book.title == "Practical MLOps"
    assert seed_book.authors == ("noahgift", "Alfredo Deza")
    assert seed_book.start == dt.date(2021, 8, 30)
    assert seed_book.url == "https://datatalks.club/books/20210830-practical-mlops.html"
    assert seed_book.links == (
        Link("Book's page", "https://www.oreilly.com/library/view/practical-mlops/9781098103002/"),
        Link("Amazon page", "https://www.amazon.com/Practical-MLOps-Operationalizing-Machine-Learning/dp/1098103017"),
        Link("Book's GitHub repository", "https://github.com/paiml/practical-mlops-book"),
    )
    assert len(seed_book.messages) == 29


def test_data_ships_every_week_with_its_source(data_dir, seed_file, seed_book, corpus):
    assert (data_dir / seed_file.name).read_bytes() == seed_file.read_bytes()
    assert "DataTalksClub/datatalksclub.github.io" in (data_dir / "SOURCE.md").read_text(encoding="utf-8")
    [book] = [book for book in corpus.books if book.id == seed_book.id]
    assert (book.content_hash, book.messages) == (seed_book.content_hash, seed_book.messages)
    assert len(corpus.books) == ARCHIVES


def test_seed_is_the_corpus_copy(seed_book, books_by_id):
    book = books_by_id[SEED_ID]
    assert (book.content_hash, book.messages) == (seed_book.content_hash, seed_book.messages)


def test_message_line_is_the_file_line(seed_file, seed_book):
    lines = seed_file.read_text(encoding="utf-8").splitlines()
    first_message = lines.index("- name: Alex S") + 1
    assert seed_book.messages[0].line == first_message


# --- text cleaning on real data ------------------------------------------------------------------


@pytest.mark.parametrize("leftover", ["&gt;", "&lt;", "&amp;", "&quot;", ":slightly_smiling_face:", "<#C01F53D373M"])
def test_no_slack_or_html_markup_left(corpus, leftover):
    assert [book_id for book_id, text in _all_texts(corpus.books) if leftover in text] == []


def test_channel_link_resolved(books_by_id):
    book = books_by_id["20210927-effective-data-science-infrastructure"]
    assert "<#C01F53D373M|shameless-promotion>" in book.path.read_text(encoding="utf-8")
    texts = [text for _, text in _all_texts([book])]
    assert any("This may count as #shameless-promotion but" in text for text in texts)


def test_shortcode_becomes_emoji(books_by_id):
    book = books_by_id["20201214-ml-bookcamp"]
    assert any("for models 🙂 If your dataset is static" in text for _, text in _all_texts([book]))


def test_markdown_links_and_code_fences_kept(corpus):
    """Every Markdown link and ``` fence of the source text survives cleaning."""
    links = fences = 0
    for book in corpus.books:
        for raw, message in zip(_raw_front_matter(book.path).get("archive") or [], book.messages, strict=False):
            raw_replies = [r.get("text") for r in raw.get("replies") or []]
            pairs = [
                (raw.get("text"), message.text),
                *zip(raw_replies, [r.text for r in message.replies], strict=False),
            ]
            for raw_text, text in pairs:
                raw_text = html.unescape(str(raw_text or ""))
                for link in _MARKDOWN_LINK.findall(raw_text):
                    assert link in text, book.id
                    links += 1
                assert text.count("```") == raw_text.count("```"), book.id
                fences += text.count("```")
    assert links > 500 and fences > 50  # the check above ran over real links and fences


# --- malformed archives --------------------------------------------------------------------------

# name, file content, what the error says, file line it names (None: the code gives no line)
MALFORMED = [
    ("invalid-yaml", "---\ntitle: Broken\narchive:\n- name: Ann\n  text: hi\n   replies: []\n---\n", "invalid YAML", 6),
    ("no-front-matter", "title: Broken\narchive: []\n", "no YAML front matter", 1),
    ("not-closed", "---\ntitle: Broken\narchive:\n- name: Ann\n  text: hi\n", "front matter is not closed", 1),
    ("archive-not-list", "---\ntitle: Broken\narchive:\n  name: Ann\n  text: hi\n---\n", "archive must be a list", 3),
    (
        "message-without-name",
        "---\ntitle: Broken\narchive:\n- name: Ann\n  text: hi\n- text: nobody wrote this\n---\n",
        "archive message 1: name",
        6,
    ),
    (
        "reply-without-name",
        "---\ntitle: Broken\narchive:\n- name: Ann\n  text: hi\n  replies:\n  - text: nobody wrote this\n---\n",
        "archive message 0, reply 0: name",
        7,
    ),
    (
        "text-is-mapping",
        "---\ntitle: Broken\narchive:\n- name: Ann\n  text:\n    a: b\n---\n",
        "archive message 0: text must be text, got dict",
        4,
    ),
    ("not-utf8", b"---\ntitle: Broken\narchive:\n- name: Ann\n  text: caf\xe9\n---\n", "not UTF-8", 5),
    ("empty", "", "file is empty", None),
]
_CASES = [pytest.param(*case, id=case[0]) for case in MALFORMED]


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / f"{name}.md"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.mark.parametrize("name, content, reason, line", _CASES)
def test_malformed_archive_error_names_file_line_and_problem(tmp_path, name, content, reason, line):
    path = _write(tmp_path, name, content)
    with pytest.raises(ArchiveError) as caught:
        read_archive(path)
    assert caught.value.path == path
    assert reason in caught.value.reason
    assert caught.value.line == line
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(caught.value) == f"{where}: {caught.value.reason}"


def test_error_without_line_is_path_and_reason(tmp_path):
    path = _write(tmp_path, "empty", "")
    with pytest.raises(ArchiveError) as caught:
        read_archive(path)
    assert caught.value.line is None
    assert str(caught.value) == f"{path}: file is empty"


def test_file_without_archive_field_is_not_an_error(tmp_path):
    book = read_archive(write_archive(tmp_path / "no-archive.md", archive=None))
    assert book.title == "Tiny Book"
    assert book.messages == ()


def test_bad_files_are_reported_and_good_ones_still_load(tmp_path, seed_file, seed_book):
    shutil.copy(seed_file, tmp_path / seed_file.name)
    write_archive(tmp_path / "no-archive.md", archive=None)
    (tmp_path / "_template.md").write_text("not an archive at all", encoding="utf-8")
    bad = {_write(tmp_path, name, content) for name, content, _, _ in MALFORMED}

    result = read_archives([tmp_path])

    assert sorted(book.id for book in result.books) == ["20210830-practical-mlops", "no-archive"]
    assert next(b for b in result.books if b.id == SEED_ID).messages == seed_book.messages
    assert len(result.errors) == len(MALFORMED)
    assert {error.path for error in result.errors} == bad


def test_same_book_in_two_folders_is_reported(tmp_path, seed_file):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(seed_file, tmp_path / folder / seed_file.name)
    result = read_archives([tmp_path / "a", tmp_path / "b"])
    assert [book.id for book in result.books] == [SEED_ID]
    assert len(result.errors) == 1
    assert "duplicate book id" in result.errors[0].reason
    assert result.errors[0].path == tmp_path / "b" / seed_file.name


def test_dashes_inside_block_scalar_do_not_end_front_matter(tmp_path):
    path = _write(
        tmp_path,
        "block",
        "---\ntitle: Block\narchive:\n- name: Ann\n  text: |\n    before\n    ---\n    after\n"
        "  replies:\n  - name: Bob\n    text: a reply\n- name: Cid\n  text: another question\n---\n",
    )
    book = read_archive(path)
    assert [m.name for m in book.messages] == ["Ann", "Cid"]
    assert book.messages[0].text == "before\n---\nafter"
    assert len(book.messages[0].replies) == 1


# --- hostile and odd files: each is skipped with a message, the others load, nothing hangs -------


def _alias_bomb() -> str:
    """Nine levels of anchors, each replying with ten aliases of the level below: 10^9 messages in under 1 KB."""
    lines = ["---", "title: Bomb", "authors: [Ann Author]", "start: 2024-01-01", "defs:"]
    lines.append("  m0: &m0 {name: Ann, text: hi}")
    for i in range(1, 10):
        lines.append(f"  m{i}: &m{i} {{name: Ann, text: hi, replies: [{', '.join([f'*m{i - 1}'] * 10)}]}}")
    return "\n".join([*lines, "archive: [*m9]", "---", ""])


def _folder_with_seed(tmp_path: Path, seed_file: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(seed_file, folder / seed_file.name)
    return folder


def test_yaml_alias_bomb_is_refused_at_its_line(tmp_path):
    content = _alias_bomb()
    assert len(content.encode()) < 1024
    path = _write(tmp_path, "bomb", content)
    with deadline(5), pytest.raises(ArchiveError) as caught:
        read_archive(path)
    assert caught.value.line == 7  # the first `*m0`
    assert "alias" in caught.value.reason and "*m0" in caught.value.reason


def test_yaml_alias_bomb_does_not_stop_the_other_archives(tmp_path, seed_file, seed_book):
    folder = _folder_with_seed(tmp_path, seed_file)
    _write(folder, "bomb", _alias_bomb())
    with deadline(10):
        result = read_archives([folder])
    assert [book.messages for book in result.books] == [seed_book.messages]
    assert [error.path.name for error in result.errors] == ["bomb.md"]


def test_deeply_nested_replies_are_an_archive_error(tmp_path):
    depth = 300  # within libyaml's nesting limit, beyond what a recursive walk survives
    nested = "{name: a, text: b, replies: [" * depth + "{name: a, text: b}" + "]}" * depth
    path = _write(tmp_path, "deep", f"---\ntitle: Deep\narchive:\n- {nested}\n---\n")
    with pytest.raises(ArchiveError) as caught:
        read_archive(path)
    assert caught.value.line == 3  # `archive:`
    assert "nested too deeply" in caught.value.reason


def test_fifo_is_skipped_without_blocking(tmp_path, seed_file, seed_book):
    folder = _folder_with_seed(tmp_path, seed_file)
    os.mkfifo(folder / "x.md")
    with deadline(5):
        result = read_archives([folder])
        with pytest.raises(OSError):
            file_hash(folder / "x.md")  # what the indexer records for a skipped file
    assert [book.messages for book in result.books] == [seed_book.messages]
    [error] = result.errors
    assert error.path == folder / "x.md"
    assert "not a regular file" in error.reason and "FIFO" in error.reason


def test_symlink_to_a_device_is_skipped(tmp_path, seed_file, seed_book):
    folder = _folder_with_seed(tmp_path, seed_file)
    (folder / "zero.md").symlink_to("/dev/zero")
    with deadline(5):
        result = read_archives([folder])
        with pytest.raises(OSError):
            file_hash(folder / "zero.md")
    assert [book.messages for book in result.books] == [seed_book.messages]
    [error] = result.errors
    assert error.path == folder / "zero.md"
    assert "not a regular file" in error.reason and "character device" in error.reason


def test_folder_named_like_an_archive_is_skipped(tmp_path, seed_file):
    folder = _folder_with_seed(tmp_path, seed_file)
    (folder / "notes.md").mkdir()
    result = read_archives([folder])
    assert [book.id for book in result.books] == [SEED_ID]
    assert ["directory" in error.reason for error in result.errors] == [True]


def test_symlink_to_an_archive_is_read(tmp_path, seed_file, seed_book):
    (tmp_path / "link.md").symlink_to(seed_file)
    assert read_archive(tmp_path / "link.md").messages == seed_book.messages


def test_archive_over_the_size_limit_is_skipped(tmp_path, seed_file, seed_book):
    folder = _folder_with_seed(tmp_path, seed_file)
    big = write_archive(folder / "big.md", archive=[{"name": "Ann", "text": "hi"}])
    with open(big, "r+b") as handle:
        handle.truncate(MAX_ARCHIVE_BYTES + 1)  # sparse: no disk used
    result = read_archives([folder])
    assert [book.messages for book in result.books] == [seed_book.messages]
    [error] = result.errors
    assert error.path == big
    assert "20 MB" in error.reason
    with pytest.raises(OSError):
        file_hash(big)


def test_archive_at_the_size_limit_is_read(tmp_path):
    path = write_archive(tmp_path / "padded.md", archive=[{"name": "Ann", "text": "hi"}])
    with open(path, "ab") as handle:
        handle.write(b"\n" * (MAX_ARCHIVE_BYTES - path.stat().st_size))  # Markdown after the front matter
    assert path.stat().st_size == MAX_ARCHIVE_BYTES
    assert [m.text for m in read_archive(path).messages] == ["hi"]


def test_utf8_bom_archive_reads_like_the_same_file_without_it(tmp_path, seed_file, seed_book):
    path = tmp_path / seed_file.name
    path.write_bytes(b"\xef\xbb\xbf" + seed_file.read_bytes())
    book = read_archive(path)
    assert (book.title, book.authors, book.messages) == (seed_book.title, seed_book.authors, seed_book.messages)


def test_skipped_odd_files_leave_no_open_descriptors(tmp_path, seed_file):
    folder = _folder_with_seed(tmp_path, seed_file)
    os.mkfifo(folder / "x.md")
    (folder / "notes.md").mkdir()
    (folder / "zero.md").symlink_to("/dev/zero")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        assert len(read_archives([folder]).errors) == 3
    assert len(os.listdir("/proc/self/fd")) == before
