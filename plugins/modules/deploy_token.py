# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
# Documentation only: the module is a Go binary run by plugins/action/deploy_token.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: deploy_token
short_description: Write a fresh random token to a file before a deploy
version_added: 0.1.0
description:
  - Writes a token to I(path) on the app host before the new release starts, so that
    M(zerodowntime.rolling.deploy_verify) can then expect the token from the app and prove that
    the new code is what answers, not old workers that survived a failed restart.
  - Without I(token), generates a new one of I(length) letters and digits with a cryptographic random
    source, so every run writes a token no earlier release can know. With I(token), writes that value
    and changes nothing when the file already holds it with the same mode and owner.
  - Writes atomically, through a temporary file in the same directory that gets its mode and owner
    first, is synced to disk, and is then renamed over I(path). Readers see the old file or the new
    one, never a part of either; on any failure I(path) is left as it was.
  - Does in one task what a C(ansible.builtin.password) lookup plus M(ansible.builtin.copy) do in two,
    and runs as a static Go binary picked for the host's platform (linux and darwin, amd64 and
    arm64); the host needs no Python packages.
author: zerodowntime.rolling contributors (@zerodowntime)
options:
  path:
    description:
      - Absolute path of the token file. Its directory must exist.
      - A symbolic link at I(path) is refused, neither followed nor replaced.
    type: path
    required: true
  token:
    description:
      - The token to write, byte for byte (no newline is added).
      - Omit it to generate a new token of I(length) characters from C([A-Za-z0-9]).
      - Not treated as a secret; the app serves it, and it is returned in RV(token).
    type: str
  length:
    description: Characters in a generated token, from 16 to 256. Ignored when I(token) is given.
    type: int
    default: 32
  mode:
    description:
      - Permissions of the file, as an octal string such as C('0640') or C('640'), or a number.
      - Quote it. YAML reads an unquoted C(0640) as octal but C(640) as the decimal number 640,
        which is octal 1200; the module refuses such numbers from 512 to 777 (C(600), C(640),
        C(644), C(755)) rather than set the sticky bit.
      - Symbolic modes (C(u=rw,g=r)) and the setuid, setgid and sticky bits are refused.
    type: raw
    default: '0640'
  owner:
    description:
      - User name or numeric uid that should own the file. Changing it usually needs C(become).
      - When omitted, a replaced file keeps its owner where the module may keep it; a new file
        belongs to the user the module runs as.
    type: str
  group:
    description:
      - Group name or numeric gid of the file, such as the group the app runs as, so that it can
        read the token with the default I(mode).
      - When omitted, a replaced file keeps its group where the module may keep it.
    type: str
attributes:
  check_mode:
    support: full
    description:
      - Computes the token and reports whether the file would change, without writing.
      - C(msg) names the file and mode it would write (and the uid and gid, with I(owner) or I(group)).
  diff_mode:
    support: full
    description: Path, state, content and mode of the file (and owner and group when given), before and after.
  platform:
    support: full
    platforms: [linux, darwin]
    description: Runs as a Go build for the host's platform (Linux or macOS, amd64 or arm64).
notes:
  - Run it against the app host itself; the file must be where the new release reads it from.
seealso:
  - module: zerodowntime.rolling.deploy_verify
  - module: ansible.builtin.copy
'''

EXAMPLES = r'''
- name: Write a fresh token for this deploy
  zerodowntime.rolling.deploy_token:
    path: /srv/app/current/DEPLOY_TOKEN
    group: app
  register: deploy_token

- name: Restart the app
  ansible.builtin.service:
    name: app
    state: restarted

- name: The restarted process serves the new token
  zerodowntime.rolling.deploy_verify:
    url: "http://127.0.0.1:8080/token"
    expect_body: "{{ deploy_token.token }}"
    timeout: 60

- name: Write a given token; nothing changes when the file already holds it
  zerodowntime.rolling.deploy_token:
    path: /srv/app/shared/DEPLOY_TOKEN
    token: "{{ release_id }}"
    mode: '0644'
    owner: app
    group: app
  become: true
'''

RETURN = r'''
path:
  description: The file written.
  returned: always
  type: str
  sample: /srv/app/current/DEPLOY_TOKEN
token:
  description: The token the file holds (in check mode, the token it would hold).
  returned: always
  type: str
  sample: 4fQk9ZtWcL2mXe7RbN0yHsJd1VgUa8Tp
mode:
  description: The file's mode, as four octal digits.
  returned: always
  type: str
  sample: '0640'
uid:
  description: The file's owner, as a numeric uid.
  returned: when I(owner) is given
  type: int
  sample: 1001
gid:
  description: The file's group, as a numeric gid.
  returned: when I(group) is given
  type: int
  sample: 1001
'''
