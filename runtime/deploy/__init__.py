"""Deploying the built app: to an OCI registry, SpinKube clusters per region, Spin's clouds.

`oci` (with `oci_*` beside it) packages the app as Spin's OCI artifact and
pushes and pulls it (`edge push`, `edge up -f REF`). `config` reads the deploy
file (`edge-deploy.toml`, never `spin.toml`); `check` holds each compiled
component against Spin's contract; `values` resolves each region's variables,
secrets and database tokens from the environment; `kubernetes` renders a
region's SpinApp and Secrets, `schema` checks them against
`spinkube.schema.json`, `kubectl` applies them; `plugins` hands the app to a
Spin CLI plugin (`spin cloud deploy`, `spin aka deploy`); `record` keeps what
the last deploy sent, without secret values, and says what changed; `plan` is
what `--plan` prints; `run` puts them in order.
"""
