# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
# Documentation only: the module is a Go binary run by plugins/action/deploy_watch.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: deploy_watch
short_description: Watch a host under real traffic after it is back, and fail at the first bad signal
version_added: 0.2.0
description:
  - Watches one host for O(window) seconds after it was put back into rotation, reading every signal at once each
    O(interval), and fails as soon as one crosses a threshold, so that fewer requests reach a release that passed
    its checks but fails real traffic.
  - O(provider=haproxy) reads the server's counters from C(show stat) on the HAProxy host, as changes since the
    window began; see O(max_error_ratio), O(max_latency_ratio) and O(max_check_flaps) for what is judged. A server
    that goes C(DOWN), C(DRAIN), C(NOLB) or C(MAINT) during the window fails it at once.
  - O(provider=hetzner) and O(provider=aws) read the target's health in every load balancer (Hetzner, every service
    port) or target group each O(interval), with the shared load balancer options as
    M(zerodowntime.rolling.lb_register) takes them. The target must stay registered and C(healthy) on every port;
    C(unhealthy), C(draining), C(initial), C(unused), C(unknown) or gone fails the watch at once, naming the pool,
    port, state and reason (the load balancer's own checks have already waited their thresholds, so
    O(max_check_flaps) does not apply). With aws, O(alarms) names CloudWatch alarms that must not be in ALARM.
  - The Hetzner Cloud load balancer metrics endpoint reports open connections, connections and requests per second
    and bandwidth for the whole load balancer only, nothing per target, no status codes, no latency. It cannot tell
    the new host's errors from the others', so the watch does not read it; use O(probe_url) for the host's own
    error ratio and latency.
  - Any provider can add an HTTP probe of the host itself (O(probe_url)); O(provider=none) watches only the probe.
    With O(baseline=true) the module only probes for O(window) seconds and returns the C(baseline) to give later
    as O(probe_baseline).
  - A reading that fails (a socket or an API that does not answer) is tried again the next interval; a signal that
    cannot be read for more than half the window, or not once, fails the watch, since it was not watched. An error
    that waiting does not mend (an alarm or a pool that does not exist, credentials refused) fails it at once, with
    the C(failure) dict of the other modules.
  - Changes nothing; C(changed) is always false.
author: zerodowntime.rolling contributors (@zerodowntime)
extends_documentation_fragment:
  - zerodowntime.rolling.lb
  - zerodowntime.rolling.hetzner
  - zerodowntime.rolling.aws
options:
  provider:
    description:
      - What the host sits behind. V(haproxy) runs on the HAProxy host (delegate the task there) and reads its
        runtime API; V(hetzner) and V(aws) call the cloud APIs; V(none) watches only the probe.
    type: str
    required: true
    choices: [haproxy, hetzner, aws, none]
  target:
    description: The target in the cloud load balancer, as M(zerodowntime.rolling.lb_register) takes it. Required
      with V(hetzner) and V(aws); ignored otherwise, as are O(target_type), O(method) and O(metadata_url), which
      the deploy role's module_defaults give every module of the group.
    type: str
    required: false
  window:
    description:
      - How long to watch, in seconds. It bounds the run too, with 30 s of grace for the last readings.
      - The default of 30 s sees a few hundred requests at a modest 10 requests per second, a health check going
        down with HAProxy's default C(inter 2s fall 3) several times over, and costs 30 s per batch.
    type: int
    default: 30
  interval:
    description:
      - How often every signal is read, in seconds. A C(show stat) or a target health read a second is cheap, and a
        second is small against any useful window.
      - The same option as the load balancer modules', so module_defaults for the group give it to all of them.
    type: float
    default: 1.0
  max_error_ratio:
    description:
      - The share of failed requests above which the watch fails, judged once O(min_requests) requests were seen.
      - HAProxy, the server's C((hrsp_5xx + eresp + econ) / req_tot) over the window (C(stot) sessions in tcp mode).
        The probe, its 5xx answers, transport errors and timeouts per probe.
      - The default of 0.05 lets a stray error or two through and catches a release that fails one request in ten.
    type: float
    default: 0.05
  max_latency_ratio:
    description:
      - How many times slower than its reference the host may answer before the watch fails.
      - HAProxy, the server's mean response time over the window against the median C(rtime) of the other UP servers
        of the backend (HTTP only; not judged in tcp mode). C(rtime) is a sliding average that each response moves by
        1/512 of the difference, so after a drain it still mostly shows the old version's responses; the module
        works out the window's mean from C(rtime) at the start and now and the responses in between (for a server
        with fewer than 512 responses before the window, C(rtime) as it is). Measured on HAProxy 2.6, a server
        going from 22 ms to 200 ms shows 200 ms this way after 20 responses, while C(rtime) is still at 27 ms.
      - The probe, the median latency of its answers against the O(probe_baseline) median. Without a baseline the
        probe's latency is not judged.
      - The default of 3 lets normal spread through (a cold cache, a busier host) and catches a release that is
        several times slower.
    type: float
    default: 3.0
  latency_floor:
    description:
      - A response time below this, in seconds, is not judged at all. Against 1 ms, 3 ms is a ratio of 3 that no user
        notices, and timer resolution and scheduling make small times noisy. The default of 0.1 s (100 ms) keeps
        latency alarms for answers slow enough to matter.
    type: float
    default: 0.1
  min_requests:
    description:
      - How many requests (HAProxy) or probes must be seen in the window before ratios are judged, so that 1 error in
        2 requests is not a 50 % error rate. Latency is judged from the same count.
    type: int
    default: 20
  max_check_flaps:
    description:
      - HAProxy, how many times the server's health check may take it down (C(chkdown)) during the window. The
        default of 0 fails at the first. The cloud providers fail at any state other than healthy.
    type: int
    default: 0
  alarms:
    description:
      - Names of CloudWatch alarms (metric or composite) that must not be in C(ALARM) during the window, read
        with C(DescribeAlarms) every O(interval) through the same credentials, region, O(endpoint_url) and
        retries as the ELBv2 calls (IAM action C(cloudwatch:DescribeAlarms)).
      - An alarm already in C(ALARM) when the window starts fails the watch at its first check; one that goes
        to C(ALARM) during the window fails it at once, with the alarm's name, state time and reason.
      - C(INSUFFICIENT_DATA) is reported in RV(watch.signals), not failed; an alarm on a metric published only
        when it is not zero (such as C(HTTPCode_Target_5XX_Count)) sits there while all is well unless its
        C(TreatMissingData) is C(notBreaching).
      - A name that does not exist fails the task at once, so a typo cannot pass silently.
      - Only with O(provider=aws); at most 100 names.
    type: list
    elements: str
  socket:
    description: Provider haproxy. The HAProxy runtime API socket, as M(zerodowntime.rolling.haproxy_maint) takes it.
    type: path
    default: /run/haproxy/admin.sock
  master_socket:
    description: Provider haproxy. Whether O(socket) is the master CLI; unset, the module asks.
    type: bool
  worker:
    description: Provider haproxy. The worker to address through the master CLI.
    type: str
    default: '1'
  backend:
    description: Provider haproxy. The backend of O(server); unset, every backend with a server of that name.
    type: str
  server:
    description: Provider haproxy, where it is required. The server name in C(haproxy.cfg).
    type: str
  probe_url:
    description: An http:// or https:// URL of the host itself (its health or token URL), probed with GET.
    type: str
  probe_interval:
    description: Seconds between two probes.
    type: float
    default: 0.2
  probe_baseline:
    description:
      - The C(baseline) an earlier run with O(baseline=true) returned, before the deploy (keys C(requests),
        C(errors), C(median_ms), C(p95_ms)). Its C(median_ms) is what O(max_latency_ratio) compares with.
    type: dict
  baseline:
    description: Only probe O(probe_url) for O(window) seconds and return the figures as C(baseline), judging nothing.
    type: bool
    default: false
  probe_headers:
    description: Headers sent with each probe. Values of credential headers are kept out of the result.
    type: dict
  probe_url_username:
    description: User name for Basic authentication of the probe.
    type: str
  probe_url_password:
    description: Password for Basic authentication of the probe.
    type: str
  probe_validate_certs:
    description: Whether to verify the TLS certificate of O(probe_url). O(validate_certs) is the cloud API's.
    type: bool
    default: true
  probe_ca_path:
    description: PEM file with the CA certificates to trust for O(probe_url).
    type: path
  probe_client_cert:
    description: PEM client certificate for the probe; needs O(probe_client_key).
    type: path
  probe_client_key:
    description: PEM private key of O(probe_client_cert).
    type: path
  probe_request_timeout:
    description: Seconds a probe may take; a probe that takes longer counts as failed.
    type: float
    default: 5
attributes:
  check_mode:
    support: full
    description: >-
      Validates the options and, with provider haproxy, finds the server; says what it would watch and for
      how long, without waiting.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
  platform:
    support: full
    platforms: [linux, darwin]
    description: Runs as a Go build for the host's platform; providers hetzner and aws get the full build.
notes:
  - >-
    The failure message names the signal, the threshold option, its value and the numbers, for instance
    C(the watch of haproxy backend web, server app-2 failed after 4.1 s of 30 s: 23 of 112 requests failed
    (20.5 %: 23 5xx, 0 response errors, 0 connection errors), above max_error_ratio 0.05).
seealso:
  - module: zerodowntime.rolling.haproxy_maint
  - module: zerodowntime.rolling.lb_register
  - module: zerodowntime.rolling.deploy_verify
'''

EXAMPLES = r'''
- name: Watch app-2 behind HAProxy for 30 s after it is back
  zerodowntime.rolling.deploy_watch:
    provider: haproxy
    backend: web
    server: app-2
  delegate_to: lb1

- name: Probe the health URL before the deploy
  zerodowntime.rolling.deploy_watch:
    provider: none
    probe_url: "http://{{ ansible_host }}:8080/health"
    baseline: true
    window: 10
  register: before

- name: After the deploy, watch the target group and the probe against that baseline
  zerodowntime.rolling.deploy_watch:
    provider: aws
    target: auto
    target_group_names: [web]
    alarms: [web-5xx]
    probe_url: "http://{{ ansible_host }}:8080/health"
    probe_baseline: "{{ before.baseline }}"
    window: 60
'''

RETURN = r'''
watch:
  description: What the window saw.
  returned: when the watch ran (not in check mode)
  type: dict
  contains:
    window:
      description: The window asked for, in seconds.
      type: int
    elapsed:
      description: Seconds the watch ran; less than the window when a signal failed it early.
      type: float
    passed:
      description: Whether every signal stayed within its thresholds for the whole window.
      type: bool
    signals:
      description:
        - One entry per signal, with C(name), C(kind) (V(haproxy), V(probe), or a cloud kind), C(readings) and
          C(read_errors), and what the signal counted.
        - V(haproxy) adds C(backend), C(server), C(status), C(requests), C(failed), C(hrsp_5xx), C(eresp), C(econ),
          C(check_downs), C(rtime_ms), C(window_rtime_ms), C(others_rtime_ms), C(others), C(counter_resets).
        - V(probe) adds C(url), C(requests), C(errors), C(status_5xx), C(status_4xx), C(transport_errors),
          C(timeouts), C(median_ms), C(p95_ms) and the C(baseline) it was judged against.
      type: list
      elements: dict
  sample:
    window: 30
    elapsed: 4.1
    passed: false
    signals:
      - {name: "haproxy backend web, server app-2", kind: haproxy, requests: 112, failed: 23, hrsp_5xx: 23}
baseline:
  description: With O(baseline=true), the probe's figures, to give as O(probe_baseline) after the deploy.
  returned: with baseline=true
  type: dict
  sample: {requests: 50, errors: 0, median_ms: 2.3, p95_ms: 4.9}
'''
