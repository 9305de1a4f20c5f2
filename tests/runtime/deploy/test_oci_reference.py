"""OCI references as `edge push` and `edge up -f` read them."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.deploy.oci_reference import InvalidReference, Reference, looks_like_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("127.0.0.1:5000/app:v1", "127.0.0.1:5000", "app", "v1", None),
        ("localhost/app", "localhost", "app", None, None),
        ("ghcr.io/me/my-app:1.0.0", "ghcr.io", "me/my-app", "1.0.0", None),
        (f"ghcr.io/me/app@{DIGEST}", "ghcr.io", "me/app", None, DIGEST),
        (f"ghcr.io/me/app:v2@{DIGEST}", "ghcr.io", "me/app", "v2", DIGEST),
        ("[::1]:5000/a/b_c.d:x", "[::1]:5000", "a/b_c.d", "x", None),
    ],
)
def test_parse(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("my-app:v1", "names no registry"),
        ("examples/todo", "names no registry"),
        ("ghcr.io/Me/app:v1", "not a repository name"),
        ("ghcr.io/me/app:", "not a valid tag"),
        ("ghcr.io/me/app@sha256:12", "64 hex digits"),
        ("ghcr.io/me/app@md5:" + "a" * 32, "sha256"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidReference, match=message):
        Reference.parse(text)


@pytest.mark.parametrize(
    ("text", "loopback"),
    [
        ("127.0.0.1:5000/a:v", True),
        ("127.0.0.2/a:v", True),
        ("localhost:5000/a:v", True),
        ("registry.localhost/a:v", True),
        ("[::1]:5000/a:v", True),
        ("ghcr.io/a:v", False),
        ("10.0.0.1:5000/a:v", False),
    ],
)
def test_loopback(text: str, loopback: bool) -> None:
    assert Reference.parse(text).is_loopback is loopback


def test_what_edge_up_takes_for_a_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert looks_like_reference("127.0.0.1:5000/app:v1")
    assert looks_like_reference(f"ghcr.io/me/app@{DIGEST}")
    assert not looks_like_reference("ghcr.io/me/app")  # neither tag nor digest
    assert not looks_like_reference("spin.toml")
    assert not looks_like_reference("examples/todo/spin.toml")
    Path("localhost:5000").mkdir()
    Path("localhost:5000/app:v1").write_text("")  # an existing file wins
    assert not looks_like_reference("localhost:5000/app:v1")
