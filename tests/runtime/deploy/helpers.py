"""A three-region app and its deploy file, shared by the deploy tests."""

from __future__ import annotations

from pathlib import Path

from runtime.app.manifest import loads
from runtime.app.model import Manifest
from runtime.deploy.config import DeployFile, parse_deploy_file

TOKEN = "tok-never-in-a-file-7f3a9c"
API_KEY = "key-never-in-a-file-41b2e8"
KV_PASSWORD = "pw-never/in a file-55"
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"ghcr.io/acme/notes@{DIGEST}"

MANIFEST = """\
spin_manifest_version = 2

[application]
name = "notes"
version = "0.1.0"

[variables]
greeting = { default = "hello" }
region_name = { required = true }
api_key = { required = true, secret = true }

[[trigger.http]]
route = "/..."
component = "notes"

[component.notes]
source = "notes.wasm"
key_value_stores = ["default"]
sqlite_databases = ["default"]

[component.notes.variables]
greeting = "{{ greeting }}"
region_name = "{{ region_name }}"
api_key = "{{ api_key }}"
"""

DEPLOY = """\
app = "notes"
primary_region = "us-east"

[variables]
greeting = "hello"

[databases.default]
url = "https://notes-acme.turso.io"
replicas = { eu-west = "https://notes-acme-eu-west.turso.io" }

[key_value.default]
type = "redis"
url = "redis://kv-us.example.com:6379"
regions = { eu-west = "redis://kv-eu.example.com:6379" }

[regions.us-east]
context = "gke-us-east"
namespace = "edge"
replicas = 3
resources = { limits = { cpu = "500m", memory = "256Mi" }, requests = { cpu = "100m" } }
variables = { region_name = "us-east" }

[regions.eu-west]
context = "gke-eu-west"
namespace = "edge"
autoscaling = { min = 2, max = 10, cpu_percent = 70 }
resources = { requests = { cpu = "250m", memory = "128Mi" } }

[regions.eu-west.variables]
greeting = "bonjour"
region_name = "eu-west"

[regions.ap-south]
context = "aks-ap-south"
autoscaling = true
variables = { region_name = "ap-south" }
"""

ENV = {
    "EDGE_SQL_TOKEN_DEFAULT": TOKEN,
    "SPIN_VARIABLE_API_KEY": API_KEY,
    "EDGE_KV_PASSWORD_DEFAULT": KV_PASSWORD,
}


def manifest(root: Path = Path("/app"), text: str = MANIFEST) -> Manifest:
    return loads(text, root / "spin.toml")


def deploy_file(text: str = DEPLOY, app: Manifest | None = None) -> DeployFile:
    return parse_deploy_file(text, Path("/app/edge-deploy.toml"), app or manifest())
