"""Shared parts of the issuer commands: keys, the node connection, contract errors and output.

Contract errors keep their Solidity names (``ReserveExceeded``), which users can search for, and
gain a sentence in the user's language that states what failed and what to do next.
"""

from __future__ import annotations

import getpass
import json
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_keyfile import decode_keyfile_json
from eth_utils import is_hex_address, keccak, to_checksum_address

from node.cli.i18n import _
from node.cli.issuer_files import amount_problem
from node.coin.abi import DecodedError
from node.coin.errors import ContractReverted, InvalidAmount, NodeUnreachable, RpcFailed, TransactionTimeout
from node.coin.ledger import LedgerClient, MinedTransaction
from node.coin.units import format_grams, parse_grams
from node.errors import KuraError

#: GoldCoin role names by their keccak256 identifiers; DEFAULT_ADMIN_ROLE is zero.
ROLE_NAMES = {
    keccak(text=name): name
    for name in ("MINTER_ROLE", "BURNER_ROLE", "PAUSER_ROLE", "COMPLIANCE_ROLE", "ATTESTOR_ROLE")
}
ROLE_NAMES[b"\x00" * 32] = "DEFAULT_ADMIN_ROLE"


class IssuerError(KuraError):
    """An issuer command failed; the message is already in the user's language."""


@dataclass(frozen=True)
class Keystore:
    """An eth-keyfile (Web3 Secret Storage) JSON file and the address it declares."""

    path: Path
    document: dict[str, Any]
    address: str


def open_keystore(path: str) -> Keystore:
    """Read a keystore file without decrypting it, so its address can be shown first."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IssuerError(_("cannot read the keystore {path}: {error}").format(path=path, error=error)) from None
    address = document.get("address") if isinstance(document, dict) else None
    if not isinstance(address, str) or not is_hex_address("0x" + address.removeprefix("0x")):
        raise IssuerError(_("{path} is not a keystore file: it has no address field").format(path=path))
    return Keystore(Path(path), document, to_checksum_address("0x" + address.removeprefix("0x")))


def read_password(path: str | None, prompt: str) -> str:
    """Read a password from the first line of ``path``, or prompt for it when no file is given."""
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\n")
        except OSError as error:
            raise IssuerError(
                _("cannot read the password file {path}: {error}").format(path=path, error=error)
            ) from None
    return getpass.getpass(prompt)


def decrypt_keystore(keystore: Keystore, password_file: str | None) -> bytes:
    """Decrypt the private key; raise IssuerError on a wrong password or a mismatched address."""
    password = read_password(password_file, _("Password for {path}: ").format(path=keystore.path))
    try:
        private_key = bytes(decode_keyfile_json(keystore.document, password.encode()))
    except ValueError:
        raise IssuerError(_("wrong password for the keystore {path}").format(path=keystore.path)) from None
    from eth_account import Account

    derived = Account.from_key(private_key).address
    if derived != keystore.address:
        raise IssuerError(
            _("the keystore {path} declares address {declared} but its key belongs to {derived}").format(
                path=keystore.path, declared=keystore.address, derived=derived
            )
        )
    return private_key


def load_key(keystore_path: str, password_file: str | None) -> tuple[str, bytes]:
    """Return (address, private key) from ``--keystore`` and ``--password-file``."""
    keystore = open_keystore(keystore_path)
    return keystore.address, decrypt_keystore(keystore, password_file)


def parse_amount(text: str, *, allow_zero: bool = False) -> int:
    """Parse a command-line amount in grams into base units, with a translated error."""
    try:
        return parse_grams(text, allow_zero=allow_zero)
    except InvalidAmount as error:
        raise IssuerError(amount_problem(error)) from None


def parse_address(text: str, what: str) -> str:
    if not is_hex_address(text):
        raise IssuerError(
            _(
                "{what} {value!r} is not a 20-byte hex address such as 0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
            ).format(what=what, value=text)
        )
    return to_checksum_address(text)


def parse_bytes32(text: str, what: str) -> bytes:
    try:
        if not text.startswith("0x"):
            raise ValueError
        data = bytes.fromhex(text[2:])
    except ValueError:
        data = b""
    if len(data) != 32:
        raise IssuerError(
            _("{what} {value!r} is not 32 bytes of 0x-prefixed hex (66 characters)").format(what=what, value=text)
        )
    return data


def hash_report(path: str) -> bytes:
    """Return keccak-256 of a report file's bytes, the form reserve references take on chain."""
    try:
        return keccak(Path(path).read_bytes())
    except OSError as error:
        raise IssuerError(_("cannot read the report {path}: {error}").format(path=path, error=error)) from None


def grams(base_units: int) -> str:
    """Format base units for output, e.g. ``600 g``."""
    return _("{amount} g").format(amount=format_grams(base_units))


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal; end of input counts as no."""
    try:
        answer = input(question)
    except EOFError:
        print()
        return False
    # "y" and "yes" work in every language, beside the translation of "yes".
    return answer.strip().lower() in ("y", "yes", _("yes"))


def display_width(text: str) -> int:
    """Return the terminal columns ``text`` takes: two for wide and fullwidth characters such as kanji."""
    return sum(2 if unicodedata.east_asian_width(character) in ("W", "F") else 1 for character in text)


def print_rows(rows: list[tuple[str, str]], indent: str = "  ") -> None:
    """Print label and value pairs with the values aligned, also for Japanese labels."""
    width = max(display_width(label) for label, _value in rows)
    for label, value in rows:
        padding = " " * (width - display_width(label))
        print(f"{indent}{label}{padding}  {value}")


# ---------------------------------------------------------------- the node


def connect(url: str) -> LedgerClient:
    return LedgerClient(url)


def run_on_node(url: str, action: Callable[[], Any]) -> Any:
    """Run ``action`` and turn the coin client's errors into IssuerError in the user's language."""
    try:
        return action()
    except NodeUnreachable as error:
        raise IssuerError(
            _("cannot reach the node at {url} ({detail}); check --rpc and that the node is running").format(
                url=error.url, detail=error.detail
            )
        ) from None
    except RpcFailed as error:
        raise IssuerError(
            _("the node rejected {method}: {message}").format(method=error.method, message=error.rpc_message)
        ) from None
    except TransactionTimeout as error:
        raise IssuerError(
            _("transaction 0x{hash} was not mined within {seconds:g} s; check the node's log").format(
                hash=error.transaction_hash.hex(), seconds=error.seconds
            )
        ) from None
    except ContractReverted as error:
        raise IssuerError(revert_message(error.function, error.error, error.transaction_hash)) from None


def require_success(function: str, mined: MinedTransaction) -> MinedTransaction:
    """Raise IssuerError with the decoded reason when a mined transaction failed."""
    if not mined.status:
        raise IssuerError(revert_message(function, mined.error, mined.transaction_hash))
    return mined


def print_mined(function: str, mined: MinedTransaction) -> None:
    print(
        _("{function}: transaction 0x{hash} mined in block {block}").format(
            function=function, hash=mined.transaction_hash.hex(), block=mined.block_number
        )
    )


# ---------------------------------------------------------------- contract errors


def _role_name(role: bytes) -> str:
    return ROLE_NAMES.get(role, "0x" + role.hex())


#: Sentences that explain the common contract errors, by error name; each takes the error's
#: arguments in ABI order. The functions call ``_`` when they run, so the locale applies.
_EXPLANATIONS: dict[str, Callable[[tuple[Any, ...]], str]] = {
    "InsufficientApprovals": lambda args: _(
        "The proposal has {got} of the {needed} approvals it needs. Collect more signature files."
    ).format(got=args[0], needed=args[1]),
    "ProposalExpired": lambda args: _(
        "The proposal expired at {expiry}, before the block time {now}. Propose the mint again with a later expiry."
    ).format(expiry=args[0], now=args[1]),
    "NonceUsed": lambda args: _("Nonce {nonce} has already executed. Propose the mint again with a new nonce.").format(
        nonce=args[0]
    ),
    "ProposalCancelled": lambda args: _("An authority cancelled this proposal."),
    "ReserveExceeded": lambda args: _(
        "The supply would become {supply}, above the attested reserve of {reserve}. "
        "Attest a higher reserve or mint less."
    ).format(supply=grams(args[0]), reserve=grams(args[1])),
    "InvalidSignature": lambda args: _("The signature of {authority} does not match this proposal.").format(
        authority=args[0]
    ),
    "NotAuthority": lambda args: _("{account} is not a mint authority.").format(account=args[0]),
    "DailyLimitExceeded": lambda args: _(
        "Authority {authority} has approved {used} today, and {amount} more would exceed its daily limit of {limit}."
    ).format(authority=args[0], used=grams(args[1]), amount=grams(args[2]), limit=grams(args[3])),
    "AccessControlUnauthorizedAccount": lambda args: _(
        "{account} does not have {role}. Use the keystore of the role's holder."
    ).format(account=args[0], role=_role_name(args[1])),
    "EnforcedPause": lambda args: _("GoldCoin is paused."),
    "ExpectedPause": lambda args: _("GoldCoin is not paused."),
    "AccountFrozen": lambda args: _("Account {account} is frozen.").format(account=args[0]),
    "NotAllowlisted": lambda args: _("Account {account} is not on the allowlist.").format(account=args[0]),
    "AllowlistModeOff": lambda args: _(
        "This GoldCoin was deployed with allowlist mode off, so it has no allowlist to edit."
    ),
    "ERC20InsufficientBalance": lambda args: _("{account} holds {balance} and needs {needed}.").format(
        account=args[0], balance=grams(args[1]), needed=grams(args[2])
    ),
    "ERC20InsufficientAllowance": lambda args: _(
        "{spender} may spend {allowance} of the holder's tokens and needs {needed}."
    ).format(spender=args[0], allowance=grams(args[1]), needed=grams(args[2])),
    "StaleAttestation": lambda args: _(
        "The as-of time {as_of} is not later than the latest attestation's {latest}."
    ).format(as_of=args[0], latest=args[1]),
    "AttestationFromFuture": lambda args: _("The as-of time {as_of} is after the block time {now}.").format(
        as_of=args[0], now=args[1]
    ),
}


def format_error(error: DecodedError) -> str:
    """Write a decoded error as ``Name(arg, ...)`` with bytes in 0x hex."""
    shown = ["0x" + arg.hex() if isinstance(arg, bytes) else str(arg) for arg in error.args]
    return f"{error.name}({', '.join(shown)})"


def revert_message(function: str, error: DecodedError | None, transaction_hash: bytes | None) -> str:
    """Word a contract revert: the function, the Solidity error, and an explanation when one is known."""
    if error is None or (error.name == "UnknownError" and not error.args[0]):
        reason = _("no revert data (the transaction may have run out of gas)")
        explanation = None
    else:
        reason = format_error(error)
        explain = _EXPLANATIONS.get(error.name)
        explanation = explain(error.args) if explain else None
    if transaction_hash is None:
        message = _("{function} would revert with {reason}, so nothing was sent.").format(
            function=function, reason=reason
        )
    else:
        message = _("{function} reverted with {reason} in transaction 0x{hash}.").format(
            function=function, reason=reason, hash=transaction_hash.hex()
        )
    if not explanation:
        return message
    # Translators: joins two sentences; Japanese needs no space after "。".
    return _("{message} {explanation}").format(message=message, explanation=explanation)


def warn(message: str) -> None:
    print(_("warning: {message}").format(message=message), file=sys.stderr)
