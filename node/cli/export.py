"""``kura export`` and ``kura import``: blocks to and from an RLP block file (geth's export format).

Also holds what ``kura audit`` shares with them: the block source options and the messages for
a block that breaks a rule. Only the parsers are built at import; the handlers import the
chain code when they run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from node.cli.i18n import _
from node.errors import KuraError

if TYPE_CHECKING:
    from node.audit.progress import Progress
    from node.audit.sources import BlockSource
    from node.errors import BlockValidationError

#: Exit status when a block breaks a rule; other failures exit with 1.
EXIT_RULE_BROKEN = 2


def add_source_options(parser: argparse.ArgumentParser, *, allow_blocks: bool = True) -> None:
    """Add the options that choose where blocks are read from: one of --data-dir, --rpc, --blocks."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--data-dir", help=_("data directory of a stopped node (see --copy for a running one)"))
    group.add_argument("--rpc", metavar="URL", help=_("JSON-RPC URL of a running node, e.g. http://127.0.0.1:8545"))
    if allow_blocks:
        group.add_argument("--blocks", metavar="FILE", help=_("block file written by 'kura export'; needs --genesis"))
    parser.add_argument(
        "--copy",
        action="store_true",
        help=_("with --data-dir: read a temporary copy of the store, so the node may keep running"),
    )
    parser.add_argument(
        "--genesis",
        help=_("genesis JSON file of the chain; required with --blocks, and with --rpc unless the node serves it"),
    )


def open_source(args: argparse.Namespace) -> BlockSource:
    from node.audit.sources import BlockFileSource, DataDirSource, RpcSource
    from node.errors import StoreError

    if args.copy and not args.data_dir:
        raise KuraError(_("--copy applies to --data-dir only"))
    if args.data_dir:
        try:
            return DataDirSource(args.data_dir, copy=args.copy)
        except StoreError as error:
            if args.copy:
                raise
            raise KuraError(
                _("{message} To read a running node's data directory, add --copy.").format(message=error.message)
            ) from None
    if args.rpc:
        return RpcSource(args.rpc, genesis_path=args.genesis)
    if not args.genesis:
        raise KuraError(_("--blocks needs --genesis: a block file does not contain the genesis document"))
    return BlockFileSource(args.blocks, genesis_path=args.genesis)


def make_progress(quiet: bool) -> Progress | None:
    from node.audit.progress import Progress

    if quiet:
        return None

    def line(height: int, total: int | None, blocks: float, transactions: float) -> str:
        if total is None:
            return _("height {height}  {blocks:.1f} blocks/s  {transactions:.0f} txs/s").format(
                height=height, blocks=blocks, transactions=transactions
            )
        return _("height {height}/{total}  {blocks:.1f} blocks/s  {transactions:.0f} txs/s").format(
            height=height, total=total, blocks=blocks, transactions=transactions
        )

    return Progress(line)


def print_rule_broken(error: BlockValidationError, action: str) -> None:
    """Print which block broke which rule, with the value found and the value expected, on stderr."""
    print(
        _("{action} stopped at height {number}: {rule}").format(action=action, number=error.number, rule=error.rule),
        file=sys.stderr,
    )
    if error.got is not None or error.expected is not None:
        print(_("  found:    {value}").format(value=error.got), file=sys.stderr)
        print(_("  expected: {value}").format(value=error.expected), file=sys.stderr)
    print(_("  error:    {message}").format(message=error.message), file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    from node.audit.transfer import export_blocks
    from node.errors import BlockValidationError

    source = open_source(args)
    try:
        if args.genesis_out:
            Path(args.genesis_out).write_text(json.dumps(source.genesis_document(), indent=2) + "\n", encoding="utf-8")
        result = export_blocks(source, args.file, first=args.first, last=args.last, progress=make_progress(args.quiet))
    except BlockValidationError as error:
        print_rule_broken(error, _("export"))
        return EXIT_RULE_BROKEN
    finally:
        source.close()
    print(
        _("Exported {count} blocks ({transactions} transactions) to {path}.").format(
            count=result.blocks, transactions=result.transactions, path=args.file
        )
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from node.audit.sources import BlockFileSource, load_genesis_document
    from node.audit.transfer import import_blocks
    from node.chain.chain import Chain, initialize_store
    from node.chain.genesis import parse_genesis
    from node.errors import BlockValidationError
    from node.store.backend import LevelDBBackend
    from node.store.chainstore import ChainStore

    os.makedirs(args.data_dir, exist_ok=True)
    backend = LevelDBBackend(os.path.join(args.data_dir, "chaindata"), create=True)
    try:
        if ChainStore(backend).schema_version() is None:
            if not args.genesis:
                raise KuraError(
                    _("{path} is not initialised; pass --genesis to create it from the chain's genesis file").format(
                        path=args.data_dir
                    )
                )
            initialize_store(backend, parse_genesis(load_genesis_document(args.genesis)))
        elif args.genesis:
            # Raises StoreError when the data directory contains another chain.
            initialize_store(backend, parse_genesis(load_genesis_document(args.genesis)))
        chain = Chain(backend)
        source = BlockFileSource(args.file, genesis_path=args.genesis)
        try:
            result = import_blocks(chain, source.blocks(), progress=make_progress(args.quiet))
        except BlockValidationError as error:
            print_rule_broken(error, _("import"))
            return EXIT_RULE_BROKEN
        finally:
            source.close()
        head = chain.head
    finally:
        backend.close()
    print(
        _("Imported {count} blocks ({skipped} already stored); head {number} 0x{hash}.").format(
            count=result.blocks, skipped=result.skipped, number=head.block_number, hash=head.hash.hex()
        )
    )
    return 0


def _block_number(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise argparse.ArgumentTypeError(_("block number {value!r} is not a decimal integer").format(value=value))
    return int(value)


def register(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export", help=_("write blocks to an RLP block file (geth's export format; gzip when FILE ends in .gz)")
    )
    export.add_argument("file", metavar="FILE", help=_("block file to write"))
    add_source_options(export, allow_blocks=False)
    export.add_argument("--from", dest="first", type=_block_number, default=0, help=_("first block (default 0)"))
    export.add_argument("--to", dest="last", type=_block_number, help=_("last block (default: the head)"))
    export.add_argument("--genesis-out", metavar="FILE", help=_("also write the chain's genesis document to FILE"))
    export.add_argument("--quiet", action="store_true", help=_("print no progress line"))
    export.set_defaults(handler=cmd_export)

    importer = commands.add_parser(
        "import", help=_("import a block file into a data directory, checking seals and execution")
    )
    importer.add_argument("file", metavar="FILE", help=_("block file written by 'kura export'"))
    importer.add_argument("--data-dir", required=True, help=_("data directory of a stopped node, or a new one"))
    importer.add_argument("--genesis", help=_("genesis JSON file; required when the data directory is new"))
    importer.add_argument("--quiet", action="store_true", help=_("print no progress line"))
    importer.set_defaults(handler=cmd_import)
