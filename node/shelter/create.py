"""Make one shelter: snapshot, compress, encrypt, erasure-code, write, verify, anchor, seal the manifest."""

from __future__ import annotations

import logging
import secrets
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from node.shelter.anchor import AnchorClient, AnchorSettings
from node.shelter.catalog import save_catalog
from node.shelter.codec import FRAGMENT_TAG_SIZE, FragmentEncoder
from node.shelter.config import ShelterConfig
from node.shelter.errors import ShelterError, SiteError
from node.shelter.manifest import AnchorRecord, FragmentEntry, Manifest, fragments_root, seal_manifest
from node.shelter.scrub import fetch_checked
from node.shelter.snapshot import write_snapshot
from node.store import schema
from node.store.backend import KeyValueBackend

logger = logging.getLogger(__name__)


def head_height(backend: KeyValueBackend) -> int:
    head_hash = backend.get(schema.meta_key("head"))
    raw = None if head_hash is None else backend.get(schema.number_key(head_hash))
    if raw is None:
        raise ShelterError("the store has no head block; run 'kura init' first")
    return int.from_bytes(raw, "big")


def create_shelter(
    backend: KeyValueBackend,
    config: ShelterConfig,
    *,
    height: int | None = None,
    anchor: AnchorSettings | Callable[[Manifest], AnchorRecord] | None = None,
    work_dir: Path | None = None,
) -> Manifest:
    """Shelter the ledger at ``height`` (default: the head, which QBFT has finalized) and return the manifest.

    ``anchor`` is where to anchor the commitment: settings for the
    ShelterAnchor contract, or a function returning the anchor record.
    Raises ShelterError if any of the n sites cannot be written or read back,
    because a shelter that starts with fewer than n fragments has less margin
    than its operators planned for.
    """
    public_key = config.public_key()
    sites = config.sites()[: config.n]
    height = head_height(backend) if height is None else height
    shelter_id = secrets.token_bytes(16)
    data_key = secrets.token_bytes(32)
    tags = [secrets.token_bytes(FRAGMENT_TAG_SIZE) for _ in range(config.n)]
    names = [secrets.token_hex(16) for _ in range(config.n)]
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="kura-shelter-", dir=work_dir) as scratch:
        paths = [Path(scratch) / name for name in names]

        # Serialize, compress, encrypt and erasure-code in one streaming pass.
        with ExitStack() as stack:
            outputs = [stack.enter_context(open(path, "wb")) for path in paths]
            encoder = stack.enter_context(FragmentEncoder(shelter_id, data_key, config.k, config.n, outputs, tags))
            info = write_snapshot(backend, height, encoder.write)
            encoded = encoder.finish()

        # Write fragment i to site i.
        for site, name, path in zip(sites, names, paths, strict=True):
            site.put(name, path)

        fragments = [
            FragmentEntry(index, names[index], encoded.fragment_hashes[index], tags[index], sites[index].name)
            for index in range(config.n)
        ]
        manifest = Manifest(
            shelter_id=shelter_id,
            created=int(time.time()),
            chain_id=info.chain_id,
            height=info.height,
            block_hash=info.block_hash,
            state_root=info.state_root,
            k=config.k,
            n=config.n,
            key_id=public_key.key_id,
            stripes=encoded.stripes,
            chunks=encoded.chunks,
            ciphertext_length=encoded.ciphertext_length,
            plaintext_length=encoded.plaintext_length,
            fragment_size=encoded.fragment_size,
            fragments=fragments,
            fragments_root=fragments_root(encoded.fragment_hashes),
            data_key=data_key,
        )

        # Verify: read every fragment back from its site and compare size, tag and hash.
        for site, entry in zip(sites, fragments, strict=True):
            fetch_checked(site, manifest, entry, Path(scratch) / f"check-{entry.index}")

    if anchor is not None:
        if isinstance(anchor, AnchorSettings):
            record = AnchorClient(anchor.rpc_url).anchor(anchor, manifest)
        else:
            record = anchor(manifest)
        manifest = Manifest(**{**manifest.__dict__, "anchor": record})
    else:
        logger.warning("shelter not anchored shelter=%s: the config has no anchor", shelter_id.hex())

    # Seal the manifest to the shelter key and leave a copy at every site, under a fresh name each.
    sealed = seal_manifest(manifest, public_key)
    manifest_names: dict[str, str] = {}
    with tempfile.NamedTemporaryFile(prefix="kura-manifest-", dir=work_dir) as handle:
        handle.write(sealed)
        handle.flush()
        for site in sites:
            name = secrets.token_hex(16)
            try:
                site.put(name, Path(handle.name))
            except SiteError as error:
                raise ShelterError(f"shelter {shelter_id.hex()}: the sealed manifest could not be written: {error}") from None
            manifest_names[site.name] = name

    catalog = Manifest(**{**manifest.catalog().__dict__, "extra": {"manifest_objects": manifest_names}})
    save_catalog(config.catalog_dir, catalog)
    logger.info(
        "shelter written shelter=%s height=%d hash=0x%s bytes=%d fragment_size=%d k=%d n=%d seconds=%.1f",
        shelter_id.hex(),
        info.height,
        info.block_hash.hex(),
        encoded.plaintext_length,
        encoded.fragment_size,
        config.k,
        config.n,
        time.monotonic() - started,
    )
    return manifest
