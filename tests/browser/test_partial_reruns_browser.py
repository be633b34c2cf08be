"""What the server sends for a click, read off the websocket: a part's widget reruns that part only, and a figure
that did not change is sent as a reference to the browser's copy, not again."""
from __future__ import annotations

from playwright.sync_api import Page
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.browser.helpers import assert_no_exception, goto, wait_idle


class Messages:
    """The server's messages to the page (decoded ``ForwardMsg``), from the moment of creation."""

    def __init__(self, page: Page) -> None:
        self.received: list[ForwardMsg] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: bytes | str) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            self.received.append(msg)

    def take(self) -> list[ForwardMsg]:
        taken, self.received = self.received, []
        return taken


def elements(messages: list[ForwardMsg]) -> list[str]:
    """The kinds of the elements sent in full (``metric``, ``plotly_chart``, ...)."""
    return [m.delta.new_element.WhichOneof("type") for m in messages
            if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"]


def finished(messages: list[ForwardMsg]) -> list[int]:
    return [m.script_finished for m in messages if m.WhichOneof("type") == "script_finished"]


def test_the_layer_table_fold_reruns_the_tabs_only(app_url: str, page: Page) -> None:
    sent = Messages(page)
    goto(page, app_url, "explorer", ex_model="resnet50", ex_tab="Layer table")
    assert "metric" in elements(sent.take())  # a full run sends the totals
    page.locator('[data-testid="stRadio"]').get_by_text("1", exact=True).click()
    wait_idle(page)
    assert_no_exception(page)
    run = sent.take()
    assert finished(run) == [ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY]
    deltas = [m.delta for m in run if m.WhichOneof("type") == "delta"]
    assert deltas and all(d.fragment_id for d in deltas)  # every element sent belongs to the fragment
    assert "metric" not in elements(run) and "dataframe" in elements(run)
    assert "ex_fold=1" in page.url  # the link follows a fragment's run too


def test_an_unchanged_drawing_is_not_sent_again(app_url: str, page: Page) -> None:
    sent = Messages(page)
    goto(page, app_url, "explorer", ex_model="resnet18")
    assert "plotly_chart" in elements(sent.take())
    page.locator('.st-key-ex_batch [data-testid="stNumberInputStepUp"]').click()  # training memory only
    wait_idle(page)
    assert "ex_batch=33" in page.url
    run = sent.take()
    assert finished(run) == [ForwardMsg.FINISHED_SUCCESSFULLY]
    assert "metric" in elements(run) and "plotly_chart" not in elements(run)
    assert any(m.WhichOneof("type") == "ref_hash" for m in run)  # the browser's cached copy is shown
