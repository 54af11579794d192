"""The class pages in a real browser: headless Chromium (Debian's chromium and chromium-driver) loads
index.html and a student's page from file://, and the test reads the rendered DOM: the numbers of
summary.json, links that resolve, no console error, the table sorted and filtered by clicking and typing.

Screenshots go to the test's folder, and to docs/ (docs/overview.png, docs/student.png: the README
shows them) when UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from test_overview import graded  # noqa: F401  (the graded class, shared with the page tests)

DOCS = Path(__file__).resolve().parents[1] / "docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and DRIVER):
        pytest.skip("no chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1400", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def shoot(driver, tmp_path: Path, name: str) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 600), 4000))
    driver.save_screenshot(str(tmp_path / name))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copy(tmp_path / name, DOCS / name)


def links_resolve(driver) -> None:
    from selenium.webdriver.common.by import By

    for anchor in driver.find_elements(By.CSS_SELECTOR, "a[href]"):
        url = urlparse(anchor.get_attribute("href"))  # the browser's absolute URL
        assert url.scheme == "file", url
        assert Path(unquote(url.path)).is_file(), url


def no_console_errors(driver) -> None:
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe


def test_the_overview_in_chromium(browser, graded, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    summary = json.loads((graded / "summary.json").read_text())
    browser.get((graded / "index.html").as_uri())
    for key in ("graded", "ungradable", "error"):
        assert browser.find_element(By.ID, f"count-{key}").text == str(summary["statuses"][key])
    assert browser.find_element(By.ID, "count-students").text == str(summary["count"])
    late = sum(1 for row in summary["submissions"] if row["late"] == "yes")
    assert late and browser.find_element(By.ID, "count-late").text == str(late)
    rows = browser.find_elements(By.CSS_SELECTOR, "#students tbody tr")
    assert {r.get_attribute("data-id") for r in rows} == {s["id"] for s in summary["submissions"]}
    assert len(browser.find_elements(By.CSS_SELECTOR, ".charts svg")) == 2
    links_resolve(browser)

    def scores():
        return [float(td.get_attribute("data-sort"))
                for td in browser.find_elements(By.CSS_SELECTOR, "#students tbody tr td:nth-child(2)")]

    header = browser.find_element(By.CSS_SELECTOR, "#students th:nth-child(2)")
    header.click()
    assert scores() == sorted(scores()) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert scores() == sorted(scores(), reverse=True) and header.get_attribute("aria-sort") == "descending"
    assert sorted(scores()) == sorted(s["score"] for s in summary["submissions"])
    # from the keyboard (issue 28): each header is a button, so Tab reaches it and Enter or Space sorts
    from selenium.webdriver.common.keys import Keys

    button = header.find_element(By.CSS_SELECTOR, "button")
    button.send_keys(Keys.ENTER)
    assert scores() == sorted(scores()) and header.get_attribute("aria-sort") == "ascending"
    button.send_keys(Keys.SPACE)
    assert scores() == sorted(scores(), reverse=True) and header.get_attribute("aria-sort") == "descending"

    box = browser.find_element(By.ID, "filter")
    box.send_keys("ungradable")
    shown = [r for r in browser.find_elements(By.CSS_SELECTOR, "#students tbody tr") if r.is_displayed()]
    assert [r.get_attribute("data-id") for r in shown] == ["777001"]
    assert browser.find_element(By.ID, "shown").text == "1"
    box.clear()
    box.send_keys(" ")  # clear() fires no input event: a space does, and matches every row
    assert browser.find_element(By.ID, "shown").text == str(summary["count"])
    no_console_errors(browser)
    shoot(browser, tmp_path, "overview.png")


def test_a_students_page_in_chromium(browser, graded, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    report = json.loads((graded / "123456.json").read_text())
    browser.get((graded / "students" / "123456.html").as_uri())
    assert browser.find_element(By.ID, "score").text == f"{report['score']:g} / {report['max_score']:g}"
    names = [r.get_attribute("data-name") for r in browser.find_elements(By.CSS_SELECTOR, "tr.check")]
    assert names == [t["name"] for t in report["tests"]]
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "<img src=x onerror=alert(1)>" in text  # the file name, shown as text, never as an element
    assert not browser.find_elements(By.TAG_NAME, "img") and not browser.find_elements(By.TAG_NAME, "script")
    assert str(report["seed"]) not in text and "isolation" not in text
    assert "Hint:" in text
    links_resolve(browser)
    no_console_errors(browser)
    shoot(browser, tmp_path, "student.png")
