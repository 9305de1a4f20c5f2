"""A small component that lets Python call wasmtime's own wasi:http functions.

The host filters outbound HTTP by defining `wasi:http/outgoing-handler.handle`
itself (`runtime.wasm.bindings.http`), yet the request stays wasmtime's native
resource, and Python cannot call native functions on it. This component
imports those functions and exports them again: one instance of it in the
guest's store reads the request's target, rewrites it (self requests,
service chaining), bounds its timeouts and finally hands it to the native
`handle`. The component model does not let an export re-export an import, so
each function is lowered into a core trampoline and lifted back out; the
trampoline drops every borrowed handle before returning, as the canonical ABI
requires. Compiled once per engine (~15 ms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wasmtime import component as wc

from . import convert

TYPES = "wasi:http/types@0.2.0"
HANDLER = "wasi:http/outgoing-handler@0.2.0"

_ERROR_CASES = """
 (case "DNS-timeout") (case "DNS-error" $dns) (case "destination-not-found")
 (case "destination-unavailable") (case "destination-IP-prohibited")
 (case "destination-IP-unroutable") (case "connection-refused") (case "connection-terminated")
 (case "connection-timeout") (case "connection-read-timeout") (case "connection-write-timeout")
 (case "connection-limit-reached") (case "TLS-protocol-error") (case "TLS-certificate-error")
 (case "TLS-alert-received" $tls) (case "HTTP-request-denied")
 (case "HTTP-request-length-required") (case "HTTP-request-body-size" (option u64))
 (case "HTTP-request-method-invalid") (case "HTTP-request-URI-invalid")
 (case "HTTP-request-URI-too-long") (case "HTTP-request-header-section-size" (option u32))
 (case "HTTP-request-header-size" (option $fs))
 (case "HTTP-request-trailer-section-size" (option u32))
 (case "HTTP-request-trailer-size" $fs) (case "HTTP-response-incomplete")
 (case "HTTP-response-header-section-size" (option u32)) (case "HTTP-response-header-size" $fs)
 (case "HTTP-response-body-size" (option u64))
 (case "HTTP-response-trailer-section-size" (option u32)) (case "HTTP-response-trailer-size" $fs)
 (case "HTTP-response-transfer-coding" (option string))
 (case "HTTP-response-content-coding" (option string)) (case "HTTP-response-timeout")
 (case "HTTP-upgrade-failed") (case "HTTP-protocol-error") (case "loop-detected")
 (case "configuration-error") (case "internal-error" (option string))
"""

# (export name, imported function, its WIT type, how its core function looks):
# "get" returns through a pointer, "set" takes flat parameters and returns an i32.
_TIMEOUTS = ("connect-timeout", "first-byte-timeout", "between-bytes-timeout")
_FUNCTIONS: list[tuple[str, str, str, str]] = (
    [
        (
            "method",
            "[method]outgoing-request.method",
            '(param "self" (borrow $req)) (result $m)',
            "get req",
        ),
        (
            "scheme",
            "[method]outgoing-request.scheme",
            '(param "self" (borrow $req)) (result (option $s))',
            "get req",
        ),
        (
            "authority",
            "[method]outgoing-request.authority",
            '(param "self" (borrow $req)) (result (option string))',
            "get req",
        ),
        (
            "path-with-query",
            "[method]outgoing-request.path-with-query",
            '(param "self" (borrow $req)) (result (option string))',
            "get req",
        ),
        (
            "set-scheme",
            "[method]outgoing-request.set-scheme",
            '(param "self" (borrow $req)) (param "scheme" (option $s)) (result (result))',
            "set req i32 i32 i32 i32",
        ),
        (
            "set-authority",
            "[method]outgoing-request.set-authority",
            '(param "self" (borrow $req)) (param "authority" (option string)) (result (result))',
            "set req i32 i32 i32",
        ),
        (
            "set-path-with-query",
            "[method]outgoing-request.set-path-with-query",
            '(param "self" (borrow $req)) (param "path-with-query" (option string))'
            " (result (result))",
            "set req i32 i32 i32",
        ),
    ]
    + [
        (
            name,
            f"[method]request-options.{name}",
            '(param "self" (borrow $opts)) (result (option u64))',
            "get opts",
        )
        for name in _TIMEOUTS
    ]
    + [
        (
            f"set-{name}",
            f"[method]request-options.set-{name}",
            '(param "self" (borrow $opts)) (param "duration" (option u64)) (result (result))',
            "set opts i32 i64",
        )
        for name in _TIMEOUTS
    ]
)


def _wat() -> str:
    imports, lowers, core_imports, core_funcs, lifts = [], [], [], [], []
    for i, (export, imported, wit, shape) in enumerate(_FUNCTIONS):
        kind, resource, *extra = shape.split()
        imports.append(f'    (export "{imported}" (func {wit}))')
        lowers.append(
            f'  (alias export $types "{imported}" (func $f{i}))\n'
            f"  (core func $l{i} (canon lower (func $f{i}) (memory $memory) (realloc $realloc)"
            " string-encoding=utf8))"
        )
        drop = f"call $drop-{resource}"
        if kind == "get":
            core_imports.append(f'    (import "h" "f{i}" (func $f{i} (param i32 i32)))')
            core_funcs.append(
                f'    (func (export "f{i}") (param i32) (result i32)\n'
                f"      (call $f{i} (local.get 0) (i32.const 8)) ({drop} (local.get 0))"
                " (i32.const 8))"
            )
            lift_opts = "(memory $memory) string-encoding=utf8 (post-return $reset)"
        else:
            params = " ".join(["i32", *extra])
            args = " ".join(f"(local.get {n})" for n in range(1 + len(extra)))
            core_imports.append(
                f'    (import "h" "f{i}" (func $f{i} (param {params}) (result i32)))'
            )
            core_funcs.append(
                f'    (func (export "f{i}") (param {params}) (result i32) (local $r i32)\n'
                f"      (local.set $r (call $f{i} {args})) ({drop} (local.get 0))"
                " (local.get $r))"
            )
            lift_opts = (
                "(memory $memory) (realloc $realloc) string-encoding=utf8 (post-return $reset)"
            )
        lifts.append(
            f"  (type $t{i} (func {wit}))\n"
            f'  (func $x{i} (type $t{i}) (canon lift (core func $t "f{i}") {lift_opts}))\n'
            f'  (export "{export}" (func $x{i}))'
        )
    with_h = " ".join(f'(export "f{i}" (func $l{i}))' for i in range(len(_FUNCTIONS)))
    return f"""
(component
  (import "{TYPES}" (instance $types
    (export "outgoing-request" (type $req (sub resource)))
    (export "request-options" (type $opts (sub resource)))
    (export "future-incoming-response" (type $fut (sub resource)))
    (type $dns0 (record (field "rcode" (option string)) (field "info-code" (option u16))))
    (export "DNS-error-payload" (type $dns (eq $dns0)))
    (type $tls0 (record (field "alert-id" (option u8)) (field "alert-message" (option string))))
    (export "TLS-alert-received-payload" (type $tls (eq $tls0)))
    (type $fs0 (record (field "field-name" (option string)) (field "field-size" (option u32))))
    (export "field-size-payload" (type $fs (eq $fs0)))
    (type $ec0 (variant {_ERROR_CASES}))
    (export "error-code" (type $ec (eq $ec0)))
    (type $m0 (variant (case "get") (case "head") (case "post") (case "put") (case "delete")
      (case "connect") (case "options") (case "trace") (case "patch") (case "other" string)))
    (export "method" (type $m (eq $m0)))
    (type $s0 (variant (case "HTTP") (case "HTTPS") (case "other" string)))
    (export "scheme" (type $s (eq $s0)))
    (export "[constructor]request-options" (func (result (own $opts))))
{chr(10).join(imports)}
  ))
  (alias export $types "outgoing-request" (type $req))
  (alias export $types "request-options" (type $opts))
  (alias export $types "future-incoming-response" (type $fut))
  (alias export $types "error-code" (type $ec))
  (alias export $types "method" (type $m))
  (alias export $types "scheme" (type $s))
  (import "{HANDLER}" (instance $handler
    (export "outgoing-request" (type $r (eq $req)))
    (export "request-options" (type $o (eq $opts)))
    (export "future-incoming-response" (type $f (eq $fut)))
    (export "error-code" (type $e (eq $ec)))
    (export "handle" (func (param "request" (own $r)) (param "options" (option (own $o)))
      (result (result (own $f) (error $e)))))
  ))
  (core module $Memory
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    ;; A bump allocator, emptied after each call (post-return): the helper keeps nothing.
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $p) (local.get 3)))
      (block $fits
        (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
        (drop (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $next)
          (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1)))))
      (local.get $p))
    (func (export "reset") (param i32) (global.set $next (i32.const 1024)))
  )
  (core instance $mem (instantiate $Memory))
  (alias core export $mem "memory" (core memory $memory))
  (alias core export $mem "realloc" (core func $realloc))
  (alias core export $mem "reset" (core func $reset))
{chr(10).join(lowers)}
  (alias export $handler "handle" (func $handle))
  (core func $l-handle (canon lower (func $handle) (memory $memory) (realloc $realloc)
    string-encoding=utf8))
  (alias export $types "[constructor]request-options" (func $new-options))
  (core func $l-new-options (canon lower (func $new-options)))
  (core func $drop-req-f (canon resource.drop $req))
  (core func $drop-opts-f (canon resource.drop $opts))
  (core module $Trampolines
    (import "h" "drop-req" (func $drop-req (param i32)))
    (import "h" "drop-opts" (func $drop-opts (param i32)))
    (import "h" "handle" (func $handle (param i32 i32 i32 i32)))
    (import "h" "new-options" (func $new-options (result i32)))
{chr(10).join(core_imports)}
{chr(10).join(core_funcs)}
    (func (export "handle") (param i32 i32 i32) (result i32)
      (call $handle (local.get 0) (local.get 1) (local.get 2) (i32.const 8)) (i32.const 8))
    (func (export "new-options") (result i32) (call $new-options))
  )
  (core instance $t (instantiate $Trampolines (with "h" (instance
    (export "drop-req" (func $drop-req-f)) (export "drop-opts" (func $drop-opts-f))
    (export "handle" (func $l-handle)) (export "new-options" (func $l-new-options))
    {with_h}))))
{chr(10).join(lifts)}
  (type $t-handle (func (param "request" (own $req)) (param "options" (option (own $opts)))
    (result (result (own $fut) (error $ec)))))
  (func $x-handle (type $t-handle) (canon lift (core func $t "handle") (memory $memory)
    string-encoding=utf8 (post-return $reset)))
  (export "handle" (func $x-handle))
  (type $t-new-options (func (result (own $opts))))
  (func $x-new-options (type $t-new-options) (canon lift (core func $t "new-options")))
  (export "new-options" (func $x-new-options))
)
"""


WAT = _wat()
EXPORTS = tuple(name for name, *_ in _FUNCTIONS) + ("handle", "new-options")


@dataclass(frozen=True)
class Helper:
    """The compiled helper and the linker it is instantiated with: the native
    wasi:http one, without the host's shadowing `handle`."""

    linker: wc.Linker
    component: wc.Component
    # Each export's types, taken from the first instance (asking wasmtime-py
    # for them on every call costs more than most of these calls do).
    signatures: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_engine(cls, engine: Any) -> Helper:
        linker = wc.Linker(engine)
        linker.add_wasip2()
        linker.add_wasi_http()
        return cls(linker, wc.Component(engine, WAT))


@dataclass
class NativeHttp:
    """The helper's exports in one store: wasmtime's wasi:http functions, callable from Python."""

    store: Any
    funcs: dict[str, wc.Func]
    signatures: dict[str, Any]

    @classmethod
    def instantiate(cls, helper: Helper, store: Any) -> NativeHttp:
        instance = helper.linker.instantiate(store, helper.component)
        funcs = {}
        for name in EXPORTS:
            index = instance.get_export_index(store, name)
            func = instance.get_func(store, index) if index else None
            assert func is not None, f"the wasi:http helper lacks {name}"
            funcs[name] = func
            if name not in helper.signatures:
                helper.signatures[name] = convert.signature(func, store)
        return cls(store, funcs, helper.signatures)

    def call(self, name: str, *args: Any) -> Any:
        func = self.funcs[name]
        result = convert.call(func, self.store, self.signatures[name], *args)
        func.post_return(self.store)
        return result
