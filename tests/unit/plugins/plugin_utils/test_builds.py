# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""The controller's build store, on manifests and archives made here."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
import unittest

from ansible.errors import AnsibleError
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import builds as b

SMALL = b'#!/bin/sh\necho small\n'
LARGE = b'#!/bin/sh\necho large build\n' + b'#' * 1000


def entry(content, platform='linux_amd64', modules=('deploy_verify',), archive='zdt_amd64.tar.xz'):
    return {'platform': platform, 'modules': list(modules), 'size': len(content),
            'sha256': hashlib.sha256(content).hexdigest(), 'archive': archive}


def make_collection(directory, contents, manifest=None):
    """Write an archive holding contents (name: bytes) and its manifest."""
    os.makedirs(directory)
    with tarfile.open(os.path.join(directory, 'zdt_amd64.tar.xz'), 'w:xz') as tar:
        for name, content in contents.items():
            member = tarfile.TarInfo(name)
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    if manifest is None:
        manifest = {'builds': dict((name, entry(content)) for name, content in contents.items())}
    with open(os.path.join(directory, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)


def age(path, days):
    t = time.time() - days * 86400
    os.utime(path, (t, t))


class Store(unittest.TestCase):

    def setUp(self):
        self.top = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.top)
        self.cache = os.path.join(self.top, 'cache')


class TestManifest(Store):

    def test_unreadable(self):
        with self.assertRaisesRegex(AnsibleError, "build manifest .*manifest.json cannot be read"):
            b.Builds(self.top, self.cache)

    def test_digest_must_be_hex(self):
        bad = entry(SMALL)
        bad['sha256'] = '$(reboot)'
        make_collection(os.path.join(self.top, 'c'), {'zdt': SMALL}, {'builds': {'zdt': bad}})
        with self.assertRaisesRegex(AnsibleError, 'lists zdt without a valid sha256 and size'):
            b.Builds(os.path.join(self.top, 'c'), self.cache)

    def test_candidates_smallest_first(self):
        make_collection(os.path.join(self.top, 'c'), {'zdt-host_linux_amd64': SMALL, 'zdt_linux_amd64': LARGE})
        store = b.Builds(os.path.join(self.top, 'c'), self.cache)
        names = [x['name'] for x in store.candidates('linux_amd64', 'deploy_verify')]
        self.assertEqual(names, ['zdt-host_linux_amd64', 'zdt_linux_amd64'])
        with self.assertRaisesRegex(AnsibleError, 'no build of lb_drain for linux_amd64'):
            store.candidates('linux_amd64', 'lb_drain')

    def test_cloud_needs_the_full_build(self):
        # deploy_watch is in both builds; its cloud providers need the SDKs.
        host = entry(SMALL, modules=('deploy_watch',))
        full = entry(LARGE, modules=('deploy_watch', 'lb_register'))
        make_collection(os.path.join(self.top, 'c'), {'zdt-host_linux_amd64': SMALL, 'zdt_linux_amd64': LARGE},
                        {'builds': {'zdt-host_linux_amd64': host, 'zdt_linux_amd64': full}})
        store = b.Builds(os.path.join(self.top, 'c'), self.cache)
        self.assertEqual([x['name'] for x in store.candidates('linux_amd64', 'deploy_watch')],
                         ['zdt-host_linux_amd64', 'zdt_linux_amd64'])
        self.assertEqual([x['name'] for x in store.candidates('linux_amd64', 'deploy_watch', cloud=True)],
                         ['zdt_linux_amd64'])

    def test_deploy_watch_asks_for_the_cloud_build(self):
        from ansible_collections.zerodowntime.rolling.plugins.action.deploy_watch import ActionModule
        for provider, cloud in (('haproxy', False), ('none', False), ('hetzner', True), ('aws', True)):
            self.assertEqual(ActionModule.needs_cloud_build(None, {'provider': provider}), cloud, provider)


class TestUnpack(Store):

    def test_unpacks_checked_and_private(self):
        make_collection(os.path.join(self.top, 'c'), {'zdt-host_linux_amd64': SMALL})
        store = b.Builds(os.path.join(self.top, 'c'), self.cache)
        path = store.local_path(store.candidates('linux_amd64', 'deploy_verify')[0])
        self.assertEqual(os.path.dirname(path), self.cache)
        with open(path, 'rb') as f:
            self.assertEqual(f.read(), SMALL)
        self.assertEqual(os.stat(self.cache).st_mode & 0o077, 0)

    def test_archive_that_does_not_match(self):
        manifest = {'builds': {'zdt-host_linux_amd64': entry(LARGE)}}
        make_collection(os.path.join(self.top, 'c'), {'zdt-host_linux_amd64': SMALL}, manifest)
        store = b.Builds(os.path.join(self.top, 'c'), self.cache)
        with self.assertRaisesRegex(AnsibleError, 'does not match bin/manifest.json'):
            store.local_path(store.candidates('linux_amd64', 'deploy_verify')[0])

    def test_corrupt_copy_is_unpacked_again(self):
        make_collection(os.path.join(self.top, 'c'), {'zdt-host_linux_amd64': SMALL})
        store = b.Builds(os.path.join(self.top, 'c'), self.cache)
        build = store.candidates('linux_amd64', 'deploy_verify')[0]
        path = store.local_path(build)
        with open(path, 'wb') as f:
            f.write(SMALL[:-1] + b'X')
        self.assertEqual(store.payload(build, False), SMALL)
        gz = store.payload(build, True)
        self.assertEqual(gzip.decompress(gz), SMALL)
        with open(path + '.gz', 'wb') as f:
            f.write(gzip.compress(b'other'))
        self.assertEqual(gzip.decompress(store.payload(build, True)), SMALL)

    def test_unpacked_builds_kept_while_used(self):
        # Moved from tests/integration/collection (TestUnpackedBuildsKeptWhileUsed):
        # the unpack cache is shared by the installed versions of the
        # collection, and a version's first unpack removes the others'
        # builds that no run has used for a week. A version still in use
        # keeps its builds however long ago they were unpacked; other files
        # of the build-digest form go after a week.
        content = b'#!/bin/sh\necho another version\n'
        other = os.path.join(self.top, 'other')
        make_collection(other, {'zdt-host_linux_amd64': content})
        older = b.Builds(other, self.cache)
        in_use = older.local_path(older.candidates('linux_amd64', 'deploy_verify')[0])
        # Unpacked a month ago and used by a run today.
        age(in_use, 30)
        b.Builds(other, self.cache).mark_used()
        # Files of the digest form no run has used for 8 and 6 days.
        unused, recent = os.path.join(self.cache, 'e' * 64), os.path.join(self.cache, 'f' * 64 + '.gz')
        for path, days in ((unused, 8), (recent, 6)):
            open(path, 'w').close()
            age(path, days)
        # This version's first use unpacks its builds and prunes.
        current_dir = os.path.join(self.top, 'current')
        make_collection(current_dir, {'zdt-host_linux_amd64': SMALL})
        current = b.Builds(current_dir, self.cache)
        current.local_path(current.candidates('linux_amd64', 'deploy_verify')[0])
        kept = {'in use': os.path.exists(in_use), 'unused 8 days': os.path.exists(unused),
                'unused 6 days': os.path.exists(recent)}
        self.assertEqual(kept, {'in use': True, 'unused 8 days': False, 'unused 6 days': True})

    def test_leftover_tmp_files_removed(self):
        make_collection(os.path.join(self.top, 'c'), {'zdt-host_linux_amd64': SMALL})
        os.makedirs(self.cache)
        old, new = os.path.join(self.cache, 'x.1.tmp'), os.path.join(self.cache, 'y.2.tmp')
        for path in (old, new):
            open(path, 'w').close()
        age(old, 1)
        store = b.Builds(os.path.join(self.top, 'c'), self.cache)
        store.local_path(store.candidates('linux_amd64', 'deploy_verify')[0])
        self.assertEqual((os.path.exists(old), os.path.exists(new)), (False, True))


class TestReadChecked(Store):

    def write(self, name, data):
        path = os.path.join(self.top, name)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def test_plain_and_gzipped(self):
        digest = hashlib.sha256(SMALL).hexdigest()
        self.assertEqual(b.read_checked(self.write('p', SMALL), digest, len(SMALL)), SMALL)
        gz = gzip.compress(SMALL)
        self.assertEqual(b.read_checked(self.write('g', gz), digest, len(SMALL), gunzip=True), gz)

    def test_refuses(self):
        digest = hashlib.sha256(SMALL).hexdigest()
        cases = {
            'other content': (self.write('o', LARGE), False),
            'longer': (self.write('l', SMALL + b'\n'), False),
            'gzip of other content': (self.write('go', gzip.compress(LARGE)), True),
            'gzip with trailing bytes': (self.write('gt', gzip.compress(SMALL) + b'x' * 10), True),
            'not gzip': (self.write('ng', SMALL), True),
            'missing': (os.path.join(self.top, 'missing'), False),
        }
        link = os.path.join(self.top, 'link')
        os.symlink(self.write('target', SMALL), link)
        cases['symlink'] = (link, False)
        for what, (path, gunzip) in cases.items():
            with self.subTest(what):
                self.assertIsNone(b.read_checked(path, digest, len(SMALL), gunzip=gunzip))


if __name__ == '__main__':
    unittest.main()
