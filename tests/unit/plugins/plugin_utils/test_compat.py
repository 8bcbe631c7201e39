# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""compat on the ansible-core under test (moved from the Go test TestCompat):
it calls _parse_returned_data the way each signature wants, parses a
module's result with this ansible-core's own ActionBase, and writes module
arguments this ansible-core's way."""

from __future__ import annotations

import json
import unittest

from ansible.plugins.action import ActionBase
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import compat


class Old:
    def _parse_returned_data(self, res):
        return {'called': 'res'}


class New:
    def _parse_returned_data(self, res, profile):
        return {'called': 'res, ' + profile}


class Action(ActionBase):
    def run(self, tmp=None, task_vars=None):
        return {}


def action():
    """The real method, on an instance that skips __init__ (it needs a task
    and a connection); the parser reads only _used_interpreter, on failure."""
    a = object.__new__(Action)
    a._used_interpreter = None
    return a


class TestCompat(unittest.TestCase):

    def test_parse_returned_data_signatures(self):
        self.assertEqual(compat.parse_returned_data(Old(), {}), {'called': 'res'})
        self.assertEqual(compat.parse_returned_data(New(), {}), {'called': 'res, legacy'})

    def test_parses_a_result_with_this_ansible_core(self):
        parsed = compat.parse_returned_data(action(), {'rc': 0, 'stderr': '', 'stdout':
                                                       'noise before\n{"changed": true, "target": "10.0.0.5:8080", "elapsed": 1.25}\n'})
        got = dict((k, parsed.get(k)) for k in ('changed', 'target', 'elapsed', '_ansible_parsed'))
        self.assertEqual(got, {'changed': True, 'target': '10.0.0.5:8080', 'elapsed': 1.25, '_ansible_parsed': True})
        bad = compat.parse_returned_data(action(), {'rc': 1, 'stderr': 'boom', 'stdout': 'not json'})
        self.assertIs(bad.get('_ansible_parsed'), False)
        self.assertIs(bad.get('failed'), True)

    def test_module_args(self):
        args = compat.module_args_json({'ANSIBLE_MODULE_ARGS': {'url': 'http://h/', 'timeout': 5, 'expect_json': {'v': [1, None]}}})
        self.assertEqual(json.loads(args), {'ANSIBLE_MODULE_ARGS': {'url': 'http://h/', 'timeout': 5, 'expect_json': {'v': [1, None]}}})


if __name__ == '__main__':
    unittest.main()
