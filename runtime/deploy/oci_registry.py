"""The OCI distribution API of one repository, on oras-py's registry client.

oras-py does the HTTP session and the registry's authentication dance (Bearer
tokens from the `WWW-Authenticate` challenge, Basic credentials, the Docker
config's `auths`, `credHelpers` and `credsStore`); the requests themselves are
the distribution spec's few, written here so that edge controls the exact
bytes of the manifest (its digest is the artifact's identity) and checks every
digest it downloads.

Plain HTTP is used for loopback registries (127.0.0.1, ::1, localhost) unless
told otherwise, TLS for every other. Credentials come from
`EDGE_REGISTRY_USERNAME` / `EDGE_REGISTRY_PASSWORD`, else from the Docker
config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`); they are never
logged or shown in an error.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import oras.auth
import oras.container
import oras.provider
import requests

from ..errors import EdgeError
from .oci_reference import Reference

log = logging.getLogger("edge.oci")

USERNAME_ENV = "EDGE_REGISTRY_USERNAME"
PASSWORD_ENV = "EDGE_REGISTRY_PASSWORD"
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 120.0
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the distribution registry's own limit
_CHUNK = 1 << 20

# oras-py retries a failed request five times, sleeping up to 83 s between tries;
# edge reports the failure at once instead (the registry's answer says why).
_do_request = getattr(
    oras.provider.Registry.do_request, "__wrapped__", oras.provider.Registry.do_request
)


class RegistryClient:
    """One repository of one registry: `ref.registry`/`ref.repository`."""

    def __init__(self, ref: Reference, *, insecure: bool | None = None) -> None:
        self.ref = ref
        plain = ref.is_loopback if insecure is None else insecure
        self.scheme = "http" if plain else "https"
        self.base = f"{self.scheme}://{ref.registry}"
        self._oras = oras.provider.Registry(hostname=ref.registry, insecure=plain)
        session = self._oras.session
        session.request = functools.partial(  # type: ignore[method-assign]
            session.request, timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
        )
        self._basic = False
        challenge = self._probe()
        if challenge == "basic":
            self._oras.auth = oras.auth.get_auth_backend("basic", session, plain, tls_verify=True)
            self._basic = True
        has_credentials = self._load_credentials()
        if self._basic and not has_credentials:
            raise EdgeError(
                f"the registry {ref.registry} asks for a user name and password: set "
                f"{USERNAME_ENV} and {PASSWORD_ENV}, or log in with `docker login {ref.registry}`"
            )

    # --- the requests -------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        response = self._call("HEAD", self._path("blobs", digest), ok=(200, 404))
        return response.status_code == 200

    def put_blob(self, data: bytes, digest: str) -> None:
        """A monolithic upload: POST a session, PUT the bytes with their digest."""
        started = self._call("POST", self._path("blobs", "uploads/"), ok=(202,))
        location = started.headers.get("location")
        if not location:
            raise EdgeError(
                f"the registry {self.ref.registry} started an upload without a Location"
            )
        url = urllib.parse.urljoin(self.base + "/", location)
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + [("digest", digest)]
        url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        headers = {"content-type": "application/octet-stream", "content-length": str(len(data))}
        self._call("PUT", url, data=data, headers=headers, ok=(201,), what=f"blob {digest}")

    def put_manifest(self, target: str, body: bytes, media_type: str) -> str:
        """PUT the manifest under a tag or digest; the digest the registry gives it."""
        response = self._call(
            "PUT",
            self._path("manifests", target),
            data=body,
            headers={"content-type": media_type},
            ok=(201,),
            what="the manifest",
        )
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        answered = response.headers.get("docker-content-digest", computed)
        if answered != computed:
            raise EdgeError(
                f"the registry {self.ref.registry} stored the manifest as {answered}, "
                f"but its bytes hash to {computed}"
            )
        return computed

    def get_manifest(self, target: str) -> tuple[bytes, str]:
        """The manifest's bytes and their digest (checked against `target` if it is one)."""
        response = self._call(
            "GET",
            self._path("manifests", target),
            headers={"accept": ", ".join(MANIFEST_MEDIA_TYPES)},
            ok=(200,),
            what=f"{self.ref.name}:{target}" if ":" not in target else f"{self.ref.name}@{target}",
        )
        body = response.content
        if len(body) > MAX_MANIFEST_BYTES:
            raise EdgeError(f"the manifest of {self.ref} is larger than {MAX_MANIFEST_BYTES} bytes")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if target.startswith("sha256:") and digest != target:
            raise EdgeError(
                f"the registry answered {self.ref.name}@{target} with a manifest of {digest}"
            )
        return body, digest

    def fetch_blob(self, digest: str, destination: Path) -> None:
        """Download a blob to `destination` (atomically), checking its digest."""
        response = self._call(
            "GET", self._path("blobs", digest), stream=True, ok=(200,), what=f"blob {digest}"
        )
        partial = destination.with_name(destination.name + f".part-{os.getpid()}")
        hasher = hashlib.sha256()
        try:
            with response, partial.open("wb") as out:
                for chunk in response.iter_content(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
            got = "sha256:" + hasher.hexdigest()
            if got != digest:
                raise EdgeError(
                    f"blob {digest} of {self.ref.name} arrived with the digest {got}: not kept"
                )
            partial.chmod(0o444)  # the cache's copy is read-only: edge up runs it as it is
            os.replace(partial, destination)
        except requests.RequestException as exc:
            raise EdgeError(f"downloading blob {digest} from {self.base} failed: {exc}") from None
        finally:
            partial.unlink(missing_ok=True)

    # --- underneath ---------------------------------------------------------------

    def _path(self, kind: str, last: str) -> str:
        return f"/v2/{self.ref.repository}/{kind}/{last}"

    def _probe(self) -> str | None:
        """GET /v2/: reachable at all, and which authentication it asks for."""
        try:
            response = self._oras.session.get(self.base + "/v2/")
        except requests.exceptions.SSLError as exc:
            raise EdgeError(
                f"TLS with the registry at {self.base} failed ({_reason(exc)}); for a registry "
                "that speaks plain HTTP, pass --insecure"
            ) from None
        except requests.RequestException as exc:
            raise EdgeError(f"cannot reach the registry at {self.base}: {_reason(exc)}") from None
        if response.status_code != 401:
            return None
        scheme = response.headers.get("www-authenticate", "").split(" ", 1)[0].lower()
        return scheme or None

    def _load_credentials(self) -> bool:
        auth = self._oras.auth
        username, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
        if username and password:
            auth.set_basic_auth(username, password)
            return True
        configs: list[str] = []
        if os.environ.get("DOCKER_CONFIG"):
            candidate = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
            if candidate.is_file():
                configs.append(str(candidate))
        # Only the registry part of the container is read.
        container = oras.container.Container("edge", registry=self.ref.registry)
        try:
            auth.load_configs(container, configs=configs)
        except (OSError, ValueError) as exc:
            log.warning("could not read the Docker config for credentials: %s", type(exc).__name__)
            return False
        return bool(getattr(auth, "_basic_auth", None))

    def _call(
        self,
        method: str,
        path_or_url: str,
        *,
        ok: Iterable[int],
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        what: str = "",
    ) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        headers = dict(headers or {})
        if self._basic:
            headers.update(self._oras.auth.get_auth_header())
        try:
            response: requests.Response = _do_request(
                self._oras, url, method, data=data, headers=headers, stream=stream
            )
        except requests.RequestException as exc:
            raise EdgeError(f"{method} {self.base}: {_reason(exc)}") from None
        except ValueError:  # oras: "Cannot respond to request for authentication."
            raise EdgeError(
                f"the registry {self.ref.registry} refused {method} on {self.ref.repository} "
                f"and edge has no credentials it takes: set {USERNAME_ENV} and {PASSWORD_ENV}, "
                f"or `docker login {self.ref.registry}`"
            ) from None
        if response.status_code not in tuple(ok):
            raise EdgeError(self._failure(method, response, what))
        return response

    def _failure(self, method: str, response: requests.Response, what: str) -> str:
        subject = what or self.ref.repository
        status = response.status_code
        messages = _error_messages(response)
        if status in (401, 403):
            hint = f": set {USERNAME_ENV} and {PASSWORD_ENV}, or `docker login {self.ref.registry}`"
            return f"the registry {self.ref.registry} denied {method} of {subject} ({status}){hint}"
        if status == 404:
            return f"{subject} is not in the registry {self.ref.registry}" + (
                f" ({messages})" if messages else ""
            )
        detail = f": {messages}" if messages else ""
        return (
            f"the registry {self.ref.registry} answered {method} of {subject} with {status}{detail}"
        )


def _error_messages(response: requests.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    errors = body.get("errors", []) if isinstance(body, dict) else []
    texts = [str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict)]
    return "; ".join(t for t in texts if t)


def _reason(exc: Exception) -> str:
    """A connection error's cause, without the URL's query (an upload session's token)."""
    text = str(exc)
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.rstrip(")'\"")[:300] or type(exc).__name__
