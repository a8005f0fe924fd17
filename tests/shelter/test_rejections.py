"""Each way a restore must refuse material, asserted by the named rule."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from node.shelter import errors
from node.shelter.catalog import load_catalog
from node.shelter.custodians import combine_shares, open_released_share, read_request_key, release_share
from node.shelter.errors import ShelterRejected
from node.shelter.manifest import seal_manifest
from node.shelter.restore import restore, unlock_private_key
from node.shelter.scrub import verify_shelter
from tests.shelter.conftest import (
    Ledger,
    folder_sites,
    new_request,
    passphrase,
    release_shares,
    write_config,
)


@pytest.fixture
def sheltered(ledger: Ledger, shelter_keys: Path, tmp_path: Path):
    config = write_config(tmp_path / "ops", shelter_keys, folder_sites(tmp_path, 6), anchor=ledger.anchor_address)
    manifest = ledger.shelter(config)
    key_path = new_request(shelter_keys, tmp_path / "request")
    shares = release_shares(shelter_keys, tmp_path / "request", [1, 2, 4])
    private = unlock_private_key(config, key_path, shares)
    return config, manifest, private


def _fragment_path(tmp_path: Path, manifest, index: int) -> Path:
    entry = manifest.fragments[index]
    return tmp_path / entry.site / entry.name


def test_restore_of_valid_shelter_succeeds(sheltered, tmp_path: Path) -> None:
    config, manifest, private = sheltered
    report = restore(config, private, [tmp_path / "restored"])
    assert report.manifest.block_hash == manifest.block_hash
    assert (tmp_path / "restored" / "chaindata").is_dir()


def test_flipped_byte_is_fragment_corrupt(sheltered, tmp_path: Path) -> None:
    config, manifest, private = sheltered
    path = _fragment_path(tmp_path, manifest, 0)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    for index in (3, 4):
        shutil.rmtree(tmp_path / manifest.fragments[index].site)

    statuses, _failed = verify_shelter(config, load_catalog(config.catalog_dir))
    assert [status.state for status in statuses if status.index == 0] == [errors.FRAGMENT_CORRUPT]
    with pytest.raises(ShelterRejected) as raised:
        restore(config, private, [tmp_path / "restored"])
    assert raised.value.rule == errors.TOO_FEW_FRAGMENTS
    assert errors.FRAGMENT_CORRUPT in raised.value.details["rejected"].values()
    assert not (tmp_path / "restored").exists()


def test_fragment_of_other_shelter_is_foreign(sheltered, ledger: Ledger, tmp_path: Path) -> None:
    config, manifest, private = sheltered
    other = ledger.shelter(config)
    # Put the other shelter's fragment 1 where this shelter's fragment 1 lives.
    shutil.copyfile(_fragment_path(tmp_path, other, 1), _fragment_path(tmp_path, manifest, 1))

    statuses, _failed = verify_shelter(config, load_catalog(config.catalog_dir, manifest.shelter_id_hex))
    assert [status.state for status in statuses if status.index == 1] == [errors.FRAGMENT_FOREIGN]
    for index in (3, 4):
        shutil.rmtree(tmp_path / manifest.fragments[index].site)
    with pytest.raises(ShelterRejected) as raised:
        restore(config, private, [tmp_path / "restored"], shelter_id=manifest.shelter_id_hex)
    assert raised.value.rule == errors.TOO_FEW_FRAGMENTS
    assert errors.FRAGMENT_FOREIGN in raised.value.details["rejected"].values()


def test_k_minus_one_fragments_too_few(sheltered, tmp_path: Path) -> None:
    config, manifest, private = sheltered
    # The manifest copies stay at the spare site and the first two sites.
    for index in (2, 3, 4):
        for path in (tmp_path / manifest.fragments[index].site).iterdir():
            if path.name == manifest.fragments[index].name:
                path.unlink()
    shutil.rmtree(tmp_path / manifest.fragments[4].site)

    with pytest.raises(ShelterRejected) as raised:
        restore(config, private, [tmp_path / "restored"])
    assert raised.value.rule == errors.TOO_FEW_FRAGMENTS
    assert raised.value.got == 2
    assert raised.value.expected == 3
    assert "found 2 good fragment(s)" in raised.value.message
    assert "vault-4" in raised.value.details["failed_sites"]


def test_t_minus_one_shares_too_few(sheltered, shelter_keys: Path, tmp_path: Path) -> None:
    config, _manifest, _private = sheltered
    key_path = new_request(shelter_keys, tmp_path / "second-request")
    shares = release_shares(shelter_keys, tmp_path / "second-request", [2, 5])
    with pytest.raises(ShelterRejected) as raised:
        unlock_private_key(config, key_path, shares)
    assert raised.value.rule == errors.TOO_FEW_SHARES
    assert raised.value.got == 2
    assert raised.value.expected == 3


def test_share_of_other_key_rejected(sheltered, shelter_keys: Path, other_keys: Path, tmp_path: Path) -> None:
    config, _manifest, _private = sheltered
    request_dir = tmp_path / "mixed-request"
    key_path = new_request(shelter_keys, request_dir)

    # The custodian tool refuses to release a share of another key to this request.
    from node.shelter.custodians import open_custodian_file, read_restore_request

    request = read_restore_request(request_dir / "restore-request.json")
    foreign = open_custodian_file(other_keys / "custodian-1.json", passphrase(1))
    with pytest.raises(ShelterRejected) as raised:
        release_share(foreign, request)
    assert raised.value.rule == errors.SHARE_FOREIGN_KEY

    # A restore given a share of another key, released under a forged key id, rejects it too.
    forged = release_share(replace(foreign, key_id=request.key_id), request)
    from node.shelter.custodians import write_json

    forged_path = request_dir / "forged.json"
    write_json(forged_path, forged)
    request_id, request_key = read_request_key(key_path)
    genuine = [open_released_share(path, request_id, request_key) for path in release_shares(shelter_keys, request_dir, [2, 3])]
    with pytest.raises(ShelterRejected) as raised:
        combine_shares([*genuine, open_released_share(forged_path, request_id, request_key)], request.key_id)
    assert raised.value.rule == errors.SHARE_INVALID
    with pytest.raises(ShelterRejected) as raised:
        combine_shares([*genuine, foreign], config.public_key().key_id)
    assert raised.value.rule == errors.SHARE_FOREIGN_KEY


def test_manifest_not_matching_anchor(sheltered, shelter_keys: Path, tmp_path: Path) -> None:
    config, manifest, private = sheltered
    # Replace every sealed manifest with one whose committed key id differs from the anchored one.
    forged = replace(manifest, key_id="00" * 16)
    names = load_catalog(config.catalog_dir).extra["manifest_objects"]
    for site_name, object_name in names.items():
        (tmp_path / site_name / object_name).write_bytes(seal_manifest(forged, config.public_key()))

    with pytest.raises(ShelterRejected) as raised:
        restore(config, private, [tmp_path / "restored"])
    assert raised.value.rule == errors.ANCHOR_MISMATCH
    assert not (tmp_path / "restored").exists()
