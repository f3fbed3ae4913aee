"""The ledger's Ed25519 signing key and signed digests.

The private key is a PKCS#8 PEM file, unencrypted, mode 0600, at ``--path``, else
``LEDGER_SIGNING_KEY``, else ``./ledger-signing-key.pem``. ``ledger signing-key init``
creates it and never overwrites one. The public key is published as 32 raw bytes (hex
or base64) or as a PEM SubjectPublicKeyInfo; its id is the hex SHA-256 of the raw bytes.

A signed digest is ``{format, tree_size, root_hash, timestamp, key_id, algorithm,
signature}``; the signature is Ed25519 over ``verifier.digest_signing_bytes`` (see
docs/verification.md for the exact bytes).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.verifier import DIGEST_FORMAT, SIGNATURE_ALGORITHM, digest_signing_bytes, key_id

KEY_ENV_VAR = "LEDGER_SIGNING_KEY"
DEFAULT_KEY_PATH = "ledger-signing-key.pem"


class SigningKeyError(Exception):
    """No usable signing key (missing, unreadable, not Ed25519) or one that must not be overwritten."""


def key_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get(KEY_ENV_VAR) or DEFAULT_KEY_PATH)


def utc_timestamp(moment: dt.datetime | None = None) -> str:
    """UTC, whole seconds, ``Z``: the one timestamp form a digest carries."""
    moment = moment or dt.datetime.now(tz=dt.timezone.utc)
    if moment.tzinfo is None:
        raise ValueError("a digest time needs a time zone")
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """A key from its 32-byte private seed (RFC 8032); for test vectors."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> SigningKey:
        where = key_path(path)
        try:
            data = where.read_bytes()
        except FileNotFoundError as exc:
            raise SigningKeyError(f"no signing key at {where}: create one with `ledger signing-key init`") from exc
        except OSError as exc:
            raise SigningKeyError(f"cannot read the signing key {where}: {exc.strerror}") from exc
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{where} is not an unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{where} is not an Ed25519 key")
        return cls(key)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the private key (mode 0600), refusing to replace an existing file."""
        where = key_path(path)
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise SigningKeyError(f"{where} already exists: refusing to overwrite a signing key") from exc
        except OSError as exc:
            raise SigningKeyError(f"cannot create {where}: {exc.strerror}") from exc
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return where

    @property
    def public_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_hex(self) -> str:
        return self.public_raw.hex()

    @property
    def public_base64(self) -> str:
        return base64.b64encode(self.public_raw).decode("ascii")

    @property
    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    def public_info(self) -> dict[str, str]:
        return {
            "algorithm": SIGNATURE_ALGORITHM,
            "key_id": self.key_id,
            "public_key_hex": self.public_hex,
            "public_key_base64": self.public_base64,
            "public_key_pem": self.public_pem,
        }

    def sign_digest(self, tree_size: int, root_hash: bytes, timestamp: str | None = None,
                    clock: Callable[[], dt.datetime] | None = None) -> dict[str, Any]:
        """A signed digest of the tree of ``tree_size`` leaves with root ``root_hash``."""
        when = timestamp or utc_timestamp(clock() if clock else None)
        root_hex = root_hash.hex()
        signature = self.private_key.sign(digest_signing_bytes(tree_size, root_hex, when, self.key_id))
        return {
            "format": DIGEST_FORMAT,
            "tree_size": tree_size,
            "root_hash": root_hex,
            "timestamp": when,
            "key_id": self.key_id,
            "algorithm": SIGNATURE_ALGORITHM,
            "signature": base64.b64encode(signature).decode("ascii"),
        }


def init_key(path: str | os.PathLike[str] | None = None) -> tuple[SigningKey, Path]:
    key = SigningKey.generate()
    return key, key.save(path)
