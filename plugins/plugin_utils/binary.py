# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""Run a Go module binary built for the platform of the host that executes it.

Ansible copies a binary module to the target as it is and collections know
nothing of platforms, so the collection carries one build per platform under
``bin/`` and every module has an action plugin derived from
:class:`BinaryModuleAction` that picks the build for the executing host (the
delegate when ``delegate_to`` is used), transfers it with its arguments file,
runs it (with become when asked) and returns its JSON result.
"""

from __future__ import annotations

import json
import os

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.clean import remove_internal_keys

display = Display()

# uname -s / uname -m words mapped to Go's GOOS / GOARCH.
_SYSTEMS = {'linux': 'linux', 'darwin': 'darwin'}
_MACHINES = {'x86_64': 'amd64', 'amd64': 'amd64', 'aarch64': 'arm64', 'arm64': 'arm64'}
SUPPORTED_PLATFORMS = ('linux_amd64', 'linux_arm64', 'darwin_amd64', 'darwin_arm64')

# Task variables that override detection. The first names the platform (for
# hosts that cannot run uname), the second prefixes the command line (an
# emulator such as qemu-aarch64-static; used by the collection's own tests).
PLATFORM_VAR = 'zerodowntime_rolling_platform'
EXEC_PREFIX_VAR = 'zerodowntime_rolling_exec_prefix'


def bin_dir():
    """Return the directory holding the platform builds."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, '..', '..', 'bin'))


def platform_from_uname(text):
    """Map ``uname -sm`` output to a platform name such as ``linux_amd64``.

    Raises AnsibleError naming the platform when it is not supported.
    """
    words = to_text(text).strip().split()
    if len(words) < 2:
        raise AnsibleError("cannot tell the target's platform: 'uname -sm' printed %r" % to_text(text).strip())
    system, machine = words[0].lower(), words[-1].lower()
    goos, goarch = _SYSTEMS.get(system), _MACHINES.get(machine)
    if goos is None or goarch is None:
        raise AnsibleError(
            "the target's platform %s/%s is not supported by zerodowntime.rolling; "
            "supported platforms: %s" % (words[0], words[-1], ', '.join(SUPPORTED_PLATFORMS)))
    return '%s_%s' % (goos, goarch)


class BinaryModuleAction(ActionBase):
    """Base of the collection's action plugins; set ``module_name``."""

    module_name = None
    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        # Declared so that ActionBase lets the task through to the clearer
        # refusal below.
        self._supports_async = True
        task_vars = task_vars or {}
        result = super(BinaryModuleAction, self).run(tmp, task_vars)
        del tmp

        if self._task.async_val:
            result.update(failed=True, msg=(
                "zerodowntime.rolling.%s does not support async: its waits are bounded by its own "
                "'timeout' option; remove 'async'/'poll' from the task" % self.module_name))
            return result

        try:
            platform = self._platform(task_vars)
            local = os.path.join(bin_dir(), '%s_%s' % (self.module_name, platform))
            if not os.path.isfile(local):
                raise AnsibleError(
                    "the collection has no %s build for %s (looked for %s); "
                    "rebuild it with 'make collection'" % (self.module_name, platform, local))
            data = self._run_binary(local, task_vars)
        except AnsibleError as e:
            result.update(failed=True, msg=to_native(e))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

        result.update(data)
        return result

    def _platform(self, task_vars):
        """Return the platform of the host that will run the module."""
        override = self._var(task_vars, PLATFORM_VAR)
        if override:
            if override not in SUPPORTED_PLATFORMS:
                raise AnsibleError("%s=%s is not a supported platform; use one of: %s"
                                   % (PLATFORM_VAR, override, ', '.join(SUPPORTED_PLATFORMS)))
            return override
        # Gathered facts describe the inventory host, which is the executing
        # host only when the task is not delegated.
        if not self._task.delegate_to:
            facts = task_vars.get('ansible_facts') or {}
            if facts.get('system') and facts.get('architecture'):
                return platform_from_uname('%s %s' % (facts['system'], facts['architecture']))

        cache_key = self._cache_key()
        cache = _PlatformCache()
        platform = cache.get(cache_key)
        if platform:
            return platform
        res = self._low_level_execute_command('uname -sm', sudoable=False)
        if res.get('rc') != 0:
            raise AnsibleError("cannot tell the target's platform: 'uname -sm' failed (rc=%s): %s"
                               % (res.get('rc'), to_text(res.get('stderr', '')).strip()))
        platform = platform_from_uname(res.get('stdout', ''))
        cache.put(cache_key, platform)
        return platform

    def _var(self, task_vars, name):
        """Return a task variable, templated (action plugins get them raw)."""
        value = task_vars.get(name)
        if value is None:
            return None
        return to_text(self._templar.template(value)).strip() or None

    def _cache_key(self):
        conn = self._connection
        parts = [conn.transport]
        for opt in ('remote_addr', 'port', 'remote_user'):
            try:
                parts.append(to_text(conn.get_option(opt)))
            except (KeyError, AttributeError, AnsibleError):
                parts.append('')
        return '|'.join(parts)

    def _run_binary(self, local, task_vars):
        shell = self._connection._shell
        tmpdir = shell.tmpdir or self._make_tmp_path()
        remote_bin = shell.join_path(tmpdir, 'zdt_%s' % self.module_name)
        args_path = shell.join_path(tmpdir, 'args')

        module_args = dict(self._task.args)
        self._update_module_args(self.module_name, module_args, task_vars)
        self._transfer_file(local, remote_bin)
        self._transfer_data(args_path, json.dumps(module_args))
        self._fixup_perms2([tmpdir, remote_bin, args_path], self._get_remote_user())

        cmd = shell.build_module_command(self._compute_environment_string(), None, remote_bin, arg_path=args_path).strip()
        prefix = self._var(task_vars, EXEC_PREFIX_VAR)
        if prefix:
            cmd = cmd.replace(shell.quote(remote_bin), '%s %s' % (prefix, shell.quote(remote_bin)), 1)
        res = self._low_level_execute_command(cmd, sudoable=True)
        data = self._parse_returned_data(res)
        remove_internal_keys(data)
        return data


class _PlatformCache(object):
    """Platforms seen in this ansible-playbook run, shared by its workers.

    Each task runs in a forked worker, so memory does not persist between
    tasks; the run's local temporary directory (removed when the run ends)
    does.
    """

    def __init__(self):
        self._path = os.path.join(C.DEFAULT_LOCAL_TMP, 'zerodowntime_rolling_platforms.json')

    def _load(self):
        try:
            with open(self._path) as f:
                return json.load(f)
        except (IOError, OSError, ValueError):
            return {}

    def get(self, key):
        return self._load().get(key)

    def put(self, key, platform):
        data = self._load()
        data[key] = platform
        tmp = '%s.%d' % (self._path, os.getpid())
        try:
            with open(tmp, 'w') as f:
                json.dump(data, f)
            os.rename(tmp, self._path)
        except (IOError, OSError):
            pass  # a cache miss only costs one more uname
