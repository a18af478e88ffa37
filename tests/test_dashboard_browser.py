"""
The status page in a real headless browser: Chromium from the
distribution's packages (C{/usr/bin/chromium}), driven by Playwright
(C{pip install playwright}; the test extra has it; its own browser
downloads are not used).

Without Chromium or Playwright the test skips, saying what to install;
with C{CI=true} in the environment a missing one fails it instead (as
L{tests.postgres} does for PostgreSQL).

The ACS and its admin site run on this process's reactor, on 127.0.0.1;
the browser is driven from a thread (Playwright's synchronous API blocks),
which asks the reactor to connect the kiosk.
"""

import os
import shutil

from twisted.internet import reactor, threads
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SkipTest, TestCase

from sip2acs.ops.admin import makeSite
from tests.fixtures import makeAccount, makeConfig
from tests.loopback import LoopbackServer

CHROMIUM = os.environ.get("SIP2ACS_CHROMIUM", "/usr/bin/chromium")
INSTALL = "apt-get install chromium, and pip install playwright"
ACCOUNT = "browser-kiosk-7"
BROWSER_TIMEOUT = 30.0


def unavailable() -> str | None:
    """
    Why the browser test cannot run here, or L{None}.
    """
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return "no Chromium at %s (%s)" % (CHROMIUM, INSTALL)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (%s)" % (INSTALL,)
    return None


def skipOrFail(reason: str) -> SkipTest:
    """
    L{SkipTest}, or in CI (C{CI=true}) a failure.

    @raise RuntimeError: In CI.
    """
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true and %s" % (reason,))
    return SkipTest(reason)


def browse(url: str, connectKiosk, screenshot: str) -> dict:
    """
    Open the status page, check it, have a kiosk connect, and wait for the
    page to refresh itself and show it. Runs in a thread.

    @param connectKiosk: Called (in this thread) to connect and log in a
        kiosk; returns once it is logged in.
    @return: What the page showed: C{title}, C{listener} (the first
        listener row's text), C{kiosk} (the kiosk row's text once shown),
        C{consoleErrors}.
    """
    from playwright.sync_api import sync_playwright

    seen: dict = {"consoleErrors": []}
    timeout = BROWSER_TIMEOUT * 1000
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on(
                "console",
                lambda m: seen["consoleErrors"].append(m.text) if m.type == "error" else None,
            )
            page.goto(url, timeout=timeout)
            seen["title"] = page.title()
            seen["listener"] = page.locator("#listeners tbody tr").first.inner_text()
            seen["before"] = page.locator("#kiosks").inner_text()
            connectKiosk()
            page.locator("#kiosks td", has_text=ACCOUNT).first.wait_for(timeout=timeout)
            seen["kiosk"] = page.locator("#kiosks tbody tr").first.inner_text()
            seen["accounts"] = page.locator("#accounts").inner_text()
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    return seen


class BrowserTests(TestCase):
    timeout = 120

    @inlineCallbacks
    def test_pageRefreshesWithKiosk(self) -> None:
        """
        The page renders in Chromium (title, the listener's row), and once
        a kiosk logs in over a real socket, the page's own refresh shows
        its account without a reload; a screenshot is saved.
        """
        reason = unavailable()
        if reason is not None:
            raise skipOrFail(reason)
        acs = LoopbackServer(self, config=makeConfig(accounts=[makeAccount(ACCOUNT, "pw")]))
        site = makeSite(acs.server, reactor)
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        url = "http://127.0.0.1:%d/" % (port.getHost().port,)
        screenshot = os.path.abspath(self.mktemp() + ".png")

        def connectKiosk() -> None:
            threads.blockingCallFromThread(reactor, acs.loggedIn, ACCOUNT, "pw")

        seen = yield threads.deferToThread(browse, url, connectKiosk, screenshot)
        self.assertRegex(seen["title"], r"\Asip2acs \S+ on \S+\Z")
        self.assertIn("tcp:0:interface=127.0.0.1", seen["listener"])
        self.assertIn("raw", seen["listener"])
        self.assertIn("No SC is connected.", seen["before"])
        self.assertIn(ACCOUNT, seen["kiosk"])
        self.assertIn("DEMO", seen["kiosk"])
        self.assertIn(ACCOUNT, seen["accounts"])
        self.assertEqual(seen["consoleErrors"], [])
        self.assertGreater(os.path.getsize(screenshot), 10000)
        if os.environ.get("SIP2ACS_SCREENSHOT"):
            shutil.copy(screenshot, os.environ["SIP2ACS_SCREENSHOT"])
