# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""remote_cache's commands, run with /bin/sh against temporary homes whose
paths hold a space and a ``$``, quoted by the sh shell plugin's quote."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from ansible.plugins.shell.sh import ShellModule
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import remote_cache as rc

QUOTE = ShellModule().quote
# Generous: each command starts a few tools on a slow, shared machine.
TIMEOUT = 60

BUILD = b'#!/bin/sh\necho "build ran: $1 $2 $(cat)"\nexit 3\n'
DIGEST = hashlib.sha256(BUILD).hexdigest()
OTHER = b'#!/bin/sh\necho swapped\n'


def sh(cmd, home, stdin=b'', path=None):
    """Run cmd with /bin/sh as a remote shell would, HOME set to home."""
    env = {'HOME': home, 'PATH': path or os.environ.get('PATH', '/usr/bin:/bin'), 'LC_ALL': 'C'}
    return subprocess.run(['/bin/sh', '-c', cmd], input=stdin, env=env, capture_output=True,
                          timeout=TIMEOUT, check=False)


class Home(unittest.TestCase):
    """A new remote home, /tmp/.../a b$c/h o$me, per test."""

    def setUp(self):
        self.top = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.top)
        parent = os.path.join(self.top, 'a b$c')
        os.mkdir(parent)
        self.home = os.path.join(parent, 'h o$me')
        os.mkdir(self.home, 0o700)
        self.cache = os.path.join(self.home, rc.CACHE_DIR)
        self.bin = rc.build_path(self.home + '/', DIGEST)

    def probe(self, path=None):
        res = sh(rc.probe_command(QUOTE, [DIGEST, 'f' * 64]), self.home, path=path)
        self.assertEqual(res.returncode, 0, res.stderr)
        return rc.parse_probe(res.stdout.decode().splitlines())

    def send(self, data, gz, digest=DIGEST):
        payload = gzip.compress(data) if gz else data
        return sh(rc.send_command(QUOTE, self.bin, digest, gz), self.home, stdin=payload)

    def put(self, data, mode=0o700):
        os.makedirs(self.cache, 0o700, exist_ok=True)
        with open(self.bin, 'wb') as f:
            f.write(data)
        os.chmod(self.bin, mode)


class TestBuildPath(unittest.TestCase):

    def test_under_the_home(self):
        self.assertEqual(rc.build_path('/h/', 'ab'), '/h/.ansible/zerodowntime_rolling/ab')
        self.assertEqual(rc.build_path('/h', 'ab'), '/h/.ansible/zerodowntime_rolling/ab')


class TestProbe(Home):

    def test_creates_a_private_cache(self):
        info = self.probe()
        self.assertEqual(info['have'], [])
        self.assertIsNone(info['untrusted'])
        self.assertFalse(info['no_hash'] or info['no_cache_dir'])
        self.assertEqual(info['gzip'], shutil.which('gzip') is not None)
        self.assertEqual(stat.S_IMODE(os.stat(self.cache).st_mode), 0o700)
        # Nothing was made at a path cut at the space or the $.
        self.assertEqual(sorted(os.listdir(os.path.dirname(self.home))), ['h o$me'])

    def test_lists_the_builds_that_match(self):
        self.put(BUILD)
        old = time.time() - 3600
        os.utime(self.bin, (old, old))
        self.assertEqual(self.probe()['have'], [DIGEST])
        self.assertGreater(os.stat(self.bin).st_mtime, old + 60, 'a build in use is marked used')
        self.put(OTHER)
        self.assertEqual(self.probe()['have'], [], 'a build that does not match its name')
        self.put(BUILD, 0o600)
        self.assertEqual(self.probe()['have'], [], 'a build that cannot run')

    def test_refuses_a_symlinked_build(self):
        os.makedirs(self.cache, 0o700)
        real = os.path.join(self.top, 'real')
        with open(real, 'wb') as f:
            f.write(BUILD)
        os.chmod(real, 0o700)
        os.symlink(real, self.bin)
        self.assertEqual(self.probe()['have'], [])

    def test_removes_unused_builds_and_cut_transfers(self):
        os.makedirs(self.cache, 0o700)
        files = {'e' * 64: 8 * 86400, 'd' * 64: 6 * 86400, '.0123456789abcdef.42': 2 * 3600,
                 '.fedcba9876543210.7': 60, 'notes': 30 * 86400}
        for name, age in files.items():
            path = os.path.join(self.cache, name)
            open(path, 'w').close()
            t = time.time() - age
            os.utime(path, (t, t))
        self.probe()
        self.assertEqual(sorted(os.listdir(self.cache)), sorted(['d' * 64, '.fedcba9876543210.7', 'notes']))

    def test_refuses_a_cache_others_can_write(self):
        self.probe()
        for path in (self.home, os.path.dirname(self.cache), self.cache):
            os.chmod(path, 0o770)
            self.assertEqual(self.probe()['untrusted'], path)
            os.chmod(path, 0o755 if path != self.cache else 0o700)
        self.assertIsNone(self.probe()['untrusted'])

    def test_refuses_a_symlinked_cache(self):
        elsewhere = os.path.join(self.top, 'elsewhere')
        os.makedirs(elsewhere, 0o700)
        os.makedirs(os.path.dirname(self.cache), 0o700)
        os.symlink(elsewhere, self.cache)
        self.assertEqual(self.probe()['untrusted'], self.cache)

    def test_no_hash_tool_no_cache_dir(self):
        tools = os.path.join(self.top, 'tools')
        os.mkdir(tools)
        for tool in ('ls', 'mkdir', 'chmod', 'cut', 'find', 'touch', 'rm', 'cat', 'gzip'):
            found = shutil.which(tool)
            if found:
                os.symlink(found, os.path.join(tools, tool))
        info = self.probe(path=tools)
        self.assertTrue(info['no_hash'])
        self.assertFalse(os.path.exists(os.path.dirname(self.cache)))

    def test_cache_dir_cannot_be_created(self):
        open(os.path.join(self.home, '.ansible'), 'w').close()
        self.assertTrue(self.probe()['no_cache_dir'])


class TestSend(Home):

    def test_plain_and_gzipped(self):
        for gz in (False, True):
            if gz and not shutil.which('gzip'):
                continue
            res = self.send(BUILD, gz)
            self.assertIn(rc.SENT, res.stdout.decode(), res.stderr)
            with open(self.bin, 'rb') as f:
                self.assertEqual(f.read(), BUILD)
            self.assertEqual(stat.S_IMODE(os.stat(self.bin).st_mode), 0o700)
            self.assertEqual(os.listdir(self.cache), [DIGEST], 'no partial transfer is left')
            os.unlink(self.bin)

    def test_refuses_what_does_not_match(self):
        res = self.send(OTHER, False)
        self.assertNotIn(rc.SENT, res.stdout.decode())
        self.assertIn('hash mismatch: ' + hashlib.sha256(OTHER).hexdigest(), res.stdout.decode())
        self.assertEqual(os.listdir(self.cache), [], 'neither the build nor the partial transfer is left')

    def test_partial_name_is_one_the_probe_removes(self):
        cmd = rc.send_command(QUOTE, self.bin, DIGEST, False)
        self.assertIn("/.%s." % DIGEST[:16], cmd)
        self.assertIn(QUOTE(os.path.dirname(self.bin)), cmd)


class TestRun(Home):

    def run_build(self, prefix=None, private=None):
        cmd = rc.run_command(QUOTE, self.bin, DIGEST, 'deploy_verify', prefix=prefix, private=private)
        return sh(cmd, self.home, stdin=b'{"args": 1}')

    def test_runs_a_matching_build_in_place(self):
        self.put(BUILD)
        res = self.run_build()
        self.assertEqual(res.returncode, 3, res.stderr)
        self.assertEqual(res.stdout.decode().strip(), 'build ran: deploy_verify - {"args": 1}')
        self.assertFalse(rc.is_stale({'rc': res.returncode, 'stdout': res.stdout}))

    def test_prefix_goes_before_the_build(self):
        self.put(BUILD)
        res = self.run_build(prefix='env ZDT_X=1')
        self.assertEqual(res.stdout.decode().strip(), 'build ran: deploy_verify - {"args": 1}')

    def test_swapped_or_missing_build_is_stale(self):
        for setup in (lambda: self.put(OTHER), lambda: os.unlink(self.bin)):
            setup()
            res = self.run_build()
            self.assertEqual((res.returncode, res.stdout.decode().strip()), (rc.STALE_RC, rc.STALE))
            self.assertTrue(rc.is_stale({'rc': res.returncode, 'stdout': res.stdout}))

    @unittest.skipUnless(os.geteuid() == 0, 'a build of another user needs root')
    def test_build_of_another_user_runs_from_a_private_copy(self):
        nobody = 65534
        private = os.path.join(self.top, 'private $copy')
        self.put(BUILD)
        os.chown(self.bin, nobody, nobody)
        res = self.run_build(private=private)
        self.assertEqual(res.returncode, 3, res.stderr)
        self.assertEqual(res.stdout.decode().strip(), 'build ran: deploy_verify - {"args": 1}')
        self.assertFalse(os.path.exists(private), 'the private copy is removed')
        self.put(OTHER)
        os.chown(self.bin, nobody, nobody)
        res = self.run_build(private=private)
        self.assertEqual((res.returncode, res.stdout.decode().strip()), (rc.STALE_RC, rc.STALE))
        self.assertFalse(os.path.exists(private))

    @unittest.skipUnless(os.geteuid() == 0, 'a build of another user needs root')
    def test_private_copy_needs_a_new_directory(self):
        taken = os.path.join(self.top, 'taken')
        os.mkdir(taken)
        self.put(BUILD)
        os.chown(self.bin, 65534, 65534)
        res = self.run_build(private=taken)
        self.assertEqual(res.returncode, 1)
        self.assertNotIn(b'build ran', res.stdout)

    def test_private_dirs_are_new_and_in_tmp(self):
        a, b = rc.private_dir(), rc.private_dir()
        self.assertNotEqual(a, b)
        self.assertRegex(a, r'^/tmp/zdt-[0-9a-f]{16}$')


class TestParseProbe(unittest.TestCase):

    def test_reads_every_line_kind(self):
        info = rc.parse_probe(['Linux x86_64', '/home/u', 'zdt-have ' + 'a' * 64, 'zdt-gzip',
                               'zdt-untrusted /home/u/a b'])
        self.assertEqual(info, {'have': ['a' * 64], 'no_cache_dir': False, 'no_hash': False, 'gzip': True,
                                'untrusted': '/home/u/a b'})


if __name__ == '__main__':
    unittest.main()
