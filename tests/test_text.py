"""Text cleaning: Slack markup and HTML entities resolved, Markdown left alone."""

from __future__ import annotations

import pytest

from assistant.corpus.text import clean_text, fold, word_count


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("a &gt; b &amp;&amp; c &lt; d", "a > b && c < d"),
        ("nice :slightly_smiling_face:", "nice 🙂"),
        (":woman-shrugging:", "🤷\u200d♀️"),  # Slack's dash spelling of :woman_shrugging:
        ("party :matrix-parrot:", "party"),  # workspace-only emoji: no Unicode form
        ("see <#C01F53D373M|shameless-promotion>", "see #shameless-promotion"),
        ("<@U01ABC|alexey> hi", "@alexey hi"),
        ("<https://example.org|the site>", "[the site](https://example.org)"),
        ("<https://example.org>", "https://example.org"),
        ("[the site](https://example.org/a_b:c:d)", "[the site](https://example.org/a_b:c:d)"),
        ("at 10:30:00 and x[1:2:3]", "at 10:30:00 and x[1:2:3]"),
        ("```\nprint(1)\n```\n*bold* _it_ `code`", "```\nprint(1)\n```\n*bold* _it_ `code`"),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    "name, folded",
    [("Savaş Yıldırım", "savas yildirim"), ("Ondřej Kubera", "ondrej kubera"), ("Serg Masís", "serg masis")],
)
def test_fold(name, folded):
    assert fold(name) == folded


@pytest.mark.parametrize("text, words", [("+1", 0), ("🙂 🎉", 0), ("Thanks!", 1), ("Start with chapter 2.", 3)])
def test_word_count(text, words):
    assert word_count(text) == words
