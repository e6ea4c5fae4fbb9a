"""An administrator's afternoon in a real browser (Debian's Chromium driven by Playwright), then the
Hub's pre-annotation on Label Studio's own labeling page. Screenshots: .artifacts/e2e/."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw

from tests.e2e.conftest import Hub, LabelStudio, step
from tests.e2e.test_label_studio import IMAGE_CFG, connect, new_project, retrieve_predictions
from tests.processes import REPO_ROOT

pytestmark = pytest.mark.e2e
ARTIFACTS = REPO_ROOT / ".artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def run_action(page: Any, hub: Hub, changelist: str, row_text: str, action: str) -> str:
    page.goto(f"{hub.url}/admin/registry/{changelist}/")
    page.locator("tr", has_text=row_text).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_load_state()
    return str(page.inner_text("ul.messagelist")).lower()  # the admin capitalises messages


def test_an_administrator_registers_maps_tests_and_trains_in_the_admin(browser: Any, hub: Hub) -> None:
    page = browser.new_page()
    with step("log into the admin"):
        page.goto(f"{hub.url}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", hub.admin_password)
        page.click("input[type=submit]")
        page.wait_for_selector("text=Model registry")
        shot(page, "01-admin-home")
    with step("register the external detector"):
        page.goto(f"{hub.url}/admin/registry/registeredmodel/add/")
        page.fill("#id_name", "Browser detector")
        page.fill("#id_slug", "browser-detector")
        page.select_option("#id_kind", "http")
        page.fill("#id_url", hub.detector_url)
        shot(page, "02-register-form")
        page.click("input[name=_save]")
        page.wait_for_selector("ul.messagelist")
        assert "was added successfully" in page.inner_text("ul.messagelist")
        shot(page, "03-registered")
    with step("fetch its classes"):
        message = run_action(page, hub, "registeredmodel", "browser-detector", "fetch_classes")
        assert "browser-detector: 8 classes (8 new, 0 updated)" in message, message
        shot(page, "04-classes-fetched")
    with step("a project sets the model up, and its class mapping is changed"):
        setup = {"project": "77.1700000000", "schema": IMAGE_CFG}
        assert (
            requests.post(f"{hub.url}/ml/browser-detector/setup", json=setup, timeout=10).status_code == 200
        )
        page.goto(f"{hub.url}/admin/registry/modelproject/")
        page.locator("tr", has_text="project 77.1700000000").filter(has_text="browser-detector").locator(
            "th a, td a"
        ).first.click()
        row = page.locator("tr", has_text="circle")
        assert row.locator("select").input_value() == '["label", "Ball"]'
        row.locator("select").select_option(label="label: Box")
        shot(page, "05-mapping-changed")
        page.click("input[name=_save]")
        page.wait_for_selector("ul.messagelist")
        assert "was changed successfully" in page.inner_text("ul.messagelist")
    with step("Test connection"):
        message = run_action(page, hub, "registeredmodel", "browser-detector", "test_connection")
        assert "answered a 64x64 test image" in message, message
        shot(page, "06-test-connection")
    with step("start a training job and watch it finish"):
        setup = {
            "project": "78.1700000000",
            "schema": '<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>',
        }
        requests.post(f"{hub.url}/ml/text-classifier/setup", json=setup, timeout=10)
        message = run_action(page, hub, "modelproject", "project 78.1700000000", "start_training")
        assert "training job" in message, message
        deadline = time.monotonic() + 60
        row_text = ""
        while time.monotonic() < deadline and "succeeded" not in row_text:
            time.sleep(1)
            page.goto(f"{hub.url}/admin/registry/trainingjob/")
            row_text = page.locator("tr", has_text="project 78.1700000000").first.inner_text().lower()
        assert "succeeded" in row_text and "100%" in row_text, row_text
        shot(page, "07-training-job")
    page.close()


def test_the_pre_annotation_shows_on_label_studios_labeling_page(
    browser: Any, label_studio: LabelStudio, hub: Hub
) -> None:
    picture = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(picture).rectangle((40, 20, 139, 99), fill=(200, 30, 30))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    project_id = new_project(label_studio, "Browser detection", IMAGE_CFG)
    label_studio.api(
        "POST",
        f"/api/projects/{project_id}/import",
        files={"file": ("shapes.png", buffer.getvalue(), "image/png")},
    )
    connect(label_studio, project_id, f"{hub.url}/ml/byom-detector")
    [task] = retrieve_predictions(label_studio, project_id)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    with step("log into Label Studio"):
        page.goto(f"{label_studio.url}/user/login/")
        page.fill("input[name=email]", "admin@example.com")
        page.fill("input[name=password]", "e2e-admin-password")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
    with step("open the task in the labeling page and see the predicted region"):
        page.goto(f"{label_studio.url}/projects/{project_id}/data?task={task['id']}")
        page.wait_for_selector("canvas", timeout=60_000)
        page.wait_for_timeout(3000)  # the image and its regions are drawn asynchronously
        shot(page, "08-label-studio-task")
        # The prediction's tab (named by the model version) and, in the Regions panel, its region with
        # the model's confidence: neither exists unless the Hub's prediction reached the page.
        assert page.get_by_text("byom-detector@1").count() > 0, "no prediction tab from the Hub"
        assert page.get_by_text("1.00", exact=True).count() > 0, (
            "the predicted region is not in the Regions panel"
        )
    page.close()
