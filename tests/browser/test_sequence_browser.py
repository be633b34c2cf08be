"""Lecture sequences in chromium: a sequence round-trips through its link, and Next / Previous (buttons and arrow
keys) walk it in a fresh browser, each view opening its page with its settings and its note."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Browser, Page, expect

from cnnviz import sequences
from tests.browser.helpers import assert_no_exception, click_button, goto, set_number, wait_idle


def _main(page: Page):
    return page.locator('[data-testid="stMain"]')


def _at(page: Page, step: int, of: int, path: str, note: str) -> dict[str, str]:
    """Check the presenter shows view ``step`` of ``of`` on page ``path`` with its note; the URL's settings."""
    assert_no_exception(page)
    url = urlparse(page.url)
    assert url.path.rstrip("/").endswith("/" + path), page.url
    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
    assert query["step"] == str(step)
    bar = page.locator(".st-key-seq_bar")
    expect(bar).to_contain_text(f"view {step} of {of}", timeout=30_000)  # a shared machine can be slow
    expect(bar).to_contain_text(note, timeout=30_000)
    return query


def _press(page: Page, key: str) -> None:
    """Click the presenter's button ``key`` (its accessible name also holds the key's hint)."""
    page.locator(f".st-key-{key} button").first.click()
    wait_idle(page)


def _metric(page: Page, label: str):
    return page.locator('[data-testid="stMetric"]', has_text=label).locator('[data-testid="stMetricValue"]')


def test_a_ready_sequence_walks_with_buttons_and_keys(app_url: str, page: Page) -> None:
    seq = sequences.READY["convolution-cost"]
    goto(page, app_url, "sequence", seq=sequences.encode(seq))
    expect(_main(page)).to_contain_text(seq.title)
    click_button(page, "Present from the start")
    wait_idle(page)
    n = len(seq)
    _at(page, 1, n, "layer_lab", seq.views[0].note)
    expect(_metric(page, "Output volume")).to_have_text("32x32x10")

    page.keyboard.press("ArrowRight")
    wait_idle(page)
    _at(page, 2, n, "layer_lab", seq.views[1].note)
    expect(_metric(page, "Output volume")).to_have_text("28x28x10")  # same page, other settings: no padding

    _press(page, "seq_next")
    _at(page, 3, n, "layer_lab", seq.views[2].note)
    expect(_metric(page, "Output volume")).to_have_text("55x55x96")  # AlexNet CONV1

    _press(page, "seq_prev")
    _at(page, 2, n, "layer_lab", seq.views[1].note)
    page.keyboard.press("ArrowLeft")
    wait_idle(page)
    _at(page, 1, n, "layer_lab", seq.views[0].note)
    expect(page.locator(".st-key-seq_prev button").first).to_be_disabled()


def test_a_lecturers_sequence_round_trips_through_its_link(app_url: str, page: Page, browser: Browser) -> None:
    """Built in one browser from two pages, opened from its link in another that never saw it."""
    goto(page, app_url, "explorer", ex_model="lenet5")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Lecture sequence (0 views)").click()
    sidebar.get_by_label("Note for this view").fill("LeNet-5 <b>first</b>")
    click_button(page, "Add this view")
    wait_idle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Layer lab").click()
    wait_idle(page)
    set_number(page, "Filter size F", 3)
    sidebar.get_by_text("Lecture sequence (1 views)").click()
    sidebar.get_by_label("Note for this view").fill("Then a 3x3 filter")
    click_button(page, "Add this view")
    wait_idle(page)
    sidebar.get_by_role("link", name="Edit, share and present it").click()
    wait_idle(page)
    link = page.locator('[data-testid="stCode"]').last.inner_text().strip()
    assert urlparse(link).path.endswith("/sequence")
    token = parse_qs(urlparse(link).query)["seq"][0]
    seq = sequences.decode(token)
    assert [v.page for v in seq.views] == ["explorer", "layer_lab"]
    assert seq.views[0].query["ex_model"] == "lenet5" and seq.views[1].query["ll_f"] == "3"
    assert seq.views[0].note == "LeNet-5 <b>first</b>"

    fresh = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        student = fresh.new_page()
        student.goto(link)
        wait_idle(student)
        click_button(student, "Present from the start")
        wait_idle(student)
        _at(student, 1, 2, "explorer", "LeNet-5 <b>first</b>")  # the note is text, never markup
        expect(_main(student)).to_contain_text("lenet5")
        student.keyboard.press("ArrowRight")
        wait_idle(student)
        _at(student, 2, 2, "layer_lab", "Then a 3x3 filter")
        expect(_metric(student, "Output volume")).to_have_text("34x34x10")  # (32 - 3 + 2 * 2)/1 + 1
        _press(student, "seq_prev")
        _at(student, 1, 2, "explorer", "LeNet-5 <b>first</b>")
    finally:
        fresh.close()


def test_a_damaged_link_gets_a_message(app_url: str, page: Page) -> None:
    token = sequences.encode(sequences.READY["lenet-to-resnet"])
    goto(page, app_url, "sequence", seq=token[:40])
    assert_no_exception(page)
    expect(_main(page)).to_contain_text("cannot be opened")
