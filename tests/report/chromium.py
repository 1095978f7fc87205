"""A real headless Chromium for the site tests, driven over the DevTools protocol with the standard library only
(a minimal websocket client: the handshake, masked text frames out, text/continuation/ping/close frames in).

`make test` installs Debian's `chromium` when it is missing. Clicks are real input events (Input.dispatchMouseEvent
at the element's centre, after checking that the element is what the point hits), typing is Input.insertText.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--mute-audio", "--remote-debugging-port=0")
TIMEOUT_S = 30.0
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455


def find_chromium() -> str | None:
    """The Chromium executable on PATH (Debian: chromium), or None."""
    return next((path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None)


class WebSocket:
    """A client websocket carrying text messages (RFC 6455, no extensions)."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        if b" 101 " not in head.split(b"\r\n", 1)[0] or accept.encode() not in head:
            raise ConnectionError(f"websocket handshake refused: {head[:200]!r}")

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("websocket closed by the browser")
            data += chunk
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def receive(self) -> str:
        """The next text message (fragments joined; pings answered)."""
        message = b""
        while True:
            first, second = self._exact(2)
            opcode, n = first & 0x0F, second & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", self._exact(2))
            elif n == 127:
                (n,) = struct.unpack(">Q", self._exact(8))
            mask = self._exact(4) if second & 0x80 else b""
            payload = self._exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1):
                message += payload
                if first & 0x80:
                    return message.decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, b"")
        self.sock.close()


class Page:
    """One tab: DevTools calls, the events they bring, and a few actions built on them."""

    def __init__(self, socket_: WebSocket) -> None:
        self.socket = socket_
        self.events: list[dict[str, Any]] = []
        self._next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        self.socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.receive())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        """The first kept or arriving `event` (removed from the kept ones)."""
        deadline = time.monotonic() + timeout
        while True:
            for index, kept in enumerate(self.events):
                if kept["method"] == event:
                    return self.events.pop(index)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event} within {timeout} s")
            self.events.append(json.loads(self.socket.receive()))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (an exception in it fails here)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} raised {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        """Open `url` and wait until it has loaded."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def click(self, selector: str) -> None:
        """A real left click at the centre of the first element matching `selector` (scrolled into view)."""
        found = self.evaluate(f"""(() => {{
            const element = document.querySelector({json.dumps(selector)});
            if (!element) return null;
            element.scrollIntoView({{block: "center", inline: "center"}});
            const box = element.getBoundingClientRect();
            const x = box.left + box.width / 2, y = box.top + box.height / 2;
            const hit = document.elementFromPoint(x, y);
            return {{x, y, hits: hit === element || element.contains(hit)}};
        }})()""")
        assert found is not None, f"no element {selector}"
        assert found["hits"], f"{selector} is covered by another element at its centre"
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=found["x"], y=found["y"], button="left",
                      clickCount=0 if kind == "mouseMoved" else 1)

    def type_text(self, selector: str, text: str) -> None:
        """Click into a field and type `text` into it (an `input` event per insertion)."""
        self.click(selector)
        self.call("Input.insertText", text=text)

    def screenshot(self, width: int, height: int) -> bytes:
        """A PNG of the viewport at `width` x `height` CSS pixels (mobile emulation below 600 px)."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 600)
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def errors(self) -> list[str]:
        """Console errors, failed loads and uncaught exceptions seen so far."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                found.append(str(params.get("exceptionDetails", {}).get("text")))
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        return found


def _port(profile: Path, process: subprocess.Popen, timeout: float) -> int:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode} before DevTools was up")
        if active.is_file() and (lines := active.read_text().splitlines()):
            return int(lines[0])
        time.sleep(0.05)
    raise TimeoutError(f"chromium did not open its DevTools port within {timeout} s")


@contextlib.contextmanager
def chromium(executable: str, profile: Path, timeout: float = TIMEOUT_S) -> Iterator[Page]:
    """Start a headless Chromium with an empty profile in `profile`; its first tab, ready for Page/Runtime/Log
    events. The browser is stopped on exit."""
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket_ = None
    try:
        port = _port(profile, process, timeout)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never goes via a proxy
        with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as response:
            targets = json.loads(response.read())
        tab = next(t for t in targets if t.get("type") == "page")
        socket_ = WebSocket(tab["webSocketDebuggerUrl"], timeout)
        page = Page(socket_)
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        yield page
    finally:
        if socket_ is not None:
            socket_.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
