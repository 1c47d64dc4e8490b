"""Admins sign in with passkeys (WebAuthn, the ``webauthn`` package); recovery codes; sessions.

* **Enrolment**: the one-time link ``/org/enrol/{token}`` (``tocsin org create`` or an
  owner's invitation) lets its holder register a passkey; the token is spent in the same
  transaction that stores the passkey, and ten one-time recovery codes are shown once.
* **Login**: a discoverable-credential ceremony (no user name typed); the signature is
  checked against the stored public key and the signature counter must move forward
  (a cloned authenticator shows as a counter that does not).
* **Recovery**: email + one unused recovery code gives a session (the code is spent); the
  admin then registers a new passkey. Each use is audited with the number of codes left.
* Ceremonies (challenge, purpose, who) are kept in memory for :data:`CEREMONY_TTL_SECS`
  and used once; a challenge can never be replayed.
* **Sessions** are random tokens kept hashed; the cookie is ``HttpOnly``,
  ``SameSite=Strict``, ``Secure`` when the hub's public URL is HTTPS, and carries nothing
  but the token. Each session has its own CSRF token, which every state-changing request
  must send in ``X-CSRF-Token`` (compared in constant time), and a request whose
  ``Origin`` is not the hub's own is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tocsin.org.model import Admin
from tocsin.org.store import Credential, OrgStore, StoreConflict
from tocsin.org.tokens import new_token, recovery_codes

CEREMONY_TTL_SECS = 300.0
MAX_CEREMONIES = 10_000
SESSION_TTL_SECS = 12 * 3600.0
COOKIE = "tocsin_org"


class AuthRefused(Exception):
    """A ceremony or recovery that does not verify; ``code`` is an API error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Ceremony:
    challenge: bytes
    purpose: str  # "enrol", "add" or "login"
    subject: str  # the enrolment token, the admin id, or ""
    expires: float


class Passkeys:
    """WebAuthn ceremonies for one relying party (the hub's public origin)."""

    def __init__(self, store: OrgStore, base_url: str, *, rp_name: str = "Tocsin") -> None:
        parts = urlsplit(base_url)
        self.store = store
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.rp_id = parts.hostname or "localhost"
        self.rp_name = rp_name
        self.secure_cookies = parts.scheme == "https"
        self._ceremonies: dict[str, _Ceremony] = {}

    def _begin(self, challenge: bytes, purpose: str, subject: str) -> str:
        now = time.monotonic()
        if len(self._ceremonies) >= MAX_CEREMONIES:
            self._ceremonies = {k: c for k, c in self._ceremonies.items() if c.expires > now}
            if len(self._ceremonies) >= MAX_CEREMONIES:
                raise AuthRefused("unavailable", "too many sign-ins in progress; retry in a minute")
        ceremony_id = new_token()
        self._ceremonies[ceremony_id] = _Ceremony(challenge, purpose, subject, now + CEREMONY_TTL_SECS)
        return ceremony_id

    def _take(self, ceremony_id: str, purpose: str) -> _Ceremony:
        ceremony = self._ceremonies.pop(ceremony_id, None) if isinstance(ceremony_id, str) else None
        if ceremony is None or ceremony.purpose != purpose or ceremony.expires < time.monotonic():
            raise AuthRefused("passkey_failed", "this sign-in has expired or was used; start again")
        return ceremony

    # -- registration ----------------------------------------------------------

    def registration_options(self, admin: Admin, purpose: str, subject: str) -> tuple[str, str]:
        """(ceremony id, options JSON) to register a passkey for ``admin``."""
        options = generate_registration_options(
            rp_id=self.rp_id, rp_name=self.rp_name, user_name=admin.email, user_id=admin.id.encode(),
            user_display_name=admin.email,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.PREFERRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=cid)
                                 for cid in self.store.credential_ids(admin.id)])
        return self._begin(options.challenge, purpose, subject), options_to_json(options)

    def _verify_registration(self, ceremony: _Ceremony, credential: object) -> Credential:
        try:
            verified = verify_registration_response(
                credential=credential,  # type: ignore[arg-type]
                expected_challenge=ceremony.challenge, expected_rp_id=self.rp_id,
                expected_origin=self.origin)
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise AuthRefused("passkey_failed", f"the passkey did not verify ({exc})") from None
        return Credential(verified.credential_id, "", verified.credential_public_key, verified.sign_count)

    def enrol_options(self, token: str) -> tuple[str, str]:
        admin = self.store.admin_by_enrolment(token)
        if admin is None:
            raise AuthRefused("enrolment_invalid", "this enrolment link is spent, expired or wrong")
        return self.registration_options(admin, "enrol", token)

    def finish_enrol(self, ceremony_id: str, credential: object) -> tuple[Admin, list[str]]:
        """Store the passkey and spend the enrolment link; the admin and its recovery codes."""
        ceremony = self._take(ceremony_id, "enrol")
        found = self._verify_registration(ceremony, credential)
        codes = recovery_codes()
        try:
            admin = self.store.enrol(ceremony.subject, found, codes)
        except StoreConflict as exc:
            raise AuthRefused("enrolment_invalid", str(exc)) from None
        return admin, codes

    def finish_add(self, ceremony_id: str, admin: Admin, credential: object) -> None:
        ceremony = self._take(ceremony_id, "add")
        if ceremony.subject != admin.id:
            raise AuthRefused("passkey_failed", "this ceremony belongs to another admin")
        found = self._verify_registration(ceremony, credential)
        try:
            self.store.add_credential(admin, found)
        except StoreConflict as exc:
            raise AuthRefused("passkey_failed", str(exc)) from None

    # -- login -----------------------------------------------------------------

    def login_options(self) -> tuple[str, str]:
        options = generate_authentication_options(
            rp_id=self.rp_id, user_verification=UserVerificationRequirement.PREFERRED)
        return self._begin(options.challenge, "login", ""), options_to_json(options)

    def finish_login(self, ceremony_id: str, credential: object) -> Admin:
        from webauthn.helpers import base64url_to_bytes

        ceremony = self._take(ceremony_id, "login")
        try:
            raw_id = base64url_to_bytes(str(credential["rawId"]))  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            raise AuthRefused("passkey_failed", "the credential has no rawId") from None
        stored = self.store.credential(raw_id)
        if stored is None:
            raise AuthRefused("passkey_failed", "this passkey is not registered here")
        try:
            verified = verify_authentication_response(
                credential=credential,  # type: ignore[arg-type]
                expected_challenge=ceremony.challenge, expected_rp_id=self.rp_id,
                expected_origin=self.origin, credential_public_key=stored.public_key,
                credential_current_sign_count=stored.sign_count)
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise AuthRefused("passkey_failed", f"the passkey did not verify ({exc})") from None
        self.store.update_sign_count(raw_id, verified.new_sign_count)
        admin = self.store.admin(stored.admin_id)
        if admin is None:
            raise AuthRefused("passkey_failed", "this passkey's admin no longer exists")
        self.store.audit(admin.org_id, admin.id, "admin.login", {"admin": admin.id})
        return admin

    def recover(self, org_id: str, email: str, code: str) -> Admin:
        admin = self.store.use_recovery_code(org_id, email.strip(), code)
        if admin is None:
            raise AuthRefused("recovery_failed", "this email and recovery code do not match an unused code")
        return admin

    # -- sessions --------------------------------------------------------------

    def cookie_header(self, token: str, max_age: int = int(SESSION_TTL_SECS)) -> str:
        secure = "; Secure" if self.secure_cookies else ""
        return f"{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"

    def start_session(self, admin: Admin) -> tuple[str, str]:
        """(cookie header, CSRF token) of a new session."""
        token, csrf = self.store.create_session(admin.id, SESSION_TTL_SECS)
        return self.cookie_header(token), csrf
