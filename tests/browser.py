"""A small driver of headless Chromium for the web-map tests (no third-party package).

It starts Debian's ``chromium`` with the flags of ``shared/docs/browser.md`` and speaks
the DevTools protocol over ``--remote-debugging-pipe`` (NUL-separated JSON on file
descriptors 3 and 4), so it needs neither websockets nor Playwright. It records what a
test wants to assert on: uncaught exceptions, console errors, JavaScript dialogs
(``alert``) and every network request the page makes.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """Path of a chromium binary, or ``None`` when none is installed."""
    env = os.environ.get("TWIN_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    """Chromium did not answer, exited, or a DevTools command failed."""


class Chromium:
    """One headless Chromium with one page, driven through the DevTools pipe.

    Use as a context manager; it kills the browser and removes its profile on exit.
    """

    def __init__(self, executable: str, *, width: int = 1200, height: int = 800) -> None:
        self.width = width
        self.height = height
        self.events: list[dict[str, Any]] = []
        self._profile = tempfile.mkdtemp(prefix="twin-chromium-")
        self._responses: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        self.session: str | None = None
        self.stderr = b""
        cmd_r, cmd_w = os.pipe()  # we write commands, chromium reads fd 3
        res_r, res_w = os.pipe()  # chromium writes fd 4, we read

        def child_fds() -> None:  # runs in the child before exec
            a, b = os.dup(cmd_r), os.dup(res_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            executable,
            *FLAGS,
            f"--user-data-dir={self._profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(3, 4),
            preexec_fn=child_fds,  # the only way to place the pipes at fds 3 and 4
        )
        os.close(cmd_r)
        os.close(res_w)
        self._out = os.fdopen(cmd_w, "wb", buffering=0)
        self._in = os.fdopen(res_r, "rb", buffering=0)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._err_reader.start()

    # -- plumbing ------------------------------------------------------------------------
    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        chunks = []
        for line in self._proc.stderr:
            chunks.append(line)
        self.stderr = b"".join(chunks)

    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self._in.read(1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw.decode("utf-8"))
                if "id" in msg:
                    with self._lock:
                        q = self._responses.get(msg["id"])
                    if q is not None:
                        q.put(msg)
                else:
                    self.events.append(msg)
                    if msg.get("method") == "Page.javascriptDialogOpening":
                        # never leave the page blocked on an alert: dismiss it (recorded)
                        threading.Thread(
                            target=self.send,
                            args=("Page.handleJavaScriptDialog", {"accept": False}),
                            daemon=True,
                        ).start()

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 60.0,
        browser: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """Send one DevTools command (to the page unless ``browser``) and return its result."""
        with self._lock:
            self._next_id += 1
            msg_id = self._next_id
            q: queue.Queue[dict[str, Any]] = queue.Queue()
            self._responses[msg_id] = q
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if self.session and not browser:
            msg["sessionId"] = self.session
        try:
            self._out.write(json.dumps(msg).encode("utf-8") + b"\0")
        except OSError as exc:
            raise BrowserError(f"chromium is gone ({exc}); stderr:\n{self._tail()}") from exc
        try:
            reply = q.get(timeout=timeout)
        except queue.Empty:
            raise BrowserError(f"no answer to {method} in {timeout} s:\n{self._tail()}") from None
        finally:
            with self._lock:
                self._responses.pop(msg_id, None)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def _tail(self) -> str:
        return self.stderr.decode("utf-8", "replace")[-3000:]

    # -- page ----------------------------------------------------------------------------
    def open_page(self) -> None:
        """Create and attach to a fresh page, with the events this helper records."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
            browser=True,
        )  # fmt: skip
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )

    def navigate(self, url: str, *, timeout: float = 60.0) -> None:
        """Load ``url`` and wait for its load event."""
        start = len(self.events)
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == "Page.loadEventFired" for e in self.events[start:]):
                return
            time.sleep(0.05)
        raise BrowserError(f"{url} did not load in {timeout} s")

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (promises awaited)."""
        res = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in res:
            raise BrowserError(f"{expression!r} threw: {res['exceptionDetails']}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, *, timeout: float = 60.0) -> Any:
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise BrowserError(f"{expression!r} stayed falsy for {timeout} s")

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Save a PNG of the viewport."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        out = Path(path)
        out.write_bytes(base64.b64decode(data))
        return out

    def mouse_move(self, x: float, y: float) -> None:
        """Move the mouse to viewport pixel ``(x, y)``."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})

    def click(self, x: float, y: float) -> None:
        """Left click at viewport pixel ``(x, y)``."""
        self.mouse_move(x, y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )

    # -- what happened -------------------------------------------------------------------
    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and error log entries, as text."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"exception: {d.get('exception', {}).get('description') or d}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                args = [a.get("value", a.get("description", "")) for a in p.get("args", [])]
                out.append(f"console.{p['type']}: {' '.join(map(str, args))}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def dialogs(self) -> list[str]:
        """Messages of the JavaScript dialogs (alert, confirm, prompt) the page opened."""
        return [
            e["params"].get("message", "")
            for e in self.events
            if e.get("method") == "Page.javascriptDialogOpening"
        ]

    def requests(self) -> list[str]:
        """URLs of every request the page made."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop chromium (politely, then by force) and remove its profile."""
        try:
            if self._proc.poll() is None:
                try:
                    self.send("Browser.close", browser=True, timeout=5)
                except BrowserError:
                    pass
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=10)
        finally:
            for f in (self._out, self._in):
                try:
                    f.close()
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
