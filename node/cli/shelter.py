"""``kura shelter`` (encrypted, erasure-coded ledger backups) and ``kura custodian`` (share release)."""

from __future__ import annotations

import argparse
import getpass
import time
from pathlib import Path

from node.cli.i18n import _
from node.errors import KuraError


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from node.shelter.config import ShelterConfig

    return ShelterConfig.load(args.config)


def _prompt_secret(prompt: str) -> str:
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise KuraError(_("no terminal input to read a passphrase or PIN from; give it in a file (see --help)")) from None


def _passphrase(path: str | None, prompt: str, *, confirm: bool = False) -> str:
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\n")
        except OSError as error:
            raise KuraError(_("cannot read the passphrase file {path}: {error}").format(path=path, error=error)) from None
    passphrase = _prompt_secret(prompt)
    if confirm and passphrase != _prompt_secret(_("Repeat the passphrase: ")):
        raise KuraError(_("the passphrases do not match; nothing was written"))
    return passphrase


def _token_pin(ref, prompt: str) -> str:  # type: ignore[no-untyped-def]
    pin = ref.read_pin()
    return pin if pin is not None else _prompt_secret(prompt)


def _custodian_sealer(spec: str, index: int):  # type: ignore[no-untyped-def]
    """Build a passphrase or a token sealer from one --custodian value: passphrase[:FILE] or a PKCS#11 URI."""
    from node.shelter.custodians import TokenSealer
    from node.shelter.hsm import URI_SCHEME, TokenKeyRef

    if spec == "passphrase" or spec.startswith("passphrase:"):
        path = spec.partition(":")[2] or None
        return _passphrase(path, _("Passphrase of custodian {index}: ").format(index=index), confirm=True)
    if spec.startswith(URI_SCHEME):
        ref = TokenKeyRef.parse(spec)
        pin = _token_pin(
            ref, _("User PIN of token {label} (custodian {index}): ").format(label=ref.token_label, index=index)
        )
        return TokenSealer(ref, pin)
    raise KuraError(
        _("invalid --custodian {spec!r}: use passphrase, passphrase:FILE or a pkcs11: URI").format(spec=spec)
    )


def cmd_keygen(args: argparse.Namespace) -> int:
    from node.shelter.custodians import generate_shelter_key

    files = args.passphrase_file or []
    specs = args.custodian or []
    if files and specs:
        raise KuraError(_("give either --custodian or --passphrase-file, not both"))
    if files and len(files) != args.custodians:
        raise KuraError(
            _("give one --passphrase-file per custodian: {custodians} custodians, {files} files").format(
                custodians=args.custodians, files=len(files)
            )
        )
    if specs and len(specs) != args.custodians:
        raise KuraError(
            _("give one --custodian per custodian: {custodians} custodians, {specs} given").format(
                custodians=args.custodians, specs=len(specs)
            )
        )
    if specs:
        sealers = [_custodian_sealer(spec, index + 1) for index, spec in enumerate(specs)]
    else:
        sealers = [
            _passphrase(
                files[index] if files else None,
                _("Passphrase of custodian {index}: ").format(index=index + 1),
                confirm=True,
            )
            for index in range(args.custodians)
        ]
    public = generate_shelter_key(args.custodians, args.threshold, sealers, Path(args.out))
    print(_("Shelter key {key_id}: public key {path}").format(key_id=public.key_id, path=Path(args.out) / "shelter.pub"))
    print(
        _("Give custodian-N.json to custodian N only; any {threshold} of {custodians} can unlock a restore.").format(
            threshold=args.threshold, custodians=args.custodians
        )
    )
    return 0


def _anchor_settings(config):  # type: ignore[no-untyped-def]
    from node.cli.main import _load_validator_key
    from node.shelter.anchor import AnchorSettings

    anchor = config.anchor
    if anchor is None or not anchor.rpc_url or anchor.keystore is None:
        return None
    key = _load_validator_key(str(anchor.keystore), str(anchor.password_file) if anchor.password_file else None)
    return AnchorSettings(anchor.address, anchor.rpc_url, key)


def cmd_now(args: argparse.Namespace) -> int:
    from node.shelter.create import create_shelter
    from node.store.backend import LevelDBBackend

    config = _config(args)
    anchor = _anchor_settings(config)
    if anchor is None:
        print(_("warning: the config names no anchor contract, RPC URL and keystore; the shelter will not be anchored"))
    backend = LevelDBBackend(Path(args.data_dir) / "chaindata")
    try:
        manifest = create_shelter(backend, config, height=args.height, anchor=anchor)
    finally:
        backend.close()
    print(
        _("Shelter {id} at height {height} (block 0x{hash}): {n} fragments of {size} bytes, any {k} restore it.").format(
            id=manifest.shelter_id_hex,
            height=manifest.height,
            hash=manifest.block_hash.hex(),
            n=manifest.n,
            size=manifest.fragment_size,
            k=manifest.k,
        )
    )
    if manifest.anchor is not None:
        print(_("Anchored in block {number}.").format(number=manifest.anchor.block_number))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from node.shelter.catalog import load_catalog
    from node.shelter.scrub import site_health

    config = _config(args)
    catalog = load_catalog(config.catalog_dir, args.shelter)
    age = int(time.time()) - catalog.created
    print(
        _("Last shelter {id}: height {height}, {minutes} min old, k={k} n={n}, anchored: {anchored}").format(
            id=catalog.shelter_id_hex,
            height=catalog.height,
            minutes=age // 60,
            k=catalog.k,
            n=catalog.n,
            anchored=_("yes") if catalog.anchor is not None else _("no"),
        )
    )
    present, failed = site_health(config, catalog)
    total = 0
    for name, count in present.items():
        print(_("  {site}: {count} fragment(s) present").format(site=name, count=count))
        total += count
    for name, error in failed.items():
        print(_("  {site}: unreachable ({error})").format(site=name, error=error))
    print(_("{total} of {n} fragments present; {k} are needed.").format(total=total, n=catalog.n, k=catalog.k))
    return 0 if total >= catalog.n else 1


def cmd_verify(args: argparse.Namespace) -> int:
    from node.shelter.catalog import load_catalog
    from node.shelter.scrub import verify_shelter

    config = _config(args)
    catalog = load_catalog(config.catalog_dir, args.shelter)
    statuses, failed = verify_shelter(config, catalog)
    good = {status.index for status in statuses if status.state == "ok"}
    for status in statuses:
        print(
            _("fragment {index} at {site}: {state}").format(
                index=status.index, site=status.site or _("no site"), state=status.state
            )
        )
    for name, error in failed.items():
        print(_("site {site} unreachable: {error}").format(site=name, error=error))
    print(
        _("{good} of {n} fragments good; {k} are needed to restore.").format(good=len(good), n=catalog.n, k=catalog.k)
    )
    return 0 if len(good) == catalog.n else 1


def cmd_repair(args: argparse.Namespace) -> int:
    from node.shelter.catalog import load_catalog
    from node.shelter.scrub import repair_shelter

    config = _config(args)
    catalog = load_catalog(config.catalog_dir, args.shelter)
    written = repair_shelter(config, catalog, list(args.to))
    if not written:
        print(_("All {n} fragments are good; nothing to repair.").format(n=catalog.n))
    for index, site in written:
        print(_("Rebuilt fragment {index} onto {site}.").format(index=index, site=site))
    return 0


def cmd_request(args: argparse.Namespace) -> int:
    from node.shelter.custodians import create_restore_request

    config = _config(args)
    request, key_path = create_restore_request(config.public_key().key_id, Path(args.out), args.note or "")
    print(
        _("Restore request {id} written to {path}; send restore-request.json to the custodians.").format(
            id=request.request_id, path=args.out
        )
    )
    print(_("Keep {key} private and delete it after the restore.").format(key=key_path))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from node.shelter.restore import restore, unlock_private_key

    config = _config(args)
    private = unlock_private_key(config, Path(args.request_key), [Path(path) for path in args.share])
    report = restore(
        config,
        private,
        [Path(path) for path in args.data_dir],
        shelter_id=args.shelter,
        rpc_url=args.rpc,
        allow_unanchored=args.allow_unanchored,
    )
    manifest = report.manifest
    print(
        _("Restored shelter {id}: height {height}, block 0x{hash}, state root 0x{root}.").format(
            id=manifest.shelter_id_hex,
            height=manifest.height,
            hash=manifest.block_hash.hex(),
            root=manifest.state_root.hex(),
        )
    )
    print(_("Fragments used: {indexes}.").format(indexes=", ".join(str(index) for index in report.fragments_used)))
    for name, error in report.failed_sites.items():
        print(_("site {site} unreachable: {error}").format(site=name, error=error))
    return 0


def cmd_deploy_anchor(args: argparse.Namespace) -> int:
    from node.chain.crypto import address_of_private_key
    from node.cli.main import _load_validator_key
    from node.shelter.anchor import AnchorClient

    key = _load_validator_key(args.keystore, args.password_file)
    anchorers = [bytes.fromhex(text.removeprefix("0x")) for text in args.anchorer] or [address_of_private_key(key)]
    address = AnchorClient(args.rpc).deploy_anchor(key, anchorers)
    print(_("ShelterAnchor deployed at 0x{address}; put it in the shelter config's anchor.address.").format(address=address.hex()))
    return 0


def cmd_unseal_share(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from node.shelter.custodians import (
        custodian_token,
        open_custodian_file,
        open_token_custodian_file,
        read_restore_request,
        release_share,
        write_json,
    )

    request = read_restore_request(Path(args.request))
    ref = custodian_token(Path(args.share))
    if ref is None:
        passphrase = _passphrase(args.passphrase_file, _("Passphrase of {path}: ").format(path=args.share))
        share = open_custodian_file(Path(args.share), passphrase)
    else:
        ref = replace(ref, module_path=args.pkcs11_module or ref.module_path, pin_file=args.pin_file)
        pin = _token_pin(ref, _("User PIN of token {label}: ").format(label=ref.token_label))
        share = open_token_custodian_file(Path(args.share), ref, pin)
    write_json(Path(args.out), release_share(share, request))
    print(
        _("Share {index} released for restore request {id} into {path}; send it to the restore operator.").format(
            index=share.index, id=request.request_id, path=args.out
        )
    )
    return 0


def cmd_create_token_key(args: argparse.Namespace) -> int:
    from node.shelter.hsm import TokenKeyRef, create_token_key

    ref = TokenKeyRef.parse(args.key)
    create_token_key(ref, _token_pin(ref, _("User PIN of token {label}: ").format(label=ref.token_label)))
    print(
        _("Created AES-256 key {key} in token {token}; it cannot be exported from the token.").format(
            key=ref.key_label, token=ref.token_label
        )
    )
    print(_("Name it in kura shelter keygen --custodian '{uri}', adding &pin-source=file:PIN_FILE or typing the PIN when asked.").format(uri=ref.uri()))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    shelter = commands.add_parser("shelter", help=_("encrypted, erasure-coded ledger backups across sites"))
    actions = shelter.add_subparsers(dest="shelter_command", required=True, metavar=_("ACTION"))

    keygen = actions.add_parser("keygen", help=_("create the shelter key pair, split among custodians"))
    keygen.add_argument("--custodians", type=int, required=True, help=_("number of custodians (m)"))
    keygen.add_argument("--threshold", type=int, required=True, help=_("custodians needed to restore (t)"))
    keygen.add_argument("--out", required=True, help=_("directory for shelter.pub and custodian-N.json"))
    keygen.add_argument(
        "--passphrase-file", action="append", help=_("file holding one custodian's passphrase; once per custodian, in order")
    )
    keygen.add_argument(
        "--custodian",
        action="append",
        metavar=_("SPEC"),
        help=_(
            "how one custodian seals their share, once per custodian, in order: 'passphrase' (prompted), "
            "'passphrase:FILE', or a PKCS#11 URI such as "
            "'pkcs11:token=T;object=K?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:PIN_FILE'"
        ),
    )
    keygen.set_defaults(handler=cmd_keygen)

    def add_config(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", required=True, help=_("shelter config file (JSON)"))

    def add_shelter_id(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--shelter", help=_("shelter id or a prefix of it (default: the latest)"))

    now = actions.add_parser("now", help=_("shelter the ledger of a stopped node now"))
    add_config(now)
    now.add_argument("--data-dir", required=True, help=_("data directory of a node that is not running"))
    now.add_argument("--height", type=int, help=_("block height to shelter (default: the head)"))
    now.set_defaults(handler=cmd_now)

    status = actions.add_parser("status", help=_("show the last shelter, its age and fragments per site"))
    add_config(status)
    add_shelter_id(status)
    status.set_defaults(handler=cmd_status)

    verify = actions.add_parser("verify", help=_("download and check every fragment; needs no key"))
    add_config(verify)
    add_shelter_id(verify)
    verify.set_defaults(handler=cmd_verify)

    repair = actions.add_parser("repair", help=_("rebuild lost fragments onto replacement sites; needs no key"))
    add_config(repair)
    add_shelter_id(repair)
    repair.add_argument("--to", nargs="+", required=True, metavar=_("SITE"), help=_("replacement sites, in order"))
    repair.set_defaults(handler=cmd_repair)

    request = actions.add_parser("request", help=_("start a restore: write a request for the custodians"))
    add_config(request)
    request.add_argument("--out", required=True, help=_("directory for restore-request.json and its private key"))
    request.add_argument("--note", help=_("text shown to custodians, e.g. the incident number"))
    request.set_defaults(handler=cmd_request)

    restore = actions.add_parser("restore", help=_("rebuild data directories from a shelter"))
    add_config(restore)
    add_shelter_id(restore)
    restore.add_argument("--request-key", required=True, help=_("restore-request.key from 'kura shelter request'"))
    restore.add_argument("--share", nargs="+", required=True, help=_("released share files from the custodians"))
    restore.add_argument("--data-dir", nargs="+", required=True, help=_("new data directories to fill"))
    restore.add_argument("--rpc", help=_("JSON-RPC URL of a surviving node, to check the anchor on chain too"))
    restore.add_argument(
        "--allow-unanchored", action="store_true", help=_("accept a shelter that was never anchored")
    )
    restore.set_defaults(handler=cmd_restore)

    deploy = actions.add_parser("deploy-anchor", help=_("deploy the ShelterAnchor contract"))
    deploy.add_argument("--rpc", required=True, help=_("JSON-RPC URL of a node"))
    deploy.add_argument("--keystore", required=True, help=_("keystore of the paying account, which becomes the owner"))
    deploy.add_argument("--password-file", help=_("file holding the keystore password; prompted for when omitted"))
    deploy.add_argument(
        "--anchorer", action="append", default=[], help=_("address allowed to anchor (default: the owner); repeatable")
    )
    deploy.set_defaults(handler=cmd_deploy_anchor)

    custodian = commands.add_parser("custodian", help=_("custodian tools; run offline"))
    custodian_actions = custodian.add_subparsers(dest="custodian_command", required=True, metavar=_("ACTION"))
    unseal = custodian_actions.add_parser("unseal-share", help=_("release this custodian's share for one restore request"))
    unseal.add_argument("--share", required=True, help=_("this custodian's custodian-N.json"))
    unseal.add_argument("--request", required=True, help=_("restore-request.json from the restore operator"))
    unseal.add_argument("--out", required=True, help=_("file for the released share"))
    unseal.add_argument("--passphrase-file", help=_("file holding the passphrase; prompted for when omitted"))
    unseal.add_argument("--pin-file", help=_("file holding the token's user PIN; prompted for when omitted"))
    unseal.add_argument(
        "--pkcs11-module", help=_("PKCS#11 module of the token (default: the module named in the custodian file)")
    )
    unseal.set_defaults(handler=cmd_unseal_share)

    token_key = custodian_actions.add_parser(
        "create-token-key", help=_("create the AES key that seals this custodian's share inside a PKCS#11 token")
    )
    token_key.add_argument(
        "--key",
        required=True,
        metavar=_("URI"),
        help=_("PKCS#11 URI of the new key: pkcs11:token=T;object=K?module-path=PATH[&pin-source=file:PIN_FILE]"),
    )
    token_key.set_defaults(handler=cmd_create_token_key)
