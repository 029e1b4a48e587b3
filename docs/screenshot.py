"""Build the documentation site, serve it on localhost and screenshot two pages with headless Chromium.

    python docs/screenshot.py [OUT_DIR]

Writes ``home.png`` (the home page) and ``decomposition.png`` (the decomposition page, which is
heavy on math) into ``OUT_DIR`` (default: a new temporary folder) and prints their paths: look
at them to check that the theme, the navigation and the formulas render. Needs the ``docs``
extra and Chromium (Debian packages ``chromium`` and ``chromium-driver``), and ``libjs-katex`` for
the formulas to be typeset (see docs/_ext/hooks.py). Nothing is fetched
from the network; never commit the PNGs.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"home": "index.html", "decomposition": "decomposition.html"}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]


def build_site(site_dir: Path) -> None:
    """``mkdocs build --strict`` into ``site_dir``; exits with mkdocs' output if it fails."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}")


def serve(site_dir: Path) -> http.server.ThreadingHTTPServer:
    """Serve ``site_dir`` on an ephemeral localhost port, in a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # `format` shadows the builtin: the base class's signature
        pass


def screenshot(chromium: str, url: str, png: Path, *, window_size: str, profile: Path) -> None:
    """One headless Chromium screenshot of ``url`` into ``png``."""
    command = [
        chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
        f"--window-size={window_size}", "--virtual-time-budget=5000", url,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0 or not png.is_file():
        sys.exit(f"chromium failed on {url} (exit {proc.returncode}):\n{proc.stderr[-4000:]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="folder for the PNGs (default: a new temporary folder)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium", help="Chromium executable")
    parser.add_argument("--window-size", default="1280,1600", help="width,height in pixels (default 1280,1600)")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="miestim-docs-"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="miestim-site-") as tmp:
        site_dir, profile = Path(tmp) / "site", Path(tmp) / "chromium-profile"
        build_site(site_dir)
        server = serve(site_dir)
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}/"
            for name, page in PAGES.items():
                png = out / f"{name}.png"
                screenshot(args.chromium, base + page, png, window_size=args.window_size, profile=profile)
                print(png)
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
