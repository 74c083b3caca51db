"""The Slack app's pure parts: Block Kit rendering within Slack's limits, escaping, asking, settings, rate and votes.

No Slack and no model: answers come from real archive units (data/ and the hostile fixtures).
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys

import pytest

from assistant.corpus.archive import read_archive
from assistant.corpus.units import build_units
from assistant.indexing.recipe import relevance
from assistant.searching.searcher import Answer
from assistant.service.contract import SearchRequest
from assistant.service.querylog import QueryLog
from assistant.slack.__main__ import SettingError, credentials
from assistant.slack.ask import USAGE, Asked, AskError, Vote, parse_ask, typed_text
from assistant.slack.blocks import (
    MAX_TEXT_CHARS,
    PAGE,
    PASSAGE_CHARS,
    escape,
    no_answer_message,
    results_message,
    untrusted,
)
from assistant.slack.bot import RateLimit, voter_hash, voter_key
from helpers import REPO
from loghelpers import Clock, logged, rows
from slackchecks import SLACK_ARCHIVES, XSS_ARCHIVES, assert_no_forged_controls, assert_within_slack_limits, texts

pytest_plugins = ["logfixtures"]  # the questions and unit_ids fixtures

MARKDOWN_LINK = re.compile(r"\[((?:[^\[\]\n]|\[[^\[\]\n]*\])+)\]\((https?://[^\s<>|()\"'`]+)\)")
HOSTILE = "<!channel> <!here|here> <@U024BE7LH> <#C024BE7LB|general> <https://evil.example|https://datatalks.club> & co"


def as_answer(unit, confidence: float = 0.5) -> Answer:
    return Answer.from_unit(unit, 0.5, confidence, -1, "")


def asked(question: str = "How do you announce a release?", **filters) -> Asked:
    return Asked(SearchRequest(question, PAGE, **filters), "5f0c3a9e1b7d2468", 0)


def test_untrusted_text_is_escaped_and_links_show_their_own_address():
    shown = untrusted(HOSTILE)
    assert "<!" not in shown and "<@" not in shown and "<#" not in shown
    assert shown == (
        "&lt;!channel&gt; &lt;!here|here&gt; &lt;@U024BE7LH&gt; &lt;#C024BE7LB|general&gt; "
        "&lt;<https://evil.example>|<https://datatalks.club>&gt; &amp; co"
    )
    assert untrusted("see https://example.com/a?b=1&c=2.") == "see <https://example.com/a?b=1&amp;c=2>."
    assert untrusted("javascript:alert(1)") == "javascript:alert(1)"  # only http(s) becomes a link


def test_every_link_in_the_archives_is_one_link_to_its_own_address(corpus, people):
    """[url](url) (428 in the archives), [label](url) and bare addresses: each a link to its address, never one that
    runs across the `](`; a label that says something else is kept beside its link."""
    texts = [unit.text for book in corpus.books for unit in build_units(book, people)]
    markdown = [(m.group(1), m.group(2)) for text in texts for m in MARKDOWN_LINK.finditer(text)]
    assert sum(label == url for label, url in markdown) > 300 and sum(label != url for label, url in markdown) > 50
    for text in texts:
        shown = untrusted(text, 10**6)
        links = re.findall(r"<([^<>]*)>", shown)
        assert not [link for link in links if "](" in link or "%5D(" in link or not link.startswith("http")]
        for label, url in MARKDOWN_LINK.findall(text):
            assert f"<{escape(url)}>" in shown
            assert url == label or escape(label.strip()) in shown
    assert untrusted("[https://a.example/x](https://a.example/x).") == "<https://a.example/x>."
    assert untrusted("see [Covariant AI](https://covariant.ai/)!") == "see Covariant AI (<https://covariant.ai/>)!"


def test_long_untrusted_text_is_cut_within_the_limit_never_inside_an_entity_or_a_link():
    for text in ["<" * 5000, "a&" * 3000, ("word https://example.com/" + "x" * 50 + " ") * 100]:
        for limit in (MAX_TEXT_CHARS, 101, 102, 103):
            shown = untrusted(text, limit)
            assert len(shown) <= limit and shown.endswith("…")
            body = shown[:-1]
            assert body.count("<") == body.count(">")  # links whole
            assert not re.search(r"&(?!(amp|lt|gt);)", body)  # every & starts a whole entity


def test_the_longest_archive_messages_fit_slacks_limits(corpus, people):
    units = [unit for book in corpus.books for unit in build_units(book, people)]
    longest = sorted(units, key=lambda unit: len(escape(unit.text)))[-PAGE:]
    assert len(longest[-1].text) > MAX_TEXT_CHARS  # the test is worth something: Slack would refuse it whole
    answers = [as_answer(unit) for unit in longest]
    message = results_message(asked("x" * 1000), answers, more=True, web_url="https://ask.example", share=True)
    assert_within_slack_limits(message)
    assert_no_forged_controls(message)
    passages = [block["text"]["text"] for block in message["blocks"] if block["type"] == "section"][1:][1::2]
    assert len(passages) == PAGE and all(len(passage) < 2 * PASSAGE_CHARS for passage in passages)  # cut to read


def test_three_answers_read_at_a_glance_each_cut_at_a_sentence(corpus, people):
    """A page of three cards: author, book, week, the matched passage cut at a sentence, a link; under ~1,500
    characters of text however long the replies (the archive's longest ones here)."""
    units = [unit for book in corpus.books for unit in build_units(book, people)]
    for chosen in (sorted(units, key=lambda unit: len(unit.text))[-PAGE:], units[:PAGE], units[1000 : 1000 + PAGE]):
        message = results_message(asked(), [as_answer(u) for u in chosen], more=True, web_url="https://ask.example")
        read = [re.sub(r"<[^<>|]+\|([^<>]*)>", r"\1", text) for text in texts(message)[1:]]  # a link as its label
        shown = sum(len(text) for text in read)  # what the reader reads: the blocks
        assert shown < 1500, shown
        passages = [block["text"]["text"] for block in message["blocks"] if block["type"] == "section"][1:][1::2]
        assert all(p.rstrip("…").endswith((".", "!", "?", ">", ")")) or len(p) < PASSAGE_CHARS for p in passages)


def test_hostile_archive_messages_never_ping_or_forge_links():
    units = [unit for folder in (SLACK_ARCHIVES, XSS_ARCHIVES) for path in sorted(folder.glob("*.md"))
             for unit in build_units(read_archive(path), {})]  # fmt: skip
    assert any("<!channel>" in unit.text for unit in units) and any(len(unit.text) > 4000 for unit in units)
    for start in range(0, len(units), PAGE):
        message = results_message(asked(HOSTILE), [as_answer(u) for u in units[start : start + PAGE]], more=True,
                                  share=True)  # fmt: skip
        assert_within_slack_limits(message)
        assert_no_forged_controls(message)
    first = results_message(asked(HOSTILE), [as_answer(units[0])], more=False)
    shown = json.dumps(first)
    assert "&lt;!channel&gt;" in shown and "&lt;@U024BE7LH&gt;" in shown  # shown as typed, not dropped
    assert "Slack &lt;!here&gt; Markup &amp; &lt;@U024BE7LH&gt; Safety" in shown  # the book title too
    assert_no_forged_controls(no_answer_message(asked(HOSTILE)))


def test_a_card_says_who_where_to_whom_the_passage_its_label_and_links_the_whole_answer(seed_book):
    unit = build_units(seed_book, {})[1]
    answer = Answer.from_unit(unit, 0.6, 0.7, 1, "the passage that matched")
    message = results_message(asked(), [answer], more=False)
    text = "\n".join(block["text"]["text"] for block in message["blocks"] if "text" in block)
    context = "\n".join(e["text"] for block in message["blocks"] for e in block.get("elements", []) if "type" in e
                        and e["type"] == "mrkdwn")  # fmt: skip
    assert f"*{unit.author}* in _Practical MLOps_ · week of 30 Aug 2021" in text
    assert "the passage that matched" in text and unit.text[:200] not in text
    assert f"asked by {unit.asker}:" in context and f"*{relevance(0.7).label}* (70% likely)" in context
    assert f"<{unit.url}|Read the whole answer>" in context
    linked = results_message(asked(), [answer], more=False, web_url="https://ask.example/")
    assert f"<https://ask.example/?answer={unit.id}|Read the whole answer>" in json.dumps(linked)
    votes = [b for b in message["blocks"] if b["type"] == "actions"]
    values = [json.loads(button["value"]) for button in votes[0]["elements"]]
    assert [(v["id"], v["a"], v["h"]) for v in values] == [("5f0c3a9e1b7d2468", unit.id, h) for h in (True, False)]
    assert {Vote.decode(b["value"]).asked.encode() for b in votes[0]["elements"]} == {asked().encode()}  # its page
    unlogged = results_message(Asked(asked().request, None, 0), [answer], more=False)
    assert not [b for b in unlogged["blocks"] if b["type"] == "actions"]  # no log, no votes


def test_more_and_share_buttons_carry_the_search_and_nothing_close_offers_the_closest(seed_book):
    answers = [as_answer(unit) for unit in build_units(seed_book, {})[:PAGE]]
    message = results_message(asked(author="Noah Gift"), answers, more=True, share=True)
    more, share = message["blocks"][-1]["elements"]
    assert (more["action_id"], share["action_id"]) == ("more", "share")
    later = Asked.decode(more["value"])
    assert (later.request.question, later.request.author, later.query_id, later.seen) == (
        "How do you announce a release?", "Noah Gift", "5f0c3a9e1b7d2468", PAGE)  # fmt: skip
    assert Asked.decode(share["value"]).seen == 0
    nothing = no_answer_message(asked())
    assert "answers *How do you announce a release?* closely" in nothing["blocks"][0]["text"]["text"]
    button = nothing["blocks"][1]["elements"][0]
    assert button["text"]["text"] == "Show the closest anyway" and Asked.decode(button["value"]).request.closest


def test_weak_answers_are_headed_as_such_and_a_shared_later_page_stands_on_its_own(seed_book):
    units = build_units(seed_book, {})[:PAGE]
    strong = results_message(asked(), [as_answer(u, 0.9) for u in units], more=True, share=True)
    weak = results_message(asked(), [as_answer(u, 0.05) for u in units], more=True, share=True, weak=True)
    assert strong["blocks"][0]["text"]["text"] == "The authors' answers to *How do you announce a release?*"
    assert weak["blocks"][0]["text"]["text"] == (
        "The closest answers to *How do you announce a release?*: none of them answers it closely"
    )
    later = Asked(asked().request, "5f0c3a9e1b7d2468", PAGE)
    shared = results_message(later, [as_answer(u, 0.9) for u in units], more=False, sharer="U0SHARER")
    assert shared["blocks"][0]["text"]["text"] == (
        f"<@U0SHARER> shared more of the authors' answers to *How do you announce a release?* (from answer {PAGE + 1})"
    )
    for message in (strong, weak, shared):
        assert_within_slack_limits(message)
        labels = [b["accessibility_label"] for block in message["blocks"] if block["type"] == "actions"
                  for b in block["elements"]]  # fmt: skip
        assert len(set(labels)) == len(labels)  # each button says which answer it is about


def test_a_button_value_fits_slacks_2000_characters_even_for_the_longest_question():
    for question in ['"' * 1000, "é" * 1000, "\\" * 1000]:
        value = asked(question, author="Noah Gift", book="20210830-practical-mlops").encode()
        assert len(value) <= 2000
        assert question.startswith(Asked.decode(value).request.question)


def test_typed_text_undoes_slacks_markup():
    assert typed_text("<@U0BOT> how do I use <#C1|general> &amp; <https://a.example|a link>? &lt;3") == (
        "how do I use general & a link? <3"
    )
    assert typed_text("<!here> <https://a.example> ok") == "https://a.example ok"


def test_filters_are_read_and_checked(fake_seed_searcher):
    searcher = fake_seed_searcher
    request = parse_ask(searcher, '<@U0BOT> author:"Noah Gift" book:practical-mlops should startups do MLOps?', PAGE)
    assert (request.question, request.author, request.book) == ("should startups do MLOps?", "Noah Gift",
                                                                "20210830-practical-mlops")  # fmt: skip
    curly = parse_ask(searcher, "author:“alfredo deza” book:'Practical MLOps' what about Kedro?", PAGE)
    assert (curly.question, curly.author, curly.book) == ("what about Kedro?", "alfredo deza",
                                                          "20210830-practical-mlops")  # fmt: skip
    with pytest.raises(AskError, match="What would you like to ask") as empty:
        parse_ask(searcher, '<@U0BOT> author:"Noah Gift"', PAGE)
    assert USAGE in str(empty.value)
    with pytest.raises(AskError, match="Author 'Nobody' has no answers in the index"):
        parse_ask(searcher, "author:Nobody what is MLOps?", PAGE)
    with pytest.raises(AskError, match="No book in the archives is called “cooking”"):
        parse_ask(searcher, "book:cooking what is MLOps?", PAGE)
    with pytest.raises(AskError, match="give `book:` once"):
        parse_ask(searcher, "book:a book:b what is MLOps?", PAGE)
    dated = parse_ask(searcher, "since:2021 until:2021-08 should startups do MLOps?", PAGE)
    assert (dated.question, dated.since, dated.until) == ("should startups do MLOps?", "2021-01-01", "2021-08-31")
    carried = Asked.decode(Asked(dated, None, PAGE).encode()).request
    assert (carried.since, carried.until) == ("2021-01-01", "2021-08-31")
    heading = results_message(Asked(dated, None, 0), [], more=False)["blocks"][0]["text"]["text"]
    assert "(since 2021-01-01, until 2021-08-31)" in heading
    with pytest.raises(AskError, match="Since must be a year"):
        parse_ask(searcher, "since:lately what is MLOps?", PAGE)


def test_the_rate_limit_allows_n_a_minute_per_user():
    clock = Clock(0.0)
    limit = RateLimit(2, clock)
    assert limit.wait("U1") == 0 and limit.wait("U1") == 0 and limit.wait("U2") == 0
    assert limit.wait("U1") == 60
    clock.now = 59.5
    assert limit.wait("U1") == pytest.approx(0.5)
    clock.now = 60.0
    assert limit.wait("U1") == 0
    told = limit.message(0.5)["text"]
    assert "at most 2 searches a minute" in told and "Try again in 1 s" in told


def test_voters_are_kept_as_keyed_hashes(tmp_path):
    key = voter_key(tmp_path / "queries.sqlite.voter-key")
    assert voter_key(tmp_path / "queries.sqlite.voter-key") == key and len(key) == 32
    assert (tmp_path / "queries.sqlite.voter-key").stat().st_mode & 0o077 == 0
    hashed = voter_hash(key, "T1", "U0USER")
    assert hashed == voter_hash(key, "T1", "U0USER") != voter_hash(key, "T1", "U0OTHER")
    assert "U0USER" not in hashed and hashed != voter_hash(b"k" * 32, "T1", "U0USER")


def test_a_log_from_before_voters_keeps_its_votes(tmp_path, questions, unit_ids):
    path = tmp_path / "queries.sqlite"
    log = QueryLog(path, clock=Clock())
    query_id = log.record(logged(questions[0], unit_ids[:2]))
    assert log.vote(query_id, unit_ids[0], helpful=True)
    log.close()
    with sqlite3.connect(path) as connection:  # the votes table as it was before it had voters (and versions)
        connection.executescript(
            "DROP TABLE schema_version;"
            "CREATE TABLE old AS SELECT query_id, answer_id, helpful, time FROM votes; DROP TABLE votes;"
            "CREATE TABLE votes (query_id TEXT NOT NULL REFERENCES queries (id) ON DELETE CASCADE,"
            " answer_id TEXT NOT NULL, helpful INTEGER NOT NULL, time REAL NOT NULL,"
            " PRIMARY KEY (query_id, answer_id));"
            "INSERT INTO votes SELECT * FROM old; DROP TABLE old;"
        )
    log = QueryLog(path, clock=Clock())
    assert log.vote(query_id, unit_ids[0], helpful=False, voter="a" * 32)
    assert log.vote(query_id, unit_ids[0], helpful=True, voter="a" * 32)  # replaces that voter's vote
    assert sorted((v["voter"], v["helpful"]) for v in rows(path, "SELECT * FROM votes")) == [("", 1), ("a" * 32, 1)]
    assert [v["version"] for v in rows(path, "SELECT version FROM schema_version")] == [1, 2]


@pytest.mark.parametrize(
    ("env", "http", "problem"),
    [
        ({}, False, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2-secretvalue"}, False, "SLACK_APP_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxp-1-2-secretvalue", "SLACK_APP_TOKEN": "xapp-1"}, False,
         "SLACK_BOT_TOKEN is malformed: it must start with xoxb-"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-secretvalue"}, False,
         "SLACK_APP_TOKEN is malformed: it must start with xapp-"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, True, "SLACK_SIGNING_SECRET is not set"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "two secretvalue"}, True,
         "SLACK_SIGNING_SECRET is malformed"),
    ],
)  # fmt: skip
def test_missing_or_malformed_tokens_are_named_never_shown(env, http, problem):
    with pytest.raises(SettingError, match=problem) as error:
        credentials(env, http)
    assert "secretvalue" not in str(error.value)


def test_the_app_without_a_token_says_which_one_in_one_line_and_exits_non_zero(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "SLACK_BOT_TOKEN": "xoxp-leaked-secretvalue"}
    done = subprocess.run([sys.executable, "-m", "assistant.slack", "--index", str(tmp_path / "none")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: SLACK_BOT_TOKEN is malformed")
    assert "secretvalue" not in done.stderr
    missing = subprocess.run([sys.executable, "-m", "assistant.slack", "--http"], capture_output=True, text=True,
                             cwd=tmp_path, env={**env, "SLACK_BOT_TOKEN": "xoxb-1"}, timeout=120)  # fmt: skip
    assert (
        missing.returncode == 2
        and missing.stderr
        == "error: SLACK_SIGNING_SECRET is not set: "
        "set it to the Signing Secret from the app's Basic Information page\n"
    )
