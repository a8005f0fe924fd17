"""What one site holds reveals nothing of the ledger: no addresses, no headers, full entropy, equal sizes."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import rlp

from node.chain.seal import ExtraData
from tests.shelter.conftest import Ledger, folder_sites, write_config
from tests.support.chains import USERS, VALIDATOR


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte."""
    counts = Counter(data)
    return -sum(count / len(data) * math.log2(count / len(data)) for count in counts.values())


def test_site_objects_reveal_nothing(ledger: Ledger, shelter_keys: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "ops", shelter_keys, folder_sites(tmp_path, 5), anchor=ledger.anchor_address)
    manifest = ledger.shelter(config)
    head = ledger.chain.head
    known = [bytes.fromhex(user.address[2:]) for user in USERS] + [VALIDATOR, ledger.anchor_address]
    for number in range(head.block_number + 1):
        header = ledger.chain.header_by_number(number)
        assert header is not None
        known += [header.hash, header.state_root, header.parent_hash, rlp.encode(header)[:40]]
    known.append(ExtraData(validators=(VALIDATOR,)).encode()[:40])

    fragment_sizes = set()
    for entry in manifest.fragments[: manifest.k - 1]:
        data = (tmp_path / entry.site / entry.name).read_bytes()
        fragment_sizes.add(len(data))
        assert entropy(data) >= 7.9, f"fragment {entry.index} entropy {entropy(data):.3f} bits/byte"
        for value in known:
            assert value not in data, f"fragment {entry.index} contains ledger bytes {value.hex()}"
        assert b"chainId" not in data
    for entry in manifest.fragments:
        fragment_sizes.add((tmp_path / entry.site / entry.name).stat().st_size)
    assert fragment_sizes == {manifest.fragment_size}

    # Every object name is 32 random hex digits: none tells shelter, order or kind.
    for site_index in range(5):
        for path in (tmp_path / f"vault-{site_index}").iterdir():
            assert re.fullmatch(r"[0-9a-f]{32}", path.name), path.name
            assert entropy(path.read_bytes()) >= 7.5
