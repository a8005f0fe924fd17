"""``kura issuer``: mint proposals signed offline by M of N authorities, and the coin's admin calls.

The mint flow has four steps. ``propose-mint`` writes a proposal file. Each authority runs
``sign`` on it, offline, and writes a signature file. ``submit`` sends ``executeMint`` with the
signature files, and ``status`` shows a proposal's state and approvals. The other actions send
one GoldCoin call each from the keystore's account, which must have the matching role.

Only the parser is built at import, because ``kura`` builds every command's parser on each run.
The handlers import web3.py, py-evm and eth-account when they run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from node.cli.i18n import _

if TYPE_CHECKING:
    from pathlib import Path

    from node.cli.issuer_files import ProposalFile
    from node.coin.eip712 import Approval
    from node.coin.ledger import LedgerClient, LogEntry

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
#: Default validity of a new proposal: one day from the latest block's timestamp.
DEFAULT_VALID_FOR = 86_400
UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1


# ---------------------------------------------------------------- argument types


def _integer_type(name: str, minimum: int, maximum: int) -> Callable[[str], int]:
    """Return an argparse type that accepts decimal integers from ``minimum`` to ``maximum``."""

    def parse(value: str) -> int:
        if not value.isascii() or not value.isdigit():
            raise argparse.ArgumentTypeError(
                _("{name} {value!r} is not a decimal integer").format(name=name, value=value)
            )
        number = int(value)
        if not minimum <= number <= maximum:
            raise argparse.ArgumentTypeError(
                _("{name} {value} is outside {minimum} to {maximum}").format(
                    name=name, value=value, minimum=minimum, maximum=maximum
                )
            )
        return number

    return parse


# ---------------------------------------------------------------- mint proposals


def cmd_propose_mint(args: argparse.Namespace) -> int:
    import secrets
    from pathlib import Path

    from node.cli.issuer_files import ProposalFile, format_timestamp, write_new_json
    from node.cli.issuer_support import (
        IssuerError,
        connect,
        grams,
        hash_report,
        parse_address,
        parse_amount,
        parse_bytes32,
        print_rows,
        run_on_node,
        warn,
    )
    from node.coin.abi import mint_authority_interface
    from node.coin.eip712 import MintProposal
    from node.coin.predeploy import MINT_AUTHORITY_ADDRESS

    recipient = parse_address(args.recipient, _("recipient"))
    amount = parse_amount(args.amount)
    if args.reserve_ref is not None:
        reserve_ref = parse_bytes32(args.reserve_ref, "--reserve-ref")
    else:
        reserve_ref = hash_report(args.reserve_report)
    contract = parse_address(args.contract, "--contract") if args.contract else MINT_AUTHORITY_ADDRESS
    nonce = args.nonce if args.nonce is not None else secrets.randbits(64)

    # The node is contacted only for what the options leave open: the chain id, the time the
    # validity counts from, and whether the nonce is still free.
    chain_id, expiry = args.chain_id, args.expiry
    if chain_id is None or expiry is None:
        ledger = connect(args.rpc)
        if chain_id is None:
            chain_id = run_on_node(args.rpc, lambda: ledger.chain_id)
        if expiry is None:
            expiry = run_on_node(args.rpc, ledger.latest_block).timestamp + args.valid_for
        used = run_on_node(args.rpc, lambda: ledger.read(contract, mint_authority_interface(), "isNonceUsed", nonce))
        if used:
            raise IssuerError(_("nonce {nonce} has already executed; choose another --nonce").format(nonce=nonce))
    elif expiry <= _now():
        warn(_("expiry {expiry} is in the past by this machine's clock").format(expiry=format_timestamp(expiry)))

    proposal_file = ProposalFile(
        proposal=MintProposal(recipient=recipient, amount=amount, reserve_ref=reserve_ref, expiry=expiry, nonce=nonce),
        chain_id=chain_id,
        verifying_contract=contract,
    )
    write_new_json(Path(args.out), proposal_file.to_json())
    print(_("Wrote mint proposal {path}").format(path=args.out))
    print_rows(
        [
            (_("recipient"), recipient),
            (_("amount"), grams(amount)),
            (_("expiry"), f"{expiry} ({format_timestamp(expiry)})"),
            (_("nonce"), str(nonce)),
            (_("proposal hash"), "0x" + proposal_file.digest.hex()),
        ]
    )
    return 0


def _now() -> int:
    import time

    return int(time.time())


def _show_typed_data(proposal_file: ProposalFile, signer: str) -> None:
    """Print every EIP-712 field that ``sign`` signs, so the signer can check them."""
    from node.cli.issuer_files import format_timestamp
    from node.cli.issuer_support import grams, print_rows
    from node.coin.eip712 import DOMAIN_NAME, DOMAIN_VERSION

    proposal = proposal_file.proposal
    print(_("EIP-712 typed data to sign (primary type MintProposal):"))
    print(_("domain"))
    print_rows(
        [
            ("name", DOMAIN_NAME),
            ("version", DOMAIN_VERSION),
            ("chainId", str(proposal_file.chain_id)),
            ("verifyingContract", proposal_file.verifying_contract),
        ]
    )
    print(_("message"))
    print_rows(
        [
            ("recipient", proposal.recipient),
            ("amount", f"{proposal.amount} ({grams(proposal.amount)})"),
            ("reserveRef", "0x" + proposal.reserve_ref.hex()),
            ("expiry", f"{proposal.expiry} ({format_timestamp(proposal.expiry)})"),
            ("nonce", str(proposal.nonce)),
        ]
    )
    print_rows([(_("digest"), "0x" + proposal_file.digest.hex()), (_("signer"), signer)], indent="")


def cmd_sign(args: argparse.Namespace) -> int:
    """Sign a proposal file offline: this handler opens no network connection."""
    from pathlib import Path

    from node.cli.issuer_files import read_proposal
    from node.cli.issuer_support import IssuerError, decrypt_keystore, open_keystore
    from node.coin.eip712 import sign_typed_data

    proposal_path = Path(args.proposal)
    proposal_file = read_proposal(proposal_path)

    if args.pkcs11_module:
        from node.cli.issuer_pkcs11 import open_token_key

        if not args.token_label or not args.key_label:
            raise IssuerError(_("--pkcs11-module needs --token-label and --key-label"))
        with open_token_key(args.pkcs11_module, args.token_label, args.key_label, args.pin_file) as token_key:
            _confirm_signing(args, proposal_file, token_key.address)
            signature = token_key.sign_digest(proposal_file.digest)
        signer = token_key.address
    else:
        keystore = open_keystore(args.keystore)
        _confirm_signing(args, proposal_file, keystore.address)
        private_key = decrypt_keystore(keystore, args.password_file)
        signature = sign_typed_data(private_key, proposal_file.typed_data())
        signer = keystore.address

    out = Path(args.out) if args.out else proposal_path.with_name(f"{proposal_path.stem}.{signer}.sig.json")
    _write_signature(proposal_file, signer, signature, out)
    return 0


def _confirm_signing(args: argparse.Namespace, proposal_file: ProposalFile, signer: str) -> None:
    """Show what will be signed and ask for confirmation unless ``--yes`` was given."""
    from node.cli.issuer_support import IssuerError, confirm

    _show_typed_data(proposal_file, signer)
    if not args.yes and not confirm(_("Sign this mint proposal? [y/N] ")):
        raise IssuerError(_("not confirmed; nothing was signed"))


def _write_signature(proposal_file: ProposalFile, signer: str, signature: bytes, out: Path) -> None:
    from node.cli.issuer_files import ApprovalFile, write_new_json
    from node.coin.eip712 import Approval

    approval_file = ApprovalFile(Approval(signer, signature), proposal_file.digest)
    write_new_json(out, approval_file.to_json())
    print(_("Wrote the signature of {address} to {path}").format(address=signer, path=out))


def _read_approvals(proposal_file: ProposalFile, paths: list[str]) -> list[Approval]:
    """Read approval files, check each against the proposal, and sort them by authority address."""
    from pathlib import Path

    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from node.cli.issuer_files import read_approval
    from node.cli.issuer_support import IssuerError
    from node.coin.eip712 import sort_approvals

    signable = encode_typed_data(full_message=proposal_file.typed_data())
    approvals = []
    for path in paths:
        approval_file = read_approval(Path(path))
        if approval_file.proposal_hash != proposal_file.digest:
            raise IssuerError(
                _("{path} signs proposal 0x{other}, not this proposal 0x{expected}").format(
                    path=path, other=approval_file.proposal_hash.hex(), expected=proposal_file.digest.hex()
                )
            )
        # NOTE: only ECDSA signatures are checked here. A contract authority (ERC-1271) approves
        # on chain with MintAuthority.approve instead of through a signature file.
        try:
            signer = Account.recover_message(signable, signature=approval_file.approval.signature)
        except ValueError:
            signer = None
        if signer != approval_file.approval.authority:
            raise IssuerError(
                _("the signature in {path} was not made by {authority}, the authority it names").format(
                    path=path, authority=approval_file.approval.authority
                )
            )
        approvals.append(approval_file.approval)
    try:
        return sort_approvals(approvals)
    except ValueError:
        authorities = [approval.authority for approval in approvals]
        repeated = next(address for address in authorities if authorities.count(address) > 1)
        raise IssuerError(
            _("two signature files come from {authority}; give one per authority").format(authority=repeated)
        ) from None


def _check_chain(ledger: LedgerClient, proposal_file: ProposalFile) -> None:
    from node.cli.issuer_support import IssuerError

    if ledger.chain_id != proposal_file.chain_id:
        raise IssuerError(
            _("the proposal is for chain id {expected}, but the node at {url} runs chain id {got}").format(
                expected=proposal_file.chain_id, url=ledger.url, got=ledger.chain_id
            )
        )


def _supply_and_reserve(ledger: LedgerClient, coin: str) -> tuple[int, int]:
    from node.coin.abi import gold_coin_interface

    interface = gold_coin_interface()
    return ledger.read(coin, interface, "totalSupply"), ledger.read(coin, interface, "latestReserve")


def cmd_submit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from node.cli.issuer_files import read_proposal
    from node.cli.issuer_support import connect, grams, load_key, print_mined, print_rows, require_success, run_on_node
    from node.coin.abi import mint_authority_interface
    from node.coin.transactions import execute_mint_call_data

    proposal_file = read_proposal(Path(args.proposal))
    approvals = _read_approvals(proposal_file, args.signatures)
    print(_("Approvals, sorted by authority address:"))
    for approval in approvals:
        print(f"  {approval.authority}")
    _sender, private_key = load_key(args.keystore, args.password_file)
    ledger = connect(args.rpc)
    contract = proposal_file.verifying_contract

    def submit() -> None:
        _check_chain(ledger, proposal_file)
        data = execute_mint_call_data(proposal_file.proposal, approvals)
        mined = require_success("executeMint", ledger.transact(private_key, contract, data, function="executeMint"))
        print_mined("executeMint", mined)
        coin = ledger.read(contract, mint_authority_interface(), "token")
        supply, reserve = _supply_and_reserve(ledger, coin)
        print(
            _("Minted {amount} to {recipient}").format(
                amount=grams(proposal_file.proposal.amount), recipient=proposal_file.proposal.recipient
            )
        )
        print_rows([(_("supply"), grams(supply)), (_("reserve"), grams(reserve))])

    run_on_node(args.rpc, submit)
    return 0


def _execution_of(ledger: LedgerClient, contract: str, proposal_hash: bytes, latest: int) -> LogEntry | None:
    """Find the MintExecuted log of ``proposal_hash``, scanning back from block ``latest``."""
    from node.coin.abi import mint_authority_interface

    topic = mint_authority_interface().event_topic("MintExecuted")
    # Kura's eth_getLogs serves at most 10,000 blocks per request (RpcLimits.max_log_range).
    # NOTE: the scan goes back to block 0, one request per 10,000 blocks, because a proposal
    # file does not record when it was made.
    window = 10_000
    last = latest
    while last >= 0:
        first = max(0, last - window + 1)
        logs = ledger.get_logs(contract, [topic, proposal_hash], from_block=first, to_block=last)
        if logs:
            return logs[0]
        last = first - 1
    return None


def cmd_status(args: argparse.Namespace) -> int:
    from pathlib import Path

    from eth_utils import to_canonical_address

    from node.cli.issuer_files import format_timestamp, read_proposal
    from node.cli.issuer_support import connect, grams, print_rows, run_on_node
    from node.coin.abi import mint_authority_interface

    proposal_file = read_proposal(Path(args.proposal))
    signed = _read_approvals(proposal_file, args.signatures)
    proposal = proposal_file.proposal
    proposal_hash = proposal_file.digest
    ledger = connect(args.rpc)
    contract = proposal_file.verifying_contract
    interface = mint_authority_interface()

    def show() -> None:
        _check_chain(ledger, proposal_file)
        latest = ledger.latest_block()
        authorities = ledger.read(contract, interface, "authorities")
        threshold = ledger.read(contract, interface, "threshold")
        on_chain = [a for a in authorities if ledger.read(contract, interface, "isApprovedOnChain", proposal_hash, a)]
        by_signature = [approval.authority for approval in signed if approval.authority in authorities]
        not_authorities = [approval.authority for approval in signed if approval.authority not in authorities]

        executed_with = None
        if ledger.read(contract, interface, "isNonceUsed", proposal.nonce):
            execution = _execution_of(ledger, contract, proposal_hash, latest.number)
            if execution is None:
                state = _("not executable: nonce {nonce} was used by another proposal").format(nonce=proposal.nonce)
            else:
                state = _("executed in block {block}, transaction 0x{hash}").format(
                    block=execution.block_number, hash=execution.transaction_hash.hex()
                )
                event = interface.decode_log(to_canonical_address(execution.address), execution.topics, execution.data)
                executed_with = event.args["approvals"] if event is not None else None
        elif ledger.read(contract, interface, "isCancelled", proposal_hash):
            state = _("cancelled")
        elif latest.timestamp >= proposal.expiry:
            # Every later block has a later timestamp, so none can execute the proposal.
            state = _("expired")
        elif _now() > proposal.expiry:
            # A node seals a block only when a transaction waits or the empty-block period ends,
            # so the latest block can be older than the clock.
            state = _("expired by this machine's clock; the latest block, at {time}, is older").format(
                time=format_timestamp(latest.timestamp)
            )
        else:
            state = _("pending: executable until {expiry}").format(expiry=format_timestamp(proposal.expiry))

        coin = ledger.read(contract, interface, "token")
        supply, reserve = _supply_and_reserve(ledger, coin)
        approvers = sorted(set(on_chain) | set(by_signature))
        print(_("Proposal 0x{hash}").format(hash=proposal_hash.hex()))
        rows = [
            (_("state"), state),
            (_("recipient"), proposal.recipient),
            (_("amount"), grams(proposal.amount)),
            (_("nonce"), str(proposal.nonce)),
            (_("expiry"), f"{proposal.expiry} ({format_timestamp(proposal.expiry)})"),
        ]
        if executed_with is not None:
            rows.append((_("approvals"), _("{count} counted at execution").format(count=executed_with)))
        else:
            rows.append(
                (_("approvals"), _("{count} of {threshold} needed").format(count=len(approvers), threshold=threshold))
            )
        rows += [(_("  by signature"), address) for address in by_signature]
        rows += [(_("  on chain"), address) for address in on_chain]
        rows += [(_("  not an authority"), address) for address in not_authorities]
        rows += [
            (_("reserve"), grams(reserve)),
            (_("supply"), grams(supply)),
            (_("room under reserve"), grams(max(reserve - supply, 0))),
        ]
        print_rows(rows)

    run_on_node(args.rpc, show)
    return 0


# ---------------------------------------------------------------- GoldCoin calls


def _send_coin_call(args: argparse.Namespace, function: str, *call_args: object) -> tuple[LedgerClient, str]:
    """Send one GoldCoin call from the keystore's account and print where it was mined."""
    from node.cli.issuer_support import connect, load_key, parse_address, print_mined, require_success, run_on_node
    from node.coin.abi import gold_coin_interface
    from node.coin.predeploy import GOLD_COIN_ADDRESS

    coin = parse_address(args.coin, "--coin") if args.coin else GOLD_COIN_ADDRESS
    _sender, private_key = load_key(args.keystore, args.password_file)
    ledger = connect(args.rpc)
    data = gold_coin_interface().encode_call(function, *call_args)

    def send() -> None:
        mined = require_success(function, ledger.transact(private_key, coin, data, function=function))
        print_mined(function, mined)

    run_on_node(args.rpc, send)
    return ledger, coin


def cmd_burn(args: argparse.Namespace) -> int:
    from node.cli.issuer_support import grams, parse_address, parse_amount, print_rows, run_on_node

    amount = parse_amount(args.amount)
    if args.holder:
        holder = parse_address(args.holder, "--from")
        ledger, coin = _send_coin_call(args, "burnFrom", holder, amount)
        print(_("Burned {amount} from {holder}").format(amount=grams(amount), holder=holder))
    else:
        ledger, coin = _send_coin_call(args, "burn", amount)
        print(_("Burned {amount} from the sender's own balance").format(amount=grams(amount)))
    supply, reserve = run_on_node(args.rpc, lambda: _supply_and_reserve(ledger, coin))
    print_rows([(_("supply"), grams(supply)), (_("reserve"), grams(reserve))])
    return 0


def cmd_attest_reserve(args: argparse.Namespace) -> int:
    from node.cli.issuer_files import format_timestamp
    from node.cli.issuer_support import (
        connect,
        grams,
        hash_report,
        parse_amount,
        parse_bytes32,
        print_rows,
        run_on_node,
    )

    reserve = parse_amount(args.amount, allow_zero=True)
    report_hash = parse_bytes32(args.report_hash, "--report-hash") if args.report_hash else hash_report(args.report)
    as_of = args.as_of
    if as_of is None:
        ledger = connect(args.rpc)
        as_of = run_on_node(args.rpc, ledger.latest_block).timestamp
    ledger, coin = _send_coin_call(args, "attestReserve", reserve, report_hash, as_of)
    supply, latest_reserve = run_on_node(args.rpc, lambda: _supply_and_reserve(ledger, coin))
    print(
        _("Attested a reserve of {amount} as of {as_of}, report 0x{report}").format(
            amount=grams(reserve), as_of=format_timestamp(as_of), report=report_hash.hex()
        )
    )
    print_rows([(_("supply"), grams(supply)), (_("reserve"), grams(latest_reserve))])
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    _send_coin_call(args, "pause")
    print(_("GoldCoin is paused: transfers, mints and burns fail until unpause"))
    return 0


def cmd_unpause(args: argparse.Namespace) -> int:
    _send_coin_call(args, "unpause")
    print(_("GoldCoin is unpaused"))
    return 0


def cmd_freeze(args: argparse.Namespace) -> int:
    from node.cli.issuer_support import parse_address

    account = parse_address(args.account, _("account"))
    _send_coin_call(args, "freeze", account)
    print(_("{account} is frozen: it can neither send nor receive").format(account=account))
    return 0


def cmd_unfreeze(args: argparse.Namespace) -> int:
    from node.cli.issuer_support import parse_address

    account = parse_address(args.account, _("account"))
    _send_coin_call(args, "unfreeze", account)
    print(_("{account} is no longer frozen").format(account=account))
    return 0


def cmd_allowlist_add(args: argparse.Namespace) -> int:
    from node.cli.issuer_support import parse_address

    account = parse_address(args.account, _("account"))
    _send_coin_call(args, "addToAllowlist", account)
    print(_("{account} is on the allowlist").format(account=account))
    return 0


def cmd_allowlist_remove(args: argparse.Namespace) -> int:
    from node.cli.issuer_support import parse_address

    account = parse_address(args.account, _("account"))
    _send_coin_call(args, "removeFromAllowlist", account)
    print(_("{account} is off the allowlist").format(account=account))
    return 0


# ---------------------------------------------------------------- parser


def _add_rpc(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rpc",
        metavar="URL",
        default=DEFAULT_RPC_URL,
        help=_("JSON-RPC URL of the node (default {url})").format(url=DEFAULT_RPC_URL),
    )


def _add_keystore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keystore", metavar="FILE", required=True, help=_("keystore file (eth-keyfile JSON) of the signing account")
    )
    parser.add_argument(
        "--password-file", metavar="FILE", help=_("file holding the keystore password; prompted for when omitted")
    )


def _add_coin_call(parser: argparse.ArgumentParser) -> None:
    """Add the options of the commands that send one GoldCoin transaction."""
    _add_rpc(parser)
    _add_keystore(parser)
    parser.add_argument("--coin", metavar="ADDRESS", help=_("GoldCoin address (default: the predeployed GoldCoin)"))


def _add_proposal_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("proposal", metavar="PROPOSAL", help=_("proposal file written by propose-mint"))


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``kura issuer`` and its actions to the ``kura`` parser."""
    issuer = commands.add_parser(
        "issuer", help=_("issue the gold coin: mint proposals, reserve attestations, pause, freeze, allowlist")
    )
    actions = issuer.add_subparsers(dest="issuer_command", required=True, metavar=_("ACTION"))

    propose = actions.add_parser("propose-mint", help=_("write a mint proposal file for the authorities to sign"))
    propose.add_argument(
        "--recipient", metavar="ADDRESS", required=True, help=_("address that receives the minted tokens")
    )
    propose.add_argument(
        "--amount",
        metavar="GRAMS",
        required=True,
        help=_("amount in grams as a decimal, e.g. 12.5 (1 token = 1 gram, 18 decimals)"),
    )
    reference = propose.add_mutually_exclusive_group(required=True)
    reference.add_argument("--reserve-ref", metavar="HEX", help=_("32-byte reserve reference as 0x-prefixed hex"))
    reference.add_argument(
        "--reserve-report",
        metavar="FILE",
        help=_("reserve report or custody receipt file; its keccak-256 hash is the reference"),
    )
    validity = propose.add_mutually_exclusive_group()
    validity.add_argument(
        "--valid-for",
        metavar="SECONDS",
        type=_integer_type("--valid-for", 1, UINT64_MAX),
        default=DEFAULT_VALID_FOR,
        help=_("seconds the proposal stays executable after the latest block (default 86400)"),
    )
    validity.add_argument(
        "--expiry",
        metavar="UNIX_TIME",
        type=_integer_type("--expiry", 0, UINT64_MAX),
        help=_("last Unix time at which the mint may execute"),
    )
    propose.add_argument(
        "--nonce",
        metavar="N",
        type=_integer_type("--nonce", 0, UINT256_MAX),
        help=_("proposal nonce (default: a random 64-bit number)"),
    )
    propose.add_argument(
        "--chain-id",
        metavar="ID",
        type=_integer_type("--chain-id", 1, UINT256_MAX),
        help=_("chain id (default: read from the node)"),
    )
    propose.add_argument(
        "--contract", metavar="ADDRESS", help=_("MintAuthority address (default: the predeployed MintAuthority)")
    )
    propose.add_argument(
        "--out",
        metavar="FILE",
        required=True,
        help=_("proposal file to write; an existing file is not overwritten"),
    )
    _add_rpc(propose)
    propose.set_defaults(handler=cmd_propose_mint)

    sign = actions.add_parser("sign", help=_("sign a proposal file offline and write a signature file"))
    _add_proposal_argument(sign)
    key_source = sign.add_mutually_exclusive_group(required=True)
    key_source.add_argument(
        "--keystore", metavar="FILE", help=_("keystore file (eth-keyfile JSON) of the signing account")
    )
    key_source.add_argument(
        "--pkcs11-module",
        metavar="PATH",
        help=_("PKCS#11 library of the token that holds the key, e.g. /usr/lib/softhsm/libsofthsm2.so"),
    )
    sign.add_argument(
        "--password-file", metavar="FILE", help=_("file holding the keystore password; prompted for when omitted")
    )
    sign.add_argument("--token-label", metavar="LABEL", help=_("label of the PKCS#11 token (with --pkcs11-module)"))
    sign.add_argument(
        "--key-label", metavar="LABEL", help=_("label of the secp256k1 key pair in the token (with --pkcs11-module)")
    )
    sign.add_argument(
        "--pin-file", metavar="FILE", help=_("file holding the token's user PIN; prompted for when omitted")
    )
    sign.add_argument(
        "--out", metavar="FILE", help=_("signature file to write (default: PROPOSAL.ADDRESS.sig.json beside it)")
    )
    sign.add_argument("--yes", action="store_true", help=_("sign without asking for confirmation"))
    sign.set_defaults(handler=cmd_sign)

    submit = actions.add_parser("submit", help=_("send executeMint with the collected signature files"))
    _add_proposal_argument(submit)
    submit.add_argument("signatures", nargs="+", metavar="SIGNATURE", help=_("signature files written by sign"))
    _add_rpc(submit)
    _add_keystore(submit)
    submit.set_defaults(handler=cmd_submit)

    status = actions.add_parser("status", help=_("show a proposal's state, approvals, reserve and supply"))
    _add_proposal_argument(status)
    status.add_argument(
        "signatures", nargs="*", metavar="SIGNATURE", help=_("signature files to count with the on-chain approvals")
    )
    _add_rpc(status)
    status.set_defaults(handler=cmd_status)

    burn = actions.add_parser("burn", help=_("burn tokens as the burner (redemption desk)"))
    burn.add_argument("amount", metavar="GRAMS", help=_("amount in grams, e.g. 100"))
    burn.add_argument(
        "--from",
        dest="holder",
        metavar="ADDRESS",
        help=_("holder to burn from with burnFrom; the holder must have approved the burner (default: own balance)"),
    )
    _add_coin_call(burn)
    burn.set_defaults(handler=cmd_burn)

    attest = actions.add_parser("attest-reserve", help=_("record a reserve attestation as the attestor"))
    attest.add_argument("amount", metavar="GRAMS", help=_("gold in custody in grams, e.g. 1000"))
    report = attest.add_mutually_exclusive_group(required=True)
    report.add_argument(
        "--report", metavar="FILE", help=_("audit or custody report file; its keccak-256 hash is recorded")
    )
    report.add_argument("--report-hash", metavar="HEX", help=_("32-byte report hash as 0x-prefixed hex"))
    attest.add_argument(
        "--as-of",
        metavar="UNIX_TIME",
        type=_integer_type("--as-of", 0, UINT64_MAX),
        help=_("Unix time of the count (default: the latest block's timestamp)"),
    )
    _add_coin_call(attest)
    attest.set_defaults(handler=cmd_attest_reserve)

    for name, handler, help_text in (
        ("pause", cmd_pause, _("pause transfers, mints and burns as the pauser")),
        ("unpause", cmd_unpause, _("lift a pause as the pauser")),
    ):
        sub = actions.add_parser(name, help=help_text)
        _add_coin_call(sub)
        sub.set_defaults(handler=handler)

    for name, handler, help_text in (
        ("freeze", cmd_freeze, _("freeze an account as compliance")),
        ("unfreeze", cmd_unfreeze, _("unfreeze an account as compliance")),
    ):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("account", metavar="ADDRESS", help=_("account address"))
        _add_coin_call(sub)
        sub.set_defaults(handler=handler)

    allowlist = actions.add_parser("allowlist", help=_("edit the allowlist as compliance (allowlist mode only)"))
    allowlist_actions = allowlist.add_subparsers(dest="allowlist_command", required=True, metavar=_("ACTION"))
    for name, handler, help_text in (
        ("add", cmd_allowlist_add, _("add an account to the allowlist")),
        ("remove", cmd_allowlist_remove, _("remove an account from the allowlist")),
    ):
        sub = allowlist_actions.add_parser(name, help=help_text)
        sub.add_argument("account", metavar="ADDRESS", help=_("account address"))
        _add_coin_call(sub)
        sub.set_defaults(handler=handler)
