"""The cache of pulled apps, and how a pulled artifact becomes an app `edge up` loads.

    <cache>/blobs/sha256/<hex>     every blob pulled, checked against its digest
    <cache>/apps/<hex>/            one artifact (its manifest's digest), unpacked:
        spin.toml                  the locked app as a Spin manifest, sources by path
        <component>.wasm           hard links to (or copies of) the wasm blobs
        files/<component>/...      the files a component mounts, at their guest paths
        spin.lock                  the locked app as pulled; manifest.json, the OCI manifest

An app directory appears whole or not at all (it is written beside, then
renamed), so its presence means the digest is pulled: a second pull of the
same digest reads nothing from the registry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import EdgeError
from . import oci_toml as toml
from .oci_package import (
    OCI_MANIFEST_MEDIA_TYPE,
    SPIN_APPLICATION_MEDIA_TYPE,
    WASM_CONTENT_TYPE,
)

MANIFEST_FILE = "spin.toml"
LOCKED_FILE = "spin.lock"
OCI_MANIFEST_FILE = "manifest.json"
log = logging.getLogger("edge.oci")
_KNOWN_MUST_UNDERSTAND = {"host_requirements", "component_host_requirements"}
_KNOWN_HOST_REQUIREMENTS = {"local_service_chaining"}


def _hex(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        raise EdgeError(f"unsupported digest {digest!r}: edge reads sha256 digests")
    return hexdigest


class OciCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / _hex(digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def app_dir(self, digest: str) -> Path:
        return self.root / "apps" / _hex(digest)

    def unpacked(self, digest: str) -> Path | None:
        """The manifest of the app of this digest, if it was pulled before and its
        `.wasm` files are still the pushed ones (else the copy is dropped: pull again)."""
        directory = self.app_dir(digest)
        manifest = directory / MANIFEST_FILE
        if not manifest.is_file():
            return None
        try:
            locked = json.loads((directory / LOCKED_FILE).read_bytes())
            expected = {
                directory / f"{c['id']}.wasm": c["source"]["digest"]
                for c in locked["components"]
                if "digest" in c["source"] and c["source"].get("inline") is None
            }
            changed = [want for path, want in expected.items() if _digest_of(path) != want]
        except (OSError, ValueError, KeyError, TypeError):
            changed = [""]
        if not changed:
            return manifest
        log.warning("the cached copy of %s was changed on disk: it will be pulled again", digest)
        for want in changed:
            if want and self.has_blob(want) and _digest_of(self.blob_path(want)) != want:
                self.blob_path(want).unlink()  # a hard link shared the change
        shutil.rmtree(directory, ignore_errors=True)
        return None

    def blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def unpack(self, digest: str, oci_manifest: bytes, origin: str) -> Path:
        """Write the app directory of an artifact whose blobs are all in the cache."""
        document = parse_manifest(oci_manifest)
        locked_digest = locked_app_digest(document)
        locked = _load_locked(self.blob(locked_digest))
        final = self.app_dir(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name[:12]}-", dir=final.parent))
        try:
            sources: dict[str, str] = {}
            mounts: dict[str, str] = {}
            for component in locked["components"]:
                cid = _component_id(component)
                sources[cid] = self._place_wasm(component, staging / f"{cid}.wasm")
                if component.get("files"):
                    mounts[cid] = self._place_files(component, staging / "files" / cid, cid)
            (staging / LOCKED_FILE).write_bytes(self.blob(locked_digest))
            (staging / OCI_MANIFEST_FILE).write_bytes(oci_manifest)
            (staging / MANIFEST_FILE).write_text(
                manifest_toml(locked, sources, mounts, origin), encoding="utf-8"
            )
            try:
                os.rename(staging, final)
            except OSError:
                if not (final / MANIFEST_FILE).is_file():  # not another pull's finished copy
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return final / MANIFEST_FILE

    def _content(self, ref: dict[str, Any], what: str) -> tuple[Path | None, bytes | None]:
        """(cached blob, None) or (None, inline bytes), checked against the ref's digest."""
        digest = ref.get("digest")
        if ref.get("inline") is not None:
            data = base64.b64decode(ref["inline"])
            if digest and "sha256:" + hashlib.sha256(data).hexdigest() != digest:
                raise EdgeError(f"{what}: its inline content does not match its digest {digest}")
            return None, data
        if not isinstance(digest, str):
            raise EdgeError(f"{what}: the locked app gives neither a digest nor inline content")
        path = self.blob_path(digest)
        if not path.is_file():
            raise EdgeError(f"{what}: blob {digest} is not among the artifact's layers")
        return path, None

    def _place_wasm(self, component: dict[str, Any], target: Path) -> str:
        cid = component["id"]
        source = component.get("source") or {}
        content_type = source.get("content_type", WASM_CONTENT_TYPE)
        if content_type != WASM_CONTENT_TYPE:
            raise EdgeError(f"component {cid!r}: unsupported source type {content_type!r}")
        path, data = self._content(source, f"component {cid!r}")
        if path is not None:
            _link_or_copy(path, target)
            digest = source["digest"]
            if _digest_of(target) != digest:
                raise EdgeError(f"component {cid!r}: the cached blob {digest} was changed on disk")
        else:
            assert data is not None
            target.write_bytes(data)
        return target.name

    def _place_files(self, component: dict[str, Any], directory: Path, cid: str) -> str:
        for entry in component["files"]:
            guest = PurePosixPath(str(entry.get("path", "")))
            if guest.is_absolute() or any(part in ("..", ".") for part in guest.parts):
                raise EdgeError(f"component {cid!r}: unsafe file path {str(guest)!r}")
            if not guest.parts:
                raise EdgeError(f"component {cid!r}: a file without a path")
            target = directory.joinpath(*guest.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            path, data = self._content(entry, f"component {cid!r}, file {str(guest)!r}")
            if path is not None:
                _link_or_copy(path, target)
            else:
                assert data is not None
                target.write_bytes(data)
        return f"files/{cid}"


def _digest_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def parse_manifest(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EdgeError("the registry's manifest is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("layers"), list):
        media = document.get("mediaType") if isinstance(document, dict) else None
        if media and "index" in media or media and "list" in media:
            raise EdgeError(f"the reference names an image index ({media}), not a Spin application")
        raise EdgeError("the registry's manifest is not an OCI image manifest")
    media_type = document.get("mediaType", OCI_MANIFEST_MEDIA_TYPE)
    if media_type not in (
        OCI_MANIFEST_MEDIA_TYPE,
        "application/vnd.docker.distribution.manifest.v2+json",
    ):
        raise EdgeError(f"unsupported manifest type {media_type!r}")
    return document


def needed_blobs(document: dict[str, Any]) -> list[str]:
    """The digests of the layers, and of the config when it is the locked app (old Spin)."""
    digests = [layer["digest"] for layer in document["layers"] if isinstance(layer, dict)]
    config = document.get("config") or {}
    if config.get("mediaType") == SPIN_APPLICATION_MEDIA_TYPE:
        digests.append(config["digest"])
    return list(dict.fromkeys(d for d in digests if isinstance(d, str)))


def locked_app_digest(document: dict[str, Any]) -> str:
    """Where the locked app is: a layer of Spin's media type (Spin 2 and later), else the
    config (older Spin pushed it there)."""
    for layer in document["layers"]:
        if isinstance(layer, dict) and layer.get("mediaType") == SPIN_APPLICATION_MEDIA_TYPE:
            return str(layer["digest"])
    config = document.get("config") or {}
    if config.get("mediaType") == SPIN_APPLICATION_MEDIA_TYPE:
        return str(config["digest"])
    raise EdgeError(
        "the artifact is not a Spin application: it has no layer of type "
        f"{SPIN_APPLICATION_MEDIA_TYPE} (a bare component is not supported by edge up)"
    )


def _load_locked(data: bytes) -> dict[str, Any]:
    try:
        locked = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise EdgeError("the artifact's locked app is not JSON") from None
    if not isinstance(locked, dict) or "spin_lock_version" not in locked:
        raise EdgeError("the artifact's locked app has no spin_lock_version")
    unknown = set(locked.get("must_understand", [])) - _KNOWN_MUST_UNDERSTAND
    requirements = set(locked.get("host_requirements", {}))
    for component in locked.get("components", []):
        requirements |= {
            k for k, v in component.get("host_requirements", {}).items() if v != "optional"
        }
    unknown |= requirements - _KNOWN_HOST_REQUIREMENTS
    if unknown:
        raise EdgeError(
            "the app requires features edge does not have: " + ", ".join(sorted(unknown))
        )
    for component in locked.get("components", []):
        if component.get("dependencies") or component.get("trigger_dependencies"):
            raise EdgeError(
                f"component {component.get('id')!r} has component dependencies, which edge "
                "does not compose"
            )
    if not isinstance(locked.get("components"), list) or not isinstance(
        locked.get("triggers"), list
    ):
        raise EdgeError("the artifact's locked app has no components or triggers")
    return locked


def _component_id(component: dict[str, Any]) -> str:
    cid = component.get("id")
    if not isinstance(cid, str) or not cid or "/" in cid or cid.startswith("."):
        raise EdgeError(f"the locked app has a component with the id {cid!r}")
    return cid


# --- the locked app as spin.toml ------------------------------------------------


def manifest_toml(
    locked: dict[str, Any], sources: dict[str, str], mounts: dict[str, str], origin: str
) -> str:
    """A version 2 Spin manifest that `load` reads back into the locked app's app."""
    meta = locked.get("metadata", {})
    name = meta.get("name")
    if not isinstance(name, str):
        raise EdgeError("the artifact's locked app has no application name")
    lines = [
        f"# {origin}",
        "# The locked app of this OCI artifact, written back as a Spin manifest by `edge up`.",
        "spin_manifest_version = 2",
        "",
        toml.table_header("application"),
        toml.pair("name", name),
    ]
    for key in ("version", "description"):
        if isinstance(meta.get(key), str) and meta[key]:
            lines.append(toml.pair(key, meta[key]))
    if meta.get("authors"):
        lines.append(toml.pair("authors", list(meta["authors"])))
    for kind, config in (meta.get("triggers") or {}).items():
        if isinstance(config, dict) and config:
            lines += ["", toml.table_header("application", "trigger", kind)]
            lines += [toml.pair(k, v) for k, v in config.items() if v is not None]
    variables = locked.get("variables") or {}
    if variables:
        lines += ["", toml.table_header("variables")]
        for var, decl in variables.items():
            spec: dict[str, Any] = {}
            if decl.get("default") is not None:
                spec["default"] = decl["default"]
            else:
                spec["required"] = True
            if decl.get("secret"):
                spec["secret"] = True
            if decl.get("description"):
                spec["description"] = decl["description"]
            lines.append(toml.pair(var, spec))
    for trigger in locked["triggers"]:
        lines += ["", toml.table_header("trigger", trigger["trigger_type"], array=True)]
        if trigger.get("id"):
            lines.append(toml.pair("id", trigger["id"]))
        config = trigger.get("trigger_config") or {}
        lines += [toml.pair(k, v) for k, v in config.items() if v is not None and k != "id"]
    for component in locked["components"]:
        cid = component["id"]
        cmeta = component.get("metadata") or {}
        lines += ["", toml.table_header("component", cid), toml.pair("source", sources[cid])]
        if cmeta.get("description"):
            lines.append(toml.pair("description", cmeta["description"]))
        for key, field in (
            ("allowed_outbound_hosts", "allowed_outbound_hosts"),
            ("key_value_stores", "key_value_stores"),
            ("sqlite_databases", "databases"),
            ("ai_models", "ai_models"),
        ):
            if cmeta.get(field):
                lines.append(toml.pair(key, list(cmeta[field])))
        if cid in mounts:
            lines.append(toml.pair("files", [{"source": mounts[cid], "destination": "/"}]))
        for section, field in (("variables", "config"), ("environment", "env")):
            if component.get(field):
                lines += ["", toml.table_header("component", cid, section)]
                lines += [toml.pair(k, v) for k, v in component[field].items()]
    return "\n".join(lines) + "\n"
