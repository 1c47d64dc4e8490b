// Verification the browser does itself, trusting the hub for nothing but bytes:
// C2SP signed notes (Ed25519 via WebCrypto), SHA-256 of the exact CAP bytes,
// RFC 6962/9162 Merkle inclusion proofs, C2SP tlog-proof bundles and checkpoints,
// and RFC 8785 (JCS) canonical JSON for the registry's root signature.
// Pure functions on bytes and text; the alert page (alert.js) strings them together.
"use strict";

const TocsinVerify = (() => {
  const enc = new TextEncoder();

  class VerifyError extends Error {}

  function b64decode(text) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new VerifyError("not canonical base64");
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function concat(...parts) {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function equalBytes(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  function webCryptoAvailable() {
    return typeof crypto !== "undefined" && !!crypto.subtle;
  }

  // -- signed notes -------------------------------------------------------------

  function parseVkey(vkey) {
    // name+keyid+base64: the name has no "+", the base64 may.
    const first = vkey.indexOf("+");
    const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
    if (first < 1 || second < 0) throw new VerifyError("malformed verifier key");
    const parts = [vkey.slice(0, first), vkey.slice(first + 1, second), vkey.slice(second + 1)];
    if (!/^[0-9a-f]{8}$/.test(parts[1])) throw new VerifyError("malformed verifier key");
    const material = b64decode(parts[2]);
    if (material.length !== 33 || material[0] !== 0x01) throw new VerifyError("not an Ed25519 verifier key");
    return { name: parts[0], keyId: parts[1], publicKey: material.slice(1), material };
  }

  async function checkKeyId(key) {
    const digest = await sha256(concat(enc.encode(key.name + "\n"), key.material));
    return hex(digest.slice(0, 4)) === key.keyId;
  }

  // Split a note into its signed text and signature lines (C2SP signed-note layout).
  function parseNote(noteText) {
    if (!noteText.endsWith("\n")) throw new VerifyError("note does not end in a newline");
    const split = noteText.lastIndexOf("\n\n");
    if (split < 0) throw new VerifyError("note has no signature block");
    const text = noteText.slice(0, split + 1);
    const lines = noteText.slice(split + 2, -1).split("\n");
    const signatures = lines.map((line) => {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) throw new VerifyError("malformed signature line");
      const blob = b64decode(m[2]);
      if (blob.length < 5) throw new VerifyError("signature too short");
      return { name: m[1], keyId: hex(blob.slice(0, 4)), sig: blob.slice(4) };
    });
    return { text, signatures };
  }

  async function ed25519Verify(publicKey, signature, message) {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  // The note's text if ``vkey`` signed it validly, else a VerifyError saying why.
  async function openNote(noteText, vkey) {
    const key = parseVkey(vkey);
    if (!(await checkKeyId(key))) throw new VerifyError("verifier key id does not match its key");
    const note = parseNote(noteText);
    const sig = note.signatures.find((s) => s.name === key.name && s.keyId === key.keyId);
    if (!sig) throw new VerifyError("no signature by " + key.name + "+" + key.keyId);
    if (sig.sig.length !== 64 || !(await ed25519Verify(key.publicKey, sig.sig, enc.encode(note.text)))) {
      throw new VerifyError("signature by " + key.name + " does not verify");
    }
    return note.text;
  }

  // -- statements and entries ------------------------------------------------------

  function parseStatement(text) {
    const lines = text.split("\n");
    if (lines[0] !== "tocsin/alert-statement/v1") throw new VerifyError("not a Tocsin alert statement");
    const fields = {};
    for (const line of lines.slice(1)) {
      if (!line) continue;
      const at = line.indexOf(" ");
      if (at < 1) throw new VerifyError("malformed statement line");
      fields[line.slice(0, at)] = line.slice(at + 1);
    }
    return fields;
  }

  function u32(n) {
    return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  }

  // The log leaf for an alert: version 1, type 1 (alert), then u32-length-prefixed statement and CAP;
  // when that would exceed a tile bundle's 65,535-byte entry, type 3 (detached): the statement alone,
  // which commits to the CAP by its sha256 line (tocsin.tlog.entry.alert_entry, the same rule).
  const MAX_ENTRY_BYTES = 65535;
  function alertEntry(statementBytes, capBytes) {
    if (2 + 4 + statementBytes.length + 4 + capBytes.length > MAX_ENTRY_BYTES) {
      return concat(new Uint8Array([1, 3]), u32(statementBytes.length), statementBytes);
    }
    return concat(new Uint8Array([1, 1]), u32(statementBytes.length), statementBytes, u32(capBytes.length), capBytes);
  }

  // -- Merkle proofs (RFC 9162 section 2.1.3.2) -------------------------------------------

  async function leafHash(entry) { return sha256(concat(new Uint8Array([0]), entry)); }
  async function nodeHash(left, right) { return sha256(concat(new Uint8Array([1]), left, right)); }

  async function rootFromInclusion(index, size, leaf, proof) {
    if (!(index >= 0 && index < size)) throw new VerifyError("leaf index outside the tree");
    let fn = BigInt(index);
    let sn = BigInt(size) - 1n;
    let r = leaf;
    for (const p of proof) {
      if (p.length !== 32) throw new VerifyError("proof hash is not 32 bytes");
      if (sn === 0n) throw new VerifyError("inclusion proof is too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new VerifyError("inclusion proof is too short");
    return r;
  }

  async function verifyInclusion(index, size, leaf, proof, root) {
    if (leaf.length !== 32 || root.length !== 32) throw new VerifyError("leaf and root hashes must be 32 bytes");
    const computed = await rootFromInclusion(index, size, leaf, proof);
    if (!equalBytes(computed, root)) throw new VerifyError("inclusion proof does not lead to the checkpoint's root");
    return true;
  }

  // -- tlog-proof bundles and checkpoints ----------------------------------------------------

  function parseProofBundle(text) {
    const split = text.indexOf("\n\n");
    if (split < 0) throw new VerifyError("proof bundle has no checkpoint");
    const head = text.slice(0, split).split("\n");
    if (head[0] !== "c2sp.org/tlog-proof@v1") throw new VerifyError("not a tlog-proof bundle");
    let at = 1;
    if (head[at] && head[at].startsWith("extra ")) at++;
    const m = /^index (0|[1-9][0-9]*)$/.exec(head[at] || "");
    if (!m) throw new VerifyError("proof bundle has no index line");
    const proof = head.slice(at + 1).map(b64decode);
    return { index: Number(m[1]), proof, checkpoint: text.slice(split + 2) };
  }

  function parseCheckpoint(text) {
    const lines = text.split("\n");
    if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new VerifyError("malformed checkpoint");
    const root = b64decode(lines[2]);
    if (root.length !== 32) throw new VerifyError("checkpoint root is not 32 bytes");
    return { origin: lines[0], size: Number(lines[1]), root };
  }

  // -- RFC 8785 canonical JSON (enough for registry documents) ----------------------------------

  function canonicalJSON(value) {
    if (value === null || typeof value !== "object") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(canonicalJSON).join(",") + "]";
    const keys = Object.keys(value).sort();
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJSON(value[k])).join(",") + "}";
  }

  async function fingerprint(vkey) {
    return hex(await sha256(parseVkey(vkey).publicKey));
  }

  return {
    VerifyError, b64decode, hex, sha256, equalBytes, webCryptoAvailable, parseVkey, checkKeyId,
    parseNote, openNote, ed25519Verify, parseStatement, alertEntry, leafHash, nodeHash,
    rootFromInclusion, verifyInclusion, parseProofBundle, parseCheckpoint, canonicalJSON, fingerprint,
  };
})();
