# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""record: the run record's file handling (private directory, no symlinks,
a new run replaces an old record, an undo does not) and which hosts it says
are still on the new version."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
import unittest

from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import record


def _note_many(directory, host, n):
    for i in range(n):
        record.note('web', host, 'deploy', 'verify', True, run='run-1', directory=directory)


class RecordTest(unittest.TestCase):

    def setUp(self):
        self.base = tempfile.mkdtemp()
        self.dir = os.path.join(self.base, 'runs')

    def tearDown(self):
        shutil.rmtree(self.base)

    def note(self, host, step, ok=True, phase='deploy', run='run-1', result=None):
        return record.note('web', host, phase, step, ok, result=result, run=run, directory=self.dir)

    def test_hosts_to_undo_last_moved_first(self):
        self.note('h1', 'drain', result={'restore': [{'pool': 'web', 'target': 'h1'}]})
        self.note('h1', 'verify')
        self.note('h2', 'drain')
        self.note('h2', 'verify')
        self.note('h3', 'drain', ok=False)  # refused for min_healthy: never taken out
        rec = record.read('web', self.dir)
        self.assertEqual(record.undo_hosts(rec), ['h2', 'h1'])
        self.assertEqual(record.host_state(rec['hosts']['h3']), 'untouched')
        self.assertEqual(rec['hosts']['h1']['restore'], [{'pool': 'web', 'target': 'h1'}])
        self.assertEqual(os.stat(self.dir).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(record.record_path('web', self.dir)).st_mode & 0o777, 0o600)

    def test_rolled_back_hosts_are_old_until_a_step_fails(self):
        self.note('h1', 'verify')
        self.note('h2', 'watch', ok=False)
        self.note('h2', 'verify', phase='rollback')
        self.note('h2', 'register', phase='rollback')
        rec = record.read('web', self.dir)
        self.assertEqual(record.undo_hosts(rec), ['h1'])
        self.note('h2', 'watch', ok=False, phase='rollback')
        self.assertEqual(record.undo_hosts(record.read('web', self.dir)), ['h2', 'h1'])
        self.note('h1', 'verify', phase='undo')
        self.assertEqual(record.undo_hosts(record.read('web', self.dir)), ['h2'])

    def test_a_new_rollout_replaces_the_record_an_undo_does_not(self):
        self.note('h1', 'verify')
        self.note('h2', 'verify', phase='undo', run='run-2')
        self.assertEqual(sorted(record.read('web', self.dir)['hosts']), ['h1', 'h2'])
        self.note('h3', 'verify', run='run-3')
        rec = record.read('web', self.dir)
        self.assertEqual(list(rec['hosts']), ['h3'])
        self.assertEqual(rec['run'], 'run-3')

    def test_symlinked_record_is_refused(self):
        os.makedirs(self.dir, mode=0o700)
        target = os.path.join(self.base, 'elsewhere')
        open(target, 'w').close()
        os.symlink(target, record.record_path('web', self.dir))
        with self.assertRaisesRegex(record.RecordError, 'symlink'):
            self.note('h1', 'verify')
        with self.assertRaisesRegex(record.RecordError, 'symlink'):
            record.read('web', self.dir)
        self.assertEqual(os.path.getsize(target), 0)

    def test_open_directory_is_refused(self):
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o777)
        with self.assertRaisesRegex(record.RecordError, 'only you own'):
            self.note('h1', 'verify')

    def test_foreign_file_is_refused(self):
        os.makedirs(self.dir, mode=0o700)
        with open(record.record_path('web', self.dir), 'w') as f:
            json.dump({'hosts': []}, f)
        with self.assertRaisesRegex(record.RecordError, 'not a record'):
            record.read('web', self.dir)

    def test_names_become_safe_file_names(self):
        self.assertEqual(os.path.basename(record.record_path('web', self.dir)), 'web.json')
        for name in ('../../etc/passwd', 'a/b', '.hidden', 'web:&!db'):
            path = record.record_path(name, self.dir)
            self.assertEqual(os.path.dirname(path), self.dir, name)
            self.assertFalse(os.path.basename(path).startswith('.'), name)
        self.assertNotEqual(record.record_path('a/b', self.dir), record.record_path('a_b', self.dir))
        with self.assertRaises(record.RecordError):
            record.record_path('', self.dir)

    def test_concurrent_notes_are_all_kept(self):
        procs = [multiprocessing.Process(target=_note_many, args=(self.dir, 'h%d' % i, 20)) for i in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        rec = record.read('web', self.dir)
        self.assertEqual(sorted(rec['hosts']), ['h0', 'h1', 'h2', 'h3'])
        for h in rec['hosts'].values():
            self.assertEqual(len(h['events']), 20)

    def test_old_records_are_pruned(self):
        self.note('h1', 'verify')
        old = record.record_path('old', self.dir)
        with open(old, 'w') as f:
            f.write('{}')
        past = time.time() - (record.KEEP_DAYS + 1) * 86400
        os.utime(old, (past, past))
        self.note('h1', 'register')
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(record.record_path('web', self.dir)))


if __name__ == '__main__':
    unittest.main()
