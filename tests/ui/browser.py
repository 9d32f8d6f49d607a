"""A headless Chromium for the dashboard tests, driven by Playwright with the system's browser.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, else the first ``chromium`` or
``chromium-browser`` on ``PATH``); Playwright never downloads one. Each test gets a fresh
profile directory. Every request the page makes to a host other than 127.0.0.1 is blocked and
recorded (:attr:`Browser.foreign`): the dashboard must work offline. After the test, any
Chromium process of that profile that outlived ``close()`` is killed by pid and fails the test.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def profile_pids(profile: Path) -> list[int]:
    """Live processes whose command line names ``profile`` (the browser and its helpers)."""
    needle = str(profile).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if needle in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


class Browser:
    """One Chromium with one page (``page``); ``foreign`` lists blocked requests to other hosts."""

    def __init__(self, profile: Path) -> None:
        executable = chromium_path()
        if executable is None:
            pytest.skip("no Chromium found (/usr/bin/chromium, or chromium on PATH): install it with "
                        "`apt-get install -y chromium` to run the dashboard's browser tests")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
        self.profile = profile
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self._pw = sync_playwright().start()
        try:
            self.context = self._pw.chromium.launch_persistent_context(
                str(profile), executable_path=executable, headless=True, args=FLAGS,
                viewport={"width": 1280, "height": 1000})
        except BaseException:
            self._pw.stop()
            raise
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", self._dialog)

    def _route(self, route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "about:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept()  # the action buttons ask for confirmation

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            self._pw.stop()
        left = profile_pids(self.profile)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        assert not left, f"Chromium processes outlived the test and were killed: {left}"
