"""The built components against Spin's contract, compiled as `edge up` compiles them."""

from __future__ import annotations

from ..app.model import Manifest
from ..build.contract import ContractReport, check_contract, trigger_kinds
from ..errors import EdgeError
from ..wasm.engine import WasmEngine


class ContractError(EdgeError):
    """A component that Spin would refuse; the message gives each reason."""

    def __init__(self, reports: list[ContractReport]) -> None:
        self.reports = reports
        reasons = [reason for report in reports for reason in report.reasons()]
        super().__init__(
            "refusing to deploy: the app would fail on Spin:\n"
            + "\n".join(f"  - {reason}" for reason in reasons)
        )


def check_components(manifest: Manifest, engine: WasmEngine | None = None) -> list[ContractReport]:
    """Each component's report: its compiled imports and exports against what Spin
    links and what its triggers call (compiles are cached on disk, as for `edge up`).
    The engine is closed afterwards."""
    wasm = engine or WasmEngine()
    try:
        kinds = trigger_kinds(manifest)
        reports = []
        for cid, spec in manifest.components.items():
            component = wasm.load(spec.source)
            imports = component.type.imports(wasm.engine)
            exports = component.type.exports(wasm.engine)
            reports.append(check_contract(cid, imports, exports, kinds.get(cid, set())))
        return reports
    finally:
        wasm.close()


def refuse_failing(reports: list[ContractReport]) -> None:
    """ContractError if any component would fail on Spin."""
    failing = [report for report in reports if not report.ok]
    if failing:
        raise ContractError(failing)
