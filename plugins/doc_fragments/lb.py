# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)

from __future__ import annotations


class ModuleDocFragment(object):
    # Options shared by lb_drain and lb_register: which load balancer, which
    # target, how long.
    DOCUMENTATION = r'''
options:
  provider:
    description: Which load balancer API to use.
    type: str
    required: true
    choices: [hetzner, aws]
  target:
    description:
      - The target to work on. With I(provider=hetzner), a server name or id
        (I(target_type=server)) or an IP address (I(target_type=ip)). With I(provider=aws), an
        instance id, or an IP address for target groups of type C(ip).
      - C(auto) asks the metadata service of the host the module runs on for its own id
        (Hetzner C(instance-id); AWS IMDSv2 C(instance-id), or C(local-ipv4) for C(ip) target groups).
    type: str
    required: true
  target_type:
    description:
      - With I(provider=hetzner), whether I(target) is a server or an IP target.
      - Ignored with I(provider=aws), where the target group's target type decides.
    type: str
    default: server
    choices: [server, ip]
  target_port:
    description:
      - AWS only. The port the target is registered on, when it differs from the group's port.
      - When not given, lb_drain deregisters the target on every port it is registered on, and
        lb_register registers it on the group's port.
    type: int
  timeout:
    description:
      - Seconds the whole module may take, lookups and waiting included.
      - When not given, 300; for lb_drain with I(provider=aws), the largest
        C(deregistration_delay.timeout_seconds) of the target groups plus 60.
    type: int
  interval:
    description:
      - The largest delay, in seconds, between two checks of the load balancer while the module
        waits. The first checks come sooner (about 0.2, 0.45, 0.76 s after the change) and
        the delays grow by a quarter each time up to this value.
      - When not given, 1 with I(provider=aws), as C(community.aws.elb_target) polls. AWS runs a
        health check every 5 s or more, so the late checks decide how soon a register ends.
        3 with I(provider=hetzner), whose API allows 3600 requests an hour per project, shared
        with every other tool using the project.
      - Each check is one request per load balancer or target group.
      - Below 0.2, every check is this far apart from the start of the wait, so a wait that
        ends within a second or two ends sooner, for more requests (up to 1/I(interval) a
        second per load balancer or target group while waiting). On AWS, 0.1 is 10 requests
        a second, all of ELBv2's refill for C(Describe) calls in the account and region.
    type: float
  metadata_url:
    description:
      - Base URL of the metadata service used with I(target=auto), instead of
        C(http://169.254.169.254). For Hetzner, C(/hetzner/v1/metadata) is added unless the URL
        already has a C(/hetzner/) path.
      - Taken from the E(ZDT_METADATA_URL) environment variable when not given.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificates of the API. Turning this off draws a warning.
    type: bool
    default: true
  method:
    description:
      - Hetzner only. C(remove) removes the target from the load balancer (lb_drain) or adds it
        (lb_register), waiting for the action.
      - C(health) leaves the target in the load balancer and waits until the load balancer's
        health checks call it unhealthy (lb_drain) or healthy (lb_register) on every service.
        Targets that come from a label selector can only be drained this way.
    type: str
    default: remove
    choices: [remove, health]
  health_file:
    description:
      - With I(method=health), a file the application's health check looks for. lb_drain creates it
        before waiting; lb_register removes it. A symbolic link there is refused.
      - The module then creates or removes it on the host it runs on, so it must run on the target
        itself, and the API credentials go there too.
      - Without it, I(method=health) only waits, and someone else makes the application fail or pass its
        health check, such as M(zerodowntime.rolling.health_file) on the app host while this module
        runs where the credentials are (as the C(zerodowntime.rolling.deploy) role does).
    type: path
'''
