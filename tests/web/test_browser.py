"""STAC Browser, served by labstac at /, in headless Chromium (Debian's `chromium`, driven
by Playwright): sign in as a demo user through GitLab's (the simulator's) sign-in page, see
the private item that user may read and not the others, its thumbnail drawn, its private
LFS asset downloaded byte for byte, then sign out and lose it. Each step leaves a
screenshot in var/test-artifacts/browser/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from web_stack import WINE_ID, WebStack

from gitlab_sim.demo import PASSWORDS

pytestmark = pytest.mark.services
expect.set_options(timeout=30_000)  # a page's parts load lazily, on a shared machine

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("LABSTAC_TEST_CHROMIUM", "/usr/bin/chromium")
# STAC Browser's path of an item: its URL relative to the catalog's (/api/v1/stac).
WINE_PAGE = "#/stac/collections/ai-model/items/wine-co/wine-quality"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: scripts/test.sh installs Debian's chromium")
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_sign_in_browse_a_private_item_download_and_sign_out(
    stack: WebStack, browser: Browser, tmp_path: Path
) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    base = stack.api.url

    # Signed out: the catalog, and the private item is the same "does not exist" as any.
    page.goto(f"{base}/")
    expect(page.get_by_text("labstac").first).to_be_visible()
    shot(page, "1-catalog-signed-out")
    page.goto(f"{base}/{WINE_PAGE}")
    expect(page.get_by_text("does not exist")).to_be_visible()
    sign_in_link = page.get_by_role("link", name="Sign in with GitLab")
    expect(sign_in_link).to_be_visible()
    shot(page, "2-private-item-signed-out")

    # Sign in through GitLab's page, as bob (Reporter of the private wine project). STAC
    # Browser opens footer links in a new tab: the signed-in catalog is there.
    with context.expect_page() as opened:
        sign_in_link.click()
    page = opened.value
    page.fill("#user_login", "bob")
    page.fill("#user_password", PASSWORDS["bob"])
    shot(page, "3-gitlab-sign-in")
    page.click("#sign_in")
    shot(page, "4-gitlab-consent")
    page.click("#authorize")
    expect(page.get_by_role("link", name="Sign out (bob)")).to_be_visible()
    shot(page, "5-signed-in")

    # The private item, with its thumbnail drawn.
    page.goto(f"{base}/{WINE_PAGE}")
    expect(page.get_by_role("heading", name="Wine quality classifier").first).to_be_visible()
    expect(page.get_by_text("model/classifier.joblib").first).to_be_visible()
    page.get_by_role("tab", name="Thumbnails").click()
    thumbnail = page.locator(f"img[src*='/download/projects/{WINE_ID}/files/docs/preview.png']")
    expect(thumbnail.first).to_be_visible()
    drawn = thumbnail.first.evaluate("image => image.complete && image.naturalWidth > 0")
    assert drawn, "the private thumbnail did not render"
    in_text = page.locator("img[alt='preview']").first  # the README's own picture
    expect(in_text).to_be_visible()
    assert in_text.evaluate("image => image.complete && image.naturalWidth > 0")
    shot(page, "6-private-item-signed-in")

    # Its private LFS asset, downloaded through labstac with the session.
    expected = stack.world.project_by_id[WINE_ID].files["model/classifier.joblib"].lfs_content
    page.get_by_text("model/classifier.joblib").first.click()  # unfold the asset
    link = page.locator(f"a[href*='/download/projects/{WINE_ID}/files/model/classifier.joblib']")
    with page.expect_download() as download_info:
        link.first.click()
    saved = tmp_path / "classifier.joblib"
    download_info.value.save_as(saved)
    assert saved.read_text() == expected
    shot(page, "7-downloaded")

    # Sign out: the private item is gone again.
    with context.expect_page() as opened:
        page.get_by_role("link", name="Sign out (bob)").click()
    page = opened.value
    expect(page.get_by_role("link", name="Sign in with GitLab")).to_be_visible()
    page.goto(f"{base}/{WINE_PAGE}")
    page.reload()  # a page of its own, as a bookmark opens it
    expect(page.get_by_text("does not exist")).to_be_visible()
    expect(page.get_by_text("Wine quality classifier")).to_have_count(0)
    shot(page, "8-signed-out-again")
    context.close()
