# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
# Documentation only: the module is a Go binary run by plugins/action/deploy_verify.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: deploy_verify
short_description: Poll a URL until the newly deployed version answers
version_added: 0.1.0
description:
  - After a restart, proves that the new code is what answers, by polling I(url) until the
    response meets every expectation given (status, exact body, regular expression, JSON
    values, headers), I(consecutive) times in a row, or failing at I(timeout).
  - A hot restart can fail silently while the old workers keep serving. Expect something only
    the new release serves, such as a token written before the restart or the new version string.
  - Each attempt opens a fresh connection, so a kept-alive connection to an old worker cannot
    answer for the new one.
  - Runs on the host it is delegated to, as a static Go binary picked for that host's platform
    (linux and darwin, amd64 and arm64); the host needs no Python packages.
author: zerodowntime.rolling contributors (@zerodowntime)
options:
  url:
    description:
      - The http:// or https:// URL to poll.
      - A password in it (C(https://user:pass@host/)), as in I(token_url), is kept out of the result.
        Percent-encode C(/ ? # @) in it; whatever a parser takes for the password is hidden.
    type: str
    required: true
  method:
    description: HTTP method.
    type: str
    default: GET
  headers:
    description:
      - Request headers.
      - Credential headers are kept out of the result and are not sent on after a redirect to
        another host, port or scheme. They are C(Authorization), C(Proxy-Authorization), C(Cookie)
        and every header whose name contains C(auth), C(cookie), C(token), C(key), C(secret),
        C(session), C(pass), C(credential) or C(signature) in any case, such as C(X-Api-Key) or
        C(X-Auth-Token).
    type: dict
  body:
    description: Request body.
    type: str
  expect_status:
    description: Status codes that count as a pass.
    type: list
    elements: int
    default: [200]
  expect_body:
    description: The exact body expected, trailing newlines ignored.
    type: str
  token:
    description:
      - The token that M(zerodowntime.rolling.deploy_token) wrote before the restart. The checks
        of I(url) start only once I(token_url) answers with a 2xx status and a body that is this
        token (trailing newlines ignored), so an old process that kept answering fails the task
        with a message saying so.
      - One task then does what a token check and a health check would do in two.
    type: str
  token_url:
    description:
      - Where the app serves its token. Requested with C(GET) and the same I(headers),
        credentials and TLS settings as I(url).
      - Defaults to I(url). Requires I(token).
    type: str
  expect_regex:
    description: A regular expression (Go RE2 syntax) the body must match.
    type: str
  expect_json:
    description:
      - 'Dotted paths into a JSON body and the values expected there, such as
        C({"version": "v2", "build.commit": "abc1234", "items.0.ready": true}).'
      - A quoted scalar matches a JSON number or string of the same text.
    type: dict
  expect_headers:
    description: Response headers and their exact expected values; names are case-insensitive.
    type: dict
  consecutive:
    description: Passes in a row required before success.
    type: int
    default: 1
  interval:
    description:
      - Seconds between attempts.
      - The checks go to the app itself, usually on the same host, so a short interval costs
        little and the task ends at most this long after the new version is ready.
    type: float
    default: 0.2
  timeout:
    description: Seconds to keep polling before failing.
    type: int
    default: 60
  request_timeout:
    description: Seconds one request may take; at most I(timeout), whatever is set here.
    type: float
    default: 10
  url_username:
    description: User name for HTTP basic authentication.
    type: str
    aliases: [user]
  url_password:
    description: Password for HTTP basic authentication. Never returned or logged.
    type: str
    aliases: [password]
  validate_certs:
    description: Verify the server's TLS certificate. Turning it off yields a warning.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates trusted in addition to the system's.
      - Like I(client_cert) and I(client_key), a regular file (or a symlink to one) of at most 1 MiB.
    type: path
  client_cert:
    description: PEM client certificate for mutual TLS; needs I(client_key).
    type: path
  client_key:
    description: PEM private key of I(client_cert).
    type: path
  follow_redirects:
    description:
      - C(safe) follows redirects for GET and HEAD only, C(all) for every method, C(none) never
        (the redirect response itself is then checked). C(yes) and C(no) mean C(all) and C(none).
    type: str
    default: safe
    choices: [all, safe, none, 'yes', 'no']
  excerpt_length:
    description: Bytes of the last body returned in RV(body_excerpt).
    type: int
    default: 512
attributes:
  check_mode:
    support: full
    description: >-
      Waits for nothing: in a dry run the token was not written and the app not restarted, so there is nothing to wait for.
      C(msg) says what a run would verify (I(url), I(token_url), the expectations, I(timeout)). With a
      C(GET) or C(HEAD), one request to I(url) shows in C(msg), C(status) and C(body_excerpt) what answers
      now, and never fails the task; I(token_url) is not asked. Other methods send nothing.
  diff_mode:
    support: none
    description: It changes nothing, so there is nothing to show.
  platform:
    support: full
    platforms: [linux, darwin]
    description: Runs as a Go build for the host's platform (Linux or macOS, amd64 or arm64).
notes:
  - Use it on the app host itself (or C(delegate_to) a host that reaches the app directly),
    not through the load balancer, which may still route to other hosts.
seealso:
  - module: ansible.builtin.uri
'''

EXAMPLES = r'''
- name: Write a fresh token for this deploy
  zerodowntime.rolling.deploy_token:
    path: /srv/app/current/DEPLOY_TOKEN
  register: token

- name: Restart the app
  ansible.builtin.service:
    name: app
    state: restarted

- name: The restarted process serves the new token, then its health endpoint says ok
  zerodowntime.rolling.deploy_verify:
    token: "{{ token.token }}"
    token_url: "http://127.0.0.1:8080/token"
    url: "http://127.0.0.1:8080/healthz"
    expect_json:
      status: ok
    timeout: 60

- name: Only the token, when the app serves it at the URL itself
  zerodowntime.rolling.deploy_verify:
    url: "http://127.0.0.1:8080/token"
    expect_body: "{{ token.token }}"

- name: The health endpoint reports the new version three times in a row
  zerodowntime.rolling.deploy_verify:
    url: "https://{{ inventory_hostname }}:8443/healthz"
    ca_path: /etc/ssl/internal-ca.pem
    expect_json:
      status: ok
      build.version: "{{ app_version }}"
    consecutive: 3
    interval: 1
'''

RETURN = r'''
url:
  description: The URL polled.
  returned: always
  type: str
attempts:
  description: Requests made (in check mode 0 or 1).
  returned: always
  type: int
  sample: 5
elapsed:
  description: Seconds spent polling.
  returned: always
  type: float
  sample: 2.004
status:
  description: Status code of the last response (0 when the last attempt got no response).
  returned: always
  type: int
  sample: 200
body_excerpt:
  description: The start of the last body, at most I(excerpt_length) bytes.
  returned: always
  type: str
  sample: v2
passes:
  description: Consecutive passes at the end.
  returned: always
  type: int
token_url:
  description: The URL the token was checked at.
  returned: when I(token) is set
  type: str
token_verified:
  description: Whether I(token_url) served the token (false in check mode, which does not ask it).
  returned: when I(token) is set
  type: bool
token_attempts:
  description: The attempt at which the token was first seen; 0 when it never was.
  returned: when I(token) is set
  type: int
error:
  description: The connection error of the last attempt.
  returned: when the last attempt got no response
  type: str
  sample: "dial tcp 127.0.0.1:8080: connect: connection refused"
'''
