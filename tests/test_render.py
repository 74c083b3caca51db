"""Pure rendering: answer cards escape every field, Markdown from archives cannot run script."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path

import pytest

from assistant.corpus.archive import read_archive
from assistant.corpus.units import ThreadMessage
from assistant.indexing.recipe import content_terms
from assistant.indexing.usefulness import load_model
from assistant.searching.searcher import Answer, RelatedQuestion, Thread
from assistant.web.render import LEGEND, answer_card, related_html, results_html, safe_markdown


class _Elements(HTMLParser):
    """The tags and attributes a browser would build from an HTML fragment."""

    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def _answer(**changes) -> Answer:
    example = Answer(
        author="Ann Author", text="An answer.", question="What?", asker="Bob", book="b", book_title="Book",
        thread=0, date="2024-01-01", url="https://datatalks.club/books/b.html", score=0.5,
        author_as_written="Ann Author", id="b/0/ann/0", confidence=0.5, passage=-1, passage_text="",
    )  # fmt: skip
    return dataclasses.replace(example, **changes)


def test_card_escapes_every_field_and_keeps_safe_markdown():
    card = answer_card(
        _answer(author="<b>Ann</b>", asker="<i>Bob</i>", question="<script>x()</script>?", book_title="A & <B>")
    )
    assert "&lt;b&gt;Ann&lt;/b&gt;" in card and "&lt;i&gt;Bob&lt;/i&gt;" in card
    assert "&lt;script&gt;x()&lt;/script&gt;?" in card and "A &amp; &lt;B&gt;" in card
    assert "<script" not in card and "<b>" not in card


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "<a href='javascript:alert(1)'>x</a>",
        "![x](javascript:alert(1))",
        '<svg onload="alert(1)">',
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](https://example.com/ onclick=alert(1))",
    ],
)
def test_markdown_cannot_inject_script(markdown):
    parser = _Elements()
    parser.feed(safe_markdown(markdown))
    assert parser.tags <= {"p", "a"}
    assert all(not name.startswith("on") for name, _ in parser.attributes)
    assert all(value.startswith("https://") for name, value in parser.attributes if name == "href")


def test_markdown_keeps_links_code_and_lists():
    html = safe_markdown(
        "See [the book](https://example.com/b) and `pip install x`:\n\n```\ncode  here\n```\n\n1. one\n2. two"
    )
    assert '<a href="https://example.com/b" target="_blank" rel="noopener noreferrer nofollow">the book</a>' in html
    assert "<code>pip install x</code>" in html and "<pre><code>code  here\n</code></pre>" in html
    assert "<ol>" in html and "<li>one</li>" in html


def test_card_without_a_linked_question_or_web_url():
    card = answer_card(_answer(question="", asker="", url="javascript:alert(1)", date=""))
    assert "not a reply to a single question" in card
    assert "javascript" not in card and card.count("href") == 3 and 'href="?answer=b/0/ann/0"' in card
    assert 'href="?author=Ann+Author"' in card and 'href="?book=b"' in card  # the author's and the week's answers


def _related(**changes) -> RelatedQuestion:
    example = RelatedQuestion(
        question="How do I start?", asker="Bob", book="b", book_title="Book", answer_id="b/0/ann/0", score=0.6
    )
    return dataclasses.replace(example, **changes)


def test_card_links_to_itself_by_its_stable_id():
    card = answer_card(_answer(id="b/3/ann-author/1"))
    assert '<a class="ata-permalink" href="?answer=b/3/ann-author/1" data-ata-nav>Link to this answer</a>' in card


def test_nearby_questions_link_to_their_search_with_the_same_filters_and_k():
    html = related_html([_related(), _related(question="Which tools?", asker="")], 3, "Ann Author", "b")
    assert "<h2" in html and "Questions others asked nearby" in html
    assert (
        '<a class="ata-ask" href="?q=How+do+I+start%3F&amp;author=Ann+Author&amp;book=b&amp;k=3" data-ata-nav>' in html
    )
    assert "asked by Bob · Book" in html and "asked by  ·" not in html
    assert related_html([], 5, None, None) == ""


def test_nearby_questions_are_escaped():
    hostile = "<script>x()</script> word word"
    parser = _Elements()
    html = related_html([_related(question=hostile, asker="<b>Eve</b>", book_title="<i>B</i>")], 5, None, None)
    parser.feed(html)
    assert parser.tags == {"section", "h2", "ul", "li", "a", "span"}
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "&lt;b&gt;Eve&lt;/b&gt;" in html
    assert "word word</a>" in html


def test_copy_link_button_only_with_a_result_worth_sharing():
    assert "data-ata-copy" in results_html([_answer()], [], shareable=True)
    assert "data-ata-copy" not in results_html([], ["Type a question"])


_FLOORS = load_model()  # the label floors are the model's, chosen on its cross-validated figures


@pytest.mark.parametrize(
    "confidence, label",
    [
        (_FLOORS.answers_floor, "Answers this"),
        ((_FLOORS.answers_floor + _FLOORS.related_floor) / 2, "Related"),
        (_FLOORS.related_floor - 0.01, "Probably not what you asked"),
    ],
)
def test_card_label_and_bar_come_from_confidence(confidence, label):
    card = answer_card(_answer(confidence=confidence))
    assert label in card and f"width:{round(100 * confidence)}%" in card
    assert f"about {round(100 * confidence)}% likely" in card


def test_matching_passage_comes_first_with_the_whole_reply_one_click_away():
    reply = "1. Use DVC for data.\n\n2. Startups should adopt MLOps early, it is a behaviour."
    card = answer_card(
        _answer(text=reply, passage=1, passage_text="2. Startups should adopt MLOps early, it is a behaviour.")
    )
    first = card.index("ata-passage")
    assert "Startups should adopt" in card[first : card.index("ata-whole")]
    assert "<details" in card and "Show the whole reply" in card and "Use DVC" in card[card.index("ata-whole") :]


XSS_ARCHIVE = Path(__file__).parent / "fixtures" / "xss" / "20240101-safe-rendering.md"
SECURITY = frozenset(content_terms("test web page security against script injection, images and links"))


@pytest.mark.parametrize("position", range(3))
def test_matched_words_are_marked_in_a_hostile_archive_message_and_nothing_runs(position):
    """The fixture's replies hold <script>, <img onerror> and a javascript: link around the words asked."""
    text = read_archive(XSS_ARCHIVE).messages[position].replies[0].text
    html = safe_markdown(text, SECURITY)
    parser = _Elements()
    parser.feed(html)
    assert parser.tags <= {"p", "a", "mark"} and "mark" in parser.tags
    assert {name for name, _ in parser.attributes} <= {"href", "rel", "target"}
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "<mark>security</mark>" in html


def test_marks_go_on_text_only_never_into_tags_attributes_or_entities():
    text = 'Spark &amp; [spark docs](https://spark.example/spark "spark>x") `spark`'
    html = safe_markdown(text, frozenset({"spark", "amp"}))
    assert html.count("<mark>") == 3  # the text, the link's text and the code; not the URL, title or '&amp;'
    assert 'href="https://spark.example/spark"' in html and 'title="spark&gt;x"' in html and "&amp;" in html
    assert safe_markdown("Spark", frozenset()) == "<p>Spark</p>\n"


def test_a_card_marks_the_words_asked_and_opens_its_whole_thread_in_place():
    thread = Thread("b", "Book", 0, "https://datatalks.club/books/b.html", "What?", "Bob", (
        ThreadMessage("Bob", "What about <b>MLOps</b>?", False),
        ThreadMessage("Ann Author", "Start small.", True),
        ThreadMessage("Cy Coauthor", "Also, decide what kind of job you want.", True),
    ))  # fmt: skip
    card = answer_card(_answer(text="Use MLOps tools."), thread=thread, marked=frozenset({"mlop"}))
    assert "<mark>MLOps</mark>" in card and "&lt;b&gt;MLOps&lt;/b&gt;" in card
    assert '<details class="ata-thread"><summary>Show the whole thread (3 messages)</summary>' in card
    assert card.count('class="ata-message ata-by-author"') == 2 and card.count('class="ata-message"') == 1
    assert card.index("What about") < card.index("Start small.") < card.index("Also, decide")


def test_the_bar_shows_its_percentage_and_the_list_says_what_it_means():
    card = answer_card(_answer(confidence=0.38))
    assert '<span class="ata-percent">38%</span>' in card
    assert "about 38% likely to answer your question" in card
    assert LEGEND in results_html([_answer(confidence=0.38)], [])
    assert LEGEND not in results_html([], ["No author answered anything close to this question."])
