"""The node's catalog: one file per shelter, the manifest without the data key."""

from __future__ import annotations

import os
from pathlib import Path

from node.shelter.errors import ShelterError
from node.shelter.manifest import Manifest


def save_catalog(directory: Path, catalog: Manifest) -> Path:
    if catalog.data_key:
        raise ValueError("a catalog must not hold the data key")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{catalog.shelter_id_hex}.shelter"
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(catalog.to_bytes())
    os.replace(temporary, path)
    return path


def load_catalogs(directory: Path) -> list[Manifest]:
    """Every cataloged shelter, oldest height first."""
    if not directory.is_dir():
        return []
    catalogs = [Manifest.from_bytes(path.read_bytes()) for path in directory.glob("*.shelter")]
    return sorted(catalogs, key=lambda item: (item.height, item.created))


def load_catalog(directory: Path, shelter_id: str | None = None) -> Manifest:
    """The catalog of ``shelter_id`` (a hex prefix is enough), or of the latest shelter."""
    catalogs = load_catalogs(directory)
    if shelter_id is not None:
        catalogs = [item for item in catalogs if item.shelter_id_hex.startswith(shelter_id.lower())]
    if not catalogs:
        which = f"shelter {shelter_id}" if shelter_id else "any shelter"
        raise ShelterError(f"no catalog of {which} in {directory}; run 'kura shelter now' first")
    return catalogs[-1]
