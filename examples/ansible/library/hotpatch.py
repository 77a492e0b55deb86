#!/usr/bin/python
# -*- coding: utf-8 -*-
#
# An Ansible module for hotpatch: pushes Tonel sources into running Smalltalk images (one
# target or a group rollout), rolls the last batch back, or asks the images for their status.
# It drives the `hotpatch` program through its `--json` reports and exit codes (README.md,
# "Commands" and "Exit codes"); it adds no logic of its own about what a push does.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hotpatch
short_description: Put Smalltalk code changes into running images with hotpatch
description:
  - Runs the C(hotpatch) command-line tool on the host the task runs on (usually the deploy
    host, with C(connection=local)), in a checkout of the Smalltalk sources that holds
    C(hotpatch.toml).
  - C(state=pushed) installs what differs between the Tonel sources and a running image, all or
    nothing (C(hotpatch push --json)), or rolls it out across a group of images, canary first
    (C(hotpatch push --group NAME --json)). The task reports C(changed) only when a batch was
    applied; a second run finds nothing to push and reports C(ok).
  - In check mode the push is a dry run (C(--dry-run)) that reports what would change and
    changes nothing. The rules a real push applies (changes that need a rebuild, would drop live
    state, or replace changes made in the image) fail the dry run as they would fail the push;
    compile errors are found by the image only when the batch is sent.
  - With C(--diff), the task shows the per-method unified diff between the image and the sources
    (C(hotpatch diff)) taken just before the push.
  - A push hotpatch refuses or that fails fails the task with hotpatch's report, its message,
    error kind, the errors (C(path:line:col) for compile and Tonel errors) and its exit code in
    C(rc), so C(until) C(result.rc != 5) retries only what is safe to retry (unreachable, nothing
    changed).
  - C(state=rolled_back) undoes the last batch (C(hotpatch rollback --json)); C(state=status)
    reads the agent and the drift of the image (C(hotpatch status --json)) and changes nothing.
version_added: "0.1.0"
author:
  - hotpatch contributors
requirements:
  - The C(hotpatch) program on the controlled host (C(cargo install --path .) in a checkout of
    hotpatch), or its path in O(executable).
options:
  state:
    description:
      - C(pushed) installs the sources (one target, or a group with O(group)).
      - C(rolled_back) undoes the last batch applied in the image's current session (with
        O(group), the last batch of every member, last member first). Each run undoes one more
        batch, so it is not idempotent; guard it with C(when:). In check mode nothing is
        undone and the task reports that it would.
      - C(status) reports the agent (image, dialect, session, epoch) and whether the image has
        drifted from what hotpatch installed; it never changes anything and does not fail on
        drift (see RV(drifted)).
    type: str
    choices: [pushed, rolled_back, status]
    default: pushed
  chdir:
    description:
      - The directory hotpatch runs in; it finds C(hotpatch.toml) by walking up from here.
        Usually the checkout of the application's sources.
    type: path
  config:
    description: The C(hotpatch.toml) to use (C(--config)).
    type: path
  target:
    description: The target, a C([targets.NAME]) section (C(--target)).
    type: str
  url:
    description:
      - The agent's URL, overriding the target's (C(--url)); C(ws://), C(wss://) or C(ssh://).
    type: str
  group:
    description:
      - A group, a C([groups.NAME]) section, to roll out to (C(--group)) instead of one target.
      - The result then has one entry per member in RV(targets).
    type: str
  paths:
    description:
      - Package folders or class/extension files to push; the default is every owned package.
    type: list
    elements: path
    default: []
  source:
    description: The Tonel source directory, overriding the configuration's (C(--source)).
    type: path
  token:
    description:
      - The agent's token. The module puts it into the environment variable O(token_env) names
        for the hotpatch process only; it is never written to a file or shown (C(no_log)).
      - Leave it out when the variable is already in the task's environment (C(environment:)).
    type: str
  token_env:
    description:
      - The environment variable hotpatch reads the token from (C(--token-env) for one
        target). With O(token) it defaults to C(HOTPATCH_TOKEN).
      - For a O(group), hotpatch reads the group's C(token_env) or each member's own; set this
        to that variable's name so that O(token) lands there.
    type: str
  settings:
    description:
      - Any other setting of C(hotpatch.toml), as C(--set KEY=VALUE) (for example
        C(targets.prod.apply_timeout_secs=600)). Values are read as TOML.
    type: dict
    default: {}
  rebuild:
    description:
      - C(true) falls back to a rebuild when a change cannot go live (C(--rebuild)); C(false)
        never rebuilds (C(--no-rebuild)); unset, the target's C(on_needs_rebuild) decides.
        Not with O(group).
    type: bool
  no_cache:
    description: Ignore the snapshot cache and read the image afresh (C(--no-cache)).
    type: bool
    default: false
  allow_state_loss:
    description: Push even when live objects hold values the push drops (C(--allow-state-loss)).
    type: bool
    default: false
  rename_vars:
    description:
      - Variables renamed in the sources, as C(Class.old=new); live values move (C(--rename-var)).
    type: list
    elements: str
    default: []
  no_initialize:
    description: Run no class-side C(initialize) (C(--no-initialize)).
    type: bool
    default: false
  overwrite_drift:
    description:
      - Replace definitions changed in the image since hotpatch installed them
        (C(--overwrite-drift)); C(hotpatch rollback) brings them back.
    type: bool
    default: false
  skip_unreachable:
    description:
      - With O(group), leave unreachable members out instead of refusing the rollout
        (C(--skip-unreachable)). The task still fails when a member is left out, because not
        every member is on the new code (exit 8).
    type: bool
    default: false
  executable:
    description: The C(hotpatch) program; by default the one on C(PATH).
    type: path
notes:
  - Supports check mode (a dry run) and diff mode (the per-method diff).
  - hotpatch's exit codes are returned in RV(rc) (0 success, 2 usage or configuration or
    sources, 3 refused by a rule, 4 refused by the agent, 5 unreachable and safe to retry,
    6 rebuild failed, 7 rollback incomplete, 8 a group not all on the new code, 9 drift,
    10 status could not tell whether the image drifted: the task fails then).
  - With O(group) in diff mode, the diff shown is that of the first member that needs the batch
    (a rollout only goes ahead when every member needs the same changes). That member's diff is
    read with its own target settings and O(token_env).
"""

EXAMPLES = r"""
- name: Push the sources of the checkout into the staging image
  hotpatch:
    chdir: /srv/app/checkout
    target: staging
    token: "{{ vault_staging_token }}"

- name: Roll the sources out to every prod image, canary first; retry while unreachable
  hotpatch:
    chdir: /srv/app/checkout
    group: prod
    token: "{{ vault_fleet_token }}"
    token_env: FLEET_TOKEN        # the group's token_env in hotpatch.toml
  register: rollout
  until: rollout.rc != 5          # 5: unreachable, nothing changed, safe to retry
  retries: 3
  delay: 30

- name: Which member is where
  debug:
    msg: "{{ item.name }}: {{ item.state }}"
  loop: "{{ rollout.targets }}"

- name: Has production drifted (changed by hand in the image)?
  hotpatch:
    chdir: /srv/app/checkout
    target: prod
    state: status
  environment:
    HOTPATCH_TOKEN: "{{ vault_prod_token }}"
  register: prod_status
  failed_when: prod_status.drifted

- name: Undo the last batch
  hotpatch:
    chdir: /srv/app/checkout
    target: staging
    state: rolled_back
    token: "{{ vault_staging_token }}"
  when: smoke_test is failed
"""

RETURN = r"""
rc:
  description: hotpatch's exit code (see the notes).
  returned: always
  type: int
  sample: 0
outcome:
  description:
    - What hotpatch says happened. One target, C(state=pushed) - C(applied), C(nothing_to_push),
      C(dry_run) (check mode), C(refused), C(needs_rebuild), C(drift), C(rebuilt) or C(failed).
      A group - C(rolled_out), C(nothing_to_push), C(dry_run), C(refused), C(stopped).
      C(state=rolled_back) - C(rolled_back), C(rolled_back_with_problems), C(failed).
  returned: when hotpatch printed a report
  type: str
  sample: applied
changes:
  description: One line per change the push made or would make (one target).
  returned: when state is pushed, for one target
  type: list
  elements: dict
  sample: [{"change": "changed", "what": "method", "name": "SampleApp>>greet:"}]
targets:
  description:
    - One entry per member of the group, in group order - name, url, state (C(patched),
      C(up_to_date), C(would_patch), C(rolled_back), C(untouched), C(failed), C(unreachable),
      C(skipped), C(rollback_failed)), role (C(canary), C(wave N)), batch, epochs, health,
      error, millis. For C(state=rolled_back) and C(state=status), each member's answer.
  returned: with group
  type: list
  elements: dict
drifted:
  description: Whether the image (or a member) holds changes hotpatch did not make.
  returned: when state is status
  type: bool
kind:
  description:
    - Why hotpatch failed, as its JSON error's C(kind) (C(compile_failed), C(source_errors),
      C(unreachable), C(config), C(apply_failed), C(drift), ...) or the refused outcome.
  returned: on failure, when hotpatch said
  type: str
  sample: compile_failed
errors:
  description:
    - The errors hotpatch listed - compile and Tonel errors with C(path), C(line), C(column),
      C(message) (and the C(method)), or the names of drifted definitions.
  returned: on failure, when hotpatch listed some
  type: list
report:
  description: hotpatch's whole JSON report, as it printed it.
  returned: when hotpatch printed one
  type: dict
diff:
  description: The unified diff per changed definition (C(prepared)), in diff mode.
  returned: in diff mode, when something differs
  type: dict
cmd:
  description: The hotpatch command that ran last (the token is never on it).
  returned: always
  type: list
  elements: str
stderr:
  description: What hotpatch wrote to its standard error.
  returned: always
  type: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

# Exit codes (README.md, "Exit codes") the module reads as success.
OK = 0
DIFFERENCES = 1
DRIFT = 9

# Member states after which the image differs from before the rollout: it took the batch.
TOOK_BATCH = ("patched", "rolled_back", "rollback_failed")


class Hotpatch(object):
    """Runs the hotpatch program with the options every command shares."""

    def __init__(self, module):
        self.module = module
        p = module.params
        self.executable = p["executable"] or module.get_bin_path("hotpatch", required=True)
        self.cwd = p["chdir"]
        self.env = {}
        self.token_env = p["token_env"]
        if p["token"] is not None:
            self.token_env = self.token_env or "HOTPATCH_TOKEN"
            self.env[self.token_env] = p["token"]
        self.last_cmd = []
        self.last_stderr = ""

    def common(self, with_target=True):
        """The options every command takes: configuration, target or group, token, settings."""
        p = self.module.params
        args = []
        if p["config"]:
            args += ["--config", p["config"]]
        if p["source"]:
            args += ["--source", p["source"]]
        if with_target:
            if p["group"]:
                args += ["--group", p["group"]]
            if p["target"]:
                args += ["--target", p["target"]]
            if p["url"]:
                args += ["--url", p["url"]]
            if self.token_env and not p["group"]:
                args += ["--token-env", self.token_env]
        for key, value in sorted(p["settings"].items()):
            args += ["--set", "%s=%s" % (key, toml_value(value))]
        return args

    def run(self, args):
        """Runs hotpatch with `args`; answers (rc, report or None, stdout)."""
        cmd = [self.executable] + args
        rc, out, err = self.module.run_command(
            cmd,
            cwd=self.cwd,
            environ_update=dict(self.env, NO_COLOR="1"),
        )
        self.last_cmd = cmd
        self.last_stderr = err
        return rc, parse_report(out), out

    def result(self, **fields):
        fields.setdefault("cmd", self.last_cmd)
        fields.setdefault("stderr", self.last_stderr)
        return fields


def toml_value(value):
    """A module option's value as `--set` reads it (TOML, else a plain string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def parse_report(stdout):
    """The JSON document hotpatch printed on stdout, or None when it printed none."""
    text = stdout.strip()
    if not text.startswith("{"):
        return None
    try:
        report = json.loads(text)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def error_lines(errors):
    """hotpatch's listed errors as `path:line:col: message` lines (its own text format)."""
    lines = []
    for e in errors or []:
        if not isinstance(e, dict):
            lines.append(str(e))
        elif e.get("path"):
            line = "%s:%s:%s: %s" % (e["path"], e.get("line"), e.get("column"), e.get("message"))
            if e.get("method"):
                line += " (in %s)" % e["method"]
            lines.append(line)
        else:
            where = e.get("method") or e.get("name") or ""
            lines.append(("%s: %s" % (where, e.get("message"))).lstrip(": "))
    return lines


def failure(hp, rc, report, verb):
    """The fail_json fields for a command that failed: hotpatch's message, kind, errors, rc."""
    fields = {"rc": rc}
    if report is None:
        message = hp.last_stderr.strip() or (
            "hotpatch %s exited %d and printed no report" % (verb, rc))
        return hp.result(msg=message, **fields)
    fields["report"] = report
    fields["outcome"] = report.get("outcome")
    error = report.get("error") if isinstance(report.get("error"), dict) else None
    if error is not None:
        fields["kind"] = error.get("kind")
        fields["errors"] = error.get("errors") or []
        head = error.get("message") or "hotpatch %s failed" % verb
        lines = [head] + error_lines(fields["errors"])
        return hp.result(msg="\n".join(lines), **fields)
    fields["kind"] = fields["outcome"]
    return hp.result(msg=refusal_message(report, rc, verb), **fields)


def refusal_message(report, rc, verb):
    """The message of a report that did not fail outright but was refused (a rule, drift, a
    stopped rollout): its reason and the lines hotpatch lists."""
    outcome = report.get("outcome")
    if outcome == "refused" and report.get("refused"):
        head = "not pushed: changes would drop values that live objects hold (nothing was changed)"
        return "\n".join([head] + list(report["refused"]))
    if outcome == "needs_rebuild":
        head = "not pushed: changes cannot be applied to a running image (nothing was changed)"
        return "\n".join([head] + list(report.get("needs_rebuild") or []))
    if outcome == "drift":
        head = ("not pushed: definitions were changed in the image since hotpatch installed them "
                "(nothing was sent; `hotpatch pull` or overwrite_drift)")
        return "\n".join([head] + [d.get("name", str(d)) if isinstance(d, dict) else str(d)
                                   for d in report.get("drift") or []])
    if report.get("reason"):
        return report["reason"]
    rebuild = report.get("rebuild") if isinstance(report.get("rebuild"), dict) else {}
    if isinstance(rebuild.get("failure"), dict):
        return "the rebuild failed; the previous image is still running: %s" % (
            rebuild["failure"].get("message"))
    if report.get("problems"):
        return "\n".join(["rolled back, but some undo steps failed"] + list(report["problems"]))
    return "hotpatch %s exited %d (outcome %s)" % (verb, rc, outcome)


def push_args(p, dry_run):
    """The options of `hotpatch push` this task asks for."""
    args = ["push", "--json"]
    if dry_run:
        args.append("--dry-run")
    if p["no_cache"]:
        args.append("--no-cache")
    if p["allow_state_loss"]:
        args.append("--allow-state-loss")
    for rename in p["rename_vars"]:
        args += ["--rename-var", rename]
    if p["no_initialize"]:
        args.append("--no-initialize")
    if p["overwrite_drift"]:
        args.append("--overwrite-drift")
    if p["skip_unreachable"]:
        args.append("--skip-unreachable")
    if p["rebuild"] is not None:
        args.append("--rebuild" if p["rebuild"] else "--no-rebuild")
    return args


def method_diff(hp, member=None):
    """`hotpatch diff` of one target (or of `member`, a group's member report) as Ansible's
    prepared diff, or None when nothing differs or the diff could not be read (the push that
    follows reports why)."""
    p = hp.module.params
    args = ["diff", "--no-color"] + hp.common(with_target=member is None)
    if member is not None:
        args += ["--target", member["name"], "--url", member["url"]]
        if hp.token_env:
            args += ["--token-env", hp.token_env]
    args += ["--"] + list(p["paths"])
    rc, _, out = hp.run(args)
    if rc == DIFFERENCES and out.strip():
        if member is not None:
            out = "%s (every member that takes the batch gets these changes):\n%s" % (
                member["name"], out)
        return {"prepared": out}
    if rc not in (OK, DIFFERENCES):
        hp.module.warn("hotpatch diff exited %d, no diff shown: %s" % (rc, hp.last_stderr.strip()))
    return None


def push_one(hp):
    """state=pushed for one target: changed only when a batch was applied."""
    module = hp.module
    p = module.params
    diff = method_diff(hp) if module._diff else None
    rc, report, _ = hp.run(push_args(p, module.check_mode) + hp.common() + ["--"] + p["paths"])
    if rc != OK or report is None:
        module.fail_json(**failure(hp, rc, report, "push"))
    outcome = report.get("outcome")
    if outcome == "rebuilt":
        changed = True
        changes = (report.get("push") or {}).get("changes") or []
    else:
        changed = outcome in ("applied", "dry_run")
        changes = report.get("changes") or []
    fields = hp.result(
        changed=changed,
        rc=rc,
        outcome=outcome,
        changes=changes,
        report=report,
        msg=push_message(report, outcome, len(changes)),
    )
    if diff is not None and changed:
        fields["diff"] = diff
    module.exit_json(**fields)


def push_message(report, outcome, count):
    target = report.get("target", "the target")
    if outcome == "applied":
        return "pushed %d change(s) to %s (epoch %s -> %s, batch %s)" % (
            count, target, report.get("epoch_before"), report.get("epoch_after"),
            report.get("batch"))
    if outcome == "dry_run":
        return "would push %d change(s) to %s (check mode: nothing sent)" % (count, target)
    if outcome == "nothing_to_push":
        return "%s already matches the sources (epoch %s)" % (target, report.get("epoch_before"))
    if outcome == "rebuilt":
        return "%s was rebuilt from the sources and restarted" % target
    return "hotpatch push: %s" % outcome


def push_group(hp):
    """state=pushed with a group: the rollout's per-member results; changed when a member took
    the batch (in check mode: when one would)."""
    module = hp.module
    p = module.params
    diff = None
    if module._diff:
        diff = group_diff(hp)
    rc, report, _ = hp.run(push_args(p, module.check_mode) + hp.common() + ["--"] + p["paths"])
    if report is None or "targets" not in report:
        module.fail_json(**failure(hp, rc, report, "push --group"))
    targets = report.get("targets") or []
    outcome = report.get("outcome")
    if module.check_mode:
        changed = any(t.get("state") == "would_patch" for t in targets)
        ok = rc in (OK, DIFFERENCES) and outcome in ("dry_run", "nothing_to_push")
    else:
        changed = any(t.get("state") in TOOK_BATCH for t in targets)
        ok = rc == OK
    fields = hp.result(
        changed=changed,
        rc=rc,
        outcome=outcome,
        targets=targets,
        report=report,
    )
    if not ok:
        fields["kind"] = report.get("cause") or outcome
        fields["msg"] = refusal_message(report, rc, "push --group")
        module.fail_json(**fields)
    fields["msg"] = group_message(report, targets)
    # A dry run's exit 1 ("differences") is a success here; Ansible would take any rc but 0
    # for a failure unless told.
    fields["failed"] = False
    if diff is not None and changed:
        fields["diff"] = diff
    module.exit_json(**fields)


def group_diff(hp):
    """The diff of the first member that needs the batch (the survey of a dry run says who)."""
    p = hp.module.params
    rc, survey, _ = hp.run(push_args(p, True) + hp.common() + ["--"] + p["paths"])
    for member in (survey or {}).get("targets") or []:
        if member.get("state") == "would_patch":
            return method_diff(hp, member)
    return None


def group_message(report, targets):
    counts = {}
    for t in targets:
        counts[t.get("state")] = counts.get(t.get("state"), 0) + 1
    summary = ", ".join("%d %s" % (n, state) for state, n in sorted(counts.items()))
    return "group %s: %s (%s)" % (report.get("group"), report.get("outcome"), summary)


def roll_back(hp):
    """state=rolled_back: undo the last batch (one target, or every member of a group)."""
    module = hp.module
    p = module.params
    where = ("every member of group %s" % p["group"]) if p["group"] else "the target"
    if module.check_mode:
        module.exit_json(**hp.result(
            changed=True, rc=OK, outcome="check_mode",
            msg="check mode: would roll back the last batch of %s (not asked)" % where))
    rc, report, _ = hp.run(["rollback", "--json"] + hp.common())
    if rc != OK or report is None:
        module.fail_json(**failure(hp, rc, report, "rollback"))
    fields = hp.result(changed=True, rc=rc, report=report, outcome=report.get("outcome"))
    if "targets" in report:
        fields["targets"] = report["targets"]
        fields["changed"] = any("batch" in t for t in report["targets"])
        fields["msg"] = "rolled back the last batch of %s" % where
    else:
        fields["msg"] = "rolled back batch %s (epoch now %s)" % (
            report.get("batch"), report.get("epoch"))
    module.exit_json(**fields)


def status(hp):
    """state=status: the agent and the drift; never changed, never failed by drift."""
    module = hp.module
    rc, report, _ = hp.run(["status", "--json"] + hp.common())
    if rc not in (OK, DRIFT) or report is None:
        module.fail_json(**failure(hp, rc, report, "status"))
    # Exit 9 (drift) is what this state reports, not a failure (Ansible would take any rc but 0
    # for one unless told).
    fields = hp.result(
        changed=False, failed=False, rc=rc, report=report, drifted=rc == DRIFT
    )
    if "targets" in report:
        fields["targets"] = report["targets"]
    fields["msg"] = "drift: the image holds changes hotpatch did not make" if rc == DRIFT \
        else "no drift"
    module.exit_json(**fields)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="pushed", choices=["pushed", "rolled_back", "status"]),
            chdir=dict(type="path"),
            config=dict(type="path"),
            target=dict(type="str"),
            url=dict(type="str"),
            group=dict(type="str"),
            paths=dict(type="list", elements="path", default=[]),
            source=dict(type="path"),
            token=dict(type="str", no_log=True),
            token_env=dict(type="str", no_log=False),
            settings=dict(type="dict", default={}),
            rebuild=dict(type="bool"),
            no_cache=dict(type="bool", default=False),
            allow_state_loss=dict(type="bool", default=False),
            rename_vars=dict(type="list", elements="str", default=[]),
            no_initialize=dict(type="bool", default=False),
            overwrite_drift=dict(type="bool", default=False),
            skip_unreachable=dict(type="bool", default=False),
            executable=dict(type="path"),
        ),
        mutually_exclusive=[("group", "target"), ("group", "url"), ("group", "rebuild")],
        supports_check_mode=True,
    )
    p = module.params
    if p["chdir"] and not os.path.isdir(p["chdir"]):
        module.fail_json(msg="chdir %s is not a directory" % p["chdir"], rc=2)
    if p["skip_unreachable"] and not p["group"]:
        module.fail_json(msg="skip_unreachable goes with group only", rc=2)
    if p["state"] != "pushed" and p["paths"]:
        module.fail_json(msg="paths go with state=pushed only", rc=2)
    hp = Hotpatch(module)
    if p["state"] == "rolled_back":
        roll_back(hp)
    elif p["state"] == "status":
        status(hp)
    elif p["group"]:
        push_group(hp)
    else:
        push_one(hp)


if __name__ == "__main__":
    main()
