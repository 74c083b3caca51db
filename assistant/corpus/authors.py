"""Decide whether a message in a book's archive was written by one of that book's authors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from assistant.corpus.text import fold

# Common English short forms; both sides are reduced to the first name in each group.
_NICKNAME_GROUPS = (
    ("michael", "mike", "mick", "mikey"),
    ("douglas", "doug"),
    ("joseph", "joe", "joey"),
    ("robert", "rob", "bob", "bobby"),
    ("william", "will", "bill", "billy"),
    ("richard", "rich", "rick", "dick"),
    ("james", "jim", "jimmy", "jamie"),
    ("thomas", "tom", "tommy"),
    ("christopher", "chris"),
    ("matthew", "matt"),
    ("daniel", "dan", "danny"),
    ("david", "dave"),
    ("andrew", "andy", "drew"),
    ("anthony", "tony"),
    ("benjamin", "ben"),
    ("jonathan", "jon"),
    ("nicholas", "nick"),
    ("alexander", "alex"),
    ("alexandra", "alex", "sasha"),
    ("samuel", "sam"),
    ("steven", "steve"),
    ("stephen", "steve"),
    ("edward", "ed", "eddie"),
    ("katherine", "kate", "kathy", "katie"),
    ("catherine", "cathy", "kate", "katie"),
    ("elizabeth", "liz", "beth"),
    ("jennifer", "jen", "jenny"),
    ("kenneth", "ken"),
    ("ronald", "ron"),
    ("timothy", "tim"),
    ("jessica", "jessi", "jess"),
    ("valliappa", "lak"),
)
_CANONICAL_FIRST = {}
for group in _NICKNAME_GROUPS:
    for nickname in group:
        _CANONICAL_FIRST.setdefault(nickname, set()).add(group[0])

_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_MIN_SINGLE_NAME = 3  # a lone "A" or "Al" is too short to stand for anyone


def name_tokens(name: str) -> tuple[str, ...]:
    """Folded name words without bracketed suffixes, dots or `@`: `Ankur A. Patel (Author)` -> (ankur, a, patel)."""
    name = _BRACKETED.sub(" ", fold(name))
    return tuple(token for token in re.split(r"[^\w'-]+|_", name) if token)


def _first_name_forms(token: str) -> set[str]:
    return {token} | _CANONICAL_FIRST.get(token, set())


def load_people(path: Path | None) -> dict[str, str]:
    """Read a people map (YAML: slug -> display name); raise ValueError naming the file if it is malformed."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read people map: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: people map must be a YAML mapping of slug: display name")
    return dict(data)


def display_names(
    authors: Iterable[str], people: Mapping[str, str], participants: Iterable[str] = ()
) -> tuple[str, ...]:
    """Resolve `authors:` entries (slugs or display names) to display names.

    A slug missing from the people map takes the name its owner writes under (`noahgift` -> `Noah Gift`).
    """
    written = _written_names(participants)
    return tuple(_display_name(author, people, written) or author for author in authors)


def unresolved_slugs(authors: Iterable[str], people: Mapping[str, str], participants: Iterable[str] = ()) -> list[str]:
    """`authors:` slugs that neither the people map nor a participant's name resolves: their answers go unseen."""
    written = _written_names(participants)
    return [author for author in authors if _display_name(author, people, written) is None]


def _written_names(participants: Iterable[str]) -> dict[str, str]:
    """Each participant's name by its compact form (`noahgift` -> `Noah Gift`), to resolve slugs they write under."""
    return {"".join(name_tokens(name)): name for name in participants}


def _display_name(author: str, people: Mapping[str, str], written: Mapping[str, str]) -> str | None:
    """The display name an `authors:` entry stands for; None for a slug nothing resolves."""
    if people.get(author):
        return people[author]
    if " " in author.strip():
        return author
    return written.get(author.casefold())


class AuthorMatcher:
    """Matches message names against one book's authors.

    Built per book because a first name alone ("Gant") counts only when no other participant
    of that week's archive shares it.
    """

    def __init__(self, authors: Iterable[str], participants: Iterable[str], slugs: Iterable[str] = ()):
        self.authors = tuple(authors)
        self._author_tokens = [name_tokens(author) for author in self.authors]
        self._compact = {}
        for author, tokens in zip(self.authors, self._author_tokens, strict=False):
            self._compact["".join(tokens)] = author
        for slug, author in zip(slugs, self.authors, strict=False):
            self._compact["".join(name_tokens(slug))] = author
        self._participant_tokens = {name_tokens(name) for name in participants}
        self._cache: dict[str, str | None] = {}

    def author_of(self, name: str) -> str | None:
        """Display name of the book's author who wrote as `name`, or None for everybody else."""
        if name not in self._cache:
            self._cache[name] = self._match(name_tokens(name))
        return self._cache[name]

    def _match(self, tokens: tuple[str, ...]) -> str | None:
        if not tokens:
            return None
        compact = "".join(tokens)
        if compact in self._compact:
            return self._compact[compact]
        candidates = [
            author
            for author, author_tokens in zip(self.authors, self._author_tokens, strict=False)
            if self._same_person(tokens, author_tokens)
        ]
        return candidates[0] if len(candidates) == 1 else None

    def _same_person(self, tokens: tuple[str, ...], author: tuple[str, ...]) -> bool:
        if not author:
            return False
        if len(tokens) == 1:
            return self._single_name_matches(tokens[0], author)
        if sorted(tokens) == sorted(author):
            return True  # reversed order: "Nielsen Aileen"
        first_matches = bool(_first_name_forms(tokens[0]) & _first_name_forms(author[0]))
        if first_matches and tokens[-1] == author[-1]:
            return True  # middle names dropped or added, nicknames: "Ankur Patel", "Mike Munn"
        reversed_first = bool(_first_name_forms(tokens[-1]) & _first_name_forms(author[0]))
        return reversed_first and tokens[0] == author[-1]

    def _single_name_matches(self, token: str, author: tuple[str, ...]) -> bool:
        """A first name alone, a handle (`swyx`, `bechbd`) — only if nobody else in the week could be meant."""
        if len(token) < _MIN_SINGLE_NAME:
            return False
        names_author = (
            bool(_first_name_forms(token) & _first_name_forms(author[0]))
            or token in author[1:]
            or _is_handle_of(token, author)
        )
        return names_author and not self._shared_with_other_participant(token, author)

    def _shared_with_other_participant(self, token: str, author: tuple[str, ...]) -> bool:
        forms = _first_name_forms(token)
        return any(
            participant != author
            and len(participant) > 1
            and (forms & _first_name_forms(participant[0]) or token in participant)
            and not self._same_person(participant, author)
            for participant in self._participant_tokens
        )


def _is_handle_of(handle: str, author: tuple[str, ...]) -> bool:
    """`bechbd` for Dave Bechberger: a 4+ letter prefix of one name followed by the author's initials."""
    initials = {token[0] for token in author}
    for token in author:
        for length in range(len(token), 3, -1):
            if handle.startswith(token[:length]):
                rest = handle[length:]
                return bool(rest) and all(letter in initials for letter in rest)
    return False
