"""Hostile input: any bytes give a precise error of our own, never a crash or a verdict."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.trust.note import NoteError, Signer, Verifiers, open_note, sign_note
from tocsin.trust.registry import Registry, RegistryError, load_registry
from tocsin.trust.statement import StatementError, parse_statement

SIGNER = Signer.generate("fuzz.example")
VERIFIERS = Verifiers([SIGNER.verifier()])
SIGNED = sign_note("tocsin/alert-statement/v1\nissuer fuzz.example\n", [SIGNER])
REGISTRY = Registry.empty(SIGNER.verifier()).sign(SIGNER)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_open_note_random_bytes(data: bytes) -> None:
    with contextlib.suppress(NoteError):
        open_note(data, VERIFIERS)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(SIGNED) - 1), st.integers(0, 255))
def test_any_changed_byte_of_a_signed_note_is_refused(index: int, value: int) -> None:
    mutated = SIGNED[:index] + bytes([value]) + SIGNED[index + 1 :]
    if mutated == SIGNED:
        return
    try:
        note = open_note(mutated, VERIFIERS)
    except NoteError:
        return
    # Only a change that leaves the text and our signature intact may still open.
    assert note.text.encode() in SIGNED and note.verified_sigs


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parse_statement_random_text(text: str) -> None:
    with contextlib.suppress(StatementError):
        parse_statement(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(REGISTRY) - 1), st.integers(0, 255))
def test_registry_byte_changes_never_crash(index: int, value: int) -> None:
    mutated = REGISTRY[:index] + bytes([value]) + REGISTRY[index + 1 :]
    with contextlib.suppress(RegistryError):
        load_registry(mutated, root=SIGNER.verifier())
