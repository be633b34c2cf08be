"""How fast each page answers a click, in a real browser, against Streamlit's own floor measured in the same run.

Starts the app the README way (``scripts/serve``, as ``make run`` does) and, beside it, the floor:
``bench/apps/floor_app.py``, a Streamlit page with one number input and one ``st.metric`` (what Streamlit itself
costs per click). Then one chromium opens each page (layer lab, explorer, compare, builder, training form,
and the floor) and clicks "+" on its number inputs (types the next value where an input is too narrow
for "+"), in a fixed order, ``--clicks`` times per page (20 by default). Each click is timed from the
click to the moment the page shows the new numbers that the click must produce (computed here with
cnnviz, so a stale number never counts as an answer); between clicks the page is left to finish its run.
Also measured: the first load of each page (warm server) to its first
numbers, the cold start (from starting the server to the home page's first numbers, the timeline's bars),
and the server's CPU time over each page's clicks (from /proc, the web server process: the job workers it starts
are not a click's work), which a busy machine changes much less than the wall-clock times.

Prints p50 / p90 / max per page, the p50 of "run end" (click to the end of the script run it caused, as the
websocket brings it: the server's answer, against which the click time shows the browser's part), CPU per click,
and the ratios to the floor.
Run: ``.venv/bin/python bench/bench_interaction.py [--clicks 20] [--pages explorer,builder] [--json]``
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Locator, Page, sync_playwright  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz import lab  # noqa: E402
from cnnviz.builder import describe  # noqa: E402
from cnnviz.ui import builder as b  # noqa: E402
from cnnviz.ui import explorer as ex  # noqa: E402
from cnnviz.ui.words import setting_label  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS  # noqa: E402
from tests.browser.helpers import wait_idle  # noqa: E402
from tests.browser.loadtest import tree_cpu  # noqa: E402
from tests.browser.server import ServerError, free_port, serve, serving  # noqa: E402

FLOOR = "floor"
CLASSES = setting_label("num_classes")
# "metric:<label>" -> value, "text" -> text on the page, "query" -> {input label: "key=value" in the URL}
Want = dict[str, object]

# True once every wanted thing is on screen: the metric values, a text anywhere in the main area, the URL's query
WANT_JS = """(want) => {
  for (const [key, value] of Object.entries(want)) {
    if (key.startsWith('metric:')) {
      const label = key.slice(7);
      const m = [...document.querySelectorAll('[data-testid="stMetric"]')].find(e =>
        (e.querySelector('[data-testid="stMetricLabel"]') || {}).innerText?.trim() === label);
      if (!m || (m.querySelector('[data-testid="stMetricValue"]') || {}).innerText?.trim() !== value) return false;
    } else if (key === 'text') {
      const main = document.querySelector('[data-testid="stMain"]');
      if (!main || !main.innerText.includes(value)) return false;
    } else if (key === 'query') {
      const search = new URLSearchParams(location.search);
      if (!value.every(pair => search.get(pair.split('=')[0]) === pair.split('=')[1])) return false;
    }
  }
  return true;
}"""


@dataclass(frozen=True)
class Scenario:
    """A page, the number inputs clicked in turn (label, where), and what the page must show for their values."""

    path: str
    inputs: tuple[tuple[str, str], ...]  # (label, CSS selector of the container that holds it; "" = the page)
    want: Callable[[dict[str, int]], Want]
    before: Callable[[Page], None] = lambda page: None  # untimed preparation (open an expander)


def _explorer_want(v: dict[str, int]) -> Want:
    report = cnnviz.summarize("resnet50", num_classes=v[CLASSES])
    shown = {label: value for label, value, _ in ex.totals(report, v["Batch size"], "adam")}
    return {"metric:Parameters": shown["Parameters"], "metric:Training memory": shown["Training memory"]}


def _lab_want(v: dict[str, int]) -> Want:
    n = lab.layer_numbers(lab.LayerConfig(kind="conv", height=v["Height H1"], width=32, channels=3, kernel=5,
                                          filters=v["Filters K"], stride=1, padding=2))
    c2, h2, w2 = n.out_shape
    return {"metric:Output volume": f"{h2}x{w2}x{c2}", "metric:Parameters": f"{n.params:,}",
            "query": {"Filters K": f"ll_k={v['Filters K']}", "Height H1": f"ll_h={v['Height H1']}"}}  # a fragment's run updates the link


def _compare_want(v: dict[str, int]) -> Want:
    return {"text": f"({cnnviz.summarize('plain50', num_classes=v[CLASSES]).totals.params:,})"}


def _builder_want(v: dict[str, int]) -> Want:
    shown = {label: value for label, value, _ in
             b.totals(describe(b.LENET5_TEXT, (1, v["Input height"], v["Input width"])))}
    return {"metric:MACs": shown["MACs"], "metric:Output": shown["Output"], "metric:Parameters": shown["Parameters"]}


def _open_expander(title: str) -> Callable[[Page], None]:
    def open_it(page: Page) -> None:
        page.locator('[data-testid="stExpander"] summary').filter(has_text=title).click()
        wait_idle(page)
    return open_it


SCENARIOS: dict[str, Scenario] = {
    FLOOR: Scenario("", (("n", ""),), lambda v: {"metric:Twice n": str(2 * v["n"])}),
    "layer lab": Scenario("layer_lab", (("Filters K", ""), ("Height H1", "")), _lab_want),
    "explorer": Scenario("explorer?ex_model=resnet50", ((CLASSES, ""), ("Batch size", "")), _explorer_want),
    "compare": Scenario("compare", ((CLASSES, '[data-testid="stColumn"]:nth-child(2)'),), _compare_want,
                        _open_expander("Settings of model 2")),
    "builder": Scenario("builder", (("Input height", ""), ("Input width", "")), _builder_want),
    "training form": Scenario("training", (("Epochs", ""), ("Batch size", "")),
                              lambda v: {"query": {"Epochs": f"tr_ep={v['Epochs']}",
                                                           "Batch size": f"tr_bs={v['Batch size']}"}}),
}


def _field(page: Page, label: str, scope: str) -> Locator:
    root = page.locator(scope).first if scope else page
    return root.locator('[data-testid="stNumberInput"]').filter(has=page.get_by_label(label, exact=True)).first


class RunEnds:
    """When the page's script runs (or fragment runs) end: their ``script_finished`` message on the websocket."""

    def __init__(self, page: Page) -> None:
        self.times: list[float] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: bytes | str) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            if msg.WhichOneof("type") == "script_finished":
                self.times.append(time.perf_counter())

    def first_after(self, t0: float) -> float | None:
        return next((t - t0 for t in self.times if t >= t0), None)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class PageResult:
    name: str
    load_s: float
    clicks_s: list[float]
    runs_s: list[float]  # from the click to the end of the script run it caused (the server's answer)
    cpu_s: float  # server CPU over all the clicks

    def summary(self) -> dict[str, float]:
        times = self.clicks_s
        return {"load_ms": self.load_s * 1e3, "p50_ms": _p(times, 0.5) * 1e3, "p90_ms": _p(times, 0.9) * 1e3,
                "max_ms": max(times) * 1e3, "run_end_p50_ms": _p(self.runs_s, 0.5) * 1e3 if self.runs_s else -1,
                "cpu_ms_per_click": self.cpu_s / len(times) * 1e3, "clicks": len(times)}


def run_scenario(page: Page, url: str, name: str, sc: Scenario, clicks: int, server_pid: int,
                 timeout_ms: float) -> PageResult:
    """Open the page (timed to its first numbers), prepare it, then ``clicks`` timed clicks on "+"."""
    ends = RunEnds(page)
    start = time.perf_counter()
    page.goto(f"{url}/{sc.path}")
    labels = [label for label, _ in sc.inputs]
    _field(page, labels[0], sc.inputs[0][1]).wait_for(state="attached", timeout=timeout_ms)
    values = {label: int(float(_field(page, label, scope).locator("input").input_value()))
              for label, scope in sc.inputs}
    first = dict(values)

    def want() -> Want:
        """What the page must show; a short link leaves a setting at its first (default) value out of the URL."""
        wanted = sc.want(values)
        if "query" in wanted:
            wanted["query"] = [pair for label, pair in wanted["query"].items() if values[label] != first[label]]
        return wanted

    page.wait_for_function(WANT_JS, arg=want(), timeout=timeout_ms, polling="raf")
    load = time.perf_counter() - start
    wait_idle(page)
    sc.before(page)
    cpu0 = tree_cpu(server_pid, alone=True)  # the web server: the job workers' start-up is not a click's
    times, runs = [], []
    for i in range(clicks):
        label, scope = sc.inputs[i % len(sc.inputs)]
        values[label] += 1
        wanted = want()
        field = _field(page, label, scope)
        step_up = field.locator('[data-testid="stNumberInputStepUp"]')
        has_button = step_up.count() > 0  # Streamlit drops the +/- buttons of a narrow input: type there
        t0 = time.perf_counter()
        if has_button:
            step_up.click()
        else:
            box = field.locator("input")
            box.fill(str(values[label]))
            box.press("Enter")
        page.wait_for_function(WANT_JS, arg=wanted, timeout=timeout_ms, polling="raf")
        times.append(time.perf_counter() - t0)
        wait_idle(page, quiet_ms=150, settle_ms=100)
        if (run := ends.first_after(t0)) is not None:
            runs.append(run)
    return PageResult(name, load, times, runs, tree_cpu(server_pid, alone=True) - cpu0)


def first_numbers(browser: Browser, url: str, timeout_ms: float) -> float:
    """Open the app's first page and return when its first numbers are drawn (the ILSVRC timeline's bars)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url)
        page.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible", timeout=timeout_ms)
        return time.perf_counter()
    finally:
        context.close()


@contextmanager
def serve_floor(log: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """The floor page, started with the same Streamlit options as ``scripts/serve``."""
    port = free_port()
    with serving([sys.executable, "-m", "streamlit", "run", str(ROOT / "bench" / "apps" / "floor_app.py"),
                  "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                  "--browser.gatherUsageStats", "false"], port, log) as started:
        yield started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=20, help="clicks per page (default 20)")
    parser.add_argument("--pages", default=",".join(n for n in SCENARIOS if n != FLOOR),
                        help="comma-separated pages (default: all); the floor is always measured")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a click counts as lost")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    names = [n.strip() for n in args.pages.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or args.clicks < 1:
        parser.error(f"unknown page(s) {unknown}; choose from {list(SCENARIOS)}" if unknown else "--clicks >= 1")
    executable = shutil.which("chromium")
    if executable is None:
        print("chromium is not installed (`make chromium`)")
        return 1
    results: list[PageResult] = []
    cold_s = float("nan")
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cnnviz-interaction-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            cold = time.perf_counter()
            with serve(Path(tmp) / "home", Path(tmp) / "app.log") as (server, url):
                healthy = time.perf_counter() - cold
                cold_s = first_numbers(browser, url, args.timeout * 1000) - cold
                print(f"cold start (the README's way, as `make run`): healthy after {healthy:.1f} s, the home page's "
                      f"first numbers after {cold_s:.1f} s")
                with serve_floor(Path(tmp) / "floor.log") as (floor, floor_url):
                    print(f"app {url}, floor {floor_url}; load average {load0:.1f} on {os.cpu_count()} cores")
                    for name in [FLOOR, *names]:
                        context = browser.new_context(viewport={"width": 1280, "height": 900})
                        page = context.new_page()
                        pid, base = (floor.pid, floor_url) if name == FLOOR else (server.pid, url)
                        page.goto(base)  # a first visit warms the server (imports, caches): not measured
                        wait_idle(page)
                        results.append(run_scenario(page, base, name, SCENARIOS[name], args.clicks, pid,
                                                    args.timeout * 1000))
                        context.close()
        except ServerError as exc:
            print(exc)
            return 1
        finally:
            browser.close()
    figures = {r.name: r.summary() for r in results}
    floor_fig = figures[FLOOR]
    print(f"\nload average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")
    print(f"{'page':<14} {'load':>7} {'p50':>7} {'p90':>7} {'max':>7} {'run end':>8} {'CPU/click':>10}   p50/floor"
          "  CPU/floor")
    for name, f in figures.items():
        print(f"{name:<14} {f['load_ms']:5.0f}ms {f['p50_ms']:5.0f}ms {f['p90_ms']:5.0f}ms {f['max_ms']:5.0f}ms "
              f"{f['run_end_p50_ms']:6.0f}ms "
              f"{f['cpu_ms_per_click']:8.0f}ms   {f['p50_ms'] / floor_fig['p50_ms']:8.2f}x "
              f"{f['cpu_ms_per_click'] / floor_fig['cpu_ms_per_click']:8.2f}x")
    if args.json:
        print(json.dumps({"load_average": [load0, os.getloadavg()[0]], "cold_start_s": cold_s, "pages": figures},
                         indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
