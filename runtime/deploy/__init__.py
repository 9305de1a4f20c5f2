"""`edge deploy`: the built app to its targets (SpinKube clusters per region, Spin's clouds).

`config` reads the deploy file (`edge-deploy.toml`, never `spin.toml`);
`check` holds each compiled component against Spin's contract; `values`
resolves each region's variables, secrets and database tokens from the
environment; `kubernetes` renders a region's SpinApp and Secrets, `schema`
checks them against `spinkube.schema.json`, `kubectl` applies them; `plugins`
hands the app to a Spin CLI plugin (`spin cloud deploy`, `spin aka deploy`);
`record` keeps what the last deploy sent, without secret values, and says what
changed; `plan` is what `--plan` prints; `run` puts them in order.
"""
