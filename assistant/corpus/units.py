"""Turn a book's archive into answer units: one per author answer, with the question it answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from assistant.corpus.archive import Book, Message
from assistant.corpus.authors import AuthorMatcher, display_names, name_tokens
from assistant.corpus.text import content_words, fold, word_count

_MIN_ANSWER_WORDS = 2  # "+1", "Thanks!" and a lone emoji are not answers
_ADDRESS_WINDOW = 80  # an answer names its asker near its start: "Rohan -- ...", "Hello Tim Becker, ..."


@dataclass(frozen=True)
class AnswerUnit:
    """One author answer with everything shown about it: who, where, in reply to whom, and the text."""

    id: str
    book: str
    book_title: str
    date: str  # ISO date the book's week started; "" when the archive has none
    url: str
    thread: int  # 0-based position of the answer's top-level message in `archive:`
    author: str  # display name
    author_as_written: str
    question: str  # "" when the answer could not be linked to a question
    asker: str
    text: str


@dataclass(frozen=True)
class ThreadMessage:
    """One message of a thread as the archive holds it, and whether one of the book's authors wrote it."""

    name: str
    text: str
    is_author: bool


@dataclass(frozen=True)
class _Post:
    """A message in a thread: the top-level message is position 0, replies follow."""

    name: str
    text: str
    author: str | None


def _author_matcher(book: Book, people: Mapping[str, str]) -> AuthorMatcher:
    """Who of the week's participants is one of the book's authors."""
    participants = book.participants
    return AuthorMatcher(display_names(book.authors, people, participants), participants, slugs=book.authors)


def thread_key(book: str, thread: int) -> str:
    """A thread's key in the index: 'book id/position'."""
    return f"{book}/{thread}"


def answered_threads(book: Book, people: Mapping[str, str], units: list[AnswerUnit]) -> dict[str, list[ThreadMessage]]:
    """The threads the units answer in, by thread_key: the top-level message, then its replies, in archive order."""
    matcher = _author_matcher(book, people)
    return {
        thread_key(book.id, thread): [
            ThreadMessage(post.name, post.text, matcher.author_of(post.name) is not None)
            for post in (book.messages[thread], *book.messages[thread].replies)
        ]
        for thread in sorted({unit.thread for unit in units})
    }


def build_units(book: Book, people: Mapping[str, str]) -> list[AnswerUnit]:
    """All substantive author answers in one book, in archive order."""
    matcher = _author_matcher(book, people)
    units: list[AnswerUnit] = []
    linked_questions: dict[int, tuple[str, str]] = {}  # thread -> (question, asker) of an author's top-level answer
    for thread, message in enumerate(book.messages):
        posts = [_Post(message.name, message.text, matcher.author_of(message.name))]
        posts += [_Post(reply.name, reply.text, matcher.author_of(reply.name)) for reply in message.replies]
        answers_per_author: dict[str, int] = {}
        for start, group in _consecutive_by_author(posts):
            author = group[0].author
            if author is None:
                continue
            if start == 0:
                question, asker = _question_for_top_level(book.messages, thread, author, matcher, linked_questions)
                if question:
                    linked_questions[thread] = (question, asker)
            else:
                question, asker = _question_in_thread(posts, start)
                if start == 1 and posts[0].author is None:
                    question = _with_unanswered_follow_ups(book.messages, thread, group, matcher)
            text = "\n\n".join(post.text for post in group if post.text)
            if word_count(text) < _MIN_ANSWER_WORDS:
                continue
            ordinal = answers_per_author.get(author, 0)
            answers_per_author[author] = ordinal + 1
            units.append(
                AnswerUnit(
                    id=f"{book.id}/{thread}/{'-'.join(name_tokens(author))}/{ordinal}",
                    book=book.id,
                    book_title=book.title,
                    date=book.start.isoformat() if book.start else "",
                    url=book.url,
                    thread=thread,
                    author=author,
                    author_as_written=group[0].name,
                    question=question,
                    asker=asker,
                    text=text,
                )
            )
    return units


def _consecutive_by_author(posts: list[_Post]) -> list[tuple[int, list[_Post]]]:
    """Split a thread into runs of posts by the same person, with each run's start position."""
    runs: list[tuple[int, list[_Post]]] = []
    for position, post in enumerate(posts):
        if runs and runs[-1][1][-1].name == post.name:
            runs[-1][1].append(post)
        else:
            runs.append((position, [post]))
    return runs


def _question_in_thread(posts: list[_Post], start: int) -> tuple[str, str]:
    """A reply answers the thread's question: its top-level message, or the latest question by a non-author."""
    if posts[0].author is None:
        return posts[0].text, posts[0].name
    for post in reversed(posts[:start]):
        if post.author is None:
            return post.text, post.name
    return "", ""


def _with_unanswered_follow_ups(
    messages: tuple[Message, ...], thread: int, answer: list[_Post], matcher: AuthorMatcher
) -> str:
    """The thread's question plus the asker's next top-level questions that this reply answers too.

    Askers often post several questions in a row; an author may answer them all under the first.
    """
    asker = messages[thread].name
    answer_words = content_words(" ".join(post.text for post in answer))
    questions = [messages[thread].text]
    for message in messages[thread + 1 :]:
        answered_elsewhere = any(matcher.author_of(reply.name) for reply in message.replies)
        if message.name != asker or answered_elsewhere or not answer_words & content_words(message.text):
            break
        questions.append(message.text)
    return "\n\n".join(questions)


def _question_for_top_level(
    messages: tuple[Message, ...],
    thread: int,
    author: str,
    matcher: AuthorMatcher,
    linked_questions: dict[int, tuple[str, str]],
) -> tuple[str, str]:
    """An author's top-level message answers the earlier questions of the person it names at its start.

    A top-level message that names nobody but directly follows the same author's linked answer
    continues that answer.
    """
    answer = messages[thread].text
    earlier = [(i, m) for i, m in enumerate(messages[:thread]) if matcher.author_of(m.name) is None]
    asker = _addressed_asker(answer, {m.name for _, m in earlier})
    if asker is None:
        previous = thread - 1
        if previous in linked_questions and matcher.author_of(messages[previous].name) == author:
            return linked_questions[previous]
        return "", ""
    answer_words = content_words(answer)
    asked = [i for i, m in earlier if m.name == asker]
    best = max(asked, key=lambda i: (len(answer_words & content_words(messages[i].text)), i))
    first, last = best, best
    while first - 1 >= 0 and messages[first - 1].name == asker:
        first -= 1
    while last + 1 < thread and messages[last + 1].name == asker:
        last += 1
    # Askers often post several questions in a row and get one answer to all of them.
    return "\n\n".join(m.text for m in messages[first : last + 1]), asker


def _addressed_asker(answer: str, askers: set[str]) -> str | None:
    """The asker an answer names near its start; full names first, then an unambiguous first name."""
    opening = fold(answer[:_ADDRESS_WINDOW])
    full = [name for name in askers if len(name_tokens(name)) > 1 and _contains_name(opening, name_tokens(name))]
    if full:
        return min(full, key=lambda name: opening.find(name_tokens(name)[0]))
    first_words = name_tokens(opening)[:3]
    by_first = [
        name
        for name in askers
        if name_tokens(name) and len(name_tokens(name)[0]) >= 3 and name_tokens(name)[0] in first_words
    ]
    return by_first[0] if len(by_first) == 1 else None


def _contains_name(opening: str, tokens: tuple[str, ...]) -> bool:
    return re.search(r"\b" + r"\W+".join(map(re.escape, tokens)) + r"\b", opening) is not None
