"""Ed25519 signatures over each student's scorecard, so anyone can check a grade is untouched.

``grade keys new`` writes a key pair (PEM; the private key readable by its owner only).
``grade class --sign-key KEY`` writes ``<scorecard>.sig`` next to every student's scorecard:
a *statement* -- student, commit, grader version and fingerprint, seed, signing time, each
exercise's score, and the SHA-256 of the scorecard's canonical JSON -- plus the signature over
the statement's canonical JSON (sorted keys, no spaces, UTF-8). ``grade check-signature``
verifies the signature with the public key, then that the scorecard still hashes to what was
signed, so editing a single score, message or seed in either file is detected.

``cryptography`` does the Ed25519 arithmetic (the library pyca maintains; we write no crypto).
The private key stays in the judge's parent process: grading processes never receive it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.judge.failures import GraderError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

SIGNATURE_FORMAT = 1
SUFFIX = ".sig"


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise GraderError(
            "signing needs the cryptography package: pip install 'trainloop-grader[class]'"
        ) from None
    return serialization


def canonical(data: Any) -> bytes:
    """The one byte string a JSON value signs as: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(_crypto().Encoding.Raw, _crypto().PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def new_key_pair(private_path: Path, public_path: Path) -> str:
    """Write a fresh key pair; refuses to overwrite. Returns the public key's id."""
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for path in (private_path, public_path):
        if path.exists():
            raise GraderError(f"{path} already exists: choose another name or remove it first")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public = private.public_key()
    public_path.write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key_id(public)


def load_private(path: Path) -> Ed25519PrivateKey:
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise GraderError(f"cannot read the signing key {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise GraderError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise GraderError(f"{path} is not an Ed25519 key: make one with `grade keys new`")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise GraderError(f"cannot read the public key {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise GraderError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise GraderError(f"{path} is not an Ed25519 public key")
    return key


def content_digest(card_json: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(card_json)).hexdigest()


def statement(
    card_json: dict[str, Any], *, student: str, commit: str | None, fingerprint: str
) -> dict[str, Any]:
    """What is signed for one student's scorecard (a bundle, as JSON)."""
    exercises = card_json.get("exercises", [card_json])
    return {
        "format": SIGNATURE_FORMAT,
        "student": student,
        "commit": commit,
        "grader_version": exercises[0]["environment"]["grader"] if exercises else "",
        "grader_fingerprint": fingerprint,
        "seed": card_json["seed"],
        "signed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "score": card_json["score"],
        "max_score": card_json["max_score"],
        "exercises": [
            {"exercise": c["exercise"], "score": c["score"], "max_score": c["max_score"]}
            for c in exercises
        ],
        "scorecard_sha256": content_digest(card_json),
    }


def sign_file(card_path: Path, key: Ed25519PrivateKey, **facts: Any) -> Path:
    """Write ``<card_path>.sig`` for the scorecard at ``card_path``."""
    card_json = json.loads(card_path.read_text(encoding="utf-8"))
    signed = statement(card_json, **facts)
    envelope = {
        "statement": signed,
        "algorithm": "ed25519",
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(key.sign(canonical(signed))).decode(),
    }
    sig_path = card_path.with_name(card_path.name + SUFFIX)
    sig_path.write_text(json.dumps(envelope, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return sig_path


def verify_file(
    card_path: Path, public: Ed25519PublicKey, sig_path: Path | None = None
) -> dict[str, Any]:
    """The signed statement, if ``card_path`` and its signature check out; else GraderError."""
    from cryptography.exceptions import InvalidSignature

    sig_path = sig_path or card_path.with_name(card_path.name + SUFFIX)
    try:
        envelope = json.loads(sig_path.read_text(encoding="utf-8"))
        signed: dict[str, Any] = envelope["statement"]  # JSON; the signature covers it
        signature = base64.b64decode(envelope["signature"], validate=True)
    except OSError as exc:
        raise GraderError(f"cannot read the signature {sig_path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise GraderError(f"{sig_path} is not a signature file ({exc})") from None
    try:
        public.verify(signature, canonical(signed))
    except InvalidSignature:
        raise GraderError(
            f"INVALID: the signature in {sig_path} does not match its statement or this key "
            f"(key {key_id(public)}): the statement was edited or signed with another key"
        ) from None
    try:
        card_json = json.loads(card_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GraderError(f"cannot read the scorecard {card_path}: {exc.strerror}") from None
    except ValueError:
        raise GraderError(f"INVALID: {card_path} is not JSON any more: it was edited") from None
    if content_digest(card_json) != signed.get("scorecard_sha256"):
        raise GraderError(
            f"INVALID: {card_path} was changed after it was signed (its content no longer "
            "hashes to the signed value)"
        )
    return signed
