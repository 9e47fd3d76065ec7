"""The GitHub Actions workflow: it parses, and it runs what the plugin and the README document."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_vidbench.report import MARKER

yaml = pytest.importorskip("yaml")  # PyYAML is in the dev extra

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "vidbench.yml"
README = ROOT / "README.md"
COMMAND = "pytest benchmarks/ --vidbench"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def _scripts(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _commands(text: str) -> list[list[str]]:
    """Every `pytest benchmarks/ --vidbench ...` command in shell text, as tokens (line
    continuations joined, comments dropped)."""
    joined = text.replace("\\\n", " ")
    return [shlex.split(line.strip(), comments=True) for line in joined.splitlines()
            if line.strip().startswith(COMMAND)]


def test_triggers_and_permissions(workflow: dict[str, Any]) -> None:
    triggers = _triggers(workflow)
    assert "pull_request" in triggers
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {}  # nothing by default: each job asks for its own
    jobs = workflow["jobs"]
    for name in ("benchmark", "update-baselines"):
        assert jobs[name]["runs-on"] == ["self-hosted", "linux", "gpu"]
    assert jobs["comment"]["runs-on"] == "ubuntu-latest"  # merging needs no GPU
    assert jobs["benchmark"]["permissions"] == {"contents": "read"}
    assert jobs["comment"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert jobs["update-baselines"]["permissions"] == {"contents": "write",
                                                       "pull-requests": "write"}


def test_checkouts_keep_no_token_and_start_clean(workflow: dict[str, Any]) -> None:
    checkouts = [step for job in workflow["jobs"].values() for step in job["steps"]
                 if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 3
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False
        assert step["with"]["clean"] is True


def test_no_expression_is_pasted_into_a_script(workflow: dict[str, Any]) -> None:
    """`${{ github.base_ref }}` in a script is shell injection by branch name: env only."""
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step.get("name")
    restore = next(s for s in workflow["jobs"]["benchmark"]["steps"]
                   if "-- baselines/" in s.get("run", ""))
    assert restore["env"]["BASE_REF"] == "${{ github.base_ref }}"


def test_jobs_leave_no_state_for_the_next_run(workflow: dict[str, Any]) -> None:
    """A PR's caches and outputs must not reach main's baseline run on the same runner
    (a hosted runner is discarded after its job)."""
    for job in workflow["jobs"].values():
        if "self-hosted" not in job["runs-on"]:
            continue
        script = _scripts(job)
        for name in ("PIP_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR",
                     "XDG_CACHE_HOME"):
            assert name in script
        last_cleanup = [s for s in job["steps"] if s.get("if") == "always()"
                        and "rm -rf" in s.get("run", "")]
        assert last_cleanup, "no always() cleanup step"
        cleanup = last_cleanup[-1]["run"]
        assert ".vidbench" in cleanup and ".venv" in cleanup
        assert '"${RUNNER_TEMP:?}"/*' in cleanup  # never rm -rf /* when it is unset


def test_pull_request_shards_gate_and_upload(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["benchmark"]
    assert "pull_request" in job["if"]
    shards = job["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1)) and len(shards) >= 2
    assert job["strategy"]["fail-fast"] is False
    script = _scripts(job)
    (command,) = _commands(script)
    shard = command[command.index("--vidbench-shard") + 1]
    assert shard == f"$SHARD/{len(shards)}"  # N in the command matches the matrix
    assert "--vidbench-json" in command and "--vidbench-html" in command
    assert "set +e" in script and "GITHUB_OUTPUT" in script  # exit code kept for later
    assert 'git checkout "origin/$BASE_REF" -- baselines/' in script
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload"))
    assert "vidbench-shard-*.json" in upload["with"]["path"]
    last = job["steps"][-1]
    assert re.search(r"exit \"?\$\{?EXIT_CODE", last["run"]) and "always()" in last["if"]
    install = next(s["run"] for s in job["steps"] if "pip install -e" in s.get("run", ""))
    assert install.index("install torch") < install.index('install -e ".[dev]"')


def test_pull_requests_are_judged_side_by_side_against_the_merge_base(
        workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["benchmark"]
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # the merge base must be in the clone
    (command,) = _commands(_scripts(job))
    assert command[command.index("--vidbench-against") + 1] == "$base"
    assert command[command.index("--vidbench-pair-seed") + 1] == "$SEED"
    bench = next(s for s in job["steps"] if s.get("id") == "bench")
    assert bench["env"]["SEED"] == "${{ github.run_id }}"  # one seed for every shard
    assert "--vidbench-update-baselines" not in command
    # An intended change of output is accepted by a label that a reviewer adds, visibly.
    assert command[command.index("--vidbench-pair-seed") + 2] == "$ACCEPT"
    assert "'vidbench-output-change'" in bench["env"]["ACCEPT"]
    assert "--vidbench-accept-output-change" in bench["env"]["ACCEPT"]
    triggers = _triggers(workflow)["pull_request"]
    assert {"labeled", "unlabeled", "synchronize"} <= set(triggers["types"])
    assert "github.event.label.name == 'vidbench-output-change'" in job["if"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_base_is_the_branch_tip_the_pull_request_merges_into(
        workflow: dict[str, Any], tmp_path: Path) -> None:
    """The step's `base=` line in a scratch repository shaped like a pull_request checkout:
    main moved on after the PR branched, and HEAD is the PR merged into main's tip (GitHub's
    refs/pull/N/merge). Base is main's tip, so head and base differ by the PR alone."""
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "f").write_text("1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "one")
    _git(tmp_path, "switch", "-q", "-c", "pr")
    (tmp_path / "f").write_text("pr\n")
    _git(tmp_path, "commit", "-q", "-am", "pr")
    _git(tmp_path, "switch", "-q", "main")
    (tmp_path / "g").write_text("2\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "two")
    tip = _git(tmp_path, "rev-parse", "HEAD").strip()
    _git(tmp_path, "update-ref", "refs/remotes/origin/main", "main")
    _git(tmp_path, "switch", "-q", "--detach", "main")
    _git(tmp_path, "merge", "-q", "--no-ff", "-m", "Merge pr into main", "pr")
    bench = next(s for s in workflow["jobs"]["benchmark"]["steps"] if s.get("id") == "bench")
    (line,) = [x.strip() for x in bench["run"].splitlines() if x.strip().startswith("base=")]
    done = subprocess.run(["bash", "-e", "-c", f'{line}\necho "$base"'], cwd=tmp_path,
                          env={**os.environ, "BASE_REF": "main"}, capture_output=True,
                          text=True, check=True, timeout=60)
    assert done.stdout.strip() == tip


def test_the_comment_job_merges_the_shards(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["comment"]
    assert job["needs"] == "benchmark" and job["if"].startswith("always()")
    script = _scripts(job)
    assert "vidbench merge vidbench-shard-*.json -o vidbench-results.json" in script
    assert "vidbench compare baselines/ vidbench-results.json --markdown vidbench-comment.md" \
        in script
    assert MARKER in script and "gh api" in script
    assert "--method PATCH" in script and "--method POST" in script
    download = next(s for s in job["steps"] if s.get("uses", "").startswith(
        "actions/download-artifact@"))
    assert download["with"]["pattern"] == "vidbench-shard-*"
    install = next(s["run"] for s in job["steps"] if "pip install -e" in s.get("run", ""))
    assert "whl/cpu" in install.split("install -e")[0]  # never PyPI's CUDA torch


def test_update_job_opens_a_pull_request(workflow: dict[str, Any]) -> None:
    job = next(j for j in workflow["jobs"].values() if "push" in j["if"])
    script = _scripts(job)
    assert any("--vidbench-update-baselines" in tokens for tokens in _commands(script))
    assert "gh pr create" in script and "push --force origin" in script
    assert "extraheader=AUTHORIZATION" in script  # the token for the push command only


def undocumented_in_workflow(readme: str, workflow: dict[str, Any]) -> list[str]:
    """README commands no workflow command starts with (same options, same order; the
    workflow may add options after them)."""
    ours = [c for job in workflow["jobs"].values() for c in _commands(_scripts(job))]
    return [shlex.join(tokens) for tokens in _commands(readme)
            if not any(command[:len(tokens)] == tokens for command in ours)]


def test_readme_check_catches_a_stale_command(workflow: dict[str, Any]) -> None:
    readme = ("Run it:\n\n    pytest benchmarks/ --vidbench --vidbench-markdown x.md\n"
              "pytest benchmarks/ --vidbench --vidbench-update-baselines  # on main\n"
              "pytest benchmarks/ --vidbench --vidbench-against \"$base\"\n")
    assert undocumented_in_workflow(readme, workflow) == [
        "pytest benchmarks/ --vidbench --vidbench-markdown x.md"]


def test_readme_commands_are_the_workflows(workflow: dict[str, Any]) -> None:
    if not README.exists():
        pytest.skip("README.md does not exist yet")
    text = README.read_text(encoding="utf-8")
    ci = text[text.index("### In CI"):]
    ci = ci[:ci.index("\n## ")]  # the section that says what the workflow runs
    assert _commands(ci), "the README's CI section shows no command"
    missing = undocumented_in_workflow(ci, workflow)
    assert not missing, f"README documents commands the workflow does not run: {missing}"


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=cwd, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_restore_step_takes_baselines_from_the_base_branch(
        workflow: dict[str, Any], tmp_path: Path) -> None:
    """The step's script, run in a scratch clone: the PR's own baseline edits and additions
    are gone, the base branch's files are back."""
    origin, clone = tmp_path / "origin", tmp_path / "clone"
    origin.mkdir()
    _git(origin, "init", "-q", "-b", "main")
    (origin / "baselines").mkdir()
    (origin / "baselines" / "cpu-x.json").write_text("base\n")
    _git(origin, "add", ".")
    _git(origin, "commit", "-q", "-m", "base")
    _git(tmp_path, "clone", "-q", "--depth=1", origin.as_uri(), str(clone))
    _git(clone, "switch", "-q", "-c", "pr")
    (clone / "baselines" / "cpu-x.json").write_text("edited by the PR\n")
    (clone / "baselines" / "cpu-new.json").write_text("added by the PR\n")
    _git(clone, "commit", "-q", "-am", "pr")
    step = next(s for s in workflow["jobs"]["benchmark"]["steps"]
                if "-- baselines/" in s.get("run", ""))
    env = {**os.environ, "BASE_REF": "main"}
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=clone, check=True, timeout=60, env=env)
    assert sorted(p.name for p in (clone / "baselines").iterdir()) == ["cpu-x.json"]
    assert (clone / "baselines" / "cpu-x.json").read_text() == "base\n"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_restore_step_refuses_a_branch_name_that_is_shell(
        workflow: dict[str, Any], tmp_path: Path) -> None:
    step = next(s for s in workflow["jobs"]["benchmark"]["steps"]
                if "-- baselines/" in s.get("run", ""))
    _git(tmp_path, "init", "-q")
    marker = tmp_path / "pwned"
    env = {**os.environ, "BASE_REF": f"x;touch {marker}"}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env,
                          capture_output=True, timeout=60)
    assert done.returncode != 0 and not marker.exists()


def _pr_title_script(workflow: dict[str, Any]) -> str:
    """The lines of the baseline-PR step that decide its title: `flagged=` to its `fi`."""
    step = next(s for s in workflow["jobs"]["update-baselines"]["steps"]
                if "gh pr create" in s.get("run", ""))
    lines = [line.strip() for line in step["run"].splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("flagged="))
    end = next(i for i in range(start, len(lines)) if lines[i] == "fi")
    return "\n".join(["short_sha=abc", *lines[start:end + 1], 'echo "$title"'])


@pytest.mark.parametrize("regressed", [0, 2])
def test_main_records_a_regressed_run_flagged_and_its_pull_request_says_so(
        workflow: dict[str, Any], tmp_path: Path, regressed: int) -> None:
    import json

    job = workflow["jobs"]["update-baselines"]
    main_step = next(s for s in job["steps"] if s.get("if") == "github.ref_type != 'tag'")
    tag_step = next(s for s in job["steps"] if s.get("if") == "github.ref_type == 'tag'")
    assert "--vidbench-accept-regressions" in _commands(main_step["run"])[0]
    assert "--vidbench-accept-regressions" not in _commands(tag_step["run"])[0]
    statuses = ["regression"] * regressed + ["unchanged", None]
    (tmp_path / ".vidbench").mkdir()
    (tmp_path / ".vidbench" / "results.json").write_text(json.dumps({"results": [
        {"verdict": {"status": s} if s else None} for s in statuses]}))
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", _pr_title_script(workflow)],
                          cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:"
                               f"{os.environ['PATH']}"})
    expected = "vidbench: update baselines" + (f" (REGRESSED: {regressed} test(s))"
                                               if regressed else "")
    assert done.stdout.strip() == expected
