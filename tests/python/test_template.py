"""The bundled template deploys: SAM's own translator turns it into the event source mappings
we run locally, and cfn-lint (a version that still runs the SAM transform) finds nothing."""

import os
import subprocess
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "template.yaml")


class NoManagedPolicies:
    def load(self):
        return {}


def translated():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(TEMPLATE) as f:
        template = yaml_parse(f.read())
    # `sam build` / `sam package` replace local CodeUri paths with S3 locations; do the same.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://lockgate-artifacts/function.zip"
    return transform(template, {}, NoManagedPolicies())


def test_sam_translates_the_mappings_we_run():
    resources = translated()["Resources"]
    mappings = {
        name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    assert len(mappings) == 5
    orders = next(p for p in mappings.values() if p["EventSourceArn"] == {"Fn::GetAtt": ["OrdersQueue", "Arn"]})
    assert orders["BatchSize"] == 10
    assert orders["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert orders["ScalingConfig"] == {"MaximumConcurrency": 5}
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert {f["Properties"]["Runtime"] for f in functions} == {"provided.al2023", "python3.12", "nodejs22.x"}
    assert {f["Properties"]["Timeout"] for f in functions} == {10}


def test_the_wasm_function_ships_its_component_with_the_bootstrap():
    # Handler names the component; the Makefile (BuildMethod: makefile) packages it beside the
    # native host, which Lambda starts as `bootstrap` with _HANDLER set to the Handler.
    resources = translated()["Resources"]
    webhooks = resources["WebhooksFunction"]["Properties"]
    assert webhooks["Handler"] == "webhooks.wasm"
    assert webhooks["Runtime"] == "provided.al2023"
    with open(os.path.join(ROOT, "template.yaml")) as f:
        template = yaml_parse(f.read())
    assert template["Resources"]["WebhooksFunction"]["Metadata"] == {"BuildMethod": "makefile"}
    with open(os.path.join(ROOT, "functions", "webhooks", "Makefile")) as f:
        makefile = f.read()
    assert "build-WebhooksFunction:" in makefile
    assert "webhooks.wasm $(ARTIFACTS_DIR)/" in makefile
    assert "$(ARTIFACTS_DIR)/bootstrap" in makefile


def test_cfn_lint_passes():
    env = dict(os.environ, AWS_DEFAULT_REGION="us-east-1")
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "cfn-lint"), TEMPLATE], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
