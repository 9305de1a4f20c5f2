"""--apply: the kubectl command lines it runs, and how it fails without a cluster.

No stand-in kubectl: the command lines are checked as data, and the failures
come from the real kubectl (/usr/bin/kubectl) with a context that does not
exist, or a cluster address that answers nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runtime.deploy.kubectl import KubectlError, apply_regions, find_kubectl, steps
from runtime.deploy.kubernetes import render_region, to_yaml

from .helpers import API_KEY, ENV, IMAGE, TOKEN, deploy_file, manifest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
needs_kubectl = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="needs the real kubectl on PATH"
)


def regions() -> list:  # type: ignore[type-arg]
    deploy = deploy_file()
    return [render_region(manifest(), deploy, name, IMAGE, ENV) for name in deploy.regions]


def test_command_lines_per_region() -> None:
    preflight, apply, wait = steps(regions(), "/opt/k/kubectl", 120)
    contexts = (("gke-us-east", "edge"), ("gke-eu-west", "edge"), ("aks-ap-south", "default"))
    assert [s.argv for s in preflight] == [
        ("/opt/k/kubectl", "--context", ctx, "--namespace", ns, "apply", "--dry-run=server",
         "--request-timeout=30s", "-f", "-")
        for ctx, ns in contexts
    ]  # fmt: skip
    assert all(s.sends_objects for s in preflight + apply)
    assert apply[0].argv == (
        "/opt/k/kubectl", "--context", "gke-us-east", "--namespace", "edge", "apply",
        "--request-timeout=30s", "-f", "-",
    )  # fmt: skip
    assert [s.argv[5:] for s in wait[:2]] == [
        ("wait", "--for=condition=Available", "--timeout=120s", "spinapp/notes"),
        ("rollout", "status", "deployment/notes", "--timeout=120s"),
    ]
    assert len(wait) == 6 and not any(s.sends_objects for s in wait)
    # No secret on any command line: the objects go to kubectl's standard input.
    for step in preflight + apply + wait:
        assert TOKEN not in " ".join(step.argv) and API_KEY not in " ".join(step.argv)


def test_objects_on_stdin_put_secrets_first() -> None:
    region = regions()[0]
    text = to_yaml(region.objects)
    assert text.index("kind: Secret") < text.index("kind: SpinApp")


def test_kubectl_is_configurable(tmp_path: Path) -> None:
    assert find_kubectl(KUBECTL, {}) == KUBECTL
    assert find_kubectl(None, {"EDGE_KUBECTL": KUBECTL}) == KUBECTL
    with pytest.raises(
        KubectlError, match=r"kubectl not found at /nowhere/kubectl \(from --kubectl\)"
    ):
        find_kubectl("/nowhere/kubectl", {})
    with pytest.raises(KubectlError, match="from EDGE_KUBECTL"):
        find_kubectl(None, {"EDGE_KUBECTL": str(tmp_path / "kubectl")})
    with pytest.raises(KubectlError, match="is not on PATH: install kubectl"):
        find_kubectl(None, {"PATH": str(tmp_path)})


@needs_kubectl
def test_apply_fails_clearly_on_a_context_that_does_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    lines: list[str] = []
    with pytest.raises(KubectlError) as info:
        apply_regions(regions(), KUBECTL, lines.append)
    message = str(info.value)
    assert "region 'us-east' (context 'gke-us-east', namespace 'edge')" in message
    assert 'context "gke-us-east" does not exist' in message
    assert "nothing was applied to any region" in message
    # Only the first dry run ran: no apply, no wait.
    assert [line for line in lines if "kubectl" in line] == [
        f"us-east: {KUBECTL} --context gke-us-east --namespace edge apply --dry-run=server "
        "--request-timeout=30s -f -"
    ]
    assert TOKEN not in message + "".join(lines)


@needs_kubectl
def test_apply_fails_clearly_when_the_cluster_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gke-us-east\n"
        "clusters:\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:9\n"
        "contexts:\n- name: gke-us-east\n  context:\n    cluster: nowhere\n    user: me\n"
        "users:\n- name: me\n  user:\n    token: not-a-real-token\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(config))
    with pytest.raises(KubectlError) as info:
        apply_regions(regions()[:1], KUBECTL, lambda line: None)
    message = str(info.value)
    assert "kubectl failed to check the objects against the cluster (dry run)" in message
    assert "127.0.0.1:9" in message
    assert "nothing was applied to any region" in message


def test_edge_deploys_environment_keys_are_no_typos_to_edge_up() -> None:
    from runtime.settings import unknown_edge_keys

    env = {"EDGE_KUBECTL": KUBECTL, "EDGE_KV_PASSWORD_CACHE": "x", "EDGE_KUBECTLL": "y"}
    assert unknown_edge_keys(env, None) == ["EDGE_KUBECTLL"]
