"""Testing edge apps in process: the Emulator, recorded histories and their checkers,
and the pytest plugin."""

from .client import Client, TestResponse
from .emulator import Emulator
from .triggers import TriggerRecord

__all__ = ["Client", "Emulator", "TestResponse", "TriggerRecord"]
