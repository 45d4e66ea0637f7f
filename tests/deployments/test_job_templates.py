"""The Docker and Kubernetes base job templates in deployments/: what the module builds from
the installed workers' defaults, and what a worker renders from them."""

from __future__ import annotations

import asyncio
import json

import pytest
from prefect_docker.worker import DockerWorkerJobConfiguration
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

from deployments.job_templates import PATHS, SECRET, render


@pytest.mark.parametrize("kind", sorted(PATHS))
def test_the_committed_template_is_what_the_module_builds(kind: str) -> None:
    # A new worker version changes its defaults: `python -m deployments.job_templates` again.
    assert PATHS[kind].read_text() == render(kind)


def test_a_kubernetes_job_runs_the_image_with_the_secret_and_resources() -> None:
    template = json.loads(PATHS["kubernetes"].read_text())
    job = asyncio.run(
        KubernetesWorkerJobConfiguration.from_template_and_values(
            template, {"image": "registry.example.com/productpilot:1.4"}
        )
    )
    [container] = job.job_manifest["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.com/productpilot:1.4"
    assert container["envFrom"] == [{"secretRef": {"name": SECRET}}]
    assert container["resources"]["limits"]["memory"] == "2Gi"
    assert job.job_manifest["spec"]["ttlSecondsAfterFinished"] == 3600
    assert job.env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_a_docker_container_runs_the_default_image_and_is_removed_after() -> None:
    template = json.loads(PATHS["docker"].read_text())
    job = asyncio.run(DockerWorkerJobConfiguration.from_template_and_values(template, {}))
    assert job.image == "productpilot:latest"
    assert job.auto_remove is True
    assert job.env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
