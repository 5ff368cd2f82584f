"""GraphQL over HTTP as the usual clients expect it: graphql-http's own server audit, run by
node against a served process. Every audit, the SHOULDs included, must pass."""

from __future__ import annotations

import json
import shutil
import subprocess

from homestay.settings import ROOT
from tests.served import served

NODE_DIR = ROOT / ".cache" / "node"  # where python3 dev.py test installs graphql-http
AUDIT = """
import { serverAudits } from 'graphql-http';
const results = [];
for (const audit of serverAudits({ url: process.argv[1], fetchFn: fetch })) {
  const result = await audit.fn();
  results.push({ name: audit.name, status: result.status, reason: result.reason || null });
}
console.log(JSON.stringify(results));
"""


def test_the_graphql_http_audit_passes_with_no_warning(mongodb_uri, tmp_path):
    node = shutil.which("node")
    assert node and (NODE_DIR / "node_modules" / "graphql-http").exists(), (
        "run the suite with python3 dev.py test: it installs graphql-http (npm)"
    )
    with served(mongodb_uri, tmp_path) as url:
        done = subprocess.run(
            [node, "--input-type=module", "-e", AUDIT, f"{url}/graphql"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) > 50
    failing = [
        f"{r['status']}: {r['name']} ({r['reason']})" for r in results if r["status"] != "ok"
    ]
    assert failing == []
