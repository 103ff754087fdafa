"""Open HTML files in headless Chromium over the DevTools protocol and collect what would go
wrong for a person opening them: uncaught exceptions (``Runtime.exceptionThrown``), console
errors and failed assertions (``Runtime.consoleAPICalled``), browser log entries of level error
(``Log.entryAdded``: a failed load, a refused script), and every request that leaves the file
(``Network.requestWillBeSent`` for a URL that is not ``file:``, ``data:``, ``about:`` or
``blob:``; a report must open offline). Then counts the plotly charts the page declares
(``.plotly-graph-div``) and those plotly drew (a ``.main-svg`` inside).

The protocol rather than ``--dump-dom`` and stderr: Chromium's stderr carries its own noise
(D-Bus, GPU) in the same format as console lines, and a dumped DOM says nothing of an exception.

No Chromium: the caller skips locally and fails on CI (``chromium_or_skip``), as the PostgreSQL
tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
_CHARTS_JS = ("JSON.stringify({divs: document.querySelectorAll('.plotly-graph-div').length, "
              "drawn: document.querySelectorAll('.plotly-graph-div .main-svg').length ? "
              "[...document.querySelectorAll('.plotly-graph-div')].filter(d => d.querySelector('.main-svg')).length : 0})")


def chromium_or_skip() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe:
        return exe
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (CI must run the browser tests, not skip them; .ci/run installs it)")
    pytest.skip("chromium is not installed")


@dataclass
class Page:
    """What one page did: error lines, requests that left the file, charts declared and drawn."""

    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    divs: int = 0
    drawn: int = 0


class _Cdp:
    """JSON-RPC over the browser's DevTools socket; events go to the page being watched."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.page: Page | None = None
        self.loaded = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[n] = fut
        msg: dict[str, Any] = {"id": n, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                fut = self.waiting.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            elif self.page is not None:
                self._event(self.page, msg["method"], msg.get("params", {}))

    def _event(self, page: Page, method: str, p: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            page.errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            page.errors.append(f"console.{p['type']}: " + " ".join(str(a.get("value", a.get("description", "")))
                                                                     for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            page.errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent" and not p["request"]["url"].startswith(LOCAL_SCHEMES):
            page.requests.append(p["request"]["url"])
        elif method == "Page.loadEventFired":
            self.loaded.set()


async def _open(cdp: _Cdp, path: Path, settle: float, draw_timeout: float) -> Page:
    page = Page(path.resolve().as_uri())
    target = (await cdp.call("Target.createTarget", url="about:blank"))["targetId"]
    session = (await cdp.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
    cdp.page = page
    for domain in ("Runtime", "Log", "Network", "Page"):
        await cdp.call(f"{domain}.enable", session)
    cdp.loaded.clear()
    await cdp.call("Page.navigate", session, url=page.url)
    await asyncio.wait_for(cdp.loaded.wait(), 30)
    deadline = asyncio.get_running_loop().time() + draw_timeout
    while True:  # plotly draws after load: wait until every declared chart has its svg
        got = await cdp.call("Runtime.evaluate", session, expression=_CHARTS_JS, returnByValue=True)
        counts = json.loads(got["result"]["value"])
        page.divs, page.drawn = counts["divs"], counts["drawn"]
        if page.drawn >= page.divs or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(settle)  # late errors (a timer, a failed request) still land on this page
    cdp.page = None
    await cdp.call("Target.closeTarget", targetId=target)
    return page


async def open_pages(paths: list[Path], *, settle: float = 0.3, draw_timeout: float = 15.0) -> list[Page]:
    """Open each file in turn in one headless Chromium; what each page did. A page whose charts
    are not all drawn ``draw_timeout`` s after its load event is reported as it stands."""
    exe = chromium_or_skip()
    with tempfile.TemporaryDirectory(prefix="tt-chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            url = await asyncio.wait_for(_devtools_url(proc), 30)
            async with connect(url, max_size=None, open_timeout=30) as ws:
                cdp = _Cdp(ws)
                try:
                    return [await _open(cdp, p, settle, draw_timeout) for p in paths]
                finally:
                    cdp.reader.cancel()
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def _devtools_url(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    while line := await proc.stderr.readline():
        m = re.search(rb"DevTools listening on (ws://\S+)", line)
        if m:
            # keep draining stderr so that Chromium never blocks on a full pipe
            asyncio.get_running_loop().create_task(_drain(proc.stderr))
            return m.group(1).decode()
    raise RuntimeError("chromium exited before it opened its DevTools port")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
