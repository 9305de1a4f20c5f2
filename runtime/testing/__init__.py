"""Testing edge apps in process: the Emulator, recorded histories and their checkers,
and the pytest plugin."""

from .emulator import Client, Emulator, TestResponse
from .triggers import TriggerRecord

__all__ = ["Client", "Emulator", "TestResponse", "TriggerRecord"]
