# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
name: rollout
type: aggregate
short_description: One summary table of a rolling deploy, and the same as JSON
version_added: 0.1.0
description:
  - At the end of the playbook, prints one table of what the rolling deploy did to each host, next to
    the output of the stdout callback.
  - Per host, the seconds spent in each step (drain, deploy, verify, register, watch; also rollback and
    take_out when a host went through them), the version before and after, the load balancers it is in,
    and whether it passed, failed (at which step, and the role's message saying why), or was never
    touched; then what each watch saw, signal by signal.
  - A task belongs to the step named in its C(_deploy_step) variable, and to the phase in
    C(_deploy_phase) (C(deploy), C(rollback) for a host the run moved back, C(undo)); the tasks of the
    C(zerodowntime.rolling.deploy) role carry them, and so can a playbook's own tasks. Other tasks
    count for no step. A step's time is the sum of its tasks' times on the host.
  - A task that runs several steps as loop items (the role's C(Take the host out) and C(Put the host
    back)) is timed item by item instead. Each item whose result names its step in C(zdt_step) counts
    for that step, from the previous item's result (or the task's start) to its own, and is read as
    the result of the module named in its C(zdt_module), on the host named in its C(zdt_host) (or
    its item's C(host)). Skipped items count for nothing. An item of the input checks
    (C(zdt_step) C(check)) touches the host only when it changed something (the deploy token),
    and a host they stop is reported failed but untouched, with no failed step.
  - The version is the C(version) key of a JSON body that M(zerodowntime.rolling.deploy_verify)
    returned in C(body_excerpt), before the host's drain or deploy step (before) and after it
    (after); C(-) when no such body names one.
  - A host is touched once one of the collection's modules, or a task of the deploy or rollback step,
    ran for it, or a task changed something on it.
  - Under the table, how many tasks of the C(zerodowntime.rolling.deploy) role ran on each host,
    whatever their outcome (ok, changed, failed, skipped, unreachable), counting its argument
    validation and its includes but not the tasks of the user's deploy or rollback step (those
    written outside the role's directory); in the JSON, each host's C(tasks) maps a phase to that
    count.
  - With I(json_path), also writes the same data as JSON (C(version) 1), for CI systems and chat
    notifications. It holds only the fields listed here, never a task's arguments or whole result;
    URLs lose their user, password and query.
  - Enable it with C(callbacks_enabled = zerodowntime.rolling.rollout) in C(ansible.cfg), or
    C(ANSIBLE_CALLBACKS_ENABLED=zerodowntime.rolling.rollout).
author: zerodowntime.rolling contributors (@zerodowntime)
requirements:
  - enabled through callbacks_enabled
options:
  json_path:
    description:
      - Where to write the summary as JSON, at the end of the playbook. The file is replaced
        atomically (a temporary file in the same directory, then renamed), a symbolic link at this path
        is replaced rather than followed, and its mode is 0600. Its directory must exist.
      - Unset, nothing is written.
    type: path
    env:
      - name: ZDT_ROLLOUT_JSON
    ini:
      - section: callback_rollout
        key: json_path
'''

import os
import time

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import rollout


def _task_var(task, name, play):
    """A task's own value of name: from its vars and its parents' (an
    include's vars reach the included tasks), then its role's, then the
    play's. Only plain strings count: a template is not evaluated here."""
    sources = [task.get_vars]
    role = getattr(task, '_role', None)
    if role is not None:
        sources.append(role.get_vars)
    if play is not None:
        sources.append(play.get_vars)
    for source in sources:
        try:
            value = source().get(name)
        except Exception:  # pylint: disable=broad-except
            continue  # an object this ansible-core shapes differently
        if isinstance(value, str) and '{{' not in value:
            return str(value)
    return None


# The role whose tasks are counted, and the action of the task ansible-core
# adds to a role with an argument spec.
DEPLOY_ROLE = 'zerodowntime.rolling.deploy'
VALIDATE_ACTIONS = ('validate_argument_spec', 'ansible.builtin.validate_argument_spec',
                    'ansible.legacy.validate_argument_spec')


def _role_task(task):
    """Whether task is one of the deploy role's own: written in the role's
    directory, or its argument validation. The user's deploy and rollback
    tasks, included from the role, carry the role too, but are written
    elsewhere."""
    role = getattr(task, '_role', None)
    if role is None:
        return False
    try:
        if role.get_name() != DEPLOY_ROLE:
            return False
        if task.action in VALIDATE_ACTIONS:
            return True
        path = (task.get_path() or '').rsplit(':', 1)[0]
        root = os.path.realpath(role._role_path)
    except Exception:  # pylint: disable=broad-except
        return False  # an object this ansible-core shapes differently
    return bool(path) and os.path.realpath(path).startswith(root + os.sep)


def _result_parts(result):
    """host, task and the result dict of a callback result, by the public
    names of ansible-core 2.19 or the private ones of earlier versions."""
    host = getattr(result, 'host', None) or result._host
    task = getattr(result, 'task', None) or result._task
    data = getattr(result, 'result', None)
    if not isinstance(data, dict):
        data = result._result
    return host, task, data


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'zerodowntime.rolling.rollout'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._summary = rollout.Summary()
        self._play = None

    def v2_playbook_on_start(self, playbook):
        name = getattr(playbook, '_file_name', None)
        self._summary.playbook = os.path.basename(name) if name else None
        self._summary.check_mode = bool(context.CLIARGS.get('check'))

    def v2_playbook_on_play_start(self, play):
        self._play = play
        # The play's hosts, so that those it never reached are listed: not
        # only this batch's (serial restricts the inventory to the batch),
        # but limited by --limit as the play is.
        try:
            inventory = play.get_variable_manager()._inventory
            hosts = inventory.get_hosts(play.hosts, ignore_restrictions=True, order=play.order)
            self._summary.play_hosts([h.get_name() for h in hosts])
        except Exception:  # pylint: disable=broad-except
            pass  # then only the hosts that ran a task are listed

    def _step(self, task):
        """The task's key, step and phase (computed each time: an included
        task's vars depend on the include that brought it)."""
        step = _task_var(task, '_deploy_step', self._play)
        phase = _task_var(task, '_deploy_phase', self._play)
        return (getattr(task, '_uuid', None) or id(task),
                (step if step in rollout.STEPS else None, phase if phase in rollout.PHASES else 'deploy'))

    def v2_runner_on_start(self, host, task):
        # Every task a worker runs starts here, skipped ones and includes
        # too (not meta tasks, which the role's happy path has none of).
        key, (step, phase) = self._step(task)
        self._summary.task_start(host.get_name(), key, step, phase, time.time())
        if _role_task(task):
            self._summary.role_task(host.get_name(), phase)

    def _result(self, result, status, ignore_errors=False):
        host, task, data = _result_parts(result)
        key, (step, phase) = self._step(task)
        self._summary.task_result(host.get_name(), key, status, time.time(), step=step, phase=phase,
                                  action=task.action, result=data, ignore_errors=ignore_errors)

    def _item(self, result, status):
        host, task, data = _result_parts(result)
        key, (dummy, phase) = self._step(task)
        if status == 'failed' and data.get('unreachable'):
            status = 'unreachable'
        self._summary.item_result(host.get_name(), key, status, time.time(), phase=phase, result=data)

    def v2_runner_item_on_ok(self, result):
        self._item(result, 'ok')

    def v2_runner_item_on_failed(self, result):
        self._item(result, 'failed')

    def v2_runner_item_on_skipped(self, result):
        self._item(result, 'skipped')

    def v2_runner_on_ok(self, result):
        self._result(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, 'failed', ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._result(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._result(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        doc = self._summary.to_dict()
        self._display.display(rollout.render(doc))
        path = self.get_option('json_path')
        if not path:
            return
        try:
            rollout.write_json(path, doc)
        except (OSError, TypeError, ValueError) as e:
            self._display.warning('zerodowntime.rolling.rollout: cannot write the summary to %s: %s' % (path, e))
