"""The admin's own pages without a browser: the dashboard's data, the form's check buttons' endpoint
(its errors in the one JSON shape), and the model page's version activation."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from registry.models import LabelStudioInstance, ModelProject, ModelVersion, Project, RegisteredModel
from tests.conftest import admin_model_form, register

pytestmark = pytest.mark.django_db
TOOLS = "/admin/registry/registeredmodel/tools/"


def staff_client(*permissions: str) -> Client:
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_the_index_is_the_branded_dashboard_for_those_who_may_see_models(admin_client: Client) -> None:
    register("dummy", "examples.dummy.model.DummyModel")
    page = admin_client.get("/admin/").content.decode().replace("<wbr>", "")
    assert "<title>Dashboard | WOW AI Hub</title>" in page and "Django administration" not in page
    assert "http://localhost:9090/ml/dummy" in page and 'id="hub-chart-data"' in page
    nobody = staff_client().get("/admin/").content.decode()
    assert "WOW AI Hub" in nobody and "/ml/dummy" not in nobody  # no view permission, no cards


def test_the_check_endpoint_answers_errors_in_the_one_shape(admin_client: Client) -> None:
    assert admin_client.get(TOOLS + "test-connection/").json()["code"] == "method_not_allowed"
    assert admin_client.post(TOOLS + "launch/", {}).status_code == 404
    answer = admin_client.post(TOOLS + "test-connection/", admin_model_form(slug="has spaces"))
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid" and "slug" in answer.json()["fields"]
    assert admin_client.post(TOOLS + "test-connection/", {"_hub_object_id": "999"}).status_code == 404
    viewer = staff_client("view_registeredmodel")
    form = admin_model_form(slug="x", import_path="examples.dummy.model.DummyModel")
    assert viewer.post(TOOLS + "test-connection/", form).json()["code"] == "permission_denied"


def test_the_check_buttons_act_on_a_saved_model_only_for_those_who_may_change_it(
    admin_client: Client,
) -> None:
    model = register("d", "examples.dummy.model.DummyModel")
    form = {
        **admin_model_form(name="D", slug="d", import_path="examples.dummy.model.DummyModel"),
        "_hub_object_id": str(model.pk),
    }
    # A viewer may add nothing either: the add permission is no way round the change permission.
    viewer = staff_client("view_registeredmodel", "add_registeredmodel")
    for tool in ("test-connection/", "fetch-classes/"):
        answer = viewer.post(TOOLS + tool, form)
        assert (answer.status_code, answer.json()["code"]) == (403, "permission_denied"), tool
    assert admin_client.post(TOOLS + "test-connection/", form).json()["ok"] is True


def test_a_test_from_the_form_uses_its_values_and_records_nothing(admin_client: Client) -> None:
    form = admin_model_form(name="D", slug="d", import_path="examples.dummy.model.DummyModel")
    answer = admin_client.post(TOOLS + "test-connection/", form).json()
    assert answer["ok"] is True and answer["message"].startswith("Loaded DummyModel")
    assert not RegisteredModel.objects.exists()
    model = register("d", "examples.dummy.model.DummyModel")
    broken = {
        **form,
        "_hub_object_id": str(model.pk),
        "import_path": "tests.models.protocol.BrokenConstructorModel",
    }
    answer = admin_client.post(TOOLS + "test-connection/", broken).json()
    assert answer["ok"] is False and "weights file missing" in answer["message"]
    model.refresh_from_db()
    assert (model.import_path, model.last_check_ok) == ("examples.dummy.model.DummyModel", None)
    answer = admin_client.post(TOOLS + "fetch-classes/", {**form, "_hub_object_id": str(model.pk)}).json()
    assert answer == {"ok": False, "message": "Only model servers list their classes."}


def test_saving_a_registration_shows_the_url_to_paste(admin_client: Client) -> None:
    form = admin_model_form(name="Text", slug="text", import_path="examples.dummy.model.DummyModel")
    response = admin_client.post(
        "/admin/registry/registeredmodel/add/", {**form, "_save": "Save"}, follow=True
    )
    shown = [str(m) for m in response.context["messages"]]
    model = RegisteredModel.objects.get(slug="text")
    assert response.redirect_chain[-1][0] == f"/admin/registry/registeredmodel/{model.pk}/change/"
    assert "Paste this URL into Label Studio (Connect model): http://localhost:9090/ml/text" in shown
    page = response.content.decode()
    # The read-only slug keeps its whole help text (a "<slug>" in it would be read as a tag and vanish).
    assert "which is /ml/ followed by the slug; fixed once saved." in page


def test_a_version_is_activated_from_the_model_page_by_those_who_may_change_it(admin_client: Client) -> None:
    model = register("trained", "examples.dummy.model.DummyModel")
    project = Project.objects.create(
        instance=LabelStudioInstance.objects.create(hostname="h"), ls_project_id=1
    )
    link = ModelProject.objects.create(model=model, project=project, active_version=2)
    first = ModelVersion.objects.create(model_project=link, number=1, state={"k": "v1"})
    url = f"/admin/registry/registeredmodel/{model.pk}/activate/{first.pk}/"
    assert staff_client("view_registeredmodel").post(url).status_code == 403
    assert admin_client.get(url).status_code == 405
    link.refresh_from_db()
    assert link.active_version == 2
    assert admin_client.post(url).status_code == 302
    link.refresh_from_db()
    assert link.active_version == 1
    other = register("other", "examples.dummy.model.DummyModel")
    assert (
        admin_client.post(f"/admin/registry/registeredmodel/{other.pk}/activate/{first.pk}/").status_code
        == 404
    )
