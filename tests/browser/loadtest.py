"""The classroom load test: N students at once, each in a browser context of one chromium, for T seconds.

Each session opens the home page, then loops over what a student does, with numbers no other
session uses (so a page that shows another session's results is caught):

* a link to the Architecture explorer (LeNet-5 or TinyVGG, a random input size, a number of
  classes only this session uses): the metrics must be exactly what ``cnnviz.summarize`` gives
  for *those* settings; then + on the number of classes, and the same check;
* a link to the Layer lab's convolution arithmetic with its own layer (a number of filters only
  this session uses): output volume and parameters from ``cnnviz.lab``; then a typed new value;
* an upload on the Seeing-inside page of a PNG made for it (``load-s<session>-<n>.png``): the
  page must show that file as the model's input, and a chart;
* a tiny training run on the Training page (LeNet-5, two batches whose size only this session
  uses): the result must report that session's number of training images;
* another page by the sidebar and back to the explorer: its own settings must still be there.

Every action counts as a request. Errors: an exception box, a traceback, an error message, a
crashed page, an action not done within the timeout, a wrong number (*mismatch*) and a number or
file of another session (*leak*). Times: the *page response* (from the action to the page being
idle again, by the rule of ``tests.browser.helpers.wait_idle``) and the *server answer* (to the
end of the script run on the websocket). Also measured: the CPU time of the server, of the browser
and of everything else; the server's memory (PSS of its process tree) every second and a while
after the sessions closed; and the sessions, uploads, media and caches the server reports.

Used by ``tests/browser/test_load.py`` (short form, CI) and ``bench/bench_load.py`` (full form).
"""
from __future__ import annotations

import asyncio
import functools
import io
import os
import random
import re
import shutil
import statistics
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode, urlsplit

import numpy as np
from PIL import Image, ImageDraw
from playwright.async_api import Browser, BrowserContext, Page, WebSocket, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

import cnnviz
from cnnviz import lab
from cnnviz.analysis import ConfigError, human_count

from tests.browser.conftest import CHROMIUM_ARGS
from tests.browser.helpers import _IDLE, SCREENSHOTS

ROOT = Path(__file__).resolve().parents[2]
MiB = 2**20
SERVER = "server answer"  # the times from an action to the end of the script run it caused
CONV = "Conv & pool arithmetic"
TOKEN = re.compile(r"load-s(\d+)-\d+")
EXPLORER_MODELS = {"lenet5": (33, 96), "tinyvgg": (29, 96)}  # model: input sizes to draw from (not the default)
KINDS = {"error": "page_errors", "timeout": "timeouts", "mismatch": "mismatches", "leak": "leaks"}
EXPLORER = "Architecture explorer"
DECK = ("explorer", "explorer", "layer lab", "upload", "navigate", "navigate")  # one round of a student's actions
if (ROOT / "pages" / "training.py").exists():
    DECK += ("training",)
WARM_UP = (("", {}), ("inside", {"in_model": "lenet5"}), ("training", {}))  # training starts the job workers
METRICS_JS = """() => Object.fromEntries([...document.querySelectorAll('[data-testid="stMetric"]')].map(m => [
  (m.querySelector('[data-testid="stMetricLabel"]') || {}).innerText?.trim(),
  (m.querySelector('[data-testid="stMetricValue"]') || {}).innerText?.trim()]))"""
STATE_JS = """() => { const a = document.querySelector('[data-testid="stApp"]');
  return a ? [a.getAttribute('data-test-connection-state'), a.getAttribute('data-test-script-state')] : null; }"""
STALE_S = 15  # how long a drawn but wrong number may take to be replaced by the right one
MAX_SHOTS = 10  # screenshots of the first failures, in artifacts/screenshots/
RUN_ENDS = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}  # not fragment runs
FRAGMENT_ENDS = {ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}  # a widget inside an st.fragment reruns only it
IDLE_FOR_JS = "performance.now() - window.__cnnvizIdleSince"


class Failure(Exception):
    """An action went wrong: ``kind`` is error, timeout, mismatch or leak."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# -- the server's memory ---------------------------------------------------------------------------
def server_pid(port: int) -> int | None:
    """The PID of the server started with ``--server.port <port>`` (the topmost such process, from /proc)."""
    wanted = str(port).encode()
    found: dict[int, int] = {}  # pid -> parent pid
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
            if any((a == b"--server.port" and args[i + 1:i + 2] == [wanted]) or a == b"--server.port=" + wanted
                   for i, a in enumerate(args)):
                found[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return next((pid for pid, parent in found.items() if parent not in found), None)


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def memory_of(pid: int, alone: bool = False) -> dict[int, tuple[int, int]]:
    """Per process of ``pid``'s tree (or ``pid`` only with ``alone``), in bytes: (PSS, USS), from one read of
    its ``smaps_rollup``. PSS is resident memory with the pages shared between processes split among them (so
    the workers' shared torch is not counted twice; RSS where PSS cannot be read); USS (private memory) is the
    pages no other process maps: unlike PSS it does not change when another process that maps the same
    libraries (torch's, from the same venv) starts or ends, so its growth is the processes' own."""
    out = {}
    for p in [pid] if alone else _tree(pid):
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            text = ""
        pss = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        try:
            pss = pss or re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{p}/status").read_text(), re.M)
        except OSError:
            continue
        uss = sum(int(kb) for kb in re.findall(r"^Private_(?:Clean|Dirty):\s+(\d+) kB", text, re.M))
        out[p] = (int(pss.group(1)) * 1024 if pss else 0, uss * 1024)
    return out


def tree_memory(pid: int, alone: bool = False) -> int:
    """PSS in bytes of ``pid`` and every process below it (0 once it is gone); ``alone``: of ``pid`` only."""
    return sum(pss for pss, _ in memory_of(pid, alone).values())


def tree_cpu(pid: int, alone: bool = False) -> float:
    """CPU seconds used by ``pid`` and every process below it (and their finished children); ``alone``: by the
    process ``pid`` only (the web server without its job workers)."""
    ticks = 0
    for p in [pid] if alone else _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:13 if alone else 15])  # utime, stime (, cutime, cstime)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (all cores, from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def server_state(app_url: str) -> dict[str, float]:
    """What the server itself reports (``/_stcore/metrics``): active sessions and the MiB held in
    session state, uploaded files, media files (images, downloads) and caches; {} if it does not answer."""
    names = {"st_session_state": "session_state_mb", "UploadedFileManager": "uploads_mb",
             "st_memory_media_file_storage": "media_mb", "st_cache_data": "cache_data_mb",
             "st_cache_resource": "cache_resource_mb"}
    try:
        with urllib.request.urlopen(f"{app_url.rstrip('/')}/_stcore/metrics", timeout=60) as reply:
            text = reply.read().decode()
    except OSError:
        return {}
    out = dict.fromkeys(names.values(), 0.0)
    for kind, size in re.findall(r'^cache_memory_bytes\{cache_type="([^"]*)",[^}]*\} (\d+)', text, re.M):
        if kind in names:
            out[names[kind]] += int(size) / MiB
    found = re.search(r"^active_sessions (\d+)", text, re.M)
    out = {k: round(v, 1) for k, v in out.items()}
    return {"active_sessions": int(found.group(1)) if found else -1, **out}


def cpu_snapshot(server: int | None) -> tuple[float, float, float]:
    """(server, this driver with its browser, whole machine) CPU seconds so far."""
    return (tree_cpu(server) if server else 0.0, tree_cpu(os.getpid()), machine_cpu())


class MemorySampler:
    """Samples the server's memory (:func:`memory_of`) every ``interval`` seconds while the load runs."""

    def __init__(self, pid: int | None, interval: float = 1.0) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self.server: list[int] = []  # the web server process alone, at the same moments
        self.private: list[tuple[int, int]] = []  # private memory (USS) of the tree and of the server alone
        self._task: asyncio.Task | None = None

    def sample(self) -> int:
        found = memory_of(self.pid) if self.pid else {}
        value = sum(pss for pss, _ in found.values())
        pss, uss = found.get(self.pid, (0, 0)) if self.pid else (0, 0)
        self.samples.append((time.monotonic(), value))
        self.server.append(pss)
        self.private.append((sum(u for _, u in found.values()), uss))
        return value

    async def _loop(self) -> None:
        while True:
            # reading /proc takes a while with chromium's many processes: not on the loop that drives the pages
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# -- expected numbers ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def explorer_numbers(model: str, input_size: int, num_classes: int) -> dict[str, str]:
    """The explorer's metrics for ``model`` at these settings, as the page prints them."""
    report = cnnviz.summarize(model, input_size=input_size, num_classes=num_classes)
    t = report.totals
    return {"Parameters": human_count(t.params), "MACs": human_count(t.macs), "Output": str(num_classes)}


def layer_config(h: int, c: int, f: int, k: int, s: int, p: int) -> lab.LayerConfig:
    return lab.LayerConfig(kind="conv", height=h, width=h, channels=c, kernel=f, filters=k, stride=s, padding=p)


@functools.lru_cache(maxsize=4096)
def layer_numbers(h: int, c: int, f: int, k: int, s: int, p: int) -> dict[str, str]:
    """The Layer lab's metrics for a square convolution layer, as the page prints them."""
    n = lab.layer_numbers(layer_config(h, c, f, k, s, p))
    c2, h2, w2 = n.out_shape
    return {"Output volume": f"{h2}x{w2}x{c2}", "Parameters": f"{n.params:,}"}


def png_for(session: int, serial: int) -> bytes:
    """A PNG no other upload has: noise from the session's seed and its number drawn on it."""
    rng = np.random.default_rng([session, serial])
    side = int(rng.integers(24, 96))
    img = Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    ImageDraw.Draw(img).text((2, 2), f"{session}/{serial}", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


# -- shared bookkeeping ----------------------------------------------------------------------------
@dataclass
class Tally:
    """Everything the sessions count, shared by all of them (one event loop: no locks needed)."""

    requests: int = 0
    failures: list[tuple[int, str, str, str]] = field(default_factory=list)  # session, action, kind, message
    times: dict[str, list[float]] = field(default_factory=dict)
    jobs: list[float] = field(default_factory=list)  # seconds from Train to the run's result
    claims: dict[Any, int] = field(default_factory=dict)  # a value shown to one session only -> session
    serial: int = 0

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    def claim(self, key: Any, session: int) -> bool:
        """Reserve ``key`` for ``session``; False when another session already has it."""
        return self.claims.setdefault(key, session) == session


async def new_context(browser: Browser, timeout_ms: float) -> BrowserContext:
    """A student's browser context: a laptop-sized window."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(timeout_ms)
    return context


# -- one student -----------------------------------------------------------------------------------
class Student:
    """One browser context: a student's session, looping over actions until the deadline."""

    def __init__(self, index: int, browser: Browser, app_url: str, tally: Tally, deadline: float,
                 timeout_s: float, seed: int) -> None:
        self.index, self.browser, self.app_url, self.tally = index, browser, app_url.rstrip("/"), tally
        self.deadline, self.timeout_ms = deadline, timeout_s * 1000
        self.rng = random.Random(seed * 1009 + index)
        self.page: Page | None = None
        self.crashed = False
        self.runs_done, self.run_ended = 0, 0.0  # script runs that ended, and when the last one did
        self.fragment_runs_done = 0  # fragment runs that ended (their end also sets run_ended)
        self.where = ""  # the page the session is on ("" after a failure: the next action reloads)
        self.kept_explorer: dict[str, str] | None = None  # what the explorer must show after in-app navigation
        self.uploads = 0
        kinds = sorted(set(DECK))
        shift = index % len(kinds)  # the first round: every action once, each session starting elsewhere
        self.deck = list(reversed(kinds[shift:] + kinds[:shift]))

    # -- plumbing ----------------------------------------------------------------------------------
    async def timed(self, name: str, action: Callable[[], Awaitable[Any]], fragment: bool = False) -> None:
        """Do ``action`` (which makes the app run its script, or only a fragment of it when ``fragment``) and wait
        until the app is idle again; record the page response under ``name`` and the server's answer under ``SERVER``.

        The server's answer is the run's ``script_finished`` message arriving on the websocket. The
        page is idle by the rule of tests.browser.helpers.wait_idle (``_IDLE``: 250 ms idle after a
        run), told from here that the run happened: a loaded browser handles a whole run's messages
        in one go, and then never shows the "running" state that wait_idle looks for.
        """
        self.tally.requests += 1
        page, counter = self.page, "fragment_runs_done" if fragment else "runs_done"
        runs = getattr(self, counter)
        start = time.monotonic()
        await action()
        while getattr(self, counter) == runs:
            if time.monotonic() - start > self.timeout_ms / 1000:
                raise PlaywrightTimeout(f"no script run ended within {self.timeout_ms / 1000:.0f} s")
            await asyncio.sleep(0.05)
        self.tally.times.setdefault(SERVER, []).append(self.run_ended - start)
        await page.evaluate("window.__cnnvizIdleSince = null; window.__cnnvizSawRun = true")
        await page.wait_for_function(_IDLE, arg=[250, 250], timeout=self.timeout_ms, polling=50)
        idle_for = await page.evaluate(IDLE_FOR_JS) / 1000
        self.tally.times.setdefault(name, []).append(max(0.0, time.monotonic() - start - idle_for))

    def _watch(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._frame)

    def _frame(self, payload: bytes | str) -> None:
        """Count the script runs that end (a ForwardMsg ``script_finished``, fragment runs counted apart)."""
        if isinstance(payload, bytes):
            msg = ForwardMsg.FromString(payload)
            if msg.WhichOneof("type") == "script_finished" and msg.script_finished in RUN_ENDS:
                self.runs_done, self.run_ended = self.runs_done + 1, time.monotonic()
            elif msg.WhichOneof("type") == "script_finished" and msg.script_finished in FRAGMENT_ENDS:
                self.fragment_runs_done, self.run_ended = self.fragment_runs_done + 1, time.monotonic()

    async def goto(self, name: str, path: str, **query: Any) -> None:
        url = f"{self.app_url}/{path}" + ("?" + urlencode({k: str(v) for k, v in query.items()}) if query else "")
        self.kept_explorer = None  # a new page load is a new server session: nothing is kept
        # Back at the navigation's commit: timed() waits for the end of the new session's first run.
        await self.timed(name, lambda: self.page.goto(url, timeout=self.timeout_ms, wait_until="commit"))
        self.where = path or "home"

    async def step_up(self, key: str) -> None:
        """Click + on the number input whose widget key (its URL key) is ``key``."""
        await self.page.locator(f'.st-key-{key} [data-testid="stNumberInputStepUp"]').click()

    async def type_number(self, key: str, value: int) -> None:
        """Type ``value`` into the number input whose widget key is ``key`` and press Enter
        (narrow inputs, as the Layer lab's, have no + button)."""
        field = self.page.locator(f".st-key-{key} input")
        await field.fill(str(value))
        await field.press("Enter")

    async def check_page(self) -> None:
        """No exception box, traceback, error message, ignored link setting or another session's file."""
        page = self.page
        boxes = page.locator('[data-testid="stException"]')
        if await boxes.count():
            raise Failure("error", f"exception box: {(await boxes.first.inner_text())[:300]}")
        errors = page.locator('[data-testid="stAlertContentError"]')
        if await errors.count():
            raise Failure("error", f"error message: {(await errors.first.inner_text())[:300]}")
        text = await page.locator('[data-testid="stApp"]').inner_text()
        if re.search(r"\bTraceback\b", text):
            raise Failure("error", "a traceback is shown")
        if "Ignored the link's setting" in text:
            raise Failure("error", "the page ignored a setting of the link:"
                          + text.split("Ignored the link's setting", 1)[1].split("\n")[0][:120])
        foreign = {int(m.group(1)) for m in TOKEN.finditer(text)} - {self.index}
        if foreign:
            raise Failure("leak", f"the page shows files of session(s) {sorted(foreign)}")

    async def expect_metrics(self, expected: dict[str, str], claimed: str, what: str) -> None:
        """Wait for the ``expected`` metrics to be drawn (a loaded browser draws the last elements of a
        run late, and its first metric on a page only once the component's code has arrived).

        Once every metric is drawn, a value that stays wrong for ``STALE_S`` is a leak when another
        session claimed it under ``claimed``, else a mismatch; metrics not drawn in time, a timeout.
        """
        deadline, wrong_since = time.monotonic() + self.timeout_ms / 1000, None
        while True:
            shown = await self.page.evaluate(METRICS_JS)
            if all(shown.get(k) == v for k, v in expected.items()):
                return
            now = time.monotonic()
            if all(shown.get(k) for k in expected):
                wrong_since = wrong_since or now
                if now - wrong_since > STALE_S:
                    break
            if now > deadline:
                raise Failure("timeout", f"{what}: the metrics {sorted(expected)} were not drawn in time")
            await asyncio.sleep(0.25)
        wrong = {k: shown.get(k) for k, v in expected.items() if shown.get(k) != v}
        owners = {self.tally.claims.get((claimed, k, v)) for k, v in wrong.items()} - {None, self.index}
        kind = "leak" if owners else "mismatch"
        raise Failure(kind, f"{what}: expected {expected}, the page shows {wrong}"
                      + (f" (values of session(s) {sorted(owners)})" if owners else ""))

    # -- actions -----------------------------------------------------------------------------------
    def _pick_explorer(self, model: str) -> tuple[int, int, dict[str, str]]:
        """Random settings for ``model`` with a number of classes no other session uses: even for a
        link, so that one more (the + button) is unique too."""
        lo, hi = EXPLORER_MODELS[model]
        size, classes = self.rng.randint(lo, hi), 10 + 2 * self.tally.next_serial()
        return size, classes, self._claim_explorer(model, size, classes)

    def _claim_explorer(self, model: str, size: int, classes: int) -> dict[str, str]:
        expected = explorer_numbers(model, size, classes)
        self.tally.claim(("explorer", "Output", expected["Output"]), self.index)
        return expected

    async def explorer(self) -> None:
        model = self.rng.choice(sorted(EXPLORER_MODELS))
        size, classes, expected = self._pick_explorer(model)
        await self.goto("explorer link", "explorer", ex_model=model, ex_input_size=size, ex_num_classes=classes)
        await self.check_page()
        await self.expect_metrics(expected, "explorer", "explorer link")
        caption = f"settings changed: input_size={size}, num_classes={classes}"
        if caption not in await self.page.locator('[data-testid="stMain"]').inner_text():
            raise Failure("mismatch", f"explorer: the caption does not say {caption!r}")
        self.kept_explorer = expected
        expected = self._claim_explorer(model, size, classes + 1)
        await self.timed("explorer widget", lambda: self.step_up("ex_num_classes"))
        await self.check_page()
        await self.expect_metrics(expected, "explorer", "explorer widget")
        self.kept_explorer = expected

    def _pick_layer(self) -> tuple[tuple[int, ...], dict[str, str]]:
        """A random conv layer with a number of filters K no other session uses (even: K + 1 is unique too)."""
        while True:
            cfg = (self.rng.randint(8, 256), self.rng.randint(1, 64), self.rng.choice((1, 3, 5, 7)),
                   2 + 2 * (self.tally.next_serial() % 2000), self.rng.randint(1, 3), self.rng.randint(0, 3))
            try:
                expected = layer_numbers(*cfg)
            except ConfigError:
                continue
            h, c, f, k, s, p = cfg
            if self.tally.claim(("layer lab", "Output volume", expected["Output volume"]), self.index) and \
                    self.tally.claim(("layer lab", "Output volume", layer_numbers(h, c, f, k + 1, s, p)["Output volume"]),
                                     self.index):
                return cfg, expected

    async def layer_lab(self) -> None:
        cfg, expected = self._pick_layer()
        h, c, f, k, s, p = cfg
        await self.goto("layer lab link", "layer_lab", ll_sec=CONV, ll_kind="conv", ll_h=h, ll_w=h, ll_c=c,
                        ll_f=f, ll_k=k, ll_s=s, ll_pad="number", ll_p=p)
        await self.check_page()
        await self.expect_metrics(expected, "layer lab", "layer lab link")
        expected = layer_numbers(h, c, f, k + 1, s, p)
        await self.timed("layer lab widget", lambda: self.type_number("ll_k", k + 1), fragment=True)
        await self.check_page()
        await self.expect_metrics(expected, "layer lab", "layer lab widget")

    async def upload(self) -> None:
        await self.goto("inside link", "inside", in_model="lenet5", in_src="upload")
        await self.check_page()
        self.uploads += 1
        name = f"load-s{self.index:02d}-{self.uploads}.png"
        self.tally.claim(("upload", name), self.index)
        files = {"name": name, "mimeType": "image/png", "buffer": png_for(self.index, self.uploads)}
        uploader = self.page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        await self.timed("inside upload", lambda: uploader.set_input_files(files, timeout=self.timeout_ms))
        await self.check_page()
        # the image shown as the model's input, captioned with its file (and its own size when it was resized)
        caption = self.page.get_by_text(re.compile(r"^load-s\d+-\d+\.png( \(\d+x\d+\))?: \d+x\d+ pixels"))
        await caption.first.wait_for()
        shown = (await caption.first.inner_text()).split(":")[0].split(" (")[0]
        if shown != name:
            owner = self.tally.claims.get(("upload", shown))
            raise Failure("leak" if owner not in (None, self.index) else "mismatch",
                          f"inside: expected the model input {name}, the page shows {shown}")
        await self.page.locator('[data-testid="stPlotlyChart"]').first.wait_for()  # prediction or maps

    async def training(self) -> None:
        """A tiny run (LeNet-5, one epoch of two batches) whose number of training images is the session's."""
        batch = 50 + self.tally.next_serial()
        self.tally.claim(("training", batch * 2), self.index)
        await self.goto("training link", "training", tr_part="Train", tr_ds="mnist", tr_model="lenet5", tr_ep=1,
                        tr_bs=batch, tr_subset=2 * batch, tr_seed=self.index)
        await self.check_page()
        button = self.page.locator('[data-testid="stBaseButton-primary"]').filter(has_text="Train", visible=True)
        start = time.monotonic()
        await self.timed("training start", lambda: button.first.click())
        done = self.page.get_by_text(re.compile(r"training images seen")).or_(
            self.page.locator('[data-testid="stAlertContentError"]'))
        await done.first.wait_for(timeout=self.timeout_ms * 2)  # queued behind other runs at worst
        self.tally.jobs.append(time.monotonic() - start)
        await self.check_page()
        seen = await self.page.get_by_text(re.compile(r"training images seen")).first.inner_text()
        found = re.search(r"([\d,]+) training images seen", seen)
        images = int(found.group(1).replace(",", "")) if found else None
        if images != 2 * batch:
            owner = self.tally.claims.get(("training", images))
            kind = "leak" if owner not in (None, self.index) else "mismatch"
            raise Failure(kind, f"training: expected a run on {2 * batch} images, the page shows {seen[:200]!r}"
                          + (f" (the run of session {owner})" if kind == "leak" else ""))

    async def navigate(self) -> None:
        """Another page by the sidebar; then, if the session set up the explorer, back to it: still its own."""
        links = self.page.locator('[data-testid="stSidebarNav"] a')
        titles = [t.split("\n")[-1].strip() for t in await links.all_inner_texts()]
        if not titles:
            raise Failure("error", "no page navigation in the sidebar")
        for title in (self.rng.choice([t for t in titles if t != EXPLORER]), EXPLORER):
            if title == EXPLORER and not self.kept_explorer:
                break
            await self.timed("navigate", lambda: links.filter(has_text=title).first.click())
            await self.check_page()
            self.where = urlsplit(self.page.url).path.strip("/") or "home"
        if self.where == "explorer":
            await self.expect_metrics(self.kept_explorer, "explorer", "explorer after navigation")

    # -- the loop ----------------------------------------------------------------------------------
    def next_action(self) -> tuple[str, Callable[[], Awaitable[None]]]:
        """Home first (and after a failure); then every action in rounds (shuffled after the first)."""
        if not self.where:
            return "home", lambda: self.goto("home", "")
        if not self.deck:
            self.deck = list(DECK)
            self.rng.shuffle(self.deck)
        name = self.deck.pop()
        return name, getattr(self, name.replace(" ", "_"))

    async def run(self) -> None:
        context = await new_context(self.browser, self.timeout_ms)
        try:
            while time.monotonic() < self.deadline:
                if self.page is None or self.crashed:
                    await self._new_page(context)
                name, action = self.next_action()
                try:
                    await action()
                    if self.crashed:
                        raise Failure("error", "the browser page crashed")
                except Failure as exc:
                    await self._fail(name, exc.kind, str(exc))
                except PlaywrightTimeout as exc:
                    lines = str(exc).splitlines()
                    await self._fail(name, "timeout", " / ".join(lines[:1] + lines[-2:]))
                except PlaywrightError as exc:
                    await self._fail(name, "error", str(exc).splitlines()[0])
        finally:
            await context.close()

    async def _new_page(self, context: BrowserContext) -> None:
        if self.page is not None:
            await self.page.close()
        self.page, self.crashed = await context.new_page(), False
        self.page.on("crash", lambda _: setattr(self, "crashed", True))
        self.page.on("websocket", self._watch)

    async def _fail(self, action: str, kind: str, message: str) -> None:
        """Count the failure, with the app's state and (for the first few) a screenshot; reload next."""
        self.where, self.kept_explorer = "", None
        number = len(self.tally.failures) + 1
        try:
            state = await asyncio.wait_for(self.page.evaluate(STATE_JS), 10)
            message += f" [at {self.page.url}, app (connection, script): {state}]"
            if number <= MAX_SHOTS:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shot = SCREENSHOTS / f"load-failure-{number}.png"
                await self.page.screenshot(path=str(shot), timeout=30_000)
                message += f" [screenshot {shot.relative_to(SCREENSHOTS.parents[1])}]"
        except (PlaywrightError, asyncio.TimeoutError):
            pass  # a crashed or hung page: the failure itself is what counts
        self.tally.failures.append((self.index, action, kind, message[:600]))


# -- the whole test --------------------------------------------------------------------------------
def _quantile(values: list[float], q: float, digits: int = 2) -> float | None:
    """The ``q`` quantile (0.5: median, 1: maximum) rounded; None without values."""
    if len(values) < 2 or q >= 1:
        return round(max(values), digits) if values else None
    return round(statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1], digits)


async def _warm_up(browser: Browser, app_url: str, timeout_s: float,
                   visits: tuple[tuple[str, dict[str, str]], ...] = WARM_UP) -> None:
    """The lecturer's visit before class: the home page, the inside page, which loads (or first
    trains) its LeNet-5 weights, and the training page, which starts the job workers (so the memory
    measured at the start counts them)."""
    context = await new_context(browser, timeout_s * 1000)
    student = Student(-1, browser, app_url, Tally(), 0, timeout_s, 0)
    await student._new_page(context)
    for path, query in visits:
        await student.goto("warm-up", path, **query)
        await student.check_page()
    await context.close()


async def _settle(pid: int | None, window: int = 5, tolerance: int = 8 * MiB, timeout_s: float = 120) -> None:
    """Wait until the server's memory holds still (``window`` one-second samples within ``tolerance``): the job
    workers the warm-up started import torch and warm up for several seconds, and a baseline taken before they
    are done counts their start-up as growth."""
    values: list[int] = []
    deadline = time.monotonic() + timeout_s
    while pid and time.monotonic() < deadline:
        values.append(await asyncio.to_thread(tree_memory, pid))
        if len(values) >= window and max(values[-window:]) - min(values[-window:]) <= tolerance:
            return
        await asyncio.sleep(1.0)


async def _run(app_url: str, sessions: int, seconds: float, timeout_s: float, after_s: float,
               seed: int) -> dict[str, Any]:
    port = urlsplit(app_url).port
    pid = server_pid(port) if port else None
    memory = MemorySampler(pid)
    tally = Tally()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                                   args=CHROMIUM_ARGS)
        await _warm_up(browser, app_url, timeout_s)
        await _settle(pid)
        state_start = await asyncio.to_thread(server_state, app_url)
        mem_start = memory.sample()
        memory.start()
        cpu_start = cpu_snapshot(pid)
        start = time.monotonic()
        students = [Student(i, browser, app_url, tally, start + seconds, timeout_s, seed) for i in range(sessions)]

        async def arrive(student: Student, delay: float) -> None:
            await asyncio.sleep(delay)
            await student.run()

        ramp = min(10.0, seconds / 6)  # the class arrives within a few seconds
        await asyncio.gather(*(arrive(s, ramp * i / sessions) for i, s in enumerate(students)))
        wall = time.monotonic() - start
        cpu = [b - a for a, b in zip(cpu_start, cpu_snapshot(pid))]
        await memory.stop()
        mem_end = memory.sample()
        state_end = await asyncio.to_thread(server_state, app_url)
        if after_s:
            # Streamlit keeps a closed tab's session for reconnection (server.disconnectedSessionTTL,
            # 2 minutes) and drops expired ones when another session connects: one visitor does.
            await asyncio.sleep(max(0.0, after_s - 10))
            await _warm_up(browser, app_url, timeout_s, WARM_UP[:1])
            await asyncio.sleep(min(10.0, after_s))
        mem_after = memory.sample()
        state_after = await asyncio.to_thread(server_state, app_url)
        await browser.close()
    server = tally.times.pop(SERVER, [])
    times = [t for ts in tally.times.values() for t in ts]
    kinds = {name: sum(1 for f in tally.failures if f[2] == kind) for kind, name in KINDS.items()}
    mid = [v for t, v in memory.samples if t <= start + wall / 2]
    return {
        "sessions": sessions, "seconds": seconds, "wall_s": round(wall, 1), "cpu_cores": os.cpu_count(),
        "load_avg": round(os.getloadavg()[0], 1), "requests": tally.requests, "errors": len(tally.failures),
        **kinds,
        "failures": [f"session {s} {a}: {k}: {m}" for s, a, k, m in tally.failures[:20]],
        "p50_s": _quantile(times, 0.50), "p95_s": _quantile(times, 0.95), "max_s": _quantile(times, 1.0),
        "server_p50_s": _quantile(server, 0.50), "server_p95_s": _quantile(server, 0.95),
        "by_action": {name: {"n": len(ts), "p50_s": _quantile(ts, 0.5), "p95_s": _quantile(ts, 0.95)}
                      for name, ts in sorted(tally.times.items())},
        "training_runs": len(tally.jobs), "training_p50_s": _quantile(tally.jobs, 0.5, 1),
        "training_max_s": _quantile(tally.jobs, 1.0, 1),
        "cpu_server_s": round(cpu[0]), "cpu_browser_s": round(cpu[1]),
        "server_cpu_per_request_s": round(cpu[0] / tally.requests, 2) if tally.requests else None,
        "cpu_other_s": round(max(0.0, cpu[2] - cpu[0] - cpu[1])), "cpu_available_s": round(wall * (os.cpu_count() or 1)),
        "server_pid": pid, "mem_start_mb": round(mem_start / MiB), "mem_mid_mb": round(max(mid, default=0) / MiB),
        "mem_peak_mb": round(max((v for _, v in memory.samples), default=0) / MiB),
        "mem_end_mb": round(mem_end / MiB), "mem_after_mb": round(mem_after / MiB), "after_s": after_s,
        "mem_server_start_mb": round(memory.server[0] / MiB), "mem_server_peak_mb": round(max(memory.server) / MiB),
        "mem_server_after_mb": round(memory.server[-1] / MiB),
        "uss_start_mb": round(memory.private[0][0] / MiB),
        "uss_peak_mb": round(max(u for u, _ in memory.private) / MiB),
        "uss_after_mb": round(memory.private[-1][0] / MiB), "uss_server_start_mb": round(memory.private[0][1] / MiB),
        "uss_server_after_mb": round(memory.private[-1][1] / MiB),
        "server_state": {"start": state_start, "end": state_end, "after": state_after},
    }


def run_load(app_url: str, sessions: int = 5, seconds: float = 60, timeout_s: float = 120, after_s: float = 15,
             seed: int = 0) -> dict[str, Any]:
    """Drive ``sessions`` students against the app at ``app_url`` for ``seconds``; return the figures.

    Runs in its own thread with its own event loop, so it also works next to pytest's sync playwright.
    """
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["result"] = asyncio.run(_run(app_url, sessions, seconds, timeout_s, after_s, seed))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=main, name="cnnviz-load")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def report(result: dict[str, Any]) -> str:
    """The figures as a few lines of text."""
    r = result
    lines = [
        f"{r['sessions']} sessions for {r['seconds']:.0f} s (wall {r['wall_s']} s, {r['cpu_cores']} cores, "
        f"load average {r['load_avg']})",
        f"requests {r['requests']}, errors {r['errors']} (error or exception shown {r['page_errors']}, timeouts "
        f"{r['timeouts']}, wrong numbers "
        f"{r['mismatches']}, another session's results {r['leaks']})",
        f"page response p50 {r['p50_s']} s, p95 {r['p95_s']} s, max {r['max_s']} s (server answer p50 "
        f"{r['server_p50_s']} s, p95 {r['server_p95_s']} s)",
        "  " + "; ".join(f"{name}: {v['n']} x, p50 {v['p50_s']} s, p95 {v['p95_s']} s"
                         for name, v in r["by_action"].items()),
        f"training runs {r['training_runs']}: Train to result p50 {r['training_p50_s']} s, max "
        f"{r['training_max_s']} s (queued behind other runs; not in the page response figures)",
        f"CPU seconds: server {r['cpu_server_s']} ({r['server_cpu_per_request_s']} per request), browser and driver "
        f"{r['cpu_browser_s']}, other processes {r['cpu_other_s']}, of {r['cpu_available_s']} available "
        f"({r['cpu_cores']} cores x wall time)",
        f"server memory (PSS of its process tree, pid {r['server_pid']}): start {r['mem_start_mb']} MiB, peak {r['mem_peak_mb']} MiB "
        f"(first half {r['mem_mid_mb']} MiB), end {r['mem_end_mb']} MiB, {r['after_s']:.0f} s after the sessions "
        f"closed {r['mem_after_mb']} MiB; the web server alone: start {r['mem_server_start_mb']} MiB, peak "
        f"{r['mem_server_peak_mb']} MiB, after {r['mem_server_after_mb']} MiB; its job workers: start "
        f"{r['mem_start_mb'] - r['mem_server_start_mb']} MiB, after {r['mem_after_mb'] - r['mem_server_after_mb']} MiB",
        f"private memory (USS, the processes' own pages): start {r['uss_start_mb']} MiB, peak {r['uss_peak_mb']} MiB, "
        f"after {r['uss_after_mb']} MiB; the web server alone: start {r['uss_server_start_mb']} MiB, after "
        f"{r['uss_server_after_mb']} MiB",
    ]
    for when, state in r["server_state"].items():
        if state:
            lines.append(f"  server state {when}: " + ", ".join(f"{k.replace('_mb', '')} {v}"
                                                            + (" MiB" if k.endswith("_mb") else "")
                                                            for k, v in state.items()))
    lines += [f"  ! {f}" for f in r["failures"]]
    return "\n".join(lines)
