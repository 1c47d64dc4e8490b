"""Demo issuers for a first run: a signed registry and their keys in the data directory.

``tocsin serve --demo`` calls :func:`ensure_demo` once: the first time it
creates a registry root key, one key per demo issuer, and a signed registry;
later runs reuse them, so alerts issued earlier still verify. The ids are an
interface (docs, tests and outside checks use them): ``demo-air-force``,
``demo-kyiv-city``, ``demo-defence-intelligence``, ``demo-embassy``. Their display
names say "ДЕМО" / "DEMO", so a screenshot of a demo alert cannot pass for a real
institution's warning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tocsin.regions import RegionSet
from tocsin.services.witness import Witness
from tocsin.tlog.checkpoint import Cosigner
from tocsin.trust.note import Signer
from tocsin.trust.registry import NATIONWIDE, Issuer, IssuerKey, Registry

KYIV_CITY = "UA80000000000093317"


@dataclass(frozen=True, slots=True)
class DemoIssuer:
    id: str
    name_uk: str
    name_en: str
    kinds: frozenset[str]
    jurisdiction: tuple[str, ...] | None  # None: every oblast-level region
    aliases_uk: tuple[str, ...] = ()
    aliases_en: tuple[str, ...] = ()


DEMO_ISSUERS: tuple[DemoIssuer, ...] = (
    DemoIssuer(
        "demo-air-force",
        "Повітряні сили (ДЕМО)",
        "Air Force (DEMO)",
        frozenset({"air-raid", "missile", "drone", "all-clear"}),
        None,
        aliases_uk=("Повітряні сили", "Повітряні сили ЗСУ", "ПС ЗСУ"),
        aliases_en=("Air Force", "Ukrainian Air Force", "UAF Air Force"),
    ),
    DemoIssuer(
        "demo-kyiv-city",
        "Київська міська військова адміністрація (ДЕМО)",
        "Kyiv City Military Administration (DEMO)",
        frozenset({"air-raid", "missile", "drone", "shelling", "shelter-in-place",
                   "threat-notice", "all-clear"}),
        (KYIV_CITY,),
        aliases_uk=("КМВА", "Київська МВА", "Київська міська ВА"),
        aliases_en=("KCMA", "Kyiv City Military Administration", "Kyiv MVA"),
    ),
    DemoIssuer(
        "demo-defence-intelligence",
        "Воєнна розвідка (ДЕМО)",
        "Defence Intelligence (DEMO)",
        frozenset({"threat-notice", "denial"}),
        (NATIONWIDE,),
        aliases_uk=("ГУР", "ГУР МО", "ГУР МОУ", "Головне управління розвідки",
                    "Воєнна розвідка"),
        aliases_en=("HUR", "GUR", "Defence Intelligence of Ukraine",
                    "Defense Intelligence of Ukraine", "Military intelligence"),
    ),
    DemoIssuer(
        "demo-embassy",
        "Посольство Демонстраційної Республіки (ДЕМО)",
        "Embassy of the Demo Republic (DEMO)",
        frozenset({"facility-closed", "facility-status"}),
        (KYIV_CITY,),
        aliases_uk=("Посольство Демонстраційної Республіки",),
        aliases_en=("Demo Embassy", "Embassy of the Demo Republic"),
    ),
)


def _write_secret(path: Path, text: str) -> None:
    """Write a private key readable by the owner only (created with mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.chmod(path, 0o600)


def demo_sender(issuer_id: str) -> str:
    """The one CAP sender the demo registry binds to a demo issuer (what ``tocsin issue`` uses)."""
    return f"{issuer_id}@tocsin"


def demo_key_path(data_dir: Path, issuer_id: str) -> Path:
    return data_dir / "demo-keys" / f"{issuer_id}.key"


def build_demo_registry(data_dir: Path, regions: RegionSet, *, now: datetime | None = None) -> bytes:
    """Create root and issuer keys under ``data_dir`` and return the signed registry."""
    now = now or datetime.now(UTC)
    root = Signer.generate("tocsin-demo-registry-root")
    _write_secret(data_dir / "registry-root.key", root.skey)
    oblasts = tuple(r.code for r in regions.at_level("oblast"))
    registry = Registry.empty(root.verifier())
    for demo in DEMO_ISSUERS:
        signer = Signer.generate(demo.id)
        key_path = demo_key_path(data_dir, demo.id)
        _write_secret(key_path, signer.skey)
        key_path.with_suffix(".pub").write_text(signer.verifier().vkey + "\n", encoding="utf-8")
        registry = registry.with_issuer(
            Issuer(
                id=demo.id,
                name_uk=demo.name_uk,
                name_en=demo.name_en,
                kinds=demo.kinds,
                jurisdiction=demo.jurisdiction or oblasts,
                keys=(IssuerKey(signer.verifier(), not_before=now - timedelta(days=1),
                                expires=now + timedelta(days=365)),),
                aliases_uk=demo.aliases_uk,
                aliases_en=demo.aliases_en,
                senders=(demo_sender(demo.id),),
            )
        )
    return registry.sign(root)


DEMO_WITNESS_NAME = "tocsin.localhost/demo-witness"


def demo_witness(data_dir: Path, log_signer: Signer, origin: str) -> Witness:
    """The demo's own witness: key and state under ``DATA_DIR/witness``, and a policy file.

    ``DATA_DIR/witness-policy.txt`` (the log key, this witness, quorum 1) is
    what a user passes to ``tocsin verify --policy`` or ``tocsin monitor --policy``.
    A witness run by the log operator proves little by itself; it shows the
    protocol working end to end. Real deployments point ``witness_policy`` at
    independent witnesses (``tocsin witness``).
    """
    folder = data_dir / "witness"
    key_path = folder / "witness.key"
    if key_path.exists():
        cosigner = Cosigner.from_skey(key_path.read_text(encoding="utf-8").strip())
    else:
        cosigner = Cosigner.generate(DEMO_WITNESS_NAME)
        _write_secret(key_path, cosigner.skey)
        (folder / "witness.vkey").write_text(cosigner.verifier().vkey + "\n", encoding="utf-8")
    policy = (
        "# Tocsin demo: trust this log key and require its demo witness\n"
        f"log {log_signer.verifier().vkey}\n"
        f"witness demo {cosigner.verifier().vkey}\n"
        "quorum 1\n"
    )
    (data_dir / "witness-policy.txt").write_text(policy, encoding="utf-8")
    return Witness(cosigner, {origin: log_signer.verifier()}, folder / "witness.sqlite3")


def ensure_demo(data_dir: Path, regions: RegionSet) -> Path:
    """Return the demo registry path, creating the demo on first run."""
    path = data_dir / "registry.json"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        data = build_demo_registry(data_dir, regions)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path
