"""Screenshots of a page in headless Chromium, driven over the DevTools *pipe* (no debugging port is opened).

Used by the browser test (tests/test_viz_browser.py) and the README's screenshot. Chromium renders the Rerun
web viewer with its software rasterizer (SwiftShader): a fresh page takes about 10-15 s on 2 CPU cores.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The Chromium binary (Debian's real binary first: /usr/bin/chromium is a shell wrapper), or None."""
    for name in CANDIDATES:
        path = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One headless Chromium, one tab, commands over fds 3/4 (``--remote-debugging-pipe``).

    Args:
        width, height: the window size (the screenshot's size).
        binary: the browser (default: :func:`find_chromium`).
    """

    def __init__(self, width: int = 1280, height: int = 800, binary: str | None = None) -> None:
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise FileNotFoundError("no Chromium found (Debian: apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="vlm_robot_chromium_")
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()

        def child_fds() -> None:  # the pipe ends become fds 3 (commands in) and 4 (replies out)
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [self.binary, "--headless=new", "--no-sandbox", "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
                "--hide-scrollbars", "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)

    def call(self, method: str, params: dict | None = None, session: bool = False, timeout_s: float = 30.0) -> dict:
        """Send one DevTools command and wait for its reply (events in between are skipped)."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:
                    if "error" in reply:
                        raise RuntimeError(f"chromium: {method} failed: {reply['error']}")
                    return reply.get("result", {})
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError(f"chromium: no reply to {method} within {timeout_s:.0f} s "
                                   f"(exit code {self.proc.poll()})")
            ready, _, _ = select.select([self._from_r], [], [], 0.5)
            if ready:
                chunk = os.read(self._from_r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium closed the DevTools pipe (exit code {self.proc.poll()})")
                self._buf += chunk

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, session=True)

    def screenshot(self) -> bytes:
        """The tab as PNG bytes."""
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"])

    def screenshot_when(self, done: Callable[[bytes], bool], timeout_s: float = 60.0, every_s: float = 2.0) -> bytes:
        """Screenshots every ``every_s`` until ``done(png)`` or ``timeout_s``; the last one either way."""
        deadline = time.monotonic() + timeout_s
        while True:
            time.sleep(every_s)
            png = self.screenshot()
            if done(png) or time.monotonic() > deadline:
                return png

    def close(self) -> None:
        """Stop the browser by its pid and remove its profile."""
        for fd in (self._to_w, self._from_r):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def save_png(png: bytes, path: Path, width: int | None = None) -> Path:
    """Write ``png`` to ``path``; with ``width``, scaled to that many pixels wide and reduced to a 128-colour palette
    (a small file for the README)."""
    import io

    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if width is None:
        path.write_bytes(png)
        return path
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
    img.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path
