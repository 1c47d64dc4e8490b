"""Trust: who signed an alert, whether the bytes are the ones signed, and whether they may.

Modules, one concept each:

* ``note`` — C2SP signed notes with Ed25519 keys (``Signer``, ``Verifier``,
  ``Verifiers``, ``sign_note``, ``open_note``); reusable for tlog checkpoints.
* ``keyfiles`` — reading and writing key files (private keys mode 0600).
* ``statement`` — the issuer statement signed for each CAP document.
* ``registry`` — the root-signed issuer registry (RFC 8785 canonical JSON).
* ``verify`` — the offline verifier: ``verify_alert(...) -> Verdict``; what an issuer
  may send, and where, is the rulebook's (:func:`tocsin.ledger.authorise`).

Kept import-light on purpose: import the submodule you need.
"""
