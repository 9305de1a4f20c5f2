"""Push and pull an app as Spin's OCI artifact: `edge push REF`, `edge up -f REF`.

`push` packages the built components the way `spin registry push` does
(`oci_package` says what goes where) and uploads it; `pull` downloads an
artifact into a cache keyed by digest and unpacks it into a directory with a
`spin.toml` that the local runtime loads like any other (`oci_cache`). The
`.wasm` that `edge up -f REF` runs is the pushed blob itself, checked against
its digest: byte for byte what was deployed.

    push(manifest, "127.0.0.1:5000/todo:v1")   -> "127.0.0.1:5000/todo:v1@sha256:..."
    artifact_digest(manifest)                   -> "sha256:..." (the same digest, offline)
    pull("127.0.0.1:5000/todo:v1", cache_dir)   -> .../apps/<hex>/spin.toml
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..app.model import Manifest
from ..errors import EdgeError
from .oci_cache import OciCache, needed_blobs, parse_manifest
from .oci_package import OCI_MANIFEST_MEDIA_TYPE, Artifact, package
from .oci_reference import InvalidReference, Reference, looks_like_reference
from .oci_registry import RegistryClient

__all__ = [
    "InvalidReference",
    "Reference",
    "artifact_digest",
    "looks_like_reference",
    "pull",
    "push",
]

log = logging.getLogger("edge.oci")


def artifact_digest(manifest: Manifest) -> str:
    """The manifest digest `push` would give this build ("sha256:..."), without a registry.

    Reads the built components (EdgeError if one is missing); build first.
    """
    return package(manifest).digest


def push(manifest: Manifest, reference: str, *, insecure: bool | None = None) -> str:
    """Upload the app's built components as a Spin app to `reference` (REGISTRY/NAME:TAG).

    Returns "REGISTRY/NAME:TAG@sha256:...". Blobs the repository already has are
    not uploaded again. `insecure` None: plain HTTP for loopback registries only.
    """
    ref = Reference.parse(reference)
    if ref.tag is None and ref.digest is None:
        ref = Reference(ref.registry, ref.repository, "latest")
    artifact = package(manifest)
    if ref.digest is not None and ref.digest != artifact.digest:
        raise EdgeError(
            f"{reference} names the digest {ref.digest}, but this build's artifact is "
            f"{artifact.digest}: push to a tag"
        )
    client = RegistryClient(ref, insecure=insecure)
    _upload(client, artifact)
    digest = client.put_manifest(
        ref.tag or artifact.digest, artifact.manifest, OCI_MANIFEST_MEDIA_TYPE
    )
    if digest != artifact.digest:  # put_manifest checked the registry against these bytes
        raise EdgeError(f"the registry stored {digest}, not {artifact.digest}")
    log.info("pushed %s@%s (%d layers)", ref.name, digest, len(artifact.layers))
    return str(ref.with_digest(digest))


def _upload(client: RegistryClient, artifact: Artifact) -> None:
    for blob in artifact.blobs:
        if client.has_blob(blob.digest):
            log.debug("%s: already in the registry", blob.digest)
            continue
        client.put_blob(blob.data, blob.digest)


def pull(reference: str, cache_dir: Path, *, insecure: bool | None = None) -> Path:
    """The `spin.toml` of the app at `reference`, unpacked under `cache_dir`.

    A reference with a digest that was pulled before needs no registry at all; a
    tag is looked up every time (one manifest request), so a tag that moved
    pulls the new artifact, and blobs already cached are not downloaded again.
    """
    ref = Reference.parse(reference)
    cache = OciCache(cache_dir)
    if ref.digest is not None and (found := cache.unpacked(ref.digest)) is not None:
        log.debug("%s: in the cache", ref)
        return found
    client = RegistryClient(ref, insecure=insecure)
    body, digest = client.get_manifest(ref.target)
    if (found := cache.unpacked(digest)) is not None:
        return found
    document = parse_manifest(body)
    for blob in needed_blobs(document):
        if not cache.has_blob(blob):
            cache.blob_path(blob).parent.mkdir(parents=True, exist_ok=True)
            client.fetch_blob(blob, cache.blob_path(blob))
    return cache.unpack(digest, body, origin=str(ref.with_digest(digest)))
