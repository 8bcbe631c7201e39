# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""Run a Go module binary built for the platform of the host that executes it.

Ansible copies a binary module to the target as it is and collections know
nothing of platforms, so the collection carries one build per platform under
``bin/`` and every module has an action plugin derived from
:class:`BinaryModuleAction` that picks the build for the executing host (the
delegate when ``delegate_to`` is used) and runs it with the task's arguments.
One build (``zdt``) holds every module; its first argument names the module.

A build is sent to a host at most once per version: it is kept in a
content-addressed cache in the remote user's Ansible directory
(``~/.ansible/zerodowntime_rolling/<sha256>``, private to that user), checked
against its hash once per host and run before use, and executed from there.
The arguments go to the binary on standard input, so a task costs one round
trip once the cache is warm and no file holding secrets is written on the
host. With become to an unprivileged user, which could not read the cache,
and with connections that cannot pass standard input, the plugin falls back
to Ansible's usual temporary directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.clean import remove_internal_keys

display = Display()

# uname -s / uname -m words mapped to Go's GOOS / GOARCH.
_SYSTEMS = {'linux': 'linux', 'darwin': 'darwin'}
_MACHINES = {'x86_64': 'amd64', 'amd64': 'amd64', 'aarch64': 'arm64', 'arm64': 'arm64'}
SUPPORTED_PLATFORMS = ('linux_amd64', 'linux_arm64', 'darwin_amd64', 'darwin_arm64')

# Task variables. The first names the platform (for hosts that cannot run
# uname), the second prefixes the command line (an emulator such as
# qemu-aarch64-static; used by the collection's own tests), the third turns
# the remote cache off.
PLATFORM_VAR = 'zerodowntime_rolling_platform'
EXEC_PREFIX_VAR = 'zerodowntime_rolling_exec_prefix'
CACHE_VAR = 'zerodowntime_rolling_cache'

CACHE_DIR = '.ansible/zerodowntime_rolling'
_HASH_RE = re.compile(r'^[0-9a-f]{64}$')


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
    # False keeps ActionBase from making a temporary directory for every
    # task; the fallback path makes its own.
    TRANSFERS_FILES = False

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

        self._run_cache = _RunCache()
        try:
            host = self._host_info(task_vars)
            local = os.path.join(bin_dir(), 'zdt_%s' % host['platform'])
            if not os.path.isfile(local):
                raise AnsibleError(
                    "the collection has no build for %s (looked for %s); "
                    "rebuild it with 'make collection'" % (host['platform'], local))
            if self._use_cache(task_vars, host):
                data = self._run_cached(local, host, task_vars)
            else:
                data = self._run_in_tmpdir(local, task_vars)
        except AnsibleError as e:
            result.update(failed=True, msg=to_native(e))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

        result.update(data)
        return result

    # -- the executing host -------------------------------------------------

    def _host_info(self, task_vars):
        """Return {platform, home} of the host that will run the module.

        Probed once per host and run with one command, and kept in the run's
        cache shared by the worker processes.
        """
        key = self._host_key()
        info = self._run_cache.get('host', key)
        override = self._var(task_vars, PLATFORM_VAR)
        if override and override not in SUPPORTED_PLATFORMS:
            raise AnsibleError("%s=%s is not a supported platform; use one of: %s"
                               % (PLATFORM_VAR, override, ', '.join(SUPPORTED_PLATFORMS)))
        if info is None:
            res = self._low_level_execute_command('uname -sm; echo ~', sudoable=False)
            lines = to_text(res.get('stdout', '')).strip().splitlines()
            if res.get('rc') != 0 or len(lines) < 2:
                raise AnsibleError("cannot tell the target's platform: 'uname -sm' failed (rc=%s): %s"
                                   % (res.get('rc'), to_text(res.get('stderr', '')).strip()))
            info = {'uname': lines[0], 'home': lines[-1]}
            self._run_cache.put('host', key, info)
        info = dict(info)
        info['platform'] = override or platform_from_uname(info['uname'])
        return info

    def _host_key(self):
        conn = self._connection
        parts = [conn.transport]
        for opt in ('remote_addr', 'port', 'remote_user'):
            try:
                parts.append(to_text(conn.get_option(opt)))
            except (KeyError, AttributeError, AnsibleError):
                parts.append('')
        return '|'.join(parts)

    def _var(self, task_vars, name):
        """Return a task variable, templated (action plugins get them raw)."""
        value = task_vars.get(name)
        if value is None:
            return None
        return to_text(self._templar.template(value)).strip() or None

    # -- running --------------------------------------------------------------

    def _module_args(self, task_vars):
        """Return the JSON the binary reads: the options, and the task's
        environment, which so stays off the command line that -vvv prints."""
        args = dict(self._task.args)
        self._update_module_args(self.module_name, args, task_vars)
        env = {}
        self._compute_environment_string(raw_environment_out=env)
        return json.dumps({'ANSIBLE_MODULE_ARGS': args,
                           'ZDT_ENVIRONMENT': dict((to_text(k), to_text(v)) for k, v in env.items())})

    def _command(self, remote_bin, task_vars, arg):
        shell = self._connection._shell
        # The build holds every module: the first argument names this one.
        cmd = shell.build_module_command('', None, remote_bin, arg_path='%s %s' % (self.module_name, arg)).strip()
        prefix = self._var(task_vars, EXEC_PREFIX_VAR)
        if prefix:
            cmd = cmd.replace(shell.quote(remote_bin), '%s %s' % (prefix, shell.quote(remote_bin)), 1)
        return cmd

    def _finish(self, res):
        data = self._parse_returned_data(res)
        remove_internal_keys(data)
        return data

    def _use_cache(self, task_vars, host):
        setting = self._var(task_vars, CACHE_VAR)
        if setting is not None and setting.lower() in ('0', 'false', 'no', 'off'):
            return False
        if self._is_become_unprivileged():
            return False  # the become user could not read the connecting user's cache
        return bool(getattr(self._connection, 'has_pipelining', False)) and host['home'].startswith('/')

    def _run_cached(self, local, host, task_vars):
        digest = self._local_digest(local)
        remote_bin = '%s/%s/%s' % (host['home'].rstrip('/'), CACHE_DIR, digest)
        key = '%s|%s' % (self._host_key(), digest)
        if not self._run_cache.get('verified', key):
            self._ensure_cached(local, remote_bin, digest)
            self._run_cache.put('verified', key, True)
        cmd = self._command(remote_bin, task_vars, '-')
        args = to_bytes(self._module_args(task_vars))
        res = self._low_level_execute_command(cmd, sudoable=True, in_data=args)
        if res.get('rc') == 127 and not to_text(res.get('stdout', '')).strip():
            # The cached build vanished since it was checked: send it again.
            self._ensure_cached(local, remote_bin, digest)
            res = self._low_level_execute_command(cmd, sudoable=True, in_data=args)
        return self._finish(res)

    def _ensure_cached(self, local, remote_bin, digest):
        """Make remote_bin hold the build with the given digest, checked."""
        cache_dir = os.path.dirname(remote_bin)
        partial = '%s/.%s.%d' % (cache_dir, digest[:16], random.randint(0, 1 << 30))
        # One round trip: hash the cached build if there is one (test -x
        # first: on a miss no hashing tool starts), else make the private
        # cache directory for the transfer.
        check = ("if test -x %(f)s; then h=$( (sha256sum %(f)s || shasum -a 256 %(f)s) 2>/dev/null | cut -d' ' -f1 ); "
                 "test \"$h\" = %(d)s && echo zdt-cache-ok; fi; "
                 "umask 077 && mkdir -p %(c)s && chmod 700 %(c)s"
                 % {'f': remote_bin, 'd': digest, 'c': cache_dir})
        res = self._low_level_execute_command(check, sudoable=False)
        if 'zdt-cache-ok' in to_text(res.get('stdout', '')):
            return
        if res.get('rc') != 0:
            raise AnsibleError("cannot create the module cache %s on the host: %s"
                               % (cache_dir, to_text(res.get('stderr', '')).strip()))
        self._connection.put_file(local, partial)
        # Check the hash of what arrived before it takes the cache name, so a
        # cut transfer can never be run.
        finish = ("chmod 700 %(p)s && h=$( (sha256sum %(p)s || shasum -a 256 %(p)s) 2>/dev/null | cut -d' ' -f1 ) && "
                  "if test \"$h\" = %(d)s; then mv -f %(p)s %(f)s && echo zdt-cache-ok; "
                  "else rm -f %(p)s; echo \"hash mismatch: $h\"; fi" % {'p': partial, 'f': remote_bin, 'd': digest})
        res = self._low_level_execute_command(finish, sudoable=False)
        if 'zdt-cache-ok' not in to_text(res.get('stdout', '')):
            raise AnsibleError("the module build sent to %s did not arrive intact (%s%s); "
                               "check free space in the remote user's home"
                               % (remote_bin, to_text(res.get('stdout', '')).strip(), to_text(res.get('stderr', '')).strip()))

    def _run_in_tmpdir(self, local, task_vars):
        """Ansible's usual way: a temporary directory with the build and an args file."""
        shell = self._connection._shell
        tmpdir = shell.tmpdir or self._make_tmp_path()
        remote_bin = shell.join_path(tmpdir, 'zdt')
        args_path = shell.join_path(tmpdir, 'args')
        args = self._module_args(task_vars)
        self._transfer_file(local, remote_bin)
        self._transfer_data(args_path, args)
        self._fixup_perms2([tmpdir, remote_bin, args_path], self._get_remote_user())
        res = self._low_level_execute_command(self._command(remote_bin, task_vars, args_path), sudoable=True)
        return self._finish(res)

    def _local_digest(self, path):
        st = os.stat(path)
        key = '%s|%d|%d' % (path, st.st_size, int(st.st_mtime))
        digest = self._run_cache.get('digest', key)
        if digest and _HASH_RE.match(digest):
            return digest
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
        digest = h.hexdigest()
        self._run_cache.put('digest', key, digest)
        return digest


class _RunCache(object):
    """Facts about hosts and builds seen in this ansible-playbook run.

    Each task runs in a forked worker, so memory does not persist between
    tasks; the run's local temporary directory (removed when the run ends)
    does. A lost or torn write only costs one more probe.
    """

    def __init__(self):
        self._path = os.path.join(C.DEFAULT_LOCAL_TMP, 'zerodowntime_rolling_cache.json')

    def _load(self):
        try:
            with open(self._path) as f:
                return json.load(f)
        except (IOError, OSError, ValueError):
            return {}

    def get(self, kind, key):
        return self._load().get(kind, {}).get(key)

    def put(self, kind, key, value):
        data = self._load()
        data.setdefault(kind, {})[key] = value
        tmp = '%s.%d' % (self._path, os.getpid())
        try:
            with open(tmp, 'w') as f:
                json.dump(data, f)
            os.rename(tmp, self._path)
        except (IOError, OSError):
            pass
