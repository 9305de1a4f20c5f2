"""OCI references (`REGISTRY/NAME[:TAG][@sha256:HEX]`) as `edge push` and `edge up -f` read them.

The grammar is the distribution project's: a registry (a host with a `.` or a
port, or `localhost`), a repository of lower-case path components, then a tag,
a digest or both (the digest wins when pulling). Unlike Docker, edge wants the
registry written out: `examples/todo` must stay a path.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgeError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)
DEFAULT_TAG = "latest"


class InvalidReference(EdgeError):
    """Text that is not an OCI reference edge can push to or pull from."""


@dataclass(frozen=True)
class Reference:
    registry: str  # host[:port], as written
    repository: str
    tag: str | None = None
    digest: str | None = None  # "sha256:<hex>"

    @classmethod
    def parse(cls, text: str) -> Reference:
        original = text
        text = text.strip()
        digest = None
        if "@" in text:
            text, _, digest = text.partition("@")
            if not _DIGEST.fullmatch(digest):
                raise InvalidReference(
                    f"{original!r}: the digest must be sha256: and 64 hex digits, not {digest!r}"
                )
        registry, slash, rest = text.partition("/")
        if not slash or not _is_registry(registry):
            raise InvalidReference(
                f"{original!r} names no registry: write REGISTRY/NAME:TAG, "
                "e.g. 127.0.0.1:5000/my-app:v1 or ghcr.io/me/my-app:v1"
            )
        tag = None
        last_slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > last_slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not _TAG.fullmatch(tag):
                raise InvalidReference(f"{original!r}: {tag!r} is not a valid tag")
        if not _REPOSITORY.fullmatch(rest):
            raise InvalidReference(
                f"{original!r}: {rest!r} is not a repository name (lower-case letters, "
                "digits and separators . _ - between them, components joined by /)"
            )
        return cls(registry, rest, tag, digest)

    @property
    def host(self) -> str:
        """The registry's host, without port or brackets."""
        host = self.registry
        if host.startswith("["):
            return host[1 : host.index("]")]
        return host.rpartition(":")[0] if ":" in host else host

    @property
    def is_loopback(self) -> bool:
        host = self.host.lower()
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def target(self) -> str:
        """What the manifest URL ends with: the digest if known, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def _is_registry(text: str) -> bool:
    if not _HOST.fullmatch(text):
        return False
    return "." in text or ":" in text or text == "localhost" or text.startswith("[")


def looks_like_reference(text: str | Path) -> bool:
    """Whether `edge up -f TEXT` means a registry: not an existing file or directory,
    and a reference with its registry and a tag or a digest."""
    if Path(text).exists():
        return False
    try:
        ref = Reference.parse(str(text))
    except InvalidReference:
        return False
    return ref.tag is not None or ref.digest is not None
