# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""Run a Go module binary built for the platform of the host that executes it.

Ansible copies a binary module to the target as it is and collections know
nothing of platforms, so the collection carries builds for several platforms
and every module has an action plugin derived from
:class:`BinaryModuleAction` that picks a build for the executing host (the
delegate when ``delegate_to`` is used) and runs it with the task's arguments.
A build holds several modules and its first argument names the one to run:
``zdt`` holds every module, ``zdt-host`` only those that run on app and
load-balancer hosts. A host gets the smallest build holding the module unless
it already has one that does.

Three modules share the work: ``builds`` is the controller's store of the
builds (the manifest, unpacking, checking), ``remote_cache`` the commands
that keep the host's cache of them (probe, send, check and run), and this
one the action: what the host is, which build it gets, and how it runs.

A build is sent to a host at most once per version, into the remote user's
cache, and checked against its hash by the very command that runs it, every
task. The probe of the host's platform (one round trip per run) refuses a
cache that the remote user does not own or that others can write.
The arguments go to the binary on standard input, so a task costs one round
trip once the cache is warm and no file holding secrets is written on the
host. With become to an unprivileged user, which could not read the cache,
and with connections that cannot pass standard input, the plugin falls back
to Ansible's usual temporary directory; so it does, with a warning, on a host
where the cache cannot be created, is not private to the remote user, or its
builds cannot be checked.
"""

from __future__ import annotations

import json
import os

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.action import ActionBase
from ansible.vars.clean import remove_internal_keys
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.builds import Builds, bin_dir, unlink_quietly, unpack_dir
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.compat import module_args_json, parse_returned_data
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.record import RecordError, note as note_step
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.remote_cache import (
    CACHE_DIR, REMOTE_KEEP_DAYS, SENT, STALE, STALE_RC, build_path, is_stale, parse_probe, probe_command, run_command,
    send_command)

# The names the action plugins and the collection's tests import from here.
__all__ = ['BinaryModuleAction', 'note_role_step', 'Builds', 'CACHE_DIR', 'CACHE_VAR', 'EXEC_PREFIX_VAR', 'PLATFORM_VAR',
           'REMOTE_KEEP_DAYS', 'STALE', 'STALE_RC', 'SUPPORTED_PLATFORMS', 'bin_dir', 'platform_from_uname',
           'unpack_dir']

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


def task_var(templar, task_vars, name):
    """Return a task variable, templated (action plugins get them raw)."""
    value = task_vars.get(name)
    if value is None:
        return None
    return to_text(templar.template(value)).strip() or None


def note_role_step(templar, task, task_vars, step, result):
    """Note the outcome of step of the deploy role in the run record (see
    plugin_utils.record): the role's tasks name the run and the phase in
    their vars. Return a warning if the record cannot be kept."""
    name = task_var(templar, task_vars, '_deploy_record')
    if not name or not step or task.check_mode or result.get('skipped'):
        return None
    host = task_vars.get('inventory_hostname')
    try:
        note_step(name, host, task_var(templar, task_vars, '_deploy_phase') or 'deploy', step,
                  not result.get('failed'), result)
    except (RecordError, OSError) as e:
        return ('the run record of %s was not updated (%s): zerodowntime.rolling.undo cannot tell that '
                '%s %s %s' % (name, e, host, step, 'failed' if result.get('failed') else 'ran'))
    return None


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
            builds = Builds()
            builds.mark_used()
            cache = self._use_cache(task_vars)
            host = self._host_info(task_vars, builds, cache)
            candidates = builds.candidates(host['platform'], self.module_name, self.needs_cloud_build(self._task.args))
            warning = None
            # Without a way to check a cached build before use, or without
            # a cache directory, the modules still run, as Ansible runs any
            # module; the first task on the host says why.
            why = None
            if cache and host.get('no_hash'):
                why = ("the host has neither sha256sum nor shasum to check a cached module build",
                       "install one of them")
            elif cache and host.get('no_cache_dir'):
                why = ("the module cache %s/%s cannot be created on the host" % (host['home'].rstrip('/'), CACHE_DIR),
                       "let the remote user create it")
            elif cache and host.get('untrusted'):
                why = ("the module cache path %s on the host is not a directory that only the remote user "
                       "(or root) owns and can write, so its builds cannot be trusted" % host['untrusted'],
                       "make the remote user its owner and remove write access for others (or remove it)")
            if why:
                cache = False
                key = self._host_key()
                if not self._run_cache.get('warned_no_cache', key):
                    self._run_cache.put('warned_no_cache', key, True)
                    warning = ("%s, so zerodowntime.rolling sends the build with every task through Ansible's "
                               "temporary directory; %s, or set %s: false to say so" % (why[0], why[1], CACHE_VAR))
            if cache and host['home'].startswith('/'):
                data = self._run_cached(builds, candidates, host, task_vars)
            else:
                data = self._run_in_tmpdir(builds.local_path(candidates[0]), task_vars)
        except AnsibleError as e:
            result.update(failed=True, msg=to_native(e))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

        result.update(data)
        warnings = [w for w in (warning, self._note_step(task_vars, result)) if w]
        if warnings:
            result['warnings'] = warnings + list(result.get('warnings') or [])
        return result

    def _note_step(self, task_vars, result):
        """Note the outcome of a deploy role step in the run record (see
        note_role_step); the role's tasks name the step in their vars."""
        return note_role_step(self._templar, self._task, task_vars, self._var(task_vars, '_deploy_step'), result)

    # -- the executing host -------------------------------------------------

    def needs_cloud_build(self, args):
        """Whether the task, with these arguments, needs the build with the
        cloud SDKs rather than the smallest one holding the module."""
        return False

    def _host_info(self, task_vars, builds, cache):
        """Return {platform, home, have} of the host that will run the module;
        have lists the builds in its cache that match their hash.

        Probed once per host and run with one command, and kept in the run's
        cache shared by the worker processes.
        """
        key = self._host_key()
        info = self._run_cache.get('host', key)
        override = self._var(task_vars, PLATFORM_VAR)
        if override and override not in SUPPORTED_PLATFORMS:
            raise AnsibleError("%s=%s is not a supported platform; use one of: %s"
                               % (PLATFORM_VAR, override, ', '.join(SUPPORTED_PLATFORMS)))
        if info is None or (cache and info.get('have') is None):
            cmd = 'uname -sm; echo ~'
            if cache:
                cmd += '; ' + probe_command(self._connection._shell.quote, builds.digests())
            res = self._low_level_execute_command(cmd, sudoable=False)
            lines = to_text(res.get('stdout', '')).strip().splitlines()
            plain = [line for line in lines if not line.startswith('zdt-')]
            if res.get('rc') != 0 or len(plain) < 2:
                raise AnsibleError("cannot tell the target's platform: 'uname -sm' failed (rc=%s): %s"
                                   % (res.get('rc'), to_text(res.get('stderr', '')).strip()))
            info = {'uname': plain[0], 'home': plain[1], 'have': None}
            if cache:
                info.update(parse_probe(lines))
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
        return task_var(self._templar, task_vars, name)

    # -- running --------------------------------------------------------------

    def _module_args(self, task_vars):
        """Return the JSON the binary reads: the options, and the task's
        environment, which so stays off the command line that -vvv prints."""
        args = dict(self._task.args)
        self._update_module_args(self.module_name, args, task_vars)
        env = {}
        self._compute_environment_string(raw_environment_out=env)
        return module_args_json({'ANSIBLE_MODULE_ARGS': args,
                                 'ZDT_ENVIRONMENT': dict((to_text(k), to_text(v)) for k, v in env.items())})

    def _command(self, remote_bin, task_vars, arg):
        shell = self._connection._shell
        # The build holds every module: the first argument names this one.
        # Both arguments are added here, each quoted: ansible-core 2.19's
        # build_module_command quotes its arg_path as one word, 2.14's does
        # not quote it at all.
        cmd = '%s %s %s' % (shell.build_module_command('', None, remote_bin).strip(),
                            shell.quote(self.module_name), shell.quote(arg))
        prefix = self._var(task_vars, EXEC_PREFIX_VAR)
        if prefix:
            cmd = cmd.replace(shell.quote(remote_bin), '%s %s' % (prefix, shell.quote(remote_bin)), 1)
        return cmd

    def _finish(self, res):
        data = parse_returned_data(self, res)
        remove_internal_keys(data)
        return data

    def _use_cache(self, task_vars):
        setting = self._var(task_vars, CACHE_VAR)
        if setting is not None and setting.lower() in ('0', 'false', 'no', 'off'):
            return False
        if self._is_become_unprivileged():
            return False  # the become user could not read the connecting user's cache
        return bool(getattr(self._connection, 'has_pipelining', False))

    def _run_cached(self, builds, candidates, host, task_vars):
        """Run the module from the host's cache, sending a build first if
        the host has none that holds the module, or again if the one it
        has no longer matches its hash."""
        hostkey = self._host_key()
        have = set(host.get('have') or [])
        verified = [b for b in candidates if self._run_cache.get('verified', '%s|%s' % (hostkey, b['sha256']))]
        present = [b for b in candidates if b['sha256'] in have]
        build = (verified or present or candidates)[0]
        remote_bin = build_path(host['home'], build['sha256'])
        if not verified and not present:
            self._send(builds, build, remote_bin, host.get('gzip'))
        self._run_cache.put('verified', '%s|%s' % (hostkey, build['sha256']), True)
        cmd = self._cached_command(remote_bin, build['sha256'], task_vars)
        args = to_bytes(self._module_args(task_vars))
        res = self._low_level_execute_command(cmd, sudoable=True, in_data=args)
        if is_stale(res):
            self._send(builds, build, remote_bin, host.get('gzip'))
            res = self._low_level_execute_command(cmd, sudoable=True, in_data=args)
            if is_stale(res):
                raise AnsibleError(
                    "the module build %s on the host does not match its SHA-256 even just after it was sent "
                    "again, so it was not run: something on the host changes the module cache; find out what, "
                    "or set %s: false" % (remote_bin, CACHE_VAR))
        return self._finish(res)

    def _cached_command(self, remote_bin, digest, task_vars):
        """Return the command that runs the cached build at remote_bin (as
        the become user, if any) after checking its hash (see run_command)."""
        return run_command(self._connection._shell.quote, remote_bin, digest, self.module_name,
                           prefix=self._var(task_vars, EXEC_PREFIX_VAR))

    def _send(self, builds, build, remote_bin, gzip_ok):
        """Put build at remote_bin, checked against its digest, in one
        round trip: the build goes on the command's standard input (no SFTP
        session), gzipped when the host has gzip (compressed once per build
        on the controller, so neither side compresses per host), and its
        hash is checked before it takes the cache name, so a cut transfer
        can never be run; a transfer that fails is removed."""
        data = builds.payload(build, gzip_ok)
        cmd = send_command(self._connection._shell.quote, remote_bin, build['sha256'], gzip_ok)
        res = self._low_level_execute_command(cmd, sudoable=False, in_data=data)
        if SENT not in to_text(res.get('stdout', '')):
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
            unlink_quietly(tmp)
