# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""The controller's store of the collection's module builds.

``bin/manifest.json`` lists the builds, what each holds and its SHA-256. In
the collection tarball the builds are packed in one xz archive per CPU
(``bin/zdt_<arch>.tar.xz``), unpacked on the controller at first use into
``~/.cache/zerodowntime_rolling`` (or ``$XDG_CACHE_HOME``), checked against
the manifest; a source tree after ``make`` has them unpacked in ``bin/``.
Every build is checked against its hash before it is used or sent, and
unpacked builds no run has used for a week (other versions') are removed.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import hashlib
import json
import os
import re
import tarfile
import time
import zlib

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.utils.display import Display

display = Display()

HASH_RE = re.compile(r'^[0-9a-f]{64}$')

# A build holding this module has the cloud SDKs (the full build), which a
# module may need for some of its options only (deploy_watch's providers
# hetzner and aws).
CLOUD_MODULE = 'lb_register'


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
            if not HASH_RE.match(to_text(b.get('sha256', ''))) or not isinstance(b.get('size'), int):
                raise AnsibleError("the collection's build manifest %s lists %s without a valid sha256 and size; "
                                   "reinstall the collection or run 'make collection'" % (path, name))

    def digests(self):
        return sorted(b['sha256'] for b in self.builds.values())

    def candidates(self, platform, module, cloud=False):
        """Builds for platform holding module, smallest first; with cloud,
        only those with the cloud SDKs."""
        need = (module, CLOUD_MODULE) if cloud else (module,)
        found = [b for b in self.builds.values()
                 if b['platform'] == platform and all(n in b['modules'] for n in need)]
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
            data = read_checked(path, digest, build['size'], gunzip=True)
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
            data = read_checked(plain, digest, build['size'])
            if data is None:
                raise AnsibleError("%s does not match bin/manifest.json; run 'make collection'" % plain)
            return plain, data
        path = os.path.join(self.cache, digest)
        data = read_checked(path, digest, build['size'])
        if data is None:
            for name in (digest, digest + '.gz'):
                unlink_quietly(os.path.join(self.cache, name))
            self._unpack(build['archive'])
            path = os.path.join(self.cache, digest)
            data = read_checked(path, digest, build['size'])
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
            unlink_quietly(tmp)
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
                if digest in keep or not HASH_RE.match(digest):
                    continue
                limit = self.KEEP_SECONDS
            path = os.path.join(self.cache, name)
            try:
                if now - os.lstat(path).st_mtime > limit:
                    os.unlink(path)
            except OSError:
                pass


_O_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)


def unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def read_checked(path, digest, size, gunzip=False):
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
        # Bytes after the gzip stream make the host's gzip -d fail.
        if not d.eof or d.unconsumed_tail or d.unused_data or len(raw) != size:
            return None
    else:
        raw = data
    if len(raw) != size or hashlib.sha256(raw).hexdigest() != digest:
        return None
    return data
