# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""The run record: which hosts a rolling deploy touched, and in what order.

The deploy role's tasks carry ``_deploy_record`` (the run's name),
``_deploy_step`` and ``_deploy_phase`` (deploy, rollback or undo); after each
of the collection's modules runs for such a task, its action plugin notes the
step's outcome for the host (:func:`note`). The record is one JSON file per
run name on the controller, under ``~/.ansible/zerodowntime_rolling/runs``
(0700, the file 0600). A rollout (phase deploy) that finds a record of
another run replaces it, so a record lives until the next rollout of the same
name starts; records untouched for ``KEEP_DAYS`` days are removed.

From the record, :func:`undo_hosts` tells which hosts are still on the new
version (touched by the rollout and not rolled back or undone since), last
touched first: what the ``zerodowntime.rolling.undo`` playbook rolls back,
after a failed rollout with ``deploy_rollback_scope: all`` or after an
interrupted one.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import time

from ansible import constants as C

RECORD_DIR = os.path.join('~', '.ansible', 'zerodowntime_rolling', 'runs')
KEEP_DAYS = 30
VERSION = 1
PHASES = ('deploy', 'rollback', 'undo')
# Records are small; a larger file is not one of ours.
MAX_BYTES = 4 << 20

_UNSAFE = re.compile(r'[^A-Za-z0-9._-]')


class RecordError(Exception):
    """The record cannot be read or written safely."""


def run_id():
    """Return an id unique to this ansible-playbook run: the name of its
    local temporary directory, which every worker of the run shares."""
    return os.path.basename(C.DEFAULT_LOCAL_TMP.rstrip(os.sep))


def record_dir():
    return os.path.expanduser(RECORD_DIR)


def record_path(name, directory=None):
    """Return the record file of run name: the name itself where it is a
    safe file name, else a readable part and a hash of the whole."""
    if not name or not isinstance(name, str):
        raise RecordError('the run name must be a non-empty string, got %r' % (name,))
    safe = _UNSAFE.sub('_', name)[:64]
    if safe != name or safe.startswith('.'):
        safe = '%s-%s' % (safe.lstrip('.'), hashlib.sha256(name.encode('utf-8')).hexdigest()[:12])
    return os.path.join(directory or record_dir(), safe + '.json')


def _private_dir(path):
    """Create path (0700) if needed, and refuse it unless it is a real
    directory of ours that others cannot write."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError as e:
        raise RecordError('the run record directory %s cannot be created: %s' % (path, e.strerror))
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise RecordError('the run record directory %s is not a directory that only you own and can write' % path)


def _open_record(path):
    """Open path for reading and writing without following a symlink."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise RecordError('the run record %s is a symlink; refusing it' % path)
        raise RecordError('the run record %s cannot be opened: %s' % (path, e.strerror))
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
        os.close(fd)
        raise RecordError('the run record %s is not a regular file of yours' % path)
    return fd


def _load(fd, path):
    data = b''
    while len(data) <= MAX_BYTES:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    if len(data) > MAX_BYTES:
        raise RecordError('the run record %s is larger than %d bytes' % (path, MAX_BYTES))
    if not data.strip():
        return None
    try:
        rec = json.loads(data.decode('utf-8'))
    except ValueError as e:
        raise RecordError('the run record %s is not valid JSON: %s' % (path, e))
    if not isinstance(rec, dict) or rec.get('version') != VERSION or not isinstance(rec.get('hosts'), dict):
        raise RecordError('the run record %s is not a record of this collection (version %d)' % (path, VERSION))
    return rec


def _new(name, run):
    return {'version': VERSION, 'name': name, 'run': run, 'started': time.time(), 'hosts': {}}


def update(name, change, directory=None):
    """Apply change(record) -> record under an exclusive lock and write the
    result back; return it. change gets None when there is no record yet."""
    directory = directory or record_dir()
    _private_dir(directory)
    path = record_path(name, directory)
    fd = _open_record(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        rec = change(_load(fd, path))
        data = json.dumps(rec, sort_keys=True, indent=1).encode('utf-8')
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    prune(directory, keep=path)
    return rec


def read(name, directory=None):
    """Return the record of run name, or None if there is none."""
    directory = directory or record_dir()
    path = record_path(name, directory)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0))
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        if e.errno == errno.ELOOP:
            raise RecordError('the run record %s is a symlink; refusing it' % path)
        raise RecordError('the run record %s cannot be read: %s' % (path, e.strerror))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RecordError('the run record %s is not a regular file' % path)
        fcntl.flock(fd, fcntl.LOCK_SH)
        return _load(fd, path)
    finally:
        os.close(fd)


def prune(directory, keep=None, now=None):
    """Remove records untouched for KEEP_DAYS days (not keep)."""
    limit = (now or time.time()) - KEEP_DAYS * 86400
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for n in names:
        p = os.path.join(directory, n)
        if not n.endswith('.json') or p == keep:
            continue
        try:
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode) and st.st_mtime < limit:
                os.unlink(p)
        except OSError:
            pass


def note(name, host, phase, step, ok, result=None, run=None, directory=None, now=None):
    """Note that step of phase ended (ok or not) for host in run name's
    record. A drain of phase deploy keeps the result's restore entries: how
    the host was registered, for an undo that finds it already out."""
    if phase not in PHASES:
        raise RecordError('unknown phase %r' % (phase,))
    run = run or run_id()
    at = now or time.time()

    def change(rec):
        if rec is None or (phase == 'deploy' and rec.get('run') != run):
            rec = _new(name, run)
        h = rec['hosts'].get(host)
        if h is None:
            h = rec['hosts'][host] = {'order': len(rec['hosts']), 'events': []}
        h['events'].append({'phase': phase, 'step': step, 'ok': bool(ok), 'at': at})
        restore = (result or {}).get('restore')
        if phase == 'deploy' and step == 'drain' and ok and restore and 'restore' not in h:
            h['restore'] = restore
        rec['updated'] = at
        return rec

    return update(name, change, directory)


def host_state(h):
    """Return 'new' for a host the rollout touched that is not back on the
    old version, 'old' for one rolled back or undone (the old version
    verified, and no step of that rollback failed since: register, watch),
    'untouched' for one whose drain never took it out."""
    state = 'untouched'
    for e in h.get('events', []):
        if e['phase'] == 'deploy':
            if e['ok'] or e['step'] != 'drain':
                state = 'new'
        elif state != 'untouched':
            if not e['ok']:
                state = 'new'
            elif e['step'] == 'verify':
                state = 'old'
    return state


def undo_hosts(rec):
    """Return the hosts of rec still on the new version, last touched first."""
    if not rec:
        return []
    moved = [name for name, h in rec['hosts'].items() if host_state(h) == 'new']
    return sorted(moved, key=lambda name: rec['hosts'][name].get('order', 0), reverse=True)
