"""Sites that keep shelter objects: local folders and S3-compatible buckets.

A site stores flat objects under random hex names and knows nothing of
shelters. S3 credentials come from boto3's usual sources (environment,
shared credentials file, instance role), never from the shelter config,
so no secret is written to the config or logged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from node.shelter.errors import ShelterError, SiteError

COPY_BUFFER = 4 * 1024 * 1024


class Site(Protocol):
    """The storage contract of one site."""

    name: str

    def list(self) -> dict[str, int]:
        """Object name to size in bytes, for every object at the site."""

    def put(self, name: str, source: Path) -> None:
        """Store the file ``source`` as object ``name``, replacing any object of that name."""

    def get(self, name: str, destination: Path) -> None:
        """Copy object ``name`` into the file ``destination``; SiteError if it is missing."""

    def read_prefix(self, name: str, size: int) -> bytes:
        """The first ``size`` bytes of object ``name`` (fewer if the object is shorter)."""

    def delete(self, name: str) -> None:
        """Remove object ``name``; a missing object is not an error."""


class FolderSite:
    """A directory, typically a mounted volume or a removable disk."""

    def __init__(self, name: str, path: str | os.PathLike[str]) -> None:
        self.name = name
        self.path = Path(path)

    def _object(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise SiteError(self.name, f"invalid object name {name!r}")
        return self.path / name

    def list(self) -> dict[str, int]:
        try:
            return {
                entry.name: entry.stat().st_size
                for entry in os.scandir(self.path)
                if entry.is_file() and not entry.name.startswith(".")
            }
        except OSError as error:
            raise SiteError(self.name, f"cannot list {self.path}: {error}") from None

    def put(self, name: str, source: Path) -> None:
        target = self._object(name)
        temporary = self.path / f".{name}.partial"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with open(source, "rb") as reader, open(temporary, "wb") as writer:
                shutil.copyfileobj(reader, writer, COPY_BUFFER)
                writer.flush()
                os.fsync(writer.fileno())
            os.replace(temporary, target)
        except OSError as error:
            raise SiteError(self.name, f"cannot write {target}: {error}") from None

    def get(self, name: str, destination: Path) -> None:
        source = self._object(name)
        try:
            shutil.copyfile(source, destination)
        except FileNotFoundError:
            raise SiteError(self.name, f"object {name} not found in {self.path}") from None
        except OSError as error:
            raise SiteError(self.name, f"cannot read {source}: {error}") from None

    def read_prefix(self, name: str, size: int) -> bytes:
        try:
            with open(self._object(name), "rb") as handle:
                return handle.read(size)
        except OSError as error:
            raise SiteError(self.name, f"cannot read {name}: {error}") from None

    def delete(self, name: str) -> None:
        try:
            self._object(name).unlink(missing_ok=True)
        except OSError as error:
            raise SiteError(self.name, f"cannot delete {name}: {error}") from None


class S3Site:
    """A bucket (and optional key prefix) on S3 or any S3-compatible service."""

    def __init__(
        self, name: str, bucket: str, *, prefix: str = "", endpoint_url: str | None = None, region: str | None = None
    ) -> None:
        import boto3
        from botocore.config import Config

        self.name = name
        self.bucket = bucket
        self.prefix = prefix
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60),
        )

    def _call(self, what: str, action: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return action()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise SiteError(self.name, f"{what}: not found in bucket {self.bucket}") from None
            raise SiteError(self.name, f"{what} failed in bucket {self.bucket}: {code or error}") from None
        except BotoCoreError as error:
            raise SiteError(self.name, f"{what} failed for bucket {self.bucket}: {error}") from None

    def list(self) -> dict[str, int]:
        def run() -> dict[str, int]:
            objects: dict[str, int] = {}
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    objects[item["Key"][len(self.prefix) :]] = int(item["Size"])
            return objects

        return self._call("list", run)

    def put(self, name: str, source: Path) -> None:
        self._call(f"upload {name}", lambda: self._client.upload_file(str(source), self.bucket, self.prefix + name))

    def get(self, name: str, destination: Path) -> None:
        self._call(
            f"download {name}", lambda: self._client.download_file(self.bucket, self.prefix + name, str(destination))
        )

    def read_prefix(self, name: str, size: int) -> bytes:
        def run() -> bytes:
            response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + name, Range=f"bytes=0-{size - 1}")
            return bytes(response["Body"].read())

        return self._call(f"read {name}", run)

    def delete(self, name: str) -> None:
        self._call(f"delete {name}", lambda: self._client.delete_object(Bucket=self.bucket, Key=self.prefix + name))


def site_from_config(entry: Mapping[str, Any], base: Path) -> Site:
    """Build a site from one config entry; relative folder paths are taken from ``base``."""
    name = entry.get("name")
    kind = entry.get("type")
    if not isinstance(name, str) or not name:
        raise ShelterError(f"a site entry has no name: {dict(entry)!r}")
    if kind == "folder":
        return FolderSite(name, base / entry["path"])
    if kind == "s3":
        if not entry.get("bucket"):
            raise ShelterError(f"site {name}: an s3 site needs a bucket")
        return S3Site(
            name,
            entry["bucket"],
            prefix=entry.get("prefix", ""),
            endpoint_url=entry.get("endpoint_url"),
            region=entry.get("region"),
        )
    raise ShelterError(f"site {name}: unknown type {kind!r}; use 'folder' or 's3'")
