# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
# Documentation only: the module is a Go binary run by plugins/action/haproxy_maint.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: haproxy_maint
short_description: Drain an HAProxy server, put it in maintenance, or bring it back after its health check
version_added: 0.1.0
description:
  - Takes a server out of rotation before a deploy (C(drain) or C(maint)) and puts it back after
    (C(ready)) through HAProxy's runtime API, and waits for the result instead of sleeping.
  - C(drain) and C(maint) wait until the server has no current sessions and nothing queued in every
    backend acted on; I(shutdown_sessions) decides what happens to sessions still open at I(timeout).
  - C(ready) waits until the server's health check says UP. A server leaving maintenance is made to
    pass a fresh health check before it gets traffic; HAProxy alone would put it straight back in
    rotation (C(UP 1/3)) before running a single check.
  - Without I(backend), acts on every backend that has a server named I(server).
  - Talks to the admin stats socket, or to the master CLI of a master-worker HAProxy, routing commands
    to a worker (C(@1 ...)).
  - Runs on the HAProxy host (use C(delegate_to)), as a static Go binary picked for that host's platform
    (linux and darwin, amd64 and arm64); the host needs no Python packages, C(socat) or C(nc).
author: zerodowntime.rolling contributors (@zerodowntime)
options:
  socket:
    description:
      - Path of the runtime API socket, a C(stats socket) line of C(haproxy.cfg) at C(level admin),
        or the master CLI socket (C(haproxy -W -S <path>)).
      - The user running the task needs write access to it (C(become) or the socket's group).
    type: path
    default: /run/haproxy/admin.sock
  master_socket:
    description:
      - Whether I(socket) is the master CLI of a master-worker HAProxy. Unset, it is detected from the
        answer to C(show info).
    type: bool
  worker:
    description:
      - Through a master socket, the worker commands are routed to, C(1) for the current worker or
        C(!<pid>) for a given process (as in C(@1 cmd) and C(@!<pid> cmd)). Ignored on a stats socket.
      - Anything but a process number or C(!) and a process number is refused.
    type: str
    default: '1'
  server:
    description:
      - The server's name, as on its C(server) line in C(haproxy.cfg).
      - Like HAProxy, the module accepts only letters, digits and C(-_.:) in it, so that no value
        can add a command of its own to those sent to the runtime API.
    type: str
    required: true
    aliases: [host]
  backend:
    description:
      - The backend holding I(server). Omitted, the task acts on every backend that has a server of
        that name, and fails when none has.
      - Only letters, digits and C(-_.:), as HAProxy allows in backend names.
    type: str
  state:
    description:
      - C(ready) puts the server in rotation, C(drain) stops new connections except persistent or
        sticky ones, C(maint) stops all new traffic and pauses its health checks. Existing sessions
        continue in both until they end.
      - C(enabled) and C(disabled) mean C(ready) and C(maint), for users of M(community.general.haproxy).
    type: str
    required: true
    choices: [ready, drain, maint, enabled, disabled]
  wait:
    description:
      - Wait until the state has taken effect, sessions ended (C(drain), C(maint)) or health check
        passed (C(ready)). An idempotent run still waits for that, without changing anything.
    type: bool
    default: true
  timeout:
    description: Seconds to wait before giving up (see I(shutdown_sessions)).
    type: int
    default: 60
  interval:
    description: Seconds between two looks at the server's state while waiting. The first looks
      come sooner (after 20 ms, doubling up to this), so a short wait ends soon after the state
      is reached.
    type: float
    default: 0.1
  shutdown_sessions:
    description:
      - What to do with sessions still open on the server, for C(drain) and C(maint).
      - C(never) fails at I(timeout) and leaves the server drained or in maintenance.
      - C(on_timeout) kills the remaining sessions at I(timeout) (C(shutdown sessions server)) and
        succeeds with a warning.
      - C(immediately) kills them right after the state is set.
    type: str
    default: never
    choices: [never, on_timeout, immediately]
  weight:
    description:
      - Weight to set, absolute (C(0) to C(256)) or a percentage of the weight in C(haproxy.cfg)
        (C(50%)). Backends with a static algorithm (C(static-rr), map-based hash) accept only C(0%)
        and C(100%).
    type: raw
  health:
    description: Enable (C(true)) or disable (C(false)) the server's health checks. Unset, they are left alone.
    type: bool
  agent:
    description: Enable (C(true)) or disable (C(false)) the server's agent checks. Unset, they are left alone.
    type: bool
  fail_on_not_found:
    description:
      - Fail when the backend or the server does not exist. With C(false) the task is skipped with a warning.
    type: bool
    default: true
  fail_after_checks:
    description:
      - With O(state=ready) and O(wait=true), fail once the server has failed this many health checks in a row,
        with HAProxy's reason (for example C(L7STS/500)), instead of waiting for O(timeout). C(0) never fails early.
      - HAProxy's runtime API does not count the checks of a DOWN server, so the module counts O(check_interval)s
        through which the last check stays failed. The first O(check_interval) after the task is the first pass of
        checks and is not counted, and a passed check or progress toward C(rise) (C(DOWN 1/3)) starts the count
        again; a server that boots slowly but then passes is not failed. The default of 3 fails a server that
        never turns healthy about 4 check intervals after the task, 8 s with HAProxy's default C(inter 2s).
    type: int
    default: 3
  check_interval:
    description:
      - Seconds between two health checks of the server, its C(inter) in C(haproxy.cfg) (C(downinter) if set),
        which the runtime API does not report. Only used to count O(fail_after_checks).
    type: float
    default: 2
  min_healthy:
    description:
      - Refuse C(drain) and C(maint) when fewer than this many other servers of the backend would
        stay healthy. C(0) turns the check off. Set it (the role passes C(deploy_min_healthy)) when
        several hosts of a batch are drained at once.
      - A server counts as healthy when it is C(ready) (not MAINT or DRAIN, its own or inherited
        through C(track)), UP with its checks passed (not DOWN, NOLB or C(UP 1/3)) and has a
        weight above 0, as C(show servers state) and C(show stat) report it. A server that does
        not count itself is never refused, so a failed host can always be drained again.
      - The count is atomic across runs on the HAProxy host. The module takes a lock per backend
        (keyed by the socket's path and the backend) in the user's cache directory on the host it
        runs on (C(~/.cache/zerodowntime_rolling/locks) on Linux), counts, sets the state and holds
        the lock until C(show servers state) reports the server in MAINT or DRAIN. So the parallel
        forks of a playbook delegated to that host, and runs started by hand there by the same
        user, never take out more servers together than I(min_healthy) allows.
      - The lock does not cover runs by other users or from other hosts against another HAProxy
        of an active/active pair (each node counts its own servers), nor other tools using the
        runtime API.
      - When the backend could never satisfy it (fewer other servers, in any state, than
        I(min_healthy)), the module fails at once, before changing anything.
    type: int
    default: 0
  wait_for_capacity:
    description:
      - When draining now would break I(min_healthy), wait for capacity to come back (another
        server of the batch becoming ready and UP again), counting again every I(interval) under
        the lock, up to I(timeout); then fail without changing anything, with the counts and what
        to set. When C(false), fail at once with the same message.
      - Waiting only helps when the hosts of a batch move on their own, under the C(free) or
        C(host_pinned) strategy. Under the default C(linear) strategy no host of the batch can
        come back while this task runs, so a wait would only use up the timeout. When not set,
        the action plugin sets it from the play's strategy, C(true) for C(free) and
        C(host_pinned), C(false) otherwise (and when the strategy cannot be found).
    type: bool
attributes:
  check_mode:
    support: full
    description: >-
      Reads the state and reports what would change (and refuses on I(min_healthy)), without changing or
      waiting; C(msg) says what a run would set on each server and what it would wait for.
  diff_mode:
    support: full
    description: State, weight and sessions of each server acted on, before and after.
  platform:
    support: full
    platforms: [linux, darwin]
    description: Runs as a Go build for the host's platform (Linux or macOS, amd64 or arm64).
notes:
  - Needs HAProxy 1.6 or later (C(set server ... state)); the version is read from C(show info).
  - The socket must be at C(level admin). User and operator level sockets can read the state but HAProxy
    answers C(Permission denied) to every change.
  - Runtime state (drain, maint, weight) lives in the running worker and is B(lost when HAProxy reloads)
    unless a server-state file is configured and dumped right before each reload; HAProxy never writes it
    itself. In C(haproxy.cfg) use C(server-state-file /var/lib/haproxy/server-state) in C(global) and
    C(load-server-state-from-file global) in C(defaults), and reload with
    C(echo "show servers state" | socat stdio /run/haproxy/admin.sock > /var/lib/haproxy/server-state && systemctl reload haproxy).
  - A server that C(track)s another inherits its drain or maintenance; act on the tracked server.
  - C(drain) lets persistent (cookie, stick-table) clients and long-lived connections (WebSocket,
    C(mode tcp)) continue, which can keep sessions open until I(timeout); choose I(shutdown_sessions)
    accordingly.
  - With several HAProxy nodes (active/active), run the task on each of them with a loop and C(delegate_to).
    A loop runs one node after the other; to drain on all of them at once, run it first with I(wait=false)
    on every node but the first, then with waiting on every node. See the examples.
seealso:
  - module: community.general.haproxy
  - name: HAProxy management guide, runtime API
    link: https://docs.haproxy.org/2.6/management.html#9.3
    description: The commands this module sends.
'''

EXAMPLES = r'''
- name: Drain web1 before deploying it, waiting for its requests to end
  zerodowntime.rolling.haproxy_maint:
    server: web1
    backend: www
    state: drain
    timeout: 120
  delegate_to: lb1.example.com
  become: true

- name: Deploy, then put web1 back; it gets traffic once its health check passes
  zerodowntime.rolling.haproxy_maint:
    server: web1
    state: ready
  delegate_to: lb1.example.com
  become: true

# On several HAProxy nodes (active/active): a loop runs one node after the
# other, so first stop new requests on every node but the first without
# waiting, then wait on each; the host drains on all of them at once.
- name: Stop new requests to the current host on the other HAProxy nodes
  zerodowntime.rolling.haproxy_maint:
    server: "{{ inventory_hostname_short }}"
    state: drain
    wait: false
  delegate_to: "{{ item }}"
  loop: "{{ groups['haproxy'][1:] }}"
  become: true

- name: Drain the current host on every HAProxy node
  zerodowntime.rolling.haproxy_maint:
    server: "{{ inventory_hostname_short }}"
    state: drain
    timeout: 300
    shutdown_sessions: on_timeout
  delegate_to: "{{ item }}"
  loop: "{{ groups['haproxy'] }}"
  become: true

- name: Maintenance through the master CLI of a master-worker HAProxy
  zerodowntime.rolling.haproxy_maint:
    socket: /run/haproxy-master.sock
    master_socket: true
    server: web1
    backend: www
    state: maint
  delegate_to: lb1.example.com

- name: Same task as with community.general.haproxy, with its option names
  zerodowntime.rolling.haproxy_maint:
    host: web1
    state: disabled
    socket: /var/run/haproxy.sock

- name: Half the traffic to a canary, and its agent check off
  zerodowntime.rolling.haproxy_maint:
    server: canary1
    backend: www
    state: ready
    weight: 50%
    agent: false

- name: Keep drain and maintenance across reloads - dump the runtime state just before reloading
  ansible.builtin.shell: >-
    echo "show servers state" | socat stdio /run/haproxy/admin.sock > /var/lib/haproxy/server-state
    && systemctl reload haproxy
  become: true
'''

RETURN = r'''
backends:
  description: One entry per backend the task acted on, in the order of C(show servers state).
  returned: always
  type: list
  elements: dict
  contains:
    backend:
      description: Backend name.
      type: str
      sample: www
    server:
      description: Server name.
      type: str
      sample: web1
    admin_state_before:
      description: Administrative state before the task, C(ready), C(drain) or C(maint).
      type: str
      sample: ready
    admin_state_after:
      description: Administrative state at the end (predicted in check mode).
      type: str
      sample: drain
    operational_state_before:
      description: Operational state before the task, C(up), C(down), C(starting) or C(stopping).
      type: str
      sample: up
    operational_state_after:
      description: Operational state at the end.
      type: str
      sample: up
    status_before:
      description: The C(status) column of C(show stat) before the task.
      type: str
      sample: UP
    status_after:
      description: The C(status) column of C(show stat) at the end.
      type: str
      sample: DRAIN
    sessions_before:
      description: Current sessions on the server before the task.
      type: int
      sample: 3
    sessions_after:
      description: Current sessions on the server at the end.
      type: int
      sample: 0
    queued:
      description: Requests queued for the server at the end.
      type: int
      sample: 0
    weight_before:
      description: The server's weight (set by the user or the configuration) before the task.
      type: int
      sample: 100
    weight_after:
      description: The server's weight at the end.
      type: int
      sample: 100
    check_status_before:
      description: Result of the last health check before the task (C(L4OK), C(L7STS), ...); empty without a check.
      type: str
      sample: L7OK
    check_status_after:
      description: Result of the last health check at the end.
      type: str
      sample: L7OK
    changes:
      description: What the task changed (or would change in check mode), in words.
      type: list
      elements: str
      sample: ["state ready -> drain"]
    sessions_shut_down:
      description: Whether the task killed sessions (I(shutdown_sessions)).
      type: bool
      sample: false
    waited:
      description: Seconds until this server was drained or UP (0 when it already was or without waiting).
      type: float
      sample: 1.93
waited:
  description: Seconds spent waiting in total.
  returned: always
  type: float
  sample: 1.934
state:
  description: The state asked for, in HAProxy's words (C(enabled) and C(disabled) become C(ready) and C(maint)).
  returned: always
  type: str
  sample: drain
capacity_wait:
  description: Seconds the task waited for capacity to come back before changing the state
    (I(wait_for_capacity)); C(0) when it did not wait.
  returned: always
  type: float
  sample: 4.5
haproxy_version:
  description: HAProxy's version from C(show info).
  returned: always
  type: str
  sample: 2.6.12-1+deb12u4
failure:
  description: What failed, for C(failed_when) and retries.
  returned: on failure
  type: dict
  contains:
    provider:
      description: Always C(haproxy).
      type: str
    code:
      description: >-
        C(socket_unreachable), C(permission_denied), C(backend_not_found), C(server_not_found),
        C(version_too_old), C(min_healthy), C(timeout) or C(command_failed).
      type: str
    resource:
      description: The backend/server concerned, when known.
      type: str
'''
