"""The admin as an administrator uses it, in a real browser against a live Hub (gunicorn on the test
database) and the example V7 detector on loopback: the dashboard, registering an external model V7's
way, the class mapping table, activating a trained version, and axe-core on each page.
Screenshots: .artifacts/admin/."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from PIL import Image, ImageDraw

from jobs.models import PreannotationJob
from registry.models import (
    ClassMapping,
    LabelStudioInstance,
    ModelProject,
    ModelVersion,
    Project,
    RegisteredModel,
    TrainingJob,
)
from registry.services import model_fetch_classes
from tests.conftest import CFG, register, wait_for
from tests.inference.test_external_models import detector  # noqa: F401 - the example detector, a fixture
from tests.live import LiveHub
from tests.registry.browser import axe_violations, browser, shot  # noqa: F401 - browser is a fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

PASSWORD = "browser-admin-password"
IMAGE_CFG = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
    '<Label value="Box" predicted_values="rectangle, square"/><Label value="Ball" predicted_values="circle"/>'
    "</RectangleLabels></View>"
)


def circle_png() -> str:
    picture = Image.new("RGB", (200, 120), "white")
    ImageDraw.Draw(picture).ellipse((20, 20, 99, 99), fill=(200, 30, 30))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def page(browser: Any, live_hub: LiveHub) -> Iterator[Any]:  # noqa: F811 - the imported fixture
    get_user_model().objects.create_superuser("admin", "admin@example.com", PASSWORD)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_hub.url)
    tab = context.new_page()
    # The admin works offline: every file a page loads (Chart.js included) comes from the Hub itself.
    fetched: list[str] = []
    tab.on("request", lambda request: fetched.append(request.url))
    tab.goto(f"{live_hub.url}/admin/login/")
    tab.fill("#id_username", "admin")
    tab.fill("#id_password", PASSWORD)
    tab.click("input[type=submit]")
    tab.wait_for_selector("#hub-models-title")
    yield tab
    context.close()
    elsewhere = [url for url in fetched if not url.startswith((live_hub.url + "/", "data:", "blob:"))]
    assert fetched and not elsewhere, elsewhere


def assert_accessible(page: Any, name: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{name}: {json.dumps(violations, indent=1)}"


def box(locator: Any) -> dict[str, float]:
    found: dict[str, float] = locator.bounding_box()
    return found


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def post(hub: LiveHub, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(hub.url + path, json=body, timeout=30)


def test_the_dashboard_shows_each_model_with_its_traffic_and_the_running_jobs(
    page: Any, live_hub: LiveHub
) -> None:
    register("dummy", "examples.dummy.model.DummyModel")
    locked = register("locked", "examples.dummy.model.DummyModel", protocol_auth_required=True)
    tasks = [{"id": i, "data": {"text": "good"}} for i in range(3)]
    for _ in range(4):
        assert post(live_hub, "/ml/dummy/predict", {"tasks": tasks, "label_config": CFG}).status_code == 200
    assert requests.get(live_hub.url + "/ml/dummy/health", timeout=10).status_code == 200
    project = Project.objects.create(
        instance_id=LabelStudioInstance.objects.create(hostname="http://ls").pk,
        ls_project_id=5,
    )
    link = ModelProject.objects.create(model=locked, project=project)
    TrainingJob.objects.create(model_project=link, status=TrainingJob.Status.RUNNING, progress=0.4)
    PreannotationJob.objects.create(
        model_project=link, status=PreannotationJob.Status.RUNNING, total=8, done=5, failed=1
    )

    page.goto(f"{live_hub.url}/admin/")
    assert "WOW AI Hub" in page.title() and "WOW AI Hub" in page.inner_text("#site-name")
    # The dashboard uses the page's width: the cards side by side, not one narrow column.
    first, second = (box(page.locator("article.hub-card").nth(i)) for i in (0, 1))
    assert first["y"] == second["y"] and second["x"] >= first["x"] + first["width"], (first, second)
    card = page.locator("article.hub-card", has_text="dummy")
    assert card.locator("code", has_text="/ml/dummy").first.inner_text().endswith("/ml/dummy")
    stats = card.locator(".hub-stats").inner_text()
    assert "Requests\n5" in stats, stats  # four /predict and one /health
    assert "ms" in card.locator(".hub-stats dd").nth(2).inner_text()  # a p50 from the histogram
    # The charts were drawn by Chart.js, from the rollup.
    drawn = page.evaluate(
        "() => Array.from(document.querySelectorAll('article.hub-card canvas')).filter(c => Chart.getChart(c)).length"
    )
    assert drawn == 4, drawn
    requests_drawn = page.evaluate(
        "() => Chart.getChart(document.querySelector(\"canvas[data-hub-chart='traffic']\"))"
        ".data.datasets[0].data.reduce((a, b) => a + b, 0)"
    )
    assert requests_drawn == 5
    # The key URL form for a model that requires credentials, never a key.
    locked_card = page.locator("article.hub-card", has_text="locked")
    assert "/ml/locked/k/<connection key>" in locked_card.inner_text()
    # The copy button puts the URL on the clipboard.
    card.locator("button.hub-copy").click()
    assert page.evaluate("() => navigator.clipboard.readText()").endswith("/ml/dummy")
    # The running training and pre-annotation jobs, with their progress bars.
    training = page.locator("section", has_text="Training jobs in progress").locator("tr", has_text="locked")
    assert training.locator("progress").get_attribute("value") == "40"
    preannotation = page.locator("section", has_text="Pre-annotation jobs in progress")
    assert preannotation.locator("tr", has_text="locked").locator("progress").get_attribute("value") == "75"
    shot(page, "01-dashboard")
    assert_accessible(page, "dashboard")


def test_an_external_model_is_registered_the_v7_way(page: Any, live_hub: LiveHub, detector: str) -> None:  # noqa: F811
    page.goto(f"{live_hub.url}/admin/registry/registeredmodel/add/")
    assert "/ml/<slug>. Fixed once saved." in page.inner_text("#id_slug_helptext")  # not cut at "<slug>"
    python_box = page.locator("fieldset.hub-kind-python")
    server_box = page.locator("fieldset.hub-kind-http")
    page.select_option("#id_kind", "python")
    assert python_box.is_visible() and not server_box.is_visible()
    shot(page, "02a-register-python-kind")
    page.select_option("#id_kind", "http")  # the kind first, then only its fields
    assert server_box.is_visible() and not python_box.is_visible()
    assert page.locator(".field-image_transport").is_visible()
    assert not page.locator(".field-auth_username").is_visible()
    page.select_option("#id_auth_method", "header")
    assert page.locator(".field-auth_header_name").is_visible()
    # An ML backend shares the model-server fields it uses, without a V7 server's own or its classes.
    page.select_option("#id_kind", "ml_backend")
    assert server_box.is_visible() and page.locator(".field-auth_header_name").is_visible()
    assert not page.locator(".field-image_transport").is_visible()
    assert not page.locator("[data-hub-tool='fetch-classes']").is_visible()
    page.select_option("#id_kind", "http")
    assert page.locator(".field-image_transport").is_visible()
    page.select_option("#id_auth_method", "none")
    page.fill("#id_name", "Browser detector")
    page.fill("#id_slug", "browser-detector")
    assert page.inner_text("#hub-url-preview").endswith("/ml/browser-detector")
    page.fill("#id_url", f"{detector}/infer")
    shot(page, "02-register-kind-and-url")
    assert_accessible(page, "add form")

    page.click("[data-hub-tool='fetch-classes']")
    page.wait_for_selector("#hub-tool-result.hub-ok")
    assert "8 classes; they are stored when you save." in page.inner_text("#hub-tool-result")
    assert page.locator("#hub-tool-classes tbody tr").count() == 8
    assert not RegisteredModel.objects.exists()  # nothing saved by trying

    page.click("[data-hub-tool='test-connection']")
    page.wait_for_function("document.getElementById('hub-tool-result').textContent.startsWith('Answered')")
    assert "square" in page.inner_text("#hub-tool-result")
    page.wait_for_selector("#hub-test-image:not(.hub-hidden)")
    assert "square" in page.get_attribute("#hub-test-image", "aria-label")
    # The detector's box is drawn on the test image: red pixels on the square's edge.
    edge = page.evaluate(
        "() => Array.from(document.getElementById('hub-test-image').getContext('2d')"
        ".getImageData(64, 128, 1, 1).data)"
    )
    assert edge[0] > 150 and edge[1] < 80, edge
    shot(page, "03-register-fetched-and-tested")

    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist")
    messages = page.inner_text("ul.messagelist")
    assert "was added successfully" in messages
    assert "Paste this URL into Label Studio" in messages and "/ml/browser-detector" in messages
    assert page.locator(".hub-url code").first.inner_text().endswith("/ml/browser-detector")
    assert page.locator(".field-model_version_display label").inner_text() == "Served as:"
    # The history button sits above the form, over none of the panels before it.
    history = box(page.locator(".object-tools"))
    for panel in page.locator(".hub-panel").all():
        assert not overlap(history, box(panel)), (history, box(panel))
    model = RegisteredModel.objects.get(slug="browser-detector")
    assert model.classes.count() == 8  # fetched on save, as tried
    shot(page, "04-registered-model-page")
    assert_accessible(page, "model page")

    page.goto(f"{live_hub.url}/admin/registry/registeredmodel/")
    row = page.locator("#result_list tr", has_text="Browser detector")
    assert row.locator("code").inner_text().endswith("/ml/browser-detector")
    # The columns fit their scrolling box: nothing is cut off at this common width.
    width = page.evaluate(
        "() => [document.querySelector('.results').scrollWidth, document.querySelector('.results').clientWidth]"
    )
    assert width[0] <= width[1], width
    shot(page, "05-model-list")
    assert_accessible(page, "model list")


def test_the_class_mapping_table_changes_and_shows_results_per_class(
    page: Any,
    live_hub: LiveHub,
    detector: str,  # noqa: F811
) -> None:
    model = RegisteredModel.objects.create(
        name="Detector", slug="detector", kind="http", url=f"{detector}/infer"
    )

    model_fetch_classes(model=model)
    assert (
        post(live_hub, "/ml/detector/setup", {"project": "9.1700000000", "schema": IMAGE_CFG}).status_code
        == 200
    )
    task = {"id": 1, "data": {"image": circle_png()}}
    answer = post(live_hub, "/ml/detector/predict", {"tasks": [task], "project": "9.1700000000"})
    assert answer.status_code == 200, answer.text
    link = ModelProject.objects.get(model=model)
    wait_for(
        lambda: ClassMapping.objects.get(model_project=link, model_class__name="circle").results_total == 1
    )

    page.goto(f"{live_hub.url}/admin/registry/modelproject/{link.pk}/change/")
    circle = page.locator("tr", has_text="circle")
    assert circle.locator("select").input_value() == '["label", "Ball"]'
    options = circle.locator("select option").all_inner_texts()
    assert options == ["(unmapped)", "label: Box", "label: Ball"], options  # only labels that fit
    assert circle.locator("td.field-results").inner_text() == "1 (last one just now)"
    assert not page.locator("td.original p").first.is_visible()  # the state column says it once
    assert not page.locator("#id_access_token").is_visible()  # the /setup token's field is folded away
    triangle = page.locator("tr", has_text="triangle")  # a polygon: no RectangleLabels can show it
    assert "unmapped" in triangle.locator("td.field-mapping_state").inner_text()
    background = triangle.locator("td.field-mapping_state").evaluate(
        "td => getComputedStyle(td).backgroundColor"
    )
    plain = circle.locator("td.field-mapping_state").evaluate("td => getComputedStyle(td).backgroundColor")
    assert background != plain  # unmapped classes are highlighted
    assert_accessible(page, "mapping table")

    circle.locator("select").select_option(label="label: Box")
    circle.locator("td.field-threshold input").fill("0.5")
    shot(page, "06-mapping-table")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist")
    mapping = ClassMapping.objects.get(model_project=link, model_class__name="circle")
    assert (mapping.from_name, mapping.label, mapping.threshold) == ("label", "Box", 0.5)


def test_a_trained_version_is_activated_from_the_models_page(page: Any, live_hub: LiveHub) -> None:
    model = register("trained", "examples.dummy.model.DummyModel")
    project = Project.objects.create(
        instance_id=LabelStudioInstance.objects.create(hostname="http://ls").pk,
        ls_project_id=6,
    )
    link = ModelProject.objects.create(model=model, project=project, active_version=2)
    ModelVersion.objects.create(model_project=link, number=1, metrics={"accuracy": 0.7, "examples": 10})
    ModelVersion.objects.create(model_project=link, number=2, metrics={"accuracy": 0.8, "examples": 20})

    page.goto(f"{live_hub.url}/admin/registry/registeredmodel/{model.pk}/change/")
    versions = page.locator("#hub-versions")
    assert "active" in versions.locator("tr", has_text="v2").inner_text()
    series = page.evaluate(
        "() => Chart.getChart(document.querySelector(\"canvas[data-hub-chart='versions']\"))"
        ".data.datasets.map(d => [d.label, d.data])"
    )
    assert series == [["accuracy", [0.7, 0.8]], ["examples", [10, 20]]], series
    shot(page, "07-versions")
    versions.locator("tr", has_text="v1").locator("button", has_text="Activate").click()
    page.wait_for_selector("ul.messagelist")
    assert "now serves version 1" in page.inner_text("ul.messagelist")
    link.refresh_from_db()
    assert link.active_version == 1
    assert "active" in page.locator("#hub-versions tr", has_text="v1").inner_text()
    setup = {"project": "6", "schema": CFG, "hostname": "http://ls"}  # the project of the link above
    assert post(live_hub, "/ml/trained/setup", setup).json()["model_version"] == "trained@1.1"
    shot(page, "08-version-activated")


def test_an_api_token_is_issued_in_the_admin_copied_and_used(page: Any, live_hub: LiveHub) -> None:
    page.goto(f"{live_hub.url}/admin/api/apitoken/add/")
    page.fill("#id_name", "WOW AI")
    page.select_option("#id_scope", "write")
    page.click("input[name=_save]")
    page.wait_for_selector("#api-token")
    page.click("button.hub-copy")
    secret = page.evaluate("() => navigator.clipboard.readText()")
    assert secret.startswith("hub_") and secret == page.inner_text("#api-token")
    shot(page, "09-api-token-issued")
    assert_accessible(page, "token issued")
    answer = requests.get(
        f"{live_hub.url}/api/token", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert (answer.status_code, answer.json()["scope"], answer.json()["user"]) == (200, "write", "admin")
    page.goto(f"{live_hub.url}/admin/api/apitoken/")
    assert secret not in page.content()  # shown once: the list has its prefix only


def test_the_api_docs_load_from_the_hub_alone(browser: Any, live_hub: LiveHub) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    fetched: list[str] = []
    tab.on("request", lambda request: fetched.append(request.url))
    tab.goto(f"{live_hub.url}/api/docs/")
    tab.wait_for_selector(".opblock-summary-path", timeout=30_000)  # Swagger UI drew the operations
    assert "Register a model" in tab.inner_text("body")
    shot(tab, "10-api-docs")
    context.close()
    elsewhere = [url for url in fetched if not url.startswith((live_hub.url + "/", "data:", "blob:"))]
    assert not elsewhere, elsewhere
