"""Reading a request body with a size limit, for the app server and the Hrana endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterable

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body passed `limit`; `drained` says whether it was read to its end all the same."""

    def __init__(self, limit: int, *, drained: bool) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit
        self.drained = drained  # if so, the connection can carry another request


async def read_body(request: Request, limit: int) -> bytes:
    """The body of a starlette request, up to `limit` bytes; a larger one is BodyTooLarge."""
    declared = declared_length(request.headers.get("content-length"))
    return await read_limited(request.stream(), declared, limit)


def declared_length(header: str | None) -> int | None:
    """A content-length header's value; None if there is none or it is not a number."""
    return int(header) if header is not None and header.isdigit() else None


async def read_limited(chunks: AsyncIterable[bytes], declared: int | None, limit: int) -> bytes:
    """The body from `chunks`, up to `limit` bytes; a larger one is BodyTooLarge.

    `declared` is the request's content-length, if it has one. Past the limit
    the body is still read (not kept) up to as much again: a server that
    answers and closes with unread data in the socket makes the kernel reset
    the connection, and the client may never see its answer.
    """
    drain_until = 2 * limit + 65536
    if declared is not None and declared > drain_until:
        raise BodyTooLarge(limit, drained=False)
    body = bytearray()
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > drain_until:
            raise BodyTooLarge(limit, drained=False)
        if received <= limit:
            body += chunk
    if received > limit:
        raise BodyTooLarge(limit, drained=True)
    return bytes(body)
