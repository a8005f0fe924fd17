"""Genesis parsing: each bad field is named in the error."""

from __future__ import annotations

import copy

import pytest

from node.chain.genesis import parse_genesis
from node.errors import ConfigError
from tests.support.chains import genesis_document


def _with(path: list[str], value):
    document = copy.deepcopy(genesis_document())
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (["config", "chainId"], _DELETE, "config.chainId"),
        (["config", "chainId"], "0xZZ", "config.chainId"),
        (["config", "chainId"], 0, "config.chainId"),
        (["config", "qbft", "validators"], [], "validators"),
        (["config", "qbft", "validators"], ["0x1234"], "validators[0]"),
        (["config", "qbft", "blockperiodseconds"], 0, "blockperiodseconds"),
        (["config", "zeroBaseFee"], "yes", "zeroBaseFee"),
        (["gasLimit"], "0x10", "gasLimit"),
        (["alloc"], [], "alloc"),
    ],
)
def test_bad_field_named(path: list[str], value, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_genesis(_with(path, value))
    assert named in caught.value.message


def test_alloc_entry_parsed() -> None:
    document = genesis_document()
    document["alloc"]["0x00000000000000000000000000000000000000aa"] = {
        "balance": "0x10",
        "nonce": 3,
        "code": "0x6000",
        "storage": {"0x01": "0x02"},
    }
    genesis = parse_genesis(document)
    account = genesis.alloc[bytes.fromhex("00" * 19 + "aa")]
    assert account.balance == 16
    assert account.nonce == 3
    assert account.code == b"\x60\x00"
    assert account.storage == {1: 2}


def test_defaults() -> None:
    config = parse_genesis(genesis_document()).config
    assert config.block_period == 1
    assert config.gas_policy == "eip1559"
    assert parse_genesis(_with(["config", "zeroBaseFee"], True)).config.gas_policy == "free"
