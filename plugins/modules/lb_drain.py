# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
# Documentation only: the module is a Go binary run by plugins/action/lb_drain.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: lb_drain
short_description: Take a target out of a load balancer and wait until it carries no traffic
version_added: 0.1.0
description:
  - Takes a target out of rotation and waits until it carries no traffic, for Hetzner Cloud load
    balancers and AWS ELBv2 target groups.
  - Hetzner, I(method=remove) (default) removes the target and waits for the action;
    I(method=health) keeps it and waits until every service's health check calls it unhealthy,
    creating I(health_file) first if given.
  - AWS deregisters the target from every target group and waits until it is no longer
    registered in any of them, i.e. until draining (C(deregistration_delay)) is over.
  - Refuses to drain when fewer than I(min_healthy) other targets would stay healthy, counted
    under a lock per load balancer or target group that also serializes the drains of one batch
    (see I(min_healthy)), and can wait for capacity to come back (I(wait_for_capacity)).
  - An already drained target gives C(changed=false) without waiting.
  - Returns in C(restore) how the target was registered (private IP, ports, availability
    zone), for M(zerodowntime.rolling.lb_register)'s I(restore) to put back exactly that.
  - Runs as a static Go binary picked for the host's platform; the host needs no Python
    packages, no SDK and no CLI.
author: zerodowntime.rolling contributors (@zerodowntime)
extends_documentation_fragment:
  - zerodowntime.rolling.lb
  - zerodowntime.rolling.hetzner
  - zerodowntime.rolling.aws
options:
  min_healthy:
    description:
      - Refuse to drain when fewer than this many other targets are healthy in a load balancer or
        target group where the target itself counts as healthy, so a rollout never goes below it.
        C(0) turns the check off.
      - A target counts as healthy when it is registered and healthy on every port. Draining,
        initial, unused, unavailable (AWS), unhealthy and unknown (Hetzner, on any service) do not
        count. A target that does not count itself is never refused, so a failed host can always
        be drained.
      - The count is atomic across the drains of a batch on one host. The module takes a lock
        per load balancer or target group in the user's cache directory on the host it runs on
        (C(~/.cache/zerodowntime_rolling/locks) on Linux), counts, and holds the lock until the load
        balancer's own read shows the target no longer healthy (AWS draining, Hetzner removed or,
        with I(method=health), unhealthy). So the parallel forks of a playbook, tasks delegated to
        the same host, and rollouts started by hand there by the same user never take out more
        targets together than I(min_healthy) allows.
      - The lock does not cover drains run from other machines or by other users, nor other
        tools changing the pool; run them from one host, or keep a margin in I(min_healthy).
        A Hetzner load balancer is locked by I(load_balancer) as given (before its lookup, which
        reads the targets), so name it the same way, by name or by id, in every task.
      - When the pool could never satisfy it (fewer other targets, in any state, than
        I(min_healthy)), the module fails at once, before changing anything.
    type: int
    default: 1
  wait_for_capacity:
    description:
      - When draining now would break I(min_healthy), wait for capacity to come back (another
        target of the batch registering again), counting again every I(interval) under the lock,
        up to I(timeout); then fail without changing anything, with the counts and what to set.
      - When C(false), fail at once with the same message.
      - Waiting only helps when the hosts of a batch move on their own, under the C(free) or
        C(host_pinned) strategy. Under the default C(linear) strategy no host of the batch can
        register again while this task runs, so a wait would only use up the timeout. When not
        set, the action plugin sets it from the play's strategy, C(true) for C(free) and
        C(host_pinned), C(false) otherwise (and when the strategy cannot be found).
    type: bool
  reserve:
    description:
      - Count I(min_healthy) as a drain does (same lock, rules, I(wait_for_capacity) and check
        mode) and, when it allows taking the target out, record a reservation for it in each
        pool's ledger beside the lock, then return at once; nothing changes on the load balancer
        and nothing is waited for (C(changed=false)).
      - For I(method=health) with the health file made on the app host, after this task and
        before a plain drain (I(method=health), no I(health_file)) waits until the load balancer
        calls the target unhealthy. Without a reservation, the hosts of a batch would all make
        their files before any count, and I(min_healthy) would protect nothing.
      - Other drains' counts leave a reserved target out, as if it were out already. The drain
        that follows drops the reservation once the load balancer no longer counts the target
        healthy, or when it fails. A reservation lapses after I(timeout) (the drain's, default
        300 s), so a killed run cannot block a pool for longer; reserving again refreshes it.
      - Only with I(provider=hetzner), I(method=health) and no I(health_file); otherwise lb_drain
        counts and takes the target out itself under one lock, and a reservation is not needed.
        With I(min_healthy=0) nothing is reserved.
    type: bool
    default: false
attributes:
  check_mode:
    support: partial
    description: >-
      Looks up the load balancer and the target and reports what would change (and refuses on I(min_healthy)),
      without changing or waiting; C(msg) says what a run would remove from which load balancer or target group,
      how many other targets are healthy there, and what it would wait for.
  diff_mode:
    support: full
    description: Shows the target's membership and health in each load balancer or target group, before and after.
  platform:
    support: full
    platforms: [linux, darwin]
    description: Runs as a Go build for the host's platform (Linux or macOS, amd64 or arm64).
notes:
  - The default I(timeout) for AWS follows the target groups' deregistration delay, which AWS
    ends early once no request is in flight.
  - Hetzner has no draining state; a removed target gets no new connections. Use I(method=health)
    when the application should finish requests first, or for label-selector targets.
  - Polls come 200 ms after the change, then with delays growing by a quarter each time up to
    I(interval) (by default 1 s on AWS, reached after about 4 s, and 3 s on Hetzner, after
    about 14 s), so a long deregistration delay costs few requests. For AWS, extra checks come
    50 ms, 0.5 s and 1.5 s after each target group's deregistration delay has run out, when AWS
    ends the draining at the latest (it drains for all of the delay while a connection stays
    open).
  - For AWS, a I(timeout) that does not exceed a target group's deregistration delay gets a warning.
    Hetzner's rate limit (3600 requests an hour per project) is honoured; AWS throttling and
    5xx answers are retried within I(timeout).
seealso:
  - module: zerodowntime.rolling.lb_register
  - module: zerodowntime.rolling.health_file
  - module: community.aws.elb_target
  - module: hetzner.hcloud.load_balancer_target
'''

EXAMPLES = r'''
- name: Take this host out of the Hetzner load balancer
  zerodowntime.rolling.lb_drain:
    provider: hetzner
    load_balancer: web-lb
    target: auto
  # api_token from HCLOUD_TOKEN

- name: Take this host out of a public and a private load balancer at once
  zerodowntime.rolling.lb_drain:
    provider: hetzner
    load_balancer: [web-lb, internal-lb]
    target: auto

- name: Make the app fail its health check, on the app host (no API token there)
  zerodowntime.rolling.health_file:
    path: /srv/app/maintenance

- name: Wait until the load balancer calls it unhealthy, from the controller
  zerodowntime.rolling.lb_drain:
    provider: hetzner
    load_balancer: web-lb
    target: "{{ inventory_hostname }}"
    method: health
    timeout: 120
  delegate_to: localhost

- name: Or create the file and wait in one task, run on the app host itself
  zerodowntime.rolling.lb_drain:
    provider: hetzner
    load_balancer: web-lb
    target: auto
    method: health
    health_file: /srv/app/maintenance

- name: Reserve this host's place in the batch before its health file is made
  zerodowntime.rolling.lb_drain:
    provider: hetzner
    load_balancer: web-lb
    target: "{{ inventory_hostname }}"
    method: health
    reserve: true
    min_healthy: 2
  delegate_to: localhost

- name: Make the application fail its health check
  ansible.builtin.file:
    path: /srv/app/maintenance
    state: touch
    follow: false

- name: Wait until the load balancer calls it unhealthy (drops the reservation)
  zerodowntime.rolling.lb_drain:
    provider: hetzner
    load_balancer: web-lb
    target: "{{ inventory_hostname }}"
    method: health
    min_healthy: 2
  delegate_to: localhost

- name: Deregister the instance from two target groups and wait out draining
  zerodowntime.rolling.lb_drain:
    provider: aws
    region: eu-central-1
    target_group_names: [web, api]
    target: auto
    min_healthy: 2
  register: drained

- name: Show how long draining took
  ansible.builtin.debug:
    msg: "{{ drained.pools | map(attribute='waited') | list }}"
'''

RETURN = r'''
provider:
  description: The provider used.
  returned: always
  type: str
  sample: aws
method:
  description: The method used (always C(remove) for aws).
  returned: always
  type: str
  sample: remove
target:
  description: The target as resolved.
  returned: always
  type: dict
  contains:
    id:
      description: Server id, instance id or IP.
      type: str
      sample: i-0abc1234def567890
    type:
      description: C(server), C(ip) or C(instance).
      type: str
    name:
      description: Server name (Hetzner), when known.
      type: str
    port:
      description: I(target_port), if given.
      type: int
    source:
      description: C(metadata) when I(target=auto).
      type: str
pools:
  description: One entry per load balancer (hetzner) or target group (aws).
  returned: when the load balancer or target groups were found
  type: list
  elements: dict
  contains:
    kind:
      description: C(load_balancer) or C(target_group).
      type: str
    name:
      description: Load balancer or target group name.
      type: str
    id:
      description: Load balancer id or target group ARN.
      type: str
    before:
      description:
        - The target's state before the module acted. C(registered); C(via) (the label selector
          it came from, if any); C(health), a dict of port to state (Hetzner C(healthy),
          C(unhealthy), C(unknown) per service listen port; AWS C(initial), C(healthy),
          C(unhealthy), C(draining), C(unused), C(unavailable) per target port); C(reasons),
          port to reason code and description when not healthy; C(healthy_others), the number of
          other targets healthy on every port; C(targets), all targets.
      type: dict
      sample: {registered: true, health: {"80": healthy}, healthy_others: 2, targets: 3}
    after:
      description: The same after the module finished (predicted in check mode).
      type: dict
      sample: {registered: false, health: {}, healthy_others: 2, targets: 2}
    changed:
      description: Whether the target's state in this pool changed.
      type: bool
    waited:
      description: Seconds from the change until this pool reached the wanted state.
      type: float
    api_requests:
      description: HTTP requests made to the API for this pool, retries included.
      type: int
restore:
  description:
    - The target's own registrations the drain found, one entry per load balancer or target
      group, and on aws per port; give it to M(zerodowntime.rolling.lb_register)'s I(restore)
      to put back exactly these. Registrations through a label selector are not listed.
    - In check mode, those the drain would take away. Empty when the target was already out.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: load_balancer, pool: web-lb, pool_id: "4711", target: "42", target_type: server,
       port: null, availability_zone: null, use_private_ip: true, method: remove}
  contains:
    kind:
      description: C(load_balancer) (hetzner) or C(target_group) (aws).
      type: str
    pool:
      description: The load balancer's or target group's name.
      type: str
    pool_id:
      description: The load balancer's id or the target group's ARN; I(restore) matches on it.
      type: str
    target:
      description: Server id, instance id or IP.
      type: str
    target_type:
      description: C(server), C(ip) or C(instance).
      type: str
    port:
      description: The registration's port (aws; one entry per port); null for hetzner.
      type: int
    availability_zone:
      description: The registration's availability zone (aws ip targets), else null.
      type: str
    use_private_ip:
      description: Whether a hetzner server target was added with its private IP; null for other targets.
      type: bool
    method:
      description:
        - C(remove) when the target was (or is to be) removed; C(health) when it stayed registered
          and was made to fail its health check.
      type: str
waited:
  description: Seconds spent waiting for the wanted state.
  returned: always
  type: float
  sample: 12.4
reserved:
  description: With I(reserve), where the target was reserved and until when.
  returned: when I(reserve=true)
  type: dict
  contains:
    pools:
      description: The load balancers where it is reserved (predicted in check mode); empty with I(min_healthy=0).
      type: list
      elements: str
      sample: [load balancer web-lb]
    expires:
      description: When the reservation lapses (UTC, RFC 3339), unless the drain drops it first.
      type: str
      sample: "2026-12-07T20:45:00Z"
capacity_wait:
  description: Seconds the drain waited for capacity to come back before taking the target out
    (I(wait_for_capacity)); C(0) when it did not wait.
  returned: always
  type: float
  sample: 8.2
elapsed:
  description: Seconds the module ran.
  returned: always
  type: float
api_requests:
  description: HTTP requests made to the provider's API, lookups and retries included.
  returned: always
  type: int
  sample: 7
health_file:
  description: The I(health_file) used.
  returned: when I(health_file) is given
  type: str
failure:
  description: On failure, what failed.
  returned: on provider errors, timeouts and refusals
  type: dict
  contains:
    provider:
      description: C(hetzner) or C(aws).
      type: str
    code:
      description:
        - The provider's error code (such as C(unauthorized), C(locked), C(TargetGroupNotFound)),
          or C(not_found), C(target_unknown), C(unauthorized), C(throttled), C(timeout),
          C(min_healthy), C(unhealthy), C(unsupported), C(metadata_unavailable).
      type: str
    resource:
      description: The object concerned, such as C(load_balancer web-lb).
      type: str
'''
