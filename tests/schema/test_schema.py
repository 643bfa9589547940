"""The served OpenAPI schema: who may call each operation, and every status it answers."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import models
from drf_spectacular.generators import SchemaGenerator

from common.routes import JWT_COOKIE, JWT_HEADER, MODE_ROUTES, SESSION, SHARED_ROUTES, api_prefix

ERROR_REF = "#/components/schemas/Error"
RESOLVER: list[dict[str, list[str]]] = [{"jwtBearer": []}, {"jwtCookie": []}, {"session": []}]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The schema `/api/schema/` serves."""
    return dict(SchemaGenerator().get_schema(request=None, public=True))


def operation(schema: dict[str, Any], method: str, route: str) -> dict[str, Any]:
    """The operation `method` of `route` (of the route table, under the API prefix)."""
    path = api_prefix() + route.replace("<uuid:", "{").replace("<int:", "{")
    return dict(schema["paths"][path.replace(">", "}")][method])


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation, as (method, path, operation)."""
    return [
        (method, path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_each_credential_alone_is_an_alternative_never_all_three_together(
    schema: dict[str, Any],
) -> None:
    for method, route in [
        ("get", "profile/"),
        ("patch", "profile/"),
        ("get", "account/mfa/passkeys/"),
        ("get", "account/mfa/recovery-codes/"),
        ("post", "account/mfa/passkeys/options/"),
    ]:
        assert operation(schema, method, route)["security"] == RESOLVER, (method, route)
    for method, path, op in operations(schema):
        assert all(len(requirement) <= 1 for requirement in op["security"]), (method, path)


def test_each_mode_own_endpoints_name_its_credential_alone(schema: dict[str, Any]) -> None:
    assert operation(schema, "get", MODE_ROUTES[SESSION]["profile"])["security"] == [
        {"session": []}
    ]
    assert operation(schema, "get", MODE_ROUTES[JWT_HEADER]["profile"])["security"] == [
        {"jwtBearer": []}
    ]
    assert operation(schema, "post", MODE_ROUTES[JWT_COOKIE]["refresh"])["security"] == [{}]


@pytest.mark.parametrize(
    ("method", "route", "statuses"),
    [
        ("post", MODE_ROUTES[JWT_HEADER]["refresh"], {"200", "400", "401"}),
        ("post", MODE_ROUTES[JWT_HEADER]["verify"], {"200", "400", "401"}),
        ("post", MODE_ROUTES[JWT_HEADER]["logout"], {"204", "400", "401"}),
        ("post", MODE_ROUTES[JWT_COOKIE]["refresh"], {"200", "401", "403"}),
        ("post", MODE_ROUTES[JWT_COOKIE]["logout"], {"204", "401", "403"}),
        ("get", MODE_ROUTES[SESSION]["profile"], {"200", "401"}),
        ("patch", MODE_ROUTES[SESSION]["profile"], {"200", "400", "401", "403"}),
        ("get", MODE_ROUTES[SESSION]["logins"], {"200", "401"}),
        ("delete", MODE_ROUTES[SESSION]["login-revoke"], {"204", "401", "403", "404"}),
        ("post", MODE_ROUTES[SESSION]["logout"], {"204", "401", "403"}),
        ("get", SHARED_ROUTES["profile"], {"200", "401"}),
        ("patch", SHARED_ROUTES["profile"], {"200", "400", "401", "403", "413", "415"}),
        ("post", SHARED_ROUTES["signup"], {"202", "400", "429"}),
    ],
)
def test_an_operation_documents_each_status_it_answers(
    schema: dict[str, Any], method: str, route: str, statuses: set[str]
) -> None:
    assert statuses <= set(operation(schema, method, route)["responses"])


def test_the_jwks_documents_its_404(schema: dict[str, Any]) -> None:
    assert "404" in schema["paths"]["/.well-known/jwks.json"]["get"]["responses"]


def test_every_operation_that_needs_a_login_documents_401(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        if op["security"] != [{}]:
            assert "401" in op["responses"], (method, path)


def test_every_error_is_the_error_shape(schema: dict[str, Any]) -> None:
    for method, path, op in operations(schema):
        for status, response in op["responses"].items():
            if status.startswith("4") or (status == "503" and "health" not in path):
                body = response["content"]["application/json"]["schema"]
                assert body == {"$ref": ERROR_REF}, (method, path, status)
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"detail", "code"}


def test_the_profile_id_is_of_the_type_of_the_user_models_key(schema: dict[str, Any]) -> None:
    key = get_user_model()._meta.pk
    # The custom user model of tests/settings_custom_user.py has a UUID key; Django's, a number.
    expected = (
        {"type": "string", "format": "uuid", "readOnly": True}
        if isinstance(key, models.UUIDField)
        else {"type": "integer", "readOnly": True}
    )
    assert schema["components"]["schemas"]["Profile"]["properties"]["id"] == expected
