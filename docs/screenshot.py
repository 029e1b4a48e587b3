"""Look at the built documentation as a reader does: headless Chromium, driven over its DevTools pipe.

    python docs/screenshot.py [OUT_DIR] [--page NAME ...] [--window-size WIDTH,HEIGHT]

Builds the site (``mkdocs build --strict``) into a temporary folder, opens each page from disk
(``file://``, nothing is served or fetched) and writes ``NAME.png``, the first screen of the page,
into ``OUT_DIR`` (default: a new temporary folder); it prints the paths. Pages: ``home``
(index.html) and ``decomposition`` (decomposition.html, heavy on math); default both. Needs the
``docs`` extra and Chromium (the Debian package ``chromium``).

The screenshot in the repository, ``docs/assets/decomposition.png``, is made with

    python docs/screenshot.py docs/assets --page decomposition

``Chromium`` is also what ``tests/docs/test_rendered_math.py`` reads the rendered pages with.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"home": "index.html", "decomposition": "decomposition.html"}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
]


def build_site(site_dir: Path) -> None:
    """``mkdocs build --strict`` into ``site_dir``; raises with mkdocs' output if it fails."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"mkdocs build --strict failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")


def _above_9(fd: int) -> int:
    """The same open file under a descriptor number of 10 or more (``fd`` is closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """A headless Chromium spoken to over ``--remote-debugging-pipe`` (the DevTools protocol, no socket).

    Use as a context manager; ``open(url)`` loads a page in a new tab and returns its session,
    which ``evaluate`` and ``screenshot`` take. ``requests`` lists every URL the pages asked for.
    """

    def __init__(self, executable: str, *, profile: Path, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.requests: list[str] = []
        self._id = 0
        self._buffer = b""
        self._events: list[dict] = []
        to_browser, self._send_fd = os.pipe()
        self._recv_fd, from_browser = os.pipe()
        # Chromium reads commands from fd 3 and writes replies to fd 4. bash moves the pipes there from
        # numbers above 9, so that moving one cannot close the other (dash takes one-digit numbers only).
        to_browser, from_browser = (_above_9(fd) for fd in (to_browser, from_browser))
        redirect = f'exec "$@" 3<&{to_browser} 4>&{from_browser} {to_browser}<&- {from_browser}>&-'
        command = [*CHROMIUM_FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        self._proc = subprocess.Popen(
            ["bash", "-c", redirect, "bash", executable, *command],
            pass_fds=(to_browser, from_browser),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)

    def __enter__(self) -> Chromium:  # noqa: PYI034  (a final class: nothing subclasses it)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._call("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._send_fd)
        os.close(self._recv_fd)

    # ------------------------------------------------------------------ protocol
    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._recv_fd], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._recv_fd, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (status {self._proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if message.get("method") == "Network.requestWillBeSent":
            self.requests.append(message["params"]["request"]["url"])
        return message

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        request = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            request["sessionId"] = session
        os.write(self._send_fd, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._message(deadline)
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self._events.append(message)

    def _wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    del self._events[: i + 1]
                    return
            self._events.append(self._message(deadline))

    # ------------------------------------------------------------------ pages
    def open(self, url: str, *, width: int = 1280, height: int = 1100) -> str:
        """Load ``url`` in a new ``width`` x ``height`` tab; returns its session once the page has loaded."""
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page.enable", "Network.enable"):
            self._call(domain, session=session)
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self._call("Emulation.setDeviceMetricsOverride", metrics, session)
        navigation = self._call("Page.navigate", {"url": url}, session)
        if navigation.get("errorText"):
            raise RuntimeError(f"{url}: {navigation['errorText']}")
        self._wait_for("Page.loadEventFired", session)
        self.evaluate(session, "document.fonts.ready.then(() => true)")
        return session

    def evaluate(self, session: str, expression: str):
        """The value of the JavaScript ``expression`` in the page (a promise is awaited)."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        reply = self._call("Runtime.evaluate", params, session)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression!r} failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, session: str, png: Path) -> None:
        """The tab's visible area, as a PNG."""
        data = self._call("Page.captureScreenshot", {"format": "png"}, session)["data"]
        png.write_bytes(base64.b64decode(data))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="folder for the PNGs (default: a new temporary folder)")
    parser.add_argument("--page", action="append", choices=sorted(PAGES), help="a page to take (repeatable; default: all)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium", help="Chromium executable")
    parser.add_argument("--window-size", default="1280,1100", help="width,height in pixels (default 1280,1100)")
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.window_size.split(","))

    out = args.out or Path(tempfile.mkdtemp(prefix="miestim-docs-"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="miestim-site-") as tmp:
        site_dir = Path(tmp) / "site"
        build_site(site_dir)
        with Chromium(args.chromium, profile=Path(tmp) / "chromium-profile") as browser:
            for name in args.page or PAGES:
                png = out / f"{name}.png"
                browser.screenshot(browser.open((site_dir / PAGES[name]).as_uri(), width=width, height=height), png)
                print(png)


if __name__ == "__main__":
    main()
