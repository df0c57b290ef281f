"""check_html_render.py: opens an `ftune eval --html` report in headless Chromium (Selenium and
Debian's chromium + chromium-driver, both from scripts/setup.sh) and checks that it renders: the
page title, the accuracy and prompt-token charts displayed with a non-zero size, every bar drawn
with a positive width (zero only where its data-value is 0), the expected number of confusion
heat maps with their cells drawn, and no resource loaded from anywhere (the page is
self-contained). Saves a full-page screenshot. It checks rendering, not the numbers (the unit
tests do).

    python3 tests/e2e/check_html_render.py REPORT.html --confusion 2 --screenshot out.png

Exit status 0 when every check passes, 1 with a message per failed check, 2 when the browser
cannot start. Plain script, no pytest.
"""
import argparse
import os
import sys

TITLE_PREFIX = "ftune eval"
CHARTS = ("chart-accuracy", "chart-prompt-tokens")
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
WINDOW_WIDTH = 1280
MAX_SCREENSHOT_HEIGHT = 16000

# The rendered boxes of the elements matching a selector (inside an optional root element).
BOXES_JS = """
const root = arguments[1] || document;
return Array.from(root.querySelectorAll(arguments[0])).map(e => {
    const r = e.getBoundingClientRect();
    return {w: r.width, h: r.height, value: e.getAttribute('data-value')};
});
"""


def start_browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={WINDOW_WIDTH},1000"):
        opts.add_argument(a)
    # An explicit driver path: Selenium Manager must not try to download one.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


def check_page(driver, expected_confusion):
    """Returns a list of failure messages (empty when the page renders as expected)."""
    from selenium.webdriver.common.by import By

    fails = []
    title = driver.title or ""
    if not title.startswith(TITLE_PREFIX):
        fails.append(f"title {title!r} does not start with {TITLE_PREFIX!r}")

    for chart in CHARTS:
        found = driver.find_elements(By.CSS_SELECTOR, f"svg#{chart}")
        if len(found) != 1:
            fails.append(f"svg#{chart}: {len(found)} found, want 1")
            continue
        box = driver.execute_script(BOXES_JS, f"svg#{chart}", None)[0]
        if not found[0].is_displayed() or box["w"] <= 0 or box["h"] <= 0:
            fails.append(f"svg#{chart} is not displayed with a size ({box['w']}x{box['h']})")
        bars = driver.execute_script(BOXES_JS, "rect.bar", found[0])
        if not bars:
            fails.append(f"svg#{chart} has no rect.bar")
        for i, b in enumerate(bars):
            zero_ok = b["value"] is not None and float(b["value"]) == 0
            if b["h"] <= 0 or (b["w"] <= 0 and not zero_ok):
                fails.append(f"svg#{chart} bar {i} (data-value {b['value']}) renders {b['w']}x{b['h']}")

    maps = driver.find_elements(By.CSS_SELECTOR, "svg.confusion")
    if len(maps) != expected_confusion:
        fails.append(f"svg.confusion: {len(maps)} found, want {expected_confusion}")
    for m in maps:
        name = m.get_attribute("data-candidate")
        if not name:
            fails.append("an svg.confusion has no data-candidate")
        cells = driver.execute_script(BOXES_JS, "rect.cell", m)
        k = int((len(cells) ** 0.5))  # k labels give k x (k + 1) cells (the "other" column)
        if not cells or k * (k + 1) != len(cells):
            fails.append(f"svg.confusion[{name}]: {len(cells)} rect.cell, not k x (k + 1)")
        hidden = [i for i, c in enumerate(cells) if c["w"] <= 0 or c["h"] <= 0]
        if hidden or not m.is_displayed():
            fails.append(f"svg.confusion[{name}]: not displayed, or cells {hidden[:5]} have no size")

    external = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    if external:
        fails.append(f"the page loaded resources (it must be self-contained): {external[:5]}")
    return fails


def save_screenshot(driver, path):
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WINDOW_WIDTH, min(max(int(height) + 40, 600), MAX_SCREENSHOT_HEIGHT))
    if not driver.save_screenshot(path):
        raise RuntimeError(f"could not save the screenshot to {path}")


def main():
    ap = argparse.ArgumentParser(description="Check that an ftune eval HTML report renders in headless Chromium.")
    ap.add_argument("html", help="the report (.html)")
    ap.add_argument("--confusion", type=int, required=True, help="expected number of svg.confusion heat maps")
    ap.add_argument("--screenshot", required=True, help="where to save a full-page PNG")
    args = ap.parse_args()
    if not os.path.isfile(args.html):
        print(f"check_html_render: FAIL: {args.html}: no such file", file=sys.stderr)
        return 1
    try:
        driver = start_browser()
    except Exception as e:  # a missing package, browser or driver
        print(f"check_html_render: cannot start headless Chromium ({CHROMIUM}, {CHROMEDRIVER}): {e}\n"
              "  install with: bash scripts/setup.sh", file=sys.stderr)
        return 2
    try:
        driver.get("file://" + os.path.abspath(args.html))
        fails = check_page(driver, args.confusion)
        save_screenshot(driver, args.screenshot)
    finally:
        driver.quit()
    for f in fails:
        print(f"check_html_render: FAIL: {f}", file=sys.stderr)
    if fails:
        return 1
    print(f"check_html_render: OK: {args.html} renders (title, {len(CHARTS)} charts, "
          f"{args.confusion} confusion heat maps); screenshot {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
