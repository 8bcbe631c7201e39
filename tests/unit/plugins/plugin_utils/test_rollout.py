# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""rollout: the run summary built from task starts and results (the shapes
the collection's modules return), its table and its JSON file."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import unittest

from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import rollout


class Run:
    """Feeds a Summary as the callback does, with a clock the test moves."""

    def __init__(self):
        self.s = rollout.Summary()
        self.t = 1000.0
        self.n = 0

    def task(self, host, seconds, step=None, status='ok', phase='deploy', action='command', result=None,
             ignore_errors=False):
        self.n += 1
        self.s.task_start(host, self.n, step, phase, self.t)
        self.t += seconds
        self.s.task_result(host, self.n, status, self.t, step=step, phase=phase, action=action,
                           result=result or {}, ignore_errors=ignore_errors)

    def loop(self, host, step, items, status='ok', phase='deploy', ignore_errors=False, per_item=True):
        """One rollout_step task over items, each (seconds, status, result),
        ending 0.05 s after its last item's result, as a run of the role's
        take-out or put-back task sends them (per_item False: as if the
        callback saw no item results)."""
        self.n += 1
        self.s.task_start(host, self.n, step, phase, self.t)
        for seconds, item_status, result in items:
            self.t += seconds
            if per_item:
                self.s.item_result(host, self.n, item_status, self.t, phase=phase, result=result)
        self.t += 0.05
        results = [i[2] for i in items]
        self.s.task_result(host, self.n, status, self.t, step=step, phase=phase,
                           action='zerodowntime.rolling.rollout_step', ignore_errors=ignore_errors,
                           result={'results': results, 'changed': any(r.get('changed') for r in results)})


def item(step, module=None, host='app-1', **keys):
    """A rollout_step item's result: the item, its step and module, and
    the module's own keys."""
    r = dict(keys, zdt_step=step, item={'step': step, 'host': host, 'label': step + ' on ' + host})
    if module:
        r['zdt_module'] = module
    return r


def take_out(host='app-1', lbs=('lb1', 'lb2')):
    """The take-out loop's items: checks, baseline, a drain on each HAProxy
    host; their times 0.6 s, 0.5 s, then 0.3 s and 0.2 s."""
    items = [(0.6, 'ok', item('check', host=host)),
             (0.5, 'ok', item('baseline', 'deploy_watch', host=host, baseline={'median_ms': 3}))]
    for lb, seconds in zip(lbs, (0.3, 0.2)):
        r = item('drain', 'haproxy_maint', host=lb, changed=True, backends=[{'backend': 'web', 'server': host}])
        r['item']['wait'] = 5
        items.append((seconds, 'ok', r))
    return items


def put_back(host='app-1', new='v2', fail_at=None):
    """The put-back loop's items: verify 0.2 s, registers 0.4 s and 0.1 s,
    the watch 10 s and the canary pause 5 s; from fail_at on, the item
    fails and those after it are skipped."""
    register = [item('register', 'haproxy_maint', host=lb, changed=True,
                     backends=[{'backend': 'web', 'server': host}]) for lb in ('lb1', 'lb2')]
    items = [(0.2, item('verify', 'deploy_verify', host=host, **verify(new))),
             (0.4, register[0]), (0.1, register[1]),
             (10.0, item('watch', 'deploy_watch', host='lb1', **WATCH)),
             (5.0, item('pause', host=host))]
    out, failed = [], False
    for seconds, r in items:
        if failed:
            out.append((0.0, 'skipped', dict(r, skipped=True)))
        elif r['zdt_step'] == fail_at:
            failed = True
            out.append((seconds, 'failed', dict(r, failed=True, msg='the %s of %s failed' % (fail_at, host))))
        else:
            out.append((seconds, 'ok', r))
    return out


def drain_haproxy(on='lb1'):
    return {'changed': True, 'results': [{'item': on, 'backends': [{'backend': 'web', 'server': 'app-1'}],
                                          'invocation': {'module_args': {'socket': '/run/haproxy.sock'}}}]}


def pools():
    return {'changed': True, 'pools': [
        {'kind': 'target_group', 'name': 'web', 'before': {'registered': True}, 'after': {'registered': False}},
        {'kind': 'target_group', 'name': 'other', 'before': {'registered': False}, 'after': {'registered': False}},
    ], 'invocation': {'module_args': {'secret_key': 'AWS-SECRET-123'}}}


def verify(version):
    return {'changed': False, 'body_excerpt': json.dumps({'version': version, 'host': '127.0.0.1:8081'}),
            'status': 200}


WATCH = {'changed': False, 'watch': {'window': 10, 'elapsed': 10.02, 'passed': True, 'signals': [
    {'name': 'haproxy backend web, server app-1', 'kind': 'haproxy', 'backend': 'web', 'errors': 0, 'requests': 412,
     'error_ratio': 0.0, 'latency_ratio': 1.08, 'check_flaps': 0, 'readings': 10, 'read_errors': 0, 'last_read_error': ''},
    {'name': 'probe http://ops:hunter2@10.0.0.5:8081/healthz?token=abc', 'kind': 'probe', 'probes': 10,
     'url_password': 'hunter2', 'headers': {'Authorization': 'Bearer xyz', 'accept': 'json'},
     'baseline': {'median_ms': 3.1}},
]}}


def full_host(r, host, new='v2', watch=None):
    r.task(host, 0.5, 'drain', action='zerodowntime.rolling.haproxy_maint', result=drain_haproxy())
    r.task(host, 0.1, 'deploy', action='zerodowntime.rolling.deploy_token', result={'changed': True})
    r.task(host, 3.0, 'deploy', action='ansible.builtin.include_tasks')
    r.task(host, 0.2, 'verify', action='zerodowntime.rolling.deploy_verify', result=verify(new))
    r.task(host, 0.4, 'register', action='zerodowntime.rolling.haproxy_maint', result=drain_haproxy())
    r.task(host, 10.0, 'watch', action='zerodowntime.rolling.deploy_watch', result=watch or WATCH)


class TestSummary(unittest.TestCase):

    def test_a_good_run(self):
        r = Run()
        r.s.play_hosts(['app-1', 'app-2'])
        for h in ('app-1', 'app-2'):
            r.task(h, 0.01, None, action='ansible.builtin.assert')
            r.task(h, 0.2, 'verify', action='zerodowntime.rolling.deploy_verify', result=verify('v1'))
            full_host(r, h)
            r.task(h, 0.0, 'watch', status='skipped')
        doc = r.s.to_dict()
        self.assertEqual(doc['version'], 1)
        self.assertTrue(doc['ok'])
        self.assertIsNone(doc['failed'])
        self.assertEqual(doc['untouched'], [])
        h = doc['hosts'][0]
        self.assertEqual(h['status'], 'ok')
        self.assertEqual(h['phases'], {'deploy': {'drain': 0.5, 'deploy': 3.1, 'verify': 0.4, 'register': 0.4, 'watch': 10.0}})
        self.assertEqual((h['version_before'], h['version_after']), ('v1', 'v2'))
        self.assertEqual(h['load_balancers'], [{'kind': 'haproxy', 'name': 'web', 'on': 'lb1'}])
        self.assertEqual(h['watch'][0]['passed'], True)
        self.assertEqual(doc['elapsed'], round(r.t - 1000.0, 2))

    def test_a_verify_after_the_drain_shows_the_new_version(self):
        r = Run()
        r.task('app-1', 0.1, 'verify', action='deploy_verify', result=verify('v1'))
        r.task('app-1', 0.1, 'drain', action='lb_drain', result=pools())
        r.task('app-1', 1, None, action='command')  # a deploy step without _deploy_step
        r.task('app-1', 0.1, 'verify', action='deploy_verify', result=verify('v2'))
        h = r.s.to_dict()['hosts'][0]
        self.assertEqual((h['version_before'], h['version_after']), ('v1', 'v2'))

    def test_versions_are_never_guessed(self):
        r = Run()
        r.task('app-1', 1, 'deploy')
        for body in ('v2\n', '{"version": ', '["v2"]', '{"name": "v2"}', '{"version": true}'):
            r.task('app-1', 0.1, 'verify', action='deploy_verify', result={'body_excerpt': body})
        h = r.s.to_dict()['hosts'][0]
        self.assertEqual((h['version_before'], h['version_after']), (None, None))
        table = rollout.render(r.s.to_dict())
        self.assertRegex(table.splitlines()[2], r'^app-1 .*\s-\s+-\s+-\s+ok$')

    def test_failure_rescued_and_untouched_hosts(self):
        r = Run()
        r.s.play_hosts(['app-3', 'app-1', 'app-2', 'app-4'])  # app-3 first: the culprit is app-2 still
        full_host(r, 'app-1')
        r.task('app-2', 0.3, 'drain', action='zerodowntime.rolling.lb_drain', result=pools())
        r.task('app-2', 2.0, 'deploy', action='command', result={'changed': True})
        r.task('app-2', 8.0, 'verify', status='failed', action='zerodowntime.rolling.deploy_verify',
               result={'failed': True, 'msg': 'token: got "stale"', 'body_excerpt': '{"version": "v2"}'})
        r.task('app-2', 0.1, None, action='ansible.builtin.set_fact', result={'ansible_facts': {'x': 1}})
        r.task('app-2', 1.0, 'rollback', phase='rollback', action='command', result={'changed': True})
        r.task('app-2', 0.2, 'verify', phase='rollback', action='deploy_verify', result=verify('v1'))
        r.task('app-2', 0.0, None, status='failed', action='ansible.builtin.fail', result={
            'failed': True, 'msg': 'app-2: the verify step failed (Verify): token: got "stale". It was rolled back.'})
        # A later batch's host stopped by the role's first check: failed,
        # but never touched.
        r.task('app-3', 0.0, 'drain', status='failed', action='ansible.builtin.assert',
               result={'failed': True, 'msg': 'the rollout stopped before app-3 (not touched)'})
        doc = r.s.to_dict()
        self.assertFalse(doc['ok'])
        self.assertEqual(doc['failed'], {'host': 'app-2', 'phase': 'deploy', 'step': 'verify', 'reason':
                                         'app-2: the verify step failed (Verify): token: got "stale". It was rolled back.'})
        self.assertEqual(doc['untouched'], ['app-3', 'app-4'])
        doc['hosts'] = [doc['hosts'][i] for i in (1, 2, 0, 3)]  # back in the order of the table below
        h2 = doc['hosts'][1]
        self.assertEqual(h2['phases'], {'deploy': {'drain': 0.3, 'deploy': 2.0, 'verify': 8.0},
                                        'rollback': {'rollback': 1.0, 'verify': 0.2}})
        self.assertEqual((h2['version_before'], h2['version_after']), (None, 'v1'))
        self.assertEqual(h2['load_balancers'], [{'kind': 'target_group', 'name': 'web'}])
        self.assertEqual([h['status'] for h in doc['hosts']], ['ok', 'failed', 'failed', 'untouched'])
        self.assertEqual(rollout.render(r.s.to_dict()).splitlines()[2].split()[0], 'app-3')

        lines = rollout.render(doc).splitlines()
        self.assertTrue(lines[0].startswith('ROLLOUT SUMMARY'), lines[0])
        self.assertEqual(lines[1].split(), ['host', 'phase', 'drain', 'deploy', 'verify', 'register', 'watch',
                                            'rollback', 'before', 'after', 'load', 'balancers', 'result'])
        self.assertEqual(lines[3].split(), ['app-2', 'deploy', '0.3s', '2.0s', '8.0s', '-', '-', '-', '-', 'v1',
                                            'tg', 'web', 'FAILED', 'at', 'verify'])
        self.assertEqual(lines[4].split(), ['app-2', 'rollback', '-', '-', '0.2s', '-', '-', '1.0s'])
        self.assertTrue(lines[-2].startswith('failed app-2 at the verify step: app-2: the verify step failed (Verify)'), lines[-2])
        # Its check is timed in its step, but names no failed step.
        self.assertEqual(lines[5].split(), ['app-3', 'deploy', '0.0s', '-', '-', '-', '-', '-', '-', '-', '-', 'FAILED'])
        self.assertEqual((doc['hosts'][2]['failed_step'], doc['hosts'][2]['reason']), (None, 'the rollout stopped before app-3 (not touched)'))
        self.assertEqual(lines[-1], 'untouched app-3, app-4')

    def test_hosts_of_other_plays_are_not_listed(self):
        r = Run()
        r.s.play_hosts(['localhost'])
        r.task('localhost', 0.1, None, action='ansible.builtin.set_fact')
        r.s.play_hosts(['app-1', 'app-2'])
        full_host(r, 'app-1')
        doc = r.s.to_dict()
        self.assertEqual([h['name'] for h in doc['hosts']], ['app-1', 'app-2'])
        self.assertEqual(doc['untouched'], ['app-2'])

    def test_rollback_scope_all_fails_the_run_from_localhost(self):
        # deploy_rollback_scope all: app-2's watch fails and is rescued,
        # the undo play rolls back app-2 then app-1, and a last play on
        # localhost fails the run with app-2's message.
        r = Run()
        r.s.play_hosts(['app-1', 'app-2', 'app-3'])
        r.task('app-1', 0.5, 'baseline', action='deploy_watch', result={'baseline': {'median_ms': 3}})
        full_host(r, 'app-1')
        full_host(r, 'app-2')
        r.task('app-2', 4.0, 'watch', status='failed', action='deploy_watch',
               result={'failed': True, 'msg': 'the watch of app-2 failed after 4.0 s of 10 s: errors'})
        r.s.play_hosts(['localhost'])
        r.task('localhost', 0.1, None, action='set_fact')
        r.s.play_hosts(['app-2', 'app-1'])
        for h in ('app-2', 'app-1'):
            r.task(h, 0.3, 'drain', phase='undo', action='haproxy_maint', result=drain_haproxy())
            r.task(h, 0.2, 'verify', phase='undo', action='deploy_verify', result=verify('v1'))
            r.task(h, 10, 'watch', phase='undo', action='deploy_watch', result=WATCH)
        r.s.play_hosts(['localhost'])
        r.task('localhost', 0.0, None, status='failed', action='ansible.builtin.fail', result={
            'failed': True, 'msg': 'app-2: the watch step failed (Watch): errors. Rolled back: app-2, app-1.'})
        doc = r.s.to_dict()
        self.assertEqual([h['name'] for h in doc['hosts']], ['app-1', 'app-2', 'app-3'])
        self.assertEqual(doc['failed'], {'host': 'app-2', 'phase': 'deploy', 'step': 'watch',
                                         'reason': 'app-2: the watch step failed (Watch): errors. Rolled back: app-2, app-1.'})
        self.assertEqual([h['version_after'] for h in doc['hosts']], ['v1', 'v1', None])
        lines = rollout.render(doc).splitlines()
        self.assertEqual(lines[1].split()[:4], ['host', 'phase', 'baseline', 'drain'])
        self.assertEqual([ln.split()[:2] for ln in lines[2:7]],
                         [['app-1', 'deploy'], ['app-1', 'undo'], ['app-2', 'deploy'], ['app-2', 'undo'], ['app-3', '-']])
        self.assertEqual([ln for ln in lines if ln.startswith('watch ')],
                         ['watch app-1 passed after 10.0s of 10.0s', 'watch app-1 (undo) passed after 10.0s of 10.0s',
                          'watch app-2 passed after 10.0s of 10.0s', 'watch app-2 (undo) passed after 10.0s of 10.0s'])

    def test_unreachable_and_ignored_errors(self):
        r = Run()
        r.task('app-1', 0.1, 'drain', status='failed', action='command', ignore_errors=True, result={'failed': True})
        r.task('app-1', 0.1, None, status='unreachable', action='raw', result={'unreachable': True, 'msg': 'ssh: refused'})
        doc = r.s.to_dict()
        self.assertEqual(doc['failed'], {'host': 'app-1', 'phase': None, 'step': 'unreachable', 'reason': 'ssh: refused'})

    def test_watch_figures_hold_no_secret(self):
        r = Run()
        full_host(r, 'app-1')
        r.task('app-1', 2.0, 'watch', status='failed', action='deploy_watch', result={
            'failed': True, 'msg': 'the watch of app-1 failed after 2.0 s of 10 s: error ratio 0.2 > max_error_ratio 0.05',
            'watch': {'window': 10, 'elapsed': 2.0, 'passed': False, 'signals': [{'name': 'probe', 'errors': 4}]}})
        r.task('app-1', 10, None, action='deploy_watch', result={'baseline': {'median_ms': 3}, 'watch': {'passed': True}})
        doc = r.s.to_dict()
        text = json.dumps(doc) + rollout.render(doc)
        for secret in ('hunter2', 'ops:', 'token=abc', 'Bearer', 'AWS-SECRET', '/run/haproxy.sock'):
            self.assertNotIn(secret, text)
        watch = doc['hosts'][0]['watch']
        self.assertEqual(len(watch), 2)  # the baseline run is not a watch
        probe = watch[0]['signals'][1]
        self.assertEqual(probe['name'], 'probe http://10.0.0.5:8081/healthz?...')
        self.assertEqual(probe['headers'], {'accept': 'json'})
        self.assertEqual(probe['baseline'], {'median_ms': 3.1})
        self.assertEqual(watch[1]['passed'], False)
        self.assertIn('max_error_ratio 0.05', watch[1]['msg'])
        self.assertEqual(doc['failed']['step'], 'watch')
        table = rollout.render(doc)
        self.assertIn('watch app-1 passed after 10.0s of 10.0s', table)
        self.assertIn('watch app-1 FAILED after 2.0s of 10.0s', table)
        self.assertIn('  haproxy backend web, server app-1: requests=412, errors=0, error_ratio=0.0, latency_ratio=1.08, check_flaps=0\n', table)

    def test_loop_items_are_timed_in_their_own_steps(self):
        r = Run()
        r.s.play_hosts(['app-1'])
        r.loop('app-1', 'drain', take_out())
        r.task('app-1', 3.0, 'deploy', action='ansible.builtin.include_tasks')
        r.loop('app-1', 'verify', put_back())
        doc = r.s.to_dict()
        h = doc['hosts'][0]
        # The checks (0.6 s), the pause (5 s) and the tasks' own ends count
        # for no step.
        self.assertEqual(h['phases'], {'deploy': {'baseline': 0.5, 'drain': 0.5, 'deploy': 3.0, 'verify': 0.2,
                                                  'register': 0.5, 'watch': 10.0}})
        self.assertEqual((h['status'], h['touched'], h['version_after']), ('ok', True, 'v2'))
        self.assertEqual(h['load_balancers'], [{'kind': 'haproxy', 'name': 'web', 'on': 'lb1'},
                                               {'kind': 'haproxy', 'name': 'web', 'on': 'lb2'}])
        self.assertEqual([w['passed'] for w in h['watch']], [True])  # not the baseline
        self.assertIsNone(doc['failed'])
        lines = rollout.render(doc).splitlines()
        self.assertEqual(lines[1].split()[:7], ['host', 'baseline', 'drain', 'deploy', 'verify', 'register', 'watch'])
        self.assertEqual(lines[2].split()[:7], ['app-1', '0.5s', '0.5s', '3.0s', '0.2s', '0.5s', '10.0s'])

    def test_the_host_an_item_ran_on(self):
        # zdt_host first, then the item's host (a dict), then the item
        # itself (a host name); a list item names no host by itself.
        r = Run()
        backends = [{'backend': 'web', 'server': 'app-1'}]
        r.loop('app-1', 'drain', [
            (0.1, 'ok', dict(item('drain', 'haproxy_maint', host='lb1'), zdt_host='lb9', backends=backends)),
            (0.1, 'ok', dict(item('drain', 'haproxy_maint', host='lb2'), backends=backends)),
            (0.1, 'ok', dict(item('drain', 'haproxy_maint'), item='lb3', backends=backends)),
            (0.1, 'ok', dict(item('drain', 'haproxy_maint'), item=['drain_haproxy', 'lb4'], backends=backends)),
        ])
        lbs = r.s.to_dict()['hosts'][0]['load_balancers']
        self.assertEqual([lb.get('on') for lb in lbs], ['lb9', 'lb2', 'lb3', None])

    def test_without_item_results_a_loop_is_one_step(self):
        # What the callback did before it read items, and does for loops
        # whose items name no step: the take-out task's whole time, the
        # checks and the baseline included, is the drain's. The test above
        # tells the two apart.
        r = Run()
        r.loop('app-1', 'drain', take_out(), per_item=False)
        r.loop('app-1', 'verify', [(0.2, 'ok', {'item': 'x', 'changed': False})])
        h = r.s.to_dict()['hosts'][0]
        self.assertEqual(h['phases'], {'deploy': {'drain': 1.65, 'verify': 0.25}})

    def test_items_after_a_failed_item_count_for_nothing(self):
        r = Run()
        r.loop('app-1', 'drain', take_out())
        r.task('app-1', 3.0, 'deploy', action='ansible.builtin.include_tasks')
        r.loop('app-1', 'verify', put_back(fail_at='register'), status='failed')
        r.task('app-1', 1.0, 'rollback', phase='rollback', action='command', result={'changed': True})
        doc = r.s.to_dict()
        h = doc['hosts'][0]
        self.assertEqual(h['phases']['deploy'], {'baseline': 0.5, 'drain': 0.5, 'deploy': 3.0, 'verify': 0.2,
                                                 'register': 0.4})
        self.assertEqual(h['watch'], [])
        # The failed item's step and message, not the task's (verify, and
        # "One or more items failed").
        self.assertEqual(doc['failed'], {'host': 'app-1', 'phase': 'deploy', 'step': 'register',
                                         'reason': 'the register of app-1 failed'})

    def test_ignored_item_failures_are_no_failure(self):
        r = Run()
        r.loop('app-1', 'drain', take_out())
        r.loop('app-1', 'verify', put_back(fail_at='watch'), status='failed', ignore_errors=True)
        doc = r.s.to_dict()
        self.assertIsNone(doc['failed'])
        # A failed item is timed in its step, as a failed task is.
        self.assertEqual(doc['hosts'][0]['phases']['deploy']['watch'], 10.0)
        self.assertEqual(doc['hosts'][0]['status'], 'ok')

    def test_a_host_stopped_by_its_checks_is_untouched(self):
        r = Run()
        r.s.play_hosts(['app-1', 'app-2'])
        items = take_out('app-2')
        items[0] = (0.1, 'failed', dict(items[0][2], failed=True,
                                        msg='the rollout stopped before app-2 (not touched): app-1 failed earlier'))
        items[1:] = [(0.0, 'skipped', dict(i[2], skipped=True)) for i in items[1:]]
        r.loop('app-2', 'drain', items, status='failed')
        doc = r.s.to_dict()
        h = doc['hosts'][1]
        self.assertEqual((h['status'], h['touched'], h['failed_step'], h['failed_phase']), ('failed', False, None, None))
        self.assertEqual(h['phases'], {})  # the checks are no step's
        self.assertEqual(h['load_balancers'], [])
        self.assertEqual(doc['untouched'], ['app-1', 'app-2'])
        self.assertEqual(doc['failed'], {'host': 'app-2', 'phase': None, 'step': None, 'reason':
                                         'the rollout stopped before app-2 (not touched): app-1 failed earlier'})

    def test_a_host_the_checks_end_stays_untouched(self):
        # deploy_rollback_scope all after a failure: the check ends the
        # host, and the include that ends it (_deploy_step deploy) is no
        # deploy step.
        r = Run()
        r.s.play_hosts(['app-3'])
        items = take_out('app-3')
        items[0] = (0.1, 'ok', item('check', host='app-3', zdt_end=True, msg='not touched: a host failed'))
        items[1:] = [(0.0, 'skipped', dict(i[2], skipped=True)) for i in items[1:]]
        r.loop('app-3', 'drain', items)
        r.task('app-3', 0.08, step='deploy', action='ansible.builtin.include_tasks')
        doc = r.s.to_dict()
        h = doc['hosts'][0]
        self.assertEqual((h['status'], h['touched'], h['phases']), ('untouched', False, {}))
        self.assertEqual(doc['untouched'], ['app-3'])

    def test_the_token_write_touches_the_host(self):
        r = Run()
        items = take_out()
        items[0] = (0.6, 'ok', item('check', 'deploy_token', changed=True))
        items[2] = (0.3, 'failed', dict(items[2][2], failed=True, changed=False, msg='socket: refused'))
        items[3] = (0.0, 'skipped', dict(items[3][2], skipped=True))
        r.loop('app-1', 'drain', items, status='failed')
        doc = r.s.to_dict()
        h = doc['hosts'][0]
        self.assertEqual((h['status'], h['touched']), ('failed', True))
        self.assertEqual(doc['failed'], {'host': 'app-1', 'phase': 'deploy', 'step': 'drain', 'reason': 'socket: refused'})
        # A check that changed nothing touches nothing, even with a module.
        r = Run()
        r.loop('app-1', 'drain', [(0.1, 'ok', item('check', 'deploy_token', changed=False))])
        self.assertEqual(r.s.to_dict()['untouched'], ['app-1'])

    def test_role_tasks_per_host(self):
        def run(hosts, with_tasks):
            r = Run()
            r.s.play_hosts(hosts)
            for h in with_tasks:
                for phase in ['deploy'] * 4:
                    r.s.role_task(h, phase)
                full_host(r, h)
            return r

        r = run(['app-1', 'app-2'], ['app-1', 'app-2'])
        doc = r.s.to_dict()
        self.assertEqual([h['tasks'] for h in doc['hosts']], [{'deploy': 4}, {'deploy': 4}])
        self.assertIn('\nrole tasks per host: 4 on each host\n', rollout.render(doc) + '\n')
        r.s.role_task('app-2', 'deploy')
        r.s.role_task('app-2', 'rollback')
        r.s.role_task('app-2', None)
        doc = r.s.to_dict()
        self.assertEqual(doc['hosts'][1]['tasks'], {'deploy': 6, 'rollback': 1})
        lines = rollout.render(doc).splitlines()
        self.assertEqual(lines[4], 'role tasks per host: app-1 4, app-2 6 + 1 rollback')
        # Not "on each host" when a host of the table ran none.
        doc = run(['app-1', 'app-2', 'app-3'], ['app-1', 'app-2']).s.to_dict()
        self.assertEqual(doc['hosts'][2]['tasks'], {})
        self.assertIn('\nrole tasks per host: app-1 4, app-2 4\n', rollout.render(doc))
        # No line without the role (a playbook's own tasks).
        r = Run()
        full_host(r, 'app-1')
        self.assertNotIn('role tasks', rollout.render(r.s.to_dict()))

    def test_censored_results_are_not_read(self):
        r = Run()
        r.task('app-1', 1, 'deploy')
        r.task('app-1', 1, 'verify', action='deploy_verify',
               result={'censored': 'hidden', 'body_excerpt': '{"version": "v9"}'})
        self.assertIsNone(r.s.to_dict()['hosts'][0]['version_after'])


class TestWriteJSON(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(lambda: __import__('shutil').rmtree(self.dir))

    def test_atomic_private_and_no_symlink_followed(self):
        target = os.path.join(self.dir, 'elsewhere')
        with open(target, 'w') as f:
            f.write('keep')
        path = os.path.join(self.dir, 'rollout.json')
        os.symlink(target, path)
        rollout.write_json(path, {'version': 1})
        self.assertFalse(os.path.islink(path))
        with open(path) as f:
            self.assertEqual(json.load(f), {'version': 1})
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(target) as f:
            self.assertEqual(f.read(), 'keep')
        self.assertEqual(sorted(os.listdir(self.dir)), ['elsewhere', 'rollout.json'])

    def test_missing_directory_leaves_nothing(self):
        with self.assertRaises(OSError):
            rollout.write_json(os.path.join(self.dir, 'no', 'rollout.json'), {})
        with self.assertRaises(TypeError):
            rollout.write_json(os.path.join(self.dir, 'x.json'), {'bad': object()})
        self.assertEqual(os.listdir(self.dir), [])


if __name__ == '__main__':
    unittest.main()
