"""Restore a ledger from a shelter: shares, manifest, fragments, decode, import, verify, move into place."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import msgpack

from node.chain.chain import Chain
from node.chain.header import KuraHeader
from node.consensus.validators import ValidatorTracker
from node.shelter import errors
from node.shelter.anchor import AnchorClient, verify_anchor_proof
from node.shelter.catalog import save_catalog
from node.shelter.codec import FRAGMENT_TAG_SIZE, decode_fragments
from node.shelter.config import ShelterConfig
from node.shelter.custodians import combine_shares, open_released_share, read_request_key
from node.shelter.errors import ShelterError, ShelterRejected, SiteError
from node.shelter.importer import SnapshotImporter
from node.shelter.kem import SEALED_PREFIX_SIZE, PrivateKey
from node.shelter.manifest import Manifest, fragments_root, manifest_prefix_matches, open_manifest
from node.shelter.scrub import fetch_checked, locate
from node.shelter.sites import Site
from node.shelter.snapshot import SnapshotInfo
from node.store.backend import LevelDBBackend

logger = logging.getLogger(__name__)


@dataclass
class RestoreReport:
    manifest: Manifest
    fragments_used: list[int]
    rejected: dict[str, str] = field(default_factory=dict)
    failed_sites: dict[str, str] = field(default_factory=dict)
    #: Wall-clock seconds per step: manifest, fetch, import, anchor, place.
    seconds: dict[str, float] = field(default_factory=dict)


def unlock_private_key(config: ShelterConfig, request_key_path: Path, share_paths: Sequence[Path]) -> PrivateKey:
    """Rebuild the shelter private key from released shares (see node.shelter.custodians)."""
    request_id, request_key = read_request_key(request_key_path)
    shares = [open_released_share(path, request_id, request_key) for path in share_paths]
    return combine_shares(shares, config.public_key().key_id)


def find_manifests(sites: list[Site], private: PrivateKey, work_dir: Path) -> tuple[list[Manifest], dict[str, str]]:
    """Every manifest sealed to ``private``'s key at any site (one per shelter), and the sites that failed.

    Objects are recognised by opening the first SEALED_PREFIX_SIZE bytes, so
    manifests need no telltale name or header.
    """
    found: dict[bytes, Manifest] = {}
    failed: dict[str, str] = {}
    for site in sites:
        try:
            listing = site.list()
            for name, size in sorted(listing.items()):
                if size < SEALED_PREFIX_SIZE or not manifest_prefix_matches(private, site.read_prefix(name, SEALED_PREFIX_SIZE)):
                    continue
                path = work_dir / f"manifest-{site.name}-{name}"
                site.get(name, path)
                manifest = open_manifest(path.read_bytes(), private)
                found.setdefault(manifest.shelter_id, manifest)
        except SiteError as error:
            failed[site.name] = error.message
            logger.warning("shelter site unreachable site=%s error=%s", site.name, error.message)
    return sorted(found.values(), key=lambda item: (item.height, item.created)), failed


def choose_manifest(manifests: list[Manifest], shelter_id: str | None, failed: dict[str, str]) -> Manifest:
    if shelter_id is not None:
        manifests = [item for item in manifests if item.shelter_id_hex.startswith(shelter_id.lower())]
    if not manifests:
        which = f"shelter {shelter_id}" if shelter_id else "any shelter"
        raise ShelterRejected(
            errors.MANIFEST_NOT_FOUND,
            f"no manifest of {which} sealed to this key at any reachable site; "
            f"sites that failed: {', '.join(sorted(failed)) or 'none'}",
        )
    return manifests[-1]


def fetch_fragments(
    sites: list[Site], manifest: Manifest, work_dir: Path, failed: dict[str, str]
) -> tuple[dict[int, Path], dict[str, str]]:
    """Download and check fragments until k good ones are in ``work_dir``.

    Raises ShelterRejected(too_few_fragments) saying how many were found
    and needed, which sites failed and why each bad fragment was rejected.
    """
    where, list_failures = locate(sites, {entry.name for entry in manifest.fragments})
    failed.update(list_failures)
    good: dict[int, Path] = {}
    rejected: dict[str, str] = {}
    for entry in manifest.fragments:
        if len(good) == manifest.k:
            break
        for site in where[entry.name]:
            path = work_dir / f"fragment-{entry.index}"
            try:
                fetch_checked(site, manifest, entry, path)
            except ShelterRejected as error:
                rejected[f"{site.name}/{entry.name}"] = error.rule
                logger.warning("shelter fragment rejected site=%s index=%d rule=%s", site.name, entry.index, error.rule)
                continue
            except SiteError as error:
                failed[site.name] = error.message
                continue
            good[entry.index] = path
            break
    if len(good) < manifest.k:
        reasons = ", ".join(f"{name}: {rule}" for name, rule in sorted(rejected.items())) or "none"
        raise ShelterRejected(
            errors.TOO_FEW_FRAGMENTS,
            f"found {len(good)} good fragment(s) of shelter {manifest.shelter_id_hex}, needed {manifest.k}; "
            f"sites that failed: {', '.join(sorted(failed)) or 'none'}; rejected fragments: {reasons}",
            got=len(good),
            expected=manifest.k,
            rejected=rejected,
            failed_sites=dict(failed),
        )
    return good, rejected


def check_manifest(manifest: Manifest) -> None:
    root = fragments_root([entry.sha256 for entry in sorted(manifest.fragments, key=lambda entry: entry.index)])
    if root != manifest.fragments_root or len(manifest.fragments) != manifest.n:
        raise ShelterRejected(
            errors.FRAGMENTS_ROOT_MISMATCH,
            "the manifest's fragment hashes do not give its fragments root",
            got=root.hex(),
            expected=manifest.fragments_root.hex(),
        )


def import_fragments(manifest: Manifest, fragments: dict[int, Path], chaindata: Path) -> None:
    """Decode, decrypt, decompress and import the snapshot into a new store at ``chaindata``."""
    backend = LevelDBBackend(chaindata, create=True)
    importer = SnapshotImporter(backend)
    try:
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=1 << 31)

        def consume(data: bytes) -> None:
            unpacker.feed(data)
            importer.feed(unpacker)

        with ExitStack() as stack:
            inputs = {}
            for index, path in fragments.items():
                handle = stack.enter_context(open(path, "rb"))
                handle.seek(FRAGMENT_TAG_SIZE)
                inputs[index] = handle
            decode_fragments(
                inputs,
                shelter_id=manifest.shelter_id,
                data_key=manifest.data_key,
                k=manifest.k,
                n=manifest.n,
                stripes=manifest.stripes,
                ciphertext_length=manifest.ciphertext_length,
                chunks=manifest.chunks,
                emit=consume,
            )
        if not importer.finished or importer.info is None:
            raise ShelterRejected(errors.SNAPSHOT_INVALID, "the snapshot stream ended before its end record")
        info = importer.info
        expected = SnapshotInfo(manifest.chain_id, manifest.height, manifest.block_hash, manifest.state_root, info.genesis)
        if info != expected:
            raise ShelterRejected(
                errors.SNAPSHOT_INVALID,
                "the snapshot's block differs from the manifest's",
                got=(info.height, info.block_hash.hex()),
                expected=(manifest.height, manifest.block_hash.hex()),
            )
    finally:
        importer.close()
        backend.close()


def check_anchor(manifest: Manifest, config: ShelterConfig, chaindata: Path, rpc_url: str | None) -> None:
    """Prove the manifest is the anchored one, from the restored chain and, if given, a live node."""
    if config.anchor is None:
        raise ShelterRejected(errors.ANCHOR_MISSING, f"{config.path} names no anchor contract to check the shelter against")
    backend = LevelDBBackend(chaindata)
    try:
        chain = Chain(backend)
        genesis = chain.header_by_number(0)
        assert genesis is not None
        proof_headers: dict[bytes, KuraHeader] = {}
        tracker = ValidatorTracker(lambda block_hash: proof_headers.get(block_hash) or chain.store.header_by_hash(block_hash), genesis)
        state = chain.state_at(chain.head)
        verify_anchor_proof(
            manifest,
            config.anchor.address,
            chain.head,
            tracker,
            lambda address, slot: state.get_storage(address, slot),  # type: ignore[arg-type]
            proof_headers,
        )
    finally:
        backend.close()
    if rpc_url:
        anchored = AnchorClient(rpc_url).anchored_commitment(config.anchor.address, manifest.shelter_id)
        if anchored == bytes(32):
            raise ShelterRejected(errors.ANCHOR_MISSING, f"the contract on {rpc_url} holds no commitment for this shelter")
        if anchored != manifest.commitment():
            raise ShelterRejected(
                errors.ANCHOR_MISMATCH,
                "the manifest does not match the commitment on chain",
                got=manifest.commitment().hex(),
                expected=anchored.hex(),
            )


def restore(
    config: ShelterConfig,
    private: PrivateKey,
    data_dirs: Sequence[Path],
    *,
    shelter_id: str | None = None,
    rpc_url: str | None = None,
    work_dir: Path | None = None,
    allow_unanchored: bool = False,
) -> RestoreReport:
    """Restore the shelter into each of ``data_dirs`` (which must not exist or be empty).

    ``allow_unanchored`` skips the anchor check only for a shelter that has
    no anchor at all; a manifest whose anchor does not match is rejected
    either way.
    """
    for data_dir in data_dirs:
        if data_dir.exists() and any(data_dir.iterdir()):
            raise ShelterError(f"the data directory {data_dir} is not empty; restore only into a new directory")
    sites = config.sites()
    seconds: dict[str, float] = {}
    started = time.monotonic()

    def lap(step: str) -> None:
        nonlocal started
        now = time.monotonic()
        seconds[step] = now - started
        started = now

    with tempfile.TemporaryDirectory(prefix="kura-restore-", dir=work_dir) as scratch_name:
        scratch = Path(scratch_name)

        # Find the manifest and check that its fragment list is consistent.
        manifests, failed = find_manifests(sites, private, scratch)
        manifest = choose_manifest(manifests, shelter_id, failed)
        check_manifest(manifest)
        logger.info("shelter restore started shelter=%s height=%d", manifest.shelter_id_hex, manifest.height)
        lap("manifest")

        # Fetch k good fragments, then decode, decrypt, decompress and import.
        fragments, rejected = fetch_fragments(sites, manifest, scratch, failed)
        lap("fetch")
        restored = scratch / "restored"
        import_fragments(manifest, fragments, restored / "chaindata")
        for path in fragments.values():
            path.unlink()
        lap("import")

        # The restored chain proves the anchor; only then is anything moved into place.
        if manifest.anchor is not None or not allow_unanchored:
            check_anchor(manifest, config, restored / "chaindata", rpc_url)
        else:
            logger.warning("shelter restored without an anchor check shelter=%s", manifest.shelter_id_hex)
        lap("anchor")
        for position, data_dir in enumerate(data_dirs):
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            if data_dir.exists():
                data_dir.rmdir()
            if position == len(data_dirs) - 1:
                # The last directory takes the scratch copy itself: a rename on the same file system.
                shutil.move(restored, data_dir)
            else:
                shutil.copytree(restored, data_dir)
        lap("place")
    save_catalog(config.catalog_dir, manifest.catalog())
    logger.info(
        "shelter restored shelter=%s height=%d hash=0x%s into=%d dir(s) seconds=%.1f",
        manifest.shelter_id_hex,
        manifest.height,
        manifest.block_hash.hex(),
        len(data_dirs),
        sum(seconds.values()),
    )
    return RestoreReport(manifest, sorted(fragments), rejected, failed, seconds)
