"""The exports of the triggers an app registered; imported only inside the component.

`edge componentize` imports `InboundRedis` from here when the app has a
`@redis_component`, and `WitWorld` when it has a `@cron_component`: each name
exists only in a world that exports its interface.
"""

from __future__ import annotations

import wit_world.exports  # type: ignore[import-not-found]
from componentize_py_types import Err  # type: ignore[import-not-found]

from . import triggers

if hasattr(wit_world.exports, "InboundRedis"):
    from wit_world.imports import redis_types  # type: ignore[import-not-found]

    class InboundRedis(wit_world.exports.InboundRedis):  # type: ignore[misc]
        """Spin's Redis trigger calls this for each message of a subscribed channel."""

        def handle_message(self, message: bytes) -> None:
            if triggers.run_message(message) is not None:
                raise Err(redis_types.Error.ERROR)


try:
    # Only a world that exports the cron handler has its types: componentize-py
    # makes a WitWorld for the Redis-only world too, so that alone tells nothing.
    from wit_world.imports import cron_types  # type: ignore[import-not-found]
except ImportError:
    cron_types = None

if cron_types is not None and hasattr(wit_world, "WitWorld"):

    class WitWorld(wit_world.WitWorld):  # type: ignore[misc]
        """The cron plugin calls `handle-cron-event`, at the top of the world."""

        def handle_cron_event(self, metadata: cron_types.Metadata) -> None:
            error = triggers.run_cron(metadata.timestamp)
            if error is not None:
                raise Err(cron_types.Error_Other(error))
