"""Base job templates for running ProductPilot's flow runs in Docker or Kubernetes work pools.

A work pool's base job template says how a worker turns a flow run into a container or a
Kubernetes Job. ProductPilot's templates are the workers' own defaults (read from the
installed ``prefect-docker`` / ``prefect-kubernetes``, so they stay in step with the worker
version) with what every ProductPilot run needs filled in:

* the image defaults to ``productpilot:latest`` (one with this checkout installed);
* offline-safe environment: ``PREFECT_SERVER_ANALYTICS_ENABLED=false``;
* Kubernetes: the store URL and any vendor settings come from the ``productpilot`` Secret
  (``envFrom``), never from the template; requests/limits sized for the daily analysis of a
  few hundred products (1 CPU, 2 GiB; tune per queue with job variables); finished Jobs are
  removed after an hour.

``python -m deployments.job_templates`` writes ``deployments/docker/base-job-template.json``
and ``deployments/kubernetes/base-job-template.json``; ``tests/deployments`` checks that the
committed files are what this module builds. Use them with::

    prefect work-pool create productpilot --type kubernetes \\
      --base-job-template deployments/kubernetes/base-job-template.json
    productpilot setup    # queues and limits; the pool's type is left as it is
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
IMAGE = "productpilot:latest"
ENVIRONMENT = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
#: The Kubernetes Secret holding PRODUCTPILOT_DATABASE_URL and the other settings.
SECRET = "productpilot"
KUBERNETES_RESOURCES = {"cpu_request": "1", "memory_request": "2Gi", "memory_limit": "2Gi"}
FINISHED_JOB_TTL_SECONDS = 3600
PATHS = {
    "docker": ROOT / "docker" / "base-job-template.json",
    "kubernetes": ROOT / "kubernetes" / "base-job-template.json",
}


def _default(variables: dict[str, Any], name: str, value: Any) -> None:
    variables["properties"][name]["default"] = value


def docker_template() -> dict[str, Any]:
    """The Docker worker's default template with ProductPilot's image and environment."""
    from prefect_docker.worker import DockerWorker

    template = copy.deepcopy(DockerWorker.get_default_base_job_template())
    variables = template["variables"]
    _default(variables, "image", IMAGE)
    _default(variables, "env", dict(ENVIRONMENT))
    _default(variables, "auto_remove", True)
    return template


def kubernetes_template() -> dict[str, Any]:
    """The Kubernetes worker's default template with ProductPilot's image, environment,
    secret, resources and clean-up."""
    from prefect_kubernetes.worker import KubernetesWorker

    template = copy.deepcopy(KubernetesWorker.get_default_base_job_template())
    variables = template["variables"]
    _default(variables, "image", IMAGE)
    _default(variables, "env", dict(ENVIRONMENT))
    _default(variables, "finished_job_ttl", FINISHED_JOB_TTL_SECONDS)
    for name, value in KUBERNETES_RESOURCES.items():
        _default(variables, name, value)
    [container] = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"][
        "containers"
    ]
    container["envFrom"] = [{"secretRef": {"name": SECRET}}]
    return template


BUILDERS = {"docker": docker_template, "kubernetes": kubernetes_template}


def render(kind: str) -> str:
    """The template of ``kind`` as the JSON committed under ``deployments/``."""
    return json.dumps(BUILDERS[kind](), indent=2, sort_keys=True) + "\n"


def main() -> int:
    for kind, path in PATHS.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(kind))
        print(f"wrote {path.relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
