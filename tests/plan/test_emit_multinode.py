"""Multi-node artifacts: LeaderWorkerSet, KubeRay RayService, the per-node shell script; goldens, CRD
schemas (a subset, from the published CRDs), and lint on what ropeguard emits.

Regenerate the goldens with ROPEGUARD_REGENERATE_GOLDEN=1.
"""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ropeguard.errors import UsageError
from ropeguard.lint import lint
from ropeguard.models.reader import registry_spec
from ropeguard.plan import ContextPlan, make_plan
from ropeguard.plan.emit import emit

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("ROPEGUARD_REGENERATE_GOLDEN") == "1"
SUFFIX = {"shell": "sh", "json": "json", "k8s": "k8s.yaml", "kuberay": "kuberay.yaml"}

CASES: dict[str, dict[str, Any]] = {
    # DeepSeek-V3 at 128K on H100: TP 8 x PP 2 on two nodes (vLLM's multiprocessing mode on 0.33).
    "deepseek-v3-128k-h100-vllm-0.33.0": dict(
        model="deepseek-ai/DeepSeek-V3", target=131072, gpu="h100-80gb", engine_version="0.33.0"
    ),
    # The same on Ray (the LWS runs vLLM's multi-node-serving.sh as vLLM's LWS guide does).
    "deepseek-v3-128k-h100-vllm-0.33.0-ray": dict(
        model="deepseek-ai/DeepSeek-V3",
        target=131072,
        gpu="h100-80gb",
        engine_version="0.33.0",
        multi_node_backend="ray",
    ),
    # Qwen3-235B at 1M with YaRN x4 (rope override in every pod's args), two replicas on 4 nodes.
    "qwen3-235b-1m-h100-vllm-0.33.0": dict(
        model="Qwen/Qwen3-235B-A22B-Instruct-2507",
        target=1048576,
        gpu="h100-80gb",
        engine_version="0.33.0",
        nodes=4,
    ),
}


def _plan(case: str) -> ContextPlan:
    options = dict(CASES[case])
    spec = registry_spec(options.pop("model"))
    assert spec is not None
    return make_plan(spec, options.pop("target"), distribution="vllm", **options)


@pytest.mark.parametrize("form", list(SUFFIX))
@pytest.mark.parametrize("case", list(CASES))
def test_multi_node_artifact_matches_golden(case: str, form: str) -> None:
    text = emit(_plan(case), form)
    path = GOLDEN / f"{case}.{SUFFIX[form]}"
    if REGENERATE:
        path.write_text(text)
    assert path.exists(), f"missing golden {path.name}: run with ROPEGUARD_REGENERATE_GOLDEN=1"
    assert text == path.read_text()


def test_compose_refuses_multi_node_plans() -> None:
    with pytest.raises(UsageError, match="spans 2 nodes"):
        emit(_plan("deepseek-v3-128k-h100-vllm-0.33.0"), "compose")


# --- schemas: the fields ropeguard writes, copied from the published CRDs ------------------------

_CONTAINER = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "image": {"type": "string"},
        "command": {"type": "array", "items": {"type": "string"}},
        "args": {"type": "array", "items": {"type": "string"}},
        "env": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "value": {"type": "string"}, "valueFrom": {}},
                "additionalProperties": False,
            },
        },
        "resources": {
            "type": "object",
            "properties": {
                "limits": {"type": "object", "additionalProperties": {"type": ["integer", "string"]}},
                "requests": {"type": "object", "additionalProperties": {"type": ["integer", "string"]}},
            },
            "additionalProperties": False,
        },
        "ports": {"type": "array"},
        "readinessProbe": {"type": "object"},
        "startupProbe": {"type": "object"},
        "volumeMounts": {"type": "array"},
    },
    "additionalProperties": False,
}
_POD_TEMPLATE = {
    "type": "object",
    "properties": {
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["containers"],
            "properties": {
                "containers": {"type": "array", "minItems": 1, "items": _CONTAINER},
                "volumes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "emptyDir": {
                                "type": "object",
                                "properties": {"medium": {"type": "string"}, "sizeLimit": {}},
                                "additionalProperties": False,
                            },
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
# kubernetes-sigs/lws config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml (v1): spec requires
# leaderWorkerTemplate, which requires workerTemplate; replicas and size are int32; restartPolicy a string.
LWS_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "leaderworkerset.x-k8s.io/v1"},
        "kind": {"const": "LeaderWorkerSet"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["leaderWorkerTemplate"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                "leaderWorkerTemplate": {
                    "type": "object",
                    "required": ["workerTemplate"],
                    "properties": {
                        "size": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                        "restartPolicy": {"enum": ["RecreateGroupOnPodRestart", "None", "Default"]},
                        "leaderTemplate": _POD_TEMPLATE,
                        "workerTemplate": _POD_TEMPLATE,
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
    },
}
# ray-project/kuberay ray-operator/config/crd/bases/ray.io_rayservices.yaml (ray.io/v1): spec.serveConfigV2
# is a string; rayClusterConfig.headGroupSpec requires template; each workerGroupSpecs item requires
# groupName and template; rayStartParams maps strings to strings; replicas are int32. ropeguard always
# writes rayStartParams too, so CRDs that still list it as required accept the object as well.
_START_PARAMS = {"type": "object", "additionalProperties": {"type": "string"}}
RAYSERVICE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "ray.io/v1"},
        "kind": {"const": "RayService"},
        "spec": {
            "type": "object",
            "properties": {
                "serveConfigV2": {"type": "string"},
                "rayClusterConfig": {
                    "type": "object",
                    "required": ["headGroupSpec"],
                    "properties": {
                        "headGroupSpec": {
                            "type": "object",
                            "required": ["template"],
                            "properties": {"rayStartParams": _START_PARAMS, "template": _POD_TEMPLATE},
                            "additionalProperties": False,
                        },
                        "workerGroupSpecs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["groupName", "template"],
                                "properties": {
                                    "groupName": {"type": "string"},
                                    "replicas": {"type": "integer", "minimum": 0},
                                    "minReplicas": {"type": "integer", "minimum": 0},
                                    "maxReplicas": {"type": "integer", "minimum": 0},
                                    "rayStartParams": _START_PARAMS,
                                    "template": _POD_TEMPLATE,
                                },
                                "additionalProperties": False,
                            },
                        },
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_leader_worker_set_follows_the_crd_and_the_layout(case: str) -> None:
    plan = _plan(case)
    layout = plan.layout
    assert layout is not None and layout.multi_node
    lws, service = yaml.safe_load_all(emit(plan, "k8s"))
    jsonschema.validate(lws, LWS_SCHEMA)
    template = lws["spec"]["leaderWorkerTemplate"]
    assert lws["spec"]["replicas"] == layout.data_parallel
    assert template["size"] == layout.nodes_per_replica
    gpus = layout.gpus_per_replica // layout.nodes_per_replica
    for role in ("leaderTemplate", "workerTemplate"):
        pod = template[role]["spec"]
        container = pod["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == gpus
        assert {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}} in pod["volumes"]
        words = " ".join(container.get("command", []) + container.get("args", []))
        # Workers find their leader through the address LWS injects (so does the leader in mp mode).
        if role == "workerTemplate" or layout.backend == "mp":
            assert "$(LWS_LEADER_ADDRESS)" in words
    leader = template["leaderTemplate"]["spec"]["containers"][0]
    assert leader["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "readinessProbe" not in template["workerTemplate"]["spec"]["containers"][0]
    assert service["spec"]["selector"] == {
        "leaderworkerset.sigs.k8s.io/name": lws["metadata"]["name"],
        "role": "leader",
    }


def test_lws_pods_carry_the_planned_override_and_layout() -> None:
    plan = _plan("qwen3-235b-1m-h100-vllm-0.33.0")
    assert plan.layout is not None and plan.layout.data_parallel == 2 and plan.layout.nodes_per_replica == 2
    lws, _ = yaml.safe_load_all(emit(plan, "k8s"))
    template = lws["spec"]["leaderWorkerTemplate"]
    for role in ("leaderTemplate", "workerTemplate"):
        args = template[role]["spec"]["containers"][0]["args"]
        assert json.loads(args[args.index("--hf-overrides") + 1]) == plan.hf_overrides
        assert args[args.index("--pipeline-parallel-size") + 1] == str(plan.layout.pipeline_parallel)
    worker = template["workerTemplate"]["spec"]["containers"][0]["args"]
    assert worker[worker.index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)" and "--headless" in worker


@pytest.mark.parametrize("case", list(CASES))
def test_rayservice_follows_the_crd_and_the_plan(case: str) -> None:
    plan = _plan(case)
    layout = plan.layout
    assert layout is not None
    (service,) = yaml.safe_load_all(emit(plan, "kuberay"))
    jsonschema.validate(service, RAYSERVICE_SCHEMA)
    workers = service["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    assert workers["replicas"] == layout.nodes_per_replica * layout.data_parallel
    app = yaml.safe_load(service["spec"]["serveConfigV2"])["applications"][0]
    assert app["import_path"] == "ray.serve.llm:build_openai_app"
    config = app["args"]["llm_configs"][0]
    kwargs = config["engine_kwargs"]
    assert kwargs["max_model_len"] == plan.target_context
    assert kwargs["tensor_parallel_size"] == layout.tensor_parallel
    assert kwargs["pipeline_parallel_size"] == layout.pipeline_parallel
    assert kwargs.get("hf_overrides") == plan.hf_overrides
    assert config["deployment_config"]["num_replicas"] == layout.data_parallel


# --- lint on what ropeguard emits ----------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_emitted_leader_worker_set_lints_clean(case: str, tmp_path: Path) -> None:
    path = tmp_path / "lws.yaml"
    path.write_text(emit(_plan(case), "k8s"))
    findings = lint([str(path)], engine_version="0.33.0", offline=True)
    assert [f for f in findings if f.severity == "error"] == [], findings


def test_a_broken_rope_flag_in_the_worker_args_is_found(tmp_path: Path) -> None:
    plan = _plan("qwen3-235b-1m-h100-vllm-0.33.0")
    lws, service = yaml.safe_load_all(emit(plan, "k8s"))
    worker = lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
    worker["args"] += ["--rope-scaling", json.dumps({"rope_type": "yarn", "factor": 4.0})]
    path = tmp_path / "lws.yaml"
    path.write_text(yaml.safe_dump_all([lws, service], sort_keys=False))
    findings = lint([str(path)], engine_version="0.33.0", offline=True)
    assert "RG101" in {f.rule for f in findings}


# --- the per-node shell script -------------------------------------------------------------------


@pytest.mark.parametrize(
    "case", ["deepseek-v3-128k-h100-vllm-0.33.0", "deepseek-v3-128k-h100-vllm-0.33.0-ray"]
)
def test_shell_script_runs_each_role(case: str, tmp_path: Path) -> None:
    plan = _plan(case)
    script = tmp_path / "serve.sh"
    script.write_text(emit(plan, "shell"))
    for tool in ("vllm", "ray"):
        fake = tmp_path / tool
        fake.write_text(f'#!/bin/sh\necho {tool} "$@" >> "{tmp_path}/calls"\n')
        fake.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{tmp_path}:{os.environ['PATH']}",
        "HEAD_NODE_IP": "10.0.0.1",
        "THIS_NODE_IP": "10.0.0.2",
        "NETWORK_INTERFACE": "ib0",
    }
    for role in ("head", "worker"):
        (tmp_path / "calls").unlink(missing_ok=True)
        subprocess.run(["bash", str(script), role, "1"], check=True, env=env)
        calls = (tmp_path / "calls").read_text().splitlines()
        expected = next(r for r in plan.node_commands if r.role == role).commands
        want = [" ".join(argv).replace("<HEAD_NODE_IP>", "10.0.0.1") for argv in expected]
        # The ray form runs `ray start --head` then execs the server; the script keeps that order.
        assert calls == want, (calls, want)
    done = subprocess.run(["bash", str(script), "nonsense"], env=env, capture_output=True)
    assert done.returncode == 2


def test_single_node_replicas_become_deployment_replicas() -> None:
    spec = registry_spec("Qwen/Qwen3-8B")
    assert spec is not None
    plan = make_plan(spec, 131072, gpu="h100-80gb", engine_version="0.33.0", nodes=1)
    assert plan.layout is not None and plan.layout.data_parallel == 8  # one H100 each, eight a node
    deployment, _ = yaml.safe_load_all(emit(plan, "k8s"))
    assert deployment["kind"] == "Deployment" and deployment["spec"]["replicas"] == 8
