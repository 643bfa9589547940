"""The relying party comes from the settings, else the site; py_webauthn accepts the test
authenticator's answers, and refuses each answer one of its knobs spoils.
"""

from typing import Any

import pytest
from django.test import RequestFactory
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import PublicKeyCredentialDescriptor, UserVerificationRequirement

from common.passkeys.webauthn import (
    CeremonyRefused,
    RelyingParty,
    assertion_parse,
    assertion_verify,
    registration_verify,
    relying_party,
)
from tests.common.accounts.conftest import dualauth
from tests.webauthn import SoftAuthenticator, b64url, b64url_decode

RP_ID, ORIGIN = "example.com", "https://example.com"
RP = RelyingParty(id=RP_ID, name="dualauth", origins=[ORIGIN])


def _creation_options() -> tuple[bytes, dict[str, Any]]:
    options = generate_registration_options(
        rp_id=RP_ID, rp_name="dualauth", user_name="alice", user_id=b"handle-of-alice"
    )
    return options.challenge, options_to_json_dict(options)


def _request_options(allow: list[bytes] | None = None) -> tuple[bytes, dict[str, Any]]:
    options = generate_authentication_options(
        rp_id=RP_ID,
        allow_credentials=[PublicKeyCredentialDescriptor(id=i) for i in allow or []],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options.challenge, options_to_json_dict(options)


@pytest.fixture
def registered() -> tuple[SoftAuthenticator, Any]:
    """An authenticator with one credential, and what py_webauthn verified of it."""
    authenticator = SoftAuthenticator()
    challenge, options = _creation_options()
    answer = authenticator.register(options, ORIGIN)
    verified = verify_registration_response(
        credential=answer,
        expected_challenge=challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
    )
    return authenticator, verified


def _verify_assertion(answer: dict[str, Any], challenge: bytes, verified: Any, count: int) -> Any:
    return verify_authentication_response(
        credential=answer,
        expected_challenge=challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        credential_public_key=verified.credential_public_key,
        credential_current_sign_count=count,
        require_user_verification=True,
    )


# The test authenticator, against py_webauthn itself.


def test_a_registration_answer_is_what_a_browser_gives_and_py_webauthn_verifies_it(registered):
    authenticator, verified = registered
    [credential] = authenticator.credentials.values()
    assert verified.credential_id == credential.credential_id
    assert verified.user_verified is True
    assert verified.fmt == "none"
    assert verified.sign_count == 0


def test_a_registration_answer_has_the_fields_of_public_key_credential_to_json():
    _, options = _creation_options()
    answer = SoftAuthenticator().register(options, ORIGIN)
    assert set(answer) == {
        "id",
        "rawId",
        "type",
        "authenticatorAttachment",
        "clientExtensionResults",
        "response",
    }
    assert set(answer["response"]) == {
        "clientDataJSON",
        "attestationObject",
        "authenticatorData",
        "transports",
        "publicKeyAlgorithm",
        "publicKey",
    }
    assert answer["id"] == answer["rawId"]
    assert "=" not in answer["response"]["clientDataJSON"]


def test_an_assertion_verifies_and_its_counter_goes_up_by_one(registered):
    authenticator, verified = registered
    challenge, options = _request_options([verified.credential_id])
    answer = authenticator.authenticate(options, ORIGIN)
    result = _verify_assertion(answer, challenge, verified, 0)
    assert result.new_sign_count == 1
    assert result.user_verified is True
    assert b64url_decode(answer["response"]["userHandle"]) == b"handle-of-alice"


def test_a_discoverable_assertion_picks_the_only_credential_of_the_rp_id(registered):
    authenticator, verified = registered
    challenge, options = _request_options()
    assert "allowCredentials" not in options or options["allowCredentials"] == []
    answer = authenticator.authenticate(options, ORIGIN)
    assert b64url_decode(answer["rawId"]) == verified.credential_id
    assert _verify_assertion(answer, challenge, verified, 0).new_sign_count == 1


@pytest.mark.parametrize(
    "knob",
    [
        {"origin": "https://evil.example"},
        {"rp_id": "evil.example"},
        {"user_verified": False},
        {"user_present": False},
        {"challenge": b64url(b"another challenge")},
        {"ceremony": "webauthn.get"},
    ],
)
def test_each_knob_makes_a_registration_py_webauthn_refuses(knob):
    challenge, options = _creation_options()
    origin = knob.pop("origin", ORIGIN)
    answer = SoftAuthenticator().register(options, origin, **knob)
    with pytest.raises(InvalidRegistrationResponse):
        verify_registration_response(
            credential=answer,
            expected_challenge=challenge,
            expected_rp_id=RP_ID,
            expected_origin=ORIGIN,
            require_user_verification=True,
        )


@pytest.mark.parametrize(
    "knob",
    [
        {"origin": "https://evil.example"},
        {"rp_id": "evil.example"},
        {"user_verified": False},
        {"user_present": False},
        {"sign_count": 5},
        {"challenge": b64url(b"another challenge")},
        {"ceremony": "webauthn.create"},
    ],
)
def test_each_knob_makes_an_assertion_py_webauthn_refuses(registered, knob):
    authenticator, verified = registered
    challenge, options = _request_options([verified.credential_id])
    origin = knob.pop("origin", ORIGIN)
    answer = authenticator.authenticate(options, origin, **knob)
    # Counted to 5 already: a sign count of 5 again has not moved.
    with pytest.raises(InvalidAuthenticationResponse):
        _verify_assertion(answer, challenge, verified, 5 if "sign_count" in knob else 0)


def test_a_user_handle_can_be_left_out_or_changed(registered):
    authenticator, _ = registered
    _, options = _request_options()
    left_out = authenticator.authenticate(options, ORIGIN, user_handle=None)
    assert left_out["response"]["userHandle"] is None
    changed = authenticator.authenticate(options, ORIGIN, user_handle=b"bob")
    assert b64url_decode(changed["response"]["userHandle"]) == b"bob"


# The relying party, and the library's failures as one exception.


def test_the_relying_party_is_the_site_the_request_reached_by_default(db):
    request = RequestFactory().get("/", HTTP_HOST="localhost:8000", secure=True)
    assert relying_party(request=request) == RelyingParty(
        id="localhost", name="dualauth", origins=["https://localhost:8000"]
    )


def test_the_relying_party_comes_from_the_settings_when_they_name_one(settings):
    dualauth(
        settings,
        WEBAUTHN_RP_ID="example.com",
        WEBAUTHN_RP_NAME="Example",
        WEBAUTHN_ORIGINS=["https://example.com", "https://app.example.com"],
    )
    request = RequestFactory().get("/", HTTP_HOST="localhost")
    assert relying_party(request=request) == RelyingParty(
        id="example.com", name="Example", origins=["https://example.com", "https://app.example.com"]
    )


def test_a_registration_that_verifies_gives_the_credential():
    challenge, options = _creation_options()
    answer = SoftAuthenticator().register(options, ORIGIN)
    verified = registration_verify(rp=RP, credential=answer, challenge=challenge)
    assert b64url(verified.credential_id) == answer["rawId"]


def test_a_registration_without_user_verification_is_refused():
    challenge, options = _creation_options()
    answer = SoftAuthenticator().register(options, ORIGIN, user_verified=False)
    with pytest.raises(CeremonyRefused):
        registration_verify(rp=RP, credential=answer, challenge=challenge)


def test_an_assertion_without_user_verification_is_refused(registered):
    authenticator, verified = registered
    challenge, options = _request_options([verified.credential_id])
    answer = authenticator.authenticate(options, ORIGIN, user_verified=False)
    with pytest.raises(CeremonyRefused):
        assertion_verify(
            rp=RP,
            credential=answer,
            challenge=challenge,
            public_key=verified.credential_public_key,
            sign_count=0,
        )


def test_an_assertion_names_its_credential_and_user_handle(registered):
    authenticator, verified = registered
    _, options = _request_options()
    answer = authenticator.authenticate(options, ORIGIN)
    assert assertion_parse(answer) == (verified.credential_id, b"handle-of-alice")


@pytest.mark.parametrize(
    "change",
    [
        {"response": {"userHandle": "a"}},
        {"response": {"userHandle": "é"}},
        {"response": {"userHandle": 7}},
        {"rawId": "a"},
        {"rawId": None},
        {"response": None},
    ],
)
def test_a_malformed_assertion_is_refused_not_raised(registered, change):
    authenticator, _ = registered
    _, options = _request_options()
    answer = authenticator.authenticate(options, ORIGIN)
    for key, value in change.items():
        if isinstance(value, dict):
            answer[key] = {**answer[key], **value}
        else:
            answer[key] = value
    with pytest.raises(CeremonyRefused):
        assertion_parse(answer)
