"""The shelter configuration file (JSON), shared by the node, the CLI and restore drills.

Example, with paths relative to the file's folder::

    {
      "public_key": "shelter.pub",
      "k": 3, "n": 5,
      "sites": [
        {"name": "vault-a", "type": "folder", "path": "/mnt/vault-a"},
        {"name": "s3-eu", "type": "s3", "bucket": "kura-shelter", "endpoint_url": "https://s3.example"}
      ],
      "policy": {"every_blocks": 1000, "every_minutes": 60},
      "anchor": {"address": "0x...", "rpc_url": "http://127.0.0.1:8545",
                 "keystore": "anchor-key.json", "password_file": "anchor-password"},
      "catalog_dir": "catalog"
    }

Fragment i goes to site i, so ``sites`` lists at least n sites; sites after
the first n are spares that repair may use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.shelter.custodians import read_public_key
from node.shelter.errors import ShelterError
from node.shelter.kem import PublicKey
from node.shelter.sites import Site, site_from_config


@dataclass
class AnchorConfig:
    address: bytes
    rpc_url: str | None
    keystore: Path | None
    password_file: Path | None


@dataclass
class ShelterConfig:
    path: Path
    public_key_path: Path
    k: int
    n: int
    site_entries: list[dict[str, Any]]
    every_blocks: int | None
    every_minutes: float | None
    anchor: AnchorConfig | None
    catalog_dir: Path

    @classmethod
    def load(cls, path: str | Path) -> ShelterConfig:
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ShelterError(f"cannot read the shelter config {path}: {error}") from None
        base = path.parent
        try:
            k, n = int(document["k"]), int(document["n"])
            sites = list(document["sites"])
            public_key = base / document["public_key"]
        except (KeyError, TypeError, ValueError) as error:
            raise ShelterError(f"shelter config {path}: missing or invalid field {error}") from None
        if not 1 <= k < n <= 255:
            raise ShelterError(f"shelter config {path}: need 1 <= k < n <= 255, got k={k} n={n}")
        if len(sites) < n:
            raise ShelterError(f"shelter config {path}: n={n} fragments need at least {n} sites, got {len(sites)}")
        names = [entry.get("name") for entry in sites]
        if len(set(names)) != len(names):
            raise ShelterError(f"shelter config {path}: site names repeat: {names}")
        policy = document.get("policy", {})
        anchor = None
        if "anchor" in document:
            entry = document["anchor"]
            anchor = AnchorConfig(
                address=bytes.fromhex(entry["address"].removeprefix("0x")),
                rpc_url=entry.get("rpc_url"),
                keystore=base / entry["keystore"] if entry.get("keystore") else None,
                password_file=base / entry["password_file"] if entry.get("password_file") else None,
            )
        return cls(
            path=path,
            public_key_path=public_key,
            k=k,
            n=n,
            site_entries=sites,
            every_blocks=policy.get("every_blocks"),
            every_minutes=policy.get("every_minutes"),
            anchor=anchor,
            catalog_dir=base / document.get("catalog_dir", "catalog"),
        )

    def public_key(self) -> PublicKey:
        return read_public_key(self.public_key_path)

    def sites(self) -> list[Site]:
        return [site_from_config(entry, self.path.parent) for entry in self.site_entries]

    def site_named(self, name: str) -> Site:
        for entry in self.site_entries:
            if entry.get("name") == name:
                return site_from_config(entry, self.path.parent)
        known = ", ".join(str(entry.get("name")) for entry in self.site_entries)
        raise ShelterError(f"no site named {name!r} in {self.path}; sites: {known}")
