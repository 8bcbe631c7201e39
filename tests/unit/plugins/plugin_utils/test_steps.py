# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""steps: the deploy role's step loops, apart from Ansible: which item may
run after which, the role's input checks and their messages, and the
options as ansible-core 2.14 hands them over (text for numbers and
booleans)."""

from __future__ import annotations

import unittest

from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import steps


def call(name, index, label=None, **params):
    return steps.parse_args({'step': name, 'args': params, 'item_index': index, 'label': label or name})


SOUND = {'scope': 'host', 'undo': 'False', 'undo_follows': 'False', 'undoing': 'False',
         'deploy_tasks_file': 'True', 'deploy_role': 'False', 'rollback_step': 'False'}


class TestOrder(unittest.TestCase):

    def test_first_item_runs(self):
        self.assertIsNone(steps.refuse_after([], call('check', 0)))

    def test_item_after_a_failed_one_is_skipped(self):
        done = [steps.outcome(call('verify', 0, 'verify on web-1'), {'failed': True, 'msg': 'status 500'})]
        got = steps.refuse_after(done, call('register_haproxy', 1))
        self.assertTrue(got['skipped'])
        self.assertEqual(got['msg'], 'not run: verify on web-1 failed')
        self.assertEqual(got['zdt_step'], 'register')

    def test_failure_anywhere_before_stops(self):
        done = [steps.outcome(call('verify', 0), {}), steps.outcome(call('register_haproxy_ahead', 1), {'failed': True}),
                steps.outcome(call('register_haproxy', 2), {'skipped': True})]
        self.assertTrue(steps.refuse_after(done, call('watch', 3))['skipped'])

    def test_items_after_the_end_of_a_host_are_skipped(self):
        done = [steps.outcome(call('check', 0, 'check on web-3'), {'zdt_end': True})]
        self.assertEqual(steps.refuse_after(done, call('drain_haproxy', 1))['msg'], 'not run: the host ends at check on web-3')

    def test_no_word_of_earlier_items_fails_closed(self):
        # Items run in another process than their predecessors: refused,
        # never run as if those had passed.
        for done in (None, []):
            got = steps.refuse_after(done, call('register_lb', 1, 'register lb on localhost'))
            self.assertTrue(got['failed'])
            self.assertIn('register lb on localhost is item 1 of its task', got['msg'])

    def test_all_passed_runs(self):
        done = [steps.outcome(call('verify', 0), {'changed': False}), steps.outcome(call('register_haproxy', 1), {'changed': True})]
        self.assertIsNone(steps.refuse_after(done, call('watch', 2)))


class TestArgs(unittest.TestCase):

    def test_group_options_only_for_the_modules_that_take_them(self):
        group = {'provider': 'aws', 'secret_key': 's3cr3t'}
        for name, wants in (('drain_lb', True), ('register_lb', True), ('watch', True), ('reserve', True),
                            ('verify', False), ('drain_haproxy', False), ('baseline', False), ('fail_health', False)):
            args = dict(group, step=name, args={'timeout': 5}, item_index=0)
            got = steps.parse_args(args).module_args()
            self.assertEqual('secret_key' in got, wants, name)
            self.assertEqual(got['timeout'], 5)

    def test_item_options_win_over_the_group(self):
        got = steps.parse_args({'step': 'watch', 'args': {'provider': 'haproxy'}, 'item_index': '0',
                                'provider': 'aws'}).module_args()
        self.assertEqual(got['provider'], 'haproxy')

    def test_bad_input_names_the_option(self):
        for args, option in (({'step': 'deploy', 'item_index': 0}, 'step:'),
                             ({'step': 'verify', 'args': 'x', 'item_index': 0}, 'args:'),
                             ({'step': 'verify'}, 'item_index:'),
                             ({'step': 'verify', 'item_index': -1}, 'item_index:')):
            with self.assertRaises(steps.StepError) as e:
                steps.parse_args(args)
            self.assertTrue(str(e.exception).startswith(option), str(e.exception))

    def test_text_from_2_14(self):
        self.assertFalse(steps.flag({'x': 'False'}, 'x'))
        self.assertTrue(steps.flag({'x': 'True'}, 'x'))
        self.assertEqual(steps.seconds({'s': '3'}, 's'), 3.0)
        with self.assertRaises(steps.StepError):
            steps.flag({'x': 'maybe'}, 'x')
        with self.assertRaises(steps.StepError):
            steps.seconds({'s': '-1'}, 's')


class TestCheck(unittest.TestCase):

    def check(self, **change):
        params = dict(SOUND)
        params.update(change)
        return steps.check(params, 'web-3')

    def test_sound_inputs_pass(self):
        self.assertIsNone(self.check())

    def test_a_failed_host_stops_the_rollout(self):
        got = self.check(failed_hosts=['web-2'])
        self.assertEqual(got['msg'], 'the rollout stopped before web-3 (not touched): web-2 failed earlier in this play')

    def test_exactly_one_deploy_step(self):
        for change in ({'deploy_role': 'True'}, {'deploy_tasks_file': 'False'}):
            self.assertIn('set exactly one of deploy_tasks_file and deploy_role', self.check(**change)['msg'])

    def test_undo_runs_the_rollback_step(self):
        self.assertIsNone(self.check(undo='True', deploy_tasks_file='False', rollback_step='True'))
        self.assertIn('an undo needs the rollback step', self.check(undo='True')['msg'])

    def test_scope_all(self):
        self.assertIn('deploy_rollback_scope all needs the rollback step', self.check(scope='all')['msg'])
        self.assertIn('needs the playbook zerodowntime.rolling.undo', self.check(scope='all', rollback_step='True')['msg'])
        sound = dict(scope='all', rollback_step='True', undo_follows='True')
        self.assertIsNone(self.check(**sound))
        # A failed host: the others end untouched, and do not fail.
        got = self.check(failed_hosts=['web-2'], undoing='True', **sound)
        self.assertTrue(got['zdt_end'])
        self.assertNotIn('failed', got)


class TestPlan(unittest.TestCase):

    def test_lines_in_order_printed_without_v(self):
        done = [steps.outcome(call('verify', 0, 'verify on web-1'), {'msg': 'would poll'}),
                steps.outcome(call('register_haproxy', 1, 'register haproxy on lb-1'), {'msg': 'is ready already'})]
        got = steps.plan([['drain haproxy on lb-1', 'would set maint'], ['deploy', 'the deploy step']], done)
        self.assertEqual(got['msg'][1:], ['drain haproxy on lb-1: would set maint', 'deploy: the deploy step',
                                          'verify on web-1: would poll', 'register haproxy on lb-1: is ready already'])
        self.assertTrue(got['_ansible_verbose_always'])


if __name__ == '__main__':
    unittest.main()
