# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""Run a Go module binary built for the platform of the host that executes it.

Ansible copies a binary module to the target as it is and collections know
nothing of platforms, so the collection carries builds for several platforms
under ``bin/`` and every module has an action plugin derived from
:class:`BinaryModuleAction` that picks a build for the executing host (the
delegate when ``delegate_to`` is used) and runs it with the task's arguments.
A build holds several modules and its first argument names the one to run:
``zdt`` holds every module, ``zdt-host`` only those that run on app and
load-balancer hosts. ``bin/manifest.json`` lists the builds, what each holds
and its SHA-256; a host gets the smallest build holding the module unless it
already has one that does. In the collection tarball the builds are packed
in one xz archive per CPU (``bin/zdt_<arch>.tar.xz``), unpacked on the
controller at first use into ``~/.cache/zerodowntime_rolling`` (or
``$XDG_CACHE_HOME``), checked against the manifest.

A build is sent to a host at most once per version: it is kept in a
content-addressed cache in the remote user's Ansible directory
(``~/.ansible/zerodowntime_rolling/<sha256>``, private to that user) and
checked against its hash by the very command that runs it, every task. The
probe of the host's platform (one round trip per run) refuses a cache that
the remote user does not own or that others can write, and removes builds no
run has used for a week, so the cache holds the versions in use, not every
version ever deployed. Every path in a remote command is quoted: a home may
hold spaces or ``$``.
The arguments go to the binary on standard input, so a task costs one round
trip once the cache is warm and no file holding secrets is written on the
host. With become to an unprivileged user, which could not read the cache,
and with connections that cannot pass standard input, the plugin falls back
to Ansible's usual temporary directory; so it does, with a warning, on a host
where the cache cannot be created, is not private to the remote user, or its
builds cannot be checked.
"""

from __future__ import annotations

import binascii
import errno
import fcntl
import gzip
import hashlib
import json
import os
import random
import re
import tarfile
import time
import zlib

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.clean import remove_internal_keys
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.compat import module_args_json, parse_returned_data

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
# Builds in a host's cache that no run has used for this many days (those of
# other versions of the collection) are removed by the next run's probe.
REMOTE_KEEP_DAYS = 7
_HASH_RE = re.compile(r'^[0-9a-f]{64}$')
# What the command that runs a cached build prints, with STALE_RC, when the
# build is missing or does not match its hash: the plugin sends it again.
STALE = 'zdt-cache-stale'
STALE_RC = 97

# A shell function printing the SHA-256 of the file $1 (nothing when the
# host has neither tool).
_SUM_FN = "zdt_sum() { (sha256sum \"$1\" || shasum -a 256 \"$1\") 2>/dev/null | cut -d' ' -f1; }"


def _probe_cache(digests):
    """Return the probe's commands for the host's cache, run as the remote
    user. They refuse the cache (zdt-untrusted PATH) when the home, its
    .ansible or the cache is not a directory of the remote user or root
    that no one else can write (or is a symlink), since another user could
    then swap a build; else they hash the builds the cache holds (test -x
    first: no hashing tool starts for a missing one), touch those that
    match so that a file's time is its last use, and remove builds (other
    versions') unused for REMOTE_KEEP_DAYS and transfers cut an hour ago.
    A host without a hashing tool gets no cache directory, since nothing
    could check what it would hold. Any tool but uname may be missing (ls
    missing refuses the cache): the command still ends with rc 0."""
    return (_SUM_FN + "; h=~; d=$h/%(c)s; "
            "if command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1; then "
            "if (umask 077 && mkdir -p \"$d\") 2>/dev/null; then "
            "u=; for p in \"$h\" \"$h/.ansible\" \"$d\"; do "
            "m=$(ls -ldnL \"$p\" 2>/dev/null) || m=; set -f; set -- $m; set +f; "
            "if test \"$p\" != \"$h\" && test -L \"$p\"; then u=$p; "
            "elif ! test -d \"$p\" || ! { test -O \"$p\" || test \"$3\" = 0; }; then u=$p; "
            "else case $1 in d????w*|d???????w*|'') u=$p;; esac; fi; "
            "if test -n \"$u\"; then break; fi; done; "
            "if test -n \"$u\"; then echo \"zdt-untrusted $u\"; else chmod 700 \"$d\" 2>/dev/null; "
            "for b in %(h)s; do if test -x \"$d/$b\" && test -O \"$d/$b\" && test ! -L \"$d/$b\" && "
            "test \"$(zdt_sum \"$d/$b\")\" = \"$b\"; then echo \"zdt-have $b\"; touch \"$d/$b\" 2>/dev/null; fi; done; "
            "find \"$d\" -maxdepth 1 -type f \\( \\( -name '%(b)s' -mtime +%(k)d \\) -o \\( -name '.%(p)s.*' -mmin +60 \\) \\) "
            "-exec rm -f {} + 2>/dev/null; fi; "
            "else echo zdt-no-cache-dir; fi; "
            "else echo zdt-no-hash; fi; "
            "if command -v gzip >/dev/null 2>&1; then echo zdt-gzip; fi"
            % {'c': CACHE_DIR, 'h': ' '.join(digests), 'b': '?' * 64, 'p': '?' * 16, 'k': REMOTE_KEEP_DAYS})


def bin_dir():
    """Return the directory holding the platform builds."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, '..', '..', 'bin'))


def unpack_dir():
    """Return the controller directory the packed builds are unpacked into."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'zerodowntime_rolling')


class Builds(object):
    """The collection's builds, as bin/manifest.json lists them."""

    # Unpacked builds of other versions are removed when no run has used
    # them for KEEP_SECONDS. A run marks its version's builds used through
    # their time, refreshed once it is older than MARK_SECONDS (so most
    # tasks only stat them). A *.tmp file older than TMP_SECONDS is what a
    # killed writer left: writers finish within seconds.
    KEEP_SECONDS = 7 * 24 * 3600
    MARK_SECONDS = 24 * 3600
    TMP_SECONDS = 3600

    def __init__(self, directory=None, cache=None):
        self.dir = directory or bin_dir()
        self.cache = cache or unpack_dir()
        path = os.path.join(self.dir, 'manifest.json')
        try:
            with open(path) as f:
                self.builds = json.load(f)['builds']
        except (IOError, OSError, ValueError, KeyError) as e:
            raise AnsibleError("the collection's build manifest %s cannot be read (%s); "
                               "reinstall the collection or run 'make collection'" % (path, to_native(e)))
        for name, b in self.builds.items():
            b['name'] = name
            # The digests go into remote commands as they are.
            if not _HASH_RE.match(to_text(b.get('sha256', ''))) or not isinstance(b.get('size'), int):
                raise AnsibleError("the collection's build manifest %s lists %s without a valid sha256 and size; "
                                   "reinstall the collection or run 'make collection'" % (path, name))

    def digests(self):
        return sorted(b['sha256'] for b in self.builds.values())

    def candidates(self, platform, module):
        """Builds for platform holding module, smallest first."""
        found = [b for b in self.builds.values() if b['platform'] == platform and module in b['modules']]
        if not found:
            raise AnsibleError(
                "the collection has no build of %s for %s (builds: %s); "
                "rebuild it with 'make collection'" % (module, platform, ', '.join(sorted(self.builds))))
        return sorted(found, key=lambda b: (b['size'], b['name']))

    def local_path(self, build):
        """Return the path of build on the controller, checked against its
        hash, unpacking it if needed."""
        return self._load(build)[0]

    def payload(self, build, gz):
        """Return the bytes that send build to a host: the build, or with gz
        its gzip copy, made once per build. Both are checked against the
        manifest's hash first, so a corrupt copy in the cache is made again
        rather than sent (the host would refuse it)."""
        digest = build['sha256']
        if gz:
            path = os.path.join(self.cache, digest + '.gz')
            data = _read_checked(path, digest, build['size'], gunzip=True)
            if data is not None:
                return data
        data = self._load(build)[1]
        if not gz:
            return data
        data = gzip.compress(data, compresslevel=6)
        try:
            self._write(os.path.join(self.cache, digest + '.gz'), data)
        except (IOError, OSError):
            pass  # a read-only cache: compressed again next time
        return data

    def _load(self, build):
        """Return (path, bytes) of build on the controller, checked."""
        digest = build['sha256']
        plain = os.path.join(self.dir, build['name'])
        if os.path.isfile(plain):  # a source tree after 'make'
            data = _read_checked(plain, digest, build['size'])
            if data is None:
                raise AnsibleError("%s does not match bin/manifest.json; run 'make collection'" % plain)
            return plain, data
        path = os.path.join(self.cache, digest)
        data = _read_checked(path, digest, build['size'])
        if data is None:
            for name in (digest, digest + '.gz'):
                _unlink(os.path.join(self.cache, name))
            self._unpack(build['archive'])
            path = os.path.join(self.cache, digest)
            data = _read_checked(path, digest, build['size'])
        if data is None:
            raise AnsibleError("%s holds no intact %s" % (os.path.join(self.dir, build['archive']), build['name']))
        return path, data

    def mark_used(self):
        """Refresh the time of this version's unpacked builds (and their
        gzip copies) in the cache, so that another version's unpack, which
        prunes by that time, keeps the builds of every version in use."""
        now = time.time()
        for digest in self.digests():
            for name in (digest, digest + '.gz'):
                path = os.path.join(self.cache, name)
                try:
                    if now - os.path.getmtime(path) > self.MARK_SECONDS:
                        os.utime(path, None)
                except OSError:
                    pass  # not unpacked (a source tree) or not gzipped yet

    def _write(self, path, data):
        """Write data to path through a temporary file, removed if that fails."""
        tmp = '%s.%d.tmp' % (path, os.getpid())
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_NOFOLLOW, 0o700)
            with os.fdopen(fd, 'wb') as out:
                out.write(data)
            os.rename(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise

    def _unpack(self, archive):
        """Unpack every build in archive into the cache, each checked against
        the manifest. Serialised with a lock: several workers may ask at once."""
        try:
            os.makedirs(self.cache, 0o700)
        except OSError as e:
            if e.errno != errno.EEXIST:
                # A read-only home (some execution environments): unpack into
                # this run's temporary directory instead, once per run.
                fallback = os.path.join(C.DEFAULT_LOCAL_TMP, 'zerodowntime_rolling_builds')
                if self.cache == fallback:
                    raise AnsibleError("cannot create %s to unpack the module builds: %s" % (self.cache, to_native(e)))
                display.vvv("zerodowntime.rolling: cannot use %s (%s); unpacking the builds into %s"
                            % (self.cache, to_native(e), fallback))
                self.cache = fallback
                return self._unpack(archive)
        wanted = dict((b['name'], b) for b in self.builds.values() if b['archive'] == archive)
        with open(os.path.join(self.cache, '.lock'), 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if all(os.path.isfile(os.path.join(self.cache, b['sha256'])) for b in wanted.values()):
                return  # another worker did it
            try:
                with tarfile.open(os.path.join(self.dir, archive), 'r:xz') as tar:
                    for member in tar:
                        b = wanted.get(member.name)
                        if b is None or not member.isfile():
                            continue
                        self._write_checked(tar.extractfile(member), b)
            except (IOError, OSError, EOFError, tarfile.TarError) as e:
                raise AnsibleError("cannot unpack the module builds from %s: %s"
                                   % (os.path.join(self.dir, archive), to_native(e)))
            self._prune()

    def _write_checked(self, src, build):
        data = src.read(build['size'] + 1)
        if hashlib.sha256(data).hexdigest() != build['sha256']:
            raise AnsibleError("%s in %s does not match bin/manifest.json; reinstall the collection"
                               % (build['name'], build['archive']))
        self._write(os.path.join(self.cache, build['sha256']), data)

    def _prune(self):
        keep = set(self.digests())
        now = time.time()
        for name in os.listdir(self.cache):
            if name.endswith('.tmp'):
                limit = self.TMP_SECONDS
            else:
                digest = name[:-3] if name.endswith('.gz') else name
                if digest in keep or not _HASH_RE.match(digest):
                    continue
                limit = self.KEEP_SECONDS
            path = os.path.join(self.cache, name)
            try:
                if now - os.lstat(path).st_mtime > limit:
                    os.unlink(path)
            except OSError:
                pass


_O_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _read_checked(path, digest, size, gunzip=False):
    """Return the build in the file at path (gzipped with gunzip) if it
    matches digest, else None. The file is opened without following a
    symlink and read no further than a build of size can need."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, 'rb') as f:
        # gzip never grows data by more than a few bytes per 32 KiB block.
        data = f.read(size + size // 100 + (1 << 16) if gunzip else size + 1)
    if gunzip:
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = d.decompress(data, size + 1)
        except zlib.error:
            return None
        if not d.eof or d.unconsumed_tail or len(raw) != size:
            return None
    else:
        raw = data
    if len(raw) != size or hashlib.sha256(raw).hexdigest() != digest:
        return None
    return data


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
            builds = Builds()
            builds.mark_used()
            cache = self._use_cache(task_vars)
            host = self._host_info(task_vars, builds, cache)
            candidates = builds.candidates(host['platform'], self.module_name)
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
        if warning:
            result['warnings'] = [warning] + list(result.get('warnings') or [])
        return result

    # -- the executing host -------------------------------------------------

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
                cmd += '; ' + _probe_cache(builds.digests())
            res = self._low_level_execute_command(cmd, sudoable=False)
            lines = to_text(res.get('stdout', '')).strip().splitlines()
            plain = [line for line in lines if not line.startswith('zdt-')]
            if res.get('rc') != 0 or len(plain) < 2:
                raise AnsibleError("cannot tell the target's platform: 'uname -sm' failed (rc=%s): %s"
                                   % (res.get('rc'), to_text(res.get('stderr', '')).strip()))
            info = {'uname': plain[0], 'home': plain[1], 'have': None}
            if cache:
                info['have'] = [line.split()[1] for line in lines if line.startswith('zdt-have ')]
                info['no_cache_dir'] = 'zdt-no-cache-dir' in lines
                info['no_hash'] = 'zdt-no-hash' in lines
                info['gzip'] = 'zdt-gzip' in lines
                info['untrusted'] = next((line[len('zdt-untrusted '):] for line in lines
                                          if line.startswith('zdt-untrusted ')), None)
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
        remote_bin = '%s/%s/%s' % (host['home'].rstrip('/'), CACHE_DIR, build['sha256'])
        if not verified and not present:
            self._send(builds, build, remote_bin, host.get('gzip'))
        self._run_cache.put('verified', '%s|%s' % (hostkey, build['sha256']), True)
        cmd = self._cached_command(remote_bin, build['sha256'], task_vars)
        args = to_bytes(self._module_args(task_vars))
        res = self._low_level_execute_command(cmd, sudoable=True, in_data=args)
        if _stale(res):
            self._send(builds, build, remote_bin, host.get('gzip'))
            res = self._low_level_execute_command(cmd, sudoable=True, in_data=args)
            if _stale(res):
                raise AnsibleError(
                    "the module build %s on the host does not match its SHA-256 even just after it was sent "
                    "again, so it was not run: something on the host changes the module cache; find out what, "
                    "or set %s: false" % (remote_bin, CACHE_VAR))
        return self._finish(res)

    def _cached_command(self, remote_bin, digest, task_vars):
        """Return the command that runs the cached build at remote_bin (as
        the become user, if any) after checking its hash.

        Checking a file and then running it by name leaves a window in
        which whoever can write the file or its directory can swap it.
        Where the user that runs the build owns both (the remote user
        without become, or root that connected as root), nobody else but
        root can, and the probe made sure no one else can write the
        directories above: the build is checked and run in place. Anywhere
        else (become root from another user, whose cache this is), the
        build is copied into a new directory private to the user that runs
        it, and the copy, which no one else can change, is checked and run.
        The check costs one sha256sum per task; a missing or changed build
        prints STALE and the plugin sends it again."""
        shell = self._connection._shell
        q = shell.quote
        prefix = self._var(task_vars, EXEC_PREFIX_VAR)
        run = '%s"$f" %s -' % (prefix + ' ' if prefix else '', q(self.module_name))
        # In /tmp, not $TMPDIR, which the remote user may set to a directory
        # of theirs: in a sticky directory no one else can rename ours away.
        private = '/tmp/zdt-%s' % binascii.hexlify(os.urandom(8)).decode()
        return (_SUM_FN + "; f=%(f)s; "
                "if test -O \"$f\" && test ! -L \"$f\" && test -O %(d)s; then "
                "if test \"$(zdt_sum \"$f\")\" = %(h)s; then exec %(run)s; fi; "
                "else t=%(t)s; if ! (umask 077 && mkdir \"$t\"); then exit 1; fi; "
                "if cat \"$f\" > \"$t/zdt\" 2>/dev/null && chmod 700 \"$t/zdt\" && "
                "test \"$(zdt_sum \"$t/zdt\")\" = %(h)s; then f=$t/zdt; %(run)s; r=$?; rm -rf \"$t\"; exit $r; fi; "
                "rm -rf \"$t\"; fi; echo %(stale)s; exit %(rc)d"
                % {'f': q(remote_bin), 'd': q(os.path.dirname(remote_bin)), 'h': digest, 'run': run,
                   't': private, 'stale': STALE, 'rc': STALE_RC})

    def _send(self, builds, build, remote_bin, gzip_ok):
        """Put build at remote_bin, checked against its digest, in one
        round trip: the build goes on the command's standard input (no SFTP
        session), gzipped when the host has gzip (compressed once per build
        on the controller, so neither side compresses per host), and its
        hash is checked before it takes the cache name, so a cut transfer
        can never be run; a transfer that fails is removed."""
        q = self._connection._shell.quote
        digest = build['sha256']
        cache_dir = os.path.dirname(remote_bin)
        partial = '%s/.%s.%d' % (cache_dir, digest[:16], random.randint(0, 1 << 30))
        data = builds.payload(build, gzip_ok)
        receive = '%s > %s' % ('gzip -dc' if gzip_ok else 'cat', q(partial))
        cmd = (_SUM_FN + "; umask 077 && mkdir -p %(c)s && %(r)s && chmod 700 %(p)s && h=$(zdt_sum %(p)s) && "
               "if test \"$h\" = %(d)s && mv -f %(p)s %(f)s; then echo zdt-cache-ok; "
               "else echo \"hash mismatch: $h\"; fi; rm -f %(p)s"
               % {'c': q(cache_dir), 'r': receive, 'p': q(partial), 'f': q(remote_bin), 'd': digest})
        res = self._low_level_execute_command(cmd, sudoable=False, in_data=data)
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


def _stale(res):
    """Whether the command of _cached_command found its build missing or changed."""
    return res.get('rc') == STALE_RC and to_text(res.get('stdout', '')).strip() == STALE


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
            _unlink(tmp)
