# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""strategy on the ansible-core under test: the play's strategy as a task
in a block, a role or an imported file finds it (loaded by the real loader;
the module does not matter, so the tasks are debug), and the
wait_for_capacity it gives."""

from __future__ import annotations

import os
import shutil
import tempfile
import unittest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook import Playbook
from ansible.vars.manager import VariableManager
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import strategy

try:  # ansible-core 2.15+: the plugin loader resolves nothing before this
    from ansible.plugins.loader import init_plugin_loader
except ImportError:
    init_plugin_loader = None


def setUpModule():
    if init_plugin_loader is not None:
        init_plugin_loader()


PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  {strategy}
  roles:
    - drainer
  tasks:
    - name: top
      ansible.builtin.debug: {{msg: a}}
    - block:
        - block:
            - name: nested
              ansible.builtin.debug: {{msg: b}}
    - import_tasks: imported.yml
'''


class TestPlayStrategy(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        os.makedirs(os.path.join(self.dir, 'roles', 'drainer', 'tasks'))
        with open(os.path.join(self.dir, 'roles', 'drainer', 'tasks', 'main.yml'), 'w') as f:
            f.write('- name: in role\n  ansible.builtin.debug: {msg: c}\n')
        with open(os.path.join(self.dir, 'imported.yml'), 'w') as f:
            f.write('- name: imported\n  ansible.builtin.debug: {msg: d}\n')

    def tasks(self, line):
        path = os.path.join(self.dir, 'site.yml')
        with open(path, 'w') as f:
            f.write(PLAYBOOK.format(strategy=line))
        loader = DataLoader()
        pb = Playbook.load(path, variable_manager=VariableManager(loader=loader), loader=loader)
        play = pb.get_plays()[0]
        found = {}

        def walk(block):
            for t in block.block:
                if hasattr(t, 'block'):
                    walk(t)
                else:
                    found[t.name] = t
        for b in play.compile():
            walk(b)
        return found

    def test_every_task_finds_the_play(self):
        for line, want in (('strategy: free', 'free'), ('strategy: host_pinned', 'host_pinned'),
                           ('strategy: ansible.builtin.linear', 'ansible.builtin.linear')):
            tasks = self.tasks(line)
            for name in ('top', 'nested', 'in role', 'imported'):
                self.assertIn(name, tasks)
                self.assertEqual(strategy.play_strategy(tasks[name]), want, '%s, %s' % (line, name))

    def test_default_strategy(self):
        tasks = self.tasks('')
        self.assertEqual(strategy.play_strategy(tasks['top']), 'linear')

    def test_not_found(self):
        class Orphan(object):
            _parent = None
        self.assertIsNone(strategy.play_strategy(Orphan()))
        tasks = self.tasks('strategy: "{{ s }}"')
        self.assertIsNone(strategy.play_strategy(tasks['top']))

    def test_waits_for_capacity(self):
        for name, want in (('free', True), ('ansible.builtin.host_pinned', True), ('mitogen_free', True),
                           ('linear', False), ('debug', False), ('ansible.builtin.linear', False),
                           ('other.collection.free', False), (None, False)):
            self.assertEqual(strategy.waits_for_capacity(name), want, name)

    def test_set_wait_for_capacity_keeps_what_the_task_sets(self):
        tasks = self.tasks('strategy: free')
        top, nested = tasks['top'], tasks['nested']
        strategy.set_wait_for_capacity(top)
        self.assertIs(top.args['wait_for_capacity'], True)
        nested.args['wait_for_capacity'] = False
        strategy.set_wait_for_capacity(nested)
        self.assertIs(nested.args['wait_for_capacity'], False)
        linear = self.tasks('')['top']
        strategy.set_wait_for_capacity(linear)
        self.assertIs(linear.args['wait_for_capacity'], False)


if __name__ == '__main__':
    unittest.main()
