# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""The steps of the deploy role's step loops (plugins/action/rollout_step.py).

Each item of the role's two step loops names a step: what it is part of
(drain, verify, register, ...), the collection module that does it, and
whether it takes the load balancer options the role sets for the module
group ``zerodowntime.rolling.rolling`` (module_defaults). This module holds
those rules and the role's input checks, apart from Ansible, so that they can
be tested on their own.
"""

from __future__ import annotations

import collections

from ansible.module_utils.parsing.convert_bool import boolean

# step: the role step the item is part of (the rollout callback times it,
# the rescue tells by it what failed); module: the module that does it;
# group: whether it gets the rolling group's options (load balancer and
# credentials); record: the step the run record notes (None: no note).
Spec = collections.namedtuple('Spec', 'step module group record')

SPECS = {
    'check': Spec('check', None, False, None),
    # Before the drain: a note would tell the undo that the host moved.
    'baseline': Spec('baseline', 'deploy_watch', False, None),
    'reserve': Spec('drain', 'lb_drain', True, 'drain'),
    'fail_health': Spec('drain', 'health_file', False, 'drain'),
    # Behind several HAProxy hosts: the change made on every host but the
    # first without waiting (ahead), then on every host waiting, so that a
    # drain lasts as long as the slowest host, not their sum.
    'drain_haproxy_ahead': Spec('drain', 'haproxy_maint', False, 'drain'),
    'drain_haproxy': Spec('drain', 'haproxy_maint', False, 'drain'),
    'drain_lb': Spec('drain', 'lb_drain', True, 'drain'),
    'verify': Spec('verify', 'deploy_verify', False, 'verify'),
    'pass_health': Spec('register', 'health_file', False, 'register'),
    'register_haproxy_ahead': Spec('register', 'haproxy_maint', False, 'register'),
    'register_haproxy': Spec('register', 'haproxy_maint', False, 'register'),
    'register_lb': Spec('register', 'lb_register', True, 'register'),
    'watch': Spec('watch', 'deploy_watch', True, 'watch'),
    'pause': Spec('pause', None, False, None),
    'plan': Spec('plan', None, False, None),
}

# The plugin's own options; the rest are the rolling group's.
OWN_OPTIONS = ('step', 'args', 'item_index', 'label')


class StepError(Exception):
    """A task the role did not write (an option missing or of a wrong type)."""


class Call(object):
    """One item: its step, its module's arguments and its place in the loop."""

    def __init__(self, name, params, index, label, group):
        self.name = name
        self.spec = SPECS[name]
        self.params = params
        self.index = index
        self.label = label
        self.group = group

    def module_args(self):
        """The module's arguments: the group's options where the module takes
        them, the item's own over them."""
        args = dict(self.group) if self.spec.group else {}
        args.update(self.params)
        return args


def parse_args(args):
    """Return the Call the task's arguments describe, or raise StepError
    naming the option at fault."""
    args = dict(args or {})
    name = args.pop('step', None)
    if name not in SPECS:
        raise StepError('step: %r is not a step of the deploy role; use one of %s'
                        % (name, ', '.join(sorted(SPECS))))
    params = args.pop('args', None)
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise StepError('args: a dict of the step module\'s options is needed, got %s' % type(params).__name__)
    index = args.pop('item_index', None)
    try:
        index = int(index)
    except (TypeError, ValueError):
        raise StepError('item_index: the loop index of the item (loop_control index_var) is needed, got %r' % (index,))
    if index < 0:
        raise StepError('item_index: %d is not a loop index' % index)
    label = str(args.pop('label', None) or name)
    return Call(name, params, index, label, args)


def outcome(call, result):
    """What an item leaves for the next: whether they may go on, and what it said."""
    return {
        'label': call.label,
        'go': not (result.get('failed') or result.get('skipped') or result.get('zdt_end')),
        'failed': bool(result.get('failed')),
        'msg': result.get('msg'),
    }


def refuse_after(done, call):
    """None when call may run after the outcomes done of its task's earlier
    items; else the result it returns instead (skipped after a failed or
    final item, failed when the earlier items left no word)."""
    if done is None or len(done) != call.index:
        return {'failed': True, 'zdt_step': call.spec.step, 'msg': (
            'zerodowntime.rolling.rollout_step: %s is item %d of its task, but this process has no word of '
            'the %d before it, so it was not run; the deploy role runs its step loops in one worker process '
            'per host (ansible-core\'s loops do)' % (call.label, call.index, call.index))}
    stop = next((d for d in done if not d['go']), None)
    if stop is None:
        return None
    why = '%s failed' % stop['label'] if stop['failed'] else 'the host ends at %s' % stop['label']
    return {'skipped': True, 'zdt_step': call.spec.step, 'msg': 'not run: %s' % why}


def flag(params, name):
    """A boolean option of a step; ansible-core 2.14 templates the values
    of a dict variable to text ("False"), so the word counts, not its truth."""
    try:
        return boolean(params.get(name, False), strict=True)
    except TypeError:
        raise StepError('%s: a boolean is needed, got %r' % (name, params.get(name)))


def seconds(params, name):
    """A number of seconds option of a step (text on 2.14, as in flag)."""
    try:
        value = float(params.get(name) or 0)
    except (TypeError, ValueError):
        raise StepError('%s: a number of seconds is needed, got %r' % (name, params.get(name)))
    if value < 0:
        raise StepError('%s: %g is negative' % (name, value))
    return value


def _names(hosts):
    return ', '.join(str(h) for h in hosts)


def check(params, host):
    """The deploy role's checks before a host is touched: None when they
    pass, else the result (failed, or the end of the host when the rollout
    is being undone)."""
    scope = params.get('scope', 'host')
    undo = flag(params, 'undo')
    failed = params.get('failed_hosts') or []
    if failed and scope != 'all':
        return {'failed': True, 'msg': 'the rollout stopped before %s (not touched): %s failed earlier in this play'
                % (host, _names(failed))}
    if not undo and flag(params, 'deploy_tasks_file') == flag(params, 'deploy_role'):
        return {'failed': True, 'msg': 'set exactly one of deploy_tasks_file and deploy_role '
                                       '(the deploy step to run on each host)'}
    if (scope == 'all' or undo) and not flag(params, 'rollback_step'):
        return {'failed': True, 'msg': '%s needs the rollback step: set deploy_rollback_tasks_file or '
                                       'deploy_rollback_role' % ('an undo' if undo else 'deploy_rollback_scope all')}
    if scope == 'all' and not undo and not flag(params, 'undo_follows'):
        return {'failed': True, 'msg': (
            'deploy_rollback_scope all needs the playbook zerodowntime.rolling.undo imported after this play, '
            'which rolls the moved hosts back and fails the run; import it and set deploy_undo_follows: true '
            '(the playbook zerodowntime.rolling.deploy does both)')}
    if scope == 'all' and flag(params, 'undoing') and not undo:
        return {'changed': False, 'zdt_end': True,
                'msg': 'not touched: a host failed and the rollout is being undone'}
    return None


def plan(before, done):
    """The check-mode plan of a host: what each step's check-mode run said a
    run would do, the take-out loop's items (before: [label, msg] pairs)
    then this loop's. Printed without -v (as debug prints)."""
    lines = ['check mode changed nothing, so each step saw the host as it is now; a run would:']
    pairs = [tuple(p) for p in before if isinstance(p, (list, tuple)) and len(p) == 2]
    pairs += [(d['label'], d['msg']) for d in done or []]
    for label, msg in pairs:
        if msg:
            lines.append('%s: %s' % (label, msg))
    return {'changed': False, 'msg': lines, '_ansible_verbose_always': True}
