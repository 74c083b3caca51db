"""What a person sees: Playwright drives Debian's chromium against the app built in-process.

The browser may only reach 127.0.0.1: every other request is aborted and recorded, so the page is
shown to work with no internet.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from playwright.sync_api import Page, expect

from assistant.indexing.store import build_index, load_built_index
from assistant.monitor import answer_source
from assistant.searching.searcher import Searcher
from assistant.service.querylog import QueryLog
from assistant.web.page import LOGGED_LINE
from assistant.web.serve import start
from helpers import SEED_ID, screenshot_path
from load import HOST
from loghelpers import rows, serving_dashboard

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
XSS_ARCHIVES = Path(__file__).parent / "fixtures" / "xss"
WAIT_MS = 60_000
QUESTION = "Should startups do MLOps?"


@contextmanager
def serving(searcher: Searcher, log: QueryLog | None = None) -> Iterator[str]:
    """The app built in-process over `searcher`, on a free loopback port for the duration of the block."""
    server = start(searcher, HOST, log=log)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def seed_app(seed_searcher: Searcher, tmp_path_factory):
    """The app over the seed as `python app.py` runs it: logging queries (here to a temp file)."""
    log = QueryLog(tmp_path_factory.mktemp("state") / "queries.sqlite")
    with serving(seed_searcher, log) as url:
        yield url
    log.close()


@pytest.fixture
def logged_app(seed_searcher: Searcher, tmp_path):
    """(URL, log path) of the app over the seed, logging to a log of its own."""
    log = QueryLog(tmp_path / "queries.sqlite")
    with serving(seed_searcher, log) as url:
        yield url, log.path
    log.close()


@pytest.fixture(scope="module")
def xss_app(tmp_path_factory, embedder):
    """The app over an index of the hostile fixture archive."""
    index = tmp_path_factory.mktemp("xss") / "index"
    build_index([XSS_ARCHIVES], index, embedder=embedder)
    with serving(Searcher(load_built_index(index), embedder)) as url:
        yield url


def ask(page: Page, question: str) -> None:
    """Type the question and press Enter, as a person would."""
    box = page.get_by_placeholder("Ask the authors something")
    box.fill(question)
    box.press("Enter")


def cards(page: Page):
    locator = page.locator("#results .ata-card")
    locator.first.wait_for(timeout=WAIT_MS)
    return locator


def card_authors(page: Page) -> set[str]:
    return set(cards(page).locator(".ata-author").all_inner_texts())


@pytest.mark.browser
def test_question_shows_cards_by_both_authors(seed_app, open_page):
    page, blocked = open_page(seed_app)
    expect(page.get_by_text("Searching 26 answers by 2 authors from 1 book")).to_be_visible()
    ask(page, QUESTION)
    assert card_authors(page) == {"Noah Gift", "Alfredo Deza"}
    for card in cards(page).all():
        expect(card.locator(".ata-meta")).to_contain_text("Practical MLOps")
        expect(card.locator(".ata-relevance")).to_be_visible()
        expect(card.locator("a.ata-source")).to_have_attribute(
            "href", "https://datatalks.club/books/20210830-practical-mlops.html"
        )
    assert blocked == []


@pytest.mark.browser
def test_phone_width_shows_full_width_cards_without_horizontal_scroll(seed_app, open_page):
    page, _ = open_page(seed_app, PHONE)
    ask(page, QUESTION)
    assert cards(page).count() == 5
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for card in cards(page).all():
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["width"] >= PHONE["width"] - 40


@pytest.mark.browser
def test_the_long_question_opens_in_full(seed_app, open_page):
    page, _ = open_page(seed_app)
    ask(page, QUESTION)
    question = cards(page).locator("details.ata-asked").first
    full = question.locator(".ata-full-question")
    expect(full).to_be_hidden()
    question.locator("summary").click()
    expect(full).to_be_visible()


@pytest.mark.browser
def test_example_question_runs_a_search(seed_app, open_page):
    page, _ = open_page(seed_app)
    page.get_by_text("Which MLOps tools should I start with?").click()
    expect(page.get_by_placeholder("Ask the authors something")).to_have_value("Which MLOps tools should I start with?")
    assert card_authors(page) <= {"Noah Gift", "Alfredo Deza"}


@pytest.mark.browser
def test_author_filter_and_result_count(seed_app, open_page):
    page, _ = open_page(seed_app)
    ask(page, QUESTION)
    cards(page)
    page.get_by_label("Author").click()
    page.get_by_role("option", name="Alfredo Deza").click()
    expect(page.locator("#results .ata-author").first).to_have_text("Alfredo Deza")
    assert card_authors(page) == {"Alfredo Deza"}


@pytest.mark.browser
def test_empty_question_gets_a_gentle_message(seed_app, open_page):
    page, _ = open_page(seed_app)
    page.locator("#ask").click()
    expect(page.locator("#results .ata-notice")).to_contain_text("Type a question above")
    expect(page.locator(".toast-body")).to_have_count(0)


@pytest.mark.browser
def test_very_long_question_is_cut_with_a_note(seed_app, open_page):
    page, _ = open_page(seed_app)
    ask(page, "Should startups do MLOps? " * 60)
    expect(page.locator("#results .ata-notice").first).to_contain_text("only its first 1,000 characters")
    cards(page)


@pytest.mark.browser
def test_no_answer_says_so_and_offers_the_closest(seed_app, open_page):
    page, _ = open_page(seed_app)
    ask(page, "How do I cook onions?")
    expect(page.locator("#results .ata-notice")).to_contain_text("No author answered anything close")
    expect(page.locator("#results .ata-card")).to_have_count(0)
    page.get_by_role("button", name="Show closest answers anyway").click()
    assert cards(page).count() == 5
    expect(page.locator("#results .ata-notice")).to_contain_text("None of these is a close match")


@pytest.mark.browser
def test_the_whole_thread_opens_in_place_from_the_keyboard(seed_app, open_page):
    page, _ = open_page(seed_app)
    ask(page, QUESTION)
    card = cards(page).first
    expect(card.locator(".ata-answer mark").first).to_be_visible()  # the question's words in the answer
    thread = card.locator("details.ata-thread")
    messages = thread.locator(".ata-messages")
    expect(messages).to_be_hidden()
    summary = thread.locator("summary")
    expect(summary).to_contain_text("Show the whole thread")
    summary.focus()
    page.keyboard.press("Enter")
    expect(messages).to_be_visible()
    expect(messages.locator(".ata-by-author").first).to_contain_text("author")
    page.keyboard.press("Enter")
    expect(messages).to_be_hidden()


@pytest.mark.browser
def test_hostile_archive_text_never_runs(xss_app, open_page):
    page, _ = open_page(xss_app)
    dialogs = []
    page.on("dialog", lambda dialog, dialogs=dialogs: (dialogs.append(dialog.message), dialog.dismiss()))
    ask(page, "How do you test web page security?")
    assert cards(page).count() == 3
    results = page.locator("#results")
    expect(results).to_contain_text("<script>window.__xss=1</script>")
    expect(results).to_contain_text('<img src=x onerror="window.__xss=2">')
    expect(results).to_contain_text("Safe <i>Rendering</i> for the Web")
    expect(results).to_contain_text('<img src=x onerror="window.__xss=4">')
    assert results.locator("script, img, iframe, [onerror]").count() == 0
    assert results.locator('a[href^="javascript"]').count() == 0
    assert results.locator(".ata-answer mark").count() > 0  # the words asked, marked in the hostile replies
    for summary in results.locator("details.ata-thread summary").all():
        summary.click()  # the whole threads hold the hostile questions too
    assert results.locator("script, img, iframe, [onerror]").count() == 0
    results.get_by_text("[click](javascript:window.__xss=3)").first.click()
    settled(page)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []


@pytest.mark.browser
def test_a_not_helpful_vote_is_counted_on_the_dashboard(logged_app, open_page):
    url, log = logged_app
    page, blocked = open_page(url)
    expect(page.get_by_text(LOGGED_LINE)).to_be_visible()
    ask(page, QUESTION)
    first = cards(page).first
    not_helpful = first.get_by_role("button", name="Not helpful", exact=True)
    answer_id = not_helpful.get_attribute("data-answer-id")
    not_helpful.click()
    expect(first.locator(".ata-vote-status")).to_have_text("Thanks, noted.")
    expect(not_helpful).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="None of these answer my question").click()
    expect(page.locator(".ata-none .ata-vote-status")).to_have_text("Thanks, noted.")
    with serving_dashboard(log) as board_url:
        board, board_blocked = open_page(board_url)
        expect(board.locator("#summary")).to_contain_text("1 query since")
        expect(board.locator("#summary")).to_contain_text("(0 helpful, 1 not helpful), 1 'none of these answer'")
        expect(board.locator("#most-asked tbody tr").first.locator("td")).to_have_text([QUESTION, "1", "0"])
        author, book = answer_source(answer_id)
        expect(board.locator("#not-helpful tbody tr").first.locator("td")).to_have_text(
            [author, book, QUESTION, "1", "0", "open the answer"]
        )
        expect(board.locator("#unanswered")).to_contain_text(QUESTION)
    assert blocked == [] and board_blocked == []


# Share and explore: search links, Back, answer links, nearby questions, hostile addresses.
HOSTILE_ADDRESS = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"


def question_box(page: Page):
    return page.get_by_placeholder("Ask the authors something")


def search_url(app: str, question: str) -> str:
    return f"{app}?q={quote_plus(question)}"


# A filter opens its options when focused and closes them when left; the next key waits for that.
FILTERS_SETTLED = """() => [...document.querySelectorAll('input[role=combobox]')]
  .every((box) => box === document.activeElement || box.getAttribute('aria-expanded') !== 'true')"""


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches `selector`, as a keyboard user would, each once the page settled."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        page.wait_for_function(FILTERS_SETTLED, timeout=WAIT_MS)
        if page.evaluate("document.activeElement === document.body"):
            pytest.fail(f"Tab landed on <body> on the way to {selector}")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"Tab never reached {selector}")


def settled(page: Page) -> None:
    """Wait until the page has drawn two more frames: whatever a click set off has run."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


@pytest.mark.browser
def test_a_search_link_runs_without_typing(seed_app, open_page):
    page, blocked = open_page(f"{seed_app}?q=should+startups+do+MLOps")
    assert card_authors(page) == {"Noah Gift", "Alfredo Deza"}
    expect(question_box(page)).to_have_value("should startups do MLOps")
    assert blocked == []


@pytest.mark.browser
def test_a_link_with_filters_sets_them_and_drops_bad_values(seed_app, open_page):
    page, _ = open_page(f"{seed_app}?q=should+startups+do+MLOps&author=alfredo+deza&k=2&book=%3Cb%3Enope")
    expect(page.locator("#results .ata-author")).to_have_count(2, timeout=WAIT_MS)
    assert card_authors(page) == {"Alfredo Deza"}
    expect(page.get_by_label("Author")).to_have_value("Alfredo Deza")
    expect(page.locator("#results .ata-notice").first).to_have_text(
        "This link's book could not be used and was ignored."
    )
    expect(page).to_have_url(f"{seed_app}?q=should+startups+do+MLOps&author=Alfredo+Deza&k=2")


@pytest.mark.browser
def test_back_after_two_searches_shows_the_first(seed_app, open_page):
    page, _ = open_page(seed_app)
    ask(page, QUESTION)
    expect(page).to_have_url(search_url(seed_app, QUESTION), timeout=WAIT_MS)
    first = cards(page).first.locator("a.ata-permalink").get_attribute("href")
    ask(page, "How do I cook onions?")
    expect(page.locator("#results .ata-notice")).to_contain_text("No author answered", timeout=WAIT_MS)
    expect(page).to_have_url(search_url(seed_app, "How do I cook onions?"))
    page.go_back()
    expect(page).to_have_url(search_url(seed_app, QUESTION))
    expect(question_box(page)).to_have_value(QUESTION, timeout=WAIT_MS)
    expect(cards(page).first.locator("a.ata-permalink")).to_have_attribute("href", first)
    page.go_forward()
    expect(question_box(page)).to_have_value("How do I cook onions?", timeout=WAIT_MS)


@pytest.mark.browser
def test_a_permalink_opens_its_answer_alone(seed_app, open_page):
    page, _ = open_page(search_url(seed_app, QUESTION))
    card = cards(page).first
    author = card.locator(".ata-author").inner_text()
    href = card.locator("a.ata-permalink").get_attribute("href")
    assert re.fullmatch(rf"\?answer={SEED_ID}/\d+/[a-z-]+/\d+", href)
    card.locator("a.ata-permalink").click()
    expect(page.locator("#results .ata-card.ata-single")).to_have_count(1, timeout=WAIT_MS)
    permalink = f"{seed_app}{href}"
    expect(page).to_have_url(permalink)
    page, _ = open_page(permalink)
    single = page.locator("#results .ata-card.ata-single")
    expect(single.locator(".ata-author")).to_have_text(author, timeout=WAIT_MS)
    expect(single.locator(".ata-full-question")).to_be_visible()
    expect(single.locator("a.ata-source")).to_have_attribute("href", f"https://datatalks.club/books/{SEED_ID}.html")
    expect(page.locator("#results .ata-relevance")).to_have_count(0)


@pytest.mark.browser
def test_a_gone_answer_says_so_and_offers_a_search(seed_app, open_page):
    page, _ = open_page(f"{seed_app}?answer={SEED_ID}/999/noah-gift/0")
    expect(page.locator("#results .ata-notice")).to_contain_text("There is no answer", timeout=WAIT_MS)
    page.get_by_role("link", name="Search for “practical mlops” by Noah Gift").click()
    expect(question_box(page)).to_have_value("practical mlops", timeout=WAIT_MS)
    assert card_authors(page) == {"Noah Gift"}


@pytest.mark.browser
def test_a_nearby_question_link_runs_its_search_from_the_keyboard(seed_app, open_page):
    page, _ = open_page(search_url(seed_app, QUESTION))
    cards(page)
    nearby = page.locator("#results .ata-nearby a")
    expect(nearby).to_have_count(5)
    href = nearby.first.get_attribute("href")
    question_box(page).focus()
    tab_to(page, ".ata-nearby a")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{seed_app}{href}", timeout=WAIT_MS)
    expect(question_box(page)).not_to_have_value(QUESTION, timeout=WAIT_MS)
    cards(page)
    page.go_back()
    expect(question_box(page)).to_have_value(QUESTION, timeout=WAIT_MS)


@pytest.mark.browser
def test_keyboard_reaches_a_cards_links_and_copy_link(seed_app, browser):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.goto(search_url(seed_app, QUESTION))
        cards(page)
        question_box(page).focus()
        tab_to(page, ".ata-copy")
        expect(page.locator(".ata-copy")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator(".ata-copied")).to_have_text("Link copied")
        assert page.evaluate("navigator.clipboard.readText()") == search_url(seed_app, QUESTION)
        tab_to(page, ".ata-card a.ata-source")
        tab_to(page, ".ata-card a.ata-permalink")
        expect(page.locator(".ata-card a.ata-permalink").first).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#results .ata-card.ata-single")).to_have_count(1, timeout=WAIT_MS)
    finally:
        context.close()


@pytest.mark.browser
def test_hostile_addresses_show_as_text_and_nothing_runs(seed_app, open_page):
    for query, where, text in (
        (f"q={quote_plus(HOSTILE_ADDRESS)}", "question", HOSTILE_ADDRESS),
        (f"q=mlops&author={quote_plus(HOSTILE_ADDRESS)}", "results", "This link's author could not be used"),
        (f"answer={quote_plus(HOSTILE_ADDRESS)}", "results", HOSTILE_ADDRESS),
    ):
        page, _ = open_page(f"{seed_app}?{query}")
        dialogs = []
        page.on("dialog", lambda dialog, dialogs=dialogs: (dialogs.append(dialog.message), dialog.dismiss()))
        expect(page.locator("#results .ata-results")).to_be_visible(timeout=WAIT_MS)
        if where == "question":
            expect(question_box(page)).to_have_value(text)
        else:
            expect(page.locator("#results")).to_contain_text(text)
        settled(page)
        assert page.locator("#results").locator("script, img, iframe, [onerror]").count() == 0
        assert page.evaluate("typeof window.__xss") == "undefined" and dialogs == []


@pytest.mark.browser
def test_phone_width_with_nearby_questions_has_no_horizontal_scroll(seed_app, open_page):
    page, _ = open_page(search_url(seed_app, QUESTION), PHONE)
    cards(page)
    expect(page.locator("#results .ata-nearby li")).to_have_count(5)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator("#results a.ata-permalink").first.click()
    expect(page.locator("#results .ata-card.ata-single")).to_have_count(1, timeout=WAIT_MS)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


# The README's images, from the full archive (`make screenshots`): what they show is checked before they are taken.
LABEL_ORDER = """() => [...document.querySelectorAll('#results .ata-card .ata-relevance')]
  .map((label) => Number(label.querySelector('.ata-percent').textContent.replace('%', '')))"""


@pytest.fixture(scope="module")
def full_app(full_searcher: Searcher, tmp_path_factory):
    """The app over every archive in data/, as `make run` serves it."""
    log = QueryLog(tmp_path_factory.mktemp("full-state") / "queries.sqlite")
    with serving(full_searcher, log) as url:
        yield url
    log.close()


@pytest.mark.browser
@pytest.mark.slow
def test_screenshots_of_the_full_archive_show_what_the_readme_says(full_app, open_page, tmp_path):
    page, _ = open_page(full_app)
    expect(page.get_by_text("from 91 books")).to_be_visible(timeout=WAIT_MS)
    ask(page, QUESTION)
    cards(page)
    percents = page.evaluate(LABEL_ORDER)
    assert percents and percents == sorted(percents, reverse=True)  # a stronger label never below a weaker one
    page.screenshot(path=str(screenshot_path(tmp_path, "screenshot.png")))
    page, _ = open_page(f"{search_url(full_app, QUESTION)}&k=2", {"width": 1100, "height": 800})
    expect(page.locator("#results .ata-nearby li").first).to_be_visible(timeout=WAIT_MS)
    percents = page.evaluate(LABEL_ORDER)
    assert percents == sorted(percents, reverse=True)
    page.screenshot(path=str(screenshot_path(tmp_path, "related.png")), full_page=True)


# A newcomer's first hour (issue 18): the phone, the box, the keyboard, votes, links.
ANSWER_IN_VIEW = """() => {
  const answer = document.querySelector('#results .ata-card .ata-answer');
  if (!answer) return false;
  const box = answer.getBoundingClientRect();
  return box.top >= 0 && box.top + 40 <= innerHeight;
}"""


@pytest.mark.browser
def test_after_ask_on_a_phone_the_first_answer_is_in_view(seed_app, open_page):
    page, _ = open_page(seed_app, PHONE)
    ask(page, QUESTION)
    cards(page)
    page.wait_for_function(ANSWER_IN_VIEW, timeout=WAIT_MS)


@pytest.mark.browser
def test_the_placeholder_fits_the_box_on_a_phone(seed_app, open_page):
    page, _ = open_page(seed_app, PHONE)
    box = question_box(page)
    room = box.evaluate(
        """(input) => {
          const style = getComputedStyle(input);
          const context = document.createElement('canvas').getContext('2d');
          context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
          const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
          return input.clientWidth - padding - context.measureText(input.placeholder).width;
        }"""
    )
    assert room >= 0, f"the placeholder is {-room:.0f} px wider than the box"


@pytest.mark.browser
def test_a_long_question_keeps_the_box_and_the_ask_button_their_size(seed_app, open_page):
    page, _ = open_page(seed_app)
    box, button = question_box(page), page.locator("#ask")
    before = (box.bounding_box()["height"], button.bounding_box()["height"])
    box.fill("Should startups do MLOps, and if so, which tools should they pick first? " * 12)
    after = (box.bounding_box()["height"], button.bounding_box()["height"])
    assert after == pytest.approx(before, abs=1)


@pytest.mark.browser
def test_choosing_a_filter_with_enter_keeps_the_focus_and_tab_goes_on(seed_app, open_page):
    page, _ = open_page(seed_app)
    author = page.get_by_role("combobox", name="Author")
    author.focus()
    expect(author).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(author).to_have_value("Alfredo Deza")
    page.wait_for_function("document.activeElement !== document.body", timeout=WAIT_MS)
    page.keyboard.press("Tab")
    expect(page.get_by_role("combobox", name="Book")).to_be_focused()


@pytest.mark.browser
def test_a_vote_shows_clearly_and_moves_nothing(logged_app, open_page):
    url, _ = logged_app
    page, _ = open_page(url)
    ask(page, QUESTION)
    footer = cards(page).first.locator("footer")
    controls = footer.locator("a, button")
    before = [control.bounding_box() for control in controls.all()]
    helpful = footer.get_by_role("button", name="Helpful", exact=True)
    not_helpful = footer.get_by_role("button", name="Not helpful", exact=True)
    helpful.click()
    expect(footer.locator(".ata-vote-status")).to_have_text("Thanks, noted.")
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(not_helpful).to_have_attribute("aria-pressed", "false")
    assert [control.bounding_box() for control in controls.all()] == before
    colours = [b.evaluate("(b) => getComputedStyle(b).backgroundColor") for b in (helpful, not_helpful)]
    assert colours[0] != colours[1]


@pytest.mark.browser
def test_an_answer_opened_by_its_link_takes_votes(logged_app, open_page):
    url, log = logged_app
    answer_id = f"{SEED_ID}/3/noah-gift/0"
    page, _ = open_page(f"{url}?answer={answer_id}")
    single = page.locator("#results .ata-card.ata-single")
    single.get_by_role("button", name="Not helpful", exact=True).click(timeout=WAIT_MS)
    expect(single.locator(".ata-vote-status")).to_have_text("Thanks, noted.")
    assert rows(log, "SELECT answer_id, helpful FROM votes") == [{"answer_id": answer_id, "helpful": 0}]
    assert rows(log, "SELECT source FROM queries") == [{"source": "link"}]


@pytest.mark.browser
def test_show_closest_answers_anyway_puts_closest_in_the_link(seed_app, open_page):
    page, _ = open_page(seed_app)
    ask(page, "How do I cook onions?")
    page.get_by_role("button", name="Show closest answers anyway").click()
    closest = f"{search_url(seed_app, 'How do I cook onions?')}&closest=true"
    expect(page).to_have_url(closest, timeout=WAIT_MS)
    shared, _ = open_page(closest)
    assert cards(shared).count() == 5
    expect(shared.get_by_role("button", name="Show closest answers anyway")).to_be_hidden()


@pytest.mark.browser
def test_enter_in_number_of_results_runs_the_search_again(seed_app, open_page):
    page, _ = open_page(seed_app)
    ask(page, QUESTION)
    assert cards(page).count() == 5
    number = page.get_by_label("number input for Number of results")
    number.fill("2")
    number.press("Enter")
    expect(page.locator("#results .ata-card")).to_have_count(2, timeout=WAIT_MS)
    expect(page).to_have_url(f"{search_url(seed_app, QUESTION)}&k=2")


# Accessibility: axe-core (installed by `make axe` into .cache/axe) on every view, desktop and phone.
AXE = Path(__file__).resolve().parents[1] / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
  .filter((violation) => ['serious', 'critical'].includes(violation.impact))
  .map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`)"""


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make axe` (npm install --prefix .cache/axe axe-core)")
    page.wait_for_function("() => !document.querySelector('.pending')")  # Gradio dims pending outputs to 0.2
    page.add_script_tag(path=str(AXE))
    return page.evaluate(SERIOUS)


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_axe_finds_nothing_serious_on_any_view(logged_app, open_page, viewport):
    url, log = logged_app
    views = {}
    page, _ = open_page(url, viewport)
    expect(question_box(page)).to_be_visible()
    views["start"] = serious_violations(page)
    page, _ = open_page(search_url(url, QUESTION), viewport)
    cards(page)
    views["results"] = serious_violations(page)
    page, _ = open_page(f"{url}?answer={SEED_ID}/3/noah-gift/0", viewport)
    expect(page.locator("#results .ata-card.ata-single")).to_have_count(1, timeout=WAIT_MS)
    views["permalink"] = serious_violations(page)
    with serving_dashboard(log) as board_url:
        page, _ = open_page(board_url, viewport)
        expect(page.locator("#summary")).to_contain_text("since", timeout=WAIT_MS)
        views["dashboard"] = serious_violations(page)
    assert views == {view: [] for view in views}


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_books_week_and_an_authors_answers_open_by_link_and_from_a_card_in_pages(seed_app, open_page, viewport):
    page, blocked = open_page(f"{seed_app}?book={SEED_ID}", viewport)
    expect(page.locator("#results .ata-browse-title")).to_have_text(
        "Practical MLOps, week of 30 Aug 2021: its threads in order", timeout=WAIT_MS
    )
    expect(page.locator("#results .ata-card")).to_have_count(20)
    assert serious_violations(page) == [] and blocked == []
    page.get_by_role("link", name="Next page →").click()
    expect(page).to_have_url(f"{seed_app}?book={SEED_ID}&offset=20", timeout=WAIT_MS)
    expect(page.locator("#results .ata-browsing .ata-muted").first).to_contain_text("Answers 21–")
    author = page.locator("#results .ata-card .ata-author").first.inner_text()
    page.locator("#results .ata-card").first.get_by_role("link", name=f"All of {author}’s answers").click()
    expect(page.locator("#results .ata-browse-title")).to_have_text(
        f"{author}’s answers, newest week first", timeout=WAIT_MS
    )
    expect(page).to_have_url(f"{seed_app}?author={quote_plus(author)}")
    assert {a.strip() for a in page.locator("#results .ata-author").all_inner_texts()} == {author}
    assert serious_violations(page) == []
    if viewport == PHONE:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
def test_typing_into_a_filter_replaces_all_and_books_show_their_week(seed_app, open_page):
    page, _ = open_page(seed_app)
    for label, typed, option in [("Author", "Deza", "Alfredo Deza"),
                                 ("Book", "Aug 2021", "Practical MLOps · week of 30 Aug 2021")]:  # fmt: skip
        box = page.get_by_label(label)
        expect(box).to_have_value(f"All {label.lower()}s")
        box.click()
        page.keyboard.type(typed)
        expect(box).to_have_value(typed)  # not "All authorsDeza"
        expect(page.get_by_role("option", name=option)).to_be_visible(timeout=WAIT_MS)
        page.get_by_role("option", name=option).click()
        expect(box).to_have_value(option)


@pytest.mark.browser
def test_a_date_filter_keeps_to_its_weeks_and_goes_into_the_link(seed_app, open_page):
    page, blocked = open_page(seed_app)
    question_box(page).fill(QUESTION)
    since = page.get_by_label("Since")
    since.fill("2021")
    page.locator("#ask").click()
    expect(page).to_have_url(re.compile(r"since=2021-01-01"), timeout=WAIT_MS)
    weeks = cards(page).locator(".ata-meta").all_inner_texts()
    assert weeks and all(re.search(r"\b(202[1-9])\b", week) for week in weeks), weeks
    since.fill("2022")
    since.press("Enter")  # Enter in a date box searches, as in the question box
    expect(page).to_have_url(re.compile(r"since=2022-01-01"), timeout=WAIT_MS)
    expect(page.locator("#results .ata-card")).to_have_count(0)  # the seed's one week is 2021
    page.get_by_label("Until").fill("next week")
    page.get_by_label("Until").press("Enter")
    expect(page.locator("#results .ata-notice")).to_contain_text("until must be a year")
    assert serious_violations(page) == [] and blocked == []
    page.goto(f"{seed_app}?q=mlops&since=2021-08&until=2021")  # a shared link fills the boxes
    expect(since).to_have_value("2021-08-01", timeout=WAIT_MS)
    expect(page.get_by_label("Until")).to_have_value("2021-12-31")
