"""Home and the Layer lab in a real browser: settings change the numbers, no exception box, screenshots."""
from __future__ import annotations

import re

import torchvision
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from torchvision.models import get_model_weights

from cnnviz import lab
from cnnviz.zoo import list_models as zoo_models
from tests.browser.helpers import (assert_no_exception, click_button, goto, screenshot, select_option, set_number,
                                   toggle, unfold_sidebar, wait_idle)


def latex(page: Page) -> str:
    """The TeX source of every formula on the page (KaTeX keeps it in an annotation)."""
    return "\n".join(page.locator('annotation[encoding="application/x-tex"]').all_text_contents())


def expect_latex(page: Page, fragment: str, timeout: float = 30_000) -> None:
    """Wait until some formula on the page contains ``fragment`` (reruns land a little after a change)."""
    try:
        page.wait_for_function(
            """f => [...document.querySelectorAll('annotation[encoding="application/x-tex"]')]
                     .some(a => a.textContent.includes(f))""", arg=fragment, timeout=timeout)
    except PlaywrightTimeout:
        raise AssertionError(f"no formula contains {fragment!r}; formulas:\n{latex(page)}") from None


def expect_metric(page: Page, label: str, value: str) -> None:
    """Wait until the st.metric labelled ``label`` shows ``value``."""
    name = page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)
    metric = page.locator('[data-testid="stMetric"]').filter(has=name)
    expect(metric.locator('[data-testid="stMetricValue"]')).to_have_text(value, timeout=30_000)


def open_lab(page: Page, app_url: str, section: str, **query: object) -> None:
    goto(page, app_url, "layer_lab", ll_sec=section, **query)
    assert_no_exception(page)


def press_slider(page: Page, key: str, presses: int) -> None:
    thumb = page.locator(f".st-key-{key} input[type='range']")
    thumb.focus()
    for _ in range(presses):
        thumb.press("ArrowRight")
    wait_idle(page)


def test_home_charts_links_and_toggles(app_url: str, page: Page) -> None:
    classifiers = [n for n in torchvision.models.list_models(module=torchvision.models)
                   if "acc@1" in get_model_weights(n).DEFAULT.meta["_metrics"]["ImageNet-1K"]]
    in_zoo = {s.torchvision for s in zoo_models() if s.torchvision} & set(classifiers)
    goto(page, app_url)
    assert_no_exception(page)
    main = page.locator('[data-testid="stMain"]')
    expect(main.get_by_text("From hand-made features to 152 layers")).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(2)
    expect(main.get_by_text(f"{len(classifiers)} of torchvision's {len(classifiers)} pretrained")).to_be_visible()
    screenshot(page, "home")
    toggle(page, "Only models in the cnnviz zoo", True)
    expect(main.get_by_text(f"{len(in_zoo)} of torchvision's {len(classifiers)} pretrained")).to_be_visible()
    expect(page).to_have_url(re.compile(r"hm_zoo=1"))
    toggle(page, "Lecture mode", True)
    assert_no_exception(page)
    screenshot(page, "home-lecture")
    unfold_sidebar(page)  # lecture mode folded it: the switch back is in reach through its arrow
    toggle(page, "Lecture mode", False)

    select_option(page, "Open a zoo model in the explorer", "vgg16")
    main.locator('[data-testid="stPageLink"]').get_by_text("Open vgg16 in the architecture explorer").click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"/explorer\?.*ex_model=vgg16"))
    assert_no_exception(page)
    goto(page, app_url)

    main.locator('[data-testid="stPageLink"]').get_by_text("Layer lab", exact=True).click()
    wait_idle(page)
    assert "/layer_lab" in page.url
    expect(page.get_by_role("heading", name="Layer lab")).to_be_visible()
    expect(page.locator('[data-testid="stSidebar"]').get_by_text("Lecture mode")).to_be_visible()
    assert_no_exception(page)


def test_layer_lab_conv_numbers_follow_the_settings(app_url: str, page: Page) -> None:
    open_lab(page, app_url, "Conv & pool arithmetic")
    expect_metric(page, "Output volume", "32x32x10")
    expect_metric(page, "Parameters", "760")
    expect_latex(page, "= 75 \\cdot 10 + 10 = 760")
    screenshot(page, "layer-lab-conv")

    set_number(page, "Filters K", 20)
    expect_metric(page, "Parameters", "1,520")
    expect_metric(page, "Output volume", "32x32x20")
    set_number(page, "Stride S", 2)
    expected = lab.layer_numbers(lab.LayerConfig(filters=20, stride=2)).out_shape
    expect_metric(page, "Output volume", f"{expected[1]}x{expected[2]}x{expected[0]}")
    expect_latex(page, "\\lfloor 15.5 \\rfloor + 1 = 16")
    assert "ll_k=20" in page.url and "ll_s=2" in page.url

    click_button(page, "AlexNet CONV1")
    expect_metric(page, "Output volume", "55x55x96")
    expect_metric(page, "Parameters", "34,944")
    assert_no_exception(page)
    screenshot(page, "layer-lab-alexnet-conv1")


def test_layer_lab_bad_setting_shows_the_message(app_url: str, page: Page) -> None:
    open_lab(page, app_url, "Conv & pool arithmetic", ll_c=3, ll_g=2)
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="divisible by the number of groups")
    expect(alert).to_be_visible()
    expect(page.get_by_label("Filters K", exact=True)).to_be_visible()  # the rest of the page stays
    assert_no_exception(page)
    screenshot(page, "layer-lab-error")
    set_number(page, "Depth D1", 4)
    expect(alert).to_have_count(0)
    expect_metric(page, "Parameters", f"{5 * 5 * 2 * 10 + 10:,}")


def test_layer_lab_link_opens_the_configured_page(app_url: str, page: Page) -> None:
    open_lab(page, app_url, "Conv & pool arithmetic", ll_kind="max", ll_h=55, ll_w=55, ll_c=96, ll_f=3, ll_s=2,
             ll_pad="valid", lecture=1)
    expect_metric(page, "Output volume", "27x27x96")
    expect_metric(page, "Parameters", "0")
    chart = page.locator('[data-testid="stPlotlyChart"]').first.bounding_box()
    assert chart is not None and chart["height"] > 500  # lecture mode: charts 1.4x taller (400 -> 560 px)
    screenshot(page, "layer-lab-lecture")


def test_sliding_window_steps_and_plays(app_url: str, page: Page) -> None:
    open_lab(page, app_url, "Sliding window")
    click_button(page, "2x2 max pool")
    expect_latex(page, "y_{1,1} = \\max(1, 1, 5, 6) = 6")
    press_slider(page, "ll_step", 1)
    expect_latex(page, "y_{1,2} = \\max(2, 4, 7, 8) = 8")
    screenshot(page, "layer-lab-sliding-maxpool")
    click_button(page, "7x7, S=2 → 3x3")
    expect(page).to_have_url(re.compile(r"ll_ss=2"))
    press_slider(page, "ll_step", 8)
    expect(page.get_by_text("Done: the output is 3x3.")).to_be_visible()
    screenshot(page, "layer-lab-sliding-conv")

    toggle(page, "Play", True)  # one step a second
    before = latex(page)
    page.wait_for_timeout(3000)
    assert latex(page) != before  # the window moved by itself
    toggle(page, "Play", False)
    assert_no_exception(page)


def test_other_sections_render_and_update(app_url: str, page: Page) -> None:
    open_lab(page, app_url, "1x1 & bottlenecks")
    expect_latex(page, "120{,}422{,}400")
    expect_latex(page, "69{,}632")
    screenshot(page, "layer-lab-bottlenecks")
    set_number(page, "1x1 bottleneck depth", 32)
    cost = lab.bottleneck_cost(28, 192, 32, 5, 32)
    expect_latex(page, f"= {cost.with_bottleneck / 1e6:.1f}\\text{{M}}")
    set_number(page, "Bottleneck depth", 128)
    expect_latex(page, f"{lab.resnet_bottleneck(256, 128).bottleneck:,}".replace(",", "{,}"))
    assert_no_exception(page)
    for section, shot in (("Activations & softmax", "activations"), ("Dropout, BN, LRN, FC", "layers")):
        page.locator(".st-key-ll_sec").get_by_role("radio", name=section, exact=True).click()
        wait_idle(page)
        expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
        assert_no_exception(page)
        screenshot(page, f"layer-lab-{shot}")
    expect_latex(page, "= 30{,}730")
    set_number(page, "Outputs", 100)
    expect_latex(page, "= 307{,}300")


def test_home_address_opens_home_on_a_fresh_server(page: Page, tmp_path) -> None:
    """`/home` is the first request a new server gets (a typed address, an old link): it opens Home."""
    from tests.browser.server import serve

    with serve(tmp_path / "app_home", tmp_path / "streamlit.log") as (_, url):
        goto(page, url, "home")
        main = page.locator('[data-testid="stMain"]')
        expect(main.get_by_text("From hand-made features to 152 layers")).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile("page not found", re.IGNORECASE))).to_have_count(0)
        assert_no_exception(page)


def test_human_line_does_not_strike_through_resnets_label(app_url: str, page: Page) -> None:
    goto(page, app_url)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.scroll_into_view_if_needed()
    label = chart.locator("g.annotation-text-g").filter(has_text="3.57%")
    expect(label).to_have_count(1, timeout=30_000)
    line = chart.locator("path.hline, g.shapelayer path, g.layer-below g.shapelayer path").first
    box, line_box = label.bounding_box(), line.bounding_box()
    assert box is not None and line_box is not None
    line_y = line_box["y"] + line_box["height"] / 2
    assert box["y"] + box["height"] < line_y - 2, (box, line_box)  # the label sits wholly above the line
    screenshot(page, "home-timeline")


def test_layer_lab_says_when_the_stride_does_not_fit(app_url: str, page: Page) -> None:
    open_lab(page, app_url, "Conv & pool arithmetic", ll_h=7, ll_w=7, ll_f=3, ll_s=3, ll_pad="valid")
    expect_metric(page, "Output volume", "2x2x10")
    alert = page.locator('[data-testid="stAlertContentWarning"]')
    expect(alert).to_contain_text("(7 - 3 + 2·0)/3 = 4/3 is not a whole number", timeout=30_000)
    expect(alert).to_contain_text("never covered")
    alert.scroll_into_view_if_needed()
    screenshot(page, "layer-lab-stride-misfit")
