"""Testing edge apps in process: the Emulator, recorded histories and their checkers,
and the pytest plugin."""

from .emulator import Client, Emulator, TestResponse

__all__ = ["Client", "Emulator", "TestResponse"]
