"""Answers as Slack Block Kit messages: pure functions from answers to the JSON Slack posts.

Archive text and questions are untrusted: every piece is escaped (&, <, >), so `<!channel>`,
`<@U…>` or `<https://evil|trusted>` shows as typed and never pings anyone or hides a link. The only
links are built here, each showing its own address (or pointing at this app's own pages), and every
mrkdwn text is `verbatim`, so Slack does not turn words into mentions or channel links either.
"""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.indexing.recipe import relevance
from assistant.searching.query import cut_at_sentence
from assistant.searching.searcher import MAX_QUESTION_CHARS, Answer
from assistant.service.contract import answer_link, shorten, week_of
from assistant.slack.ask import Asked, Vote

PAGE = 3  # answers per message
MAX_TEXT_CHARS = 3000  # Slack's limit on a section's or a context element's text
HEADING_CHARS = 300
ASKED_CHARS = 100  # the question an answer answers, on one line
PASSAGE_CHARS = 220  # the matched passage as a card shows it, cut at a sentence: three cards read at a glance
ACCESSIBLE_CHARS = 75  # Slack's limit on a button's accessibility label  # the question as repeated above its answers
_LINKED = re.compile(
    r"\[(?P<label>(?:[^\[\]\n]|\[[^\[\]\n]*\]){1,500})\]\((?P<url>https?://[^\s<>|()\"'`]+)\)"
    r"|(?P<bare>https?://[^\s<>|\"'`\]]+)"  # never across a "](": a Markdown link cut short is two pieces
)  # a Markdown link [label](url), or a bare address
_URL_TRAILER = ".,;:!?)]}*_~"  # punctuation that ends a sentence rather than the address
_MARKS = {"answers": ":large_green_circle:", "related": ":large_yellow_circle:", "unlikely": ":white_circle:"}


def escape(text: str) -> str:
    """Text as Slack mrkdwn shows it literally: the three characters Slack's markup uses escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(escaped: str, room: int) -> str:
    """Escaped text cut to `room` characters, never inside an &entity;."""
    cut = escaped[: max(room, 0)]
    amp = cut.rfind("&")
    return cut[:amp] if amp != -1 and ";" not in cut[amp:] else cut


def _url_link(url: str) -> str:
    """A link showing its own address, so its text cannot claim another."""
    return f"<{escape(url)}>"


def _pieces(text: str) -> list[tuple[str, bool]]:
    """Untrusted text as (mrkdwn, is a link) pieces: escaped text, and each web address as a link to itself.

    A Markdown link `[label](url)` (the archives hold hundreds, most `[url](url)`) is one link: its label as text
    beside it when the label says something other than the address, never a link whose address runs across `](`.
    """
    pieces, end = [], 0
    for match in _LINKED.finditer(text):
        label, url = match.group("label"), match.group("url") or match.group("bare").rstrip(_URL_TRAILER)
        before = text[end : match.start()]
        if label is not None and label.strip().rstrip("/") != url.rstrip("/"):
            pieces += [(escape(before + label.strip() + " ("), False), (_url_link(url), True), (")", False)]
        else:
            pieces += [(escape(before), False), (_url_link(url), True)]
        end = match.end() if label is not None else match.start() + len(url)
    return [*pieces, (escape(text[end:]), False)]


def untrusted(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Untrusted text as mrkdwn of at most `limit` characters: escaped, web addresses linked, cut with … if longer."""
    out = ""
    pieces = _pieces(text)
    for n, (piece, link) in enumerate(pieces):
        if len(out) + len(piece) > limit or (n < len(pieces) - 1 and len(out) + len(piece) == limit):
            room = limit - len(out) - 1  # room for the ellipsis
            return out + ("" if link else _cut(piece, room)) + "…"  # a link is kept whole or left out
        out += piece
    return out


def mrkdwn(text: str) -> dict:
    """A mrkdwn text object Slack shows as given: no automatic mentions, channel links or address parsing."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str) -> dict:
    """A plain-text object (button labels): Slack shows it as text, never as markup."""
    return {"type": "plain_text", "text": text, "emoji": True}


def _button(text: str, action_id: str, value: str, style: str | None = None, *, says: str = "") -> dict:
    """A button; `value` comes back to the app when it is clicked; `says` is what a screen reader reads for it."""
    button = {"type": "button", "text": _plain(text), "action_id": action_id, "value": value,
              "accessibility_label": shorten(says or text, ACCESSIBLE_CHARS - 1)}  # fmt: skip
    return button | ({"style": style} if style else {})


def _link(url: str, label: str) -> str:
    """A link we build: only to http(s) addresses, its label ours, the address escaped; '' for anything else."""
    if not url.startswith(("https://", "http://")) or any(c in url for c in "|<> \n"):
        return ""
    return f"<{url.replace('&', '&amp;')}|{label}>"


def whole_answer_url(answer: Answer, web_url: str | None) -> str:
    """The web app's page of this answer when its address is known, else the book's page."""
    return web_url.rstrip("/") + "/" + answer_link(answer.id) if web_url else answer.url


def _asked(answer: Answer) -> str:
    """'asked by X: the question', shortened to one line."""
    if not answer.question.strip():
        return "_said in the discussion, not in reply to one question_"
    asker = f"asked by {untrusted(answer.asker, 200)}:" if answer.asker else "asked:"
    return f"{asker} {untrusted(shorten(answer.question, ASKED_CHARS))}"


def _label(answer: Answer) -> str:
    """The confidence as the web page labels it, with the chance in words."""
    shown = relevance(answer.confidence)
    return f"{_MARKS[shown.slug]} *{shown.label}* ({round(100 * answer.confidence)}% likely)"


def answer_blocks(answer: Answer, rank: int, web_url: str | None, page: Asked | None) -> list[dict]:
    """One answer as blocks: who answered in which week, to whom and what, the passage that matched, its label,
    a link to the whole answer and, when the search was logged (`page` holds its id), Helpful / Not helpful buttons,
    the clicker's vote on it marked."""
    week = week_of(answer.date)
    where = f"_{untrusted(answer.book_title, 500)}_" + (f" · {week}" if week else "")
    link = _link(whole_answer_url(answer, web_url), "Read the whole answer")
    passage = answer.passage_text if answer.passage >= 0 and answer.passage_text else answer.text
    short = cut_at_sentence(" ".join(passage.split()), PASSAGE_CHARS)
    blocks = [
        {"type": "section", "text": mrkdwn(f"*{untrusted(answer.author, 200)}* in {where}")},
        {"type": "context", "elements": [mrkdwn(_asked(answer))]},
        {"type": "section", "text": mrkdwn(untrusted(short))},
        {"type": "context", "elements": [mrkdwn(_label(answer) + (f" · {link}" if link else ""))]},
    ]
    if page is not None and page.query_id is not None:
        said = dict(page.voted).get(answer.id)
        if said is not None:
            mark = "✓ You said this helped" if said else "✓ You said this did not help"
            blocks.append({"type": "context", "elements": [mrkdwn(f"{mark}; vote again to change it.")]})
        yes, no = (Vote(page.query_id, answer.id, helpful, page).encode() for helpful in (True, False))
        blocks.append({"type": "actions", "block_id": f"vote-{rank}", "elements": [
            _button("✓ Helpful" if said is True else "Helpful", f"vote-{rank}-yes", yes,
                    "primary" if said is not False else None, says=f"Answer {rank + 1} by {answer.author} is helpful"),
            _button("✓ Not helpful" if said is False else "Not helpful", f"vote-{rank}-no", no,
                    "danger" if said is False else None, says=f"Answer {rank + 1} by {answer.author} is not helpful"),
        ]})  # fmt: skip
    return blocks


def _heading(asked: Asked, sharer: str | None, weak: bool) -> str:
    """What was asked, with its filters, whether the answers are weak, which ones these are and who shared them."""
    request = asked.request
    question = untrusted(shorten(request.question, HEADING_CHARS))
    filters = [f"author: {untrusted(request.author, 200)}" if request.author else "",
               f"book: {untrusted(request.book, 200)}" if request.book else "",
               f"since {request.since}" if request.since else "",
               f"until {request.until}" if request.until else ""]  # fmt: skip
    within = " (" + ", ".join(f for f in filters if f) + ")" if any(filters) else ""
    what = "the closest answers" if weak else "the authors' answers"
    what = f"more of {what}" if asked.seen else what
    where = f" (from answer {asked.seen + 1})" if asked.seen else ""
    who = f"<@{sharer}> shared {what}" if sharer else what[:1].upper() + what[1:]
    return f"{who} to *{question}*{within}{where}" + (": none of them answers it closely" if weak else "")


def results_message(
    asked: Asked,
    answers: list[Answer],
    *,
    more: bool,
    web_url: str | None = None,
    share: bool = False,
    sharer: str | None = None,
    weak: bool = False,
) -> dict:
    """A message of up to PAGE answers, numbered from asked.seen + 1, with More answers / Share in channel buttons.

    `more`: the search may have further answers; `share`: the message is visible to the asker only;
    `sharer`: the Slack user id (already checked to be one) who shared it into the channel; `weak`: none of the
    search's answers is a close match (Searcher.none_close), so the heading says so.
    """
    weak = weak or asked.request.closest
    blocks: list[dict] = [{"type": "section", "text": mrkdwn(_heading(asked, sharer, weak))}]
    if asked.request.closest and asked.seen == 0:
        blocks.append({"type": "context", "elements": [mrkdwn(
            "Nothing in the archives answers this closely; these are the closest answers anyway.")]})  # fmt: skip
    blocks += _cut_notice(asked)
    for rank, answer in enumerate(answers[:PAGE], start=asked.seen):
        blocks += [{"type": "divider"}, *answer_blocks(answer, rank, web_url, asked)]
    buttons = []
    if more:
        later = Asked(asked.request, asked.query_id, asked.seen + len(answers[:PAGE]))
        buttons.append(_button("More answers", "more", later.encode(), says="Show the next answers to this question"))
    if share:
        unmarked = replace(asked, voted=())  # the channel never sees the sharer's votes
        buttons.append(
            _button("Share in channel", "share", unmarked.encode(), says="Share these answers in the channel")
        )
    if buttons:
        blocks += [{"type": "divider"}, {"type": "actions", "block_id": "next", "elements": buttons}]
    return {"text": escape(f"Answers to: {shorten(asked.request.question, HEADING_CHARS)}"), "blocks": blocks}


def _cut_notice(asked: Asked) -> list[dict]:
    """A line telling the asker their question was cut to what the search reads, when it was."""
    if not asked.request.cut:
        return []
    limit = f"{MAX_QUESTION_CHARS:,}"
    said = f"Your question is longer than {limit} characters: only its first {limit} were searched."
    return [{"type": "context", "elements": [mrkdwn(said)]}]


def no_answer_message(asked: Asked) -> dict:
    """Nothing close: say so, and offer the closest answers anyway."""
    question = untrusted(shorten(asked.request.question, HEADING_CHARS))
    text = f"Nothing in the Book of the Week archives answers *{question}* closely."
    closest = Asked(replace(asked.request, closest=True), asked.query_id, 0)
    return {
        "text": escape(f"Nothing in the archives answers: {shorten(asked.request.question, HEADING_CHARS)}"),
        "blocks": [
            {"type": "section", "text": mrkdwn(text)},
            *_cut_notice(asked),
            {"type": "actions", "block_id": "next",
             "elements": [_button("Show the closest anyway", "more", closest.encode())]},
        ],
    }  # fmt: skip


def notice_message(text: str) -> dict:
    """A short message of ours (usage, rate limit, thanks) whose untrusted parts the caller escaped."""
    return {"text": text, "blocks": [{"type": "section", "text": mrkdwn(text)}]}
