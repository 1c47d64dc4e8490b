"""C2SP tlog-proof bundles (offline proof that an entry is in the log) and witness policies.

A bundle is text (spec: ``specs/tlog-proof.md``)::

    c2sp.org/tlog-proof@v1
    [extra <base64>]
    index <leaf index>
    <base64 inclusion proof hash, leaf's sibling first>...

    <signed checkpoint, verbatim, log signature and witness cosignatures>

Anyone holding the entry bytes, the log's key and origin, and optionally a
:class:`WitnessPolicy`, can check it with :func:`verify_proof_bundle` with no
network: the checkpoint is opened (log signature, origin), the policy's
quorum of witness cosignatures is counted, and only then is the inclusion
proof folded up to the signed root. The ``extra`` data is carried, never
trusted.

The hub builds a bundle with :func:`make_proof_bundle` from its stored hashes
and its latest (cosigned) checkpoint and serves :func:`format_proof_bundle`.

Witness policy file (a small subset of the Sigsum policy format; ``#``
starts a comment, one directive per line, fields separated by spaces)::

    log <log vkey> [url]              # optional: trusted log key(s), type 0x01
    witness <name> <witness vkey> [url]   # a cosignature/v1 (type 0x04) key
    quorum <k>                        # required: k of the witnesses must cosign

``quorum 0`` accepts a checkpoint without cosignatures (log signature only).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from tocsin.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    Cosignature,
    CosignatureError,
    CosignatureVerifier,
    note_text,
    open_checkpoint,
    parse_checkpoint,
    verify_cosignatures,
)
from tocsin.tlog.tree import (
    HASH_SIZE,
    HashReader,
    ProofError,
    TlogError,
    TreeError,
    prove_inclusion,
    stored_hash_index,
    verify_inclusion,
)
from tocsin.tlog.tree import (
    leaf_hash as rfc6962_leaf_hash,
)
from tocsin.trust.ed25519 import b64decode_strict
from tocsin.trust.note import KeyFormatError, Note, Verifier, Verifiers

__all__ = [
    "MAX_PROOF_BUNDLE_BYTES",
    "PROOF_HEADER",
    "PolicyError",
    "ProofBundle",
    "ProofBundleError",
    "ProofVerificationError",
    "VerifiedProof",
    "WitnessPolicy",
    "format_proof_bundle",
    "make_proof_bundle",
    "parse_policy",
    "parse_proof_bundle",
    "verify_proof_bundle",
]

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_BUNDLE_BYTES = 128 * 1024
"""A bundle is a few KiB: 63 hashes, a checkpoint, some cosignatures and a small extra."""
MAX_PROOF_HASHES = 63
"""An inclusion proof in a uint64-sized tree has at most 63 hashes."""
MAX_POLICY_BYTES = 256 * 1024
_INDEX_RE = re.compile(r"index (0|[1-9][0-9]{0,19})", re.ASCII)


class ProofBundleError(TlogError):
    """The bytes are not a well-formed tlog-proof bundle; the message says where."""


class ProofVerificationError(TlogError):
    """A well-formed bundle does not prove inclusion: bad signature, origin, quorum or proof."""


class PolicyError(TlogError):
    """A witness policy file is malformed."""


# ------------------------------------------------------------------------ policy


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """Which log keys to trust and how many of which witnesses must cosign (k of n)."""

    witnesses: tuple[CosignatureVerifier, ...]
    quorum: int
    logs: tuple[Verifier, ...] = ()
    names: tuple[str, ...] = ()  # local labels from the policy file, parallel to ``witnesses``
    urls: tuple[str | None, ...] = ()  # submission prefixes, parallel to ``witnesses`` (optional)

    def __post_init__(self) -> None:
        if isinstance(self.quorum, bool) or not isinstance(self.quorum, int):
            raise PolicyError("quorum must be an integer")
        if not 0 <= self.quorum <= len(self.witnesses):
            raise PolicyError(f"quorum {self.quorum} is not between 0 and {len(self.witnesses)} witnesses")
        if len({(w.name, w.key_id) for w in self.witnesses}) != len(self.witnesses):
            raise PolicyError("a witness key is listed twice")
        # A cosignature/v1 message does not name its witness: one key under two key names
        # would count one witness's signature twice towards the quorum.
        if len({w.public_key for w in self.witnesses}) != len(self.witnesses):
            raise PolicyError("the same key is listed twice under different witness names "
                              "(one witness cannot count twice)")

    def check(self, note: Note) -> list[Cosignature]:
        """The valid cosignatures by policy witnesses; :class:`ProofVerificationError` below quorum."""
        try:
            cosigs = verify_cosignatures(note, self.witnesses)
        except CosignatureError as exc:
            raise ProofVerificationError(str(exc)) from None
        if len(cosigs) < self.quorum:
            have = ", ".join(c.name for c in cosigs) or "none"
            raise ProofVerificationError(
                f"checkpoint has {len(cosigs)} valid witness cosignature(s) ({have}), "
                f"the policy requires {self.quorum} of {len(self.witnesses)}"
            )
        return cosigs


def parse_policy(text: str) -> WitnessPolicy:
    """Parse a policy file (format in the module docstring), naming the bad line."""
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError(f"policy is larger than {MAX_POLICY_BYTES} bytes")
    logs: list[Verifier] = []
    witnesses: list[CosignatureVerifier] = []
    names: list[str] = []
    urls: list[str | None] = []
    quorum: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"policy line {number}"
        keyword, args = fields[0], fields[1:]
        try:
            if keyword == "log" and len(args) in (1, 2):
                logs.append(Verifier.from_vkey(args[0]))
            elif keyword == "witness" and len(args) in (2, 3):
                if args[0] in names:
                    raise PolicyError(f"{where}: witness name {args[0]!r} is used twice")
                names.append(args[0])
                witnesses.append(CosignatureVerifier.from_vkey(args[1]))
                urls.append(args[2] if len(args) == 3 else None)
            elif keyword == "quorum" and len(args) == 1:
                if quorum is not None:
                    raise PolicyError(f"{where}: quorum is given twice")
                if not re.fullmatch(r"0|[1-9][0-9]{0,3}", args[0], re.ASCII):
                    raise PolicyError(f"{where}: quorum {args[0]!r} is not a small decimal number")
                quorum = int(args[0])
            else:
                raise PolicyError(
                    f"{where}: expected 'log VKEY [URL]', 'witness NAME VKEY [URL]' or 'quorum K', "
                    f"got {raw.strip()[:80]!r}"
                )
        except (KeyFormatError, CosignatureError) as exc:
            raise PolicyError(f"{where}: {exc}") from None
    if quorum is None:
        raise PolicyError("policy has no 'quorum K' line")
    return WitnessPolicy(tuple(witnesses), quorum, tuple(logs), tuple(names), tuple(urls))


# ------------------------------------------------------------------------ bundles


@dataclass(frozen=True, slots=True)
class ProofBundle:
    """An inclusion proof of leaf ``index`` plus the signed checkpoint it leads to."""

    index: int
    inclusion: tuple[bytes, ...]
    checkpoint: bytes  # the signed note, verbatim (log signature and cosignatures)
    extra: bytes | None = None


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """What a successful :func:`verify_proof_bundle` established."""

    checkpoint: Checkpoint
    index: int
    cosignatures: tuple[Cosignature, ...]


def format_proof_bundle(bundle: ProofBundle) -> bytes:
    """The bundle's text form (``.tlog-proof`` file / HTTP body)."""
    if isinstance(bundle.index, bool) or not isinstance(bundle.index, int) or bundle.index < 0:
        raise ProofBundleError(f"leaf index must be a non-negative integer, got {bundle.index!r}")
    if len(bundle.inclusion) > MAX_PROOF_HASHES:
        raise ProofBundleError(f"an inclusion proof has at most {MAX_PROOF_HASHES} hashes")
    if any(len(h) != HASH_SIZE for h in bundle.inclusion):
        raise ProofBundleError(f"every inclusion proof hash must be {HASH_SIZE} bytes")
    lines = [PROOF_HEADER]
    if bundle.extra is not None:
        lines.append("extra " + base64.b64encode(bundle.extra).decode())
    lines.append(f"index {bundle.index}")
    lines.extend(base64.b64encode(h).decode() for h in bundle.inclusion)
    return ("\n".join(lines) + "\n\n").encode() + bundle.checkpoint


def _b64_strict(text: str, what: str) -> bytes:
    try:
        return b64decode_strict(text)
    except ValueError as exc:
        raise ProofBundleError(f"{what} is {exc}") from None


def parse_proof_bundle(data: bytes) -> ProofBundle:
    """Parse a bundle strictly: exact header, canonical numbers and base64, 32-byte hashes.

    The checkpoint part is only checked to be a checkpoint-shaped note here;
    its signature is checked by :func:`verify_proof_bundle`.
    """
    if not isinstance(data, bytes | bytearray):
        raise ProofBundleError(f"a proof bundle is bytes, got {type(data).__name__}")
    if len(data) > MAX_PROOF_BUNDLE_BYTES:
        raise ProofBundleError(f"proof bundle is larger than {MAX_PROOF_BUNDLE_BYTES} bytes")
    head, sep, checkpoint = bytes(data).partition(b"\n\n")
    if not sep:
        raise ProofBundleError("proof bundle has no blank line before the checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise ProofBundleError("proof bundle header is not ASCII") from None
    if lines[0] != PROOF_HEADER:
        raise ProofBundleError(f"first line must be {PROOF_HEADER!r}, got {lines[0][:60]!r}")
    pos = 1
    extra: bytes | None = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = _b64_strict(lines[pos][6:], "extra data")
        pos += 1
    if pos >= len(lines) or not _INDEX_RE.fullmatch(lines[pos]):
        got = lines[pos][:60] if pos < len(lines) else "nothing"
        raise ProofBundleError(f"line {pos + 1} must be 'index N' (decimal, no leading zeros), got {got!r}")
    index = int(lines[pos][6:])
    if index >= 1 << 64:
        raise ProofBundleError("leaf index is beyond uint64")
    proof_lines = lines[pos + 1 :]
    if len(proof_lines) > MAX_PROOF_HASHES:
        raise ProofBundleError(f"inclusion proof has {len(proof_lines)} lines, at most {MAX_PROOF_HASHES}")
    proof: list[bytes] = []
    for n, line in enumerate(proof_lines):
        h = _b64_strict(line, f"inclusion proof line {n + 1}")
        if len(h) != HASH_SIZE:
            raise ProofBundleError(f"inclusion proof line {n + 1} is {len(h)} bytes, not {HASH_SIZE}")
        proof.append(h)
    try:
        parse_checkpoint(note_text(checkpoint))
    except CheckpointError as exc:
        raise ProofBundleError(f"checkpoint part: {exc}") from None
    return ProofBundle(index, tuple(proof), checkpoint, extra)


def make_proof_bundle(
    index: int, reader: HashReader, signed_checkpoint: bytes, *, extra: bytes | None = None
) -> ProofBundle:
    """Build the bundle for leaf ``index`` against ``signed_checkpoint`` from stored hashes.

    The proof is checked against the checkpoint's root before it is returned,
    so a hub never serves a bundle that its own checkpoint contradicts.
    """
    try:
        cp = parse_checkpoint(note_text(signed_checkpoint))
        proof = prove_inclusion(cp.size, index, reader)
        leaf = reader.read_hashes([stored_hash_index(0, index)])[0]
        verify_inclusion(index, cp.size, leaf, proof, cp.root_hash)
    except (CheckpointError, TreeError, ProofError) as exc:
        raise ProofBundleError(f"cannot prove leaf {index}: {exc}") from None
    return ProofBundle(index, tuple(proof), bytes(signed_checkpoint), extra)


def verify_proof_bundle(
    bundle: ProofBundle | bytes,
    *,
    origin: str,
    entry: bytes | None = None,
    leaf_hash: bytes | None = None,
    log_verifier: Verifier | Verifiers | None = None,
    policy: WitnessPolicy | None = None,
) -> VerifiedProof:
    """Check offline that ``entry`` (or its RFC 6962 ``leaf_hash``) is in the log ``origin``.

    Steps, in the spec's order: open the checkpoint with ``log_verifier`` (or
    the policy's ``log`` keys) and require ``origin``; count the policy's
    witness cosignatures against its quorum; fold the inclusion proof to the
    signed root. Raises :class:`ProofBundleError` (malformed) or
    :class:`ProofVerificationError` (does not prove inclusion).
    """
    if (entry is None) == (leaf_hash is None):
        raise ValueError("give exactly one of entry= or leaf_hash=")
    parsed = parse_proof_bundle(bundle) if isinstance(bundle, bytes | bytearray) else bundle
    if log_verifier is None:
        if policy is None or not policy.logs:
            raise ValueError("no log key: give log_verifier= or a policy with 'log' lines")
        log_verifier = Verifiers(policy.logs)
    try:
        cp, note = open_checkpoint(parsed.checkpoint, log_verifier, origin)
    except CheckpointError as exc:
        raise ProofVerificationError(str(exc)) from None
    cosigs = policy.check(note) if policy is not None else []
    leaf = rfc6962_leaf_hash(entry) if entry is not None else leaf_hash
    assert leaf is not None  # one of the two was given (checked above)
    try:
        verify_inclusion(parsed.index, cp.size, leaf, parsed.inclusion, cp.root_hash)
    except ProofError as exc:
        raise ProofVerificationError(str(exc)) from None
    return VerifiedProof(cp, parsed.index, tuple(cosigs))

