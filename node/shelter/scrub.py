"""Checking and repairing fragments with the catalog alone: no data key, no custodian.

Coding works on ciphertext, so a lost fragment is rebuilt from any k good
ones by decoding their stripes and re-encoding the missing block index.
zfec is deterministic, so a rebuilt fragment has exactly the hash the
manifest lists.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import zfec

from node.shelter import errors
from node.shelter.codec import BLOCK_SIZE, FRAGMENT_TAG_SIZE
from node.shelter.config import ShelterConfig
from node.shelter.errors import ShelterError, ShelterRejected, SiteError
from node.shelter.manifest import FragmentEntry, Manifest
from node.shelter.sites import Site

logger = logging.getLogger(__name__)


def check_fragment_file(manifest: Manifest, entry: FragmentEntry, path: Path) -> None:
    """Check size, tag and SHA-256 of a fragment file; ShelterRejected naming the failed rule.

    The tag tells a fragment of another shelter (fragment_foreign) from a
    damaged fragment of this one (fragment_corrupt).
    """
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        tag = handle.read(FRAGMENT_TAG_SIZE)
        digest.update(tag)
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    if tag != entry.tag:
        raise ShelterRejected(
            errors.FRAGMENT_FOREIGN,
            f"object {entry.name} is not fragment {entry.index} of shelter {manifest.shelter_id_hex}",
        )
    if size != manifest.fragment_size:
        raise ShelterRejected(
            errors.FRAGMENT_SIZE, f"fragment {entry.index} has the wrong size", got=size, expected=manifest.fragment_size
        )
    if digest.digest() != entry.sha256:
        raise ShelterRejected(
            errors.FRAGMENT_CORRUPT,
            f"fragment {entry.index} ({entry.name}) does not match its SHA-256 in the manifest",
            got=digest.hexdigest(),
            expected=entry.sha256.hex(),
        )


def fetch_checked(site: Site, manifest: Manifest, entry: FragmentEntry, destination: Path) -> None:
    """Download one fragment into ``destination`` and check it; SiteError or ShelterRejected on failure."""
    site.get(entry.name, destination)
    try:
        check_fragment_file(manifest, entry, destination)
    except ShelterRejected:
        destination.unlink(missing_ok=True)
        raise


@dataclass
class FragmentStatus:
    index: int
    name: str
    site: str | None
    #: "ok", "missing", or the rule a present fragment broke.
    state: str
    detail: str = ""


def locate(sites: list[Site], names: set[str]) -> tuple[dict[str, list[Site]], dict[str, str]]:
    """Which sites hold each name, and the error of each site that could not be listed."""
    where: dict[str, list[Site]] = {name: [] for name in names}
    failed: dict[str, str] = {}
    for site in sites:
        try:
            listing = site.list()
        except SiteError as error:
            failed[site.name] = error.message
            logger.warning("shelter site unreachable site=%s error=%s", site.name, error.message)
            continue
        for name in names & listing.keys():
            where[name].append(site)
    return where, failed


def verify_shelter(config: ShelterConfig, catalog: Manifest, work_dir: Path | None = None) -> tuple[list[FragmentStatus], dict[str, str]]:
    """Download and check every fragment of a shelter; return the status per fragment and the failed sites."""
    sites = config.sites()
    where, failed = locate(sites, {entry.name for entry in catalog.fragments})
    statuses: list[FragmentStatus] = []
    with tempfile.TemporaryDirectory(prefix="kura-verify-", dir=work_dir) as scratch:
        for entry in catalog.fragments:
            holders = where[entry.name]
            if not holders:
                statuses.append(FragmentStatus(entry.index, entry.name, None, "missing"))
                continue
            for site in holders:
                try:
                    fetch_checked(site, catalog, entry, Path(scratch) / entry.name)
                    statuses.append(FragmentStatus(entry.index, entry.name, site.name, "ok"))
                except ShelterRejected as error:
                    statuses.append(FragmentStatus(entry.index, entry.name, site.name, error.rule, error.message))
                except SiteError as error:
                    statuses.append(FragmentStatus(entry.index, entry.name, site.name, "unreadable", error.message))
                Path(scratch, entry.name).unlink(missing_ok=True)
    return statuses, failed


def repair_shelter(
    config: ShelterConfig, catalog: Manifest, targets: list[str], work_dir: Path | None = None
) -> list[tuple[int, str]]:
    """Rebuild every fragment that has no good copy onto the ``targets`` sites, in order.

    Returns (fragment index, site name) for each fragment written and saves
    the updated catalog. Raises ShelterRejected(too_few_fragments) with fewer
    than k good fragments.
    """
    from node.shelter.catalog import save_catalog

    statuses, failed = verify_shelter(config, catalog, work_dir)
    good: dict[int, FragmentStatus] = {}
    for status in statuses:
        if status.state == "ok":
            good.setdefault(status.index, status)
    lost = [entry for entry in catalog.fragments if entry.index not in good]
    if not lost:
        return []
    if len(good) < catalog.k:
        raise ShelterRejected(
            errors.TOO_FEW_FRAGMENTS,
            f"found {len(good)} good fragment(s), needed {catalog.k}; sites that failed: {', '.join(sorted(failed)) or 'none'}",
            got=len(good),
            expected=catalog.k,
        )
    if len(targets) < len(lost):
        raise ShelterError(f"{len(lost)} fragment(s) to rebuild but {len(targets)} replacement site(s) given")

    written: list[tuple[int, str]] = []
    entries = {entry.index: entry for entry in catalog.fragments}
    with tempfile.TemporaryDirectory(prefix="kura-repair-", dir=work_dir) as scratch:
        sources = sorted(good)[: catalog.k]
        for index in sources:
            site = config.site_named(good[index].site or "")
            fetch_checked(site, catalog, entries[index], Path(scratch) / f"in-{index}")
        rebuilt = {entry.index: Path(scratch) / f"out-{entry.index}" for entry in lost}
        _rebuild(catalog, sources, Path(scratch), rebuilt)

        updated = dict(entries)
        for entry, target_name in zip(lost, targets, strict=False):
            check_fragment_file(catalog, entry, rebuilt[entry.index])
            config.site_named(target_name).put(entry.name, rebuilt[entry.index])
            updated[entry.index] = replace(entry, site=target_name)
            written.append((entry.index, target_name))
            logger.info("shelter fragment rebuilt shelter=%s index=%d site=%s", catalog.shelter_id_hex, entry.index, target_name)
    save_catalog(config.catalog_dir, replace(catalog, fragments=[updated[i] for i in sorted(updated)]))
    return written


def _rebuild(catalog: Manifest, sources: list[int], scratch: Path, rebuilt: dict[int, Path]) -> None:
    decoder = zfec.Decoder(catalog.k, catalog.n)
    encoder = zfec.Encoder(catalog.k, catalog.n)
    wanted = tuple(sorted(rebuilt))
    entries = {entry.index: entry for entry in catalog.fragments}
    with ExitStack() as stack:
        inputs = [stack.enter_context(open(scratch / f"in-{index}", "rb")) for index in sources]
        outputs = {index: stack.enter_context(open(path, "wb")) for index, path in rebuilt.items()}
        for handle in inputs:
            handle.seek(FRAGMENT_TAG_SIZE)
        for index in wanted:
            outputs[index].write(entries[index].tag)
        for _stripe in range(catalog.stripes):
            blocks = tuple(handle.read(BLOCK_SIZE) for handle in inputs)
            primary = decoder.decode(blocks, tuple(sources))
            for index, block in zip(wanted, encoder.encode(tuple(primary), wanted), strict=True):
                outputs[index].write(block)


def site_health(config: ShelterConfig, catalog: Manifest) -> tuple[dict[str, int], dict[str, str]]:
    """Fragments of the right size present at each site (a listing, no download), and failed sites."""
    sites = config.sites()
    names = {entry.name for entry in catalog.fragments}
    present: dict[str, int] = {}
    failed: dict[str, str] = {}
    for site in sites:
        try:
            listing = site.list()
        except SiteError as error:
            failed[site.name] = error.message
            continue
        present[site.name] = sum(1 for name in names if listing.get(name) == catalog.fragment_size)
    return present, failed
