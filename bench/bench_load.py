"""The classroom load test, full form: 20 students at once for 3 minutes against one server.

Starts the app the README way (``scripts/serve`` with PORT and ADDRESS, CNNVIZ_HOME in a temporary
folder), then drives one chromium with a browser context per student (tests/browser/loadtest.py says
what each does and checks): first one student alone (the reference), then all of them at once.
Prints requests, errors, p50/p95 page response and the server's memory, and the slowdown against
the lone student. Exits 1 on any error, wrong number or leak between sessions.

Run: ``.venv/bin/python bench/bench_load.py [--sessions 20] [--seconds 180] [--reference-seconds 30] [--after 150]``
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.loadtest import report, run_load  # noqa: E402
from tests.browser.server import ServerError, serve  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="students at once (default 20)")
    parser.add_argument("--seconds", type=float, default=180, help="how long they work (default 180)")
    parser.add_argument("--reference-seconds", type=float, default=30,
                        help="one student alone first, for the slowdown (default 30; 0: skip)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds before an action counts as an error")
    parser.add_argument("--after", type=float, default=150,
                        help="seconds to wait after the sessions closed before measuring memory again (default 150: "
                             "Streamlit keeps a closed tab's session 2 minutes for reconnection)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    if args.sessions < 1 or args.seconds <= 0 or args.timeout <= 0 or min(args.reference_seconds, args.after) < 0:
        parser.error("--sessions must be at least 1, --seconds and --timeout positive, the others >= 0")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server on the way out
    with tempfile.TemporaryDirectory(prefix="cnnviz-load-") as tmp:
        try:
            with serve(Path(tmp) / "home", Path(tmp) / "streamlit.log") as (server, url):
                print(f"server {url} (pid {server.pid}), load average {os.getloadavg()[0]:.1f} on "
                      f"{os.cpu_count()} cores")
                alone = None
                if args.reference_seconds:
                    alone = run_load(url, 1, args.reference_seconds, args.timeout, after_s=0)
                    print("== one student alone (the reference)\n" + report(alone))
                result = run_load(url, args.sessions, args.seconds, args.timeout, after_s=args.after)
                print(f"== {args.sessions} students at once\n" + report(result))
        except ServerError as exc:
            raise SystemExit(str(exc)) from None
    if alone is not None and alone["requests"] and result["requests"]:
        print(f"slowdown against one student: p50 x{result['p50_s'] / alone['p50_s']:.1f}, "
              f"p95 x{result['p95_s'] / alone['p95_s']:.1f}; throughput "
              f"{result['requests'] / result['wall_s'] * 60:.0f} requests/min against "
              f"{alone['requests'] / alone['wall_s'] * 60:.0f}")
    if args.json:
        print(json.dumps({"reference": alone, "load": result}, indent=2))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
