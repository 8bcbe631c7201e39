# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""The action's own logic: the host's platform and the names it exports."""

from __future__ import annotations

import unittest

from ansible.errors import AnsibleError
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import binary, builds, remote_cache


class TestPlatform(unittest.TestCase):

    def test_supported(self):
        cases = {'Linux x86_64': 'linux_amd64', 'Linux aarch64\n': 'linux_arm64', 'Darwin arm64': 'darwin_arm64',
                 'Darwin x86_64': 'darwin_amd64', 'FreeBSD amd64': None, 'Linux riscv64': None}
        for uname, want in cases.items():
            with self.subTest(uname):
                if want:
                    self.assertEqual(binary.platform_from_uname(uname), want)
                else:
                    with self.assertRaisesRegex(AnsibleError, 'is not supported by zerodowntime.rolling'):
                        binary.platform_from_uname(uname)

    def test_unreadable(self):
        with self.assertRaisesRegex(AnsibleError, "'uname -sm' printed 'Linux'"):
            binary.platform_from_uname('Linux')


class TestNames(unittest.TestCase):
    """What the action plugins and older callers import from binary."""

    def test_exported(self):
        self.assertIs(binary.Builds, builds.Builds)
        self.assertEqual(binary.CACHE_DIR, remote_cache.CACHE_DIR)
        for name in binary.__all__:
            self.assertTrue(hasattr(binary, name), name)
        self.assertTrue(issubclass(binary.BinaryModuleAction, binary.ActionBase))


if __name__ == '__main__':
    unittest.main()
