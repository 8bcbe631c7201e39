# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
# Documentation only: the module is a Go binary run by plugins/action/health_file.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: health_file
short_description: Create or remove the file that makes an app fail its health check
version_added: 0.1.0
description:
  - Creates (I(state=present)) or removes (I(state=absent)) the file at I(path) on the app host,
    for applications whose health check fails while such a file exists.
  - With M(zerodowntime.rolling.lb_drain) and M(zerodowntime.rolling.lb_register) using
    I(method=health) and no I(health_file), this splits a drain in two, as the Hetzner guides do - the
    file on the app host, the load balancer's API polled from where the credentials are - so that
    the API token never goes to an app host.
  - Never follows a symbolic link at I(path) and never removes one; it is refused, as is anything
    but a regular file there. The directory must exist.
  - Runs as a static Go binary picked for the host's platform; the host needs no Python packages.
author: zerodowntime.rolling contributors (@zerodowntime)
options:
  path:
    description: Absolute path of the file the application's health check looks for.
    type: path
    required: true
  state:
    description: C(present) creates the file if it is missing; C(absent) removes it if it is there.
    type: str
    default: present
    choices: [present, absent]
attributes:
  check_mode:
    support: full
    description: Reports whether the file would be created or removed, without touching it.
  diff_mode:
    support: full
    description: The path and its state (C(file) or C(absent)), before and after.
  platform:
    support: full
    platforms: [linux, darwin]
    description: Runs as a Go build for the host's platform (Linux or macOS, amd64 or arm64).
notes:
  - Run it against the app host itself; the file must be where the application looks for it.
seealso:
  - module: zerodowntime.rolling.lb_drain
  - module: zerodowntime.rolling.lb_register
  - module: ansible.builtin.file
'''

EXAMPLES = r'''
- name: Make the app fail its health check
  zerodowntime.rolling.health_file:
    path: /srv/app/maintenance

- name: Wait until the load balancer calls it unhealthy, from the controller
  zerodowntime.rolling.lb_drain:
    provider: hetzner
    load_balancer: web-lb
    target: "{{ inventory_hostname }}"
    method: health
  delegate_to: localhost

- name: Let it pass again after the deploy
  zerodowntime.rolling.health_file:
    path: /srv/app/maintenance
    state: absent
'''

RETURN = r'''
path:
  description: The file.
  returned: always
  type: str
  sample: /srv/app/maintenance
state:
  description: The state asked for.
  returned: always
  type: str
  sample: present
'''
