"""A real MLflow tracking server (the `mlflow` package, `mlflow server` with a SQLite store and
a local artifact folder), as `scripts/services.sh install-mlflow` installs it; and a data
scientist's side of it: a script run with MLflow's own Python client."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
from support import free_port, stop_process, wait_until

MLFLOW_VERSION = os.environ.get("MLFLOW_VERSION", "2.22.1")
SERVICES_HOME = os.environ.get("LABSTAC_SERVICES_HOME", "/var/tmp/labstac")  # noqa: S108
MLFLOW_HOME = Path(
    os.environ.get("LABSTAC_TEST_MLFLOW_HOME", f"{SERVICES_HOME}/mlflow-{MLFLOW_VERSION}")
)
INSTALL_HINT = "install it with `scripts/services.sh install-mlflow` (make test does)"

# What MLflow SharingHub's users run: log a model in a run, registered under the project's
# naming ("<name> (<project id>)"), with the run tagged with the project's path.
LOG_MODEL = """
import sys
import mlflow
from sklearn.linear_model import LogisticRegression

tracking_uri, name, project_path, weight = sys.argv[1:5]
mlflow.set_tracking_uri(tracking_uri)
mlflow.set_experiment(project_path)
with mlflow.start_run() as run:
    mlflow.set_tag("project", project_path)
    model = LogisticRegression(C=float(weight)).fit([[0.0], [1.0]], [0, 1])
    mlflow.sklearn.log_model(model, artifact_path="model", registered_model_name=name)
print(run.info.run_id)
"""
DELETE_MODEL = """
import sys
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.MlflowClient().delete_registered_model(sys.argv[2])
"""


@dataclass
class MlflowServer:
    url: str
    process: subprocess.Popen[bytes]
    root: Path

    def run_client(self, script: str, *args: str) -> str:
        done = subprocess.run(
            [str(MLFLOW_HOME / "bin" / "python"), "-c", script, self.url, *args],
            capture_output=True, text=True, timeout=180, cwd=self.root,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    def log_model(self, name: str, project_path: str, weight: float = 1.0) -> str:
        """Log and register a model version; returns its run id."""
        return self.run_client(LOG_MODEL, name, project_path, str(weight))

    def delete_model(self, name: str) -> None:
        self.run_client(DELETE_MODEL, name)

    def stop(self) -> None:
        """The server and its gunicorn workers (its process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        stop_process(self.process)


def start_mlflow(root: Path) -> MlflowServer:
    binary = MLFLOW_HOME / "bin" / "mlflow"
    if not binary.exists():
        raise AssertionError(f"no MLflow at {MLFLOW_HOME}: {INSTALL_HINT}")
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    log = (root / "mlflow.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--default-artifact-root", str(root / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True,
    )  # fmt: skip
    server = MlflowServer(f"http://127.0.0.1:{port}", process, root)

    def answers() -> bool:
        assert process.poll() is None, (root / "mlflow.log").read_text()[-3000:]
        try:
            return httpx.get(f"{server.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, 120, "the MLflow tracking server")
    return server
