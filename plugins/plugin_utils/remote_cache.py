# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""The cache of module builds on a host, as the shell commands that keep it.

A build is kept in a content-addressed cache in the remote user's Ansible
directory (``~/.ansible/zerodowntime_rolling/<sha256>``, private to that
user) and checked against its hash by the very command that runs it. Each
function here returns one command for ``/bin/sh`` on the host; ``quote`` is
the connection's shell plugin's quote, and every path and word that goes
into a command passes through it: a home may hold spaces or ``$``. The
digests come from the manifest, checked to be hex by ``builds``.
"""

from __future__ import annotations

import binascii
import os
import random

from ansible.module_utils.common.text.converters import to_text

CACHE_DIR = '.ansible/zerodowntime_rolling'
# Builds in a host's cache that no run has used for this many days (those of
# other versions of the collection) are removed by the next run's probe.
REMOTE_KEEP_DAYS = 7
# What the command that runs a cached build prints, with STALE_RC, when the
# build is missing or does not match its hash: the plugin sends it again.
STALE = 'zdt-cache-stale'
STALE_RC = 97
# What the command that sends a build prints once it holds the cache name.
SENT = 'zdt-cache-ok'

# A shell function printing the SHA-256 of the file $1 (nothing when the
# host has neither tool).
SUM_FN = "zdt_sum() { (sha256sum \"$1\" || shasum -a 256 \"$1\") 2>/dev/null | cut -d' ' -f1; }"


def build_path(home, digest):
    """Return the path of the build digest in the cache under home."""
    return '%s/%s/%s' % (home.rstrip('/'), CACHE_DIR, digest)


def probe_command(quote, digests):
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
    missing refuses the cache): the command still ends with rc 0.
    parse_probe reads what it prints."""
    return (SUM_FN + "; h=~; d=\"$h\"/%(c)s; "
            "if command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1; then "
            "if (umask 077 && mkdir -p \"$d\") 2>/dev/null; then "
            # The first of home, .ansible and cache that is not trusted.
            "u=; for p in \"$h\" \"$h/.ansible\" \"$d\"; do "
            "m=$(ls -ldnL \"$p\" 2>/dev/null) || m=; set -f; set -- $m; set +f; "
            "if test \"$p\" != \"$h\" && test -L \"$p\"; then u=$p; "
            "elif ! test -d \"$p\" || ! { test -O \"$p\" || test \"$3\" = 0; }; then u=$p; "
            "else case $1 in d????w*|d???????w*|'') u=$p;; esac; fi; "
            "if test -n \"$u\"; then break; fi; done; "
            "if test -n \"$u\"; then echo \"zdt-untrusted $u\"; else chmod 700 \"$d\" 2>/dev/null; "
            # The builds it holds that match their hash, marked used.
            "for b in %(h)s; do if test -x \"$d/$b\" && test -O \"$d/$b\" && test ! -L \"$d/$b\" && "
            "test \"$(zdt_sum \"$d/$b\")\" = \"$b\"; then echo \"zdt-have $b\"; touch \"$d/$b\" 2>/dev/null; fi; done; "
            # Unused builds and cut transfers.
            "find \"$d\" -maxdepth 1 -type f \\( \\( -name %(b)s -mtime +%(k)d \\) -o \\( -name %(p)s -mmin +60 \\) \\) "
            "-exec rm -f {} + 2>/dev/null; fi; "
            "else echo zdt-no-cache-dir; fi; "
            "else echo zdt-no-hash; fi; "
            "if command -v gzip >/dev/null 2>&1; then echo zdt-gzip; fi"
            % {'c': quote(CACHE_DIR), 'h': ' '.join(quote(d) for d in digests), 'b': quote('?' * 64),
               'p': quote('.%s.*' % ('?' * 16)), 'k': REMOTE_KEEP_DAYS})


def parse_probe(lines):
    """Return what the lines probe_command printed say about the cache:
    {have, no_cache_dir, no_hash, gzip, untrusted}; have lists the builds
    it holds that match their hash, untrusted the path that made it refuse
    the cache (or None)."""
    return {
        'have': [line.split()[1] for line in lines if line.startswith('zdt-have ')],
        'no_cache_dir': 'zdt-no-cache-dir' in lines,
        'no_hash': 'zdt-no-hash' in lines,
        'gzip': 'zdt-gzip' in lines,
        'untrusted': next((line[len('zdt-untrusted '):] for line in lines if line.startswith('zdt-untrusted ')), None),
    }


def private_dir():
    """Return a new path for a private copy of a build. In /tmp, not
    $TMPDIR, which the remote user may set to a directory of theirs: in a
    sticky directory no one else can rename ours away."""
    return '/tmp/zdt-%s' % binascii.hexlify(os.urandom(8)).decode()


def run_command(quote, remote_bin, digest, module, prefix=None, private=None):
    """Return the command that runs module from the cached build at
    remote_bin, with the arguments on standard input, after checking its
    hash; prefix (an emulator's command line, as the user gave it) goes
    before the build.

    Checking a file and then running it by name leaves a window in which
    whoever can write the file or its directory can swap it. Where the user
    that runs the build owns both (the remote user without become, or root
    that connected as root), nobody else but root can, and the probe made
    sure no one else can write the directories above: the build is checked
    and run in place. Anywhere else (become root from another user, whose
    cache this is), the build is copied into a new directory (private, or
    private_dir()) private to the user that runs it, and the copy, which no
    one else can change, is checked and run. The check costs one sha256sum
    per task; a missing or changed build prints STALE and exits STALE_RC,
    and the plugin sends it again."""
    run = '%s"$f" %s -' % (prefix + ' ' if prefix else '', quote(module))
    return (SUM_FN + "; f=%(f)s; "
            "if test -O \"$f\" && test ! -L \"$f\" && test -O %(d)s; then "
            "if test \"$(zdt_sum \"$f\")\" = %(h)s; then exec %(run)s; fi; "
            "else t=%(t)s; if ! (umask 077 && mkdir \"$t\"); then exit 1; fi; "
            "if cat \"$f\" > \"$t/zdt\" 2>/dev/null && chmod 700 \"$t/zdt\" && "
            "test \"$(zdt_sum \"$t/zdt\")\" = %(h)s; then f=$t/zdt; %(run)s; r=$?; rm -rf \"$t\"; exit $r; fi; "
            "rm -rf \"$t\"; fi; echo %(stale)s; exit %(rc)d"
            % {'f': quote(remote_bin), 'd': quote(os.path.dirname(remote_bin)), 'h': quote(digest), 'run': run,
               't': quote(private or private_dir()), 'stale': quote(STALE), 'rc': STALE_RC})


def is_stale(res):
    """Whether the command of run_command found its build missing or changed."""
    return res.get('rc') == STALE_RC and to_text(res.get('stdout', '')).strip() == STALE


def send_command(quote, remote_bin, digest, gz, partial=None):
    """Return the command that puts the build on its standard input
    (gzipped with gz) at remote_bin, checked against digest: it is
    received under a partial name in the cache directory (one the probe
    removes an hour on), and takes the cache name only once its hash
    matches, so a cut transfer can never be run; a transfer that fails is
    removed. It prints SENT when the build is in place."""
    cache_dir = os.path.dirname(remote_bin)
    if partial is None:
        partial = '%s/.%s.%d' % (cache_dir, digest[:16], random.randint(0, 1 << 30))
    receive = '%s > %s' % ('gzip -dc' if gz else 'cat', quote(partial))
    return (SUM_FN + "; umask 077 && mkdir -p %(c)s && %(r)s && chmod 700 %(p)s && h=$(zdt_sum %(p)s) && "
            "if test \"$h\" = %(d)s && mv -f %(p)s %(f)s; then echo %(ok)s; "
            "else echo \"hash mismatch: $h\"; fi; rm -f %(p)s"
            % {'c': quote(cache_dir), 'r': receive, 'p': quote(partial), 'f': quote(remote_bin),
               'd': quote(digest), 'ok': SENT})
