"""Commands for proofs an outside auditor checks without trusting the server.

``ledger signing-key init|show``, ``ledger digest``, ``ledger proof inclusion|consistency``
and ``ledger verify-proof``. ``proofs_commands(app)`` adds them to the main ``ledger``
app; ``app`` here holds the same commands on their own.

``verify-proof`` opens no database: it reads only the files it is given and uses
ledger/verifier.py (standard library and ``cryptography``). The commands that make
digests and proofs import the ledger only when they run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ledger.config import ENV_VAR

if TYPE_CHECKING:
    from ledger.application import Ledger
    from ledger.signing import SigningKey

errors = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

DatabaseUrl = Annotated[
    Optional[str],
    typer.Option("--database-url", envvar=ENV_VAR, help="sqlite:///path or postgresql://user@host:port/db"),
]
KeyPath = Annotated[
    Optional[Path],
    typer.Option("--key", envvar="LEDGER_SIGNING_KEY", dir_okay=False,
                 help="Signing key PEM file (default ./ledger-signing-key.pem)"),
]
# Every ledger command says where the ledger is (tests/test_cli.py); these never open it.
NoDatabase = Annotated[
    Optional[str],
    typer.Option("--database-url", help="Not used: this command opens no database (accepted for uniformity)"),
]
SizeOption = Annotated[
    Optional[int], typer.Option("--size", min=0, help="Tree size (number of entries); default the journal's head")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _load_key(path: Path | None) -> SigningKey:
    from ledger.signing import SigningKey, SigningKeyError

    try:
        return SigningKey.load(path)
    except SigningKeyError as exc:
        raise _fail(str(exc), 2) from exc


def _open_ledger(url: str | None) -> Ledger:
    from ledger.application import Ledger
    from ledger.config import ConfigError, database_config

    try:
        return Ledger(database_config(url))
    except ConfigError as exc:
        raise _fail(str(exc), 2) from exc


# --- signing-key -----------------------------------------------------------------------

signing_key_app = typer.Typer(
    help="Signeringsnyckel — the Ed25519 key that signs digests (not the API keys of `ledger keys`).",
    no_args_is_help=True,
)


@signing_key_app.command("init")
def signing_key_init(
    path: Annotated[
        Optional[Path],
        typer.Option("--path", envvar="LEDGER_SIGNING_KEY", dir_okay=False,
                     help="Where to write the private key (default ./ledger-signing-key.pem)"),
    ] = None,
    database_url: NoDatabase = None,
) -> None:
    """Create the Ed25519 signing key (mode 0600; never overwrites) and print its public key."""
    from ledger.signing import SigningKeyError, init_key

    try:
        key, where = init_key(path)
    except SigningKeyError as exc:
        raise _fail(str(exc), 2) from exc
    errors.print(f"Wrote the private signing key to {escape(str(where))}; keep it secret. Publish the public key:")
    _show_public(key)


@signing_key_app.command("show")
def signing_key_show(
    path: Annotated[
        Optional[Path],
        typer.Option("--path", envvar="LEDGER_SIGNING_KEY", dir_okay=False, help="The private key file"),
    ] = None,
    pem: Annotated[bool, typer.Option("--pem", help="Print only the public key as PEM")] = False,
    database_url: NoDatabase = None,
) -> None:
    """Print the public key (hex, base64, key id) of the signing key."""
    key = _load_key(path)
    if pem:
        sys.stdout.write(key.public_pem)
        return
    _show_public(key)


def _show_public(key: SigningKey) -> None:
    out.print(f"algorithm:          Ed25519\n"
              f"public key (hex):   {key.public_hex}\n"
              f"public key (base64): {key.public_base64}\n"
              f"key id (SHA-256):   {key.key_id}")


# --- digest and proofs -------------------------------------------------------------------


def _print_proof(key_path: Path | None, database_url: str | None, make: Any) -> None:
    """Open the ledger, print ``make(ledger, key)`` as JSON; an unknown event exits 2, any other
    proof that cannot be made exits 1, each with the reason."""
    from ledger import proofs

    key = _load_key(key_path)
    ledger = _open_ledger(database_url)
    try:
        _print_json(make(ledger, key))
    except proofs.EventNotFound as exc:
        raise _fail(str(exc), 2) from exc
    except proofs.ProofError as exc:
        raise _fail(str(exc)) from exc
    finally:
        ledger.close()


def digest(size: SizeOption = None, key_path: KeyPath = None, database_url: DatabaseUrl = None) -> None:
    """Sammanfattning — print the signed digest (tree size, Merkle root, time, key id) as JSON."""
    from ledger import proofs

    _print_proof(key_path, database_url, lambda ledger, key: proofs.digest_at(ledger, size, key))


proof_app = typer.Typer(help="Bevis — inclusion and consistency proofs as JSON, with signed digests.",
                        no_args_is_help=True)


@proof_app.command("inclusion")
def proof_inclusion(
    event_id: Annotated[str, typer.Argument(help="The event's id")],
    size: SizeOption = None,
    key_path: KeyPath = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the proof that an event is in the tree of --size entries (default the head)."""
    from ledger import proofs

    _print_proof(key_path, database_url, lambda ledger, key: proofs.inclusion(ledger, event_id, size, key))


@proof_app.command("consistency")
def proof_consistency(
    old_size: Annotated[int, typer.Argument(min=1, help="The earlier tree size (e.g. from a saved digest)")],
    new_size: Annotated[Optional[int], typer.Argument(min=1, help="The later tree size; default the head")] = None,
    key_path: KeyPath = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print the proof that the tree of NEW_SIZE entries extends the tree of OLD_SIZE entries."""
    from ledger import proofs

    _print_proof(key_path, database_url, lambda ledger, key: proofs.consistency(ledger, old_size, new_size, key))


def verify_proof(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="Inclusion proof, consistency proof or digest (JSON)")],
    public_key: Annotated[str, typer.Option("--public-key", help="Public key: PEM file, or hex / base64 text")],
    digest_files: Annotated[
        Optional[list[Path]],
        typer.Option("--digest", dir_okay=False, help="A digest you saved earlier (repeatable); it is then trusted"),
    ] = None,
    event: Annotated[
        Optional[Path], typer.Option("--event", dir_okay=False, help="Your copy of the event (JSON) to compare")
    ] = None,
    database_url: NoDatabase = None,
) -> None:
    """Granska ett bevis — check a proof with only the public key and saved digests: no database."""
    from ledger.verifier import VerificationError, verify_files

    try:
        result = verify_files(file, public_key, digest_files or [], event)
    except VerificationError as exc:
        errors.print(f"[red]FAILED:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    for line in result.lines:
        out.print(f"ok: {escape(line)}")
    out.print(f"VERIFIED {result.kind}: tree size {result.tree_size}, root {result.root_hash}")


def proofs_commands(target: typer.Typer) -> None:
    """Add ``digest``, ``proof``, ``verify-proof`` and ``signing-key`` to the ``ledger`` app."""
    target.command("digest")(digest)
    target.command("verify-proof")(verify_proof)
    target.add_typer(proof_app, name="proof")
    target.add_typer(signing_key_app, name="signing-key")


app = typer.Typer(help="Proofs for outside auditors.", no_args_is_help=True, add_completion=False)
proofs_commands(app)
