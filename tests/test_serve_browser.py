"""`grade serve` in a real browser (headless Chromium, as tests/test_overview_browser.py drives it): a
student opens their link, hands in a file with the page's own form, and reads their feedback; staff
open the class overview and a student's page from it. No console error on any page."""

from __future__ import annotations

import pytest
from serve_support import EXAMPLES, STAFF, free_port, links, start_server, stop_server
from test_overview_browser import browser  # noqa: F401  (headless Chromium, skipped with a reason when absent)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("fastapi", reason="the [serve] extra is part of [test]: pip install -e '.[test]'")
    folder = tmp_path_factory.mktemp("serve-browser")
    (folder / "roster.csv").write_text("id,name\nada,Ada Lovelace\ngrace,Grace Hopper\n")
    port = free_port()
    process = start_server(folder / "data", port, "--roster", str(folder / "roster.csv"), "--jobs", "1")
    yield f"http://127.0.0.1:{port}", links(folder / "data")
    stop_server(process)


def no_console_errors(driver) -> None:
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert not errors, errors


def test_a_student_signs_in_hands_in_and_reads_feedback(browser, server):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    base, tokens = server
    browser.get(f"{base}/signin?token={tokens['ada']}")
    browser.find_element(By.ID, "signin").click()  # the link's page asks first
    assert "Ada Lovelace" in browser.find_element(By.TAG_NAME, "h1").text
    assert "Your best attempt counts." in browser.find_element(By.ID, "rules").text
    browser.find_element(By.ID, "file").send_keys(str(EXAMPLES / "correct_loops.py"))
    browser.find_element(By.ID, "send").click()
    WebDriverWait(browser, 90).until(seen.presence_of_element_located((By.ID, "score")))  # the page refreshes itself
    assert browser.find_element(By.ID, "score").text == "10 / 10"
    from grader.judge.spec import load

    assert len(browser.find_elements(By.CSS_SELECTOR, "#checks tr.check")) == len(load().checks)
    assert "correct_loops.py" in browser.page_source
    no_console_errors(browser)
    browser.find_element(By.LINK_TEXT, "Your attempts").click()
    assert "Score that counts: 10 / 10" in browser.find_element(By.ID, "counting").text
    assert "correct_loops.py" in browser.find_element(By.ID, "history").text


def test_staff_open_the_overview_and_a_students_page(browser, server):  # noqa: F811
    from selenium.webdriver.common.by import By

    base, _ = server
    browser.get(f"{base}/staff/")
    assert "Staff only" in browser.page_source  # no staff token yet (the student's cookie is no help)
    browser.get_log("browser")  # that 403 was the point; what follows must load cleanly
    browser.get(f"{base}/staff/signin")
    browser.find_element(By.ID, "staff-token").send_keys(STAFF)
    browser.find_element(By.ID, "staff-signin").click()
    # every roster student is counted and has a row, grace with no hand-in too (issue 28, items 5 and 11)
    assert browser.find_element(By.ID, "count-students").text == "2"
    assert browser.find_element(By.ID, "count-missing").text == "1"
    rows = browser.find_elements(By.CSS_SELECTOR, "#students tbody tr")
    assert [r.get_attribute("data-id") for r in rows] == ["ada", "grace"]
    assert "Grace Hopper" in rows[1].text and "no hand-in" in rows[1].text
    no_console_errors(browser)
    browser.find_element(By.LINK_TEXT, "ada").click()
    assert browser.find_element(By.ID, "score").text == "10 / 10"
    browser.find_element(By.PARTIAL_LINK_TEXT, "All attempts").click()
    assert "correct_loops.py" in browser.find_element(By.ID, "history").text
    no_console_errors(browser)  # the CSP refuses inline script: none of these pages needs any


def test_a_second_link_asks_before_switching_and_sign_out_ends_it(browser, server):  # noqa: F811
    from selenium.webdriver.common.by import By

    base, tokens = server
    browser.get(f"{base}/signin?token={tokens['ada']}")  # ada's own link, ada signed in: straight home
    assert "Ada Lovelace" in browser.find_element(By.TAG_NAME, "h1").text
    browser.get(f"{base}/signin?token={tokens['grace']}")
    assert "signed in as Ada Lovelace" in browser.find_element(By.ID, "signed-in").text
    browser.get(f"{base}/")
    assert "Ada Lovelace" in browser.find_element(By.TAG_NAME, "h1").text  # nothing switched
    browser.find_element(By.ID, "signout").click()
    assert browser.find_elements(By.ID, "token")  # the sign-in page
    no_console_errors(browser)
