"""What a reader, a student and an instructor see, in a real browser (Debian's chromium + Playwright).

1. A page of the built website shows rendered math and a rendered widget, with no
   failed request (everything is served by the site itself).
2. JupyterLab, started on loopback, opens chapter 00, runs all cells from the menu,
   and moving the explorer's slider redraws its picture.
3. The nbgrader formgrader answers inside that JupyterLab.

Each test saves a screenshot into test-artifacts/. Nothing is skipped: without
/usr/bin/chromium (`apt-get install -y chromium`, which .ci/run does) or without
playwright (the dev extra) the tests fail and say so. Playwright never downloads
a browser here (`playwright install` is not used).
"""
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import build_book  # tools/build_book.py (pyproject.toml puts tools/ on sys.path)
from course import ROOT, copy_course

pytestmark = [pytest.mark.slow, pytest.mark.chapter00]   # the browser opens chapter 00
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
CHAPTER = "00_getting_started"
TIMEOUT_MS = 45_000  # the longest single wait; each test stays well under a minute
IN_WIDGET_IMAGE = ".widget-output img"


# --- servers --------------------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url, process, seconds=60):
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or takes too long."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {seconds} s")


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The public website of chapter 00, built and served on loopback; yields its base URL."""
    html = build_book.build([CHAPTER], tmp_path_factory.mktemp("site"))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              cwd=html, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/index.html", server)
        yield url
    finally:
        stop(server)


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """JupyterLab on loopback in a scratch copy of the course; yields (base URL, token).

    A copy, so that autosave and nbgrader's gradebook never touch the repository;
    its own Jupyter config and settings folders, so the machine's do not matter.
    """
    scratch = tmp_path_factory.mktemp("lab")
    course = scratch / "course"
    copy_course(course)
    shutil.copytree(ROOT / "chapters", course / "chapters",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    config = scratch / "config"
    (config / "labconfig").mkdir(parents=True)
    # No "would you like to receive Jupyter news?" toast over the notebook.
    (config / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    token = secrets.token_hex(16)
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
               PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")  # nbgrader runs `alembic`
    command = [str(bin_dir / "jupyter"), "lab", "--no-browser", "--ip", "127.0.0.1", "--port", str(port),
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={course}", f"--LabApp.user_settings_dir={scratch / 'settings'}",
               f"--LabApp.workspaces_dir={scratch / 'workspaces'}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(scratch / "jupyter.log", "w")
    server = subprocess.Popen(command, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/status?token={token}", server)
        yield url, token
    finally:
        stop(server)
        log.close()


# --- the browser ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium with `apt-get install -y chromium` "
                    "(.ci/run does it); the browser tests do not skip")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: `pip install -e '.[dev]'` installs it "
                    "(never `playwright install`: the tests use /usr/bin/chromium)")
    with sync_playwright() as playwright:
        # launch() gives every run a fresh, temporary user-data-dir.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


# --- the tests ------------------------------------------------------------------------------

def test_book_page_renders_math_and_widgets_offline(site, page):
    failures = []
    page.on("requestfailed", lambda request: failures.append(f"{request.url}: {request.failure}"))
    page.on("response", lambda response: response.status >= 400
            and failures.append(f"{response.url}: HTTP {response.status}"))
    page.goto(f"{site}/chapters/{CHAPTER}.html")
    page.wait_for_selector("mjx-container")  # MathJax has typeset the TeX
    image = page.locator(IN_WIDGET_IMAGE).first  # the widget manager has drawn the explorer
    image.wait_for(state="visible")
    assert page.locator("mjx-container").count() >= 5
    assert page.locator(".widget-slider").count() >= 1
    assert image.evaluate("img => img.naturalWidth") > 0, "the widget's picture did not load"
    image.scroll_into_view_if_needed()
    page.wait_for_load_state("networkidle")
    screenshot(page, "book_chapter_page.png")
    assert not failures, "requests failed:\n" + "\n".join(failures)


def test_jupyterlab_runs_the_chapter_and_the_slider_redraws(lab, page):
    url, token = lab
    page.goto(f"{url}/lab/tree/chapters/{CHAPTER}/{CHAPTER}.ipynb?token={token}")
    # The toolbar says "idle" before a kernel exists; the status bar names the kernel once it runs.
    page.get_by_text("(ipykernel) | Idle").first.wait_for()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    image = page.locator(f".jp-OutputArea-output {IN_WIDGET_IMAGE}").first
    image.wait_for(state="visible")
    before = image.get_attribute("src")
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    handle.press("ArrowRight")
    page.wait_for_function(
        """([selector, before]) => {
            const img = document.querySelector(selector);
            return img !== null && img.getAttribute('src') !== before;
        }""",
        arg=[f".jp-OutputArea-output {IN_WIDGET_IMAGE}", before])
    page.locator(".widget-slider").first.scroll_into_view_if_needed()
    screenshot(page, "jupyterlab_slider_moved.png")


def test_nbgrader_formgrader_answers(lab, page):
    url, token = lab
    response = page.goto(f"{url}/formgrader?token={token}")
    assert response is not None and response.status == 200
    page.get_by_text(CHAPTER).first.wait_for()  # the chapters listed as nbgrader assignments
    screenshot(page, "nbgrader_formgrader.png")
