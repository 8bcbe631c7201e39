# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""The run summary the zerodowntime.rolling.rollout callback prints and
writes: what each host went through, built from task starts and results,
and from the results of a loop's items when the role runs several steps in
one task.

It knows nothing of Ansible's objects (the callback hands it plain values),
and it keeps only the fields it picks from a result, never a whole result
or a module's arguments, so no secret gets into the summary."""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile

SCHEMA_VERSION = 1

# The steps a task can name in its _deploy_step var: the five a host always
# goes through, always columns of the table, and those it may (baseline:
# the watch's probe before the drain).
MAIN_STEPS = ('drain', 'deploy', 'verify', 'register', 'watch')
STEPS = MAIN_STEPS + ('baseline', 'rollback', 'take_out')
# The phases of _deploy_phase: the rollout itself, the rollback of a host
# the run already moved (deploy_rollback_scope: all), an undo run.
PHASES = ('deploy', 'rollback', 'undo')

_LB_MODULES = ('lb_drain', 'lb_register', 'haproxy_maint')
# The collection's modules that act on a host or on its load balancer
# entry: a host one of them ran for was touched by the rollout.
_ACTING_MODULES = _LB_MODULES + ('health_file', 'deploy_token', 'deploy_verify', 'deploy_watch')

# The zdt_step of a loop item that names no timed step: the take-out
# loop's input checks (and the token write), the canary pause, the check
# mode plan.
ITEM_STEPS = ('check', 'pause', 'plan')

# Keys of a watch signal's figures that could hold a credential are
# dropped, whatever the module put there.
_SECRET_KEY = re.compile(r'pass|secret|token|auth|cookie|credential|session|signature|private', re.I)
_URL_USERINFO = re.compile(r'(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@')
_URL_QUERY = re.compile(r'(?i)(\b[a-z][a-z0-9+.-]*://[^\s?#]*)\?[^\s#]*')
_MAX_TEXT = 400


def short_action(action):
    """The module name of a task's action, without the collection prefix."""
    return str(action or '').rsplit('.', 1)[-1]


def scrub_text(s, limit=_MAX_TEXT):
    """s without the user and password or the query of any URL in it, cut
    to limit characters."""
    s = _URL_QUERY.sub(r'\1?...', _URL_USERINFO.sub(r'\1', str(s)))
    return s if len(s) <= limit else s[:limit - 3] + '...'


def _scalar(v):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return round(v, 4) if isinstance(v, float) else int(v)
    if isinstance(v, str):
        return scrub_text(v)
    return None


def _figures(d, depth=0):
    """The plain figures of a dict: scalars, lists of scalars and (one
    level down) dicts of them, without keys that may name a secret."""
    out = {}
    for k, v in d.items():
        k = str(k)
        if _SECRET_KEY.search(k):
            continue
        if isinstance(v, dict):
            if depth == 0:
                out[k] = _figures(v, 1)
        elif isinstance(v, (list, tuple)):
            items = [_scalar(x) for x in v[:20] if not isinstance(x, (dict, list, tuple))]
            out[k] = items
        else:
            out[k] = _scalar(v)
    return out


def version_of(body_excerpt):
    """The version a deploy_verify body names: its "version" key when the
    body is a JSON object, else None (never a guess)."""
    if not isinstance(body_excerpt, str):
        return None
    try:
        doc = json.loads(body_excerpt)
    except ValueError:
        return None
    v = doc.get('version') if isinstance(doc, dict) else None
    if isinstance(v, (str, int, float)) and not isinstance(v, bool) and 0 < len(str(v)) <= 64:
        return str(v)
    return None


def _item_host(r):
    """The host a loop item ran on, for the HAProxy host of a drain or
    register: the rollout_step item's zdt_host or its item's host, or the
    loop's item when it is a host name."""
    item = r.get('item')
    for on in (r.get('zdt_host'), item.get('host') if isinstance(item, dict) else item):
        if isinstance(on, str) and on:
            return on
    return None


def _items(result):
    """The results of a task: each loop item's, or the result itself."""
    items = result.get('results')
    if isinstance(items, list):
        return [r for r in items if isinstance(r, dict)]
    return [result]


class _Run(object):
    """A task under way on a host: when it started, when its last loop
    item ended, whether its items named their steps (zdt_step), and its
    first failed item (status, step, module, result)."""

    def __init__(self, start):
        self.start = start
        self.mark = start
        self.itemized = False
        self.failed_item = None


def _phase(phase):
    return phase if phase in PHASES else 'deploy'


class _Host(object):
    def __init__(self, name):
        self.name = name
        self.touched = False
        # Ended untouched by its checks (deploy_rollback_scope all, the
        # rollout being undone): the include that ends it is no deploy.
        self.left = False
        self.stepped = False  # ran a task of a step
        self.phases = {}  # phase -> step -> seconds
        self.tasks = {}  # phase -> tasks of the deploy role that ran
        self.version_before = None
        self.version_after = None
        self.deploy_started = False
        self.load_balancers = []
        self.watch = []
        self.failed = False
        self.failed_step = None
        self.failed_phase = None
        self.reason = None
        self.final_reason = None  # the role's "Rollout failed" message

    def status(self):
        if self.failed:
            return 'failed'
        return 'ok' if self.touched else 'untouched'

    def to_dict(self):
        return {
            'name': self.name,
            'status': self.status(),
            'touched': self.touched,
            'phases': {p: {s: round(t, 2) for s, t in steps.items()} for p, steps in self.phases.items()},
            'tasks': dict(self.tasks),
            'version_before': self.version_before,
            'version_after': self.version_after,
            'load_balancers': list(self.load_balancers),
            'failed_phase': self.failed_phase,
            'failed_step': self.failed_step,
            'reason': self.final_reason or self.reason,
            'watch': list(self.watch),
        }


class Summary(object):
    """What a run did to each host, fed with task starts and results."""

    def __init__(self):
        self.playbook = None
        self.check_mode = False
        self.started = None
        self.ended = None
        self._order = []
        self._hosts = {}
        # The hosts of each play, and whether any of them ran a step: the
        # hosts of a play outside the rollout (a localhost play before it)
        # are not the rollout's.
        self._plays = []
        self._runs = {}  # (host, task key) -> _Run

    def host(self, name):
        name = str(name)
        if name not in self._hosts:
            self._hosts[name] = _Host(name)
            self._order.append(name)
        return self._hosts[name]

    def play_hosts(self, names):
        """Records the hosts of a play, so that those never reached show."""
        self._plays.append([[self.host(n).name for n in names], False])

    def task_start(self, host, key, step, phase, when):
        h = self.host(host)
        if self.started is None:
            self.started = when
        self._runs[(h.name, key)] = _Run(when)
        self._stepped(h, step, phase)

    def _stepped(self, h, step, phase):
        if step in STEPS:
            h.stepped = True
            if self._plays:
                self._plays[-1][1] = True
        # A verify after this shows the new version: the deploy step, or
        # the drain that always comes first (in case the deploy step's
        # tasks carry no _deploy_step).
        if step in ('drain', 'deploy') and phase == 'deploy':
            h.deploy_started = True

    def role_task(self, host, phase):
        """Counts one task of the deploy role that ran on host, whatever
        its outcome."""
        h = self.host(host)
        phase = _phase(phase)
        h.tasks[phase] = h.tasks.get(phase, 0) + 1

    @staticmethod
    def _add_time(h, step, phase, seconds):
        steps = h.phases.setdefault(_phase(phase), {})
        steps[step] = steps.get(step, 0.0) + max(0.0, seconds)

    @staticmethod
    def _touch(h, status, step, module, result):
        if result.get('changed') is True or (
                status == 'ok' and (module in _ACTING_MODULES or step in ('deploy', 'rollback'))):
            h.touched = True

    def item_result(self, host, key, status, when, phase='deploy', result=None):
        """Records one loop item's result on a host. An item that names its
        step (zdt_step) is timed in that step, from the previous item's
        result (or the task's start) to its own, and read as the result of
        the module it names (zdt_module); its task then adds no time of its
        own. Items without zdt_step are left to the task's result."""
        h = self.host(host)
        run = self._runs.get((h.name, key))
        if run is None:  # no start seen: the item gets no time
            run = self._runs[(h.name, key)] = _Run(when)
        start, run.mark = run.mark, when
        self.ended = when
        result = result if isinstance(result, dict) else {}
        step = result.get('zdt_step')
        if step not in STEPS and step not in ITEM_STEPS:
            return
        run.itemized = True
        if status == 'skipped' or result.get('skipped') is True:
            return  # never ran: an item after a failed one
        self._stepped(h, step, phase)
        if step in STEPS:
            self._add_time(h, step, phase, when - start)
        module = short_action(result.get('zdt_module'))
        if result.get('zdt_end') is True:
            h.left = True
        if step == 'check':
            # The input checks and the reach check touch nothing; the token
            # write does when it changed the host.
            h.touched = h.touched or result.get('changed') is True
        else:
            self._touch(h, status, step, module, result)
        if 'censored' not in result:
            self._read(h, module, result, phase)
        if status in ('failed', 'unreachable') and run.failed_item is None:
            # Recorded, not yet a failure: only the task's result says
            # whether its errors are ignored.
            run.failed_item = (status, step, module, result)

    def task_result(self, host, key, status, when, step=None, phase='deploy', action='',
                    result=None, ignore_errors=False):
        """Records one task's result on a host. status is ok, failed,
        skipped or unreachable; step and phase come from the task's
        _deploy_step and _deploy_phase (None: not a step of the rollout)."""
        h = self.host(host)
        run = self._runs.pop((h.name, key), None) or _Run(when)
        self.ended = when
        result = result if isinstance(result, dict) else {}
        module = short_action(action)
        if run.itemized:
            # Its items were timed and read one by one; a failed item is
            # the task's failure.
            if status in ('failed', 'unreachable') and not ignore_errors:
                if run.failed_item is not None:
                    status, step, module, result = run.failed_item
                self._stop(h, status, step, phase, module, result)
            return
        if status == 'skipped' or result.get('skipped') is True or (h.left and not h.touched):
            return
        if step in STEPS:
            self._add_time(h, step, phase, when - run.start)
        self._touch(h, status, step, module, result)
        if 'censored' not in result:
            self._read(h, module, result, phase)
        if status in ('failed', 'unreachable') and not ignore_errors:
            self._stop(h, status, step, phase, module, result)

    def _stop(self, h, status, step, phase, module, result):
        # A check that stops an untouched host (the role's first task,
        # in a later batch) is no failure of a step.
        if not h.touched and module not in _ACTING_MODULES and step not in ('deploy', 'rollback'):
            step = None
        self._failure(h, status, step, phase, module, result)

    def _read(self, h, module, result, phase):
        if module == 'deploy_verify':
            v = version_of(result.get('body_excerpt'))
            if v is not None:
                if h.deploy_started:
                    h.version_after = v
                else:
                    h.version_before = v
        for r in _items(result):
            if module in _LB_MODULES:
                self._load_balancers(h, r)
            w = r.get('watch')
            if module == 'deploy_watch' and isinstance(w, dict) and 'baseline' not in r:
                self._watch(h, r, w, phase)

    @staticmethod
    def _load_balancers(h, r):
        found = []
        for p in r.get('pools') or []:
            if not isinstance(p, dict) or not p.get('name'):
                continue
            regs = [s.get('registered') for s in (p.get('before'), p.get('after')) if isinstance(s, dict)]
            if regs and not any(regs):
                continue  # looked at, but the host is not in it
            found.append({'kind': str(p.get('kind') or 'pool'), 'name': scrub_text(p['name'], 120)})
        on = _item_host(r)
        for b in r.get('backends') or []:
            if isinstance(b, dict) and b.get('backend'):
                lb = {'kind': 'haproxy', 'name': scrub_text(b['backend'], 120)}
                if on:
                    lb['on'] = scrub_text(on, 120)
                found.append(lb)
        for lb in found:
            if lb not in h.load_balancers:
                h.load_balancers.append(lb)

    @staticmethod
    def _watch(h, r, w, phase):
        signals = []
        for s in w.get('signals') or []:
            if isinstance(s, dict):
                signals.append(_figures(s))
        entry = {
            'passed': w.get('passed') if isinstance(w.get('passed'), bool) else None,
            'window': _scalar(w.get('window')),
            'elapsed': _scalar(w.get('elapsed')),
            'signals': signals,
            'phase': phase if phase in PHASES else 'deploy',
        }
        if isinstance(r.get('item'), str):
            entry['on'] = scrub_text(r['item'], 120)
        if r.get('failed') and isinstance(r.get('msg'), str):
            entry['msg'] = scrub_text(r['msg'], 1000)
        h.watch.append(entry)

    @staticmethod
    def _failure(h, status, step, phase, module, result):
        msg = result.get('msg')
        msg = scrub_text(msg, 2000) if isinstance(msg, str) and msg else None
        if not h.failed:
            h.failed = True
            h.failed_step = step if step in STEPS else ('unreachable' if status == 'unreachable' else None)
            h.failed_phase = phase if h.failed_step in STEPS else None
            h.reason = msg
        elif h.failed_step is None and step in STEPS:
            h.failed_step, h.failed_phase = step, phase
        # The role ends a failed host with one fail task whose message says
        # which step failed, why, and where the host was left.
        if module == 'fail' and msg:
            h.final_reason = msg

    def hosts(self):
        """The rollout's hosts: those that ran a step, and the other hosts
        of their plays (all failed hosts when the plays' hosts are not
        known)."""
        ours = set(n for names, rollout in self._plays if rollout for n in names)
        return [h for h in (self._hosts[n] for n in self._order)
                if h.stepped or h.name in ours or (h.failed and not self._plays)]

    def to_dict(self):
        hosts = self.hosts()
        # The host whose step failed, before one its failure stopped.
        failed = next((h for h in hosts if h.failed and h.failed_step), None) or next((h for h in hosts if h.failed), None)
        # A play after the rollout may end the run with the message (the
        # role's undo, on localhost, after rolling back every host).
        run_reason = next((h.final_reason for h in reversed(list(self._hosts.values()))
                           if h not in hosts and h.final_reason), None)
        return {
            'version': SCHEMA_VERSION,
            'playbook': self.playbook,
            'check_mode': bool(self.check_mode),
            'started': _iso(self.started),
            'ended': _iso(self.ended),
            'elapsed': round(self.ended - self.started, 2) if self.started and self.ended else None,
            'ok': failed is None and run_reason is None,
            'failed': _failed_doc(failed, run_reason),
            'untouched': [h.name for h in hosts if not h.touched],
            'hosts': [h.to_dict() for h in hosts],
        }


def _failed_doc(host, run_reason):
    """The failed host, its step and why; the run's own message wins over
    the first failed task's."""
    if host is None:
        return {'host': None, 'phase': None, 'step': None, 'reason': run_reason} if run_reason else None
    return {'host': host.name, 'phase': host.failed_phase, 'step': host.failed_step,
            'reason': host.final_reason or run_reason or host.reason}


def _iso(t):
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def write_json(path, doc):
    """Writes doc to path atomically: a private temporary file in the same
    directory, renamed over path (a symbolic link at path is replaced, not
    followed). The file is readable by its owner only."""
    path = os.path.abspath(path)
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.' + os.path.basename(path) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _secs(t):
    return '-' if t is None else '%.1fs' % t


def _lb_label(lb):
    if lb.get('kind') == 'haproxy':
        return 'haproxy %s%s' % (lb['name'], '@' + lb['on'] if lb.get('on') else '')
    kind = {'load_balancer': 'lb', 'target_group': 'tg'}.get(lb.get('kind'), lb.get('kind'))
    return '%s %s' % (kind, lb['name'])


# The figures a signal's line shows first; what the name already says
# (backend, server, url) and the reading count are left to the JSON.
_FIRST_FIGURES = ('status', 'requests', 'failed', 'errors', 'hrsp_5xx', 'status_5xx', 'eresp', 'econ',
                  'transport_errors', 'timeouts', 'check_downs', 'window_rtime_ms', 'others_rtime_ms',
                  'median_ms', 'p95_ms')
_HIDDEN_FIGURES = ('name', 'kind', 'readings', 'backend', 'server', 'url')


def _signal_line(s):
    name = s.get('name') or s.get('kind') or 'signal'
    keys = [k for k in _FIRST_FIGURES if k in s] + [k for k in s if k not in _FIRST_FIGURES]
    # The figures that say something: no empty ones, no zero read errors.
    figures = ['%s=%s' % (k, s[k]) for k in keys
               if k not in _HIDDEN_FIGURES and not isinstance(s[k], (dict, list))
               and s[k] not in (None, '') and not (k == 'read_errors' and s[k] == 0)]
    return '%s: %s' % (name, ', '.join(figures[:8]) or 'no figures')


def _tasks_line(hosts):
    """How many of the deploy role's tasks ran on each host: the deploy
    phase's, then those of a rollback or undo."""
    counts = []
    for h in hosts:
        tasks = h.get('tasks') or {}
        if not tasks:
            continue
        text = ' + '.join(('%d' if p == 'deploy' else '%d ' + p) % tasks[p] for p in PHASES if p in tasks)
        counts.append((h['name'], text))
    if not counts:
        return None
    # "On each host" only when every host of the table ran the same.
    if len(counts) == len(hosts) > 1 and len(set(c[1] for c in counts)) == 1:
        return 'role tasks per host: %s on each host' % counts[0][1]
    return 'role tasks per host: ' + ', '.join('%s %s' % c for c in counts)


def render(doc):
    """The table the callback prints, from the document write_json writes."""
    hosts = doc.get('hosts') or []
    rows = []  # (host, phase, steps)
    for h in hosts:
        phases = h.get('phases') or {}
        for p in [p for p in PHASES if p in phases] or ['deploy']:
            rows.append((h, p, phases.get(p, {})))
    used = set(s for row in rows for s in row[2])
    cols = [s for s in ('baseline',) if s in used] + list(MAIN_STEPS) + [s for s in ('rollback', 'take_out') if s in used]
    with_phase = any(row[1] != 'deploy' for row in rows)

    head = ['host'] + (['phase'] if with_phase else []) + cols + ['before', 'after', 'load balancers', 'result']
    table = [head]
    for h, p, steps in rows:
        phases = h.get('phases') or {}
        first_phase = next((q for q in PHASES if q in phases), 'deploy')
        first = p == first_phase
        if h['status'] == 'failed' and p == (h.get('failed_phase') or first_phase):
            result = 'FAILED' + (' at ' + h['failed_step'] if h.get('failed_step') else '')
        else:
            result = h['status'] if first and h['status'] != 'failed' else ''
        lbs = ', '.join(_lb_label(lb) for lb in h.get('load_balancers') or []) if first else ''
        cells = [h['name']] + ([p if phases else '-'] if with_phase else []) + [_secs(steps.get(s)) for s in cols]
        cells += [h.get('version_before') or '-', h.get('version_after') or '-'] if first else ['', '']
        table.append(cells + [lbs or ('-' if first else ''), result])
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    numeric = set(range(1 + with_phase, 1 + with_phase + len(cols)))
    lines = []
    for r in table:
        cells = [c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(r)]
        lines.append('  '.join(cells).rstrip())

    title = 'ROLLOUT SUMMARY' + (' (check mode)' if doc.get('check_mode') else '')
    if doc.get('elapsed') is not None:
        title += ', %.1f s' % doc['elapsed']
    out = [title] + lines
    tasks = _tasks_line(hosts)
    if tasks:
        out.append(tasks)
    for h in hosts:
        for w in h.get('watch') or []:
            verdict = {True: 'passed', False: 'FAILED', None: 'gave no verdict'}[w.get('passed')]
            where = ' on %s' % w['on'] if w.get('on') else ''
            phase = ' (%s)' % w['phase'] if w.get('phase') not in (None, 'deploy') else ''
            out.append('watch %s%s%s %s after %s of %s' % (
                h['name'], phase, where, verdict, _secs(w.get('elapsed')), _secs(w.get('window'))))
            for s in w.get('signals') or []:
                out.append('  ' + _signal_line(s))
    failed = doc.get('failed')
    if failed:
        step = ' at the %s step' % failed['step'] if failed.get('step') else ''
        phase = ' (%s)' % failed['phase'] if failed.get('phase') not in (None, 'deploy') else ''
        out.append('failed %s%s%s: %s' % (failed['host'] or 'run', step, phase, failed.get('reason') or 'no message'))
    if doc.get('untouched'):
        out.append('untouched %s' % ', '.join(doc['untouched']))
    return '\n'.join(out)
