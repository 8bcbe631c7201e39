# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
# Documentation only: the module is a Go binary run by plugins/action/lb_register.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: lb_register
short_description: Put a target into a load balancer and wait until it is healthy
version_added: 0.1.0
description:
  - Puts a target back into rotation and waits until the load balancer calls it healthy, for
    Hetzner Cloud load balancers and AWS ELBv2 target groups.
  - Hetzner, I(method=remove) (default) adds the target, waits for the action, then waits until it
    is healthy on every service; I(method=health) removes I(health_file) if given and waits for healthy.
  - AWS registers the target in every target group and waits until it is healthy in all of them.
    A target that turns C(unhealthy) fails at once with AWS's reason, not at the timeout.
  - An already healthy target gives C(changed=false) without waiting.
  - With I(restore), puts back exactly what M(zerodowntime.rolling.lb_drain) took away.
  - Runs as a static Go binary picked for the host's platform; the host needs no Python
    packages, no SDK and no CLI.
author: zerodowntime.rolling contributors (@zerodowntime)
extends_documentation_fragment:
  - zerodowntime.rolling.lb
  - zerodowntime.rolling.hetzner
  - zerodowntime.rolling.aws
options:
  use_private_ip:
    description: Hetzner only. Add a server target with its private network IP. Ignored with I(restore).
    type: bool
    default: false
  fail_after_checks:
    description:
      - Fail once the target has failed this many health checks in a row after the first pass of checks, with the
        load balancer's reason, instead of waiting for O(timeout). C(0) never fails early.
      - Hetzner reports a verdict per service (C(healthy), C(unhealthy) with a detail such as
        C(unexpected_http_status)), not the checks behind it. So a failed check is a C(health_check.interval), as the
        API reports it, through which the service's port stays C(unhealthy), beyond the C(retries - 1) intervals a
        recovering target stays unhealthy while it passes. The first pass (one interval and the check's timeout after
        the register) is not counted, and a port that turns C(healthy) or C(unknown) starts the count again. With
        Hetzner's default interval of 15 s, timeout 10 s and 3 retries, the default of 3 fails a target that never
        turns healthy about 100 s after the register (25 s first pass, then 2 + 3 intervals).
      - AWS counts its own checks and reports a target C(unhealthy) after the group's C(UnhealthyThresholdCount)
        failed ones; the task fails as soon as it does, whatever the value, except C(0), which waits for O(timeout).
      - A slow boot is not taken for a failure because the first pass is not counted and a passed check starts
        again; in the deploy role, the verify step has also seen the app answer before the register.
    type: int
    default: 3
  restore:
    description:
      - The C(restore) result of M(zerodowntime.rolling.lb_drain) for this target. Registers
        exactly those registrations again where they are missing or draining, each as it was
        (hetzner with the same I(use_private_ip), aws on every port and in its availability
        zone), and waits until the target is healthy in those pools.
      - A load balancer or target group with no entry is left as it is, so a target that was not
        in a pool before the drain is not added to it; an empty list registers nothing.
      - Each entry's C(pool_id) must be one of the pools this task works on and its C(target)
        this task's target; unknown keys are refused. I(target_port) and I(use_private_ip) are
        ignored.
      - Without it, the target is registered in every pool with I(target_port) and
        I(use_private_ip).
    type: list
    elements: dict
attributes:
  check_mode:
    support: partial
    description: >-
      Looks up the load balancer and the target and reports what would change, without changing or waiting;
      C(msg) says what a run would register where and what it would wait for.
  diff_mode:
    support: full
    description: Shows the target's membership and health in each load balancer or target group, before and after.
  platform:
    support: full
    platforms: [linux, darwin]
    description: Runs as a Go build for the host's platform (Linux or macOS, amd64 or arm64).
notes:
  - Polls come 200 ms after the change, then with delays growing by a quarter each time up to
    I(interval) (by default 1 s on AWS and 3 s on Hetzner; checks at 0.2, 0.45, 0.76, 1.15 s
    and so on), so the module returns soon after the target turns healthy. Hetzner's rate limit
    is honoured; AWS throttling and 5xx answers are retried within I(timeout).
seealso:
  - module: zerodowntime.rolling.lb_drain
  - module: zerodowntime.rolling.health_file
  - module: community.aws.elb_target
  - module: hetzner.hcloud.load_balancer_target
'''

EXAMPLES = r'''
- name: Put this host back into the Hetzner load balancer
  zerodowntime.rolling.lb_register:
    provider: hetzner
    load_balancer: web-lb
    target: auto
    use_private_ip: true

- name: Let the app pass its health check again, on the app host
  zerodowntime.rolling.health_file:
    path: /srv/app/maintenance
    state: absent

- name: Wait until the load balancer calls it healthy, from the controller
  zerodowntime.rolling.lb_register:
    provider: hetzner
    load_balancer: web-lb
    target: "{{ inventory_hostname }}"
    method: health
  delegate_to: localhost

- name: Take the host out, remembering how it was registered
  zerodowntime.rolling.lb_drain:
    provider: aws
    target_group_names: [web, web-admin]
    target: auto
  register: drained

- name: Put back exactly those registrations (every port, the same availability zone)
  zerodowntime.rolling.lb_register:
    provider: aws
    target_group_names: [web, web-admin]
    target: auto
    restore: "{{ drained.restore }}"

- name: Register the instance and wait until healthy in every group
  zerodowntime.rolling.lb_register:
    provider: aws
    target_group_arns:
      - arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web/0123456789abcdef
    target: i-0abc1234def567890
    timeout: 180
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
restored:
  description: The I(restore) entries registered again (in check mode, to be registered), as given.
  returned: when I(restore) is given
  type: list
  elements: dict
  sample:
    - {kind: target_group, pool: web, pool_id: "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web/0123456789abcdef",
       target: 10.0.1.5, target_type: ip, port: 8081, availability_zone: eu-central-1b,
       use_private_ip: null, method: remove}
waited:
  description: Seconds spent waiting for the wanted state.
  returned: always
  type: float
  sample: 12.4
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
