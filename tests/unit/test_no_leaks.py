"""No planted credential reaches any output of a run (issue 7, "no credential in any output").

A copy of the chart renders credentials in every form the masking must handle: connection
strings whose password holds ``/ ? ; space ' "``, secret query parameters (``sslpassword=``,
``token=``, ``access_token=``, ``password=``), a Redis URL whose userinfo is the password,
a Secret's ``data`` and ``stringData``, a literal ``DB_PASSWORD`` env var, a values file and
``--refarch-set`` values under secret-looking keys. Checks fail on them (so findings are
printed), with ``-l -vv --junitxml``, and every output is grepped: stdout, stderr, the JUnit
XML, the baseline file, the HTML and Markdown reports, the golden files written with
``--refarch-update``, and the Secret data in the on-disk render cache.

Every planted secret contains the marker ``sekrit``, so a partial leak (the part of a password
after an unencoded ``/`` shown as a "host") is found as surely as a whole one.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
CHART = REPO / "charts" / "harness-prod"
FIXTURES = REPO / "fixtures"
MARK = "sekrit"
MONGO = "mongodb-replicaset-chart-0.mongodb-replicaset-chart"
SECRET_DATA = ("sekritData1", "sekritData2")

# One password per awkward character, so a leak names the character that caused it.
PASSWORDS = {
    "slash": "sekrit01a/sekrit01b",
    "question": "sekrit02a?sekrit02b",
    "semicolon": "sekrit03a;sekrit03b",
    "space": "sekrit04a sekrit04b",
    "quote": "sekrit05a'sekrit05b",
    "dquote": 'sekrit06a"sekrit06b',
    "at-colon": "sekrit07a@sekrit07b:sekrit07c",
    "all": "sekrit08a/?; '\"sekrit08b",
}
LITERALS = {
    **{f"MONGO_URI_{k.upper().replace('-', '_')}": f"mongodb://admin:{pw}@{MONGO}:27017/harness?replicaSet=rs0"
       for k, pw in PASSWORDS.items()},
    "MONGO_URI_PARAMS": (f"mongodb://{MONGO}:27017/harness?replicaSet=rs0&sslpassword=sekrit20"
                         "&token=sekrit21&access_token=sekrit22&password=sekrit23"),
    "TIMESCALE_JDBC": "jdbc:postgresql://timescaledb:5432/harness?user=postgres&password=sekrit24",
    "PG_URI": "postgres://postgres@postgres:5432/harness?sslmode=require&sslpassword=sekrit25&apiKey=sekrit26",
    "REDIS_URI": "redis://sekrit30@redis-master:6379",
    "REDIS_TLS_URI": "rediss://default:sekrit31@redis-master:6380/0",
    "DB_PASSWORD": "sekrit60",
    "PG_DSN": "host=postgres user=postgres password=sekrit61 dbname=harness",
}


def _yaml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _template() -> str:
    env = "\n".join(f"            - name: {name}\n              value: {_yaml_str(value)}"
                    for name, value in LITERALS.items())
    data = "\n".join(f"  {name}: {_yaml_str(value)}" for name, value in LITERALS.items() if "URI" in name)
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: leaky-config}}
data:
{data}
  FROM_VALUES: {{{{ .Values.leaky.uri | quote }}}}
  FROM_SET: {{{{ .Values.leaky.seturi | default "" | quote }}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: leaky-secret}}
type: Opaque
data:
  password: {{{{ {_yaml_str(SECRET_DATA[0])} | b64enc }}}}
stringData:
  token: {_yaml_str(SECRET_DATA[1])}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: leaky}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: leaky}}}}
  template:
    metadata: {{labels: {{app: leaky}}}}
    spec:
      containers:
        - name: main
          image: busybox
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 128Mi}}
          env:
{env}
            - name: FROM_CM
              valueFrom: {{configMapKeyRef: {{name: leaky-config, key: FROM_VALUES}}}}
          envFrom:
            - secretRef: {{name: leaky-secret}}
"""




@pytest.fixture
def planted(tmp_path: Path) -> dict[str, Path]:
    """A chart copy that renders the credentials, a values file and a fixtures copy."""
    chart = tmp_path / "harness-prod"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "leaky.yaml").write_text(_template())
    values = tmp_path / "my-values.yaml"
    values.write_text(
        f"leaky:\n  uri: {_yaml_str('mongodb://admin:sekrit40a/sekrit40b@' + MONGO + ':27017/harness')}\n"
        "global:\n  database:\n    postgres:\n      password: sekrit41\n    redis:\n      token: sekrit42\n")
    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, fixtures)
    return {"chart": chart, "values": values, "fixtures": fixtures}


SETS = ["global.database.mongo.password=sekrit50", "leaky.seturi=redis://sekrit51@redis-master:6379",
        "a.b=1,global.database.redis.password=sekrit52"]


def _run(helm: Path, planted: dict[str, Path], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFARCH_", "ATS_", "PYTEST_"))}
    env.update(PYTHONDONTWRITEBYTECODE="1", HARNESS_REFARCH_CACHE=str(cwd / "refarch-cache"))
    sets = [f"--refarch-set={s}" for s in SETS]
    cmd = [sys.executable, "-m", "pytest", str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider",
           "--refarch-helm", str(helm), "--refarch-fixtures", str(planted["fixtures"]),
           "--chart-path", str(planted["chart"]), "--refarch-values", str(planted["values"]), *sets,
           "--refarch-profile", "demo", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, errors="replace", timeout=120,
                          check=False)


def _forbidden() -> list[str]:
    """Every form a planted secret could leak in: the marker, and the Secret data base64-encoded."""
    return [MARK, MARK.upper(), *(base64.b64encode(s.encode()).decode() for s in SECRET_DATA),
            *(base64.b64encode(s.encode()).decode()[:8] for s in SECRET_DATA)]


def _leaks(name: str, text: str) -> list[str]:
    out = []
    for needle in _forbidden():
        at = text.find(needle)
        if at >= 0:
            out.append(f"{name}: {text[max(0, at - 120):at + 80]!r}")
    return out


def test_no_planted_credential_reaches_any_output(tmp_path: Path, real_helm: Path, planted: dict[str, Path]) -> None:
    junit, baseline, report = tmp_path / "junit.xml", tmp_path / "baseline.yaml", tmp_path / "report.html"
    run = _run(real_helm, planted, tmp_path, "-l", "-vv", "-rA", f"--junitxml={junit}",
               f"--refarch-baseline-update={baseline}", f"--refarch-report={report}")
    out = run.stdout + run.stderr
    # The checks must fail on the planted credentials, or this test proves nothing.
    assert run.returncode == 1, out[-3000:]
    assert re.search(r"^FAILED .*?test_database_wiring\[demo-demo\]", run.stdout, re.M), out[-3000:]
    assert "Deployment/leaky" in run.stdout and "****" in run.stdout, out[-3000:]
    assert "Traceback" not in out
    leaks = _leaks("stdout", run.stdout) + _leaks("stderr", run.stderr) + _leaks("junit", junit.read_text())
    for path in (baseline, report):
        assert path.exists(), f"{path.name} not written"
        leaks += _leaks(path.name, path.read_text(errors="replace"))
    assert not leaks, "\n".join(leaks)


def test_no_planted_credential_reaches_golden_files(tmp_path: Path, real_helm: Path,
                                                   planted: dict[str, Path]) -> None:
    report = tmp_path / "report.md"
    run = _run(real_helm, planted, tmp_path, "--refarch-update", "-l", "-vv", f"--refarch-report={report}")
    out = run.stdout + run.stderr
    assert "golden file" in run.stdout and "demo/demo.yaml" in run.stdout, out[-3000:]
    leaks = _leaks("stdout", run.stdout) + _leaks("stderr", run.stderr) + _leaks("report", report.read_text())
    for path in sorted((planted["fixtures"] / "golden").rglob("*")):
        if path.is_file():
            leaks += _leaks(str(path), path.read_text(errors="replace"))
    assert not leaks, "\n".join(leaks)


def test_no_secret_data_in_the_render_cache(tmp_path: Path, real_helm: Path, planted: dict[str, Path]) -> None:
    """The on-disk render store holds parsed, redacted renders: never a Secret's data."""
    _run(real_helm, planted, tmp_path, "-q")
    stored = [p for p in (tmp_path / "refarch-cache").rglob("*.json")]
    assert stored, "nothing was stored"
    leaks = []
    for path in stored:
        text = path.read_text(errors="replace")
        for secret in SECRET_DATA:
            for needle in (secret, base64.b64encode(secret.encode()).decode()):
                if needle in text:
                    leaks.append(f"{path}: {needle}")
    assert not leaks, leaks


def test_a_failed_render_masks_secret_set_values_in_its_command(tmp_path: Path, real_helm: Path,
                                                                planted: dict[str, Path]) -> None:
    """The render-failure message quotes the helm command: Secret-bearing --set values masked."""
    broken = planted["chart"] / "templates" / "broken.yaml"
    broken.write_text('{{ fail "planted failure" }}\n')
    junit = tmp_path / "junit.xml"
    run = _run(real_helm, planted, tmp_path, "-l", "-vv", f"--junitxml={junit}")
    out = run.stdout + run.stderr
    assert run.returncode == 1 and "planted failure" in out, out[-3000:]
    leaks = _leaks("stdout", run.stdout) + _leaks("stderr", run.stderr) + _leaks("junit", junit.read_text())
    assert not leaks, "\n".join(leaks)
    # ... and the command is shown whole (a user pastes it to reproduce), its --set values masked.
    assert "--set=global.database.mongo.password=****" in out, out[-3000:]
    assert "--set=leaky.seturi=redis://****@redis-master:6379" in out, out[-3000:]
