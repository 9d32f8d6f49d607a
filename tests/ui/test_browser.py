"""The dashboard in a real headless Chromium, over the store of a real Runner.

The workflows run on a Runner (real worker processes) while the page is open: the list shows
them, a failed workflow's page shows its traceback and a failed node, a running one shows its
pending node, the buttons stop, resume and cancel (checked in the store and on the page), the
page follows a run live, values show on hover, and text chosen by a workflow stays text. No
request leaves 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest

import runic
from runic.cli.context import Settings
from runic.runner import Runner
from runic.store import MnesiaStore
from runic.ui import Dashboard, GivenRunner, MnesiaSource

from ..waiting import wait_for
from . import flows
from .browser import Browser
from .conftest import HOSTILE_ID, HOSTILE_VALUE

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                             "(pip install -e '.[test]')").expect
expect.set_options(timeout=30_000)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def runner(actor_system, store_dir: Path) -> Iterator[Runner]:
    r = Runner.start_link(name="runic", store=MnesiaStore, store_opts={"dir": str(store_dir)}, recover="manual",
                          system=actor_system, timeout=60)
    try:
        yield r
    finally:
        r.shutdown()


@pytest.fixture
def ui(runner: Runner, store_dir: Path) -> Iterator[Dashboard]:
    with Dashboard(MnesiaSource(Settings(str(store_dir), "runic")), port=0, runners=GivenRunner(runner)) as dash:
        yield dash


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    b = Browser(tmp_path / "chromium-profile")
    try:
        yield b
        assert b.foreign == [], f"the page asked for files from other hosts: {b.foreign}"
        assert b.errors == [], f"the page raised: {b.errors}"
    finally:
        b.close()


def store_status(store_dir: Path, wid: str) -> str | None:
    with MnesiaStore("runic", dir=store_dir) as store:
        return store.status(wid)


def open_workflow(browser: Browser, ui: Dashboard, wid: str) -> None:
    browser.page.goto(ui.url + "workflows/" + quote(wid, safe=""))
    browser.page.wait_for_selector("svg.wf-graph g.node")


def test_the_list_shows_the_workflows_of_a_runners_store(runner, ui, browser):
    runner.start_workflow("good", flows.shop(), input=flows.ORDER)
    runner.start_workflow("bad", flows.failing_shop(), input=flows.ORDER)
    runner.start_workflow("long", flows.chain(200), input=0)
    assert runner.await_idle("good", timeout=60) == "idle"
    assert runner.await_idle("bad", timeout=60, raise_on_failure=False) == "failed"
    page = browser.page
    page.goto(ui.url)
    for wid, st in (("good", "idle"), ("bad", "failed"), ("long", "running")):
        row = page.locator(f'tr[data-id="{wid}"]')
        row.wait_for()
        assert row.locator(".badge").inner_text() == st
        assert row.locator("td.owner").inner_text().startswith("runic/runic.host-")
    assert page.locator('tr[data-id="bad"] td').nth(1).inner_text() == "failing shop"
    page.locator('label.st-failed input').check()  # filter: failed only
    expect(page.locator("#rows tr")).to_have_count(1)
    assert page.locator("#rows tr").get_attribute("data-id") == "bad"
    assert "status=failed" in page.url
    page.locator('label.st-failed input').uncheck()
    page.fill("#q", "lon")
    expect(page.locator('#rows tr[data-id="long"]')).to_have_count(1)
    expect(page.locator("#rows tr")).to_have_count(1)
    page.locator('#rows a').click()
    page.wait_for_url("**/workflows/long")
    assert page.locator("#wid").inner_text() == "long"
    runner.cancel("long")


def test_a_failed_workflows_page_shows_its_traceback_and_the_failed_node(runner, ui, browser):
    runner.start_workflow("bad", flows.failing_shop(), input=flows.ORDER)
    assert runner.await_idle("bad", timeout=60, raise_on_failure=False) == "failed"
    open_workflow(browser, ui, "bad")
    page = browser.page
    assert page.locator("#status .badge").inner_text() == "failed"
    assert page.locator("#failures-title").inner_text() == "Failures (1 recorded; 1 failed for good)"
    failure = page.locator('article.failure[data-component="ship"]')
    assert failure.locator(".f-error").inner_text() == "ValueError: cannot ship an order of 65"
    traceback = failure.locator("pre.traceback")
    assert traceback.is_visible()  # open, not folded away
    text = traceback.inner_text()
    assert text.startswith("Traceback (most recent call last):")
    assert 'raise ValueError(f"cannot ship an order of {total}")' in text and "flows.py" in text
    assert page.locator('g.node[data-label="ship"]').get_attribute("data-state") == "failed"
    assert page.locator('g.node[data-label="total"]').get_attribute("data-state") == "ran"
    timeline = page.locator("#timeline tbody tr.ev-failure")
    assert timeline.count() >= 1 and "cannot ship an order of 65" in timeline.first.inner_text()
    # values on hover
    page.locator('g.node[data-label="price"]').hover()
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    assert "price" in tip.inner_text() and "60" in tip.inner_text() and "5" in tip.inner_text()
    page.locator('g.node[data-label="ship"]').hover()
    expect(tip).to_contain_text("cannot ship")
    assert page.evaluate("typeof dagre") == "object"  # the vendored layout library, from the package


def test_cancel_a_running_workflow_from_its_page(runner, ui, browser, store_dir):
    runner.start_workflow("long", flows.chain(200), input=0)
    # a few steps have run (the build log alone of 200 steps is more than 15 events, so a
    # cursor threshold raced the first step)
    wait_for(lambda: runner.get_results("long", components=["s2"]).get("s2") is not None)
    open_workflow(browser, ui, "long")
    page = browser.page
    assert page.locator("#status .badge").inner_text() == "running"
    states = page.eval_on_selector_all("g.node", "els => els.map(e => e.dataset.state)")
    assert {"pending", "running"} & set(states) and "idle" in states and "ran" in states, states
    assert page.locator("#stop").is_visible() and page.locator("#cancel").is_visible()
    page.click("#cancel")
    expect(page.locator("#status .badge")).to_have_text("cancelled")
    assert browser.dialogs and browser.dialogs[-1].startswith("Cancel this workflow for good?")
    assert "cancelled workflow long" in page.locator("#message").inner_text()
    assert store_status(store_dir, "long") == "cancelled"
    assert runner.status("long") == "cancelled"
    page.wait_for_selector("#cancel", state="hidden")
    assert not page.locator("#resume").is_visible() and not page.locator("#stop").is_visible()


def test_stop_then_resume_from_the_page_and_follow_it_live(runner, ui, browser, store_dir):
    runner.start_workflow("job", flows.chain(14), input=0)
    with MnesiaStore("runic", dir=store_dir) as store:
        wait_for(lambda: store.cursor("job") > 15)
    open_workflow(browser, ui, "job")
    page = browser.page
    page.wait_for_selector("#live.on")
    page.click("#stop")
    expect(page.locator("#status .badge")).to_have_text("stopped")
    assert store_status(store_dir, "job") == "stopped"
    page.wait_for_selector("#resume", state="visible")
    seen_before = page.locator("#timeline tbody tr").count()
    page.click("#resume")
    expect(page.locator("#message")).to_contain_text("resumed workflow job (was stopped)")
    # no reload from here on: the page follows the run through its live view
    expect(page.locator("#status .badge")).to_have_text("idle", timeout=90_000)
    assert store_status(store_dir, "job") == "idle"
    expect(page.locator('g.node[data-label="s13"]')).to_have_attribute("data-state", "ran")
    with MnesiaStore("runic", dir=store_dir) as store:
        total = store.cursor("job")
    expect(page.locator("#timeline tbody tr").last).to_have_attribute("data-seq", str(total))
    assert page.locator("#timeline tbody tr").count() > seen_before
    assert runner.get_results("job", components=["s13"]) == {"s13": 14}


def test_text_chosen_by_a_workflow_stays_text(runner, ui, browser):
    wf = flows.shop()
    wf.add(runic.step(flows.echo, name="<i>echo</i>"), to="total")
    runner.start_workflow(HOSTILE_ID, wf, input={"items": [{"qty": 1, "price": 1, "note": HOSTILE_VALUE}]})
    runner.await_idle(HOSTILE_ID, timeout=60)
    page = browser.page
    page.goto(ui.url)
    link = page.locator("#rows a")
    link.wait_for()
    assert link.inner_text() == HOSTILE_ID
    link.click()
    page.wait_for_selector("svg.wf-graph g.node")
    assert page.locator("#wid").inner_text() == HOSTILE_ID
    assert page.title() == f"{HOSTILE_ID} · runic"
    assert page.locator('g.node[data-label="<i>echo</i>"]').count() == 1
    assert page.locator("main i, main img, main script").count() == 0  # nothing became markup
    rows = page.locator("#productions tbody").inner_text()
    assert f'"note": {json.dumps(HOSTILE_VALUE)}' in rows  # the value, as text
    assert browser.dialogs == []  # no script of the workflow's ran
