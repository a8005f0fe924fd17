"""Load compiled contract artefacts from ``contracts/build``.

The artefacts are read from the repository checkout, at ``<repo>/contracts/build`` relative to
this file, rather than shipped as package data. The node is installed editable
(``pip install -e .``), so a single copy serves both, and a rebuild is picked up without
reinstalling. Set ``KURA_CONTRACTS_BUILD`` to read them from another folder.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.coin.errors import ArtifactNotFound

#: ``<repo>/contracts/build``, found from this file's place at ``<repo>/node/coin/artifacts.py``.
DEFAULT_BUILD_DIR = Path(__file__).resolve().parents[2] / "contracts" / "build"

GOLD_COIN = "GoldCoin"
MINT_AUTHORITY = "MintAuthority"
#: Test-only ERC-1271 wallet, built to ``contracts/build/test``.
TEST_CONTRACT_AUTHORITY = "test/TestContractAuthority"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract as written by ``contracts/compile.js``."""

    name: str
    abi: tuple[dict[str, Any], ...]
    #: Creation code (constructor plus runtime code), without constructor arguments.
    bytecode: bytes
    #: Runtime code with zeros where the constructor fills in immutables.
    deployed_bytecode: bytes
    #: (offset, length) byte ranges of ``deployed_bytecode`` that the constructor fills with
    #: immutables, sorted by offset.
    immutable_ranges: tuple[tuple[int, int], ...]
    compiler_version: str


def build_dir() -> Path:
    """Return the artefact folder: ``KURA_CONTRACTS_BUILD`` if set, else ``<repo>/contracts/build``."""
    override = os.environ.get("KURA_CONTRACTS_BUILD")
    return Path(override) if override else DEFAULT_BUILD_DIR


@functools.cache
def _load_from(directory: Path, name: str) -> Artifact:
    path = directory / f"{name}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactNotFound(
            f"contract artefact {path} not found; run scripts/build_contracts.sh to compile the contracts"
        ) from None
    return Artifact(
        name=document["contractName"],
        abi=tuple(document["abi"]),
        bytecode=bytes.fromhex(document["bytecode"].removeprefix("0x")),
        deployed_bytecode=bytes.fromhex(document["deployedBytecode"].removeprefix("0x")),
        immutable_ranges=tuple(
            sorted(
                (reference["start"], reference["length"])
                for references in document.get("immutableReferences", {}).values()
                for reference in references
            )
        ),
        compiler_version=document["compiler"]["version"],
    )


def load_artifact(name: str) -> Artifact:
    """Load ``<build dir>/<name>.json``, e.g. ``load_artifact("GoldCoin")``.

    Raises ArtifactNotFound when the file is missing. Results are cached per folder and name.
    """
    return _load_from(build_dir(), name)
