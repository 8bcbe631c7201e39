# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""The rollout callback in a real ansible-playbook run (the one run.sh
finds first on PATH): a small serial play whose tasks carry _deploy_step
and _deploy_phase as the role's do, where app-2 fails its verify, is
rescued and rolled back, and app-3 is never reached. Stand-ins for the
collection's modules (library/) return the shapes the real ones do, so no
build is needed; the summary must pick its fields from them and nothing
else."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import textwrap
import unittest

SECRET = 'tok-5ecret-0000'

FILES = {
    'inventory.yml': '''
        all:
          vars: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3}
          children:
            app:
              hosts: {app-1: {new: v2}, app-2: {new: v2, broken: true}, app-3: {new: v2}}
    ''',
    'deploy.yml': '''
        - hosts: app
          serial: 1
          gather_facts: false
          tasks:
            - block:
                - name: Check
                  ansible.builtin.assert: {that: [true], quiet: true}
                - name: Drain
                  lb_drain: {api_token: "''' + SECRET + '''"}
                  no_log: false
                  vars: {_deploy_step: drain}
                - name: Run the deploy step
                  ansible.builtin.include_tasks: step.yml
                  vars: {_deploy_step: deploy}
                - name: Verify
                  deploy_verify: {version: "{{ new }}", fail: "{{ broken | default(false) }}"}
                  vars: {_deploy_step: verify}
                - name: Watch
                  deploy_watch: {}
                  vars: {_deploy_step: watch}
              rescue:
                - name: Roll back
                  ansible.builtin.include_tasks: rollback.yml
                  vars: {_deploy_phase: rollback}
                - name: Rollout failed
                  ansible.builtin.fail:
                    msg: "{{ inventory_hostname }}: the verify step failed: {{ ansible_failed_result.msg }}"
    ''',
    'step.yml': '''
        - name: Restart
          ansible.builtin.command: sleep 0.3
          changed_when: true
    ''',
    'rollback.yml': '''
        - name: Restart the old version
          ansible.builtin.command: "true"
          vars: {_deploy_step: rollback}
        - name: Rollback verify
          deploy_verify: {version: v1}
          vars: {_deploy_step: verify}
    ''',
    'library/lb_drain.py': '''
        #!/usr/bin/python3
        import json
        print(json.dumps({"changed": True, "pools": [{"kind": "target_group", "name": "web",
                          "before": {"registered": True}, "after": {"registered": False}}]}))
    ''',
    'library/deploy_verify.py': '''
        #!/usr/bin/python3
        from ansible.module_utils.basic import AnsibleModule
        import json
        m = AnsibleModule(dict(version=dict(type="str"), fail=dict(type="bool", default=False)))
        body = json.dumps({"version": m.params["version"]})
        if m.params["fail"]:
            m.fail_json(msg='served token "stale"', body_excerpt=body)
        m.exit_json(changed=False, body_excerpt=body, status=200)
    ''',
    'library/deploy_watch.py': '''
        #!/usr/bin/python3
        import json
        print(json.dumps({"changed": False, "watch": {"window": 1, "elapsed": 1.0, "passed": True, "signals": [
            {"name": "probe http://u:pw@127.0.0.1/healthz", "kind": "probe", "probes": 4, "errors": 0}]}}))
    ''',
}


def write_files(directory, files):
    """Writes files (relative path -> indented text) under directory."""
    for name, text in files.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text).lstrip())


class TestRolloutCallback(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.playbook = shutil.which('ansible-playbook')
        if cls.playbook is None:
            raise unittest.SkipTest('no ansible-playbook on PATH')

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        write_files(self.dir, FILES)

    def run_playbook(self, **env):
        e = dict((k, v) for k, v in os.environ.items()
                 if not k.startswith(('ANSIBLE_', 'ZDT_')) or k == 'ANSIBLE_COLLECTIONS_PATH')
        e.update(ANSIBLE_CALLBACKS_ENABLED='zerodowntime.rolling.rollout', ANSIBLE_NOCOLOR='1',
                 ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_RETRY_FILES_ENABLED='false')
        e.update(env)
        p = subprocess.run([self.playbook, '-i', 'inventory.yml', 'deploy.yml'], cwd=self.dir, env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300, check=False)
        self.assertEqual(p.returncode, 2, 'ansible-playbook: want exit 2 (app-2 fails)\n' + p.stdout + p.stderr)
        self.assertNotIn('rollout', p.stderr.lower(), p.stderr)  # no warning from the callback
        self.assertNotIn('DEPRECATION', p.stderr, p.stderr)
        return p.stdout

    def test_table_and_json(self):
        out = self.run_playbook(ZDT_ROLLOUT_JSON=os.path.join(self.dir, 'rollout.json'))
        table = out[out.index('ROLLOUT SUMMARY'):].splitlines()
        self.assertEqual(table[1].split(), ['host', 'phase', 'drain', 'deploy', 'verify', 'register', 'watch',
                                            'rollback', 'before', 'after', 'load', 'balancers', 'result'])
        cells = [line.split() for line in table]
        # Times vary: the columns without a time must say so.
        self.assertEqual([cells[2][i] for i in (0, 1, 5, 7, 8, 9, 10, 11, 12)],
                         ['app-1', 'deploy', '-', '-', '-', 'v2', 'tg', 'web', 'ok'])
        self.assertEqual([cells[3][i] for i in (0, 1, 5, 6, 7, 8, 9)] + cells[3][-5:],
                         ['app-2', 'deploy', '-', '-', '-', '-', 'v1', 'tg', 'web', 'FAILED', 'at', 'verify'])
        self.assertRegex(table[2], r'^app-1\s+deploy(\s+\d+\.\ds){3}\s+-\s+\d+\.\ds\s')
        self.assertEqual(table[4].split()[:2], ['app-2', 'rollback'])
        self.assertEqual(table[5].split(), ['app-3', '-'] + ['-'] * 9 + ['untouched'])
        self.assertEqual(table[6:8], ['watch app-1 passed after 1.0s of 1.0s', '  probe http://127.0.0.1/healthz: errors=0, probes=4'])
        self.assertTrue(table[-2].startswith('failed app-2 at the verify step: app-2: the verify step failed: served token "stale"'), table[-2])
        self.assertEqual(table[-1], 'untouched app-3')

        path = os.path.join(self.dir, 'rollout.json')
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            doc = json.load(f)
        self.assertEqual((doc['version'], doc['playbook'], doc['ok'], doc['untouched']), (1, 'deploy.yml', False, ['app-3']))
        self.assertEqual(doc['failed']['host'], 'app-2')
        self.assertEqual((doc['failed']['phase'], doc['failed']['step']), ('deploy', 'verify'))
        h1, h2, h3 = doc['hosts']
        self.assertEqual(sorted(h1['phases']['deploy']), ['deploy', 'drain', 'verify', 'watch'])
        self.assertGreaterEqual(h1['phases']['deploy']['deploy'], 0.3)  # the include's sleep, through its vars
        self.assertEqual((h1['version_before'], h1['version_after'], h1['status']), (None, 'v2', 'ok'))
        self.assertEqual(h1['watch'][0]['signals'][0]['name'], 'probe http://127.0.0.1/healthz')
        self.assertEqual(sorted(h2['phases']), ['deploy', 'rollback'])
        self.assertEqual(sorted(h2['phases']['rollback']), ['rollback', 'verify'])
        self.assertEqual((h2['version_after'], h2['status']), ('v1', 'failed'))
        self.assertEqual(h2['load_balancers'], [{'kind': 'target_group', 'name': 'web'}])
        self.assertEqual((h3['status'], h3['phases']), ('untouched', {}))
        self.assertNotIn(SECRET, out)
        with open(path) as f:
            self.assertNotIn(SECRET, f.read())

    def test_ini_path_replaces_a_symlink(self):
        target = os.path.join(self.dir, 'target')
        with open(target, 'w') as f:
            f.write('keep')
        path = os.path.join(self.dir, 'out.json')
        os.symlink(target, path)
        cfg = os.path.join(self.dir, 'ansible.cfg')
        with open(cfg, 'w') as f:
            f.write('[callback_rollout]\njson_path = %s\n' % path)
        self.run_playbook(ANSIBLE_CONFIG=cfg)
        self.assertFalse(os.path.islink(path))
        with open(target) as f:
            self.assertEqual(f.read(), 'keep')
        with open(path) as f:
            self.assertEqual(json.load(f)['untouched'], ['app-3'])


# A stand-in for the deploy role in its new shape, in a collection of its
# own beside the real callback: the take-out and put-back loops of
# rollout_step items, the user's deploy step included between them, and a
# rescue that rolls back. The stand-in rollout_step returns the items'
# results as the interface says (zdt_step, zdt_module, the module's keys),
# sleeps where told, and skips the items after a failed one.
ROLE_FILES = {
    'inventory.yml': '''
        all:
          vars: {ansible_connection: local, ansible_python_interpreter: /usr/bin/python3}
          hosts:
            lb1: {}
          children:
            app:
              hosts: {app-1: {check_sleep: 3}, app-2: {fail_steps: [verify]}, app-3: {fail_steps: [check]}}
    ''',
    'deploy.yml': '''
        - hosts: app
          serial: [1, 2]
          gather_facts: false
          roles:
            - role: zerodowntime.rolling.deploy
              deploy_tasks_file: "{{ playbook_dir }}/step.yml"
              deploy_rollback_tasks_file: "{{ playbook_dir }}/undo.yml"
    ''',
    'step.yml': '''
        - name: Restart
          ansible.builtin.command: sleep 0.2
        - name: Say so
          ansible.builtin.debug: {msg: restarted}
    ''',
    'undo.yml': '''
        - name: Restart the old version
          ansible.builtin.command: "true"
          vars: {_deploy_step: rollback}
    ''',
    'coll/ansible_collections/zerodowntime/rolling/roles/deploy/meta/argument_specs.yml': '''
        argument_specs:
          main:
            short_description: The stand-in role
            options:
              deploy_tasks_file: {type: str, required: true}
              deploy_rollback_tasks_file: {type: str, required: true}
              fail_steps: {type: list, elements: str, default: []}
    ''',
    'coll/ansible_collections/zerodowntime/rolling/roles/deploy/vars/main.yml': '''
        _deploy_out_steps:
          - {step: check, host: "{{ inventory_hostname }}", label: checks, sleep: "{{ check_sleep | default(0) }}"}
          - {step: drain, host: lb1, label: drain on lb1, wait: 1}
        _deploy_back_steps:
          - {step: verify, host: "{{ inventory_hostname }}", label: verify}
          - {step: register, host: lb1, label: register on lb1}
          - {step: watch, host: lb1, label: watch}
    ''',
    'coll/ansible_collections/zerodowntime/rolling/roles/deploy/tasks/main.yml': '''
        - name: Take the host out
          ansible.legacy.rollout_step: &step
            step: "{{ item.step }}"
            app: "{{ inventory_hostname }}"
            sleep: "{{ item.sleep | default(0) }}"
            fail: "{{ item.step in fail_steps | default([]) }}"
            marks: "{{ playbook_dir }}"
          loop: "{{ _deploy_out_steps }}"
          loop_control: {label: "{{ item.label }}"}
          delegate_to: "{{ item.host }}"
          vars: {_deploy_step: drain}
        - block:
            - name: Run the deploy step
              ansible.builtin.include_tasks: "{{ deploy_tasks_file }}"
              vars: {_deploy_step: deploy}
            - name: Put the host back
              ansible.legacy.rollout_step: *step
              loop: "{{ _deploy_back_steps }}"
              loop_control: {label: "{{ item.label }}"}
              delegate_to: "{{ item.host }}"
              vars: {_deploy_step: verify}
          rescue:
            - name: Roll back
              ansible.builtin.include_tasks: "{{ deploy_rollback_tasks_file }}"
              vars: {_deploy_phase: rollback}
            - name: Undo every host
              ansible.builtin.debug: {msg: not this time}
              when: false
            - name: Rollout failed
              ansible.builtin.fail:
                msg: "{{ inventory_hostname }}: the verify step failed: {{ ansible_failed_result.msg }}"
    ''',
    'library/rollout_step.py': '''
        #!/usr/bin/python3
        import json, os, time
        from ansible.module_utils.basic import AnsibleModule
        m = AnsibleModule(dict(step=dict(), app=dict(), sleep=dict(type="float"), fail=dict(type="bool"),
                               marks=dict()))
        p = m.params
        mark = os.path.join(p["marks"], p["app"] + ".failed")
        module = {"drain": "haproxy_maint", "register": "haproxy_maint", "verify": "deploy_verify",
                  "watch": "deploy_watch"}.get(p["step"])
        r = {"zdt_step": p["step"]}
        if module:
            r["zdt_module"] = module
        if os.path.exists(mark):
            m.exit_json(skipped=True, **r)
        time.sleep(p["sleep"])
        if module == "haproxy_maint":
            r.update(changed=True, backends=[{"backend": "web", "server": p["app"]}])
        elif module == "deploy_verify":
            r["body_excerpt"] = json.dumps({"version": "v2"})
        elif module == "deploy_watch":
            r["watch"] = {"window": 1, "elapsed": 1.0, "passed": True, "signals": [{"name": "probe", "errors": 0}]}
        if p["fail"]:
            open(mark, "w").close()
            m.fail_json(msg="the %s of %s failed" % (p["step"], p["app"]), **r)
        m.exit_json(**r)
    ''',
}


class TestRolloutCallbackRole(unittest.TestCase):
    """The callback with a role of the new shape: item timing, the items'
    modules, and the count of the role's own tasks per host."""

    @classmethod
    def setUpClass(cls):
        cls.playbook = shutil.which('ansible-playbook')
        if cls.playbook is None:
            raise unittest.SkipTest('no ansible-playbook on PATH')

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        write_files(self.dir, ROLE_FILES)
        # The real callback, beside the stand-in role.
        here = os.path.dirname(os.path.abspath(__file__))
        plugins = os.path.join(here, '..', '..', '..', '..', 'plugins')
        dst = os.path.join(self.dir, 'coll', 'ansible_collections', 'zerodowntime', 'rolling', 'plugins')
        os.makedirs(dst)
        for d in ('callback', 'plugin_utils'):
            os.symlink(os.path.realpath(os.path.join(plugins, d)), os.path.join(dst, d))

    def test_items_and_role_tasks(self):
        e = dict((k, v) for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'ZDT_')))
        e.update(ANSIBLE_CALLBACKS_ENABLED='zerodowntime.rolling.rollout', ANSIBLE_NOCOLOR='1',
                 ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_RETRY_FILES_ENABLED='false',
                 ANSIBLE_COLLECTIONS_PATH=os.path.join(self.dir, 'coll'),
                 ZDT_ROLLOUT_JSON=os.path.join(self.dir, 'rollout.json'))
        p = subprocess.run([self.playbook, '-i', 'inventory.yml', 'deploy.yml'], cwd=self.dir, env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300, check=False)
        self.assertEqual(p.returncode, 2, 'ansible-playbook: want exit 2 (app-2 fails)\n' + p.stdout + p.stderr)
        self.assertNotIn('rollout', p.stderr.lower(), p.stderr)
        with open(os.path.join(self.dir, 'rollout.json')) as f:
            doc = json.load(f)
        h1, h2, h3 = doc['hosts']
        out = p.stdout
        # The check item's 3 s are no step's; without item timing the
        # drain would read the whole task's time, more than 3 s.
        self.assertEqual(sorted(h1['phases']['deploy']), ['deploy', 'drain', 'register', 'verify', 'watch'], out)
        self.assertLess(h1['phases']['deploy']['drain'], 3, out)
        self.assertGreaterEqual(h1['phases']['deploy']['deploy'], 0.2, out)
        self.assertEqual((h1['status'], h1['version_after']), ('ok', 'v2'))
        self.assertEqual(h1['load_balancers'], [{'kind': 'haproxy', 'name': 'web', 'on': 'lb1'}])
        self.assertEqual(h1['watch'][0]['passed'], True)
        # Validation, take out, the include, put back; not the user's two.
        self.assertEqual(h1['tasks'], {'deploy': 4})
        # app-2: its verify item failed, the register and watch items
        # were skipped; the rescue's include, its skipped task and its fail
        # task count too.
        self.assertEqual((h2['status'], h2['failed_phase'], h2['failed_step']), ('failed', 'deploy', 'verify'))
        self.assertNotIn('register', h2['phases']['deploy'])
        self.assertEqual(h2['tasks'], {'deploy': 6, 'rollback': 1})
        # app-3: stopped by its check, untouched as before.
        self.assertEqual((h3['status'], h3['touched'], h3['failed_step']), ('failed', False, None))
        self.assertEqual(h3['tasks'], {'deploy': 2})
        self.assertEqual(doc['untouched'], ['app-3'])
        self.assertEqual(doc['failed']['step'], 'verify')
        self.assertIn('\nrole tasks per host: app-1 4, app-2 6 + 1 rollback, app-3 2\n', out)


if __name__ == '__main__':
    unittest.main()
