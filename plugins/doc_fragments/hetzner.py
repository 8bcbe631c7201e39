# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)

from __future__ import annotations


class ModuleDocFragment(object):
    # Options of provider=hetzner (Hetzner Cloud load balancers).
    DOCUMENTATION = r'''
options:
  api_token:
    description:
      - Hetzner Cloud API token of the project that owns the load balancer.
      - Taken from the E(HCLOUD_TOKEN) environment variable when not given.
      - Required with I(provider=hetzner). Adding and removing targets needs a Read & Write token.
      - Never returned or logged.
    type: str
  endpoint:
    description:
      - Hetzner Cloud API endpoint, including C(/v1).
      - Taken from the E(HCLOUD_ENDPOINT) environment variable when not given; defaults to
        C(https://api.hetzner.cloud/v1).
    type: str
  load_balancer:
    description:
      - Name or id of the load balancer, or a list of them (a server behind a public and a private
        load balancer, say). A single name stays a plain string.
      - The load balancers are read, changed and checked at the same time, so a task over several
        takes about as long as one over the slowest. Prefer one task listing them all to a loop.
      - Required with I(provider=hetzner).
    type: list
    elements: str
'''
