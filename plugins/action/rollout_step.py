# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""One step of the deploy role, as one item of the role's step loops.

Each task of the role costs Ansible a worker, a round of variables and a
round of callbacks per host, whatever it does. The role therefore runs the
steps before its deploy step as the items of one task, and those after it as
the items of another, each item on its own host (``delegate_to: item.host``):
the checks on the app host, the drain on each load balancer, then verify,
register and watch. This plugin runs the step an item names with the
collection module that does it (see plugin_utils.steps).

An item runs only once every earlier item of its task succeeded: a verify
that failed must never be followed by a register. ansible-core runs the items
of a task one after another in one worker process, so the items leave their
outcome in this module's memory for the next; an item that finds no word of
its predecessors refuses to run, so the rule fails closed.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.action import ActionBase
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import steps
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.binary import note_role_step

# (task id, host) -> the outcomes of the task's items so far, in order.
_LEDGER = {}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        try:
            call = steps.parse_args(self._task.args)
        except steps.StepError as e:
            result.update(failed=True, msg=to_native(e))
            return result

        key = (self._task._uuid, to_text(task_vars.get('inventory_hostname')))
        if call.index == 0:
            _LEDGER[key] = []
        done = _LEDGER.get(key)
        refusal = steps.refuse_after(done, call)
        if refusal is not None:
            result.update(refusal)
            if done is not None:
                done.append(steps.outcome(call, result))
            return result

        try:
            result.update(self._run_step(call, task_vars, done))
        except AnsibleConnectionFailure:
            raise  # an unreachable host is Ansible's to report
        except (AnsibleError, steps.StepError) as e:
            result.update(failed=True, msg=to_native(e))
        host = self._task.delegate_to or task_vars.get('inventory_hostname')
        result.update(zdt_step=call.spec.step, zdt_label=call.label, zdt_host=to_text(host))
        if call.spec.module and 'zdt_module' not in result:
            result['zdt_module'] = call.spec.module
        done.append(steps.outcome(call, result))
        return result

    def _run_step(self, call, task_vars, done):
        if call.name == 'check':
            return self._check(call, task_vars)
        if call.name == 'pause':
            return self._pause(call)
        if call.name == 'plan':
            return steps.plan(call.params.get('before') or [], done)
        return self._module(call.spec.module, call.module_args(), task_vars, call.spec.record)

    def _check(self, call, task_vars):
        """The role's input checks, then proof that the host answers (the
        drain would succeed for a host Ansible cannot reach, and the deploy
        would then fail to connect with the host out of rotation)."""
        verdict = steps.check(call.params, to_text(task_vars.get('inventory_hostname')))
        if verdict is not None:
            return verdict
        # With nothing between the check and the deploy step (deploy_lb
        # none), the run record learns here that the host is about to move.
        record = 'deploy' if steps.flag(call.params, 'last') else None
        token = call.params.get('token')
        if token:
            res = self._module('deploy_token', dict(token), task_vars, record)
            res['zdt_module'] = 'deploy_token'
            return res
        res = {'changed': False, 'msg': 'the inputs are sound and the host answers'}
        if steps.flag(call.params, 'reach'):
            out = self._low_level_execute_command('true', sudoable=False)
            if out.get('rc') != 0:
                return {'failed': True, 'msg': 'cannot run a command on the host (rc=%s): %s' % (
                    out.get('rc'), to_text(out.get('stderr') or out.get('stdout') or '').strip()[:400])}
        warning = note_role_step(self._templar, self._task, task_vars, record, res)
        if warning:
            res['warnings'] = [warning]
        return res

    def _pause(self, call):
        seconds = steps.seconds(call.params, 'seconds')
        if self._task.check_mode:
            return {'skipped': True, 'msg': 'check mode: no pause'}
        time.sleep(seconds)
        return {'changed': False, 'msg': 'paused %g s after the first batch' % seconds}

    def _module(self, module, args, task_vars, record):
        """Run a collection module through its own action plugin, with the
        same connection, as if the task had named it."""
        task = self._task.copy()
        task.args = args
        action = self._shared_loader_obj.action_loader.get(
            'zerodowntime.rolling.%s' % module, task=task, connection=self._connection,
            play_context=self._play_context, loader=self._loader, templar=self._templar,
            shared_loader_obj=self._shared_loader_obj)
        if action is None:
            raise AnsibleError('the collection has no action plugin for %s' % module)
        step_vars = dict(task_vars)
        # The run record notes the step (plugin_utils.record); None: no note.
        step_vars['_deploy_step'] = record
        try:
            return action.run(task_vars=step_vars)
        finally:
            action.cleanup()
