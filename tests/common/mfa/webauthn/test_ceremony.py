"""The relying party comes from the settings, else the site; py_webauthn accepts the test
authenticator's answers, and refuses each answer one of its knobs spoils.
"""

import contextlib
import functools
import json
from typing import Any

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import PublicKeyCredentialDescriptor, UserVerificationRequirement

from common.mfa.webauthn.ceremony import (
    CeremonyRefused,
    RelyingParty,
    assertion_parse,
    assertion_verify,
    registration_verify,
    relying_party,
)
from tests.common.accounts.conftest import dualauth
from tests.common.mfa.webauthn.conftest import (
    REGISTRATION_EDITS,
    SAFETYNET_REPRODUCERS,
    STILL_VALID,
)
from tests.webauthn import FORMATS, SoftAuthenticator, attestation_edit, b64url, b64url_decode

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


# No exception of py_webauthn's on an answer escapes: each is CeremonyRefused.


@functools.cache
def _attested(fmt: str) -> tuple[bytes, dict[str, Any]]:
    """The challenge of creation options, and an answer to them attested in `fmt`: made once."""
    challenge, options = _creation_options()
    return challenge, SoftAuthenticator().register(options, ORIGIN, fmt=fmt)


def _registration_refused(challenge: bytes, answer: Any) -> None:
    with pytest.raises(CeremonyRefused):
        registration_verify(rp=RP, credential=answer, challenge=challenge)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_answer_of_each_format_verifies_or_is_refused_at_its_formats_last_checks(fmt):
    challenge, answer = _attested(fmt)
    if fmt in ("android-key", "android-safetynet", "apple"):
        # Their certificates chain to no root of Google's or Apple's.
        with pytest.raises(CeremonyRefused, match=r"root|chain"):
            registration_verify(rp=RP, credential=answer, challenge=challenge)
        return
    assert registration_verify(rp=RP, credential=answer, challenge=challenge).fmt == fmt


@pytest.mark.parametrize("edit", SAFETYNET_REPRODUCERS.values(), ids=SAFETYNET_REPRODUCERS)
def test_a_safetynet_statement_with_a_text_response_or_a_list_for_header_is_refused_not_raised(
    edit, caplog
):
    challenge, answer = _attested("android-safetynet")
    _registration_refused(challenge, attestation_edit(answer, edit))
    # Not py_webauthn's own refusal: logged, with where it came from.
    [record] = [r for r in caplog.records if r.name == "dualauth.passkeys"]
    assert record.levelname == "WARNING"
    assert record.exc_info is not None
    assert record.exc_info[0] is AttributeError


def test_a_refusal_of_py_webauthns_own_is_not_logged(caplog):
    challenge, options = _creation_options()
    answer = SoftAuthenticator().register(options, ORIGIN, user_verified=False)
    _registration_refused(challenge, answer)
    assert [r for r in caplog.records if r.name == "dualauth.passkeys"] == []


@pytest.mark.parametrize(
    ("fmt", "name", "edit"), REGISTRATION_EDITS, ids=[f"{f}: {n}" for f, n, _ in REGISTRATION_EDITS]
)
def test_each_spoilt_statement_of_the_table_is_refused_not_raised(fmt, name, edit):
    challenge, answer = _attested(fmt)
    spoilt = attestation_edit(answer, edit)
    if (fmt, name) in STILL_VALID:
        with contextlib.suppress(CeremonyRefused):
            registration_verify(rp=RP, credential=spoilt, challenge=challenge)
        return
    _registration_refused(challenge, spoilt)


# What a client can put where CBOR or JSON is expected, small: the fuzz is for breadth.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=12)
)
JSON = st.recursive(
    SCALARS | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
CBOR = st.recursive(
    SCALARS | st.binary(max_size=48),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
# Deterministic, so that CI is; few examples, as every test file here runs twice in CI.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _bytes_spoilt(data: st.DataObject, value: bytes) -> bytes:
    """`value` cut short, with a byte flipped, or lengthened, as drawn."""
    how = data.draw(st.sampled_from(["cut", "flip", "append"]))
    if how == "cut" or not value:
        return value[: data.draw(st.integers(0, max(len(value) - 1, 0)))]
    if how == "flip":
        at = data.draw(st.integers(0, len(value) - 1))
        return value[:at] + bytes([value[at] ^ data.draw(st.integers(1, 255))]) + value[at + 1 :]
    return value + data.draw(st.binary(min_size=1, max_size=8))


def _spoilt(data: st.DataObject, value: Any) -> Any:
    """`value` with one part of it spoilt: bytes changed, or any part swapped for any CBOR."""
    if isinstance(value, bytes) and data.draw(st.booleans()):
        return _bytes_spoilt(data, value)
    if isinstance(value, list) and value and data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(value) - 1))
        return [*value[:at], _spoilt(data, value[at]), *value[at + 1 :]]
    return data.draw(CBOR)


def _safetynet_spoilt(data: st.DataObject, response: bytes) -> bytes:
    """The JWS with its header or payload swapped for any JSON, or one member of it spoilt."""
    parts = [b64url_decode(part.decode()) for part in response.split(b".")]
    at = data.draw(st.integers(0, 1))
    document = json.loads(parts[at])
    if data.draw(st.booleans()):
        document[data.draw(st.sampled_from(sorted(document)))] = data.draw(JSON)
    else:
        document = data.draw(JSON)
    parts[at] = json.dumps(document).encode()
    return b".".join(b64url(part).encode() for part in parts)


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_no_spoilt_statement_of_any_format_raises_more_than_a_refusal(fmt, data):
    challenge, answer = _attested(fmt)

    def edit(attestation: dict[str, Any]) -> None:
        statement = attestation["attStmt"]
        jws_spoilt = fmt == "android-safetynet" and data.draw(st.booleans())
        if jws_spoilt:
            statement["response"] = _safetynet_spoilt(data, statement["response"])
        for _ in range(data.draw(st.integers(0 if jws_spoilt else 1, 2))):
            member = data.draw(st.sampled_from([*sorted(statement), "x5c", "sig", "alg", "ver"]))
            if member in statement and data.draw(st.integers(0, 4)) == 0:
                del statement[member]
            else:
                statement[member] = _spoilt(data, statement.get(member))

    with contextlib.suppress(CeremonyRefused):
        registration_verify(rp=RP, credential=attestation_edit(answer, edit), challenge=challenge)


@FUZZ
@given(data=st.data())
def test_no_spoilt_attestation_object_raises_more_than_a_refusal(data):
    challenge, answer = _attested(data.draw(st.sampled_from(sorted(FORMATS))))

    def edit(attestation: dict[str, Any]) -> None:
        member = data.draw(st.sampled_from(["fmt", "attStmt", "authData"]))
        attestation[member] = _spoilt(data, attestation[member])

    with contextlib.suppress(CeremonyRefused):
        registration_verify(rp=RP, credential=attestation_edit(answer, edit), challenge=challenge)


def _json_spoilt(data: st.DataObject, answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with a member of it, or of its response, any JSON, or its bytes spoilt."""
    response = dict(answer["response"])
    spoilt = {**answer, "response": response}
    member = data.draw(st.sampled_from([*sorted(answer), *(f"response.{m}" for m in response)]))
    holder, name = (response, member[9:]) if member.startswith("response.") else (spoilt, member)
    value = holder[name]
    if name == "clientDataJSON" and data.draw(st.booleans()):
        client = json.loads(b64url_decode(value))
        client[data.draw(st.sampled_from(sorted(client)))] = data.draw(JSON)
        holder[name] = b64url(json.dumps(data.draw(st.just(client) | JSON)).encode())
    elif isinstance(value, str) and data.draw(st.booleans()):
        holder[name] = b64url(_bytes_spoilt(data, b64url_decode(value)))
    else:
        holder[name] = data.draw(JSON)
    return spoilt


@FUZZ
@given(data=st.data())
def test_no_spoilt_registration_answer_raises_more_than_a_refusal(data):
    challenge, answer = _attested(data.draw(st.sampled_from(sorted(FORMATS))))
    with contextlib.suppress(CeremonyRefused):
        registration_verify(rp=RP, credential=_json_spoilt(data, answer), challenge=challenge)


@functools.cache
def _asserted() -> tuple[bytes, dict[str, Any], bytes]:
    """The challenge of request options, an answer to them, and its credential's public key."""
    authenticator = SoftAuthenticator()
    challenge, options = _creation_options()
    verified = registration_verify(
        rp=RP, credential=authenticator.register(options, ORIGIN), challenge=challenge
    )
    challenge, options = _request_options()
    return challenge, authenticator.authenticate(options, ORIGIN), verified.credential_public_key


@FUZZ
@given(data=st.data())
def test_no_spoilt_login_answer_raises_more_than_a_refusal(data):
    challenge, answer, public_key = _asserted()
    spoilt = _json_spoilt(data, answer)
    try:
        assertion_parse(spoilt)
        assertion_verify(
            rp=RP, credential=spoilt, challenge=challenge, public_key=public_key, sign_count=0
        )
    except CeremonyRefused:
        pass
